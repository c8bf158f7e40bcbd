/** `incept bench model`: Inception-v3's forward at batch 1 and 8 and one training step, per layer. */
import { formatModelBench, renderModelBenchHtml } from '../bench/model/report.js';
import { runModelBench } from '../bench/model/run.js';
import { createEngine } from '../runtime/engine.js';
import { InceptError } from '../runtime/errors.js';
import type { DriverChoice } from '../runtime/gpu-node.js';
import { inputSizeFlag, intFlag, minInputSize, outputPathFlag, positiveInts, repeatsFlag, widthFlag, writeReport } from './args.js';
import { adapterLimits, checkFits, largerOf, networkFootprint } from './adapter-fit.js';
import { benchProgress } from './progress.js';
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

export async function benchModel(opts: BenchModelOptions): Promise<void> {
  const quick = opts.quick ?? false;
  const batches = opts.batches ? positiveInts('--batches', opts.batches) : quick ? [1] : [1, 8];
  const trainBatch = opts.trainBatch !== undefined ? intFlag('--train-batch', opts.trainBatch, { min: 0 }) : quick ? 2 : 8;
  const repeats = opts.repeats !== undefined ? repeatsFlag(opts.repeats) : quick ? 1 : 3;
  const variant = opts.cifar10 ? 'cifar10' : 'imagenet';
  const inputSize = opts.input !== undefined ? inputSizeFlag(opts.input, variant, false) : variant === 'cifar10' ? 32 : 299;
  const width = opts.width === undefined ? 1 : widthFlag(opts.width);
  if (opts.peers && (variant !== 'imagenet' || inputSize !== 299 || width !== 1)) {
    throw new InceptError('--peers compares the ImageNet network at 299×299 and width 1 (what the peers run); drop --cifar10, --input and --width');
  }
  if (opts.json !== undefined) outputPathFlag('--json', opts.json);
  const htmlPath = outputPathFlag('--html', opts.html ?? `reports/model${quick ? '-quick' : ''}.html`);
  // The forward runs without the aux head; the training step has it where the input allows
  // (as src/bench/model/run.ts builds the network).
  checkFits(
    await adapterLimits(opts.driver),
    [
      { flag: '--batches', value: Math.max(...batches), min: 1, integer: true },
      { flag: '--train-batch', value: trainBatch, min: 0, integer: true },
      { flag: '--input', value: inputSize, min: minInputSize(variant, false).min, integer: true },
      { flag: '--width', value: width, min: 0.01, integer: false },
    ],
    ([batch, train, size, w]) => {
      const arch = { variant, inputSize: size!, width: w! } as const;
      const forward = networkFootprint({ ...arch, auxLogits: false }, batch!);
      const auxLogits = variant === 'cifar10' ? size! >= 17 : size! >= 299;
      return train! > 0 ? largerOf(forward, networkFootprint({ ...arch, auxLogits }, train!)) : forward;
    },
  );
  const started = performance.now();
  const engine = await createEngine({ driver: opts.driver });
  try {
    const progress = benchProgress(`Inception-v3 on ${engine.adapterName}`);
    const result = await runModelBench(engine, { batches, trainBatch, repeats, inputSize, variant, width, onProgress: progress.update });
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
    const html = writeReport(htmlPath, renderModelBenchHtml(result));
    console.log(`HTML report: ${html}`);
    console.log(`(${((performance.now() - started) / 1000).toFixed(0)} s)`);
  } finally {
    engine.destroy();
  }
}
