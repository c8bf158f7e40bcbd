/**
 * Ops that record themselves on a tape: each runs the forward op and, when a gradient is
 * wanted, records the backward rule built from the op's backward kernels. The first argument
 * is the tape; the rest are the op's own.
 */
import type { Tensor } from '../runtime/tensor.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import { add as addOp, mul as mulOp, relu as reluOp, reluBackward, scaleShift as scaleShiftOp } from '../ops/elementwise.js';
import { dropout as dropoutOp, dropoutBackward } from '../ops/dropout.js';
import { mean as meanOp, sum as sumOp, sumChannels } from '../ops/reduce.js';
import { linear as linearOp } from '../ops/linear.js';
import { matmul as matmulOp } from '../ops/matmul.js';
import { transpose } from '../ops/transpose.js';
import { concatChannels as concatOp, sliceChannels } from '../ops/concat.js';
import { batchNormTrain as batchNormTrainOp, type BatchNormTrainOptions } from '../ops/batchnorm.js';
import { batchNormTrainBackward } from '../ops/batchnorm-backward.js';
import { softmaxCrossEntropy as crossEntropyOp, type SoftmaxCrossEntropyOptions } from '../ops/softmax.js';
import { softmaxCrossEntropyBackward } from '../ops/softmax-backward.js';
import { avgPool2d as avgPoolOp, globalAvgPool as globalAvgPoolOp, maxPool2d as maxPoolOp, type AvgPool2dOptions, type Pool2dOptions } from '../ops/pool2d.js';
import { avgPool2dBackward, globalAvgPoolBackward, maxPool2dBackward } from '../ops/pool2d-backward.js';
import { conv2d as conv2dOp, conv2dWithStatistics as conv2dWithStatisticsOp, type Conv2dOptions } from '../ops/conv2d.js';
import { conv2dBackwardBias, conv2dBackwardInput, conv2dBackwardWeights } from '../ops/conv2d-backward.js';
import type { PartialStatistics } from '../ops/batchnorm.js';
import type { Tape } from './tape.js';

/** The gradient of an operand broadcast over dy's leading dimensions: summed back to its shape. */
function reduceToShape(dy: Tensor, shape: readonly number[]): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  if (size === dy.size) return dy.reshape(shape);
  const perChannel = sumChannels(dy.reshape([dy.size / size, size]));
  const shaped = perChannel.reshape(shape);
  perChannel.dispose();
  return shaped;
}

/** A tensor of x's shape filled with the single value of g (the backward of a reduction). */
function broadcastScalar(tape: Tape, g: Tensor, shape: readonly number[], scale: number): Tensor {
  const engine = tape.engine;
  const ones = engine.empty(shape, 'f32', 'broadcast');
  engine.fillBits(ones, new Uint32Array(new Float32Array([scale]).buffer)[0]!);
  return mulOp(ones, g.reshape([1]));
}

/** The same data under another shape (no copy); the gradient is reshaped back. */
export function reshape(tape: Tape, x: Tensor, shape: readonly number[]): Tensor {
  const y = x.reshape([...shape]);
  tape.record('reshape', [x], y, [], (dy) => [dy.reshape(x.shape)]);
  return y;
}

export function add(tape: Tape, a: Tensor, b: Tensor): Tensor {
  const y = addOp(a, b);
  tape.record('add', [a, b], y, [], (dy) => [dy.reshape(a.shape), reduceToShape(dy, b.shape)]);
  return y;
}

export function mul(tape: Tape, a: Tensor, b: Tensor): Tensor {
  const y = mulOp(a, b);
  tape.record('mul', [a, b], y, [a, b], (dy, [sa, sb]) => {
    const da = tape.requiresGrad(a) ? mulOp(dy, sb!) : undefined;
    const db = tape.requiresGrad(b) ? reduceToShape(mulOp(dy, sa!), b.shape) : undefined;
    return [da, db];
  });
  return y;
}

export function relu(tape: Tape, x: Tensor): Tensor {
  const y = reluOp(x);
  tape.record('relu', [x], y, [y], (dy, [sy]) => [reluBackward(dy, sy!)]);
  return y;
}

