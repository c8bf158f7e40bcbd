/** `incept bench convs`: every distinct Inception-v3 conv shape as the dispatcher runs it. */
import { formatConvBenchTable, runConvBench } from '../../bench/convs/run.js';
import { createEngine } from '../runtime/engine.js';
import type { DriverChoice } from '../runtime/gpu-node.js';
import { positiveInts, secondsAsMs, writeReport } from './args.js';
import { progressLine } from './progress.js';

export interface BenchConvsOptions {
  driver?: DriverChoice;
  batch?: string;
  repeats?: string;
  filter?: string;
  json?: string;
  allVariants?: boolean;
  tuningBudget?: string;
  tune: boolean;
}

export async function benchConvs(opts: BenchConvsOptions): Promise<void> {
  const batch = opts.batch ? positiveInts('--batch', opts.batch)[0] : 1;
  const repeats = opts.repeats ? positiveInts('--repeats', opts.repeats)[0] : undefined;
  const budgetMs = !opts.tune ? 0 : opts.tuningBudget !== undefined ? secondsAsMs('--tuning-budget', opts.tuningBudget) : undefined;
  const engine = await createEngine({ driver: opts.driver });
  try {
    const started = performance.now();
    const progress = progressLine(`Inception-v3 convolutions on ${engine.adapterName}`);
    const result = await runConvBench(engine, {
      batch,
      ...(repeats ? { repeats } : {}),
      ...(opts.filter ? { filter: opts.filter } : {}),
      ...(opts.allVariants ? { allVariants: true } : {}),
      ...(budgetMs !== undefined ? { tuningBudgetMs: budgetMs } : {}),
      onProgress: (m) => progress.update(m),
    });
    progress.done();
    console.log(formatConvBenchTable(result));
    if (opts.json) console.log(`\nJSON: ${writeReport(opts.json, `${JSON.stringify(result, null, 2)}\n`)}`);
    console.log(`(${((performance.now() - started) / 1000).toFixed(0)} s; tuning results kept in ${engine.tuner.store.description})`);
  } finally {
    engine.destroy();
  }
}
