/**
 * The patterns the importer recognises across nodes, apart from the per-op converters
 * (converters.ts), and the pass that finds them before any node is converted.
 *
 * - A constant Add right after a Conv, Gemm/MatMul or BatchNormalization whose result nothing
 *   else reads folds into that node's bias (β): exporters write MatMul biases, and some conv
 *   biases, this way.
 * - torchvision's Inception-v3 exported with `transform_input=True` renormalises each input
 *   channel (Gather → Unsqueeze → Mul → Add, with Sub and Div too, then a Concat): the channels
 *   are tracked as ChannelOf values and the Concat becomes one per-channel affine node.
 *   Gather, Unsqueeze, Mul, Sub and Div are accepted only there.
 * - tf2onnx keeps a Keras model's NHWC input and transposes it to NCHW first: the engine is
 *   NHWC, so that input is taken as it is and the Transpose becomes a no-op.
 *
 * The pass only looks; every check and message stays with the converter that runs at the node,
 * so errors come in node order as they would without it.
 */
import type { ChannelOf, Converter, NodeContext } from './context.js';
import type { NodeProto, TensorProto } from './schema.js';
import { int64ToNumber } from './schema.js';
import { broadcastBias, fmt } from './tensor.js';

/** eps of the BatchNorm node that stands for a per-channel affine (see concatChannels). */
const AFFINE_EPS = 1e-5;

function isNhwcToNchw(node: NodeProto): boolean {
  const perm = node.attribute?.find((a) => a.name === 'perm')?.ints?.map((v) => int64ToNumber(v));
  return perm !== undefined && perm.length === 4 && perm.every((p, i) => p === [0, 3, 1, 2][i]);
}

/** Whether the graph input is NHWC: its one reader is a Transpose with perm [0, 3, 1, 2] (tf2onnx). */
export function detectNhwcInput(nodes: readonly NodeProto[], inputName: string): boolean {
  const readers = nodes.filter((n) => (n.input ?? []).includes(inputName));
  return readers.length === 1 && readers[0]!.op_type === 'Transpose' && isNhwcToNchw(readers[0]!);
}

/** Mul, Add, Sub or Div of a gathered channel and a scalar constant: folded into its affine. */
function channelArithmetic(ctx: NodeContext): void {
  const va = ctx.valueOf(0, 'A');
  const vb = ctx.valueOf(1, 'B');
  const chIndex = va.kind === 'channel' ? 0 : vb.kind === 'channel' ? 1 : -1;
  const v = chIndex === 0 ? va : chIndex === 1 ? vb : undefined;
  if (!v || v.kind !== 'channel' || (chIndex === 0 ? vb : va).kind !== 'constant') {
    return ctx.fail(
      `${ctx.opType} is supported only between one channel taken out with Gather and a scalar constant (PyTorch's transform_input)${ctx.opType === 'Add' ? ', or as a residual Add or a bias' : ''}`,
    );
  }
  const c = ctx.constant(1 - chIndex, chIndex === 0 ? 'B' : 'A');
  if (c.isInteger || c.values.length !== 1) ctx.fail(`the constant '${ctx.ins[1 - chIndex]}' must be one floating-point number, got ${fmt(c.dims)}`);
  const k = c.values[0]!;
  const constantFirst = chIndex === 1;
  if (ctx.opType === 'Div' && constantFirst) ctx.fail('dividing a constant by a channel is not supported');
  let { scale, shift } = v;
  switch (ctx.opType) {
    case 'Mul':
      scale *= k;
      shift *= k;
      break;
    case 'Div':
      if (k === 0) ctx.fail(`division by zero ('${ctx.ins[1]}' is 0)`);
      scale /= k;
      shift /= k;
      break;
    case 'Add':
      shift += k;
      break;
    case 'Sub':
      // x − k, or k − x.
      if (constantFirst) {
        scale = -scale;
        shift = k - shift;
      } else shift -= k;
      break;
  }
  ctx.define({ ...v, scale, shift });
}

