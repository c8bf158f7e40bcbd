/** matmul (src/ops/matmul.ts) on the tape: its backward is two more matmuls. */
import type { Tensor } from '../runtime/tensor.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import { matmul as matmulOp } from '../ops/matmul.js';
import { transpose } from '../ops/transpose.js';
import type { Tape } from './tape.js';

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
