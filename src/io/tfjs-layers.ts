/**
 * TensorFlow.js layers models (`model.json` plus binary weight shards, as the TensorFlow.js
 * converter publishes Keras models and as `tf.LayersModel.save` writes them), imported into the
 * engine's graph IR (graph/ir.ts).
 *
 *   model.json   { format: "layers-model", modelTopology, weightsManifest: [ { paths, weights } ] }
 *   modelTopology  Keras's model config: { class_name: "Model" | "Functional" | "Sequential",
 *                  config } (or the same under `model_config`, as files converted from HDF5 have)
 *   weightsManifest  groups; a group's shards, concatenated in `paths` order, hold its weights
 *                  back to back in `weights` order: float32 (4 bytes), or quantised with
 *                  `quantization: { dtype: "uint8" | "uint16", scale, min }` (value = q·scale + min)
 *                  or `{ dtype: "float16" }`.
 *
 * Keras 2 topologies (tfjs-layers 3/4, tf.keras: `inbound_nodes` as nested arrays
 * [[layer, nodeIndex, tensorIndex, kwargs], …]) and Keras 3 topologies (`inbound_nodes` as
 * [{ args: [keras tensors], kwargs }] with `keras_history`) are both read. Keras already stores
 * conv kernels as [KH, KW, Cin, Cout] and dense kernels as [in, out], the IR's layouts, so weights
 * go through unchanged (a depthwise kernel is expanded to a full one; see DepthwiseConv2D).
 *
 * Layers (TFJS_SUPPORTED_LAYERS): InputLayer; Conv2D and DepthwiseConv2D (channels_last, padding
 * 'same' as TensorFlow pads it or 'valid', any strides, dilation 1, groups 1, activation linear,
 * relu, or softmax on flat values); BatchNormalization over the channel axis, with or without
 * scale and center; Activation and ReLU (plain), Softmax (last axis); Max/AveragePooling2D (an
 * average excludes padding from its divisor, as Keras does); GlobalAverage/MaxPooling2D (with
 * keepdims as a whole-grid window); Concatenate (channel axis), Add (two or more), Flatten,
 * Dense on flat values, Dropout / SpatialDropout2D (identity); ZeroPadding2D right before a
 * convolution, which takes it as its own padding.
 *
 * Every error is a TfjsLayersError whose message starts with the file's name and names the
 * layer (name and class) and what it cannot take. Unsupported layers, and shard paths that
 * would leave the model's folder (absolute, a URL, '..'), are reported before any shard is read;
 * weights holding NaN or infinities, and negative BatchNorm moving variances, after.
 */
import { f16BitsToNumber } from './safetensors.js';
import { readUserFile, UserFileError } from './read-user-file.js';
import {
  GraphError,
  inferShapes,
  weightValueProblem,
  type Conv2dNode,
  type DenseNode,
  type Graph,
  type GraphNode,
  type GraphPadding,
  type GraphWeight,
} from '../graph/ir.js';

/** The model file is not a layers model the engine can run; the message names the file and,
 * where one is at fault, the layer and what it uses. */
export class TfjsLayersError extends GraphError {
  constructor(
    readonly source: string,
    readonly problem: string,
  ) {
    super(`${source}: ${problem}`);
  }
}

/** The layer classes this importer maps to IR nodes. */
export const TFJS_SUPPORTED_LAYERS: readonly string[] = [
  'InputLayer',
  'Conv2D',
  'DepthwiseConv2D',
  'BatchNormalization',
  'Activation',
  'ReLU',
  'ZeroPadding2D',
  'Softmax',
  'MaxPooling2D',
  'AveragePooling2D',
  'GlobalAveragePooling2D',
  'GlobalMaxPooling2D',
  'Concatenate',
  'Add',
  'Flatten',
  'Dense',
  'Dropout',
  'SpatialDropout2D',
];

/** Keras 2 and 3 spell some classes differently (aliases from both). */
const CLASS_ALIASES: Record<string, string> = {
  Convolution2D: 'Conv2D',
  MaxPool2D: 'MaxPooling2D',
  AvgPool2D: 'AveragePooling2D',
  GlobalAvgPool2D: 'GlobalAveragePooling2D',
  GlobalMaxPool2D: 'GlobalMaxPooling2D',
};

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const fmt = (shape: readonly number[]): string => `[${shape.join(', ')}]`;
const show = (v: unknown): string => (v === undefined ? 'undefined' : JSON.stringify(v));

// ------------------------------------------------------------------------------------ topology

/** A reference to a layer's output: the `node`-th call of `layer`, its `tensor`-th output. */
interface TensorRef {
  layer: string;
  node: number;
  tensor: number;
}

interface LayerEntry {
  name: string;
  className: string;
  config: Json;
  /** One entry per call of the layer: the tensors that call read. */
  calls: TensorRef[][];
}

interface Topology {
  kind: 'Functional' | 'Sequential';
  layers: Map<string, LayerEntry>;
  input: TensorRef;
  output: TensorRef;
}

function parseRef(raw: unknown, fail: (p: string) => never, what: string): TensorRef {
  if (Array.isArray(raw) && typeof raw[0] === 'string') {
    const node = raw[1] ?? 0;
    const tensor = raw[2] ?? 0;
    if (Number.isInteger(node) && Number.isInteger(tensor)) return { layer: raw[0], node: node as number, tensor: tensor as number };
  }
  return fail(`${what}: expected [layerName, nodeIndex, tensorIndex], got ${show(raw)}`);
}

/** The tensors of one Keras 3 call, in argument order: every `__keras_tensor__` in `args`. */
function keras3CallInputs(call: Json, fail: (p: string) => never, what: string): TensorRef[] {
  const out: TensorRef[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) {
      v.forEach(visit);
    } else if (isObject(v)) {
      if (v['class_name'] === '__keras_tensor__') {
        const cfg = isObject(v['config']) ? v['config'] : {};
        out.push(parseRef(cfg['keras_history'], fail, `${what}: keras_history`));
      } else {
        Object.values(v).forEach(visit);
      }
    }
  };
  visit(call['args']);
  return out;
}

