/** `incept bench factorization`: runs the benchmark, prints the table, writes JSON and HTML. */
import { formatFactorizationTable, renderFactorizationHtml } from '../../bench/factorization/report.js';
import { runFactorization } from '../../bench/factorization/run.js';
import { createEngine } from '../runtime/engine.js';
import type { DriverChoice } from '../runtime/gpu-node.js';
import { positiveInts, secondsAsMs, writeReport as write } from './args.js';
import { progressLine } from './progress.js';

export interface BenchFactorizationOptions {
  driver?: DriverChoice;
  quick?: boolean;
  json?: string;
  html?: string;
  batches?: string;
  repeats?: string;
  filter?: string;
  tuningBudget?: string;
  tune: boolean;
}

export async function benchFactorization(opts: BenchFactorizationOptions): Promise<void> {
  const quick = opts.quick ?? false;
  const batches = opts.batches ? positiveInts('--batches', opts.batches) : undefined;
  const repeats = opts.repeats ? positiveInts('--repeats', opts.repeats)[0] : undefined;
  const budgetMs = opts.tuningBudget !== undefined ? secondsAsMs('--tuning-budget', opts.tuningBudget) : undefined;
  const engine = await createEngine({ driver: opts.driver });
  try {
    const progress = progressLine(`factorization benchmark${quick ? ' (quick)' : ''} on ${engine.adapterName}`);
    const started = performance.now();
    const result = await runFactorization(engine, {
      quick,
      ...(batches ? { batches } : {}),
      ...(repeats ? { repeats } : {}),
      ...(opts.filter ? { filter: opts.filter } : {}),
      ...(!opts.tune ? { tuningBudgetMs: 0 } : budgetMs !== undefined ? { tuningBudgetMs: budgetMs } : {}),
      onProgress: (m) => progress.update(m),
    });
    progress.done();
    console.log(formatFactorizationTable(result));
    const html = write(opts.html ?? `reports/factorization${quick ? '-quick' : ''}.html`, renderFactorizationHtml(result));
    console.log(`\nHTML report: ${html}`);
    if (opts.json) console.log(`JSON: ${write(opts.json, `${JSON.stringify(result, null, 2)}\n`)}`);
    console.log(`(${((performance.now() - started) / 1000).toFixed(0)} s; tuning results kept in ${engine.tuner.store.description})`);
  } finally {
    engine.destroy();
  }
}
