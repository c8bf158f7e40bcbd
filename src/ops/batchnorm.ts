/**
 * BatchNorm forward over channel-innermost activations (NHWC, or any rank with channels last):
 * batch statistics, training-mode normalisation with running-statistics updates, and
 * inference-mode normalisation from running statistics. Kernels and the numerics of the
 * statistics (shifted Welford per chunk of rows, Chan's merge) are in kernels/batchnorm.wgsl.
 *
 * γ or β may be null (Keras' scale=False / center=False, as Inception-v3's Keras and TF-slim
 * checkpoints have no γ): γ = 1, β = 0.
 */
import batchnormWgsl from '../../kernels/batchnorm.wgsl';
import type { Engine } from '../runtime/engine.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import { KernelFamily } from '../runtime/kernel.js';
import type { Tensor } from '../runtime/tensor.js';
import { checkOutput, resolveOutput, type OutputOption } from './output.js';
import { engineOf, expectDType } from './util.js';
import { guardOp } from '../runtime/op-guard.js';

export const batchnormKernel = new KernelFamily('batchnorm.wgsl', batchnormWgsl);
const WORKGROUP_SIZE = 64;
/**
 * Rows per normalize invocation (the kernel's NORMALIZE_ROWS override). One
 * invocation per element (an integer division and three per-channel loads each) measured about
 * 2× slower on lavapipe (36 against 14–20 ms at 8×35×35×288, 15 against 5–6 ms at 8×8×8×2048);
 * 4 rows was slower than 8, and 8, 16 and 32 were within the machine's noise, so the smallest
 * keeps the most invocations for a GPU (352 800 and 131 072 at those shapes).
 */
const NORMALIZE_ROWS = 8;

/** Inception-v3's BatchNorm epsilon (TF-slim and Keras both use 1e-3). */
export const DEFAULT_BATCHNORM_EPS = 1e-3;
const DEFAULT_MOMENTUM = { pytorch: 0.1, keras: 0.99 } as const;

export type MomentumConvention = 'pytorch' | 'keras';

export interface BatchNormTrainOptions extends OutputOption {
  /** Added to the variance before the square root; > 0. Default 1e-3 (Inception-v3's). */
  eps?: number;
  /** In [0, 1], read by `momentumConvention`, which must then be given too. */
  momentum?: number;
  /**
   * 'pytorch': running = (1 − m)·running + m·batch, default m = 0.1.
   * 'keras':   running = m·running + (1 − m)·batch, default m = 0.99.
   * PyTorch's 0.1 is Keras's 0.9. Neither given: PyTorch with 0.1.
   */
  momentumConvention?: MomentumConvention;
  /** [C], updated in place on the GPU. Give both or neither. */
  runningMean?: Tensor;
  runningVar?: Tensor;
  /**
   * Which batch variance enters the running variance. Default by convention: 'unbiased'
   * (× count/(count − 1)) for PyTorch, as torch.nn.BatchNorm does; 'biased' for Keras, as
   * Keras 3's BatchNormalization does (it takes ops.moments' population variance). TensorFlow's
   * fused batch-norm kernel (tf.keras 2 with fused=True) applies the correction, so a TF 2
   * training run matches 'keras' momentum with 'unbiased' here.
   */
  runningVarianceEstimator?: 'unbiased' | 'biased';
  /** max(·, 0) fused into the normalisation. */
  relu?: boolean;
  /** Per-block partial statistics of x already computed by its producer (conv2dWithStatistics
   * writes them as it writes x), so the statistics pass does not read x again. */
  partials?: PartialStatistics;
}

/**
 * Partial BatchNorm statistics of a [rows, C] activation, one record per (block of rows,
 * channel) at [block · C + c]: (shift, mean of values − shift, M2 of them, count), the layout
 * kernels/batchnorm.wgsl's partial_stats writes and merge_stats reads.
 */
export interface PartialStatistics {
  partials: Tensor;
  chunks: number;
  channels: number;
}

export interface BatchNormInferenceOptions extends OutputOption {
  /** > 0; default 1e-3. */
  eps?: number;
  relu?: boolean;
}

export interface BatchNormTrainResult {
  y: Tensor<'f32'>;
  /** Batch mean per channel, [C]. */
  mean: Tensor<'f32'>;
  /** 1/√(σ² + eps) per channel with σ² the biased batch variance, [C]; kept for the backward pass. */
  invStd: Tensor<'f32'>;
}

