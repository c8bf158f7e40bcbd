/** `incept bench train-step`: one training step of Inception-v3's 35×35 and 17×17 modules. */
import { formatTrainStep, runTrainStep } from '../../bench/train-step/run.js';
import { MIXED_5B, MIXED_6B } from '../../bench/train-step/modules.js';
import { createEngine } from '../runtime/engine.js';
import type { DriverChoice } from '../runtime/gpu-node.js';
import { positiveInts, writeReport } from './args.js';
import { progressLine } from './progress.js';

export interface BenchTrainStepOptions {
  driver?: DriverChoice;
  batch?: string;
  repeats?: string;
  module?: string;
  json?: string;
}

export async function benchTrainStep(opts: BenchTrainStepOptions): Promise<void> {
  const engine = await createEngine({ driver: opts.driver, profile: true });
  try {
    const started = performance.now();
    const progress = progressLine(`training step on ${engine.adapterName}`);
    const modules = [MIXED_5B, MIXED_6B].filter((m) => !opts.module || m.name.includes(opts.module));
    const result = await runTrainStep(engine, {
      ...(opts.batch ? { batch: positiveInts('--batch', opts.batch)[0] } : {}),
      ...(opts.repeats ? { repeats: positiveInts('--repeats', opts.repeats)[0] } : {}),
      modules,
      onProgress: (m) => progress.update(m),
    });
    progress.done();
    console.log(formatTrainStep(result));
    if (opts.json) console.log(`\nJSON: ${writeReport(opts.json, `${JSON.stringify(result, null, 2)}\n`)}`);
    console.log(`(${((performance.now() - started) / 1000).toFixed(0)} s)`);
  } finally {
    engine.destroy();
  }
}
