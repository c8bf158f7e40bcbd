/**
 * ONNX → the engine's graph IR (src/graph/ir.ts), for image classifiers built from the ops the
 * engine runs: Conv, BatchNormalization, Relu, MaxPool, AveragePool, GlobalAveragePool, Concat,
 * Flatten, Reshape (to [N, -1]), Gemm, MatMul, Add, Dropout, Softmax, Identity and Constant, in
 * the default domain at opsets 7–21.
 *
 * ONNX computes in NCHW; the IR in NHWC with per-example shapes. The importer converts once:
 * the input [N, C, H, W] becomes [H, W, C], conv weights OIHW → HWIO, Gemm/MatMul weights to
 * [in, out] (with alpha and transB applied), and a Flatten or Reshape of an image-like value
 * becomes the IR's 'chw' flatten, which yields NCHW's order, so dense weights stay as they are.
 * GlobalAveragePool's [N, C, 1, 1] is the IR's flat [C]; flattening it again is a no-op.
 * An Add of a constant right after a Conv, Gemm/MatMul or BatchNormalization (whose result
 * nothing else reads) is folded into that node's bias (β), which is how exporters write biases
 * of MatMul and how some write conv biases.
 *
 * torchvision's Inception-v3 exported with `transform_input=True` starts by renormalising each
 * input channel (Gather → Unsqueeze → Mul → Add, then Concat); that pattern, with Sub and Div
 * too, becomes one per-channel affine node. Gather, Unsqueeze, Mul, Sub and Div are accepted
 * only there.
 *
 * A Keras model converted by tf2onnx keeps its NHWC input and transposes it to NCHW first; that
 * input is read as NHWC (the engine's own layout) and the Transpose is dropped.
 *
 * Errors are GraphErrors (OnnxImportError) that start with the file's name and name the node
 * by index, name and op_type.
 */
import { GraphError, inferShapes, weightValueProblem, type Graph, type GraphNode, type GraphPadding, type GraphWeight } from '../../graph/ir.js';
import { f16BitsToNumber } from '../safetensors.js';
import { oihwToHwio, transpose2d } from '../../models/inception-v3-weights.js';
import {
  AttributeType,
  ATTRIBUTE_TYPE_NAMES,
  DataLocation,
  DataType,
  DATA_TYPE_NAMES,
  decodeModelProto,
  int64ToNumber,
  type AttributeProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from './schema.js';

/** The opsets of the default domain whose semantics the importer implements. */
export const ONNX_MIN_OPSET = 7;
export const ONNX_MAX_OPSET = 21;

export const ONNX_IMPORT_OPS = [
  'Conv',
  'BatchNormalization',
  'Relu',
  'MaxPool',
  'AveragePool',
  'GlobalAveragePool',
  'Concat',
  'Flatten',
  'Reshape',
  'Gemm',
  'MatMul',
  'Add',
  'Dropout',
  'Softmax',
  'Identity',
  'Constant',
  // Only on single input channels: PyTorch's Inception-v3 `transform_input` preamble.
  'Gather',
  'Unsqueeze',
  'Mul',
  'Sub',
  'Div',
  // Only as the NHWC → NCHW transpose of the graph input (tf2onnx's converted Keras models).
  'Transpose',
] as const;

/** An ONNX file the importer cannot read or does not support; the message says which node and why. */
export class OnnxImportError extends GraphError {
  constructor(
    readonly source: string,
    readonly problem: string,
  ) {
    super(`${source}: ${problem}`);
  }
}

/** eps of the BatchNorm node that stands for a per-channel affine (see ChannelOf). */
const AFFINE_EPS = 1e-5;

const fmt = (shape: readonly (number | string)[]): string => `[${shape.join(', ')}]`;
const product = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * How an activation looks on both sides. 'nchw': ONNX [N, C, H, W], IR [H, W, C]. 'nc11':
 * ONNX [N, C, 1, 1] (a global pool's output), IR [C]. 'nf': ONNX [N, F], IR [F].
 */
type Layout = 'nchw' | 'nc11' | 'nf';

interface Activation {
  kind: 'activation';
  /** The IR value holding it. */
  ir: string;
  layout: Layout;
  /** Per-example IR shape. */
  shape: number[];
}

interface Constant {
  kind: 'constant';
  tensor: TensorProto;
  /** Where it came from, for messages: "initializer 'w'" or "Constant node #2 'c'". */
  origin: string;
}

/**
 * One channel of an image-like activation, taken out with Gather and rescaled by scalar
 * constants: torchvision's Inception-v3 with `transform_input=True` exports its input
 * renormalisation this way (per channel: Gather → Unsqueeze → Mul → Add, then a Concat). The
 * only way back to an activation is a Concat of every channel of the source, in order, which
 * becomes one per-channel affine node (a BatchNorm with mean 0 and variance + eps = 1).
 */
interface ChannelOf {
  kind: 'channel';
  source: Activation;
  channel: number;
  /** Gather drops the channel axis; Unsqueeze on axis 1 restores it. */
  squeezed: boolean;
  scale: number;
  shift: number;
  origin: string;
}

type Value = Activation | Constant | ChannelOf;

interface DecodedTensor {
  dims: number[];
  /** Floating-point tensors as float32; integer tensors as numbers. */
  values: Float32Array | number[];
  isInteger: boolean;
}

const FLOAT_TYPES: readonly number[] = [DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16];
const INT_TYPES: readonly number[] = [
  DataType.INT64,
  DataType.INT32,
  DataType.INT16,
  DataType.INT8,
  DataType.UINT8,
  DataType.UINT16,
  DataType.UINT32,
  DataType.BOOL,
];
const RAW_ITEM_BYTES: Record<number, number> = {
  [DataType.FLOAT]: 4,
  [DataType.DOUBLE]: 8,
  [DataType.FLOAT16]: 2,
  [DataType.BFLOAT16]: 2,
  [DataType.INT64]: 8,
  [DataType.INT32]: 4,
  [DataType.INT16]: 2,
  [DataType.INT8]: 1,
  [DataType.UINT8]: 1,
  [DataType.UINT16]: 2,
  [DataType.UINT32]: 4,
  [DataType.BOOL]: 1,
};

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A TensorProto's values. `fail` gets the problem; `what` names the tensor. */
function decodeTensor(t: TensorProto, what: string, fail: (problem: string) => never): DecodedTensor {
  const dataType = t.data_type ?? 0;
  const typeName = DATA_TYPE_NAMES[dataType] ?? `data_type ${dataType}`;
  if ((t.data_location ?? 0) === DataLocation.EXTERNAL || (t.external_data?.length ?? 0) > 0) {
    const location = t.external_data?.find((e) => e.key === 'location')?.value;
    fail(
      `${what} keeps its data in an external file${location ? ` ('${location}')` : ''}, which importOnnx does not read; save the model with every tensor inside the .onnx file (onnx.save_model(model, path, save_as_external_data=False))`,
    );
  }
  const dims = (t.dims ?? []).map(int64ToNumber);
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) fail(`${what} has invalid dims ${fmt(dims)}`);
  const count = product(dims);
  const isFloat = FLOAT_TYPES.includes(dataType);
  if (!isFloat && !INT_TYPES.includes(dataType)) fail(`${what} has type ${typeName}; the importer reads FLOAT, DOUBLE, FLOAT16, BFLOAT16 and integer tensors`);
  let values: Float32Array | number[];
  const raw = t.raw_data;
  if (raw && raw.length > 0) {
    const item = RAW_ITEM_BYTES[dataType]!;
    if (raw.length !== count * item) fail(`${what} (${typeName} ${fmt(dims)}) needs ${count * item} bytes of raw_data, found ${raw.length}`);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    // ONNX's raw_data is little-endian whatever the host.
    const read: (i: number) => number =
      dataType === DataType.FLOAT
        ? (i) => view.getFloat32(i * 4, true)
        : dataType === DataType.DOUBLE
          ? (i) => view.getFloat64(i * 8, true)
          : dataType === DataType.FLOAT16
            ? (i) => f16BitsToNumber(view.getUint16(i * 2, true))
            : dataType === DataType.BFLOAT16
              ? (i) => new Float32Array(new Uint32Array([view.getUint16(i * 2, true) << 16]).buffer)[0]!
              : dataType === DataType.INT64
                ? (i) => Number(view.getBigInt64(i * 8, true))
                : dataType === DataType.INT32
                  ? (i) => view.getInt32(i * 4, true)
                  : dataType === DataType.INT16
                    ? (i) => view.getInt16(i * 2, true)
                    : dataType === DataType.INT8
                      ? (i) => view.getInt8(i)
                      : dataType === DataType.UINT16
                        ? (i) => view.getUint16(i * 2, true)
                        : dataType === DataType.UINT32
                          ? (i) => view.getUint32(i * 4, true)
                          : (i) => view.getUint8(i);
    if (dataType === DataType.FLOAT && HOST_LITTLE_ENDIAN) {
      // A copy: aligned, and independent of the file's bytes (Node's Buffer.slice would share them).
      const copy = new Uint8Array(raw.byteLength);
      copy.set(raw);
      values = new Float32Array(copy.buffer);
    } else if (isFloat) {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = read(i);
      values = out;
    } else {
      values = Array.from({ length: count }, (_, i) => read(i));
    }
  } else {
    const typed: ArrayLike<number> | undefined =
      dataType === DataType.FLOAT
        ? t.float_data
        : dataType === DataType.DOUBLE
          ? t.double_data
          : dataType === DataType.INT64
            ? t.int64_data?.map(int64ToNumber)
            : dataType === DataType.UINT32
              ? t.uint64_data?.map(int64ToNumber)
              : t.int32_data; // INT32, INT16, INT8, UINT8, UINT16, BOOL, and FLOAT16 / BFLOAT16 as bits
    const n = typed?.length ?? 0;
    if (n !== count)
      fail(
        `${what} (${typeName} ${fmt(dims)}) needs ${count} values, found ${n}${n === 0 ? ' (no data: an initializer stored elsewhere, or an empty tensor)' : ''}`,
      );
    if (isFloat) {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        const v = typed![i]!;
        out[i] =
          dataType === DataType.FLOAT16
            ? f16BitsToNumber(v & 0xffff)
            : dataType === DataType.BFLOAT16
              ? new Float32Array(new Uint32Array([(v & 0xffff) << 16]).buffer)[0]!
              : v;
      }
      values = out;
    } else {
      values = Array.from(typed!);
    }
  }
  return { dims, values, isInteger: !isFloat };
}

