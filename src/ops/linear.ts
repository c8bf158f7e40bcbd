/**
 * A fully connected layer: y = x·W + b (then ReLU if asked), x [B, in], W [in, out], b [out].
 * W is stored [in, out] because that is the matmul's right operand as it is (each row of W is
 * `out` contiguous values, read as vec4s); PyTorch's [out, in] is transposed once when weights
 * are imported. The bias rides in the matmul's write-out epilogue, so it costs no extra pass.
 */
import { InvalidArgumentError } from '../runtime/errors.js';
import type { Tensor } from '../runtime/tensor.js';
import { matmul } from './matmul.js';
import { checkOutput, type OutputOption } from './output.js';
import { engineOf, expectDType } from './util.js';
import { guardOp } from '../runtime/op-guard.js';

export interface LinearOptions extends OutputOption {
  /** max(·, 0) after the bias, in the same epilogue. */
  relu?: boolean;
}

/** x·W (+ bias) (then ReLU), [B, out]; `out` may be a channel view of a wider [B, C] tensor. */
export const linear = guardOp('linear', function linear(x: Tensor, weight: Tensor, bias?: Tensor, options: LinearOptions = {}): Tensor {
  const op = 'linear';
  const engine = engineOf(op, x, weight, ...(bias ? [bias] : []));
  expectDType(op, 'x', x, 'f32');
  expectDType(op, 'weight', weight, 'f32');
  if (x.rank !== 2) throw new InvalidArgumentError(`${op}: x must be rank 2 [batch, in], got ${x.describe()}`);
  if (weight.rank !== 2) throw new InvalidArgumentError(`${op}: weight must be rank 2 [in, out], got ${weight.describe()}`);
  const [batch, inX] = x.shape as [number, number];
  if (batch < 1 || inX < 1) throw new InvalidArgumentError(`${op}: x needs a batch of at least 1 and at least 1 feature, got ${x.describe()}`);
  const [inW, out] = weight.shape as [number, number];
  if (inX !== inW) throw new InvalidArgumentError(`${op}: x has ${inX} features but weight [in, out] expects ${inW} (weight ${weight.describe()})`);
  if (bias) {
    expectDType(op, 'bias', bias, 'f32');
    if (bias.size !== out) throw new InvalidArgumentError(`${op}: bias must have ${out} elements (one per output), got ${bias.describe()}`);
  }
  if (options.out) checkOutput(engine, op, [batch, out], options.out);
  const epilogue = bias || options.relu ? { ...(bias ? { shift: bias } : {}), relu: options.relu ?? false } : undefined;
  return matmul(x, weight, { ...(epilogue ? { epilogue } : {}), ...(options.out ? { out: options.out } : {}) });
});
