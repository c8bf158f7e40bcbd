/** `incept bench ops`: Inception-v3's memory-bound kernels at the network's shapes. */
import { formatOpBenchTable, runOpBench } from '../../bench/ops/run.js';
import { createEngine } from '../runtime/engine.js';
import type { DriverChoice } from '../runtime/gpu-node.js';
import { positiveInts, writeReport } from './args.js';
import { progressLine } from './progress.js';

export interface BenchOpsOptions {
  driver?: DriverChoice;
  batch?: string;
  repeats?: string;
  filter?: string;
  json?: string;
}

export async function benchOps(opts: BenchOpsOptions): Promise<void> {
  const engine = await createEngine({ driver: opts.driver });
  try {
    const started = performance.now();
    const progress = progressLine(`memory-bound kernels on ${engine.adapterName}`);
    const result = await runOpBench(engine, {
      ...(opts.batch ? { batch: positiveInts('--batch', opts.batch)[0] } : {}),
      ...(opts.repeats ? { repeats: positiveInts('--repeats', opts.repeats)[0] } : {}),
      ...(opts.filter ? { filter: opts.filter } : {}),
      onProgress: (m) => progress.update(m),
    });
    progress.done();
    console.log(formatOpBenchTable(result));
    if (opts.json) console.log(`\nJSON: ${writeReport(opts.json, `${JSON.stringify(result, null, 2)}\n`)}`);
    console.log(`(${((performance.now() - started) / 1000).toFixed(0)} s)`);
  } finally {
    engine.destroy();
  }
}
