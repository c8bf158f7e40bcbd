/** linear (src/ops/linear.ts) on the tape: its backward is matmuls and a column sum. */
import type { Tensor } from '../runtime/tensor.js';
import { linear as linearOp } from '../ops/linear.js';
import { matmul as matmulOp } from '../ops/matmul.js';
import { transpose } from '../ops/transpose.js';
import { sumChannels } from '../ops/reduce.js';
import { reluBackward } from '../ops/elementwise-backward.js';
import type { Tape } from './tape.js';

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
