/**
 * What the ONNX converters share: the values the nodes so far have defined (in ONNX's names,
 * each with its IR value, layout and shape), the IR nodes and weights written, and per node the
 * input lookups, emitters and error helpers that name the node in every message.
 */
import type { GraphNode, GraphWeight } from '../../graph/ir.js';
import { OnnxImportError } from './errors.js';
import { Attributes } from './attributes.js';
import { decodeTensor, fmt, type DecodedTensor } from './tensor.js';
import type { NodeProto, TensorProto } from './schema.js';

export { OnnxImportError };

/**
 * How an activation looks on both sides. 'nchw': ONNX [N, C, H, W], IR [H, W, C]. 'nc11':
 * ONNX [N, C, 1, 1] (a global pool's output), IR [C]. 'nf': ONNX [N, F], IR [F].
 */
export type Layout = 'nchw' | 'nc11' | 'nf';

export interface Activation {
  kind: 'activation';
  /** The IR value holding it. */
  ir: string;
  layout: Layout;
  /** Per-example IR shape. */
  shape: number[];
}

export interface Constant {
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
 * becomes one per-channel affine node (see patterns.ts).
 */
export interface ChannelOf {
  kind: 'channel';
  source: Activation;
  channel: number;
  /** Gather drops the channel axis; Unsqueeze on axis 1 restores it. */
  squeezed: boolean;
  scale: number;
  shift: number;
  origin: string;
}

export type Value = Activation | Constant | ChannelOf;

/** The state of one import, shared by every node's conversion. */
export interface ImportState {
  fail: (problem: string) => never;
  /** The default domain's opset the model imports. */
  opset: number;
  initializers: Map<string, TensorProto>;
  inputName: string;
  /** The graph input is NHWC and its one reader transposes it to NCHW (tf2onnx; see patterns.ts). */
  nhwcInput: boolean;
  /** How often each ONNX value is read (the graph output counts once), to know when an Add may fold into its producer. */
  readers: Map<string, number>;
  values: Map<string, Value>;
  /** Reads left of each IR value (over all the ONNX names it goes by). */
  pendingReads: Map<string, number>;
  producers: Map<string, GraphNode>;
  nodes: GraphNode[];
  weights: Map<string, GraphWeight>;
  nodeNames: Set<string>;
}

/** Converts one ONNX node, defining its output through the context (emit, alias or define). */
export type Converter = (ctx: NodeContext) => void;

const LAYOUT_NEEDS: Record<Layout, string> = { nchw: 'an [N, C, H, W] image', nc11: 'an [N, C, 1, 1] pooled value', nf: 'an [N, F] matrix' };

/** One node's view of the import: its inputs looked up and checked, its outputs defined, its errors named. */
export class NodeContext {
  readonly opType: string;
  readonly ins: readonly string[];
  /** The node's first output, the only one the importer gives a value. */
  readonly out: string;
  /** The IR node's name: the ONNX name, or one made up, unique among the nodes. */
  readonly irName: string;
  readonly fail: (problem: string) => never;

  constructor(
    readonly state: ImportState,
    readonly node: NodeProto,
    readonly index: number,
  ) {
    this.opType = node.op_type ?? '';
    this.ins = node.input ?? [];
    this.out = node.output?.[0] ?? '';
    const at = nodeLabel(node, index);
    this.fail = (problem: string): never => state.fail(`${at}: ${problem}`);
    let irName = node.name || `${this.opType}_${index}`;
    if (state.nodeNames.has(irName)) irName = `${irName}_${index}`;
    state.nodeNames.add(irName);
    this.irName = irName;
  }

  /** "Gather node #3 'g'", for values that remember where they came from. */
  get origin(): string {
    return `${this.opType} node #${this.index} '${this.node.name ?? ''}'`;
  }

  attrs(allowed: readonly string[]): Attributes {
    return new Attributes(this.node, allowed, this.fail);
  }

  /** What input i holds now, without failing: undefined for a missing or unknown name. */
  peek(i: number): Value | undefined {
    const name = this.ins[i];
    if (!name) return undefined;
    const init = this.state.initializers.get(name);
    return this.state.values.get(name) ?? (init ? { kind: 'constant', tensor: init, origin: `initializer '${name}'` } : undefined);
  }

