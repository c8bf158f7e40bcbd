/** Backward of the pooling ops (kernels/pool2d_backward.wgsl): gathers, one invocation per input element. */
import pool2dBackwardWgsl from '../../kernels/pool2d_backward.wgsl';
import type { Engine } from '../runtime/engine.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import { KernelFamily } from '../runtime/kernel.js';
import type { Tensor } from '../runtime/tensor.js';
import { resolvePoolGeometry, type AvgPool2dOptions, type PoolGeometry, type Pool2dOptions } from './pool2d.js';
import { engineOf, expectDType } from './util.js';

export const pool2dBackwardKernel = new KernelFamily('pool2d_backward.wgsl', pool2dBackwardWgsl);
const WORKGROUP_SIZE = 256;

function checkDy(op: string, dy: Tensor, g: PoolGeometry): void {
  expectDType(op, 'dy', dy, 'f32');
  const want = [g.n, g.oh, g.ow, g.c];
  if (dy.slice || dy.rank !== 4 || dy.shape.some((d, i) => d !== want[i])) {
    throw new InvalidArgumentError(`${op}: dy must be a plain f32 tensor of the forward output's shape [${want.join(', ')}], got ${dy.describe()}`);
  }
}

function dispatch(engine: Engine, op: string, entry: string, g: PoolGeometry, bindings: Record<string, Tensor>, overrides?: Record<string, number>): Tensor<'f32'> {
  const dx = engine.empty([g.n, g.h, g.w, g.c], 'f32', op);
  const inputs = dx.size;
  if (inputs === 0) return dx;
  const windowsPerInput = Math.ceil(g.kh / g.strideH) * Math.ceil(g.kw / g.strideW);
  engine.dispatch({
    op,
    kernel: pool2dBackwardKernel,
    entry,
    ...(overrides ? { overrides } : {}),
    bindings: {
      ...bindings,
      dx,
      params: { N: g.n, H: g.h, W: g.w, C: g.c, OH: g.oh, OW: g.ow, KH: g.kh, KW: g.kw, strideH: g.strideH, strideW: g.strideW, padTop: g.padTop, padLeft: g.padLeft, inputs },
    },
    workgroups: engine.grid1d(inputs, WORKGROUP_SIZE),
    cost: { flops: inputs * windowsPerInput, bytes: 4 * (2 * inputs + g.n * g.oh * g.ow * g.c) },
  });
  return dx;
}

/** dx of maxPool2d: each input gets the dy of the outputs whose argmax it is (`indices` from
 * maxPool2d(..., { returnIndices: true })). `options` are the forward's. */
export function maxPool2dBackward(dy: Tensor, indices: Tensor, xShape: readonly number[], options: Pool2dOptions): Tensor<'f32'> {
  const op = 'maxPool2dBackward';
  const engine = engineOf(op, dy, indices);
  const g = resolvePoolGeometry(op, xShape, options);
  checkDy(op, dy, g);
  expectDType(op, 'indices', indices, 'i32');
  if (indices.size !== dy.size) throw new InvalidArgumentError(`${op}: indices must have dy's shape, got ${indices.describe()}`);
  return dispatch(engine, op, 'max_pool_backward', g, { dy, indices });
}

/** dx of avgPool2d with the forward's options (countIncludePad included). */
export function avgPool2dBackward(dy: Tensor, xShape: readonly number[], options: AvgPool2dOptions): Tensor<'f32'> {
  const op = 'avgPool2dBackward';
  const engine = engineOf(op, dy);
  const g = resolvePoolGeometry(op, xShape, options);
  checkDy(op, dy, g);
  return dispatch(engine, op, 'avg_pool_backward', g, { dy }, { COUNT_INCLUDE_PAD: (options.countIncludePad ?? true) ? 1 : 0 });
}

/** dx of globalAvgPool: dy [N, 1, 1, C] spread evenly over H·W. */
export function globalAvgPoolBackward(dy: Tensor, xShape: readonly number[]): Tensor<'f32'> {
  const op = 'globalAvgPoolBackward';
  const engine = engineOf(op, dy);
  if (xShape.length !== 4) throw new InvalidArgumentError(`${op}: the input shape must be [N, H, W, C], got [${xShape.join(', ')}]`);
  const [n, h, w, c] = xShape as [number, number, number, number];
  const g: PoolGeometry = { n, h, w, c, kh: h, kw: w, strideH: 1, strideW: 1, padTop: 0, padBottom: 0, padLeft: 0, padRight: 0, oh: 1, ow: 1 };
  checkDy(op, dy, g);
  return dispatch(engine, op, 'global_avg_pool_backward', g, { dy });
}
