/** conv2d (src/ops/conv2d.ts) on the tape, with src/ops/conv2d-backward.ts as its backward. */
import type { Tensor } from '../runtime/tensor.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import { reluBackward } from '../ops/elementwise-backward.js';
import { conv2d as conv2dOp, conv2dWithStatistics as conv2dWithStatisticsOp, type Conv2dOptions } from '../ops/conv2d.js';
import { conv2dBackwardBias, conv2dBackwardInput, conv2dBackwardWeights } from '../ops/conv2d-backward.js';
import type { PartialStatistics } from '../ops/batchnorm.js';
import type { Tape } from './tape.js';
import { scaleShift } from './elementwise.js';

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
