/**
 * `incept bench model`: Inception-v3 end to end. The inference forward (BatchNorm folded) at
 * each batch size, and one training step (forward on the tape with the aux head, label-smoothed
 * cross-entropy + 0.4 × the aux loss, backward, a plain SGD update of every parameter) at a batch
 * the machine can hold. For each: GPU time in total and per layer (every dispatch is filed under
 * its layer by the model and the tape), achieved GFLOP/s, wall time, and peak memory.
 *
 * GPU times come from profiled runs; wall times from separate unprofiled runs (the profiler's
 * CPU fallback submits dispatches one by one, which would slow them). Each measurement is
 * repeated; the reported profile is the run with the median GPU total.
 */
import type { PeerReport } from '../peers-report.js';
import type { Engine } from '../../runtime/engine.js';
import type { Tensor } from '../../runtime/tensor.js';
import type { DispatchRecord, KernelSummary, LayerSummary, TimingSource } from '../../runtime/profiler.js';
import { median } from '../../runtime/timing.js';
import type { BenchProgressCallback } from '../../cli/progress.js';
import { Tape } from '../../autograd/tape.js';
import { inceptionLoss } from '../../nn/loss.js';
import { scaledAddInPlace } from '../../ops/reduce.js';
import { InceptionV3 } from '../../models/inception-v3.js';
import { totals } from '../../models/inception-v3-spec.js';

export interface ForwardBench {
  batch: number;
  /** GPU time of one forward (sum over its dispatches), median and range over the repeats. */
  gpuMs: number;
  gpuMsMin: number;
  gpuMsMax: number;
  /** Wall time of an unprofiled forward including reading the logits back (median). */
  wallMs: number;
  /** 2 · multiply-adds of the network · batch / GPU time. */
  gflops: number;
  images: number;
  /** Most bytes held by live tensors during the forward, weights included. */
  peakBytes: number;
  dispatches: number;
  layers: LayerSummary[];
  kernels: KernelSummary[];
}

export interface TrainLayer {
  layer: string;
  forwardMs: number;
  backwardMs: number;
}

export interface TrainStepBench {
  batch: number;
  forwardMs: number;
  /** Loss and its gradient (two small kernels). */
  lossMs: number;
  backwardMs: number;
  /** The SGD update of every parameter. */
  updateMs: number;
  /** GPU total of the step, median and range over the repeats. */
  gpuMs: number;
  gpuMsMin: number;
  gpuMsMax: number;
  wallMs: number;
  /** Declared FLOPs of every kernel in the step / GPU time. */
  gflops: number;
  peakBytes: number;
  dispatches: number;
  loss: number;
  layers: TrainLayer[];
  kernels: (KernelSummary & { pass: 'forward' | 'backward' | 'loss' | 'update' })[];
}

export interface ModelBenchResult {
  adapter: string;
  date: string;
  timing: TimingSource;
  inputSize: number;
  variant: 'imagenet' | 'cifar10';
  width: number;
  /** Multiply-adds of one image's inference forward (convs and classifier). */
  macs: number;
  params: number;
  weightsBytes: number;
  repeats: number;
  forward: ForwardBench[];
  train?: TrainStepBench;
  /** With --peers: the peer harness's report (inference rows, Node and Chromium). */
  peers?: PeerReport;
}

export interface ModelBenchOptions {
  batches?: number[];
  /** Batch of the training step; 0 skips it. */
  trainBatch?: number;
  repeats?: number;
  inputSize?: number;
  /** The CIFAR-10 variant (32×32 by default) instead of the ImageNet network. */
  variant?: 'imagenet' | 'cifar10';
  /** Width multiplier (default 1). */
  width?: number;
  /** Each run (warm-up or timed) of each forward batch and of the training step is a step of
   * the whole benchmark. */
  onProgress?: BenchProgressCallback;
}

/** Runs fn with profiling on and returns its dispatch records (the engine synchronised). */
export async function profiled(engine: Engine, fn: () => Promise<void>): Promise<DispatchRecord[]> {
  const wasEnabled = engine.profiler.enabled;
  engine.profiler.enabled = true;
  engine.profiler.clear();
  try {
    await fn();
    await engine.sync();
    return engine.profiler.records.splice(0);
  } finally {
    engine.profiler.enabled = wasEnabled;
  }
}

export const sumMs = (records: readonly DispatchRecord[]) => records.reduce((s, r) => s + r.ms, 0);
export const sumFlops = (records: readonly DispatchRecord[]) => records.reduce((s, r) => s + r.flops, 0);

/** The repeat whose value is closest to the median. */
function medianRun<T>(runs: T[], value: (t: T) => number): T {
  const mid = median(runs.map(value));
  return runs.reduce((a, b) => (Math.abs(value(a) - mid) <= Math.abs(value(b) - mid) ? a : b));
}

