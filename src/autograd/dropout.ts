/** Dropout (src/ops/dropout.ts) on the tape: backward redraws the mask from the same seed and offset. */
import type { Tensor } from '../runtime/tensor.js';
import { dropout as dropoutOp } from '../ops/dropout.js';
import { dropoutBackward } from '../ops/dropout-backward.js';
import type { Tape } from './tape.js';

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