/** x·scale[c] + shift[c] (then ReLU), per channel. */
export function scaleShift(tape: Tape, x: Tensor, scale: Tensor, shift: Tensor, options: { relu?: boolean } = {}): Tensor {
  const y = scaleShiftOp(x, scale, shift, options);
  tape.record('scaleShift', [x, scale, shift], y, options.relu ? [x, scale, y] : [x, scale], (dy, [sx, sscale, sy]) => {
    const g = options.relu ? reluBackward(dy, sy!) : dy;
    const dx = tape.requiresGrad(x) ? mulOp(g, sscale!) : undefined;
    const dscale = tape.requiresGrad(scale) ? reduceToShape(mulOp(g, sx!), scale.shape) : undefined;
    const dshift = tape.requiresGrad(shift) ? reduceToShape(g, shift.shape) : undefined;
    return [dx, dscale, dshift];
  });
  return y;
}

export function dropout(tape: Tape, x: Tensor, options: { rate: number; seed: number; offset?: number; training?: boolean }): Tensor {
  const y = dropoutOp(x, options);
  if (options.training === false || options.rate === 0) {
    tape.record('dropout', [x], y, [], (dy) => [dy.reshape(x.shape)]);
  } else {
    tape.record('dropout', [x], y, [], (dy) => [
      dropoutBackward(dy, { rate: options.rate, seed: options.seed, ...(options.offset !== undefined ? { offset: options.offset } : {}) }),
    ]);
  }
  return y;
}

export function sum(tape: Tape, x: Tensor): Tensor {
  const y = sumOp(x);
  tape.record('sum', [x], y, [], (dy) => [broadcastScalar(tape, dy, x.shape, 1)]);
  return y;
}

export function mean(tape: Tape, x: Tensor): Tensor {
  if (x.size === 0) throw new InvalidArgumentError(`mean: x (${x.describe()}) is empty`);
  const y = meanOp(x);
  tape.record('mean', [x], y, [], (dy) => [broadcastScalar(tape, dy, x.shape, 1 / x.size)]);
  return y;
}

/** a·b for 2-D a [M, K] and b [K, N]: da = dy·bᵀ, db = aᵀ·dy. */
export function matmul(tape: Tape, a: Tensor, b: Tensor): Tensor {
  if (a.rank !== 2 || b.rank !== 2) throw new InvalidArgumentError(`matmul (taped): needs 2-D operands, got ${a.describe()} and ${b.describe()}`);
  const y = matmulOp(a, b);
  tape.record('matmul', [a, b], y, [a, b], (dy, [sa, sb]) => [
    tape.requiresGrad(a) ? matmulOp(dy, transpose(sb!)) : undefined,
    tape.requiresGrad(b) ? matmulOp(transpose(sa!), dy) : undefined,
  ]);
  return y;
}

/** x·W + b (then ReLU): dx = g·Wᵀ, dW = xᵀ·g, db = Σ_rows g, with g = dy masked by ReLU. */
export function linear(tape: Tape, x: Tensor, weight: Tensor, bias?: Tensor, options: { relu?: boolean; out?: Tensor } = {}): Tensor {
  const relu = options.relu ?? false;
  const y = linearOp(x, weight, bias, { relu, ...(options.out ? { out: options.out } : {}) });
  const inputs = bias ? [x, weight, bias] : [x, weight];
  tape.record('linear', inputs, y, relu ? [x, weight, y] : [x, weight], (dy, [sx, sw, sy]) => {
    const g = relu ? reluBackward(dy, sy!) : dy;
    return [
      tape.requiresGrad(x) ? matmulOp(g, transpose(sw!)) : undefined,
      tape.requiresGrad(weight) ? matmulOp(transpose(sx!), g) : undefined,
      bias && tape.requiresGrad(bias) ? sumChannels(g) : undefined,
    ];
  });
  return y;
}

/** Inputs side by side along channels (a copy); each gets its slice of the gradient back. */
export function concatChannels(tape: Tape, inputs: readonly Tensor[]): Tensor {
  const y = concatOp(inputs);
  const offsets = channelOffsets(inputs);
  tape.record('concatChannels', inputs, y, [], (dy) => inputs.map((t, i) => (tape.requiresGrad(t) ? sliceChannels(dy, offsets[i]!, t.channels) : undefined)));
  return y;
}

/**
 * Records a concat whose producers already wrote into channel views of `out` (channelSlices):
 * no forward work at all; in backward each view gets its slice of out's gradient.
 */
