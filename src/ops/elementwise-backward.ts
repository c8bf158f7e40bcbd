/**
 * Backward of the elementwise ops: ReLU's mask. Its kernel is the relu_backward entry of
 * kernels/elementwise.wgsl, which shares the forward entries' indexing and bindings; the other
 * elementwise ops' gradients are elementwise ops themselves (src/autograd/elementwise.ts).
 */
import { InvalidArgumentError } from '../runtime/errors.js';
import type { Tensor } from '../runtime/tensor.js';
import { describeShapes, engineOf, expectDType } from './util.js';
import { ELEMENTWISE_WORKGROUP_SIZE, elementwiseKernel, elementwiseOutput } from './elementwise.js';
import { guardOp } from '../runtime/op-guard.js';

/** ReLU's backward: dy where y (ReLU's output, or its input) is positive, else 0. */
export const reluBackward = guardOp('reluBackward', function reluBackward(dy: Tensor, y: Tensor): Tensor<'f32'> {
  const op = 'reluBackward';
  const engine = engineOf(op, dy, y);
  expectDType(op, 'dy', dy, 'f32');
  expectDType(op, 'y', y, 'f32');
  if (dy.shape.length !== y.shape.length || dy.shape.some((d, i) => d !== y.shape[i])) {
    throw new InvalidArgumentError(`${op}: dy and y must have the same shape, got ${describeShapes(dy, y)}`);
  }
  const o = elementwiseOutput(engine, op, dy, undefined);
  engine.dispatch({
    op,
    kernel: elementwiseKernel,
    entry: 'relu_backward',
    overrides: o.overrides,
    bindings: { a: y, b: dy, out: o.y, params: { n: dy.size, period: Math.max(1, dy.size), ...o.view } },
    workgroups: engine.grid1d(dy.size, ELEMENTWISE_WORKGROUP_SIZE),
    cost: { flops: dy.size, bytes: 12 * dy.size },
  });
  return o.y;
});