function parseInboundNodes(raw: unknown, fail: (p: string) => never, what: string): TensorRef[][] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) return fail(`${what}: inbound_nodes must be an array, got ${show(raw)}`);
  return raw.map((call, k) => {
    if (isObject(call)) return keras3CallInputs(call, fail, `${what}, call ${k}`);
    if (Array.isArray(call)) return call.map((ref) => parseRef(ref, fail, `${what}, call ${k}`));
    return fail(`${what}: inbound node ${k} must be an array (Keras 2) or an object with args (Keras 3), got ${show(call)}`);
  });
}

/** `input_layers` / `output_layers`: Keras writes a list of refs, Keras 3 a bare ref for a model
 * with one input or output. Exactly one is supported. */
function singleRef(raw: unknown, fail: (p: string) => never, what: string): TensorRef {
  const list = Array.isArray(raw) && typeof raw[0] === 'string' ? [raw] : raw;
  if (!Array.isArray(list) || list.length === 0) return fail(`the model's ${what} are missing or empty (${show(raw)})`);
  if (list.length > 1) return fail(`the model has ${list.length} ${what}; only models with one input and one output are supported`);
  return parseRef(list[0], fail, what);
}

function layerName(raw: Json): string | undefined {
  const name = raw['name'] ?? (isObject(raw['config']) ? raw['config']['name'] : undefined);
  return typeof name === 'string' ? name : undefined;
}

function parseTopology(modelTopology: unknown, fail: (p: string) => never): Topology {
  if (!isObject(modelTopology)) return fail(`modelTopology must be an object, got ${show(modelTopology)}`);
  const top = isObject(modelTopology['model_config']) ? modelTopology['model_config'] : modelTopology;
  const className = top['class_name'];
  const config = top['config'];
  if (className === 'Sequential') return parseSequential(config, fail);
  if (className === 'Model' || className === 'Functional') {
    if (!isObject(config)) return fail(`the ${className} model's config must be an object, got ${show(config)}`);
    return parseFunctional(config, fail);
  }
  return fail(`modelTopology.class_name is ${show(className)}; a layers model is a "Sequential", "Model" or "Functional"`);
}

function parseFunctional(config: Json, fail: (p: string) => never): Topology {
  const rawLayers = config['layers'];
  if (!Array.isArray(rawLayers)) return fail(`the model config has no layers array`);
  const layers = new Map<string, LayerEntry>();
  rawLayers.forEach((raw, i) => {
    if (!isObject(raw)) fail(`layer ${i} of the model config is not an object: ${show(raw)}`);
    const name = layerName(raw as Json);
    const cls = (raw as Json)['class_name'];
    if (name === undefined || typeof cls !== 'string') fail(`layer ${i} of the model config has no name or class_name`);
    const entry = raw as Json;
    if (layers.has(name!)) fail(`two layers are named '${name}'`);
    const what = `layer '${name}' (${cls})`;
    layers.set(name!, {
      name: name!,
      className: cls as string,
      config: isObject(entry['config']) ? entry['config'] : {},
      calls: parseInboundNodes(entry['inbound_nodes'], fail, what),
    });
  });
  return { kind: 'Functional', layers, input: singleRef(config['input_layers'], fail, 'inputs'), output: singleRef(config['output_layers'], fail, 'outputs') };
}

function parseSequential(config: unknown, fail: (p: string) => never): Topology {
  // Keras before 2.2 wrote the layer list itself as the config.
  const rawLayers = Array.isArray(config) ? config : isObject(config) ? config['layers'] : undefined;
  if (!Array.isArray(rawLayers) || rawLayers.length === 0) return fail(`the Sequential model has no layers`);
  const layers = new Map<string, LayerEntry>();
  let previous: string | undefined;
  let input: TensorRef | undefined;
  rawLayers.forEach((raw, i) => {
    if (!isObject(raw) || typeof raw['class_name'] !== 'string') return fail(`layer ${i} of the Sequential model has no class_name`);
    const cls = raw['class_name'];
    const cfg = isObject(raw['config']) ? raw['config'] : {};
    const name = layerName(raw) ?? `${cls.toLowerCase()}_${i}`;
    if (layers.has(name)) fail(`two layers are named '${name}'`);
    if (previous === undefined) {
      if (cls === 'InputLayer') {
        layers.set(name, { name, className: cls, config: cfg, calls: [] });
        previous = name;
        input = { layer: name, node: 0, tensor: 0 };
        return;
      }
      // The first layer carries the input's shape; Keras names the implied input layer this way.
      const shape = cfg['batch_input_shape'] ?? cfg['batch_shape'] ?? (isObject(config) ? config['build_input_shape'] : undefined);
      if (shape === undefined)
        return fail(`layer '${name}' (${cls}) is the first of a Sequential model but does not say the input's shape (batch_input_shape)`);
      const inputName = `${name}_input`;
      layers.set(inputName, { name: inputName, className: 'InputLayer', config: { batch_input_shape: shape }, calls: [] });
      previous = inputName;
      input = { layer: inputName, node: 0, tensor: 0 };
    }
    layers.set(name, { name, className: cls, config: cfg, calls: [[{ layer: previous!, node: 0, tensor: 0 }]] });
    previous = name;
  });
  return { kind: 'Sequential', layers, input: input!, output: { layer: previous!, node: 0, tensor: 0 } };
}

// ------------------------------------------------------------------------------------ manifest

interface ManifestWeight {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: 'uint8' | 'uint16' | 'float16'; scale: number; min: number };
  group: number;
  offset: number;
  byteLength: number;
}

interface ManifestGroup {
  paths: string[];
  byteLength: number;
}

interface Manifest {
  groups: ManifestGroup[];
  weights: ManifestWeight[];
  byName: Map<string, ManifestWeight[]>;
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8 };
const QUANT_BYTES: Record<string, number> = { uint8: 1, uint16: 2, float16: 2 };

/** Names as the converter writes them, without TensorFlow's ':0' output suffix. */
const canonicalName = (name: string): string => name.replace(/:0$/, '');

/**
 * Why a shard path may not be read, or undefined when it is a plain relative path. Shards are
 * read from the model's folder (or from the files given with model.json), so a manifest must not
 * reach outside it: no '..' segment, no absolute path, no drive or URL scheme. A model.json from
 * elsewhere could otherwise make a reader open any file of the machine, or fetch a URL.
 */
