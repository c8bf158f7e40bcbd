/** MaxPool, AveragePool and GlobalAveragePool. */
import { checkDilations, outputSize, pair, resolvePads } from '../attributes.js';
import type { Converter } from '../context.js';
import { fmt } from '../tensor.js';

/** MaxPool and AveragePool, which share their window attributes. */
export const pool: Converter = (ctx) => {
  const isMax = ctx.opType === 'MaxPool';
  const a = ctx.attrs(
    isMax
      ? ['auto_pad', 'ceil_mode', 'dilations', 'kernel_shape', 'pads', 'storage_order', 'strides']
      : ['auto_pad', 'ceil_mode', 'count_include_pad', 'dilations', 'kernel_shape', 'pads', 'strides'],
  );
  const x = ctx.activation(0, 'X', ['nchw']);
  const [h, w, c] = x.shape as [number, number, number];
  checkDilations(a, ctx.fail);
  const ks = a.ints('kernel_shape');
  if (!ks) return ctx.fail('kernel_shape is required');
  const kernel = pair(a, 'kernel_shape', [1, 1], ctx.fail);
  const stride = pair(a, 'strides', [1, 1], ctx.fail);
  const padding = resolvePads(a, h, w, kernel, stride, ctx.fail);
  if (padding[0] >= kernel[0] || padding[1] >= kernel[0] || padding[2] >= kernel[1] || padding[3] >= kernel[1]) {
    ctx.fail(`pads ${fmt(padding)} (top, bottom, left, right) must each be smaller than the ${kernel[0]}×${kernel[1]} window`);
  }
  const countIncludePad = !isMax && a.int('count_include_pad', 0) !== 0;
  const ceil = a.int('ceil_mode', 0) !== 0;
  if (ceil) {
    if (a.string('auto_pad', 'NOTSET') !== 'NOTSET') ctx.fail('ceil_mode 1 together with auto_pad is not supported; use explicit pads');
    // ceil_mode adds a last, partial window at the bottom / right when it starts inside
    // the input (or its leading padding); it is padding the window ignores (max) or leaves
    // out of the count (average without count_include_pad).
    const extra = (size: number, k: number, s: number, before: number, after: number): number => {
      let n = Math.ceil((size + before + after - k) / s) + 1;
      if ((n - 1) * s >= size + before) n--;
      return Math.max(0, (n - 1) * s + k - (size + before + after));
    };
    const eh = extra(h, kernel[0], stride[0], padding[0], padding[1]);
    const ew = extra(w, kernel[1], stride[1], padding[2], padding[3]);
    if ((eh > 0 || ew > 0) && countIncludePad) {
      ctx.fail(
        `ceil_mode 1 with count_include_pad 1 gives partial windows at the edge a divisor the engine's pooling does not have (here the ${h}×${w} input leaves ${eh} row(s) and ${ew} column(s) of overhang); export with ceil_mode 0 or count_include_pad 0`,
      );
    }
    padding[1] += eh;
    padding[3] += ew;
  }
  const oh = outputSize(h, kernel[0], stride[0], padding[0], padding[1]);
  const ow = outputSize(w, kernel[1], stride[1], padding[2], padding[3]);
  if (oh < 1 || ow < 1) ctx.fail(`a ${kernel[0]}×${kernel[1]} window with strides ${fmt(stride)} and pads ${fmt(padding)} does not fit the ${h}×${w} input`);
  ctx.consumed(x);
  const base = { name: ctx.irName, inputs: [x.ir], output: ctx.out, kernel, stride, padding };
  ctx.emit(isMax ? { op: 'maxPool', ...base } : { op: 'avgPool', ...base, countIncludePad }, 'nchw', [oh, ow, c]);
};

/** An [N, C, 1, 1] input is already pooled: no IR node. */
export const globalAveragePool: Converter = (ctx) => {
  ctx.attrs([]);
  const x = ctx.activation(0, 'X', ['nchw', 'nc11']);
  if (x.layout === 'nc11') {
    ctx.alias(x);
    return;
  }
  ctx.consumed(x);
  ctx.emit({ op: 'globalAvgPool', name: ctx.irName, inputs: [x.ir], output: ctx.out }, 'nc11', [x.shape[2]!]);
};