export function concatViews(tape: Tape, out: Tensor, views: readonly Tensor[]): Tensor {
  for (const v of views) {
    if (!v.slice || v.buffer !== out.buffer) throw new InvalidArgumentError(`concatViews: ${v.describe()} is not a channel view of ${out.describe()}`);
  }
  const base = out.channelLayout.offset;
  // Each branch's gradient is a channel view of out's gradient: no copy (kernels that cannot
  // read a view, and the tape's sums, make a plain copy when they need one).
  tape.record('concatViews', views, out, [], (dy) => views.map((v) => (tape.requiresGrad(v) ? dy.channelView(v.slice!.offset - base, v.channels) : undefined)));
  return out;
}

function channelOffsets(inputs: readonly Tensor[]): number[] {
  let o = 0;
  return inputs.map((t) => {
    const at = o;
    o += t.channels;
    return at;
  });
}

/**
 * Training-mode BatchNorm (then ReLU): y, with the batch statistics saved for backward. Running
 * statistics, if given, are updated in the forward pass as usual. γ and β may be null (Keras's
 * scale=False / center=False).
 */
export function batchNormTrain(tape: Tape, x: Tensor, gamma: Tensor | null, beta: Tensor | null, options: BatchNormTrainOptions = {}): Tensor {
  const relu = options.relu ?? false;
  const { y, mean: mu, invStd } = batchNormTrainOp(x, gamma, beta, options);
  const inputs = [x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])];
  const saved = [x, mu, invStd, ...(gamma ? [gamma] : []), ...(relu ? [y] : [])];
  tape.record(
    'batchNormTrain',
    inputs,
    y,
    saved,
    (dy, s) => {
      const [sx, smean, sinv] = s as [Tensor, Tensor, Tensor];
      const sgamma = gamma ? s[3]! : null;
      const sy = relu ? s[s.length - 1]! : undefined;
      const { dx, dgamma, dbeta } = batchNormTrainBackward(dy, sx, sgamma, smean, sinv, { relu, ...(sy ? { y: sy } : {}) });
      return [dx, ...(gamma ? [dgamma] : []), ...(beta ? [dbeta] : [])];
    },
    { savedViews: true, viewGradient: true },
  ); // y and dy may be a branch's slice of a concat: read in place
  // The statistics are only needed by backward, and the tape keeps its own handles on them.
  mu.dispose();
  invStd.dispose();
  return y;
}

/**
 * Mean softmax cross-entropy with label smoothing over the batch, as a [1] tensor; backward is
 * one kernel, (p − q')/B, from the probabilities the forward saved.
 */
export function softmaxCrossEntropy(
  tape: Tape,
  logits: Tensor,
  targets: Tensor | Int32Array | readonly number[],
  options: SoftmaxCrossEntropyOptions = {},
): Tensor {
  const { losses, meanLoss, probabilities } = crossEntropyOp(logits, targets, options);
  losses.dispose();
  const engine = tape.engine;
  const targetTensor = isTensorLike(targets) ? targets : engine.tensor(Int32Array.from(targets), [targets.length], 'i32');
  tape.record('softmaxCrossEntropy', [logits], meanLoss, [probabilities, targetTensor], (dy, [p, t]) => {
    const g = softmaxCrossEntropyBackward(p!, t!, { labelSmoothing: options.labelSmoothing ?? 0 });
    return [mulOp(g, dy.reshape([1]))];
  });
  probabilities.dispose();
  if (targetTensor !== targets) targetTensor.dispose();
  return meanLoss;
}

function isTensorLike(t: unknown): t is Tensor {
  return typeof t === 'object' && t !== null && 'owner' in t && 'dtype' in t;
}

/** Max pooling; the argmax indices are kept for backward only when a gradient is wanted. */
export function maxPool2d(tape: Tape, x: Tensor, options: Pool2dOptions): Tensor {
  if (!tape.recording || !tape.requiresGrad(x)) return maxPoolOp(x, options).y;
  const { y, indices } = maxPoolOp(x, { ...options, returnIndices: true });
  tape.record('maxPool2d', [x], y, [indices], (dy, [idx]) => [maxPool2dBackward(dy, idx!, x.shape, options)], { viewGradient: true });
  indices.dispose();
  return y;
}

export function avgPool2d(tape: Tape, x: Tensor, options: AvgPool2dOptions): Tensor {
  const y = avgPoolOp(x, options);
  tape.record('avgPool2d', [x], y, [], (dy) => [avgPool2dBackward(dy, x.shape, options)], { viewGradient: true });
  return y;
}

export function globalAvgPool(tape: Tape, x: Tensor): Tensor {
  const y = globalAvgPoolOp(x);
  tape.record('globalAvgPool', [x], y, [], (dy) => [globalAvgPoolBackward(dy, x.shape)], { viewGradient: true });
  return y;
}

