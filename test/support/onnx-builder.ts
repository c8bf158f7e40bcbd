/**
 * Small ONNX models written in tests, through the project's own schema (src/io/onnx/schema.ts):
 * onnxruntime loading them is what checks that schema against the spec. Also NCHW ↔ NHWC
 * helpers and a runner for onnxruntime-node, the independent reference.
 */
import * as ort from 'onnxruntime-node';
import {
  AttributeType,
  DataType,
  encodeModelProto,
  type AttributeProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from '../../src/io/onnx/schema.js';

/** An attribute value: an integer is INT, an array of integers INTS, a string STRING; floats
 * must say so ({ f } / { floats }), since 1 could be either. */
export type AttrValue = number | number[] | string | { f: number } | { floats: number[] } | { t: TensorProto };

export interface InitializerOptions {
  /** How the values are stored: raw little-endian bytes (default) or the typed repeated field. */
  storage?: 'raw' | 'typed';
  type?: 'float' | 'int64';
}

export function tensorProto(name: string, dims: number[], values: ArrayLike<number>, options: InitializerOptions = {}): TensorProto {
  const type = options.type ?? 'float';
  const storage = options.storage ?? 'raw';
  const base: TensorProto = { name, dims, data_type: type === 'float' ? DataType.FLOAT : DataType.INT64 };
  if (storage === 'typed') return type === 'float' ? { ...base, float_data: Array.from(values) } : { ...base, int64_data: Array.from(values) };
  const item = type === 'float' ? 4 : 8;
  const bytes = new Uint8Array(values.length * item);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) {
    if (type === 'float') view.setFloat32(i * 4, values[i]!, true);
    else view.setBigInt64(i * 8, BigInt(values[i]!), true);
  }
  return { ...base, raw_data: bytes };
}

function attribute(name: string, v: AttrValue): AttributeProto {
  if (typeof v === 'number') return { name, type: AttributeType.INT, i: v };
  if (typeof v === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: AttributeType.INTS, ints: v };
  if ('f' in v) return { name, type: AttributeType.FLOAT, f: v.f };
  if ('floats' in v) return { name, type: AttributeType.FLOATS, floats: v.floats };
  return { name, type: AttributeType.TENSOR, t: v.t };
}

function valueInfo(name: string, dims: (number | string)[], elemType: number = DataType.FLOAT): ValueInfoProto {
  return {
    name,
    type: { tensor_type: { elem_type: elemType, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dim_param: d } : { dim_value: d })) } } },
  };
}

export class OnnxBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  readonly inputs: ValueInfoProto[] = [];
  readonly outputs: ValueInfoProto[] = [];
  private count = 0;

  constructor(
    readonly opset = 13,
    readonly irVersion = 7,
  ) {}

  input(name: string, dims: (number | string)[], elemType: number = DataType.FLOAT): this {
    this.inputs.push(valueInfo(name, dims, elemType));
    return this;
  }

  /** Output dims are optional in ONNX; left empty, the runtime infers them. */
  output(name: string, dims?: (number | string)[]): this {
    this.outputs.push(dims ? valueInfo(name, dims) : { name, type: { tensor_type: { elem_type: DataType.FLOAT } } });
    return this;
  }

  initializer(name: string, dims: number[], values: ArrayLike<number>, options: InitializerOptions = {}): string {
    this.initializers.push(tensorProto(name, dims, values, options));
    return name;
  }

  /** Adds a node; returns its first output's name (default `<name>_out`). */
  node(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, options: { name?: string; outputs?: string[]; domain?: string } = {}): string {
    const name = options.name ?? `${opType.toLowerCase()}${this.count++}`;
    const outputs = options.outputs ?? [`${name}_out`];
    const list = Object.entries(attrs).map(([k, v]) => attribute(k, v));
    this.nodes.push({
      op_type: opType,
      name,
      input: inputs,
      output: outputs,
      ...(list.length ? { attribute: list } : {}),
      ...(options.domain ? { domain: options.domain } : {}),
    });
    return outputs[0]!;
  }

  model(): ModelProto {
    return {
      ir_version: this.irVersion,
      opset_import: [{ domain: '', version: this.opset }],
      producer_name: 'incept-gpu tests',
      graph: { name: 'test', node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
    };
  }

  build(): Uint8Array {
    return encodeModelProto(this.model());
  }
}