  valueOf(i: number, what: string): Value {
    const name = this.ins[i];
    if (!name) return this.fail(`input ${i} (${what}) is missing`);
    const v = this.state.values.get(name);
    if (v) return v;
    const init = this.state.initializers.get(name);
    if (init) {
      const c: Constant = { kind: 'constant', tensor: init, origin: `initializer '${name}'` };
      this.state.values.set(name, c);
      return c;
    }
    return this.fail(
      `input ${i} (${what}) '${name}' is not the graph input, an initializer or the output of an earlier node (a missing initializer, or nodes out of order)`,
    );
  }

  activation(i: number, what: string, layouts: readonly Layout[] = ['nchw', 'nc11', 'nf']): Activation {
    const v = this.valueOf(i, what);
    const name = this.ins[i];
    if (v.kind === 'channel')
      return this.fail(
        `input ${i} (${what}) '${name}' is channel ${v.channel} of '${v.source.ir}' taken apart (${v.origin}); a channel taken out with Gather may only be rescaled by scalar constants (Mul, Add, Sub, Div), unsqueezed and concatenated back with all the others in order (PyTorch's transform_input)`,
      );
    if (v.kind !== 'activation') return this.fail(`input ${i} (${what}) '${name}' is a constant (${v.origin}); it must be computed from the graph input`);
    if (!layouts.includes(v.layout)) {
      const onnxShape =
        v.layout === 'nchw' ? `[N, ${v.shape[2]}, ${v.shape[0]}, ${v.shape[1]}]` : v.layout === 'nc11' ? `[N, ${v.shape[0]}, 1, 1]` : `[N, ${v.shape[0]}]`;
      this.fail(`input ${i} (${what}) '${name}' has shape ${onnxShape}; this op needs ${layouts.map((l) => LAYOUT_NEEDS[l]).join(' or ')}`);
    }
    return v;
  }

  constant(i: number, what: string): DecodedTensor {
    const v = this.valueOf(i, what);
    if (v.kind !== 'constant')
      return this.fail(`input ${i} (${what}) '${this.ins[i]}' must be a constant (an initializer or a Constant node), but it is computed from the graph input`);
    return decodeTensor(v.tensor, `input ${i} (${what}), ${v.origin},`, this.fail);
  }

  floats(i: number, what: string, shape?: number[]): Float32Array {
    const t = this.constant(i, what);
    if (t.isInteger) this.fail(`input ${i} (${what}) '${this.ins[i]}' must be floating point, got an integer tensor`);
    if (shape && (t.dims.length !== shape.length || t.dims.some((d, k) => d !== shape[k])))
      this.fail(`input ${i} (${what}) '${this.ins[i]}' must have shape ${fmt(shape)}, got ${fmt(t.dims)}`);
    return t.values as Float32Array;
  }

  /** Adds a weight under `preferred`, or that name with a suffix when it is taken; returns the name used. */
  addWeight(preferred: string, shape: number[], data: Float32Array): string {
    const weights = this.state.weights;
    let name = preferred || 'weight';
    for (let k = 1; weights.has(name); k++) name = `${preferred}_${k}`;
    weights.set(name, { shape, data });
    return name;
  }

  define(v: Value): void {
    this.state.values.set(this.out, v);
  }

  /** Appends an IR node whose output is this node's output. */
  emit(n: GraphNode, layout: Layout, shape: number[]): void {
    const s = this.state;
    s.nodes.push(n);
    s.producers.set(n.output, n);
    s.pendingReads.set(n.output, s.readers.get(this.out) ?? 0);
    this.define({ kind: 'activation', ir: n.output, layout, shape });
  }

  /** The output is the input under another name: no IR node. */
  alias(a: Activation, layout: Layout = a.layout): void {
    const s = this.state;
    s.pendingReads.set(a.ir, (s.pendingReads.get(a.ir) ?? 0) - 1 + (s.readers.get(this.out) ?? 0));
    this.define({ kind: 'activation', ir: a.ir, layout, shape: a.shape });
  }

  consumed(a: Activation): void {
    this.state.pendingReads.set(a.ir, (this.state.pendingReads.get(a.ir) ?? 0) - 1);
  }
}

/** "node #3 'conv1' (Conv)": how every message names a node. */
export function nodeLabel(node: NodeProto, index: number): string {
  return `node #${index} '${node.name ?? ''}' (${node.op_type ?? ''})`;
}