function shardPathProblem(p: string): string | undefined {
  if (p === '') return 'is empty';
  if (p.includes('\0')) return 'holds a NUL character';
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(p)) return 'starts with a scheme or drive (a URL or a Windows drive path)';
  if (/^[\\/]/.test(p)) return 'is absolute';
  if (p.split(/[\\/]/).includes('..')) return "climbs out of the model's folder with '..'";
  return undefined;
}

function parseManifest(raw: unknown, fail: (p: string) => never): Manifest {
  if (raw === undefined) return { groups: [], weights: [], byName: new Map() };
  if (!Array.isArray(raw)) return fail(`weightsManifest must be an array of groups, got ${show(raw)}`);
  const groups: ManifestGroup[] = [];
  const weights: ManifestWeight[] = [];
  raw.forEach((g, gi) => {
    const where = `weightsManifest group ${gi + 1}`;
    if (!isObject(g) || !Array.isArray(g['paths']) || !Array.isArray(g['weights'])) return fail(`${where} must be { paths: [...], weights: [...] }`);
    const paths = g['paths'];
    if (!paths.every((p): p is string => typeof p === 'string')) return fail(`${where}: paths must be strings, got ${show(paths)}`);
    for (const p of paths) {
      const problem = shardPathProblem(p);
      if (problem) {
        return fail(
          `${where}: shard path ${JSON.stringify(p)} ${problem}; it must be a relative path inside the model's folder (the converter writes names like "group1-shard1of2.bin")`,
        );
      }
    }
    let offset = 0;
    for (const w of g['weights'] as unknown[]) {
      if (!isObject(w) || typeof w['name'] !== 'string') return fail(`${where}: every weight needs a name, got ${show(w)}`);
      const name = w['name'];
      const shape = w['shape'];
      if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
        return fail(`${where}: weight '${name}' has no valid shape (${show(shape)})`);
      const dtype = w['dtype'];
      if (typeof dtype !== 'string') return fail(`${where}: weight '${name}' has no dtype`);
      let itemBytes = DTYPE_BYTES[dtype];
      let quantization: ManifestWeight['quantization'];
      const q = w['quantization'];
      if (q !== undefined && q !== null) {
        if (!isObject(q) || typeof q['dtype'] !== 'string' || QUANT_BYTES[q['dtype']] === undefined) {
          return fail(`${where}: weight '${name}' has quantization ${show(q)}; supported: dtype uint8 or uint16 with scale and min, or float16`);
        }
        const qd = q['dtype'] as 'uint8' | 'uint16' | 'float16';
        if (qd !== 'float16' && !(typeof q['scale'] === 'number' && typeof q['min'] === 'number' && Number.isFinite(q['scale']) && Number.isFinite(q['min']))) {
          return fail(`${where}: weight '${name}' is quantised to ${qd} but its scale and min are not finite numbers (${show(q)})`);
        }
        quantization = { dtype: qd, scale: (q['scale'] as number) ?? 1, min: (q['min'] as number) ?? 0 };
        itemBytes = QUANT_BYTES[qd];
      }
      if (itemBytes === undefined)
        return fail(`${where}: weight '${name}' has dtype ${show(dtype)}, whose size in the shard cannot be known (float32, int32, bool and complex64 can)`);
      const byteLength = shape.reduce((a: number, b: number) => a * b, 1) * itemBytes;
      weights.push({ name, shape: shape as number[], dtype, quantization, group: gi, offset, byteLength });
      offset += byteLength;
    }
    groups.push({ paths, byteLength: offset });
  });
  const byName = new Map<string, ManifestWeight[]>();
  for (const w of weights) {
    const key = canonicalName(w.name);
    byName.set(key, [...(byName.get(key) ?? []), w]);
  }
  return { groups, weights, byName };
}

/** The converter cuts a group's bytes into shards of one size S, the last one shorter; S is
 * taken from the longest shard that is not the last. Undefined where it cannot be known. */
function expectedShardBytes(group: ManifestGroup, sizes: (number | undefined)[]): (number | undefined)[] {
  const n = group.paths.length;
  if (n === 1) return [group.byteLength];
  const full = Math.max(...sizes.slice(0, -1).map((s) => s ?? 0));
  if (!(full > 0)) return sizes.map(() => undefined);
  return group.paths.map((_, i) => (i < n - 1 ? full : group.byteLength - full * (n - 1)));
}

async function readGroups(
  manifest: Manifest,
  needed: Set<number>,
  readShard: (path: string) => Promise<Uint8Array>,
  fail: (p: string) => never,
): Promise<Map<number, Uint8Array>> {
  const out = new Map<number, Uint8Array>();
  for (const gi of [...needed].sort((a, b) => a - b)) {
    const group = manifest.groups[gi]!;
    const n = group.paths.length;
    const settled = await Promise.allSettled(group.paths.map((p) => readShard(p)));
    const sizes = settled.map((s) => (s.status === 'fulfilled' && s.value instanceof Uint8Array ? s.value.length : undefined));
    const expected = expectedShardBytes(group, sizes);
    const shardName = (i: number): string => `weight shard '${group.paths[i]}' (group ${gi + 1}, shard ${i + 1} of ${n})`;
    const expectation = (i: number): string =>
      expected[i] !== undefined && expected[i]! > 0
        ? `expected ${expected[i]} bytes (the group's weights take ${group.byteLength} bytes)`
        : `the group's weights take ${group.byteLength} bytes in all`;
    settled.forEach((s, i) => {
      if (s.status === 'rejected') fail(`${shardName(i)} could not be read, ${expectation(i)}: ${(s.reason as Error)?.message ?? String(s.reason)}`);
      if (!(s.value instanceof Uint8Array)) fail(`${shardName(i)}: readShard must return a Uint8Array, got ${Object.prototype.toString.call(s.value)}`);
    });
    if (n === 0 && group.byteLength > 0) fail(`weightsManifest group ${gi + 1} lists no paths but its weights take ${group.byteLength} bytes`);
    const total = sizes.reduce((a: number, b) => a + b!, 0);
    if (total !== group.byteLength) {
      const bad = sizes.findIndex((s, i) => expected[i] !== undefined && s !== expected[i]);
      const i = bad >= 0 ? bad : n - 1;
      const verdict = total < group.byteLength ? 'is truncated' : 'is longer than its weights';
      fail(`${shardName(i)} ${verdict}: it holds ${sizes[i]} bytes, ${expectation(i)} and the group's ${n} shard${n === 1 ? '' : 's'} hold ${total}`);
    }
    const bytes = new Uint8Array(group.byteLength);
    let at = 0;
    for (const s of settled) {
      const b = (s as PromiseFulfilledResult<Uint8Array>).value;
      bytes.set(b, at);
      at += b.length;
    }
    out.set(gi, bytes);
  }
  return out;
}

