/** Constant, Identity, Relu, Add of two activations, Dropout and Softmax. */
import type { Converter } from '../context.js';
import { DataType, type TensorProto } from '../schema.js';
import { fmt } from '../tensor.js';

export const constant: Converter = (ctx) => {
  const a = ctx.attrs(['value', 'value_float', 'value_floats', 'value_int', 'value_ints', 'value_string', 'value_strings', 'sparse_value']);
  let tensor: TensorProto | undefined = a.tensor('value');
  if (!tensor && a.has('value_float')) tensor = { data_type: DataType.FLOAT, dims: [], float_data: [a.float('value_float', 0)] };
  if (!tensor && a.has('value_floats')) {
    const f = a.floats('value_floats')!;
    tensor = { data_type: DataType.FLOAT, dims: [f.length], float_data: f };
  }
  if (!tensor && a.has('value_int')) tensor = { data_type: DataType.INT64, dims: [], int64_data: [a.int('value_int', 0)] };
  if (!tensor && a.has('value_ints')) {
    const v = a.ints('value_ints')!;
    tensor = { data_type: DataType.INT64, dims: [v.length], int64_data: v };
  }
  if (!tensor) return ctx.fail('only numeric constants (value, value_float(s), value_int(s)) are supported');
  ctx.define({ kind: 'constant', tensor, origin: ctx.origin });
};

export const identity: Converter = (ctx) => {
  ctx.attrs([]);
  ctx.alias(ctx.activation(0, 'input'));
};

export const relu: Converter = (ctx) => {
  ctx.attrs([]);
  const x = ctx.activation(0, 'X');
  ctx.consumed(x);
  ctx.emit({ op: 'relu', name: ctx.irName, inputs: [x.ir], output: ctx.out }, x.layout, x.shape);
};

/** A residual Add; one with a constant or a gathered channel is a pattern (patterns.ts). */
export const add: Converter = (ctx) => {
  ctx.attrs([]);
  const va = ctx.valueOf(0, 'A');
  const vb = ctx.valueOf(1, 'B');
  if (va.kind === 'activation' && vb.kind === 'activation') {
    const x = ctx.activation(0, 'A');
    const y = ctx.activation(1, 'B');
    if (x.layout !== y.layout || x.shape.some((d, i) => d !== y.shape[i]) || x.shape.length !== y.shape.length) {
      ctx.fail(
        `adding '${ctx.ins[0]}' and '${ctx.ins[1]}' of different shapes (per example, NHWC: ${fmt(x.shape)} and ${fmt(y.shape)}) is not supported; only equal shapes`,
      );
    }
    ctx.consumed(x);
    ctx.consumed(y);
    ctx.emit({ op: 'add', name: ctx.irName, inputs: [x.ir, y.ir], output: ctx.out }, x.layout, x.shape);
    return;
  }
  if (va.kind === 'constant' && vb.kind === 'constant') return ctx.fail('both inputs are constants; constant folding is not supported');
  // A constant or a gathered channel among the inputs makes the node a pattern's, taken before this table.
  throw new Error(`${ctx.irName}: an Add with a ${va.kind} and a ${vb.kind} should have been taken by a pattern (src/io/onnx/patterns.ts)`);
};

export const dropout: Converter = (ctx) => {
  const a = ctx.attrs(['ratio', 'seed', 'is_test']);
  const x = ctx.activation(0, 'data');
  let rate = a.float('ratio', 0.5);
  if (ctx.ins[1]) {
    const r = ctx.constant(1, 'ratio');
    if (r.values.length !== 1) ctx.fail(`the ratio '${ctx.ins[1]}' must be a scalar`);
    rate = r.values[0]!;
  }
  if (ctx.ins[2]) {
    const t = ctx.constant(2, 'training_mode');
    if (t.values[0]) ctx.fail('training_mode true is not supported (inference only)');
  }
  ctx.consumed(x);
  ctx.emit({ op: 'dropout', name: ctx.irName, inputs: [x.ir], output: ctx.out, rate }, x.layout, x.shape);
};

export const softmax: Converter = (ctx) => {
  const a = ctx.attrs(['axis']);
  const x = ctx.activation(0, 'input', ['nf', 'nc11']);
  const rank = x.layout === 'nf' ? 2 : 4;
  const axis = a.int('axis', ctx.state.opset < 13 ? 1 : -1);
  const normalized = axis < 0 ? axis + rank : axis;
  // Before opset 13 the axis splits the shape into [batch, rest]; axis 1 of [N, C, 1, 1]
  // is then the softmax over C, as it is from opset 13 on, where only that one axis counts.
  if (normalized !== 1)
    ctx.fail(
      `axis ${axis} is not supported on ${rank === 2 ? '[N, F]' : '[N, C, 1, 1]'}; only the softmax over the features (axis 1${rank === 2 ? ' or -1' : ''})`,
    );
  ctx.consumed(x);
  ctx.emit({ op: 'softmax', name: ctx.irName, inputs: [x.ir], output: ctx.out }, x.layout, x.shape);
};