async function benchForward(
  engine: Engine,
  model: InceptionV3,
  batch: number,
  repeats: number,
  macs: number,
  progress: (m: string) => void,
): Promise<ForwardBench> {
  const size = model.inputSize;
  const x = engine.keep(engine.randomNormal([batch, size, size, 3], { seed: 11 + batch }));
  try {
    const runs: { records: DispatchRecord[]; peak: number }[] = [];
    const walls: number[] = [];
    for (let i = 0; i <= repeats; i++) {
      const tag = i === 0 ? ' (warm-up)' : '';
      progress(`forward, batch ${batch}: run ${i + 1} of ${repeats + 1}${tag}`);
      await engine.sync();
      engine.pool.resetPeak();
      const records = await profiled(engine, () => forwardOnce(engine, model, x));
      const peak = engine.memory().peakBytes;
      const t0 = performance.now();
      await forwardOnce(engine, model, x);
      const wall = performance.now() - t0;
      if (i > 0) {
        runs.push({ records, peak });
        walls.push(wall);
      }
    }
    const chosen = medianRun(runs, (r) => sumMs(r.records));
    const totalsMs = runs.map((r) => sumMs(r.records));
    const gpuMs = median(totalsMs);
    return {
      batch,
      gpuMs,
      gpuMsMin: Math.min(...totalsMs),
      gpuMsMax: Math.max(...totalsMs),
      wallMs: median(walls),
      gflops: gpuMs > 0 ? (2 * macs * batch) / gpuMs / 1e6 : 0,
      images: batch,
      peakBytes: Math.max(...runs.map((r) => r.peak)),
      dispatches: chosen.records.length,
      layers: engine.profiler.byLayer(chosen.records),
      kernels: engine.profiler.summary(chosen.records),
    };
  } finally {
    x.dispose();
  }
}

/** One inference forward of x, its logits read back, temporaries disposed. */
export async function forwardOnce(engine: Engine, model: InceptionV3, x: Tensor): Promise<void> {
  await engine.scope(async () => {
    await model.forward(x).read();
  });
}

/** The phases of a training step, in order. */
export const TRAIN_PASSES = ['forward', 'loss', 'backward', 'update'] as const;
export type TrainPass = (typeof TRAIN_PASSES)[number];

export interface TrainStepRunner {
  /** One step; `marks` are the profiler's record counts at the end of forward, loss and backward. */
  step(): Promise<{ loss: number; marks: number[] }>;
  dispose(): void;
}

/**
 * One training step of `model` on a fixed random batch: forward on the tape (aux head when the
 * model has one), Inception's loss, backward, a plain SGD update of every parameter. The engine
 * is synchronised between phases, so a profile splits into them by record counts (splitPasses).
 */
export function trainStepRunner(engine: Engine, model: InceptionV3, batch: number): TrainStepRunner {
  const size = model.inputSize;
  const tape = new Tape(engine);
  const x = engine.keep(engine.randomNormal([batch, size, size, 3], { seed: 29 }));
  const classes = model.layers.at(-1)!.outputShape[0];
  const labels = Array.from({ length: batch }, (_, i) => (i * 7919) % classes);
  const params = [...model.parameters().values()];
  const step = async (): Promise<{ loss: number; marks: number[] }> => {
    const marks: number[] = [];
    const mark = async () => {
      await engine.sync();
      marks.push(engine.profiler.records.length);
    };
    let loss = 0;
    await engine.scope(async () => {
      const out = model.forwardTrain(tape, x, { dropoutSeed: 5 });
      await mark();
      const l = engine.profiler.withLayer('(loss)', () => inceptionLoss(tape, out, labels).total);
      await mark();
      tape.backward(l);
      await mark();
      engine.profiler.withLayer('(update)', () => {
        for (const p of params) scaledAddInPlace(p, tape.grad(p)!, -1e-4);
      });
      loss = (await l.read())[0]!;
    });
    tape.zeroGrad();
    return { loss, marks };
  };
  return {
    step,
    dispose: () => {
      tape.dispose();
      x.dispose();
    },
  };
}

/** A training step's records split at its marks into forward, loss, backward and update. */
export function splitPasses<T>(records: readonly T[], marks: readonly number[]): Record<TrainPass, T[]> {
  const [f, l, b] = marks as [number, number, number];
  return { forward: records.slice(0, f), loss: records.slice(f, l), backward: records.slice(l, b), update: records.slice(b) };
}

