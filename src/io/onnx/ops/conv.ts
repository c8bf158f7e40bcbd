/** Conv and BatchNormalization: the weights converted to the IR's layouts (OIHW → HWIO). */
import { oihwToHwio } from '../../../models/inception-v3-weights.js';
import { checkDilations, outputSize, pair, resolvePads } from '../attributes.js';
import type { Converter } from '../context.js';
import { fmt } from '../tensor.js';

export const conv: Converter = (ctx) => {
  const a = ctx.attrs(['auto_pad', 'dilations', 'group', 'kernel_shape', 'pads', 'strides']);
  const x = ctx.activation(0, 'X', ['nchw']);
  const [h, w, c] = x.shape as [number, number, number];
  const group = a.int('group', 1);
  if (group !== 1) ctx.fail(`group ${group} (a grouped or depthwise convolution) is not supported; only group 1`);
  checkDilations(a, ctx.fail);
  const wt = ctx.constant(1, 'W');
  if (wt.isInteger) ctx.fail(`the weight '${ctx.ins[1]}' must be floating point`);
  if (wt.dims.length !== 4) ctx.fail(`the weight '${ctx.ins[1]}' must be 4-D [M, C, kH, kW] (a 2-D convolution), got ${fmt(wt.dims)}`);
  const [m, cin, kh, kw] = wt.dims as [number, number, number, number];
  if (cin !== c) ctx.fail(`the weight '${ctx.ins[1]}' ${fmt(wt.dims)} expects ${cin} input channels, but the input has ${c}`);
  const kernel = pair(a, 'kernel_shape', [kh, kw], ctx.fail);
  if (kernel[0] !== kh || kernel[1] !== kw) ctx.fail(`kernel_shape ${fmt(kernel)} does not match the weight's ${kh}×${kw}`);
  const stride = pair(a, 'strides', [1, 1], ctx.fail);
  const padding = resolvePads(a, h, w, kernel, stride, ctx.fail);
  const oh = outputSize(h, kh, stride[0], padding[0], padding[1]);
  const ow = outputSize(w, kw, stride[1], padding[2], padding[3]);
  if (oh < 1 || ow < 1) ctx.fail(`a ${kh}×${kw} kernel with strides ${fmt(stride)} and pads ${fmt(padding)} does not fit the ${h}×${w} input`);
  const weight = ctx.addWeight(ctx.ins[1]!, [kh, kw, cin, m], oihwToHwio(wt.values as Float32Array, [m, cin, kh, kw]));
  const bias = ctx.ins[2] ? ctx.addWeight(ctx.ins[2], [m], ctx.floats(2, 'B', [m])) : undefined;
  ctx.consumed(x);
  ctx.emit({ op: 'conv2d', name: ctx.irName, inputs: [x.ir], output: ctx.out, weight, ...(bias ? { bias } : {}), stride, padding }, 'nchw', [oh, ow, m]);
};

export const batchNormalization: Converter = (ctx) => {
  const a = ctx.attrs(['epsilon', 'momentum', 'spatial', 'training_mode']);
  const x = ctx.activation(0, 'X');
  if (a.int('training_mode', 0) !== 0) ctx.fail('training_mode 1 is not supported; export the model in inference mode (model.eval())');
  if (a.int('spatial', 1) !== 1) ctx.fail('spatial 0 (statistics per element, not per channel) is not supported');
  const c = x.layout === 'nchw' ? x.shape[2]! : x.shape[0]!;
  const gamma = ctx.addWeight(ctx.ins[1] ?? '', [c], ctx.floats(1, 'scale', [c]));
  const beta = ctx.addWeight(ctx.ins[2] ?? '', [c], ctx.floats(2, 'B', [c]));
  const mean = ctx.addWeight(ctx.ins[3] ?? '', [c], ctx.floats(3, 'mean', [c]));
  const variance = ctx.addWeight(ctx.ins[4] ?? '', [c], ctx.floats(4, 'var', [c]));
  const eps = a.float('epsilon', 1e-5);
  if (!(eps > 0)) ctx.fail(`epsilon must be positive, got ${eps}`);
  ctx.consumed(x);
  ctx.emit({ op: 'batchNorm', name: ctx.irName, inputs: [x.ir], output: ctx.out, gamma, beta, mean, variance, eps }, x.layout, x.shape);
};
