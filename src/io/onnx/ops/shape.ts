/**
 * Flatten, Reshape (to [N, -1] only) and Concat. A flatten of an image-like value becomes the
 * IR's 'chw' flatten, which yields NCHW's order, so dense weights after it stay as they are.
 */
import type { Activation, Converter, NodeContext } from '../context.js';
import { fmt, product } from '../tensor.js';

function flattenTo(ctx: NodeContext, x: Activation): void {
  if (x.layout !== 'nchw') {
    ctx.alias(x, 'nf');
    return;
  }
  ctx.consumed(x);
  ctx.emit({ op: 'flatten', name: ctx.irName, inputs: [x.ir], output: ctx.out, order: 'chw' }, 'nf', [product(x.shape)]);
}

export const flatten: Converter = (ctx) => {
  const a = ctx.attrs(['axis']);
  const x = ctx.activation(0, 'input');
  const rank = x.layout === 'nf' ? 2 : 4;
  const axis = a.int('axis', 1);
  if ((axis < 0 ? axis + rank : axis) !== 1) ctx.fail(`axis ${axis} is not supported; only axis 1 (keep the batch, flatten the rest)`);
  flattenTo(ctx, x);
};

export const reshape: Converter = (ctx) => {
  const a = ctx.attrs(['allowzero']);
  const x = ctx.activation(0, 'data');
  const target = ctx.constant(1, 'shape');
  if (!target.isInteger) ctx.fail(`the shape '${ctx.ins[1]}' must be an int64 tensor`);
  const dims = target.values as number[];
  const features = product(x.shape);
  const allowZero = a.int('allowzero', 0) !== 0;
  const batchDim = (d: number): boolean => (d === 0 && !allowZero) || d === -1 || d >= 1;
  const ok = dims.length === 2 && batchDim(dims[0]!) && (dims[1] === features || (dims[1] === -1 && dims[0] !== -1));
  if (!ok)
    ctx.fail(
      `reshaping ${x.layout === 'nchw' ? `[N, ${x.shape[2]}, ${x.shape[0]}, ${x.shape[1]}]` : `[N, ${features}]`} to ${fmt(dims)} is not supported; only a flatten to [N, ${features}] (e.g. [0, -1], [-1, ${features}] or [N, -1])`,
    );
  flattenTo(ctx, x);
};

/** A Concat of activations; one of gathered channels is a pattern (patterns.ts). */
export const concat: Converter = (ctx) => {
  const a = ctx.attrs(['axis']);
  if (!a.has('axis')) ctx.fail('axis is required');
  if (ctx.ins.length < 1) ctx.fail('it has no inputs');
  // Every input is looked up before any is checked, so a missing one is reported first.
  ctx.ins.forEach((_, i) => ctx.valueOf(i, `input ${i}`));
  const xs = ctx.ins.map((_, i) => ctx.activation(i, `input ${i}`));
  const layout = xs[0]!.layout;
  if (xs.some((x) => x.layout !== layout)) ctx.fail(`its inputs mix image-like and flat values; they must all be [N, C, H, W] or all be flat`);
  const rank = layout === 'nf' ? 2 : 4;
  const axis = a.int('axis', 1);
  if ((axis < 0 ? axis + rank : axis) !== 1)
    ctx.fail(`axis ${axis} is not supported on ${rank}-D inputs; only the channel axis (1${rank === 4 ? ' or -3' : ' or -1'})`);
  const first = xs[0]!.shape;
  for (const [i, x] of xs.entries()) {
    if (x.shape.length !== first.length || x.shape.slice(0, -1).some((d, k) => d !== first[k])) {
      ctx.fail(
        `input ${i} '${ctx.ins[i]}' has ${x.shape[0]}×${x.shape[1]} pixels but input 0 has ${first[0]}×${first[1]}; Concat needs equal sizes on every axis but the channels`,
      );
    }
  }
  xs.forEach((x) => ctx.consumed(x));
  const channels = xs.reduce((s, x) => s + x.shape[x.shape.length - 1]!, 0);
  ctx.emit({ op: 'concat', name: ctx.irName, inputs: xs.map((x) => x.ir), output: ctx.out }, layout, [...first.slice(0, -1), channels]);
};