/** [N, C, H, W] → [N, H, W, C]. */
export function nchwToNhwc(data: Float32Array, [n, c, h, w]: readonly number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let b = 0; b < n!; b++)
    for (let k = 0; k < c!; k++)
      for (let y = 0; y < h!; y++) for (let x = 0; x < w!; x++) out[((b * h! + y) * w! + x) * c! + k] = data[((b * c! + k) * h! + y) * w! + x]!;
  return out;
}

/** [N, H, W, C] → [N, C, H, W]. */
export function nhwcToNchw(data: Float32Array, [n, h, w, c]: readonly number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let b = 0; b < n!; b++)
    for (let k = 0; k < c!; k++)
      for (let y = 0; y < h!; y++) for (let x = 0; x < w!; x++) out[((b * c! + k) * h! + y) * w! + x] = data[((b * h! + y) * w! + x) * c! + k]!;
  return out;
}

/** Runs a model's single input → single output on onnxruntime's CPU provider. */
export async function runOrt(bytes: Uint8Array, input: Float32Array, dims: number[]): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], graphOptimizationLevel: 'disabled' });
  try {
    const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', input, dims) };
    const result = await session.run(feeds);
    const out = result[session.outputNames[0]!]!;
    return { data: Float32Array.from(out.data as Float32Array), dims: out.dims };
  } finally {
    await session.release();
  }
}

// ------------------------------------------------------------------------------ test models

export type Rng = () => number;

/** Uniform in [lo, hi). */
export function uniform(rng: Rng, n: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rng();
  return out;
}

export interface OnnxCase {
  name: string;
  /** Per-example [C, H, W] of the input. */
  chw: [number, number, number];
  /** The file's input layout: NCHW (default) or NHWC (a tf2onnx model, transposed inside). */
  inputLayout?: 'nhwc';
  build(rng: Rng): Uint8Array;
}

const count = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

/** Adds a conv weight scaled like a He initialisation, so activations stay near 1. */
function convWeight(b: OnnxBuilder, rng: Rng, name: string, dims: [number, number, number, number], storage: 'raw' | 'typed' = 'raw'): string {
  const scale = Math.sqrt(3 / (dims[1] * dims[2] * dims[3]));
  return b.initializer(name, dims, uniform(rng, count(dims), -scale, scale), { storage });
}

function batchNorm(b: OnnxBuilder, rng: Rng, x: string, c: number, name: string, epsilon = 1e-3): string {
  const scale = b.initializer(`${name}.scale`, [c], uniform(rng, c, 0.5, 1.5));
  const bias = b.initializer(`${name}.bias`, [c], uniform(rng, c, -0.3, 0.3));
  const mean = b.initializer(`${name}.mean`, [c], uniform(rng, c, -0.3, 0.3), { storage: 'typed' });
  const variance = b.initializer(`${name}.var`, [c], uniform(rng, c, 0.5, 2));
  return b.node('BatchNormalization', [x, scale, bias, mean, variance], { epsilon: { f: epsilon } }, { name });
}