/**
 * How the statistics pass splits `rows` into chunks: ⌈√rows⌉ chunks of about √rows rows.
 * Both statistics kernels are serial loops per invocation: partial_stats walks rowsPerChunk
 * rows, merge_stats walks `chunks` partials. On a GPU each loop step waits on memory, so the
 * time is about the longer of the two loops, smallest when both are √rows long; the first pass
 * then has √rows·C invocations, which is parallel enough at Inception's shapes: 8×35×35×288
 * (9800 rows) → 99 chunks of 99 rows, 28 512 invocations; 8×8×8×2048 (512 rows) → 23 chunks
 * of 23 rows (the last 6), 47 104 invocations. The partials (16 bytes per chunk and channel)
 * stay a small fraction, 4/√rows, of the input read. On the CPU drivers any split with a few
 * hundred invocations keeps both cores busy, so this choice costs nothing there.
 */
export function batchNormChunking(rows: number): { chunks: number; rowsPerChunk: number } {
  if (rows <= 0) return { chunks: 0, rowsPerChunk: 0 };
  const rowsPerChunk = Math.ceil(rows / Math.ceil(Math.sqrt(rows)));
  return { chunks: Math.ceil(rows / rowsPerChunk), rowsPerChunk };
}

function checkX(op: string, x: Tensor): { rows: number; channels: number } {
  expectDType(op, 'x', x, 'f32');
  if (x.rank < 1) throw new InvalidArgumentError(`${op}: x must have at least one dimension (channels innermost), got ${x.describe()}`);
  const channels = x.channels;
  const rows = channels === 0 ? 0 : x.size / channels;
  if (channels > 0 && rows === 0) {
    throw new InvalidArgumentError(`${op}: x ${x.describe()} has no rows; batch statistics need at least one value per channel`);
  }
  return { rows, channels };
}

function checkChannelVector(op: string, name: string, t: Tensor, channels: number): void {
  expectDType(op, name, t, 'f32');
  if (t.slice) throw new InvalidArgumentError(`${op}: ${name} is ${t.describe()}, a channel view; pass a plain tensor`);
  if (t.rank !== 1 || t.size !== channels)
    throw new InvalidArgumentError(`${op}: ${name} must be f32[${channels}] (one value per channel of x), got ${t.describe()}`);
}

function checkEps(op: string, eps: unknown): number {
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps <= 0)
    throw new InvalidArgumentError(`${op}: eps must be a finite number > 0, got ${String(eps)}`);
  return eps;
}

function checkRelu(op: string, relu: unknown): boolean {
  if (relu !== undefined && typeof relu !== 'boolean') throw new InvalidArgumentError(`${op}: relu must be a boolean, got ${String(relu)}`);
  return relu ?? false;
}

/** Checked before any dispatch, so a bad `out` leaves nothing half recorded. */
function checkOut(engine: Engine, op: string, x: Tensor, out: Tensor | undefined): void {
  if (out) checkOutput(engine, op, x.shape, out);
  if (out && !out.isDisposed && !x.isDisposed && out.buffer === x.buffer) {
    throw new InvalidArgumentError(
      `${op}: out (${out.describe()}) shares x's buffer; WebGPU cannot read and write one buffer in a dispatch, so write to another tensor`,
    );
  }
}

/** The per-channel mean and biased (population) variance over every position of x's leading
 * dimensions. */
export const batchNormStatistics = guardOp('batchNormStatistics', function batchNormStatistics(x: Tensor): { mean: Tensor<'f32'>; variance: Tensor<'f32'> } {
  const op = 'batchNormStatistics';
  const engine = engineOf(op, x);
  const { rows, channels } = checkX(op, x);
  return statistics(engine, op, x, rows, channels);
});

function checkPartials(op: string, p: PartialStatistics, channels: number): void {
  expectDType(op, 'partials', p.partials, 'f32');
  if (p.channels !== channels || !Number.isInteger(p.chunks) || p.chunks < 1 || p.partials.size !== 4 * p.chunks * channels) {
    throw new InvalidArgumentError(
      `${op}: partials must hold ${channels} channels × chunks records of 4 floats (got ${p.partials.describe()} for ${p.chunks} chunks of ${p.channels} channels)`,
    );
  }
}

/** Partial statistics of x by the standalone pass (partial_stats), for merging later. */
export const batchNormPartialStatistics = guardOp('batchNormPartialStatistics', function batchNormPartialStatistics(x: Tensor): PartialStatistics {
  const op = 'batchNormPartialStatistics';
  const engine = engineOf(op, x);
  const { rows, channels } = checkX(op, x);
  return partialStatistics(engine, op, x, rows, channels);
});

