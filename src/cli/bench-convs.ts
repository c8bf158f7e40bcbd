/** `incept bench convs`: every distinct Inception-v3 conv shape as the dispatcher runs it. */
import { describe, formatConvBenchTable, runConvBench } from '../bench/convs/run.js';
import { INCEPTION_CONV_SHAPES, convOutSize } from '../../test/cases/inception-conv-shapes.js';
import { convGeometry } from '../ops/conv2d-geometry.js';
import type { TableFormat } from '../bench/factorization/table.js';
import { InceptError } from '../runtime/errors.js';
import { createEngine } from '../runtime/engine.js';
import type { DriverChoice } from '../runtime/gpu-node.js';
import { intFlag, matchesFilter, terminalWidth, outputPathFlag, repeatsFlag, secondsAsMs, writeReport } from './args.js';
import { adapterLimits, batchFootprint, checkFits } from './adapter-fit.js';
import { benchProgress } from './progress.js';

export interface BenchConvsOptions {
  driver?: DriverChoice;
  batch?: string;
  repeats?: string;
  filter?: string;
  json?: string;
  allVariants?: boolean;
  tuningBudget?: string;
  tune: boolean;
  /** The table on stdout: text (default; fitted to a terminal's width), md or csv. */
  format?: TableFormat;
}

/** The conv shapes the benchmark will run (filtered as it filters them), or an error listing none. */
function shapesFor(filter: string | undefined): { floats: number; what: string } {
  let image = { floats: 0, what: '' };
  let matched = 0;
  for (const s of INCEPTION_CONV_SHAPES) {
    const g = convGeometry('bench convs', [1, s.h, s.w, s.cin], [s.kh, s.kw, s.cin, s.cout], [s.strideH, s.strideW], s.pad);
    const name = describe(g);
    if (!matchesFilter(filter, name, ...s.layers)) continue;
    matched++;
    const [oh, ow] = convOutSize(s);
    const floats = Math.max(s.h * s.w * s.cin, oh * ow * s.cout);
    if (floats > image.floats) image = { floats, what: `the ${name} conv's ${s.h * s.w * s.cin >= oh * ow * s.cout ? 'input' : 'output'}` };
  }
  if (matched === 0)
    throw new InceptError(`--filter '${filter}' matches no Inception-v3 conv shape or layer (shapes are named like '1×7 17²×128→128'; layers like 'Mixed_6b')`);
  return image;
}

export async function benchConvs(opts: BenchConvsOptions): Promise<void> {
  const batch = opts.batch !== undefined ? intFlag('--batch', opts.batch, { min: 1, one: true }) : 1;
  const repeats = opts.repeats !== undefined ? repeatsFlag(opts.repeats) : undefined;
  const budgetMs = !opts.tune ? 0 : opts.tuningBudget !== undefined ? secondsAsMs('--tuning-budget', opts.tuningBudget) : undefined;
  const image = shapesFor(opts.filter);
  if (opts.json !== undefined) outputPathFlag('--json', opts.json);
  checkFits(await adapterLimits(opts.driver), [{ flag: '--batch', value: batch, min: 1, integer: true }], ([b]) => batchFootprint(b!, image));
  const engine = await createEngine({ driver: opts.driver });
  try {
    const started = performance.now();
    const progress = benchProgress(`Inception-v3 convolutions on ${engine.adapterName}`);
    const result = await runConvBench(engine, {
      batch,
      ...(repeats ? { repeats } : {}),
      ...(opts.filter ? { filter: opts.filter } : {}),
      ...(opts.allVariants ? { allVariants: true } : {}),
      ...(budgetMs !== undefined ? { tuningBudgetMs: budgetMs } : {}),
      onProgress: progress.update,
    });
    progress.done();
    const format = opts.format ?? 'text';
    console.log(formatConvBenchTable(result, { format, ...(format === 'text' ? { width: terminalWidth() } : {}) }));
    // With CSV, stdout is the table alone; the notes go to stderr.
    const note = format === 'csv' ? (m: string) => console.error(m) : (m: string) => console.log(m);
    if (opts.json) note(`\nJSON: ${writeReport(opts.json, `${JSON.stringify(result, null, 2)}\n`)}`);
    note(`(${((performance.now() - started) / 1000).toFixed(0)} s; tuning results kept in ${engine.tuner.store.description})`);
  } finally {
    engine.destroy();
  }
}
