/** The elementwise ops (src/ops/elementwise.ts) on the tape. */
import type { Tensor } from '../runtime/tensor.js';
import { add as addOp, mul as mulOp, relu as reluOp, scaleShift as scaleShiftOp } from '../ops/elementwise.js';
import { reluBackward } from '../ops/elementwise-backward.js';
import { sumChannels } from '../ops/reduce.js';
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