function decodeWeight(w: ManifestWeight, bytes: Uint8Array, fail: (p: string) => never): Float32Array {
  if (w.dtype !== 'float32') return fail(`weight '${w.name}' has dtype ${w.dtype}; layers read float32 weights`);
  const n = w.shape.reduce((a, b) => a * b, 1);
  const view = new DataView(bytes.buffer, bytes.byteOffset + w.offset, w.byteLength);
  const out = new Float32Array(n);
  const q = w.quantization;
  if (!q) {
    // DataView: a weight after a quantised one need not be 4-byte aligned.
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
  } else if (q.dtype === 'uint8') {
    for (let i = 0; i < n; i++) out[i] = view.getUint8(i) * q.scale + q.min;
  } else if (q.dtype === 'uint16') {
    for (let i = 0; i < n; i++) out[i] = view.getUint16(2 * i, true) * q.scale + q.min;
  } else {
    for (let i = 0; i < n; i++) out[i] = f16BitsToNumber(view.getUint16(2 * i, true));
  }
  return out;
}

// ------------------------------------------------------------------------------------ conversion

/** A value of the graph being built: its name and per-example shape. */
interface Value {
  name: string;
  shape: number[];
  /** Set on a ZeroPadding2D's output, which is no node of its own: the convolution reading it
   * takes `from` and adds `padding` to its own. */
  zeroPadded?: { from: Value; padding: GraphPadding; layer: string };
}

/** Reads a layer's config with errors that name the layer. */
class LayerReader {
  constructor(
    readonly entry: LayerEntry,
    readonly className: string,
    private readonly fail: (p: string) => never,
  ) {}

  get where(): string {
    return `layer '${this.entry.name}' (${this.entry.className})`;
  }

  error(problem: string): never {
    return this.fail(`${this.where}: ${problem}`);
  }

  raw(key: string): unknown {
    return this.entry.config[key];
  }

  int2(key: string, fallback?: [number, number]): [number, number] {
    const v = this.raw(key);
    if ((v === undefined || v === null) && fallback) return fallback;
    const pair = typeof v === 'number' ? [v, v] : v;
    if (Array.isArray(pair) && pair.length === 2 && pair.every((d) => Number.isInteger(d) && d >= 1)) return pair as [number, number];
    return this.error(`${key} must be a positive integer or a pair of them, got ${show(v)}`);
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.raw(key);
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') return this.error(`${key} must be true or false, got ${show(v)}`);
    return v;
  }

  num(key: string, fallback: number): number {
    const v = this.raw(key);
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) return this.error(`${key} must be a number, got ${show(v)}`);
    return v;
  }

  padding(): 'same' | 'valid' {
    const v = this.raw('padding') ?? 'valid';
    if (v === 'same' || v === 'valid') return v;
    return this.error(`padding ${show(v)} is not supported (only 'same' and 'valid')`);
  }

  channelsLast(): void {
    const v = this.raw('data_format');
    if (v !== undefined && v !== null && v !== 'channels_last')
      this.error(`data_format ${show(v)} is not supported (only channels_last: the engine runs NHWC)`);
  }

  /** Keras writes activations as names; Keras 3 may wrap one in a serialised-function object. */
  activation(): string {
    const v = this.raw('activation');
    if (v === undefined || v === null) return 'linear';
    if (typeof v === 'string') return v;
    if (isObject(v) && typeof v['config'] === 'string') return v['config'];
    if (isObject(v) && typeof v['class_name'] === 'string') return v['class_name'];
    return this.error(`activation ${show(v)} is not understood`);
  }

  /** A one-element axis (Keras 2 may write [3]), as a non-negative index over the batched rank. */
  axis(key: string, rank: number, fallback: number): number {
    let v = this.raw(key) ?? fallback;
    if (Array.isArray(v) && v.length === 1) v = v[0];
    if (!Number.isInteger(v)) return this.error(`${key} ${show(v)} is not supported (a single axis)`);
    const a = v as number;
    return a < 0 ? a + rank : a;
  }
}

/** TensorFlow's 'same': the output is ceil(in / stride) and the padding the window needs is
 * split with the odd pixel at the end. */
function samePadding(size: number, kernel: number, stride: number): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + kernel - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

function resolvePadding(mode: 'same' | 'valid', h: number, w: number, kernel: [number, number], stride: [number, number]): GraphPadding {
  if (mode === 'valid') return [0, 0, 0, 0];
  return [...samePadding(h, kernel[0], stride[0]), ...samePadding(w, kernel[1], stride[1])] as GraphPadding;
}

function windowOutput(h: number, w: number, kernel: [number, number], stride: [number, number], p: GraphPadding): [number, number] {
  return [Math.floor((h + p[0] + p[1] - kernel[0]) / stride[0]) + 1, Math.floor((w + p[2] + p[3] - kernel[1]) / stride[1]) + 1];
}

/** What a layer's conversion needs from the manifest: its weight, checked against the shape the
 * config implies, and a transform applied once the bytes are read. */
interface WeightRequest {
  source: ManifestWeight;
  transform?: (data: Float32Array) => Float32Array;
  shape: number[];
}

class Builder {
  readonly nodes: GraphNode[] = [];
  readonly requests = new Map<string, WeightRequest>();
  readonly producers = new Map<string, GraphNode>();
  private readonly nodeNames = new Set<string>();

  constructor(
    private readonly manifest: Manifest,
    private readonly fail: (p: string) => never,
  ) {}

  uniqueName(base: string): string {
    let name = base;
    for (let k = 1; this.nodeNames.has(name); k++) name = `${base}_${k}`;
    this.nodeNames.add(name);
    return name;
  }

  emit<N extends GraphNode>(node: N): N {
    this.nodes.push(node);
    this.producers.set(node.output, node);
    return node;
  }

