/**
 * Elementwise ops: add, mul, scaleShift (+ optional fused ReLU) and relu. The second operand
 * broadcasts when its shape is a suffix of the first's (a per-channel vector over NHWC data).
 */
import elementwiseWgsl from '../../kernels/elementwise.wgsl';
import { InvalidArgumentError } from '../runtime/errors.js';
import { KernelFamily } from '../runtime/kernel.js';
import type { Tensor } from '../runtime/tensor.js';
import { describeShapes, engineOf, expectDType, isSuffixShape } from './util.js';
import { resolveOutput, type OutputOption } from './output.js';
import type { Engine } from '../runtime/engine.js';
import { guardOp } from '../runtime/op-guard.js';

/** Output tensor, view uniforms and override for an elementwise result shaped like x (also relu_backward's, in elementwise-backward.ts). */
export function elementwiseOutput(
  engine: Engine,
  op: string,
  x: Tensor,
  out: Tensor | undefined,
): { y: Tensor<'f32'>; view: { channels: number; outOffset: number; outStride: number }; overrides: Record<string, number> } {
  const { y, outOffset, outStride } = resolveOutput(engine, op, x.shape, out);
  const channels = Math.max(1, x.channels);
  return { y, view: { channels, outOffset, outStride }, overrides: { OUT_VIEW: y.slice ? 1 : 0 } };
}

export const elementwiseKernel = new KernelFamily('elementwise.wgsl', elementwiseWgsl);
/** The kernel's WORKGROUP_SIZE override default: the grid is sized with it. */
export const ELEMENTWISE_WORKGROUP_SIZE = 256;

function binary(op: 'add' | 'mul', a: Tensor, b: Tensor, out?: Tensor): Tensor<'f32'> {
  const engine = engineOf(op, a, b);
  expectDType(op, 'a', a, 'f32');
  expectDType(op, 'b', b, 'f32');
  if (!isSuffixShape(a.shape, b.shape) || (b.size === 0 && a.size !== 0)) {
    throw new InvalidArgumentError(`${op}: shapes ${describeShapes(a, b)} do not broadcast (b's shape must equal a trailing part of a's)`);
  }
  const o = elementwiseOutput(engine, op, a, out);
  engine.dispatch({
    op,
    kernel: elementwiseKernel,
    entry: op,
    overrides: o.overrides,
    bindings: { a, b, out: o.y, params: { n: a.size, period: Math.max(1, b.size), ...o.view } },
    workgroups: engine.grid1d(a.size, ELEMENTWISE_WORKGROUP_SIZE),
    cost: { flops: a.size, bytes: 4 * (2 * a.size + b.size) },
    views: ['out'],
  });
  return o.y;
}

/** a + b, b broadcast over a's leading dimensions. */
export const add = guardOp('add', function add(a: Tensor, b: Tensor, options: OutputOption = {}): Tensor<'f32'> {
  return binary('add', a, b, options.out);
});

/** a · b elementwise, b broadcast over a's leading dimensions. */
export const mul = guardOp('mul', function mul(a: Tensor, b: Tensor, options: OutputOption = {}): Tensor<'f32'> {
  return binary('mul', a, b, options.out);
});

/**
 * x · scale[c] + shift[c] with c the innermost (channel) index, then max(·, 0) if `relu`.
 * BatchNorm folded for inference is exactly this.
 */
export const scaleShift = guardOp(
  'scaleShift',
  function scaleShift(x: Tensor, scale: Tensor, shift: Tensor, options: { relu?: boolean } & OutputOption = {}): Tensor<'f32'> {
    const op = options.relu ? 'scaleShiftRelu' : 'scaleShift';
    const engine = engineOf(op, x, scale, shift);
    for (const [name, t] of [
      ['x', x],
      ['scale', scale],
      ['shift', shift],
    ] as const)
      expectDType(op, name, t, 'f32');
    const channels = x.shape[x.shape.length - 1] ?? 1;
    if (scale.size !== channels || shift.size !== channels) {
      throw new InvalidArgumentError(`${op}: scale and shift need ${channels} elements (x's last dimension), got ${describeShapes(scale, shift)}`);
    }
    const o = elementwiseOutput(engine, op, x, options.out);
    engine.dispatch({
      op,
      kernel: elementwiseKernel,
      entry: 'scale_shift',
      overrides: { APPLY_RELU: options.relu ? 1 : 0, ...o.overrides },
      bindings: { a: x, scale, shift, out: o.y, params: { n: x.size, period: Math.max(1, channels), ...o.view } },
      workgroups: engine.grid1d(x.size, ELEMENTWISE_WORKGROUP_SIZE),
      cost: { flops: (options.relu ? 3 : 2) * x.size, bytes: 4 * (2 * x.size + 2 * channels) },
      views: ['out'],
    });
    return o.y;
  },
);

/** max(x, 0). */
export const relu = guardOp('relu', function relu(x: Tensor, options: OutputOption = {}): Tensor<'f32'> {
  const engine = engineOf('relu', x);
  expectDType('relu', 'x', x, 'f32');
  const o = elementwiseOutput(engine, 'relu', x, options.out);
  engine.dispatch({
    op: 'relu',
    kernel: elementwiseKernel,
    entry: 'relu',
    overrides: o.overrides,
    bindings: { a: x, out: o.y, params: { n: x.size, period: 1, ...o.view } },
    workgroups: engine.grid1d(x.size, ELEMENTWISE_WORKGROUP_SIZE),
    cost: { flops: x.size, bytes: 8 * x.size },
    views: ['out'],
  });
  return o.y;
});
