/** `incept bench model`: Inception-v3's forward at batch 1 and 8 and one training step, per layer. */
import { formatModelBench, renderModelBenchHtml } from '../../bench/model/report.js';
import { runModelBench } from '../../bench/model/run.js';
import { createEngine } from '../runtime/engine.js';
import { InceptError } from '../runtime/errors.js';
import type { DriverChoice } from '../runtime/gpu-node.js';
import { MIN_INPUT_SIZE } from '../models/inception-v3-spec.js';
import { positiveInts, writeReport } from './args.js';
import { progressLine } from './progress.js';

export interface BenchModelOptions {
  driver?: DriverChoice;
  batches?: string;
  trainBatch?: string;
  repeats?: string;
  input?: string;
  quick?: boolean;
  json?: string;
  html?: string;
}

function nonNegativeInt(flag: string, text: string): number {
  const v = Number(text);
  if (!Number.isInteger(v) || v < 0) throw new InceptError(`${flag} needs a non-negative integer, got '${text}'`);
  return v;
}

export async function benchModel(opts: BenchModelOptions): Promise<void> {
  const quick = opts.quick ?? false;
  const batches = opts.batches ? positiveInts('--batches', opts.batches) : quick ? [1] : [1, 8];
  const trainBatch = opts.trainBatch !== undefined ? nonNegativeInt('--train-batch', opts.trainBatch) : quick ? 2 : 8;
  const repeats = opts.repeats ? positiveInts('--repeats', opts.repeats)[0]! : quick ? 1 : 3;
  const inputSize = opts.input ? positiveInts('--input', opts.input)[0]! : 299;
  if (inputSize < MIN_INPUT_SIZE) throw new InceptError(`--input must be at least ${MIN_INPUT_SIZE} (Inception-v3's smallest input), got ${inputSize}`);
  const engine = await createEngine({ driver: opts.driver });
  try {
    const started = performance.now();
    const progress = progressLine(`Inception-v3 on ${engine.adapterName}`);
    const result = await runModelBench(engine, { batches, trainBatch, repeats, inputSize, onProgress: (m) => progress.update(m) });
    progress.done();
    console.log(formatModelBench(result));
    if (opts.json) console.log(`\nJSON: ${writeReport(opts.json, `${JSON.stringify(result, null, 2)}\n`)}`);
    const html = writeReport(opts.html ?? `reports/model${quick ? '-quick' : ''}.html`, renderModelBenchHtml(result));
    console.log(`HTML report: ${html}`);
    console.log(`(${((performance.now() - started) / 1000).toFixed(0)} s)`);
  } finally {
    engine.destroy();
  }
}