  /** The manifest's weight `${layer}/${weight}`, or the one weight whose name ends that way (files
   * whose names carry a model scope, as nested or renamed models have). */
  weight(
    layer: LayerReader,
    weightName: string,
    expectShape: number[],
    irName?: string,
    transform?: (d: Float32Array) => Float32Array,
    transformedShape?: number[],
  ): string {
    const key = `${layer.entry.name}/${weightName}`;
    let found = this.manifest.byName.get(key);
    if (!found) {
      const suffix = `/${key}`;
      found = [...this.manifest.byName.entries()].filter(([n]) => n.endsWith(suffix)).flatMap(([, ws]) => ws);
    }
    if (found.length === 0) return layer.error(`the weights manifest has no '${key}' (shape ${fmt(expectShape)})`);
    if (found.length > 1)
      return layer.error(`the weights manifest has ${found.length} weights named like '${key}': ${found.map((w) => `'${w.name}'`).join(', ')}`);
    const source = found[0]!;
    if (source.shape.length !== expectShape.length || source.shape.some((d, i) => d !== expectShape[i])) {
      return layer.error(`weight '${source.name}' has shape ${fmt(source.shape)}, but the layer's config and input need ${fmt(expectShape)}`);
    }
    if (source.dtype !== 'float32') return layer.error(`weight '${source.name}' has dtype ${source.dtype}; only float32 (possibly quantised) weights are read`);
    const name = irName ?? canonicalName(source.name);
    if (!this.requests.has(name)) this.requests.set(name, { source, transform, shape: transformedShape ?? expectShape });
    return name;
  }
}

type Converter = (layer: LayerReader, inputs: Value[], b: Builder, valueName: string) => Value;

function one(layer: LayerReader, inputs: Value[]): Value {
  if (inputs.length !== 1) layer.error(`takes one input, got ${inputs.length}`);
  return inputs[0]!;
}

function spatial(layer: LayerReader, v: Value): [number, number, number] {
  if (v.shape.length !== 3) layer.error(`needs an image-like input [H, W, C], got ${fmt(v.shape)}`);
  return v.shape as [number, number, number];
}

/** Applies a layer's `activation` after the node that wrote `v`: as the node's relu flag where it
 * has one, otherwise as its own node. */
function activate(layer: LayerReader, b: Builder, v: Value, act: string, valueName: string, fusable?: { relu?: boolean }): Value {
  switch (act) {
    case 'linear':
      return v;
    case 'relu':
      if (fusable) {
        fusable.relu = true;
        return v;
      }
      b.emit({ op: 'relu', name: b.uniqueName(valueName), inputs: [v.name], output: valueName });
      return { name: valueName, shape: v.shape };
    case 'softmax':
      if (v.shape.length !== 1)
        return layer.error(`softmax over the channels of an image-like value ${fmt(v.shape)} is not supported (the engine's softmax runs on flat values)`);
      b.emit({ op: 'softmax', name: b.uniqueName(valueName), inputs: [v.name], output: valueName });
      return { name: valueName, shape: v.shape };
    default:
      return layer.error(`activation '${act}' is not supported (linear, relu and softmax are)`);
  }
}

const ACTIVATIONS = ['linear', 'relu', 'softmax'];

/** The activation of a conv or dense layer, checked before anything is emitted; a softmax needs
 * a node of its own, so the layer's node then writes `/logits`. */
function fusedActivation(layer: LayerReader, valueName: string, flat: boolean): { act: string; output: string } {
  const act = layer.activation();
  if (!ACTIVATIONS.includes(act)) layer.error(`activation '${act}' is not supported (linear, relu and softmax are)`);
  if (act === 'softmax' && !flat)
    layer.error(`activation 'softmax' over the channels of an image-like value is not supported (the engine's softmax runs on flat values)`);
  return { act, output: act === 'softmax' ? `${valueName}/logits` : valueName };
}

function checkConvOptions(layer: LayerReader): void {
  layer.channelsLast();
  const dilation = layer.int2('dilation_rate', [1, 1]);
  if (dilation[0] !== 1 || dilation[1] !== 1) layer.error(`dilation_rate ${fmt(dilation)} is not supported (only 1)`);
  const groups = layer.raw('groups');
  if (groups !== undefined && groups !== null && groups !== 1) layer.error(`groups ${show(groups)} is not supported (only 1)`);
}

const convert2d: Converter = (layer, inputs, b, valueName) => {
  const padded = one(layer, inputs);
  const [h, w, cin] = spatial(layer, padded);
  checkConvOptions(layer);
  const kernel = layer.int2('kernel_size');
  const stride = layer.int2('strides', [1, 1]);
  const own = resolvePadding(layer.padding(), h, w, kernel, stride);
  // Zeros added before a convolution are the convolution's own padding.
  const x = padded.zeroPadded?.from ?? padded;
  const extra = padded.zeroPadded?.padding ?? [0, 0, 0, 0];
  const padding = own.map((p, i) => p + extra[i]!) as GraphPadding;
  const [oh, ow] = windowOutput(h, w, kernel, stride, own);
  if (!(oh >= 1 && ow >= 1)) layer.error(`a ${kernel.join('×')} window does not fit its ${h}×${w} input with 'valid' padding`);
  const { act, output } = fusedActivation(layer, valueName, false);
  let cout: number;
  let weight: string;
  if (layer.className === 'DepthwiseConv2D') {
    const mult = layer.num('depth_multiplier', 1);
    if (!Number.isInteger(mult) || mult < 1) layer.error(`depth_multiplier ${mult} must be a positive integer`);
    cout = cin * mult;
    // The IR has no depthwise convolution: the kernel becomes a full one that is zero except where
    // output channel c·mult + j reads input channel c (TensorFlow's channel order). Exact, at
    // Cin times the multiply-adds.
    const [kh, kw] = kernel;
    const expand = (d: Float32Array): Float32Array => {
      const full = new Float32Array(kh * kw * cin * cout);
      for (let p = 0; p < kh * kw; p++) {
        for (let c = 0; c < cin; c++) {
          for (let j = 0; j < mult; j++) full[(p * cin + c) * cout + c * mult + j] = d[(p * cin + c) * mult + j]!;
        }
      }
      return full;
    };
    const key = `${layer.entry.name}/depthwise_kernel`;
    weight = b.weight(layer, 'depthwise_kernel', [kh, kw, cin, mult], `${key}/expanded`, expand, [kh, kw, cin, cout]);
  } else {
    const filters = layer.num('filters', NaN);
    if (!Number.isInteger(filters) || filters < 1) layer.error(`filters must be a positive integer, got ${show(layer.raw('filters'))}`);
    cout = filters;
    weight = b.weight(layer, 'kernel', [kernel[0], kernel[1], cin, cout]);
  }
  const bias = layer.bool('use_bias', true) ? b.weight(layer, 'bias', [cout]) : undefined;
  const node = b.emit<Conv2dNode>({ op: 'conv2d', name: b.uniqueName(output), inputs: [x.name], output, weight, ...(bias ? { bias } : {}), stride, padding });
  return activate(layer, b, { name: output, shape: [oh, ow, cout] }, act, valueName, node);
};

