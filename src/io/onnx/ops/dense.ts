/** Gemm and MatMul: a dense layer, the weight as [in, out] with alpha, beta and transB applied. */
import { transpose2d } from '../../../models/inception-v3-weights.js';
import type { Converter } from '../context.js';
import { broadcastBias, fmt } from '../tensor.js';

export const gemm: Converter = (ctx) => {
  const isGemm = ctx.opType === 'Gemm';
  const a = ctx.attrs(isGemm ? ['alpha', 'beta', 'transA', 'transB'] : []);
  const x = ctx.activation(0, 'A', ['nf']);
  if (isGemm && a.int('transA', 0) !== 0) ctx.fail('transA 1 is not supported (the activations must be [N, K])');
  const transB = isGemm ? a.int('transB', 0) !== 0 : false;
  const alpha = isGemm ? a.float('alpha', 1) : 1;
  const beta = isGemm ? a.float('beta', 1) : 1;
  const b = ctx.constant(1, 'B');
  if (b.isInteger) ctx.fail(`the weight '${ctx.ins[1]}' must be floating point`);
  if (b.dims.length !== 2) ctx.fail(`the weight '${ctx.ins[1]}' must be 2-D, got ${fmt(b.dims)}`);
  const [rows, cols] = b.dims as [number, number];
  const [k, units] = transB ? [cols, rows] : [rows, cols];
  if (k !== x.shape[0])
    ctx.fail(`the weight '${ctx.ins[1]}' ${fmt(b.dims)}${transB ? ' (transB 1)' : ''} takes ${k} features, but the input has ${x.shape[0]}`);
  const data = transB ? transpose2d(b.values as Float32Array, rows, cols) : Float32Array.from(b.values as Float32Array);
  if (alpha !== 1) for (let i = 0; i < data.length; i++) data[i]! *= alpha;
  const weight = ctx.addWeight(ctx.ins[1]!, [k, units], data);
  let bias: string | undefined;
  if (isGemm && ctx.ins[2]) {
    const c = ctx.constant(2, 'C');
    const broadcast = broadcastBias(c, 2, units, ctx.fail, `C '${ctx.ins[2]}'`);
    if (beta !== 1) for (let i = 0; i < broadcast.length; i++) broadcast[i]! *= beta;
    bias = ctx.addWeight(ctx.ins[2], [units], broadcast);
  }
  ctx.consumed(x);
  ctx.emit({ op: 'dense', name: ctx.irName, inputs: [x.ir], output: ctx.out, weight, ...(bias ? { bias } : {}) }, 'nf', [units]);
};
