/**
 * Backward of the pooling ops (kernels/pool2d-backward.wgsl): gathers, one invocation per input
 * element, so no atomics and the same result every run. dy may be a channel view (the forward
 * may write its output into one); dx is a plain tensor of x's shape.
 */
import pool2dBackwardWgsl from '../../kernels/pool2d-backward.wgsl';
import type { Engine } from '../runtime/engine.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import { KernelFamily } from '../runtime/kernel.js';
import type { Tensor } from '../runtime/tensor.js';
import { resolvePoolGeometry, type AvgPool2dOptions, type PoolGeometry, type Pool2dOptions } from './pool2d.js';
import { engineOf, expectDType } from './util.js';
import { guardOp } from '../runtime/op-guard.js';

export const pool2dBackwardKernel = new KernelFamily('pool2d-backward.wgsl', pool2dBackwardWgsl);
const WORKGROUP_SIZE = 256;

function checkDy(op: string, dy: Tensor, g: PoolGeometry): void {
  expectDType(op, 'dy', dy, 'f32');
  const want = [g.n, g.oh, g.ow, g.c];
  if (dy.rank !== 4 || dy.shape.some((d, i) => d !== want[i])) {
    throw new InvalidArgumentError(`${op}: dy must have the forward output's shape [${want.join(', ')}], got ${dy.describe()}`);
  }
}

function dispatch(
  engine: Engine,
  op: string,
  entry: string,
  g: PoolGeometry,
  dy: Tensor,
  indices: Tensor | null,
  overrides?: Record<string, number>,
): Tensor<'f32'> {
  const dx = engine.empty([g.n, g.h, g.w, g.c], 'f32', op);
  const inputs = dx.size;
  if (inputs === 0) return dx;
  const outputs = g.n * g.oh * g.ow * g.c;
  // Windows an input element lies in, at most (fewer at the borders).
  const windowsPerInput = Math.min(Math.ceil(g.kh / g.strideH), g.oh) * Math.min(Math.ceil(g.kw / g.strideW), g.ow);
  const { offset: dyOffset, stride: dyStride } = dy.channelLayout;
  engine.dispatch({
    op,
    kernel: pool2dBackwardKernel,
    entry,
    ...(overrides ? { overrides } : {}),
    bindings: {
      dy,
      ...(indices ? { indices } : {}),
      dx,
      params: {
        N: g.n,
        H: g.h,
        W: g.w,
        C: g.c,
        OH: g.oh,
        OW: g.ow,
        KH: g.kh,
        KW: g.kw,
        strideH: g.strideH,
        strideW: g.strideW,
        padTop: g.padTop,
        padLeft: g.padLeft,
        inputs,
        dyOffset,
        dyStride,
      },
    },
    views: ['dy'],
    workgroups: engine.grid1d(inputs, WORKGROUP_SIZE),
    // Max: an index compare and an add per visited window; average: a divide and an add.
    // Bytes: dx written once, dy (and indices) read about once each (caches absorb the overlap).
    cost: { flops: 2 * inputs * windowsPerInput, bytes: 4 * (inputs + outputs * (indices ? 2 : 1)) },
  });
  return dx;
}

/**
 * dx of maxPool2d: each input element gets the sum of dy over the outputs whose maximum it was.
 * Needs the forward's `indices` (maxPool2d(x, { ...options, returnIndices: true }): i32 of the
 * output's shape, flat indices into x), x's shape and the forward's options (window, stride,
 * padding: they say which windows can contain each input element).
 */
export const maxPool2dBackward = guardOp(
  'maxPool2dBackward',
  function maxPool2dBackward(dy: Tensor, indices: Tensor, xShape: readonly number[], options: Pool2dOptions): Tensor<'f32'> {
    const op = 'maxPool2dBackward';
    const engine = engineOf(op, dy, indices);
    const g = resolvePoolGeometry(op, xShape, options);
    checkDy(op, dy, g);
    expectDType(op, 'indices', indices, 'i32');
    if (indices.slice || indices.rank !== 4 || indices.shape.some((d, i) => d !== dy.shape[i])) {
      throw new InvalidArgumentError(
        `${op}: indices must be a plain i32 tensor of dy's shape [${dy.shape.join(', ')}] (maxPool2d's returnIndices), got ${indices.describe()}`,
      );
    }
    return dispatch(engine, op, 'max_pool_backward', g, dy, indices);
  },
);

/** dx of avgPool2d: each output's dy shared over its window's input elements, divided as the
 * forward divided. Needs only x's shape and the forward's options (countIncludePad included). */
export const avgPool2dBackward = guardOp(
  'avgPool2dBackward',
  function avgPool2dBackward(dy: Tensor, xShape: readonly number[], options: AvgPool2dOptions): Tensor<'f32'> {
    const op = 'avgPool2dBackward';
    const engine = engineOf(op, dy);
    const g = resolvePoolGeometry(op, xShape, options);
    const include = options.countIncludePad ?? true;
    if (typeof include !== 'boolean') throw new InvalidArgumentError(`${op}: countIncludePad must be a boolean, got ${String(include)}`);
    checkDy(op, dy, g);
    return dispatch(engine, op, 'avg_pool_backward', g, dy, null, { COUNT_INCLUDE_PAD: include ? 1 : 0 });
  },
);

/** dx of globalAvgPool: dy [N, 1, 1, C] spread evenly, dy/(H·W), over each image. Needs x's shape. */
export const globalAvgPoolBackward = guardOp('globalAvgPoolBackward', function globalAvgPoolBackward(dy: Tensor, xShape: readonly number[]): Tensor<'f32'> {
  const op = 'globalAvgPoolBackward';
  const engine = engineOf(op, dy);
  if (xShape.length !== 4 || !xShape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new InvalidArgumentError(`${op}: the input shape must be [N, H, W, C] of non-negative integers, got [${xShape.join(', ')}]`);
  }
  const [n, h, w, c] = xShape as [number, number, number, number];
  if (h * w === 0) throw new InvalidArgumentError(`${op}: the input shape [${xShape.join(', ')}] has no pixels to average over`);
  const g: PoolGeometry = { n, h, w, c, kh: h, kw: w, strideH: 1, strideW: 1, padTop: 0, padBottom: 0, padLeft: 0, padRight: 0, oh: 1, ow: 1 };
  checkDy(op, dy, g);
  return dispatch(engine, op, 'global_avg_pool_backward', g, dy, null);
});