const dense: Converter = (layer, inputs, b, valueName) => {
  const x = one(layer, inputs);
  if (x.shape.length !== 1) layer.error(`needs a flat input [F] (add Flatten or a global pooling before it), got ${fmt(x.shape)}`);
  const units = layer.num('units', NaN);
  if (!Number.isInteger(units) || units < 1) layer.error(`units must be a positive integer, got ${show(layer.raw('units'))}`);
  const { act, output } = fusedActivation(layer, valueName, true);
  const weight = b.weight(layer, 'kernel', [x.shape[0]!, units]);
  const bias = layer.bool('use_bias', true) ? b.weight(layer, 'bias', [units]) : undefined;
  const node = b.emit<DenseNode>({ op: 'dense', name: b.uniqueName(output), inputs: [x.name], output, weight, ...(bias ? { bias } : {}) });
  return activate(layer, b, { name: output, shape: [units] }, act, valueName, node);
};

const batchNorm: Converter = (layer, inputs, b, valueName) => {
  const x = one(layer, inputs);
  const rank = x.shape.length + 1;
  const axis = layer.axis('axis', rank, -1);
  if (axis !== rank - 1) layer.error(`axis ${show(layer.raw('axis'))} is not supported (only the channel axis, -1)`);
  if (layer.bool('renorm', false)) layer.error(`renorm is not supported`);
  const c = x.shape[x.shape.length - 1]!;
  const eps = layer.num('epsilon', 1e-3);
  const gamma = layer.bool('scale', true) ? b.weight(layer, 'gamma', [c]) : undefined;
  const beta = layer.bool('center', true) ? b.weight(layer, 'beta', [c]) : undefined;
  const mean = b.weight(layer, 'moving_mean', [c]);
  const variance = b.weight(layer, 'moving_variance', [c]);
  b.emit({
    op: 'batchNorm',
    name: b.uniqueName(valueName),
    inputs: [x.name],
    output: valueName,
    ...(gamma ? { gamma } : {}),
    ...(beta ? { beta } : {}),
    mean,
    variance,
    eps,
  });
  return { name: valueName, shape: x.shape };
};

const pool: Converter = (layer, inputs, b, valueName) => {
  const x = one(layer, inputs);
  const [h, w, c] = spatial(layer, x);
  layer.channelsLast();
  const kernel = layer.int2('pool_size', [2, 2]);
  const stride = layer.int2('strides', kernel);
  const padding = resolvePadding(layer.padding(), h, w, kernel, stride);
  const [oh, ow] = windowOutput(h, w, kernel, stride, padding);
  if (!(oh >= 1 && ow >= 1)) layer.error(`a ${kernel.join('×')} window does not fit its ${h}×${w} input with 'valid' padding`);
  const common = { name: b.uniqueName(valueName), inputs: [x.name], output: valueName, kernel, stride, padding };
  // Keras leaves padded pixels out of an average's divisor.
  b.emit(layer.className === 'MaxPooling2D' ? { op: 'maxPool', ...common } : { op: 'avgPool', ...common, countIncludePad: false });
  return { name: valueName, shape: [oh, ow, c] };
};

const globalPool: Converter = (layer, inputs, b, valueName) => {
  const x = one(layer, inputs);
  const [h, w, c] = spatial(layer, x);
  layer.channelsLast();
  const keepdims = layer.bool('keepdims', false);
  const max = layer.className === 'GlobalMaxPooling2D';
  if (!max && !keepdims) {
    b.emit({ op: 'globalAvgPool', name: b.uniqueName(valueName), inputs: [x.name], output: valueName });
    return { name: valueName, shape: [c] };
  }
  // A window over the whole grid gives the [1, 1, C] that keepdims keeps; the maximum has no
  // global node, so it is that window followed by a flatten.
  const pooled = keepdims ? valueName : `${valueName}/pool`;
  const common = {
    name: b.uniqueName(pooled),
    inputs: [x.name],
    output: pooled,
    kernel: [h, w] as [number, number],
    stride: [1, 1] as [number, number],
    padding: [0, 0, 0, 0] as GraphPadding,
  };
  b.emit(max ? { op: 'maxPool', ...common } : { op: 'avgPool', ...common, countIncludePad: false });
  if (keepdims) return { name: valueName, shape: [1, 1, c] };
  b.emit({ op: 'flatten', name: b.uniqueName(valueName), inputs: [pooled], output: valueName, order: 'hwc' });
  return { name: valueName, shape: [c] };
};

const activationLayer: Converter = (layer, inputs, b, valueName) => {
  const x = one(layer, inputs);
  return activate(layer, b, x, layer.activation(), valueName);
};

const reluLayer: Converter = (layer, inputs, b, valueName) => {
  const x = one(layer, inputs);
  const maxValue = layer.raw('max_value');
  if (maxValue !== undefined && maxValue !== null) layer.error(`max_value ${show(maxValue)} is not supported (only a plain ReLU)`);
  for (const key of ['negative_slope', 'threshold']) {
    if (layer.num(key, 0) !== 0) layer.error(`${key} ${show(layer.raw(key))} is not supported (only a plain ReLU, 0)`);
  }
  return activate(layer, b, x, 'relu', valueName);
};

const softmaxLayer: Converter = (layer, inputs, b, valueName) => {
  const x = one(layer, inputs);
  const rank = x.shape.length + 1;
  if (layer.axis('axis', rank, -1) !== rank - 1) layer.error(`axis ${show(layer.raw('axis'))} is not supported (only the last, -1)`);
  return activate(layer, b, x, 'softmax', valueName);
};

