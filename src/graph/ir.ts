/**
 * The engine's graph IR: what every importer (ONNX, TensorFlow.js layers) produces, what the
 * ONNX exporter consumes, and what `compileGraph` (graph/execute.ts) runs with the engine's
 * kernels. It is deliberately small: one node kind per engine op family, NHWC activations,
 * HWIO conv weights and [in, out] dense weights, so running a graph is a walk that calls ops
 * with no layout work in between. Importers do the layout conversions once, at load time.
 *
 * Shapes of values are per example (no batch axis): [H, W, C] for an image-like value, [F] for
 * a flat one. The batch is chosen when the graph runs.
 */
import { InvalidArgumentError } from '../runtime/errors.js';
import type { Tensor } from '../runtime/tensor.js';
import { negativeVarianceProblem, nonFiniteProblem } from '../io/weight-values.js';

/** A weight held on the host until the graph is compiled; `shape` in the engine's layout. */
export interface GraphWeight {
  shape: number[];
  data: Float32Array;
}

/**
 * A weight that already lives on the GPU (a model's own parameter), so a graph can be built
 * and compiled without reading it back. The compiled plan reads the tensor as it is at each
 * run, except for what it derives at compile time (folded BatchNorm constants): recompile
 * after changing such values. The plan never frees it; its owner does.
 */
export interface GraphTensorWeight {
  shape: number[];
  tensor: Tensor;
}

/** Any weight a graph may hold: on the host (importers) or on the GPU. */
export type AnyGraphWeight = GraphWeight | GraphTensorWeight;

/** [top, bottom, left, right] in input pixels, resolved by the importer. */
export type GraphPadding = [number, number, number, number];

interface NodeBase {
  /** Unique node name; importers keep the source's name (an ONNX node name, a Keras layer name)
   * so errors and profiles point back at the file. */
  name: string;
  /** Names of the values this node reads. */
  inputs: string[];
  /** The one value it writes. */
  output: string;
}

/** 2-D convolution, NHWC in and out; `weight` names a [KH, KW, Cin, Cout] weight. */
export interface Conv2dNode extends NodeBase {
  op: 'conv2d';
  weight: string;
  bias?: string;
  stride: [number, number];
  padding: GraphPadding;
  /** ReLU applied as the result is written (set by importers for fused activations and by
   * the compiler when it folds a following relu node). */
  relu?: boolean;
}

/** Inference BatchNorm: y = γ (x − mean) / √(var + eps) + β over the channel axis (the last). */
export interface BatchNormNode extends NodeBase {
  op: 'batchNorm';
  /** Absent γ means 1 (Keras `scale=False`); absent β means 0 (`center=False`). */
  gamma?: string;
  beta?: string;
  mean: string;
  variance: string;
  eps: number;
}

export interface ReluNode extends NodeBase {
  op: 'relu';
}

export interface MaxPoolNode extends NodeBase {
  op: 'maxPool';
  kernel: [number, number];
  stride: [number, number];
  padding: GraphPadding;
}

export interface AvgPoolNode extends NodeBase {
  op: 'avgPool';
  kernel: [number, number];
  stride: [number, number];
  padding: GraphPadding;
  /** true: divide by KH·KW (PyTorch's default, ONNX count_include_pad=1); false: by the real
   * elements in the window (Keras, TF-slim, ONNX's default). */
  countIncludePad: boolean;
}

/** [H, W, C] → [C]. */
export interface GlobalAvgPoolNode extends NodeBase {
  op: 'globalAvgPool';
}

/** Concatenation along the channel axis (the last) of values with equal other dimensions. */
export interface ConcatNode extends NodeBase {
  op: 'concat';
}

/**
 * [H, W, C] → [H·W·C]. 'hwc' keeps the engine's NHWC order (Keras's Flatten); 'chw' produces
 * the order an NCHW framework's flatten would (ONNX, PyTorch), so a following dense layer's
 * weights need no permutation. On a [1, 1, C] or flat value both orders are the same.
 */