/** A Concat of gathered channels: all of one source, in order, each unsqueezed. */
function concatChannels(ctx: NodeContext, axis: number): void {
  const vs = ctx.ins.map((_, i) => ctx.valueOf(i, `input ${i}`));
  const first = vs[0]!;
  if (first.kind !== 'channel')
    return ctx.fail(
      `input 0 '${ctx.ins[0]}' is not a gathered channel, but other inputs are; a Concat of gathered channels must take every channel of one value, in order`,
    );
  const source = first.source;
  const ok =
    (axis === 1 || axis === -3) &&
    vs.length === source.shape[2] &&
    vs.every((v, i) => v.kind === 'channel' && v.source.ir === source.ir && v.channel === i && !v.squeezed);
  if (!ok) {
    ctx.fail(
      `a Concat of gathered channels must take all ${source.shape[2]} channels of '${source.ir}' in order, each unsqueezed back to [N, 1, H, W], on axis 1; got ${vs.map((v) => (v.kind === 'channel' ? `channel ${v.channel}${v.squeezed ? ' (squeezed)' : ''}` : 'another value')).join(', ')} on axis ${axis}`,
    );
  }
  const channels = vs as ChannelOf[];
  const c = channels.length;
  ctx.emit(
    {
      op: 'batchNorm',
      name: ctx.irName,
      inputs: [source.ir],
      output: ctx.out,
      gamma: ctx.addWeight(
        `${ctx.irName}.scale`,
        [c],
        Float32Array.from(channels, (v) => v.scale),
      ),
      beta: ctx.addWeight(
        `${ctx.irName}.shift`,
        [c],
        Float32Array.from(channels, (v) => v.shift),
      ),
      mean: ctx.addWeight(`${ctx.irName}.zero`, [c], new Float32Array(c)),
      // The IR wants eps > 0: variance + eps is 1 to within float32 rounding (7e-9).
      variance: ctx.addWeight(`${ctx.irName}.one`, [c], new Float32Array(c).fill(1 - AFFINE_EPS)),
      eps: AFFINE_EPS,
    },
    'nchw',
    source.shape,
  );
}

const transpose: Converter = (ctx) => {
  ctx.attrs(['perm']);
  if (!(ctx.state.nhwcInput && ctx.ins[0] === ctx.state.inputName))
    ctx.fail(
      `Transpose is supported only as the NHWC → NCHW transpose (perm [0, 3, 1, 2]) of the graph input, as tf2onnx writes it; the engine does not transpose activations elsewhere`,
    );
  ctx.alias(ctx.activation(0, 'data'));
};

/** Mul, Sub, Div, and an Add with a gathered channel. */
const arithmetic: Converter = (ctx) => {
  ctx.attrs([]);
  channelArithmetic(ctx);
};

const gather: Converter = (ctx) => {
  const a = ctx.attrs(['axis']);
  const x = ctx.activation(0, 'data', ['nchw']);
  const axis = a.int('axis', 0);
  if (axis !== 1 && axis !== -3)
    ctx.fail(`axis ${axis} is not supported; only Gather on the channel axis (1), which takes one channel out (PyTorch's transform_input)`);
  const idx = ctx.constant(1, 'indices');
  if (!idx.isInteger || idx.values.length !== 1 || idx.dims.length > 1)
    ctx.fail(`the indices '${ctx.ins[1]}' must be one integer (a scalar or [1]), got ${fmt(idx.dims)}`);
  const channels = x.shape[2]!;
  const k = idx.values[0]! < 0 ? idx.values[0]! + channels : idx.values[0]!;
  if (!(k >= 0 && k < channels)) ctx.fail(`index ${idx.values[0]} is outside the ${channels} channels`);
  ctx.consumed(x);
  ctx.define({
    kind: 'channel',
    source: x,
    channel: k,
    squeezed: idx.dims.length === 0,
    scale: 1,
    shift: 0,
    origin: ctx.origin,
  });
};

const unsqueeze: Converter = (ctx) => {
  const a = ctx.attrs(['axes']);
  const v = ctx.valueOf(0, 'data');
  if (v.kind !== 'channel')
    return ctx.fail(`Unsqueeze is supported only on a channel taken out with Gather (PyTorch's transform_input), not on '${ctx.ins[0]}'`);
  const axes = ctx.state.opset >= 13 ? (ctx.ins[1] ? (ctx.constant(1, 'axes').values as number[]) : []) : (a.ints('axes') ?? []);
  if (!v.squeezed || axes.length !== 1 || (axes[0] !== 1 && axes[0] !== -3))
    ctx.fail(`only restoring the channel axis (axes [1]) of a gathered channel is supported, got axes ${fmt(axes)}`);
  ctx.define({ ...v, squeezed: false });
};

/** A Concat with a gathered channel among its inputs. */
const channelConcat: Converter = (ctx) => {
  const a = ctx.attrs(['axis']);
  if (!a.has('axis')) ctx.fail('axis is required');
  ctx.ins.forEach((_, i) => ctx.valueOf(i, `input ${i}`));
  concatChannels(ctx, a.int('axis', 1));
};

