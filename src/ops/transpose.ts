/** Transpose of the last two dimensions: [.., R, C] → [.., C, R] (kernels/transpose.wgsl). */
import transposeWgsl from '../../kernels/transpose.wgsl';
import { InvalidArgumentError } from '../runtime/errors.js';
import { KernelFamily } from '../runtime/kernel.js';
import type { Tensor } from '../runtime/tensor.js';
import { engineOf, expectDType } from './util.js';
import { guardOp } from '../runtime/op-guard.js';

export const transposeKernel = new KernelFamily('transpose.wgsl', transposeWgsl);

export const transpose = guardOp('transpose', function transpose(x: Tensor): Tensor<'f32'> {
  const op = 'transpose';
  const engine = engineOf(op, x);
  expectDType(op, 'x', x, 'f32');
  if (x.rank < 2) throw new InvalidArgumentError(`${op}: x needs at least 2 dimensions, got ${x.describe()}`);
  if (x.slice) throw new InvalidArgumentError(`${op}: x is ${x.describe()}, a channel view; pass a plain tensor`);
  const [rows, cols] = x.shape.slice(-2) as [number, number];
  const batch = x.size / Math.max(1, rows * cols);
  const y = engine.empty([...x.shape.slice(0, -2), cols, rows], 'f32', op);
  if (x.size === 0) return y;
  if (batch > engine.limits.maxComputeWorkgroupsPerDimension) throw new InvalidArgumentError(`${op}: ${batch} matrices exceed one dispatch; reshape to fewer`);
  engine.dispatch({
    op,
    kernel: transposeKernel,
    entry: 'transpose',
    bindings: { x, y, params: { rows, cols } },
    workgroups: [Math.ceil(cols / 32), Math.ceil(rows / 32), batch],
    cost: { flops: 0, bytes: 8 * x.size },
  });
  return y;
});