function partialStatistics(engine: Engine, op: string, x: Tensor, rows: number, channels: number): PartialStatistics {
  const { chunks, rowsPerChunk } = batchNormChunking(rows);
  const partials = engine.empty([chunks * Math.max(1, channels), 4], 'f32', `${op} partials`);
  const { offset, stride } = x.channelLayout;
  const n = rows * channels;
  engine.dispatch({
    op,
    kernel: batchnormKernel,
    entry: 'partial_stats',
    bindings: { x, partialsOut: partials, statsParams: { rows, channels, rowsPerChunk, chunks, xOffset: offset, xStride: stride } },
    views: ['x'],
    workgroups: engine.grid1d(chunks * channels, WORKGROUP_SIZE),
    // Welford step: two subtractions, a count increment, a division, an add and an fma.
    cost: { flops: 7 * n, bytes: 4 * n + 16 * chunks * channels },
  });
  return { partials, chunks, channels };
}

function statistics(
  engine: Engine,
  op: string,
  x: Tensor,
  rows: number,
  channels: number,
  given?: PartialStatistics,
): { mean: Tensor<'f32'>; variance: Tensor<'f32'> } {
  const mean = engine.empty([channels], 'f32', `${op} mean`);
  const variance = engine.empty([channels], 'f32', `${op} variance`);
  if (channels === 0) return { mean, variance };
  const { partials, chunks } = given ?? partialStatistics(engine, op, x, rows, channels);
  try {
    engine.dispatch({
      op,
      kernel: batchnormKernel,
      entry: 'merge_stats',
      bindings: { partials, meanOut: mean, varianceOut: variance, mergeParams: { channels, chunks } },
      workgroups: engine.grid1d(channels, WORKGROUP_SIZE),
      cost: { flops: 12 * chunks * channels, bytes: 16 * chunks * channels + 8 * channels },
    });
  } finally {
    if (!given) partials.dispose();
  }
  return { mean, variance };
}

/** invStd = 1/√(variance + eps) and scale = γ·invStd, per channel. */
function affineParams(
  engine: Engine,
  op: string,
  variance: Tensor,
  gamma: Tensor | null,
  eps: number,
  channels: number,
): { invStd: Tensor<'f32'>; scale: Tensor<'f32'> } {
  const invStd = engine.empty([channels], 'f32', `${op} invStd`);
  const scale = engine.empty([channels], 'f32', `${op} scale`);
  engine.dispatch({
    op,
    kernel: batchnormKernel,
    entry: 'affine_params',
    overrides: { HAS_GAMMA: gamma ? 1 : 0 },
    // Without γ the kernel never reads `gamma`; the variance fills the slot.
    bindings: { variance, gamma: gamma ?? variance, invStdOut: invStd, scaleOut: scale, affineParams: { channels, eps } },
    workgroups: engine.grid1d(channels, WORKGROUP_SIZE),
    cost: { flops: 4 * channels, bytes: 16 * channels },
  });
  return { invStd, scale };
}

function normalize(
  engine: Engine,
  op: string,
  x: Tensor,
  mean: Tensor,
  scale: Tensor,
  beta: Tensor | null,
  relu: boolean,
  out: Tensor | undefined,
  rows: number,
  channels: number,
): Tensor<'f32'> {
  const { y, outOffset, outStride } = resolveOutput(engine, op, x.shape, out);
  const { offset, stride } = x.channelLayout;
  const n = rows * channels;
  engine.dispatch({
    op,
    kernel: batchnormKernel,
    entry: 'normalize',
    overrides: { HAS_BETA: beta ? 1 : 0, RELU: relu ? 1 : 0, NORMALIZE_ROWS },
    bindings: {
      x,
      mean,
      scale,
      beta: beta ?? mean,
      y,
      normalizeParams: { rows, channels: Math.max(1, channels), xOffset: offset, xStride: stride, outOffset, outStride },
    },
    views: ['x', 'y'],
    workgroups: engine.grid1d(Math.ceil(rows / NORMALIZE_ROWS) * channels, WORKGROUP_SIZE),
    cost: { flops: (relu ? 4 : 3) * n, bytes: 8 * n + 12 * channels },
  });
  return y;
}

