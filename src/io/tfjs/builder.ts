/**
 * What the layer converters (layers.ts) build with: the values of the graph so far, a reader of
 * a layer's config whose errors name the layer, and the Builder that collects IR nodes and the
 * manifest weights they need.
 */
import type { GraphNode, GraphPadding } from '../../graph/ir.js';
import { fmt, isObject, show } from './errors.js';
import { canonicalName, type Manifest, type ManifestWeight } from './manifest.js';
import type { LayerEntry } from './topology.js';

/** A value of the graph being built: its name and per-example shape. */
export interface Value {
  name: string;
  shape: number[];
  /** Set on a ZeroPadding2D's output, which is no node of its own: the convolution reading it
   * takes `from` and adds `padding` to its own. */
  zeroPadded?: { from: Value; padding: GraphPadding; layer: string };
}

/** Reads a layer's config with errors that name the layer. */
export class LayerReader {
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

export function resolvePadding(mode: 'same' | 'valid', h: number, w: number, kernel: [number, number], stride: [number, number]): GraphPadding {
  if (mode === 'valid') return [0, 0, 0, 0];
  return [...samePadding(h, kernel[0], stride[0]), ...samePadding(w, kernel[1], stride[1])] as GraphPadding;
}

export function windowOutput(h: number, w: number, kernel: [number, number], stride: [number, number], p: GraphPadding): [number, number] {
  return [Math.floor((h + p[0] + p[1] - kernel[0]) / stride[0]) + 1, Math.floor((w + p[2] + p[3] - kernel[1]) / stride[1]) + 1];
}

/** What a layer's conversion needs from the manifest: its weight, checked against the shape the
 * config implies, and a transform applied once the bytes are read. */
interface WeightRequest {
  source: ManifestWeight;
  transform?: (data: Float32Array) => Float32Array;
  shape: number[];
}

export class Builder {
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

export type Converter = (layer: LayerReader, inputs: Value[], b: Builder, valueName: string) => Value;

export function one(layer: LayerReader, inputs: Value[]): Value {
  if (inputs.length !== 1) layer.error(`takes one input, got ${inputs.length}`);
  return inputs[0]!;
}

export function spatial(layer: LayerReader, v: Value): [number, number, number] {
  if (v.shape.length !== 3) layer.error(`needs an image-like input [H, W, C], got ${fmt(v.shape)}`);
  return v.shape as [number, number, number];
}

/** Applies a layer's `activation` after the node that wrote `v`: as the node's relu flag where it
 * has one, otherwise as its own node. */
export function activate(layer: LayerReader, b: Builder, v: Value, act: string, valueName: string, fusable?: { relu?: boolean }): Value {
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
export function fusedActivation(layer: LayerReader, valueName: string, flat: boolean): { act: string; output: string } {
  const act = layer.activation();
  if (!ACTIVATIONS.includes(act)) layer.error(`activation '${act}' is not supported (linear, relu and softmax are)`);
  if (act === 'softmax' && !flat)
    layer.error(`activation 'softmax' over the channels of an image-like value is not supported (the engine's softmax runs on flat values)`);
  return { act, output: act === 'softmax' ? `${valueName}/logits` : valueName };
}