/** A constant added to an activation: folded into the bias of the node that wrote the activation. */
const biasAdd: Converter = (ctx) => {
  const s = ctx.state;
  ctx.attrs([]);
  const va = ctx.valueOf(0, 'A');
  ctx.valueOf(1, 'B');
  const actIndex = va.kind === 'activation' ? 0 : 1;
  const x = ctx.activation(actIndex, actIndex === 0 ? 'A' : 'B');
  const c = ctx.constant(1 - actIndex, actIndex === 0 ? 'B' : 'A');
  const producer = s.producers.get(x.ir);
  const foldable =
    producer &&
    (producer.op === 'conv2d' || producer.op === 'dense' || producer.op === 'batchNorm') &&
    !('relu' in producer && producer.relu) &&
    s.pendingReads.get(x.ir) === 1;
  if (!foldable) {
    ctx.fail(
      `adding the constant '${ctx.ins[1 - actIndex]}' is only supported right after a Conv, Gemm, MatMul or BatchNormalization whose result nothing else reads (it becomes that node's bias)`,
    );
  }
  const p = producer!;
  const channels = x.shape[x.shape.length - 1]!;
  const add = broadcastBias(c, x.layout === 'nf' ? 2 : 4, channels, ctx.fail, `the constant '${ctx.ins[1 - actIndex]}'`);
  const biasName = p.op === 'batchNorm' ? p.beta : p.op === 'conv2d' || p.op === 'dense' ? p.bias : undefined;
  const sum = new Float32Array(channels);
  if (biasName !== undefined) sum.set(s.weights.get(biasName)!.data);
  for (let i = 0; i < channels; i++) sum[i]! += add[i]!;
  const newBias = ctx.addWeight(ctx.ins[1 - actIndex]!, [channels], sum);
  if (p.op === 'batchNorm') p.beta = newBias;
  else if (p.op === 'conv2d' || p.op === 'dense') p.bias = newBias;
  if (
    biasName !== undefined &&
    ![...s.producers.values()].some(
      (n) =>
        n !== p &&
        (n.op === 'batchNorm' ? [n.gamma, n.beta, n.mean, n.variance] : n.op === 'conv2d' || n.op === 'dense' ? [n.weight, n.bias] : []).includes(biasName),
    )
  ) {
    s.weights.delete(biasName);
  }
  // The producer now writes the Add's result under the Add's name.
  s.producers.delete(p.output);
  s.pendingReads.delete(p.output);
  p.output = ctx.out;
  s.producers.set(ctx.out, p);
  s.pendingReads.set(ctx.out, s.readers.get(ctx.out) ?? 0);
  ctx.define({ kind: 'activation', ir: ctx.out, layout: x.layout, shape: x.shape });
};

/** Converters of the ops the importer accepts only as part of a pattern. */
export const PATTERN_ONLY_CONVERTERS = {
  Gather: gather,
  Unsqueeze: unsqueeze,
  Mul: arithmetic,
  Sub: arithmetic,
  Div: arithmetic,
  Transpose: transpose,
} as const satisfies Record<string, Converter>;

type Kind = 'activation' | 'constant' | 'channel';

/**
 * The Add and Concat nodes that are part of a pattern, by node index, with the converter that
 * takes them. It follows what kind of value each name holds after each node, as the converters
 * will define it, so it agrees with what a converter finds when its turn comes (any node before
 * that has been converted without error).
 */
export function findPatterns(nodes: readonly NodeProto[], initializers: ReadonlyMap<string, TensorProto>, inputName: string): Map<number, Converter> {
  const kinds = new Map<string, Kind>([[inputName, 'activation']]);
  const kindOf = (name: string | undefined): Kind | undefined => (name ? (kinds.get(name) ?? (initializers.has(name) ? 'constant' : undefined)) : undefined);
  const matches = new Map<number, Converter>();
  nodes.forEach((node, index) => {
    const op = node.op_type ?? '';
    const ins = (node.input ?? []).map(kindOf);
    let kind: Kind = 'activation';
    if (op === 'Constant') kind = 'constant';
    else if (Object.hasOwn(PATTERN_ONLY_CONVERTERS, op) && op !== 'Transpose') kind = 'channel';
    else if (op === 'Add') {
      const [a, b] = ins;
      if (a === 'channel' || b === 'channel') {
        matches.set(index, arithmetic);
        kind = 'channel';
      } else if ((a === 'activation' && b === 'constant') || (a === 'constant' && b === 'activation')) {
        matches.set(index, biasAdd);
      }
    } else if (op === 'Concat' && ins.includes('channel')) {
      matches.set(index, channelConcat);
    }
    const out = node.output?.[0];
    if (out) kinds.set(out, kind);
  });
  return matches;
}