/** Graphs that cover every op and attribute form importOnnx supports, at odd sizes. */
export const ONNX_CASES: OnnxCase[] = [
  {
    name: 'tf2onnx: an NHWC input transposed to NCHW (perm [0, 3, 1, 2]) → Conv (bias) → Relu → MaxPool → GlobalAveragePool → Flatten → MatMul + Add → Softmax',
    chw: [3, 9, 7],
    inputLayout: 'nhwc',
    build(rng) {
      const b = new OnnxBuilder(13).input('input_1', ['batch', 9, 7, 3]);
      let y = b.node('Transpose', ['input_1'], { perm: [0, 3, 1, 2] }, { name: 'transpose_in' });
      y = b.node(
        'Conv',
        [y, convWeight(b, rng, 'conv.w', [5, 3, 3, 3]), b.initializer('conv.b', [5], uniform(rng, 5))],
        { kernel_shape: [3, 3], strides: [2, 1], pads: [1, 1, 1, 1] },
        { name: 'conv' },
      );
      y = b.node('Relu', [y]);
      y = b.node('MaxPool', [y], { kernel_shape: [2, 2], strides: [2, 2] });
      y = b.node('GlobalAveragePool', [y]);
      y = b.node('Flatten', [y]);
      y = b.node('MatMul', [y, b.initializer('fc.w', [5, 4], uniform(rng, 20))]);
      y = b.node('Add', [y, b.initializer('fc.b', [4], uniform(rng, 4))]);
      b.node('Softmax', [y], {}, { outputs: ['probs'] });
      return b.output('probs', ['batch', 4]).build();
    },
  },
  {
    name: "PyTorch's transform_input preamble (per channel Gather → Unsqueeze → Mul → Add, Concat; opset 13) → Conv → Relu → GlobalAveragePool → Flatten → Gemm",
    chw: [3, 6, 5],
    build(rng) {
      const b = new OnnxBuilder(13).input('x', ['batch', 3, 6, 5]);
      const axes = b.initializer('axes', [1], [1], { type: 'int64' });
      // torchvision: x_ch = unsqueeze(x[:, c], 1) * (std_c / 0.5) + (mean_c − 0.5) / 0.5
      const stds = [0.229, 0.224, 0.225];
      const means = [0.485, 0.456, 0.406];
      const chans = [0, 1, 2].map((c) => {
        const idx = b.initializer(`idx${c}`, [], [c], { type: 'int64' });
        let y = b.node('Gather', ['x', idx], { axis: 1 });
        y = b.node('Unsqueeze', [y, axes]);
        y = b.node('Mul', [y, b.initializer(`mul${c}`, [], [stds[c]! / 0.5])]);
        return b.node('Add', [y, b.initializer(`add${c}`, [], [(means[c]! - 0.5) / 0.5])]);
      });
      let y = b.node('Concat', chans, { axis: 1 }, { name: 'transform_input' });
      y = b.node('Conv', [y, convWeight(b, rng, 'conv.w', [4, 3, 3, 3])], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: 'conv' });
      y = b.node('Relu', [y]);
      y = b.node('GlobalAveragePool', [y]);
      y = b.node('Flatten', [y]);
      b.node(
        'Gemm',
        [y, b.initializer('fc.w', [2, 4], uniform(rng, 8)), b.initializer('fc.b', [2], uniform(rng, 2))],
        { transB: 1 },
        { name: 'fc', outputs: ['logits'] },
      );
      return b.output('logits', ['batch', 2]).build();
    },
  },
  {
    name: 'the same preamble written with Sub and Div, constants first, Unsqueeze axes as an attribute (opset 11), on a 2-channel input with a padded conv after',
    chw: [2, 5, 7],
    build(rng) {
      const b = new OnnxBuilder(11).input('x', ['batch', 2, 5, 7]);
      const chans = [0, 1].map((c) => {
        const idx = b.initializer(`idx${c}`, [], [c - 2], { type: 'int64' }); // negative index
        let y = b.node('Gather', ['x', idx], { axis: 1 });
        y = b.node('Unsqueeze', [y], { axes: [1] });
        y = b.node('Div', [y, b.initializer(`div${c}`, [1], [0.5 + c])]);
        y = b.node('Sub', [b.initializer(`sub${c}`, [], [0.25 * (c + 1)]), y]); // k − x
        return b.node('Mul', [b.initializer(`mul${c}`, [1, 1, 1, 1], [1.5 - c]), y]);
      });
      let y = b.node('Concat', chans, { axis: -3 });
      y = b.node('Conv', [y, convWeight(b, rng, 'conv.w', [3, 2, 3, 3])], { kernel_shape: [3, 3], pads: [2, 1, 0, 1] }, { name: 'conv' });
      y = b.node('GlobalAveragePool', [y]);
      b.node('Flatten', [y], {}, { outputs: ['out'] });
      return b.output('out', ['batch', 3]).build();
    },
  },
  {
    name: 'Conv (asymmetric pads, strides 2, bias) → BatchNormalization → Relu → Flatten of 3×5 (chw order) → Gemm (transB 1, alpha, beta)',
    chw: [3, 7, 9],
    build(rng) {
      const b = new OnnxBuilder(13).input('x', ['batch', 3, 7, 9]);
      const w = convWeight(b, rng, 'conv.w', [5, 3, 3, 3]);
      const bias = b.initializer('conv.b', [5], uniform(rng, 5), { storage: 'typed' });
      let y = b.node('Conv', ['x', w, bias], { kernel_shape: [3, 3], pads: [1, 0, 0, 2], strides: [2, 2] }, { name: 'conv' }); // [N, 5, 3, 5]
      y = batchNorm(b, rng, y, 5, 'bn');
      y = b.node('Relu', [y], {}, { name: 'relu' });
      y = b.node('Flatten', [y], { axis: 1 }, { name: 'flatten' });
      const fw = b.initializer('fc.w', [4, 75], uniform(rng, 300, -0.2, 0.2));
      const fb = b.initializer('fc.b', [4], uniform(rng, 4));
      b.node('Gemm', [y, fw, fb], { transB: 1, alpha: { f: 0.7 }, beta: { f: 1.3 } }, { name: 'fc', outputs: ['logits'] });
      return b.output('logits', ['batch', 4]).build();
    },
  },
  {
    name: 'Conv (auto_pad SAME_UPPER, strides 2×3) → MaxPool (asymmetric pads) → AveragePool (count_include_pad 1, then 0) → GlobalAveragePool → Flatten → Gemm (transB 0) → Softmax',
    chw: [4, 13, 10],
    build(rng) {
      const b = new OnnxBuilder(13).input('image', ['batch', 4, 13, 10]);
      const w = convWeight(b, rng, 'conv.w', [6, 4, 3, 2]);
      let y = b.node('Conv', ['image', w], { auto_pad: 'SAME_UPPER', strides: [2, 3] }, { name: 'conv' }); // [N, 6, 7, 4]
      y = b.node('Relu', [y]);
      y = b.node('MaxPool', [y], { kernel_shape: [3, 3], strides: [2, 1], pads: [0, 1, 1, 0] }, { name: 'maxpool' }); // [N, 6, 3, 3]
      y = b.node('AveragePool', [y], { kernel_shape: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 1 }, { name: 'avgpool_incl' }); // [N, 6, 4, 4]
      y = b.node('AveragePool', [y], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 0, 0, 1] }, { name: 'avgpool_excl' }); // [N, 6, 2, 2]
      y = b.node('GlobalAveragePool', [y], {}, { name: 'gap' });
      y = b.node('Flatten', [y], {}, { name: 'flatten' });
      const fw = b.initializer('fc.w', [6, 5], uniform(rng, 30, -2, 2));
      const fb = b.initializer('fc.b', [1, 5], uniform(rng, 5));
      y = b.node('Gemm', [y, fw, fb], {}, { name: 'fc' });
      b.node('Softmax', [y], {}, { name: 'softmax', outputs: ['probabilities'] });
      return b.output('probabilities', ['batch', 5]).build();
    },
  },
  {
    name: 'three-branch Concat, Conv + Add of a constant (folded), residual Add, Reshape [0, -1] of a pooled value, MatMul + Add, Dropout (ratio input)',
    chw: [6, 9, 8],
    build(rng) {
      const b = new OnnxBuilder(13).input('x', ['batch', 6, 9, 8]);
      let b1 = b.node('Conv', ['x', convWeight(b, rng, 'b1.w', [4, 6, 1, 1]), b.initializer('b1.b', [4], uniform(rng, 4))], {}, { name: 'branch1x1' });
      b1 = b.node('Relu', [b1]);
      let b2 = b.node('Conv', ['x', convWeight(b, rng, 'b2.w', [5, 6, 3, 3])], { pads: [1, 1, 1, 1] }, { name: 'branch3x3' });
      b2 = b.node('Add', [b2, b.initializer('b2.shift', [1, 5, 1, 1], uniform(rng, 5))], {}, { name: 'branch3x3_bias' });
      b2 = b.node('Relu', [b2]);
      const b3 = b.node('MaxPool', ['x'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: 'branch_pool' });
      let y = b.node('Concat', [b1, b2, b3], { axis: 1 }, { name: 'concat' }); // [N, 15, 9, 8]
      y = b.node('Conv', [y, convWeight(b, rng, 'proj.w', [6, 15, 1, 1]), b.initializer('proj.b', [6], uniform(rng, 6))], {}, { name: 'project' });
      y = b.node('Add', ['x', y], {}, { name: 'residual' });
      y = b.node('Relu', [y]);
      y = b.node('GlobalAveragePool', [y], {}, { name: 'gap' });
      const shape = b.node('Constant', [], { value: { t: tensorProto('', [2], [0, -1], { type: 'int64' }) } }, { name: 'shape' });
      y = b.node('Reshape', [y, shape], {}, { name: 'reshape' });
      y = b.node('MatMul', [y, b.initializer('fc.w', [6, 7], uniform(rng, 42, -1, 1))], {}, { name: 'fc' });
      y = b.node('Add', [y, b.initializer('fc.b', [7], uniform(rng, 7))], {}, { name: 'fc_bias' });
      b.node('Dropout', [y, b.initializer('ratio', [], [0.3])], {}, { name: 'dropout', outputs: ['out'] });
      return b.output('out', ['batch', 7]).build();
    },
  },
  {
    name: 'opset 11: Conv (SAME_LOWER, bias), Identity, Conv (VALID), MaxPool and AveragePool with ceil_mode, Flatten, Gemm, BatchNormalization on a flat value, Dropout (ratio attribute), Softmax (default axis)',
    chw: [3, 10, 11],
    build(rng) {
      const b = new OnnxBuilder(11, 6).input('x', ['batch', 3, 10, 11]);
      let y = b.node(
        'Conv',
        ['x', convWeight(b, rng, 'c1.w', [4, 3, 2, 3]), b.initializer('c1.b', [4], uniform(rng, 4))],
        { auto_pad: 'SAME_LOWER', strides: [2, 2] },
        { name: 'c1' },
      ); // [N, 4, 5, 6]
      y = b.node('Identity', [y], {}, { name: 'identity' });
      y = b.node('Conv', [y, convWeight(b, rng, 'c2.w', [5, 4, 2, 2])], { auto_pad: 'VALID' }, { name: 'c2' }); // [N, 5, 4, 5]
      y = b.node('MaxPool', [y], { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 }, { name: 'maxpool_ceil' }); // [N, 5, 2, 3]
      y = b.node('AveragePool', [y], { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 }, { name: 'avgpool_ceil' }); // [N, 5, 1, 2]
      y = b.node('Flatten', [y], {}, { name: 'flatten' });
      y = b.node('Gemm', [y, b.initializer('fc1.w', [6, 10], uniform(rng, 60)), b.initializer('fc1.b', [6], uniform(rng, 6))], { transB: 1 }, { name: 'fc1' });
      y = batchNorm(b, rng, y, 6, 'bn_flat', 1e-5);
      y = b.node('Relu', [y]);
      y = b.node('Dropout', [y], { ratio: { f: 0.25 } }, { name: 'dropout' });
      y = b.node('Gemm', [y, b.initializer('fc2.w', [6, 3], uniform(rng, 18)), b.initializer('fc2.b', [3], uniform(rng, 3))], {}, { name: 'fc2' });
      b.node('Softmax', [y], {}, { name: 'softmax', outputs: ['prob'] });
      return b.output('prob').build();
    },
  },
  {
    name: 'opset 7 (IR 3, initializers listed as inputs, float_data): Conv + Add [C, 1, 1], Reshape [-1, F] of a spatial value, MatMul + Add, Relu, MatMul + Add [1, U], Softmax',
    chw: [2, 3, 5],
    build(rng) {
      const b = new OnnxBuilder(7, 3).input('x', ['N', 2, 3, 5]);
      let y = b.node('Conv', ['x', convWeight(b, rng, 'c.w', [3, 2, 1, 1], 'typed')], {}, { name: 'conv' });
      y = b.node('Add', [b.initializer('c.shift', [3, 1, 1], uniform(rng, 3), { storage: 'typed' }), y], {}, { name: 'conv_shift' });
      y = b.node('Reshape', [y, b.initializer('flat', [2], [-1, 45], { type: 'int64', storage: 'typed' })], {}, { name: 'reshape' });
      y = b.node('MatMul', [y, b.initializer('fc1.w', [45, 8], uniform(rng, 360, -0.3, 0.3), { storage: 'typed' })], {}, { name: 'fc1' });
      y = b.node('Add', [y, b.initializer('fc1.b', [8], uniform(rng, 8), { storage: 'typed' })], {}, { name: 'fc1_bias' });
      y = b.node('Relu', [y]);
      y = b.node('MatMul', [y, b.initializer('fc2.w', [8, 4], uniform(rng, 32), { storage: 'typed' })], {}, { name: 'fc2' });
      y = b.node('Add', [y, b.initializer('fc2.b', [1, 4], uniform(rng, 4), { storage: 'typed' })], {}, { name: 'fc2_bias' });
      b.node('Softmax', [y], {}, { name: 'softmax', outputs: ['prob'] });
      // IR version 3: every initializer is also a graph input.
      for (const t of b.initializers) b.input(t.name!, (t.dims ?? []) as number[], t.data_type);
      return b.output('prob').build();
    },
  },
];