export interface FlattenNode extends NodeBase {
  op: 'flatten';
  order: 'hwc' | 'chw';
}

/** Dense layer: [F] → [U] with a [F, U] weight. */
export interface DenseNode extends NodeBase {
  op: 'dense';
  weight: string;
  bias?: string;
  relu?: boolean;
}

/** Elementwise sum of two values of the same shape (residual connections). */
export interface AddNode extends NodeBase {
  op: 'add';
}

/** Softmax over the last axis of a flat value. */
export interface SoftmaxNode extends NodeBase {
  op: 'softmax';
}

/** Identity at inference; kept so a graph round-trips and names stay where the source had them. */
export interface DropoutNode extends NodeBase {
  op: 'dropout';
  rate: number;
}

export type GraphNode =
  | Conv2dNode
  | BatchNormNode
  | ReluNode
  | MaxPoolNode
  | AvgPoolNode
  | GlobalAvgPoolNode
  | ConcatNode
  | FlattenNode
  | DenseNode
  | AddNode
  | SoftmaxNode
  | DropoutNode;

export type GraphOpName = GraphNode['op'];

export const GRAPH_OPS: readonly GraphOpName[] = [
  'conv2d',
  'batchNorm',
  'relu',
  'maxPool',
  'avgPool',
  'globalAvgPool',
  'concat',
  'flatten',
  'dense',
  'add',
  'softmax',
  'dropout',
];

export interface GraphInput {
  name: string;
  /** Per-example shape, [H, W, C]. */
  shape: number[];
}

/** W: what its weights are. Importers and the ONNX exporter use host weights (the default);
 * the engine's own Inception-v3 runs from its GPU tensors. */
export interface Graph<W extends AnyGraphWeight = GraphWeight> {
  /** Where it came from ("model.onnx", "tfjs:model.json", "incept:inception-v3"); used in errors. */
  source: string;
  input: GraphInput;
  /** The value the graph returns (logits or probabilities, [classes]). */
  output: string;
  /** In an order where every node comes after the producers of its inputs. */
  nodes: GraphNode[];
  weights: Map<string, W>;
  /** Whether `output` is already a probability distribution (the source ended in a softmax). */
  outputIsProbabilities?: boolean;
}

/** The graph is malformed or uses something the engine does not run; the message says where. */
export class GraphError extends InvalidArgumentError {}

/** Names of the weights a node reads, in a fixed order. */
export function nodeWeights(node: GraphNode): string[] {
  switch (node.op) {
    case 'conv2d':
    case 'dense':
      return node.bias ? [node.weight, node.bias] : [node.weight];
    case 'batchNorm':
      return [node.gamma, node.beta, node.mean, node.variance].filter((w): w is string => w !== undefined);
    default:
      return [];
  }
}

/**
 * The first weight value that would make the graph's outputs NaN or infinite, in words (the
 * weight named, the element given), or undefined: a NaN or ±Infinity in any weight a node reads,
 * a negative BatchNorm variance. Importers call it on the graph they built and refuse the file
 * with the message; weights no node reads are not looked at.
 */
