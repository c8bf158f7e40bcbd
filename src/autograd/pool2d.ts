/** The pooling ops (src/ops/pool2d.ts) on the tape, with src/ops/pool2d-backward.ts as their backward. */
import type { Tensor } from '../runtime/tensor.js';
import { avgPool2d as avgPoolOp, globalAvgPool as globalAvgPoolOp, maxPool2d as maxPoolOp, type AvgPool2dOptions, type Pool2dOptions } from '../ops/pool2d.js';
import { avgPool2dBackward, globalAvgPoolBackward, maxPool2dBackward } from '../ops/pool2d-backward.js';
import type { Tape } from './tape.js';

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
