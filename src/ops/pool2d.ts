/**
 * Pooling over NHWC activations (kernels/pool2d.wgsl): max and average with any window, stride
 * and padding, and global average pooling. Outputs may be written into a channel view (`out`).
 *
 * Average pooling has two conventions for windows that overlap the padding, and checkpoints
 * depend on which one they were trained with: `countIncludePad: true` divides by the window
 * size KH·KW (PyTorch's default, `count_include_pad=True`; torchvision's Inception-v3 uses it
 * in every branch_pool), `false` by the number of real input elements under the window
 * (Keras and TF-slim 'SAME' average pooling). The default is PyTorch's.
 */
import pool2dWgsl from '../../kernels/pool2d.wgsl';
import type { Engine } from '../runtime/engine.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import { KernelFamily } from '../runtime/kernel.js';
import type { Tensor } from '../runtime/tensor.js';
import { resolvePadding, resolveStride, type ConvGeometry, type Padding } from './conv2d-geometry.js';
import { resolveOutput, type OutputOption } from './output.js';
import { engineOf, expectDType } from './util.js';
import { guardOp } from '../runtime/op-guard.js';
import type { TensorLike } from '../runtime/nested-array.js';

export const pool2dKernel = new KernelFamily('pool2d.wgsl', pool2dWgsl);
const WORKGROUP_SIZE = 256;

export interface Pool2dOptions extends OutputOption {
  /** Window size, one for both axes or [KH, KW]. */
  kernel: number | readonly [number, number];
  /** Default: the window size (non-overlapping windows). */
  stride?: number | readonly [number, number];
  /** Default 'valid'; as for conv2d: 'same', a number, [alongH, alongW] or [top, bottom, left, right]. */
  padding?: Padding;
}

export interface MaxPool2dOptions extends Pool2dOptions {
  /** Also return, per output element, the flat index into x of the maximum (first on ties),
   * which the backward pass scatters the gradient to. */
  returnIndices?: boolean;
}

export interface AvgPool2dOptions extends Pool2dOptions {
  /** Divide by KH·KW (true, default: PyTorch) or by the real elements in the window (false: Keras, TF-slim). */
  countIncludePad?: boolean;
}

/** A conv's geometry with one channel count: pooling keeps the channels. */
export type PoolGeometry = Omit<ConvGeometry, 'cin' | 'cout'> & { c: number };

function poolGeometry(op: string, x: Tensor, options: Pool2dOptions): PoolGeometry {
  expectDType(op, 'x', x, 'f32');
  if (x.rank !== 4) throw new InvalidArgumentError(`${op}: x must be rank 4 NHWC [N, H, W, C], got ${x.describe()}`);
  if (x.slice) throw new InvalidArgumentError(`${op}: x is ${x.describe()}, a channel view; pass a plain tensor`);
  return resolvePoolGeometry(op, x.shape, options);
}

/** The pooling geometry of an input of shape [N, H, W, C] (checks as the forward ops do). */
export function resolvePoolGeometry(op: string, shape: readonly number[], options: Pool2dOptions): PoolGeometry {
  if (shape.length !== 4) throw new InvalidArgumentError(`${op}: the input shape must be [N, H, W, C], got [${shape.join(', ')}]`);
  const [n, h, w, c] = shape as [number, number, number, number];
  if (options === undefined || options.kernel === undefined) throw new InvalidArgumentError(`${op}: options.kernel (the window size) is required`);
  const k = typeof options.kernel === 'number' ? [options.kernel, options.kernel] : options.kernel;
  if (k.length !== 2 || !k.every((v) => Number.isInteger(v) && v >= 1)) {
    throw new InvalidArgumentError(`${op}: kernel must be a positive integer or [KH, KW] of positive integers, got ${JSON.stringify(options.kernel)}`);
  }
  const [kh, kw] = k as [number, number];
  const [strideH, strideW] = resolveStride(op, options.stride ?? [kh, kw]);
  const [padTop, padBottom, padLeft, padRight] = resolvePadding(op, options.padding ?? 'valid', h, w, kh, kw, strideH, strideW);
  if (kh > h + padTop + padBottom || kw > w + padLeft + padRight) {
    throw new InvalidArgumentError(
      `${op}: kernel ${kh}×${kw} is larger than the padded input ${h + padTop + padBottom}×${w + padLeft + padRight} (input ${h}×${w}, padding [${padTop}, ${padBottom}, ${padLeft}, ${padRight}])`,
    );
  }
  const oh = Math.floor((h + padTop + padBottom - kh) / strideH) + 1;
  const ow = Math.floor((w + padLeft + padRight - kw) / strideW) + 1;
  // A window with no input element has no maximum and no average over real elements. Along
  // an axis only the first window (all in the leading padding) or the last (all in the
  // trailing padding) can be one: every window between ends no earlier than the first and
  // starts no later than the last.
  const emptyAlong = (pad: number, k: number, stride: number, outs: number, size: number) => pad >= k || (outs - 1) * stride - pad >= size;
  if (emptyAlong(padTop, kh, strideH, oh, h) || emptyAlong(padLeft, kw, strideW, ow, w)) {
    throw new InvalidArgumentError(
      `${op}: padding [${padTop}, ${padBottom}, ${padLeft}, ${padRight}] leaves some ${kh}×${kw} windows (stride ${strideH}×${strideW}) with no input element (input ${h}×${w}); make the padding smaller than the window on each side`,
    );
  }
  return { n, h, w, c, kh, kw, strideH, strideW, padTop, padBottom, padLeft, padRight, oh, ow };
}

