/** `incept bench factorization`: runs the benchmark, prints the table, writes JSON and HTML. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { formatFactorizationTable, renderFactorizationHtml } from '../../bench/factorization/report.js';
import { runFactorization } from '../../bench/factorization/run.js';
import { createEngine } from '../runtime/engine.js';
import { InceptError } from '../runtime/errors.js';
import type { DriverChoice } from '../runtime/gpu-node.js';
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

function positiveInts(flag: string, text: string): number[] {
  const values = text.split(',').map((s) => Number(s.trim()));
  if (values.length === 0 || values.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new InceptError(`${flag} needs positive integers separated by commas, got '${text}'`);
  }
  return values;
}

function write(path: string, text: string): string {
  const full = resolve(path);
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, text);
  return full;
}

export async function benchFactorization(opts: BenchFactorizationOptions): Promise<void> {
  const quick = opts.quick ?? false;
  const batches = opts.batches ? positiveInts('--batches', opts.batches) : undefined;
  const repeats = opts.repeats ? positiveInts('--repeats', opts.repeats)[0] : undefined;
  const budgetS = opts.tuningBudget !== undefined ? Number(opts.tuningBudget) : undefined;
  if (budgetS !== undefined && !(budgetS >= 0)) throw new InceptError(`--tuning-budget needs a number of seconds ≥ 0, got '${opts.tuningBudget}'`);
  const engine = await createEngine({ driver: opts.driver });
  try {
    const progress = progressLine(`factorization benchmark${quick ? ' (quick)' : ''} on ${engine.adapterName}`);
    const started = performance.now();
    const result = await runFactorization(engine, {
      quick,
      ...(batches ? { batches } : {}),
      ...(repeats ? { repeats } : {}),
      ...(opts.filter ? { filter: opts.filter } : {}),
      ...(!opts.tune ? { tuningBudgetMs: 0 } : budgetS !== undefined ? { tuningBudgetMs: budgetS * 1000 } : {}),
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