function runningWeights(op: string, options: BatchNormTrainOptions): { keep: number; take: number; estimator: 'unbiased' | 'biased' } {
  const { momentum, momentumConvention: convention } = options;
  if (convention !== undefined && convention !== 'pytorch' && convention !== 'keras') {
    throw new InvalidArgumentError(`${op}: momentumConvention must be 'pytorch' or 'keras', got ${String(convention)}`);
  }
  if (momentum !== undefined && convention === undefined) {
    throw new InvalidArgumentError(
      `${op}: momentum ${String(momentum)} was given without momentumConvention; say 'pytorch' (running = (1 − m)·running + m·batch) or 'keras' (running = m·running + (1 − m)·batch)`,
    );
  }
  if (momentum !== undefined && (typeof momentum !== 'number' || !(momentum >= 0 && momentum <= 1))) {
    throw new InvalidArgumentError(`${op}: momentum must be a number in [0, 1], got ${String(momentum)}`);
  }
  const conv = convention ?? 'pytorch';
  const m = momentum ?? DEFAULT_MOMENTUM[conv];
  const estimator = options.runningVarianceEstimator ?? (conv === 'pytorch' ? 'unbiased' : 'biased');
  if (estimator !== 'unbiased' && estimator !== 'biased') {
    throw new InvalidArgumentError(`${op}: runningVarianceEstimator must be 'unbiased' or 'biased', got ${String(estimator)}`);
  }
  return conv === 'pytorch' ? { keep: 1 - m, take: m, estimator } : { keep: m, take: 1 - m, estimator };
}

/**
 * Training-mode BatchNorm: y = γ·(x − μ)/√(σ² + eps) + β (then ReLU if `relu`), μ and σ² the
 * batch mean and biased variance per channel over all of x's leading dimensions. Writes into
 * `out` when given (a channel view included); x may be a channel view too.
 *
 * With runningMean and runningVar (both [C]) they are updated in place on the GPU:
 *   PyTorch convention: running = (1 − m)·running + m·batch, m = 0.1 by default;
 *   Keras convention:   running = m·running + (1 − m)·batch, m = 0.99 by default.
 * The running variance takes the unbiased batch variance σ²·count/(count − 1) under the
 * PyTorch convention (as PyTorch does) and the biased σ² under Keras's (as Keras 3 does);
 * `runningVarianceEstimator` overrides that. count = N·H·W; the unbiased estimate needs
 * count ≥ 2. Giving `momentum` requires `momentumConvention`, so 0.1 can never be read in the
 * wrong convention; with neither the update is PyTorch's with 0.1.
 *
 * Returns y, the batch mean and invStd = 1/√(σ² + eps) (what the backward pass needs).
 * Dispatches: statistics (2), per-channel scale (1), running update (1, when asked) and one
 * normalising pass over x.
 */
export const batchNormTrain = guardOp(
  'batchNormTrain',
  function batchNormTrain(x: Tensor, gamma: Tensor | null, beta: Tensor | null, options: BatchNormTrainOptions = {}): BatchNormTrainResult {
    const op = 'batchNormTrain';
    const { runningMean, runningVar } = options;
    const tensors = [x, gamma, beta, runningMean, runningVar, options.out].filter((t): t is Tensor => t != null);
    const engine = engineOf(op, ...tensors);
    const { rows, channels } = checkX(op, x);
    if (gamma) checkChannelVector(op, 'gamma', gamma, channels);
    if (beta) checkChannelVector(op, 'beta', beta, channels);
    const eps = checkEps(op, options.eps ?? DEFAULT_BATCHNORM_EPS);
    const relu = checkRelu(op, options.relu);
    const weights = runningWeights(op, options);
    if ((runningMean === undefined) !== (runningVar === undefined)) {
      throw new InvalidArgumentError(`${op}: give runningMean and runningVar together (got only ${runningMean ? 'runningMean' : 'runningVar'})`);
    }
    if (runningMean && runningVar) {
      checkChannelVector(op, 'runningMean', runningMean, channels);
      checkChannelVector(op, 'runningVar', runningVar, channels);
      if (runningMean.buffer === runningVar.buffer)
        throw new InvalidArgumentError(`${op}: runningMean and runningVar share one buffer; they must be separate tensors`);
      if (weights.estimator === 'unbiased' && rows < 2) {
        throw new InvalidArgumentError(`${op}: the unbiased running variance needs at least 2 values per channel, x ${x.describe()} has ${rows}`);
      }
    }
    checkOut(engine, op, x, options.out);

    if (options.partials) checkPartials(op, options.partials, channels);
    const { mean, variance } = statistics(engine, op, x, rows, channels, options.partials);
    const { invStd, scale } = affineParams(engine, op, variance, gamma, eps, channels);
    try {
      if (runningMean && runningVar) {
        engine.dispatch({
          op,
          kernel: batchnormKernel,
          entry: 'update_running',
          bindings: {
            mean,
            variance,
            runningMean,
            runningVar,
            runningParams: { channels, keep: weights.keep, take: weights.take, varianceFactor: weights.estimator === 'unbiased' ? rows / (rows - 1) : 1 },
          },
          workgroups: engine.grid1d(channels, WORKGROUP_SIZE),
          cost: { flops: 7 * channels, bytes: 24 * channels },
        });
      }
      const y = normalize(engine, op, x, mean, scale, beta, relu, options.out, rows, channels);
      return { y, mean, invStd };
    } finally {
      variance.dispose();
      scale.dispose();
    }
  },
);