export function weightValueProblem(graph: Graph): string | undefined {
  const seen = new Set<string>();
  for (const node of graph.nodes) {
    for (const name of nodeWeights(node)) {
      const w = graph.weights.get(name);
      if (!w || seen.has(name)) continue;
      seen.add(name);
      const bad = nonFiniteProblem(`weight '${name}'`, w.data, w.shape);
      if (bad) return bad;
    }
    if (node.op === 'batchNorm') {
      const v = graph.weights.get(node.variance);
      const bad = v && negativeVarianceProblem(`weight '${node.variance}' is the variance of BatchNorm node '${node.name}'`, v.data);
      if (bad) return bad;
    }
  }
  return undefined;
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

function fmt(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function poolOrConvOutput(where: string, h: number, w: number, kernel: [number, number], stride: [number, number], padding: GraphPadding): [number, number] {
  const oh = Math.floor((h + padding[0] + padding[1] - kernel[0]) / stride[0]) + 1;
  const ow = Math.floor((w + padding[2] + padding[3] - kernel[1]) / stride[1]) + 1;
  if (!(oh >= 1 && ow >= 1)) {
    throw new GraphError(
      `${where}: a ${kernel[0]}×${kernel[1]} window with stride ${stride.join('×')} and padding ${fmt(padding)} does not fit a ${h}×${w} input`,
    );
  }
  return [oh, ow];
}

/** A zero stride or a negative padding would give nonsense output sizes (and reach the kernels
 * as nonsense), so they are refused where shapes are inferred, naming the node. */
function checkGeometry(node: GraphNode, where: string): void {
  if (node.op !== 'conv2d' && node.op !== 'maxPool' && node.op !== 'avgPool') return;
  const ints = (v: unknown, length: number, min: number): boolean => Array.isArray(v) && v.length === length && v.every((d) => Number.isInteger(d) && d >= min);
  if (!ints(node.stride, 2, 1)) throw new GraphError(`${where}: stride must be [strideH, strideW] of positive integers, got ${JSON.stringify(node.stride)}`);
  if (!ints(node.padding, 4, 0))
    throw new GraphError(`${where}: padding must be [top, bottom, left, right] of non-negative integers, got ${JSON.stringify(node.padding)}`);
  if (node.op !== 'conv2d' && !ints(node.kernel, 2, 1))
    throw new GraphError(`${where}: kernel must be [KH, KW] of positive integers, got ${JSON.stringify(node.kernel)}`);
}

/**
 * Checks the graph and returns the per-example shape of every value. Every error names the
 * graph's source and the node, so an importer's mistake or a file's oddity is found at load
 * time, not as a WebGPU error in the middle of a run.
 */
export function inferShapes(graph: Graph<AnyGraphWeight>): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  const at = (node: GraphNode): string => `${graph.source}: node '${node.name}' (${node.op})`;
  if (graph.input.shape.length !== 3 || !graph.input.shape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new GraphError(
      `${graph.source}: the input '${graph.input.name}' must have a per-example shape [H, W, C] of positive integers, got ${fmt(graph.input.shape)}`,
    );
  }
  shapes.set(graph.input.name, [...graph.input.shape]);
  const weight = (node: GraphNode, name: string): AnyGraphWeight => {
    const w = graph.weights.get(name);
    if (!w) throw new GraphError(`${at(node)} reads the weight '${name}', which the graph does not hold`);
    return w;
  };
  const names = new Set<string>();
  for (const node of graph.nodes) {
    if (names.has(node.name)) throw new GraphError(`${graph.source}: two nodes are named '${node.name}'`);
    names.add(node.name);
    if (!GRAPH_OPS.includes(node.op)) throw new GraphError(`${at(node)}: unknown op`);
    checkGeometry(node, at(node));
    const ins = node.inputs.map((name) => {
      const s = shapes.get(name);
      if (!s) throw new GraphError(`${at(node)} reads '${name}', which no earlier node writes (the nodes must be in dependency order)`);
      return s;
    });
    if (shapes.has(node.output)) throw new GraphError(`${at(node)} writes '${node.output}', which is already written earlier`);
    const expectInputs = (n: number): void => {
      if (ins.length !== n) throw new GraphError(`${at(node)} takes ${n} input${n === 1 ? '' : 's'}, got ${ins.length}`);
    };
    const spatial = (s: number[]): [number, number, number] => {
      if (s.length !== 3) throw new GraphError(`${at(node)} needs an [H, W, C] input, got ${fmt(s)}`);
      return s as [number, number, number];
    };
    let out: number[];
    switch (node.op) {
      case 'conv2d': {
        expectInputs(1);
        const [h, w, c] = spatial(ins[0]!);
        const wt = weight(node, node.weight);
        if (wt.shape.length !== 4 || wt.shape[2] !== c) {
          throw new GraphError(`${at(node)}: weight '${node.weight}' must be [KH, KW, ${c}, Cout] for a ${c}-channel input, got ${fmt(wt.shape)}`);
        }
        const [kh, kw, , cout] = wt.shape as [number, number, number, number];
        if (node.bias !== undefined && !sameShape(weight(node, node.bias).shape, [cout])) {
          throw new GraphError(`${at(node)}: bias '${node.bias}' must be [${cout}], got ${fmt(weight(node, node.bias).shape)}`);
        }
        out = [...poolOrConvOutput(at(node), h, w, [kh, kw], node.stride, node.padding), cout];
        break;
      }
      case 'batchNorm': {
        expectInputs(1);
        const s = ins[0]!;
        const c = s[s.length - 1]!;
        for (const name of nodeWeights(node)) {
          if (!sameShape(weight(node, name).shape, [c]))
            throw new GraphError(`${at(node)}: '${name}' must be [${c}] for a ${c}-channel input, got ${fmt(weight(node, name).shape)}`);
        }
        if (!(node.eps > 0)) throw new GraphError(`${at(node)}: eps must be positive, got ${node.eps}`);
        out = [...s];
        break;
      }
      case 'relu':
      case 'dropout':
        expectInputs(1);
        out = [...ins[0]!];
        break;
      case 'maxPool':
      case 'avgPool': {
        expectInputs(1);
        const [h, w, c] = spatial(ins[0]!);
        out = [...poolOrConvOutput(at(node), h, w, node.kernel, node.stride, node.padding), c];
        break;
      }
      case 'globalAvgPool':
        expectInputs(1);
        out = [spatial(ins[0]!)[2]];
        break;
      case 'concat': {
        if (ins.length < 1) throw new GraphError(`${at(node)} needs at least one input`);
        const first = ins[0]!;
        for (const s of ins) {
          if (s.length !== first.length || !sameShape(s.slice(0, -1), first.slice(0, -1))) {
            throw new GraphError(`${at(node)}: inputs must agree on every axis but the channels, got ${ins.map(fmt).join(', ')}`);
          }
        }
        out = [...first.slice(0, -1), ins.reduce((sum, s) => sum + s[s.length - 1]!, 0)];
        break;
      }
      case 'flatten':
        expectInputs(1);
        out = [ins[0]!.reduce((a, b) => a * b, 1)];
        break;
      case 'dense': {
        expectInputs(1);
        const s = ins[0]!;
        if (s.length !== 1) throw new GraphError(`${at(node)} needs a flat [F] input (flatten or pool first), got ${fmt(s)}`);
        const wt = weight(node, node.weight);
        if (wt.shape.length !== 2 || wt.shape[0] !== s[0])
          throw new GraphError(`${at(node)}: weight '${node.weight}' must be [${s[0]}, units], got ${fmt(wt.shape)}`);
        const units = wt.shape[1]!;
        if (node.bias !== undefined && !sameShape(weight(node, node.bias).shape, [units])) {
          throw new GraphError(`${at(node)}: bias '${node.bias}' must be [${units}], got ${fmt(weight(node, node.bias).shape)}`);
        }
        out = [units];
        break;
      }
      case 'add':
        expectInputs(2);
        if (!sameShape(ins[0]!, ins[1]!)) throw new GraphError(`${at(node)}: inputs must have the same shape, got ${fmt(ins[0]!)} and ${fmt(ins[1]!)}`);
        out = [...ins[0]!];
        break;
      case 'softmax':
        expectInputs(1);
        if (ins[0]!.length !== 1) throw new GraphError(`${at(node)}: softmax runs over a flat [F] value, got ${fmt(ins[0]!)}`);
        out = [...ins[0]!];
        break;
    }
    shapes.set(node.output, out);
  }
  for (const [name, w] of graph.weights) {
    const size = w.shape.reduce((a, b) => a * b, 1);
    const held = 'tensor' in w ? w.tensor.size : w.data.length;
    if (held !== size) throw new GraphError(`${graph.source}: weight '${name}' has shape ${fmt(w.shape)} (${size} values) but holds ${held}`);
  }
  if (!shapes.has(graph.output)) throw new GraphError(`${graph.source}: the output '${graph.output}' is written by no node`);
  return shapes;
}
