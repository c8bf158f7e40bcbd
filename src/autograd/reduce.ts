/** The reductions to a scalar (src/ops/reduce.ts) on the tape. */
import type { Tensor } from '../runtime/tensor.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import { mul as mulOp } from '../ops/elementwise.js';
import { mean as meanOp, sum as sumOp } from '../ops/reduce.js';
import type { Tape } from './tape.js';

/** A tensor of x's shape filled with the single value of g (the backward of a reduction). */
function broadcastScalar(tape: Tape, g: Tensor, shape: readonly number[], scale: number): Tensor {
  const engine = tape.engine;
  const ones = engine.empty(shape, 'f32', 'broadcast');
  engine.fillBits(ones, new Uint32Array(new Float32Array([scale]).buffer)[0]!);
  return mulOp(ones, g.reshape([1]));
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