export interface TapedConv2dOptions extends Pick<Conv2dOptions, 'stride' | 'padding' | 'bias' | 'out' | 'variant'> {
  /** ReLU in the conv's write-out (undone in backward by the output's sign). */
  relu?: boolean;
  /** Per-output-channel scale and shift in the write-out (BatchNorm folded, or learned). */
  scale?: Tensor;
  shift?: Tensor;
}

/**
 * conv2d (+ bias, + scale/shift, + ReLU) with the input-, weight- and bias-gradient kernels as
 * its backward. With a scale or shift whose gradient is wanted, the conv output before the
 * epilogue is needed (dscale = Σ g·acc), so the epilogue then runs as a taped scaleShift after
 * the plain conv instead of inside it; without gradients it stays fused.
 */
export function conv2d(tape: Tape, x: Tensor, w: Tensor, options: TapedConv2dOptions = {}): Tensor {
  const { scale, shift } = options;
  if (scale || shift) {
    const inputs = [x, w, scale, shift, options.bias].filter((t): t is Tensor => t !== undefined);
    if (tape.recording && inputs.some((t) => tape.requiresGrad(t))) {
      const engine = tape.engine;
      const cout = w.shape[3]!;
      const { scale: _s, shift: _h, relu, out, ...plain } = options;
      if (out)
        throw new InvalidArgumentError('conv2d (taped): out with a scale/shift epilogue whose gradient is wanted is not supported; write into a fresh tensor');
      const acc = conv2d(tape, x, w, plain);
      const ones = scale ?? engine.tensor(new Float32Array(cout).fill(1));
      const zeros = shift ?? engine.zeros([cout]);
      return scaleShift(tape, acc, ones, zeros, { relu: relu ?? false });
    }
    const { scale: _s, shift: _h, relu, bias, ...rest } = options;
    const epilogue = { ...(scale ? { scale } : {}), ...(shift ? { shift } : bias ? { shift: bias } : {}), relu: relu ?? false };
    if (bias && shift) throw new InvalidArgumentError('conv2d (taped): give a bias or a shift, not both');
    return conv2dOp(x, w, { ...rest, epilogue });
  }
  const relu = options.relu ?? false;
  const { bias, relu: _relu, scale: _scale, shift: _shift, ...rest } = options;
  const y = conv2dOp(x, w, { ...rest, ...(bias ? { bias } : {}), ...(relu ? { epilogue: { relu: true } } : {}) });
  const geometry = { ...(options.stride !== undefined ? { stride: options.stride } : {}), padding: options.padding ?? 'valid' };
  tape.record('conv2d', bias ? [x, w, bias] : [x, w], y, relu ? [x, w, y] : [x, w], (dy, [sx, sw, sy]) => {
    const g = relu ? reluBackward(dy, sy!) : dy;
    return [
      tape.requiresGrad(x) ? conv2dBackwardInput(g, sw!, x.shape, geometry) : undefined,
      tape.requiresGrad(w) ? conv2dBackwardWeights(sx!, g, w.shape, geometry) : undefined,
      bias && tape.requiresGrad(bias) ? conv2dBackwardBias(g) : undefined,
    ];
  });
  return y;
}

/**
 * conv2d whose kernel also writes BatchNorm's partial statistics (for batchNormTrain's
 * `partials`), so training's conv → BatchNorm reads the conv output once. No bias or ReLU:
 * BatchNorm follows.
 */
export function conv2dWithStatistics(
  tape: Tape,
  x: Tensor,
  w: Tensor,
  options: Pick<Conv2dOptions, 'stride' | 'padding' | 'out' | 'variant'> = {},
): { y: Tensor; statistics: PartialStatistics } {
  const { y, statistics } = conv2dWithStatisticsOp(x, w, options);
  const geometry = { ...(options.stride !== undefined ? { stride: options.stride } : {}), padding: options.padding ?? 'valid' };
  tape.record(
    'conv2d',
    [x, w],
    y,
    [x, w],
    (dy, [sx, sw]) => [
      tape.requiresGrad(x) ? conv2dBackwardInput(dy, sw!, x.shape, geometry) : undefined,
      tape.requiresGrad(w) ? conv2dBackwardWeights(sx!, dy, w.shape, geometry) : undefined,
    ],
    { viewGradient: true }, // the backward conv kernels read a channel-view dy in place
  );
  return { y, statistics };
}