async function benchTrainStep(engine: Engine, model: InceptionV3, batch: number, repeats: number, progress: (m: string) => void): Promise<TrainStepBench> {
  const runner = trainStepRunner(engine, model, batch);
  const step = runner.step;
  try {
    const runs: { records: DispatchRecord[]; marks: number[]; peak: number; loss: number }[] = [];
    const walls: number[] = [];
    for (let i = 0; i <= repeats; i++) {
      progress(`training step, batch ${batch}: run ${i + 1} of ${repeats + 1}${i === 0 ? ' (warm-up)' : ''}`);
      await engine.sync();
      engine.pool.resetPeak();
      let result = { loss: 0, marks: [] as number[] };
      const records = await profiled(engine, async () => {
        result = await step();
      });
      const peak = engine.memory().peakBytes;
      const t0 = performance.now();
      await step();
      const wall = performance.now() - t0;
      if (i > 0) {
        runs.push({ records, marks: result.marks, peak, loss: result.loss });
        walls.push(wall);
      }
    }
    const chosen = medianRun(runs, (r) => sumMs(r.records));
    const parts = splitPasses(chosen.records, chosen.marks);
    const fwdLayers = engine.profiler.byLayer(parts.forward);
    const bwdLayers = new Map(engine.profiler.byLayer(parts.backward).map((s) => [s.layer, s.ms]));
    const layers: TrainLayer[] = fwdLayers.map((s) => ({ layer: s.layer, forwardMs: s.ms, backwardMs: bwdLayers.get(s.layer) ?? 0 }));
    for (const [layer, ms] of bwdLayers) if (!fwdLayers.some((s) => s.layer === layer)) layers.push({ layer, forwardMs: 0, backwardMs: ms });
    const totalsMs = runs.map((r) => sumMs(r.records));
    const gpuMs = median(totalsMs);
    return {
      batch,
      forwardMs: sumMs(parts.forward),
      lossMs: sumMs(parts.loss),
      backwardMs: sumMs(parts.backward),
      updateMs: sumMs(parts.update),
      gpuMs,
      gpuMsMin: Math.min(...totalsMs),
      gpuMsMax: Math.max(...totalsMs),
      wallMs: median(walls),
      gflops: sumMs(chosen.records) > 0 ? sumFlops(chosen.records) / sumMs(chosen.records) / 1e6 : 0,
      peakBytes: Math.max(...runs.map((r) => r.peak)),
      dispatches: chosen.records.length,
      loss: chosen.loss,
      layers,
      kernels: (Object.entries(parts) as [keyof typeof parts, DispatchRecord[]][]).flatMap(([pass, recs]) =>
        engine.profiler.summary(recs).map((k) => ({ ...k, pass })),
      ),
    };
  } finally {
    runner.dispose();
  }
}

export interface ModelArch {
  variant: 'imagenet' | 'cifar10';
  width: number;
  inputSize: number;
}

/**
 * The network the benchmarks run (seed 1). Inference never runs the aux head, so it is built
 * without it (its weights would count as memory); training keeps it where it applies: from
 * 299×299 for the ImageNet network and from 17×17 for the CIFAR-10 variant.
 */
export function benchModelFor(engine: Engine, arch: ModelArch, mode: 'inference' | 'train'): InceptionV3 {
  const auxLogits = mode === 'train' && (arch.variant === 'cifar10' ? arch.inputSize >= 17 : arch.inputSize >= 299);
  return new InceptionV3(engine, { seed: 1, ...arch, auxLogits });
}

export async function runModelBench(engine: Engine, options: ModelBenchOptions = {}): Promise<ModelBenchResult> {
  const batches = options.batches ?? [1, 8];
  const trainBatch = options.trainBatch ?? 8;
  const repeats = options.repeats ?? 3;
  const onProgress = options.onProgress ?? (() => undefined);
  const trainRepeats = Math.max(1, Math.min(repeats, 2));
  const total = batches.length * (repeats + 1) + (trainBatch > 0 ? trainRepeats + 1 : 0);
  let step = 0;
  const progress = (m: string) => onProgress(m, { n: ++step, total });
  const variant = options.variant ?? 'imagenet';
  const width = options.width ?? 1;
  const inputSize = options.inputSize ?? (variant === 'cifar10' ? 32 : 299);
  const arch = { variant, width, inputSize };
  const forward: ForwardBench[] = [];
  const inference = benchModelFor(engine, arch, 'inference');
  const counts = totals(inference.layers);
  const weightsBytes = [...inference.stateDict().values()].reduce((s, t) => s + t.byteLength, 0);
  try {
    for (const batch of batches) forward.push(await benchForward(engine, inference, batch, repeats, counts.macs, progress));
  } finally {
    inference.dispose();
  }
  let train: TrainStepBench | undefined;
  if (trainBatch > 0) {
    const model = benchModelFor(engine, arch, 'train');
    try {
      train = await benchTrainStep(engine, model, trainBatch, trainRepeats, progress);
    } finally {
      model.dispose();
    }
  }
  return {
    adapter: engine.adapterName,
    date: new Date().toISOString(),
    timing: engine.profiler.timing,
    inputSize,
    variant,
    width,
    macs: counts.macs,
    params: counts.params,
    weightsBytes,
    repeats,
    forward,
    ...(train ? { train } : {}),
  };
}
