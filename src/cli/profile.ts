/** `incept profile [--train]`: one Inception-v3 forward (or training step) dispatch by dispatch,
 * with a timeline, per-layer and per-kernel sums and the fraction of the matmul peak. */
import { formatProfile, renderProfileHtml } from '../bench/profile/report.js';
import { runProfile, type ProfileOptions } from '../bench/profile/run.js';
import { createEngine } from '../runtime/engine.js';
import { InceptError } from '../runtime/errors.js';
import type { DriverChoice } from '../runtime/gpu-node.js';
import { CIFAR10_MIN_INPUT_SIZE, MIN_INPUT_SIZE } from '../models/inception-v3-spec.js';
import { outputPathFlag, positiveInts, writeReport } from './args.js';
import { adapterLimits, checkFits, networkFootprint, type AdapterLimits } from './adapter-fit.js';
import { progressLine } from './progress.js';

export interface ProfileCliOptions {
  driver?: DriverChoice;
  train?: boolean;
  batch?: string;
  input?: string;
  cifar10?: boolean;
  width?: string;
  html?: string;
  json?: string;
  warmup?: string;
  peak?: string;
}

export interface ProfileConfig {
  run: Omit<ProfileOptions, 'onProgress'> & Required<Pick<ProfileOptions, 'train' | 'batch' | 'inputSize' | 'variant' | 'width' | 'warmup'>>;
  html: string;
  json?: string;
}

/** Runs before the profiled one: the first compiles pipelines; more than this is a typo. */
const MAX_WARMUP = 100;

function onePositiveInt(flag: string, text: string): number {
  const values = positiveInts(flag, text);
  if (values.length !== 1) throw new InceptError(`${flag} needs one positive integer, got '${text}'`);
  return values[0]!;
}

/** Checks the options and fills in the defaults; errors name the option. */
export function parseProfileOptions(opts: ProfileCliOptions): ProfileConfig {
  const train = opts.train ?? false;
  const variant = opts.cifar10 ? 'cifar10' : 'imagenet';
  const batch = opts.batch !== undefined ? onePositiveInt('--batch', opts.batch) : train ? 2 : 1;
  const inputSize = opts.input !== undefined ? onePositiveInt('--input', opts.input) : variant === 'cifar10' ? 32 : 299;
  const minimum = variant === 'cifar10' ? CIFAR10_MIN_INPUT_SIZE : MIN_INPUT_SIZE;
  if (inputSize < minimum)
    throw new InceptError(
      `--input must be at least ${minimum} (the smallest input of Inception-v3${variant === 'cifar10' ? "'s CIFAR-10 variant" : ''}), got ${inputSize}`,
    );
  const width = opts.width === undefined ? 1 : Number(opts.width);
  if (!(width > 0) || !Number.isFinite(width)) throw new InceptError(`--width needs a width multiplier > 0, got '${opts.width}'`);
  let warmup = 1;
  if (opts.warmup !== undefined) {
    warmup = Number(opts.warmup);
    if (opts.warmup.trim() === '' || !Number.isInteger(warmup) || warmup < 0 || warmup > MAX_WARMUP)
      throw new InceptError(`--warmup needs a number of runs ≥ 0 and at most ${MAX_WARMUP}, got '${opts.warmup}'`);
  }
  let peakGflops: number | undefined;
  if (opts.peak !== undefined) {
    peakGflops = Number(opts.peak);
    if (opts.peak.trim() === '' || !(peakGflops > 0) || !Number.isFinite(peakGflops))
      throw new InceptError(`--peak needs a matmul peak in GFLOP/s > 0, got '${opts.peak}'`);
  }
  return {
    run: { train, batch, inputSize, variant, width, warmup, ...(peakGflops !== undefined ? { peakGflops } : {}) },
    html: outputPathFlag('--html', opts.html ?? `reports/profile${train ? '-train' : ''}.html`),
    ...(opts.json !== undefined ? { json: outputPathFlag('--json', opts.json) } : {}),
  };
}

/** The network's largest tensor must fit the adapter: names --batch, --input or --width otherwise. */
export function checkProfileFits(config: ProfileConfig, limits: AdapterLimits): void {
  const { variant, train } = config.run;
  checkFits(
    limits,
    [
      { flag: '--batch', value: config.run.batch, min: 1, integer: true },
      { flag: '--input', value: config.run.inputSize, min: variant === 'cifar10' ? CIFAR10_MIN_INPUT_SIZE : MIN_INPUT_SIZE, integer: true },
      { flag: '--width', value: config.run.width, min: 0.01, integer: false },
    ],
    ([batch, inputSize, width]) => {
      // As src/bench/model/run.ts builds it: the aux head only in training, where the input allows.
      const auxLogits = train && (variant === 'cifar10' ? inputSize! >= 17 : inputSize! >= 299);
      return networkFootprint({ variant, inputSize: inputSize!, width: width!, auxLogits }, batch!);
    },
  );
}

export async function profileCommand(opts: ProfileCliOptions): Promise<void> {
  const config = parseProfileOptions(opts);
  checkProfileFits(config, await adapterLimits(opts.driver));
  const engine = await createEngine({ driver: opts.driver });
  try {
    const started = performance.now();
    const progress = progressLine(`profiling Inception-v3 on ${engine.adapterName}`);
    const result = await runProfile(engine, { ...config.run, onProgress: (m) => progress.update(m) });
    progress.done();
    console.log(formatProfile(result));
    if (config.json) console.log(`\nJSON: ${writeReport(config.json, `${JSON.stringify(result, null, 2)}\n`)}`);
    const html = writeReport(config.html, renderProfileHtml(result));
    console.log(`${config.json ? '' : '\n'}HTML report: ${html}`);
    console.log(`(${((performance.now() - started) / 1000).toFixed(0)} s)`);
  } finally {
    engine.destroy();
  }
}