const concatenate: Converter = (layer, inputs, b, valueName) => {
  if (inputs.length < 1) layer.error(`has no inputs`);
  const rank = inputs[0]!.shape.length + 1;
  const axis = layer.axis('axis', rank, -1);
  if (axis !== rank - 1) layer.error(`axis ${show(layer.raw('axis'))} is not supported (only the channel axis, -1)`);
  const first = inputs[0]!.shape;
  for (const v of inputs) {
    if (v.shape.length !== first.length || v.shape.slice(0, -1).some((d, i) => d !== first[i])) {
      layer.error(`inputs must agree on every axis but the last, got ${inputs.map((i) => fmt(i.shape)).join(', ')}`);
    }
  }
  b.emit({ op: 'concat', name: b.uniqueName(valueName), inputs: inputs.map((v) => v.name), output: valueName });
  return { name: valueName, shape: [...first.slice(0, -1), inputs.reduce((s, v) => s + v.shape[v.shape.length - 1]!, 0)] };
};

const addLayer: Converter = (layer, inputs, b, valueName) => {
  if (inputs.length < 2) layer.error(`needs at least two inputs, got ${inputs.length}`);
  for (const v of inputs) {
    if (v.shape.length !== inputs[0]!.shape.length || v.shape.some((d, i) => d !== inputs[0]!.shape[i])) {
      layer.error(`inputs must have the same shape (broadcasting is not supported), got ${inputs.map((i) => fmt(i.shape)).join(', ')}`);
    }
  }
  // The IR adds two values; more are summed left to right, as Keras does.
  let acc = inputs[0]!.name;
  for (let i = 1; i < inputs.length; i++) {
    const output = i === inputs.length - 1 ? valueName : `${valueName}/sum${i}`;
    b.emit({ op: 'add', name: b.uniqueName(output), inputs: [acc, inputs[i]!.name], output });
    acc = output;
  }
  return { name: valueName, shape: inputs[0]!.shape };
};

const flatten: Converter = (layer, inputs, b, valueName) => {
  const x = one(layer, inputs);
  layer.channelsLast();
  b.emit({ op: 'flatten', name: b.uniqueName(valueName), inputs: [x.name], output: valueName, order: 'hwc' });
  return { name: valueName, shape: [x.shape.reduce((a, d) => a * d, 1)] };
};

const dropout: Converter = (layer, inputs, b, valueName) => {
  const x = one(layer, inputs);
  const rate = layer.num('rate', 0);
  b.emit({ op: 'dropout', name: b.uniqueName(valueName), inputs: [x.name], output: valueName, rate });
  return { name: valueName, shape: x.shape };
};

const zeroPadding: Converter = (layer, inputs, _b, valueName) => {
  const x = one(layer, inputs);
  const [h, w, c] = spatial(layer, x);
  layer.channelsLast();
  const raw = layer.raw('padding') ?? 1;
  const nonNegative = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;
  let padding: GraphPadding | undefined;
  if (nonNegative(raw)) padding = [raw, raw, raw, raw];
  else if (Array.isArray(raw) && raw.length === 2 && raw.every(nonNegative)) padding = [raw[0], raw[0], raw[1], raw[1]] as GraphPadding;
  else if (Array.isArray(raw) && raw.length === 2 && raw.every((p) => Array.isArray(p) && p.length === 2 && p.every(nonNegative)))
    padding = [...(raw[0] as number[]), ...(raw[1] as number[])] as GraphPadding;
  if (!padding) return layer.error(`padding ${show(raw)} is not understood (an integer, [rows, cols] or [[top, bottom], [left, right]])`);
  return { name: valueName, shape: [h + padding[0] + padding[1], w + padding[2] + padding[3], c], zeroPadded: { from: x, padding, layer: layer.where } };
};

const CONVERTERS: Record<string, Converter> = {
  Conv2D: convert2d,
  DepthwiseConv2D: convert2d,
  Dense: dense,
  BatchNormalization: batchNorm,
  MaxPooling2D: pool,
  AveragePooling2D: pool,
  GlobalAveragePooling2D: globalPool,
  GlobalMaxPooling2D: globalPool,
  Activation: activationLayer,
  ReLU: reluLayer,
  Softmax: softmaxLayer,
  Concatenate: concatenate,
  Add: addLayer,
  Flatten: flatten,
  Dropout: dropout,
  SpatialDropout2D: dropout,
  ZeroPadding2D: zeroPadding,
};

function inputShape(entry: LayerEntry, fail: (p: string) => never): number[] {
  const cfg = entry.config;
  const raw = cfg['batch_input_shape'] ?? cfg['batch_shape'] ?? (Array.isArray(cfg['shape']) ? [null, ...(cfg['shape'] as unknown[])] : undefined);
  const where = `input layer '${entry.name}' (${entry.className})`;
  if (!Array.isArray(raw)) return fail(`${where} does not give its shape (batch_input_shape)`);
  const shape = raw.slice(1);
  if (shape.length !== 3) return fail(`${where} has shape ${show(raw)}; the engine takes image inputs [batch, H, W, C]`);
  if (!shape.every((d) => Number.isInteger(d) && d >= 1))
    return fail(`${where} has shape ${show(raw)}; H, W and C must be fixed positive sizes (the engine compiles for one input size)`);
  const dtype = cfg['dtype'];
  const dtypeName = isObject(dtype) && isObject(dtype['config']) ? dtype['config']['name'] : dtype;
  if (dtypeName !== undefined && dtypeName !== null && dtypeName !== 'float32')
    return fail(`${where} has dtype ${show(dtypeName)}; only float32 inputs are supported`);
  return shape as number[];
}

// ------------------------------------------------------------------------------------ entry points

function parseModelJson(modelJson: unknown, fail: (p: string) => never): Json {
  let json = modelJson;
  if (json instanceof Uint8Array) json = new TextDecoder().decode(json);
  if (typeof json === 'string') {
    try {
      json = JSON.parse(json);
    } catch (e) {
      return fail(`not valid JSON: ${(e as Error).message}`);
    }
  }
  if (!isObject(json)) return fail(`model.json must hold an object, got ${show(json)?.slice(0, 80)}`);
  const format = json['format'];
  if (format === 'graph-model') return fail(`this is a TensorFlow.js graph model (format "graph-model"), not a layers model`);
  if (format !== undefined && format !== 'layers-model') return fail(`format is ${show(format)}, not "layers-model"`);
  if (json['modelTopology'] === undefined) return fail(`model.json has no modelTopology`);
  return json;
}

