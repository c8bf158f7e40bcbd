/** `incept bench model`: Inception-v3's forward at batch 1 and 8 and one training step, per layer. */
import { formatModelBench, renderModelBenchHtml } from '../../bench/model/report.js';
import { runModelBench } from '../../bench/model/run.js';
import { createEngine } from '../runtime/engine.js';
import { InceptError } from '../runtime/errors.js';
import type { DriverChoice } from '../runtime/gpu-node.js';
import { CIFAR10_MIN_INPUT_SIZE, MIN_INPUT_SIZE } from '../models/inception-v3-spec.js';
import { positiveInts, writeReport } from './args.js';
import { progressLine } from './progress.js';
import { runPeerHarness } from './bench-model-peers.js';

export interface BenchModelOptions {
  driver?: DriverChoice;
  batches?: string;
  trainBatch?: string;
  repeats?: string;
  input?: string;
  quick?: boolean;
  cifar10?: boolean;
  width?: string;
  json?: string;
  html?: string;
  peers?: boolean;
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
  const variant = opts.cifar10 ? 'cifar10' : 'imagenet';
  const inputSize = opts.input ? positiveInts('--input', opts.input)[0]! : variant === 'cifar10' ? 32 : 299;
  const minimum = variant === 'cifar10' ? CIFAR10_MIN_INPUT_SIZE : MIN_INPUT_SIZE;
  if (inputSize < minimum) throw new InceptError(`--input must be at least ${minimum} (the smallest input of Inception-v3${variant === 'cifar10' ? "'s CIFAR-10 variant" : ''}), got ${inputSize}`);
  const width = opts.width === undefined ? 1 : Number(opts.width);
  if (!(width > 0) || !Number.isFinite(width)) throw new InceptError(`--width needs a width multiplier > 0, got '${opts.width}'`);
  if (opts.peers && (variant !== 'imagenet' || inputSize !== 299 || width !== 1)) {
    throw new InceptError('--peers compares the ImageNet network at 299×299 and width 1 (what the peers run); drop --cifar10, --input and --width');
  }
  const started = performance.now();
  const engine = await createEngine({ driver: opts.driver });
  try {
    const progress = progressLine(`Inception-v3 on ${engine.adapterName}`);
    const result = await runModelBench(engine, { batches, trainBatch, repeats, inputSize, variant, width, onProgress: (m) => progress.update(m) });
    progress.done();
    if (opts.peers) {
      // The peers run in their own process (and browser), with this engine freed first so the
      // two do not share the adapter's memory; the harness times the engine again beside each peer.
      engine.destroy();
      console.log('\nInference against the peers (npm run bench:peers, in its own process):');
      result.peers = await runPeerHarness({ batches, repeats: Math.max(repeats, 3), ...(opts.driver ? { driver: opts.driver } : {}) });
    }
    console.log(formatModelBench(result));
    if (opts.json) console.log(`\nJSON: ${writeReport(opts.json, `${JSON.stringify(result, null, 2)}\n`)}`);
    const html = writeReport(opts.html ?? `reports/model${quick ? '-quick' : ''}.html`, renderModelBenchHtml(result));
    console.log(`HTML report: ${html}`);
    console.log(`(${((performance.now() - started) / 1000).toFixed(0)} s)`);
  } finally {
    engine.destroy();
  }
}