/** Attribute access for one node, with the types checked and unknown names refused. */
class Attributes {
  private readonly byName = new Map<string, AttributeProto>();

  constructor(
    node: NodeProto,
    allowed: readonly string[],
    private readonly fail: (problem: string) => never,
  ) {
    for (const a of node.attribute ?? []) {
      const name = a.name ?? '';
      if (a.ref_attr_name) fail(`attribute '${name}' refers to a function attribute ('${a.ref_attr_name}'), which only functions may do`);
      if (!allowed.includes(name))
        fail(`attribute '${name}' is not supported for this op${allowed.length > 0 ? ` (supported: ${allowed.join(', ')})` : ' (it takes none)'}`);
      this.byName.set(name, a);
    }
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  private get(name: string, type: number): AttributeProto | undefined {
    const a = this.byName.get(name);
    if (!a) return undefined;
    // Files from IR version 1 have no type field; their value is read as the op expects it.
    const actual = a.type ?? AttributeType.UNDEFINED;
    if (actual !== AttributeType.UNDEFINED && actual !== type)
      this.fail(`attribute '${name}' must be ${ATTRIBUTE_TYPE_NAMES[type]}, got ${ATTRIBUTE_TYPE_NAMES[actual] ?? `type ${actual}`}`);
    return a;
  }

  int(name: string, fallback: number): number {
    const a = this.get(name, AttributeType.INT);
    return a ? int64ToNumber(a.i) : fallback;
  }

  float(name: string, fallback: number): number {
    const a = this.get(name, AttributeType.FLOAT);
    return a ? (a.f ?? 0) : fallback;
  }

  ints(name: string): number[] | undefined {
    const a = this.get(name, AttributeType.INTS);
    return a ? (a.ints ?? []).map(int64ToNumber) : undefined;
  }

  floats(name: string): number[] | undefined {
    const a = this.get(name, AttributeType.FLOATS);
    return a ? [...(a.floats ?? [])] : undefined;
  }

  string(name: string, fallback: string): string {
    const a = this.get(name, AttributeType.STRING);
    return a ? new TextDecoder().decode(a.s ?? new Uint8Array()) : fallback;
  }

  tensor(name: string): TensorProto | undefined {
    return this.get(name, AttributeType.TENSOR)?.t;
  }
}

/** The opset the model imports for the default domain. */
function defaultOpset(model: ModelProto, fail: (p: string) => never): number {
  const entry = (model.opset_import ?? []).find((o) => (o.domain ?? '') === '' || o.domain === 'ai.onnx');
  if (!entry)
    fail(
      `the model imports no opset of the default ONNX domain (opset_import: ${JSON.stringify((model.opset_import ?? []).map((o) => `${o.domain ?? ''}:${int64ToNumber(o.version)}`))})`,
    );
  const version = int64ToNumber(entry.version);
  if (version < ONNX_MIN_OPSET || version > ONNX_MAX_OPSET)
    fail(`opset ${version} of the default domain is not supported; importOnnx reads opsets ${ONNX_MIN_OPSET}–${ONNX_MAX_OPSET}`);
  return version;
}

/** Resolves auto_pad / pads to the IR's [top, bottom, left, right]. */
function resolvePads(attrs: Attributes, h: number, w: number, kernel: [number, number], stride: [number, number], fail: (p: string) => never): GraphPadding {
  const autoPad = attrs.string('auto_pad', 'NOTSET');
  const pads = attrs.ints('pads');
  switch (autoPad) {
    case 'NOTSET': {
      if (pads === undefined) return [0, 0, 0, 0];
      if (pads.length !== 4 || pads.some((p) => !Number.isInteger(p) || p < 0))
        fail(`pads must be 4 non-negative integers [top, left, bottom, right], got ${fmt(pads)}`);
      const [top, left, bottom, right] = pads as [number, number, number, number];
      return [top, bottom, left, right];
    }
    case 'VALID':
      return [0, 0, 0, 0];
    case 'SAME_UPPER':
    case 'SAME_LOWER': {
      const side = (size: number, k: number, s: number): [number, number] => {
        const total = Math.max(0, (Math.ceil(size / s) - 1) * s + k - size);
        const small = Math.floor(total / 2);
        return autoPad === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
      };
      const [top, bottom] = side(h, kernel[0], stride[0]);
      const [left, right] = side(w, kernel[1], stride[1]);
      return [top, bottom, left, right];
    }
    default:
      return fail(`auto_pad '${autoPad}' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER`);
  }
}

function pair(attrs: Attributes, name: string, fallback: [number, number], fail: (p: string) => never): [number, number] {
  const v = attrs.ints(name);
  if (v === undefined) return fallback;
  if (v.length !== 2 || v.some((x) => !Number.isInteger(x) || x < 1)) fail(`${name} must be two positive integers for a 2-D op, got ${fmt(v)}`);
  return [v[0]!, v[1]!];
}

function checkDilations(attrs: Attributes, fail: (p: string) => never): void {
  const d = attrs.ints('dilations');
  if (d !== undefined && d.some((x) => x !== 1)) fail(`dilations ${fmt(d)} are not supported; only dilation 1`);
}

const outputSize = (size: number, k: number, s: number, before: number, after: number): number => Math.floor((size + before + after - k) / s) + 1;

/**
 * Reads an ONNX model (the bytes of a .onnx file) into the engine's graph IR. `source` names
 * the file in errors. Throws OnnxImportError for a file that is not ONNX or is truncated, a
 * graph with several inputs or outputs, an op or attribute value the engine does not run,
 * external tensor data, inputs that nothing provides (a missing initializer), and weights
 * holding NaN or infinities or a negative BatchNorm variance (naming the initializer).
 */
export function importOnnx(bytes: Uint8Array, source = 'model.onnx'): Graph {
  const fail = (problem: string): never => {
    throw new OnnxImportError(source, problem);
  };
  if (!(bytes instanceof Uint8Array)) fail('expected the file contents as a Uint8Array');
  if (bytes.length === 0) fail('the file is empty');
  let model: ModelProto;
  try {
    model = decodeModelProto(bytes);
  } catch (e) {
    return fail(
      `not a readable ONNX model: the protobuf decoder stopped with "${(e as Error).message}" (${bytes.length} bytes); the file is truncated, damaged or not ONNX`,
    );
  }
  const g = model.graph;
  if (!g || (g.node?.length ?? 0) === 0 || int64ToNumber(model.ir_version) <= 0) {
    fail(
      `not an ONNX model: ${!g ? 'no graph' : (g.node?.length ?? 0) === 0 ? 'the graph has no nodes' : 'no ir_version'} (${bytes.length} bytes; is this a .onnx file, and complete?)`,
    );
  }
  const graph = g!;
  const opset = defaultOpset(model, fail);

  const initializers = new Map<string, TensorProto>();
  for (const t of graph.initializer ?? []) initializers.set(t.name ?? '', t);

  // ---------------------------------------------------------------- the one input and output
  const realInputs = (graph.input ?? []).filter((v) => !initializers.has(v.name ?? ''));
  if (realInputs.length !== 1) {
    fail(
      `the graph has ${realInputs.length} inputs (${realInputs.map((v) => `'${v.name}'`).join(', ') || 'none'}); importOnnx takes graphs with exactly one input, an NCHW image batch`,
    );
  }
  const outputs = graph.output ?? [];
  if (outputs.length !== 1)
    fail(
      `the graph has ${outputs.length} outputs (${outputs.map((v) => `'${v.name}'`).join(', ') || 'none'}); importOnnx takes graphs with exactly one output`,
    );
  const input = realInputs[0]!;
  const inputName = input.name ?? '';
  // tf2onnx keeps a Keras model's NHWC input and transposes it to NCHW first thing: the engine
  // is NHWC, so that input is taken as it is and the Transpose becomes a no-op.
  const inputReaders = (graph.node ?? []).filter((n) => (n.input ?? []).includes(inputName));
  const nhwcInput = inputReaders.length === 1 && inputReaders[0]!.op_type === 'Transpose' && isNhwcToNchw(inputReaders[0]!);
  const inputShape = imageInputShape(input, nhwcInput ? 'nhwc' : 'nchw', fail);
  const outputName = outputs[0]!.name ?? '';

  // How often each value is read, to know when an Add may fold into its producer.
  const readers = new Map<string, number>();
  for (const n of graph.node ?? []) for (const i of n.input ?? []) if (i) readers.set(i, (readers.get(i) ?? 0) + 1);
  readers.set(outputName, (readers.get(outputName) ?? 0) + 1);

  const values = new Map<string, Value>();
  values.set(inputName, { kind: 'activation', ir: inputName, layout: 'nchw', shape: [inputShape[1], inputShape[2], inputShape[0]] });
  /** Reads left of each IR value (over all the ONNX names it goes by). */
  const pendingReads = new Map<string, number>([[inputName, readers.get(inputName) ?? 0]]);
  const producers = new Map<string, GraphNode>();
  const nodes: GraphNode[] = [];
  const weights = new Map<string, GraphWeight>();
  const nodeNames = new Set<string>();

  const addWeight = (preferred: string, shape: number[], data: Float32Array): string => {
    let name = preferred || 'weight';
    for (let k = 1; weights.has(name); k++) name = `${preferred}_${k}`;
    weights.set(name, { shape, data });
    return name;
  };

  (graph.node ?? []).forEach((node, index) => {
    const opType = node.op_type ?? '';
    const at = `node #${index} '${node.name ?? ''}' (${opType})`;
    const nodeFail = (problem: string): never => fail(`${at}: ${problem}`);
    const domain = node.domain ?? '';
    if (domain !== '' && domain !== 'ai.onnx')
      nodeFail(`op '${opType}' of domain '${domain}' is not supported; importOnnx runs ops of the default ONNX domain only`);
    if (!(ONNX_IMPORT_OPS as readonly string[]).includes(opType)) nodeFail(`op '${opType}' is not supported; supported ops: ${ONNX_IMPORT_OPS.join(', ')}`);
    const ins = node.input ?? [];
    const outs = node.output ?? [];
    const out = outs[0] ?? '';
    if (!out) nodeFail('it has no output');
    for (const extra of outs.slice(1)) {
      if (extra && (readers.get(extra) ?? 0) > 0)
        nodeFail(
          `its output '${extra}' (output ${outs.indexOf(extra)}) is read, but only the first output is supported (a training-mode output, a mask or indices)`,
        );
    }
    let irName = node.name || `${opType}_${index}`;
    if (nodeNames.has(irName)) irName = `${irName}_${index}`;
    nodeNames.add(irName);

    const valueOf = (i: number, what: string): Value => {
      const name = ins[i];
      if (!name) return nodeFail(`input ${i} (${what}) is missing`);
      const v = values.get(name);
      if (v) return v;
      const init = initializers.get(name);
      if (init) {
        const c: Constant = { kind: 'constant', tensor: init, origin: `initializer '${name}'` };
        values.set(name, c);
        return c;
      }
      return nodeFail(
        `input ${i} (${what}) '${name}' is not the graph input, an initializer or the output of an earlier node (a missing initializer, or nodes out of order)`,
      );
    };
    const activation = (i: number, what: string, layouts: readonly Layout[] = ['nchw', 'nc11', 'nf']): Activation => {
      const v = valueOf(i, what);
      if (v.kind === 'channel')
        return nodeFail(
          `input ${i} (${what}) '${ins[i]}' is channel ${v.channel} of '${v.source.ir}' taken apart (${v.origin}); a channel taken out with Gather may only be rescaled by scalar constants (Mul, Add, Sub, Div), unsqueezed and concatenated back with all the others in order (PyTorch's transform_input)`,
        );
      if (v.kind !== 'activation') return nodeFail(`input ${i} (${what}) '${ins[i]}' is a constant (${v.origin}); it must be computed from the graph input`);
      if (!layouts.includes(v.layout)) {
        const onnxShape =
          v.layout === 'nchw' ? `[N, ${v.shape[2]}, ${v.shape[0]}, ${v.shape[1]}]` : v.layout === 'nc11' ? `[N, ${v.shape[0]}, 1, 1]` : `[N, ${v.shape[0]}]`;
        nodeFail(
          `input ${i} (${what}) '${ins[i]}' has shape ${onnxShape}; this op needs ${layouts.map((l) => (l === 'nchw' ? 'an [N, C, H, W] image' : l === 'nc11' ? 'an [N, C, 1, 1] pooled value' : 'an [N, F] matrix')).join(' or ')}`,
        );
      }
      return v as Activation;
    };
    const constant = (i: number, what: string): DecodedTensor => {
      const v = valueOf(i, what);
      if (v.kind !== 'constant')
        return nodeFail(`input ${i} (${what}) '${ins[i]}' must be a constant (an initializer or a Constant node), but it is computed from the graph input`);
      return decodeTensor(v.tensor, `input ${i} (${what}), ${v.origin},`, nodeFail);
    };
    const floats = (i: number, what: string, shape?: number[]): Float32Array => {
      const t = constant(i, what);
      if (t.isInteger) nodeFail(`input ${i} (${what}) '${ins[i]}' must be floating point, got an integer tensor`);
      if (shape && (t.dims.length !== shape.length || t.dims.some((d, k) => d !== shape[k])))
        nodeFail(`input ${i} (${what}) '${ins[i]}' must have shape ${fmt(shape)}, got ${fmt(t.dims)}`);
      return t.values as Float32Array;
    };
    const define = (v: Value): void => {
      values.set(out, v);
    };
    const emit = (n: GraphNode, layout: Layout, shape: number[]): void => {
      nodes.push(n);
      producers.set(n.output, n);
      pendingReads.set(n.output, readers.get(out) ?? 0);
      define({ kind: 'activation', ir: n.output, layout, shape });
    };
    /** The output is the input under another name: no IR node. */
    const alias = (a: Activation, layout: Layout = a.layout): void => {
      pendingReads.set(a.ir, (pendingReads.get(a.ir) ?? 0) - 1 + (readers.get(out) ?? 0));
      define({ kind: 'activation', ir: a.ir, layout, shape: a.shape });
    };
    const consumed = (a: Activation): void => {
      pendingReads.set(a.ir, (pendingReads.get(a.ir) ?? 0) - 1);
    };
    const attrs = (allowed: readonly string[]): Attributes => new Attributes(node, allowed, nodeFail);
    /** Mul, Add, Sub or Div of a gathered channel and a scalar constant: folded into its affine. */
    const channelArithmetic = (): void => {
      const va = valueOf(0, 'A');
      const vb = valueOf(1, 'B');
      const chIndex = va.kind === 'channel' ? 0 : vb.kind === 'channel' ? 1 : -1;
      const v = chIndex === 0 ? va : chIndex === 1 ? vb : undefined;
      if (!v || v.kind !== 'channel' || (chIndex === 0 ? vb : va).kind !== 'constant') {
        return nodeFail(
          `${opType} is supported only between one channel taken out with Gather and a scalar constant (PyTorch's transform_input)${opType === 'Add' ? ', or as a residual Add or a bias' : ''}`,
        );
      }
      const c = constant(1 - chIndex, chIndex === 0 ? 'B' : 'A');
      if (c.isInteger || c.values.length !== 1) nodeFail(`the constant '${ins[1 - chIndex]}' must be one floating-point number, got ${fmt(c.dims)}`);
      const k = c.values[0]!;
      const constantFirst = chIndex === 1;
      if (opType === 'Div' && constantFirst) nodeFail('dividing a constant by a channel is not supported');
      let { scale, shift } = v;
      switch (opType) {
        case 'Mul':
          scale *= k;
          shift *= k;
          break;
        case 'Div':
          if (k === 0) nodeFail(`division by zero ('${ins[1]}' is 0)`);
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
      define({ ...v, scale, shift });
    };
    /** A Concat of gathered channels: all of one source, in order, each unsqueezed. */
    const concatChannels = (axis: number): void => {
      const vs = ins.map((_, i) => valueOf(i, `input ${i}`));
      const first = vs[0]!;
      if (first.kind !== 'channel')
        return nodeFail(
          `input 0 '${ins[0]}' is not a gathered channel, but other inputs are; a Concat of gathered channels must take every channel of one value, in order`,
        );
      const source = first.source;
      const ok =
        (axis === 1 || axis === -3) &&
        vs.length === source.shape[2] &&
        vs.every((v, i) => v.kind === 'channel' && v.source.ir === source.ir && v.channel === i && !v.squeezed);
      if (!ok) {
        nodeFail(
          `a Concat of gathered channels must take all ${source.shape[2]} channels of '${source.ir}' in order, each unsqueezed back to [N, 1, H, W], on axis 1; got ${vs.map((v) => (v.kind === 'channel' ? `channel ${v.channel}${v.squeezed ? ' (squeezed)' : ''}` : 'another value')).join(', ')} on axis ${axis}`,
        );
      }
      const channels = vs as ChannelOf[];
      const c = channels.length;
      emit(
        {
          op: 'batchNorm',
          name: irName,
          inputs: [source.ir],
          output: out,
          gamma: addWeight(
            `${irName}.scale`,
            [c],
            Float32Array.from(channels, (v) => v.scale),
          ),
          beta: addWeight(
            `${irName}.shift`,
            [c],
            Float32Array.from(channels, (v) => v.shift),
          ),
          mean: addWeight(`${irName}.zero`, [c], new Float32Array(c)),
          // The IR wants eps > 0: variance + eps is 1 to within float32 rounding (7e-9).
          variance: addWeight(`${irName}.one`, [c], new Float32Array(c).fill(1 - AFFINE_EPS)),
          eps: AFFINE_EPS,
        },
        'nchw',
        source.shape,
      );
    };

    switch (opType) {
      case 'Constant': {
        const a = attrs(['value', 'value_float', 'value_floats', 'value_int', 'value_ints', 'value_string', 'value_strings', 'sparse_value']);
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
        if (!tensor) return nodeFail('only numeric constants (value, value_float(s), value_int(s)) are supported');
        define({ kind: 'constant', tensor, origin: `Constant node #${index} '${node.name ?? ''}'` });
        return;
      }

      case 'Identity':
        attrs([]);
        alias(activation(0, 'input'));
        return;

      case 'Transpose': {
        attrs(['perm']);
        if (!(nhwcInput && ins[0] === inputName))
          nodeFail(
            `Transpose is supported only as the NHWC → NCHW transpose (perm [0, 3, 1, 2]) of the graph input, as tf2onnx writes it; the engine does not transpose activations elsewhere`,
          );
        alias(activation(0, 'data'));
        return;
      }

      case 'Relu': {
        attrs([]);
        const x = activation(0, 'X');
        consumed(x);
        emit({ op: 'relu', name: irName, inputs: [x.ir], output: out }, x.layout, x.shape);
        return;
      }

      case 'Conv': {
        const a = attrs(['auto_pad', 'dilations', 'group', 'kernel_shape', 'pads', 'strides']);
        const x = activation(0, 'X', ['nchw']);
        const [h, w, c] = x.shape as [number, number, number];
        const group = a.int('group', 1);
        if (group !== 1) nodeFail(`group ${group} (a grouped or depthwise convolution) is not supported; only group 1`);
        checkDilations(a, nodeFail);
        const wt = constant(1, 'W');
        if (wt.isInteger) nodeFail(`the weight '${ins[1]}' must be floating point`);
        if (wt.dims.length !== 4) nodeFail(`the weight '${ins[1]}' must be 4-D [M, C, kH, kW] (a 2-D convolution), got ${fmt(wt.dims)}`);
        const [m, cin, kh, kw] = wt.dims as [number, number, number, number];
        if (cin !== c) nodeFail(`the weight '${ins[1]}' ${fmt(wt.dims)} expects ${cin} input channels, but the input has ${c}`);
        const kernel = pair(a, 'kernel_shape', [kh, kw], nodeFail);
        if (kernel[0] !== kh || kernel[1] !== kw) nodeFail(`kernel_shape ${fmt(kernel)} does not match the weight's ${kh}×${kw}`);
        const stride = pair(a, 'strides', [1, 1], nodeFail);
        const padding = resolvePads(a, h, w, kernel, stride, nodeFail);
        const oh = outputSize(h, kh, stride[0], padding[0], padding[1]);
        const ow = outputSize(w, kw, stride[1], padding[2], padding[3]);
        if (oh < 1 || ow < 1) nodeFail(`a ${kh}×${kw} kernel with strides ${fmt(stride)} and pads ${fmt(padding)} does not fit the ${h}×${w} input`);
        const weight = addWeight(ins[1]!, [kh, kw, cin, m], oihwToHwio(wt.values as Float32Array, [m, cin, kh, kw]));
        const bias = ins[2] ? addWeight(ins[2], [m], floats(2, 'B', [m])) : undefined;
        consumed(x);
        emit({ op: 'conv2d', name: irName, inputs: [x.ir], output: out, weight, ...(bias ? { bias } : {}), stride, padding }, 'nchw', [oh, ow, m]);
        return;
      }

      case 'BatchNormalization': {
        const a = attrs(['epsilon', 'momentum', 'spatial', 'training_mode']);
        const x = activation(0, 'X');
        if (a.int('training_mode', 0) !== 0) nodeFail('training_mode 1 is not supported; export the model in inference mode (model.eval())');
        if (a.int('spatial', 1) !== 1) nodeFail('spatial 0 (statistics per element, not per channel) is not supported');
        const c = x.layout === 'nchw' ? x.shape[2]! : x.shape[0]!;
        const gamma = addWeight(ins[1] ?? '', [c], floats(1, 'scale', [c]));
        const beta = addWeight(ins[2] ?? '', [c], floats(2, 'B', [c]));
        const mean = addWeight(ins[3] ?? '', [c], floats(3, 'mean', [c]));
        const variance = addWeight(ins[4] ?? '', [c], floats(4, 'var', [c]));
        const eps = a.float('epsilon', 1e-5);
        if (!(eps > 0)) nodeFail(`epsilon must be positive, got ${eps}`);
        consumed(x);
        emit({ op: 'batchNorm', name: irName, inputs: [x.ir], output: out, gamma, beta, mean, variance, eps }, x.layout, x.shape);
        return;
      }

      case 'MaxPool':
      case 'AveragePool': {
        const isMax = opType === 'MaxPool';
        const a = attrs(
          isMax
            ? ['auto_pad', 'ceil_mode', 'dilations', 'kernel_shape', 'pads', 'storage_order', 'strides']
            : ['auto_pad', 'ceil_mode', 'count_include_pad', 'dilations', 'kernel_shape', 'pads', 'strides'],
        );
        const x = activation(0, 'X', ['nchw']);
        const [h, w, c] = x.shape as [number, number, number];
        checkDilations(a, nodeFail);
        const ks = a.ints('kernel_shape');
        if (!ks) return nodeFail('kernel_shape is required');
        const kernel = pair(a, 'kernel_shape', [1, 1], nodeFail);
        const stride = pair(a, 'strides', [1, 1], nodeFail);
        const padding = resolvePads(a, h, w, kernel, stride, nodeFail);
        if (padding[0] >= kernel[0] || padding[1] >= kernel[0] || padding[2] >= kernel[1] || padding[3] >= kernel[1]) {
          nodeFail(`pads ${fmt(padding)} (top, bottom, left, right) must each be smaller than the ${kernel[0]}×${kernel[1]} window`);
        }
        const countIncludePad = !isMax && a.int('count_include_pad', 0) !== 0;
        const ceil = a.int('ceil_mode', 0) !== 0;
        if (ceil) {
          if (a.string('auto_pad', 'NOTSET') !== 'NOTSET') nodeFail('ceil_mode 1 together with auto_pad is not supported; use explicit pads');
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
            nodeFail(
              `ceil_mode 1 with count_include_pad 1 gives partial windows at the edge a divisor the engine's pooling does not have (here the ${h}×${w} input leaves ${eh} row(s) and ${ew} column(s) of overhang); export with ceil_mode 0 or count_include_pad 0`,
            );
          }
          padding[1] += eh;
          padding[3] += ew;
        }
        const oh = outputSize(h, kernel[0], stride[0], padding[0], padding[1]);
        const ow = outputSize(w, kernel[1], stride[1], padding[2], padding[3]);
        if (oh < 1 || ow < 1)
          nodeFail(`a ${kernel[0]}×${kernel[1]} window with strides ${fmt(stride)} and pads ${fmt(padding)} does not fit the ${h}×${w} input`);
        consumed(x);
        const base = { name: irName, inputs: [x.ir], output: out, kernel, stride, padding };
        emit(isMax ? { op: 'maxPool', ...base } : { op: 'avgPool', ...base, countIncludePad }, 'nchw', [oh, ow, c]);
        return;
      }

      case 'GlobalAveragePool': {
        attrs([]);
        const x = activation(0, 'X', ['nchw', 'nc11']);
        if (x.layout === 'nc11') {
          alias(x);
          return;
        }
        consumed(x);
        emit({ op: 'globalAvgPool', name: irName, inputs: [x.ir], output: out }, 'nc11', [x.shape[2]!]);
        return;
      }

      case 'Flatten': {
        const a = attrs(['axis']);
        const x = activation(0, 'input');
        const rank = x.layout === 'nf' ? 2 : 4;
        const axis = a.int('axis', 1);
        if ((axis < 0 ? axis + rank : axis) !== 1) nodeFail(`axis ${axis} is not supported; only axis 1 (keep the batch, flatten the rest)`);
        flattenTo(x);
        return;
      }

      case 'Reshape': {
        const a = attrs(['allowzero']);
        const x = activation(0, 'data');
        const target = constant(1, 'shape');
        if (!target.isInteger) nodeFail(`the shape '${ins[1]}' must be an int64 tensor`);
        const dims = target.values as number[];
        const features = product(x.shape);
        const allowZero = a.int('allowzero', 0) !== 0;
        const batchDim = (d: number): boolean => (d === 0 && !allowZero) || d === -1 || d >= 1;
        const ok = dims.length === 2 && batchDim(dims[0]!) && (dims[1] === features || (dims[1] === -1 && dims[0] !== -1));
        if (!ok)
          nodeFail(
            `reshaping ${x.layout === 'nchw' ? `[N, ${x.shape[2]}, ${x.shape[0]}, ${x.shape[1]}]` : `[N, ${features}]`} to ${fmt(dims)} is not supported; only a flatten to [N, ${features}] (e.g. [0, -1], [-1, ${features}] or [N, -1])`,
          );
        flattenTo(x);
        return;
      }

      case 'Concat': {
        const a = attrs(['axis']);
        if (!a.has('axis')) nodeFail('axis is required');
        if (ins.length < 1) nodeFail('it has no inputs');
        if (ins.some((_, i) => valueOf(i, `input ${i}`).kind === 'channel')) {
          concatChannels(a.int('axis', 1));
          return;
        }
        const xs = ins.map((_, i) => activation(i, `input ${i}`));
        const layout = xs[0]!.layout;
        if (xs.some((x) => x.layout !== layout)) nodeFail(`its inputs mix image-like and flat values; they must all be [N, C, H, W] or all be flat`);
        const rank = layout === 'nf' ? 2 : 4;
        const axis = a.int('axis', 1);
        if ((axis < 0 ? axis + rank : axis) !== 1)
          nodeFail(`axis ${axis} is not supported on ${rank}-D inputs; only the channel axis (1${rank === 4 ? ' or -3' : ' or -1'})`);
        const first = xs[0]!.shape;
        for (const [i, x] of xs.entries()) {
          if (x.shape.length !== first.length || x.shape.slice(0, -1).some((d, k) => d !== first[k])) {
            nodeFail(
              `input ${i} '${ins[i]}' has ${x.shape[0]}×${x.shape[1]} pixels but input 0 has ${first[0]}×${first[1]}; Concat needs equal sizes on every axis but the channels`,
            );
          }
        }
        xs.forEach(consumed);
        const channels = xs.reduce((s, x) => s + x.shape[x.shape.length - 1]!, 0);
        emit({ op: 'concat', name: irName, inputs: xs.map((x) => x.ir), output: out }, layout, [...first.slice(0, -1), channels]);
        return;
      }

      case 'Gemm':
      case 'MatMul': {
        const isGemm = opType === 'Gemm';
        const a = attrs(isGemm ? ['alpha', 'beta', 'transA', 'transB'] : []);
        const x = activation(0, 'A', ['nf']);
        if (isGemm && a.int('transA', 0) !== 0) nodeFail('transA 1 is not supported (the activations must be [N, K])');
        const transB = isGemm ? a.int('transB', 0) !== 0 : false;
        const alpha = isGemm ? a.float('alpha', 1) : 1;
        const beta = isGemm ? a.float('beta', 1) : 1;
        const b = constant(1, 'B');
        if (b.isInteger) nodeFail(`the weight '${ins[1]}' must be floating point`);
        if (b.dims.length !== 2) nodeFail(`the weight '${ins[1]}' must be 2-D, got ${fmt(b.dims)}`);
        const [rows, cols] = b.dims as [number, number];
        const [k, units] = transB ? [cols, rows] : [rows, cols];
        if (k !== x.shape[0])
          nodeFail(`the weight '${ins[1]}' ${fmt(b.dims)}${transB ? ' (transB 1)' : ''} takes ${k} features, but the input has ${x.shape[0]}`);
        const data = transB ? transpose2d(b.values as Float32Array, rows, cols) : Float32Array.from(b.values as Float32Array);
        if (alpha !== 1) for (let i = 0; i < data.length; i++) data[i]! *= alpha;
        const weight = addWeight(ins[1]!, [k, units], data);
        let bias: string | undefined;
        if (isGemm && ins[2]) {
          const c = constant(2, 'C');
          const broadcast = broadcastBias(c, 2, units, nodeFail, `C '${ins[2]}'`);
          if (beta !== 1) for (let i = 0; i < broadcast.length; i++) broadcast[i]! *= beta;
          bias = addWeight(ins[2], [units], broadcast);
        }
        consumed(x);
        emit({ op: 'dense', name: irName, inputs: [x.ir], output: out, weight, ...(bias ? { bias } : {}) }, 'nf', [units]);
        return;
      }

      case 'Mul':
      case 'Sub':
      case 'Div':
        attrs([]);
        channelArithmetic();
        return;

      case 'Gather': {
        const a = attrs(['axis']);
        const x = activation(0, 'data', ['nchw']);
        const axis = a.int('axis', 0);
        if (axis !== 1 && axis !== -3)
          nodeFail(`axis ${axis} is not supported; only Gather on the channel axis (1), which takes one channel out (PyTorch's transform_input)`);
        const idx = constant(1, 'indices');
        if (!idx.isInteger || idx.values.length !== 1 || idx.dims.length > 1)
          nodeFail(`the indices '${ins[1]}' must be one integer (a scalar or [1]), got ${fmt(idx.dims)}`);
        const channels = x.shape[2]!;
        const k = idx.values[0]! < 0 ? idx.values[0]! + channels : idx.values[0]!;
        if (!(k >= 0 && k < channels)) nodeFail(`index ${idx.values[0]} is outside the ${channels} channels`);
        consumed(x);
        define({
          kind: 'channel',
          source: x,
          channel: k,
          squeezed: idx.dims.length === 0,
          scale: 1,
          shift: 0,
          origin: `Gather node #${index} '${node.name ?? ''}'`,
        });
        return;
      }

      case 'Unsqueeze': {
        const a = attrs(['axes']);
        const v = valueOf(0, 'data');
        if (v.kind !== 'channel')
          return nodeFail(`Unsqueeze is supported only on a channel taken out with Gather (PyTorch's transform_input), not on '${ins[0]}'`);
        const axes = opset >= 13 ? (ins[1] ? (constant(1, 'axes').values as number[]) : []) : (a.ints('axes') ?? []);
        if (!v.squeezed || axes.length !== 1 || (axes[0] !== 1 && axes[0] !== -3))
          nodeFail(`only restoring the channel axis (axes [1]) of a gathered channel is supported, got axes ${fmt(axes)}`);
        define({ ...v, squeezed: false });
        return;
      }

      case 'Add': {
        attrs([]);
        const va = valueOf(0, 'A');
        const vb = valueOf(1, 'B');
        if (va.kind === 'channel' || vb.kind === 'channel') {
          channelArithmetic();
          return;
        }
        if (va.kind === 'activation' && vb.kind === 'activation') {
          const x = activation(0, 'A');
          const y = activation(1, 'B');
          if (x.layout !== y.layout || x.shape.some((d, i) => d !== y.shape[i]) || x.shape.length !== y.shape.length) {
            nodeFail(
              `adding '${ins[0]}' and '${ins[1]}' of different shapes (per example, NHWC: ${fmt(x.shape)} and ${fmt(y.shape)}) is not supported; only equal shapes`,
            );
          }
          consumed(x);
          consumed(y);
          emit({ op: 'add', name: irName, inputs: [x.ir, y.ir], output: out }, x.layout, x.shape);
          return;
        }
        if (va.kind === 'constant' && vb.kind === 'constant') return nodeFail('both inputs are constants; constant folding is not supported');
        const actIndex = va.kind === 'activation' ? 0 : 1;
        const x = activation(actIndex, actIndex === 0 ? 'A' : 'B');
        const c = constant(1 - actIndex, actIndex === 0 ? 'B' : 'A');
        const producer = producers.get(x.ir);
        const foldable =
          producer &&
          (producer.op === 'conv2d' || producer.op === 'dense' || producer.op === 'batchNorm') &&
          !('relu' in producer && producer.relu) &&
          pendingReads.get(x.ir) === 1;
        if (!foldable) {
          nodeFail(
            `adding the constant '${ins[1 - actIndex]}' is only supported right after a Conv, Gemm, MatMul or BatchNormalization whose result nothing else reads (it becomes that node's bias)`,
          );
        }
        const p = producer!;
        const channels = x.shape[x.shape.length - 1]!;
        const add = broadcastBias(c, x.layout === 'nf' ? 2 : 4, channels, nodeFail, `the constant '${ins[1 - actIndex]}'`);
        const biasName = p.op === 'batchNorm' ? p.beta : p.op === 'conv2d' || p.op === 'dense' ? p.bias : undefined;
        const sum = new Float32Array(channels);
        if (biasName !== undefined) sum.set(weights.get(biasName)!.data);
        for (let i = 0; i < channels; i++) sum[i]! += add[i]!;
        const newBias = addWeight(ins[1 - actIndex]!, [channels], sum);
        if (p.op === 'batchNorm') p.beta = newBias;
        else if (p.op === 'conv2d' || p.op === 'dense') p.bias = newBias;
        if (
          biasName !== undefined &&
          ![...producers.values()].some(
            (n) =>
              n !== p &&
              (n.op === 'batchNorm' ? [n.gamma, n.beta, n.mean, n.variance] : n.op === 'conv2d' || n.op === 'dense' ? [n.weight, n.bias] : []).includes(
                biasName,
              ),
          )
        ) {
          weights.delete(biasName);
        }
        // The producer now writes the Add's result under the Add's name.
        producers.delete(p.output);
        pendingReads.delete(p.output);
        p.output = out;
        producers.set(out, p);
        pendingReads.set(out, readers.get(out) ?? 0);
        define({ kind: 'activation', ir: out, layout: x.layout, shape: x.shape });
        return;
      }

      case 'Dropout': {
        const a = attrs(['ratio', 'seed', 'is_test']);
        const x = activation(0, 'data');
        let rate = a.float('ratio', 0.5);
        if (ins[1]) {
          const r = constant(1, 'ratio');
          if (r.values.length !== 1) nodeFail(`the ratio '${ins[1]}' must be a scalar`);
          rate = r.values[0]!;
        }
        if (ins[2]) {
          const t = constant(2, 'training_mode');
          if (t.values[0]) nodeFail('training_mode true is not supported (inference only)');
        }
        consumed(x);
        emit({ op: 'dropout', name: irName, inputs: [x.ir], output: out, rate }, x.layout, x.shape);
        return;
      }

      case 'Softmax': {
        const a = attrs(['axis']);
        const x = activation(0, 'input', ['nf', 'nc11']);
        const rank = x.layout === 'nf' ? 2 : 4;
        const axis = a.int('axis', opset < 13 ? 1 : -1);
        const normalized = axis < 0 ? axis + rank : axis;
        // Before opset 13 the axis splits the shape into [batch, rest]; axis 1 of [N, C, 1, 1]
        // is then the softmax over C, as it is from opset 13 on, where only that one axis counts.
        if (normalized !== 1)
          nodeFail(
            `axis ${axis} is not supported on ${rank === 2 ? '[N, F]' : '[N, C, 1, 1]'}; only the softmax over the features (axis 1${rank === 2 ? ' or -1' : ''})`,
          );
        consumed(x);
        emit({ op: 'softmax', name: irName, inputs: [x.ir], output: out }, x.layout, x.shape);
        return;
      }
    }

    function flattenTo(x: Activation): void {
      if (x.layout !== 'nchw') {
        alias(x, 'nf');
        return;
      }
      consumed(x);
      emit({ op: 'flatten', name: irName, inputs: [x.ir], output: out, order: 'chw' }, 'nf', [product(x.shape)]);
    }
  });

  const result = values.get(outputName);
  if (!result) fail(`the graph output '${outputName}' is written by no node`);
  if (result!.kind !== 'activation') fail(`the graph output '${outputName}' is a constant (${result!.origin}); it must be computed from the input`);
  const outputValue = (result as Activation).ir;
  if (outputValue === inputName) fail(`the graph output '${outputName}' is the input itself; the graph computes nothing`);
  const last = producers.get(outputValue);
  const ir: Graph = {
    source,
    input: { name: inputName, shape: [inputShape[1], inputShape[2], inputShape[0]] },
    output: outputValue,
    nodes,
    weights,
    outputIsProbabilities: last?.op === 'softmax',
  };
  try {
    inferShapes(ir);
  } catch (e) {
    if (e instanceof GraphError) fail(`the imported graph does not check: ${e.message}`);
    throw e;
  }
  const badValue = weightValueProblem(ir);
  if (badValue) fail(badValue);
  return ir;
}

/** [C, H, W] of the graph input, which must be a float [N, C, H, W] tensor with known C, H, W. */
function isNhwcToNchw(node: NodeProto): boolean {
  const perm = node.attribute?.find((a) => a.name === 'perm')?.ints?.map((v) => int64ToNumber(v));
  return perm !== undefined && perm.length === 4 && perm.every((p, i) => p === [0, 3, 1, 2][i]);
}

/** [C, H, W] of the graph input, whose dims are [N, C, H, W] or, before a tf2onnx transpose, [N, H, W, C]. */
function imageInputShape(input: ValueInfoProto, layout: 'nchw' | 'nhwc', fail: (p: string) => never): [number, number, number] {
  const name = input.name ?? '';
  const tensor = input.type?.tensor_type;
  if (!tensor) return fail(`the graph input '${name}' is not a tensor`);
  if ((tensor.elem_type ?? 0) !== DataType.FLOAT)
    fail(`the graph input '${name}' has type ${DATA_TYPE_NAMES[tensor.elem_type ?? 0] ?? tensor.elem_type}; importOnnx takes a FLOAT input`);
  const dims = tensor.shape?.dim ?? [];
  const text = fmt(dims.map((d) => (d.dim_param ? d.dim_param : int64ToNumber(d.dim_value) || '?')));
  if (dims.length !== 4)
    fail(
      `the graph input '${name}' has shape ${text}; importOnnx takes an NCHW image batch [N, C, H, W] (or an NHWC one that a Transpose turns into NCHW first)`,
    );
  const rest = dims.slice(1).map((d) => int64ToNumber(d.dim_value));
  if (rest.some((d) => !(d >= 1)))
    fail(`the graph input '${name}' has shape ${text}; its channels, height and width must be fixed numbers (only the batch may be symbolic)`);
  const [a, b, c] = rest as [number, number, number];
  return layout === 'nchw' ? [a, b, c] : [c, a, b];
}

/** A per-channel addend from a constant broadcast against an [N, C, H, W] (rank 4) or [N, F] (rank 2) value. */
function broadcastBias(c: DecodedTensor, rank: number, channels: number, fail: (p: string) => never, what: string): Float32Array {
  if (c.isInteger) fail(`${what} must be floating point`);
  if (c.dims.length > rank) fail(`${what} has shape ${fmt(c.dims)}, more axes than the ${rank}-D value it is added to`);
  const dims = [...new Array<number>(rank - c.dims.length).fill(1), ...c.dims];
  const perChannel = dims.every((d, i) => (i === 1 ? d === 1 || d === channels : d === 1));
  if (!perChannel)
    fail(
      `${what} has shape ${fmt(c.dims)}; only a scalar or one value per channel (${rank === 4 ? `[${channels}, 1, 1] or [1, ${channels}, 1, 1]` : `[${channels}] or [1, ${channels}]`}) can become a bias`,
    );
  const out = new Float32Array(channels);
  if (dims[1] === 1) out.fill(c.values[0]!);
  else out.set(c.values as Float32Array);
  return out;
}
