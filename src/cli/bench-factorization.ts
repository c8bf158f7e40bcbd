/** `incept bench factorization`: checks its flags (the batch against the adapter's limits), runs
 * the benchmark, prints the table, writes JSON and HTML. */
import { formatFactorizationTable, renderFactorizationHtml } from '../bench/factorization/report.js';
import { runFactorization } from '../bench/factorization/run.js';
import { createEngine } from '../runtime/engine.js';
import type { DriverChoice } from '../runtime/gpu-node.js';
import type { TableFormat } from '../bench/factorization/table.js';
import { FACTORIZATION_PAIRS, type FactorizationPair } from '../bench/factorization/pairs.js';
import { InceptError } from '../runtime/errors.js';
import { matchesFilter, outputPathFlag, terminalWidth, positiveInts, repeatsFlag, secondsAsMs, writeReport as write } from './args.js';
import { adapterLimits, batchFootprint, checkFits } from './adapter-fit.js';
import { benchProgress } from './progress.js';

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
  /** The table on stdout: text (default; fitted to a terminal's width), md or csv. */
  format?: TableFormat;
}

/** The pairs the filter keeps, or an error listing them all. */
function pairsFor(filter: string | undefined): FactorizationPair[] {
  const pairs = FACTORIZATION_PAIRS.filter((p) => matchesFilter(filter, p.name));
  if (pairs.length === 0) throw new InceptError(`--filter '${filter}' matches no pair; pairs: ${FACTORIZATION_PAIRS.map((p) => p.name).join('; ')}`);
  return pairs;
}

/** The largest activation of a pair: its input, middle or output at the pair's grid. */
function pairImage(pairs: readonly FactorizationPair[]): { floats: number; what: string } {
  let best = { floats: 0, what: '' };
  for (const p of pairs) {
    const c = Math.max(p.full.cin, p.full.cout, p.factorized[0].cout);
    if (p.h * p.w * c > best.floats) best = { floats: p.h * p.w * c, what: `${p.name}'s ${p.h}×${p.w}×${c} activation` };
  }
  return best;
}

export async function benchFactorization(opts: BenchFactorizationOptions): Promise<void> {
  const quick = opts.quick ?? false;
  const batches = opts.batches ? positiveInts('--batches', opts.batches) : undefined;
  const repeats = opts.repeats !== undefined ? repeatsFlag(opts.repeats) : undefined;
  const budgetMs = opts.tuningBudget !== undefined ? secondsAsMs('--tuning-budget', opts.tuningBudget) : undefined;
  const pairs = pairsFor(opts.filter);
  if (opts.json !== undefined) outputPathFlag('--json', opts.json);
  const htmlPath = outputPathFlag('--html', opts.html ?? `reports/factorization${quick ? '-quick' : ''}.html`);
  const largestBatch = Math.max(...(batches ?? (quick ? [1] : [1, 8])));
  checkFits(await adapterLimits(opts.driver), [{ flag: '--batches', value: largestBatch, min: 1, integer: true }], ([b]) =>
    batchFootprint(b!, pairImage(pairs)),
  );
  const engine = await createEngine({ driver: opts.driver });
  try {
    const progress = benchProgress(`factorization benchmark${quick ? ' (quick)' : ''} on ${engine.adapterName}`);
    const started = performance.now();
    const result = await runFactorization(engine, {
      quick,
      ...(batches ? { batches } : {}),
      ...(repeats ? { repeats } : {}),
      ...(opts.filter ? { filter: opts.filter } : {}),
      ...(!opts.tune ? { tuningBudgetMs: 0 } : budgetMs !== undefined ? { tuningBudgetMs: budgetMs } : {}),
      onProgress: progress.update,
    });
    progress.done();
    const format = opts.format ?? 'text';
    const table = formatFactorizationTable(result, { format, ...(format === 'text' ? { width: terminalWidth() } : {}) });
    console.log(format === 'csv' ? table.replace(/\n$/, '') : table);
    // With CSV, stdout is the table alone; the notes go to stderr.
    const note = format === 'csv' ? (m: string) => console.error(m) : (m: string) => console.log(m);
    const html = write(htmlPath, renderFactorizationHtml(result));
    note(`\nHTML report: ${html}`);
    if (opts.json) note(`JSON: ${write(opts.json, `${JSON.stringify(result, null, 2)}\n`)}`);
    note(`(${((performance.now() - started) / 1000).toFixed(0)} s; tuning results kept in ${engine.tuner.store.description})`);
  } finally {
    engine.destroy();
  }
}