/**
 * Inference-mode BatchNorm from running statistics: y = γ·(x − mean)/√(var + eps) + β (then
 * ReLU if `relu`). A per-channel kernel forms γ/√(var + eps) on the GPU, then one pass over x.
 * Subtracting the mean before scaling keeps the low bits that folding into x·scale + shift
 * would cancel when |mean| is large against the spread; where BatchNorm follows a conv, fold it
 * into the conv's epilogue instead (foldBatchNorm) and skip this pass.
 */
export const batchNormInference = guardOp(
  'batchNormInference',
  function batchNormInference(
    x: Tensor,
    gamma: Tensor | null,
    beta: Tensor | null,
    runningMean: Tensor,
    runningVar: Tensor,
    options: BatchNormInferenceOptions = {},
  ): Tensor<'f32'> {
    const op = 'batchNormInference';
    const tensors = [x, gamma, beta, runningMean, runningVar, options.out].filter((t): t is Tensor => t != null);
    const engine = engineOf(op, ...tensors);
    expectDType(op, 'x', x, 'f32');
    if (x.rank < 1) throw new InvalidArgumentError(`${op}: x must have at least one dimension (channels innermost), got ${x.describe()}`);
    const channels = x.channels;
    const rows = channels === 0 ? 0 : x.size / channels;
    if (gamma) checkChannelVector(op, 'gamma', gamma, channels);
    if (beta) checkChannelVector(op, 'beta', beta, channels);
    checkChannelVector(op, 'runningMean', runningMean, channels);
    checkChannelVector(op, 'runningVar', runningVar, channels);
    const eps = checkEps(op, options.eps ?? DEFAULT_BATCHNORM_EPS);
    const relu = checkRelu(op, options.relu);
    checkOut(engine, op, x, options.out);

    const { invStd, scale } = affineParams(engine, op, runningVar, gamma, eps, channels);
    try {
      return normalize(engine, op, x, runningMean, scale, beta, relu, options.out, rows, channels);
    } finally {
      invStd.dispose();
      scale.dispose();
    }
  },
);

/**
 * Inference BatchNorm folded into a per-channel scale and shift for a conv's epilogue
 * (y = conv·scale + shift), computed on the GPU from the tensors where training left them:
 * scale = γ/√(runningVar + eps), shift = β − runningMean·scale. γ and β may be null (1 and 0).
 * foldBatchNorm (ops/epilogue.ts) does the same in float64 from host arrays.
 */
export function foldBatchNormInference(
  gamma: Tensor | null,
  beta: Tensor | null,
  runningMean: Tensor,
  runningVar: Tensor,
  options: { eps?: number } = {},
): { scale: Tensor<'f32'>; shift: Tensor<'f32'> } {
  const op = 'foldBatchNormInference';
  const tensors = [gamma, beta, runningMean, runningVar].filter((t): t is Tensor => t != null);
  const engine = engineOf(op, ...tensors);
  expectDType(op, 'runningMean', runningMean, 'f32');
  if (runningMean.rank !== 1) throw new InvalidArgumentError(`${op}: runningMean must be a [C] vector, got ${runningMean.describe()}`);
  const channels = runningMean.size;
  checkChannelVector(op, 'runningVar', runningVar, channels);
  if (gamma) checkChannelVector(op, 'gamma', gamma, channels);
  if (beta) checkChannelVector(op, 'beta', beta, channels);
  const eps = checkEps(op, options.eps ?? DEFAULT_BATCHNORM_EPS);
  const scale = engine.empty([channels], 'f32', `${op} scale`);
  const shift = engine.empty([channels], 'f32', `${op} shift`);
  engine.dispatch({
    op,
    kernel: batchnormKernel,
    entry: 'fold_inference',
    overrides: { HAS_GAMMA: gamma ? 1 : 0, HAS_BETA: beta ? 1 : 0 },
    // Absent γ or β are never read; the running mean fills their slots.
    bindings: {
      gamma: gamma ?? runningMean,
      beta: beta ?? runningMean,
      mean: runningMean,
      variance: runningVar,
      scaleOut: scale,
      shiftOut: shift,
      foldParams: { channels, eps },
    },
    workgroups: engine.grid1d(channels, WORKGROUP_SIZE),
    cost: { flops: 5 * channels, bytes: 24 * channels },
  });
  return { scale, shift };
}
