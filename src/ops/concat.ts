/**
 * Concatenation along channels (the innermost dimension). The cheap way is no copy at all:
 * `channelSlices(out, sizes)` hands each producer a channel view of one output tensor and
 * every activation-writing op takes it as `out`, so an Inception module's branches fill one
 * buffer. `concatChannels` is the general fallback: one copy kernel per input.
 */
import concatWgsl from '../../kernels/concat.wgsl';
import { InvalidArgumentError } from '../runtime/errors.js';
import { KernelFamily } from '../runtime/kernel.js';
import { formatShape, type Tensor } from '../runtime/tensor.js';
import { resolveOutput, type OutputOption } from './output.js';
import { engineOf, expectDType } from './util.js';
import { guardOp } from '../runtime/op-guard.js';

export const concatKernel = new KernelFamily('concat.wgsl', concatWgsl);
const WORKGROUP_SIZE = 256;

/** Channel views of `out` of the given widths, in order; they must add up to its channels. */
export const channelSlices = guardOp('channelSlices', function channelSlices(out: Tensor, widths: readonly number[]): Tensor[] {
  const total = widths.reduce((a, b) => a + b, 0);
  if (total !== out.channels) {
    throw new InvalidArgumentError(`channelSlices: widths [${widths.join(', ')}] add up to ${total} but ${out.describe()} has ${out.channels} channels`);
  }
  let offset = 0;
  return widths.map((c) => {
    const view = out.channelView(offset, c);
    offset += c;
    return view;
  });
});

/** The inputs side by side along the last dimension (a copy). All leading dimensions must match. */
export const concatChannels = guardOp('concatChannels', function concatChannels(inputs: readonly Tensor[], options: OutputOption = {}): Tensor<'f32'> {
  const op = 'concatChannels';
  if (inputs.length === 0) throw new InvalidArgumentError(`${op}: needs at least one input`);
  const engine = engineOf(op, ...inputs);
  const lead = inputs[0]!.shape.slice(0, -1);
  inputs.forEach((t, i) => {
    expectDType(op, `inputs[${i}]`, t, 'f32');
    if (t.rank < 1 || t.rank !== lead.length + 1 || t.shape.slice(0, -1).some((d, j) => d !== lead[j])) {
      throw new InvalidArgumentError(
        `${op}: inputs[${i}] ${t.describe()} does not match inputs[0]'s leading dimensions ${formatShape(lead)} (only the last dimension may differ)`,
      );
    }
    if (t.slice) throw new InvalidArgumentError(`${op}: inputs[${i}] ${t.describe()} is a channel view; copy it first`);
  });
  const total = inputs.reduce((s, t) => s + t.channels, 0);
  const { y, outOffset, outStride } = resolveOutput(engine, op, [...lead, total], options.out);
  let offset = outOffset;
  for (const x of inputs) {
    if (x.size > 0) {
      engine.dispatch({
        op,
        kernel: concatKernel,
        entry: 'copy_into_slice',
        bindings: { x, y, params: { n: x.size, channels: x.channels, outOffset: offset, outStride } },
        workgroups: engine.grid1d(x.size, WORKGROUP_SIZE),
        cost: { flops: 0, bytes: 8 * x.size },
        views: ['y'],
      });
    }
    offset += x.channels;
  }
  return y;
});

/** Channels offset..offset+count−1 of x's rows as a contiguous tensor (a copy): the backward
 * of a concat gives each branch its slice of the gradient this way. */
export const sliceChannels = guardOp('sliceChannels', function sliceChannels(x: Tensor, offset: number, count: number): Tensor<'f32'> {
  const op = 'sliceChannels';
  const engine = engineOf(op, x);
  expectDType(op, 'x', x, 'f32');
  if (x.rank < 1) throw new InvalidArgumentError(`${op}: x must have a channel dimension, got ${x.describe()}`);
  const view = x.channelView(offset, count); // checks the range, names what is wrong
  const { offset: o, stride } = view.channelLayout;
  view.dispose();
  const y = engine.empty([...x.shape.slice(0, -1), count], 'f32', op);
  if (y.size > 0) {
    engine.dispatch({
      op,
      kernel: concatKernel,
      entry: 'copy_from_slice',
      bindings: { wide: x, narrow: y, params: { n: y.size, channels: count, outOffset: o, outStride: stride } },
      views: ['wide'],
      workgroups: engine.grid1d(y.size, WORKGROUP_SIZE),
      cost: { flops: 0, bytes: 8 * y.size },
    });
  }
  return y;
});