function params(g: PoolGeometry, outOffset: number, outStride: number): Record<string, number> {
  return {
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
    outputs: g.n * g.oh * g.ow * g.c,
    outOffset,
    outStride,
  };
}

function dispatchPool(
  engine: Engine,
  op: string,
  entry: string,
  x: Tensor,
  g: PoolGeometry,
  out: Tensor | undefined,
  extra: { indices?: Tensor; overrides?: Record<string, number> } = {},
): Tensor<'f32'> {
  const { y, outOffset, outStride } = resolveOutput(engine, op, [g.n, g.oh, g.ow, g.c], out);
  const outputs = g.n * g.oh * g.ow * g.c;
  if (outputs === 0) return y;
  // Four channels per invocation where everything lines up (argmax stays per element).
  const vec4 = !extra.indices && g.c % 4 === 0 && outOffset % 4 === 0 && outStride % 4 === 0;
  engine.dispatch({
    op,
    kernel: pool2dKernel,
    entry: vec4 ? `${entry}4` : entry,
    ...(extra.overrides ? { overrides: extra.overrides } : {}),
    bindings: vec4
      ? { x4: x, y4: y, params: params(g, outOffset, outStride) }
      : { x, y, params: params(g, outOffset, outStride), ...(extra.indices ? { indices: extra.indices } : {}) },
    views: ['y', 'y4'],
    workgroups: engine.grid1d(vec4 ? outputs / 4 : outputs, WORKGROUP_SIZE),
    // Each input element is read by about KH·KW / (strideH·strideW) windows; bytes count the
    // input once (what caches give) plus the outputs.
    cost: { flops: outputs * g.kh * g.kw, bytes: 4 * (x.size + outputs) + (extra.indices ? 4 * outputs : 0) },
  });
  return y;
}

/** Max pooling; padding never wins. With `returnIndices`, also the argmax of each output
 * element as a flat index into x (i32, shape of y). */
export function maxPool2d(x: Tensor | TensorLike, options: MaxPool2dOptions & { returnIndices: true }): { y: Tensor<'f32'>; indices: Tensor<'i32'> };
export function maxPool2d(x: Tensor | TensorLike, options: MaxPool2dOptions): { y: Tensor<'f32'>; indices?: Tensor<'i32'> };
export function maxPool2d(x: Tensor | TensorLike, options: MaxPool2dOptions): { y: Tensor<'f32'>; indices?: Tensor<'i32'> } {
  return guardedMaxPool2d(x, options);
}

// Overloads cannot be declared on a const, so the guard wraps the implementation.
const guardedMaxPool2d = guardOp('maxPool2d', function recordMaxPool2d(x: Tensor, options: MaxPool2dOptions): { y: Tensor<'f32'>; indices?: Tensor<'i32'> } {
  const op = 'maxPool2d';
  const engine = engineOf(op, x, ...(options?.out ? [options.out] : []));
  const g = poolGeometry(op, x, options);
  if (x.size >= 2 ** 31) throw new InvalidArgumentError(`${op}: x has ${x.size} elements; indices are 32-bit`);
  if (!options.returnIndices) return { y: dispatchPool(engine, op, 'max_pool', x, g, options.out) };
  const indices = engine.empty([g.n, g.oh, g.ow, g.c], 'i32', `${op} indices`);
  const y = dispatchPool(engine, op, 'max_pool_with_indices', x, g, options.out, { indices });
  return { y, indices };
});

/** Average pooling; see the module comment for `countIncludePad`. */
export const avgPool2d = guardOp('avgPool2d', function avgPool2d(x: Tensor, options: AvgPool2dOptions): Tensor<'f32'> {
  const op = 'avgPool2d';
  const engine = engineOf(op, x, ...(options?.out ? [options.out] : []));
  const g = poolGeometry(op, x, options);
  const include = options.countIncludePad ?? true;
  if (typeof include !== 'boolean') throw new InvalidArgumentError(`${op}: countIncludePad must be a boolean, got ${String(include)}`);
  return dispatchPool(engine, op, 'avg_pool', x, g, options.out, { overrides: { COUNT_INCLUDE_PAD: include ? 1 : 0 } });
});

/** The mean over H and W of each image and channel: [N, H, W, C] → [N, 1, 1, C]. */
export const globalAvgPool = guardOp('globalAvgPool', function globalAvgPool(x: Tensor, options: OutputOption = {}): Tensor<'f32'> {
  const op = 'globalAvgPool';
  const engine = engineOf(op, x, ...(options.out ? [options.out] : []));
  expectDType(op, 'x', x, 'f32');
  if (x.rank !== 4) throw new InvalidArgumentError(`${op}: x must be rank 4 NHWC [N, H, W, C], got ${x.describe()}`);
  if (x.slice) throw new InvalidArgumentError(`${op}: x is ${x.describe()}, a channel view; pass a plain tensor`);
  const [n, h, w, c] = x.shape as [number, number, number, number];
  if (h * w === 0) throw new InvalidArgumentError(`${op}: x has no pixels to average (${x.describe()})`);
  const { y, outOffset, outStride } = resolveOutput(engine, op, [n, 1, 1, c], options.out);
  if (n * c === 0) return y;
  engine.dispatch({
    op,
    kernel: pool2dKernel,
    entry: 'global_avg_pool',
    bindings: {
      x,
      y,
      params: { N: n, H: h, W: w, C: c, OH: 1, OW: 1, KH: h, KW: w, strideH: 1, strideW: 1, padTop: 0, padLeft: 0, outputs: n * c, outOffset, outStride },
    },
    views: ['y'],
    workgroups: engine.grid1d(n * c, WORKGROUP_SIZE),
    cost: { flops: x.size, bytes: 4 * (x.size + n * c) },
  });
  return y;
});
