/** Reshape on the tape. No op file: a reshape is a Tensor view, no kernel runs either way. */
import type { Tensor } from '../runtime/tensor.js';
import type { Tape } from './tape.js';

/** The same data under another shape (no copy); the gradient is reshaped back. */
export function reshape(tape: Tape, x: Tensor, shape: readonly number[]): Tensor {
  const y = x.reshape([...shape]);
  tape.record('reshape', [x], y, [], (dy) => [dy.reshape(x.shape)]);
  return y;
}