/**
 * Imports a TensorFlow.js layers model. `modelJson` is model.json's parsed object (or its text or
 * bytes); `readShard` returns the bytes of a shard path as the manifest writes it (relative to
 * model.json); `source` names the file in errors and becomes the graph's source as
 * `tfjs:${source}`. The graph's nodes and values keep the Keras layer names (a layer that becomes
 * several nodes adds `/…` suffixes to the inner ones; a layer's second call is `name:1`).
 */
export async function importTfjsLayers(modelJson: unknown, readShard: (path: string) => Promise<Uint8Array>, source = 'model.json'): Promise<Graph> {
  const fail = (problem: string): never => {
    throw new TfjsLayersError(source, problem);
  };
  const json = parseModelJson(modelJson, fail);
  const topology = parseTopology(json['modelTopology'], fail);
  const manifest = parseManifest(json['weightsManifest'], fail);
  const inputEntry = topology.layers.get(topology.input.layer);
  if (!inputEntry) return fail(`the model's input names the layer '${topology.input.layer}', which the model does not have`);
  if (inputEntry.className !== 'InputLayer') return fail(`the model's input is layer '${inputEntry.name}' (${inputEntry.className}), not an InputLayer`);
  const input: Value = { name: inputEntry.name, shape: inputShape(inputEntry, fail) };

  const b = new Builder(manifest, fail);
  b.uniqueName(input.name);
  const values = new Map<string, Value>();
  const refKey = (r: TensorRef): string => `${r.layer}\u0000${r.node}`;
  values.set(refKey(topology.input), input);
  const visiting = new Set<string>();

  // Depth-first from the output: converts each call after the calls it reads, so the nodes come
  // out in dependency order whatever order the file lists the layers in, and layers the output
  // does not depend on are left out.
  const resolve = (ref: TensorRef, reader: string): Value => {
    const key = refKey(ref);
    const done = values.get(key);
    if (done) return done;
    const entry = topology.layers.get(ref.layer);
    if (!entry) return fail(`${reader} reads layer '${ref.layer}', which the model does not have`);
    const where = `layer '${entry.name}' (${entry.className})`;
    if (visiting.has(key)) return fail(`${where} depends on its own output (a cycle)`);
    if (ref.tensor !== 0) return fail(`${reader} reads output ${ref.tensor} of ${where}; only single-output layers are supported`);
    const className = CLASS_ALIASES[entry.className] ?? entry.className;
    const convert = CONVERTERS[className];
    if (!convert) {
      const nested = ['Model', 'Functional', 'Sequential'].includes(entry.className)
        ? ' (nested models are not supported; flatten the model into one before converting)'
        : '';
      if (entry.className === 'InputLayer') return fail(`${where} is a second input; only models with one input are supported`);
      return fail(`${where}: layer class '${entry.className}' is not supported${nested}; supported: ${TFJS_SUPPORTED_LAYERS.join(', ')}`);
    }
    const call = entry.calls[ref.node];
    if (!call) return fail(`${reader} reads call ${ref.node} of ${where}, which has ${entry.calls.length} call${entry.calls.length === 1 ? '' : 's'}`);
    visiting.add(key);
    const inputs = call.map((r) => resolve(r, where));
    visiting.delete(key);
    const padded = inputs.find((v) => v.zeroPadded);
    if (padded && !(className === 'Conv2D' || className === 'DepthwiseConv2D')) {
      return fail(
        `${where} reads the output of ${padded.zeroPadded!.layer}, which is supported only right before a Conv2D or DepthwiseConv2D (that takes it as its own padding)`,
      );
    }
    const valueName = ref.node === 0 ? entry.name : `${entry.name}:${ref.node}`;
    const out = convert(new LayerReader(entry, className, fail), inputs, b, valueName);
    values.set(key, out);
    return out;
  };
  const output = resolve(topology.output, 'the model output');
  if (output.zeroPadded) return fail(`the model ends in ${output.zeroPadded.layer}; ZeroPadding2D is supported only right before a convolution`);
  if (output.name === input.name) return fail(`the model's output is its input: there is nothing to run`);

  const neededGroups = new Set([...b.requests.values()].map((r) => r.source.group));
  const groups = await readGroups(manifest, neededGroups, readShard, fail);
  const weights = new Map<string, GraphWeight>();
  for (const [name, req] of b.requests) {
    const data = decodeWeight(req.source, groups.get(req.source.group)!, fail);
    weights.set(name, { shape: req.shape, data: req.transform ? req.transform(data) : data });
  }
  const graph: Graph = {
    source: `tfjs:${source}`,
    input: { name: input.name, shape: input.shape },
    output: output.name,
    nodes: b.nodes,
    weights,
    outputIsProbabilities: b.producers.get(output.name)?.op === 'softmax',
  };
  inferShapes(graph);
  const badValue = weightValueProblem(graph);
  if (badValue) fail(badValue);
  return graph;
}

/** The folder part of a path, with its separator ('' for a bare file name). */
function folderOf(path: string): string {
  const cut = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return cut >= 0 ? path.slice(0, cut + 1) : '';
}

/** Reads model.json and its shards (paths relative to it, inside its folder) from Node's file
 * system, each through readUserFile (regular files within the size limit). */
export async function readTfjsLayersModel(modelJsonPath: string): Promise<Graph> {
  let bytes: Uint8Array;
  try {
    bytes = await readUserFile(modelJsonPath, { what: 'TF.js model.json' });
  } catch (e) {
    if (!(e instanceof UserFileError)) throw e;
    throw new TfjsLayersError(modelJsonPath, e.code === 'ENOENT' ? 'no such file (readTfjsLayersModel)' : e.problem);
  }
  const folder = folderOf(modelJsonPath);
  // parseManifest has refused paths that leave the folder, so folder + path stays inside it.
  const readShard = async (path: string): Promise<Uint8Array> => {
    const full = folder + path;
    try {
      return await readUserFile(full, { what: 'TF.js weight shard' });
    } catch (e) {
      if (!(e instanceof UserFileError)) throw e;
      throw new Error(e.code === 'ENOENT' ? `no such file: ${full}` : e.message);
    }
  };
  return importTfjsLayers(new TextDecoder().decode(bytes), readShard, modelJsonPath);
}
