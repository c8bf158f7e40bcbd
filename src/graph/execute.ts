/**
 * Runs an IR graph (ir.ts) with the engine's kernels. `compileGraph` checks the graph, uploads
 * its host weights once (tensor weights are used where they are) and turns the nodes into a
 * list of steps; `run` walks the steps.
 *
 * With `fuse` (the default) the plan is the one the native Inception-v3 runs (its forward compiles
 * its own graph, graph/inception-v3-graph.ts):
 * - BatchNorm after a conv2d or dense layer whose output feeds nothing else is folded into that
 *   layer's write-out epilogue (scale and shift formed once, here: on the host in float64 from
 *   host weights, on the GPU from tensor weights, which are never read back);
 * - a relu is fused into the conv2d / dense / BatchNorm before it when that value feeds
 *   nothing else;
 * - a BatchNorm on its own runs as one scaleShift pass with folded constants (so does one after
 *   a conv or dense layer with a bias when its weights are tensors: the GPU fold takes no bias);
 * - a concat costs nothing when its producers can write straight into their channel slice of
 *   its output (a value feeding only that concat, made by an op that takes a channel view as
 *   `out`); other inputs are copied into their slice. Concats nested in concats resolve to one
 *   slice of the outermost output.
 * Dropout is identity (an alias, in both modes), and 'hwc' flatten is a reshape. Without
 * `fuse`, every node runs as its own op: the plan tests compare the fused one against. With
 * `foldBatchNorm: false` the plan is fused but BatchNorm runs from its four tensors (with a
 * following ReLU, and in place into a concat): the model's unfolded reference.
 *
 * Intermediates are freed right after their last reader; every dispatch is filed under the
 * name of the node it belongs to (a fused chain under its first node's name), or the layer
 * `layerName` gives it.
 */
import type { Engine } from '../runtime/engine.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import type { Tensor } from '../runtime/tensor.js';
import { conv2d } from '../ops/conv2d.js';
import { matmul } from '../ops/matmul.js';
import { batchNormInference, foldBatchNormInference } from '../ops/batchnorm.js';
import { foldBatchNorm, type Epilogue } from '../ops/epilogue.js';
import { avgPool2d, globalAvgPool, maxPool2d, resolvePoolGeometry } from '../ops/pool2d.js';
import { concatChannels } from '../ops/concat.js';
import { add, relu, scaleShift } from '../ops/elementwise.js';
import { softmax } from '../ops/softmax.js';
import { transpose } from '../ops/transpose.js';
import {
  GraphError,
  inferShapes,
  type AnyGraphWeight,
  type BatchNormNode,
  type Conv2dNode,
  type DenseNode,
  type Graph,
  type GraphNode,
  type GraphWeight,
} from './ir.js';

export interface CompileGraphOptions {
  /** Fold BatchNorm and ReLU into the ops before them and write concat inputs in place
   * (default true); false runs every node as its own op. */
  fuse?: boolean;
  /** With `fuse`: fold BatchNorm into the op before it or into one scale-shift pass (default
   * true); false runs it from γ, β and the running statistics, as trained. */
  foldBatchNorm?: boolean;
  /** The profiler layer a node's dispatches are filed under (default: the node's name). */
  layerName?: (node: GraphNode) => string;
}

export interface GraphModel<W extends AnyGraphWeight = GraphWeight> {
  readonly graph: Graph<W>;
  /** Per example [H, W, C]. */
  readonly inputShape: readonly [number, number, number];
  /** The output value's [F]. */
  readonly outputSize: number;
  readonly outputIsProbabilities: boolean;
  /** Trainable parameters: every weight of the source graph except BatchNorm's running mean
   * and variance (statistics, not parameters, as PyTorch counts them). */
  readonly parameterCount: number;
  /** x: [N, H, W, C] f32 on the same engine → [N, outputSize]; the caller disposes the result. */
  run(x: Tensor): Tensor<'f32'>;
  /** Frees every GPU weight; run afterwards throws. */
  dispose(): void;
}

/** One op of the plan, reading and writing values by (canonical) name. */
type Step =
  | { kind: 'linear'; layer: string; node: Conv2dNode | DenseNode; input: string; output: string; weight: Tensor; epilogue: Epilogue | undefined }
  | {
      kind: 'batchNorm';
      layer: string;
      node: BatchNormNode;
      input: string;
      output: string;
      relu: boolean;
      folded?: { scale: Tensor; shift: Tensor };
      params?: { gamma: Tensor | null; beta: Tensor | null; mean: Tensor; variance: Tensor };
    }
  | { kind: 'relu' | 'maxPool' | 'avgPool' | 'globalAvgPool' | 'flatten' | 'softmax'; layer: string; node: GraphNode; input: string; output: string }
  | { kind: 'add'; layer: string; input: string; other: string; output: string }
  | { kind: 'concat'; layer: string; inputs: string[]; output: string };

/** Where a value is written when it goes straight into a concat's output: the outermost
 * concat value that owns the buffer and the channel offset inside it. */
interface Slot {
  root: string;
  offset: number;
}

/** Steps that take a channel view as `out`. */
const WRITES_VIEWS = new Set<Step['kind']>(['linear', 'batchNorm', 'relu', 'maxPool', 'avgPool', 'globalAvgPool', 'add', 'concat']);

const fmt = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

export function compileGraph<W extends AnyGraphWeight = GraphWeight>(engine: Engine, graph: Graph<W>, options: CompileGraphOptions = {}): GraphModel<W> {
  const fuse = options.fuse ?? true;
  const foldBN = fuse && (options.foldBatchNorm ?? true);
  const layerName = options.layerName ?? ((node: GraphNode) => node.name);
  const shapes = inferShapes(graph);
  const source = graph.source;
  const outShape = shapes.get(graph.output)!;
  if (outShape.length !== 1) {
    throw new GraphError(
      `${source}: the output '${graph.output}' must be a flat [F] value (logits or probabilities), got ${fmt(outShape)}; end the graph with a flatten, a global pool or a dense layer`,
    );
  }
  const [h, w, c] = graph.input.shape as [number, number, number];
  const inputName = graph.input.name;

  // Dropout is identity: its output is another name for its input.
  const alias = new Map<string, string>();
  const canonical = (v: string): string => alias.get(v) ?? v;
  for (const node of graph.nodes) if (node.op === 'dropout') alias.set(node.output, canonical(node.inputs[0]!));
  const output = canonical(graph.output);

  // Only nodes the output depends on run.
  const producer = new Map<string, GraphNode>();
  for (const node of graph.nodes) if (node.op !== 'dropout') producer.set(node.output, node);
  const needed = new Set<GraphNode>();
  const pending = [output];
  while (pending.length > 0) {
    const node = producer.get(pending.pop()!);
    if (!node || needed.has(node)) continue;
    needed.add(node);
    pending.push(...node.inputs.map(canonical));
  }
  const nodes = graph.nodes.filter((n) => needed.has(n));

  // Readers of each value, one entry per input position (concat(x, x) reads x twice).
  const readers = new Map<string, GraphNode[]>();
  for (const node of nodes) for (const i of node.inputs) readers.set(canonical(i), [...(readers.get(canonical(i)) ?? []), node]);
  /** The one node reading v, when v is read once and is not the graph's output. */
  const soleReader = (v: string): GraphNode | undefined => {
    const r = readers.get(v);
    return r?.length === 1 && v !== output ? r[0] : undefined;
  };

  const weights: Tensor[] = [];
  const uploaded = new Map<string, Tensor>();
  const upload = (data: Float32Array, shape: number[]): Tensor => {
    const t = engine.keep(engine.tensor(data, shape));
    weights.push(t);
    return t;
  };
  const weightTensor = (name: string): Tensor => {
    const gw: AnyGraphWeight = graph.weights.get(name)!;
    if ('tensor' in gw) return liveWeight(name, gw.tensor, gw.shape);
    let t = uploaded.get(name);
    if (!t) {
      t = upload(gw.data, gw.shape);
      uploaded.set(name, t);
    }
    return t;
  };
  /** A weight given as a tensor, checked once here rather than as a kernel error mid-run. */
  const liveWeight = (name: string, t: Tensor, shape: readonly number[]): Tensor => {
    if (t.owner !== (engine as unknown) || t.isDisposed || t.dtype !== 'f32' || t.rank !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new GraphError(`${source}: weight '${name}' must be a live f32 ${fmt(shape)} tensor of the engine the graph is compiled for, got ${t.describe()}`);
    }
    return t;
  };
  const onHost = (name: string | undefined): boolean => name === undefined || !('tensor' in graph.weights.get(name)!);
  const hostWeight = (name: string | undefined): Float32Array | undefined => {
    const gw: AnyGraphWeight | undefined = name === undefined ? undefined : graph.weights.get(name);
    return gw && 'data' in gw ? gw.data : undefined;
  };
  /** Whether a BatchNorm (after a layer with this bias) can become one scale and shift: always
   * from host weights; from tensors only without a bias, which the GPU fold does not take. */
  const foldable = (bn: BatchNormNode, bias?: string): boolean =>
    foldBN && (bias === undefined || [bn.gamma, bn.beta, bn.mean, bn.variance, bias].every(onHost));
  const foldedConstants = (bn: BatchNormNode, bias: string | undefined, channels: number, layer: string): { scale: Tensor; shift: Tensor } => {
    if ([bn.gamma, bn.beta, bn.mean, bn.variance, bias].every(onHost)) {
      const params = { gamma: hostWeight(bn.gamma), beta: hostWeight(bn.beta), mean: hostWeight(bn.mean)!, variance: hostWeight(bn.variance)!, eps: bn.eps };
      const folded = foldBatchNorm(params, hostWeight(bias));
      return { scale: upload(folded.scale, [channels]), shift: upload(folded.shift, [channels]) };
    }
    // Formed on the GPU, so a model's parameters are never read back; filed under the layer as
    // the dispatches of its forward are.
    const opt = (name: string | undefined) => (name === undefined ? null : weightTensor(name));
    const { gamma, beta, mean, variance } = { gamma: opt(bn.gamma), beta: opt(bn.beta), mean: weightTensor(bn.mean), variance: weightTensor(bn.variance) };
    const folded = engine.profiler.withLayer(layer, () => foldBatchNormInference(gamma, beta, mean, variance, { eps: bn.eps }));
    weights.push(engine.keep(folded.scale), engine.keep(folded.shift));
    return folded;
  };
  const at = (node: GraphNode): string => `${source}: node '${node.name}' (${node.op})`;

  const steps: Step[] = [];
  const absorbed = new Set<GraphNode>();
  try {
    for (const node of nodes) {
      if (absorbed.has(node)) continue;
      const input = canonical(node.inputs[0] ?? '');
      switch (node.op) {
        case 'conv2d':
        case 'dense': {
          let out = node.output;
          let bn: BatchNormNode | undefined;
          let withRelu = node.relu ?? false;
          if (fuse) {
            const next = soleReader(out);
            // A ReLU already applied comes before the BatchNorm, so that one cannot fold.
            if (!withRelu && next?.op === 'batchNorm' && foldable(next, node.bias)) {
              bn = next;
              absorbed.add(next);
              out = next.output;
            }
            const after = soleReader(out);
            if (after?.op === 'relu') {
              withRelu = true;
              absorbed.add(after);
              out = after.output;
            }
          }
          const cout = graph.weights.get(node.weight)!.shape.at(-1)!;
          let epilogue: Epilogue | undefined;
          if (bn) {
            epilogue = { ...foldedConstants(bn, node.bias, cout, layerName(node)), relu: withRelu };
          } else if (node.bias !== undefined || withRelu) {
            epilogue = { ...(node.bias !== undefined ? { shift: weightTensor(node.bias) } : {}), relu: withRelu };
          }
          steps.push({ kind: 'linear', layer: layerName(node), node, input, output: out, weight: weightTensor(node.weight), epilogue });
          break;
        }
        case 'batchNorm': {
          let out = node.output;
          let withRelu = false;
          if (fuse) {
            const after = soleReader(out);
            if (after?.op === 'relu') {
              withRelu = true;
              absorbed.add(after);
              out = after.output;
            }
          }
          const layer = layerName(node);
          if (foldable(node)) {
            const folded = foldedConstants(node, undefined, shapes.get(node.output)!.at(-1)!, layer);
            steps.push({ kind: 'batchNorm', layer, node, input, output: out, relu: withRelu, folded });
          } else {
            const opt = (name: string | undefined) => (name === undefined ? null : weightTensor(name));
            const params = { gamma: opt(node.gamma), beta: opt(node.beta), mean: weightTensor(node.mean), variance: weightTensor(node.variance) };
            steps.push({ kind: 'batchNorm', layer, node, input, output: out, relu: withRelu, params });
          }
          break;
        }
        case 'maxPool':
        case 'avgPool': {
          const [ph, pw, pc] = shapes.get(input)!;
          try {
            // The IR allows windows entirely in the padding; the kernels do not, so say so now.
            resolvePoolGeometry(at(node), [1, ph!, pw!, pc!], { kernel: node.kernel, stride: node.stride, padding: node.padding });
          } catch (e) {
            throw e instanceof GraphError ? e : new GraphError((e as Error).message);
          }
          steps.push({ kind: node.op, layer: layerName(node), node, input, output: node.output });
          break;
        }
        case 'relu':
        case 'globalAvgPool':
        case 'flatten':
        case 'softmax':
          steps.push({ kind: node.op, layer: layerName(node), node, input, output: node.output });
          break;
        case 'add':
          steps.push({ kind: 'add', layer: layerName(node), input, other: canonical(node.inputs[1]!), output: node.output });
          break;
        case 'concat':
          steps.push({ kind: 'concat', layer: layerName(node), inputs: node.inputs.map(canonical), output: node.output });
          break;
        case 'dropout':
          break;
      }
    }
  } catch (e) {
    for (const t of weights) t.dispose();
    throw e;
  }

  // Zero-copy concat: which values are written straight into a slice of a concat's output.
  const slotIn = new Map<string, { concat: string; offset: number }>();
  if (fuse) {
    const madeBy = new Map(steps.map((s) => [s.output, s]));
    for (const s of steps) {
      if (s.kind !== 'concat') continue;
      let offset = 0;
      for (const v of s.inputs) {
        const maker = madeBy.get(v);
        if (maker && WRITES_VIEWS.has(maker.kind) && soleReader(v) !== undefined && v !== inputName) slotIn.set(v, { concat: s.output, offset });
        offset += shapes.get(v)!.at(-1)!;
      }
    }
  }
  const slots = new Map<string, Slot>();
  const slotOf = (v: string): Slot | undefined => {
    const direct = slotIn.get(v);
    if (!direct) return undefined;
    let s = slots.get(v);
    if (!s) {
      const outer = slotOf(direct.concat);
      s = outer ? { root: outer.root, offset: outer.offset + direct.offset } : { root: direct.concat, offset: direct.offset };
      slots.set(v, s);
    }
    return s;
  };

  // What each step reads (as tensors), and the last step reading each value.
  const readsOf = (s: Step): string[] => {
    switch (s.kind) {
      case 'add':
        return [s.input, s.other];
      case 'concat':
        return s.inputs.filter((v) => !slotIn.has(v));
      default:
        return [s.input];
    }
  };
  const layerOfValue = new Map(steps.map((s) => [s.output, s.layer]));
  const lastRead = new Map<string, number>();
  steps.forEach((s, i) => readsOf(s).forEach((v) => lastRead.set(v, i)));

  const parameterCount = (() => {
    const statistics = new Set<string>();
    for (const node of graph.nodes) if (node.op === 'batchNorm') statistics.add(node.mean).add(node.variance);
    let count = 0;
    for (const [name, gw] of graph.weights) if (!statistics.has(name)) count += gw.shape.reduce((a, b) => a * b, 1);
    return count;
  })();

  let disposed = false;
  const expected = `f32 [N, ${h}, ${w}, ${c}] (NHWC)`;

  const run = (x: Tensor): Tensor<'f32'> => {
    const where = `${source}: run`;
    if (disposed) throw new InvalidArgumentError(`${where}: the model was disposed`);
    if (x === null || typeof x !== 'object' || !('shape' in x)) throw new InvalidArgumentError(`${where}: x must be a tensor ${expected}, got ${String(x)}`);
    if (x.owner !== (engine as unknown))
      throw new InvalidArgumentError(`${where}: x (${x.describe()}) belongs to another engine than the one the graph was compiled for`);
    if (x.isDisposed) throw new InvalidArgumentError(`${where}: x (${x.describe()}) was disposed`);
    if (x.dtype !== 'f32' || x.rank !== 4 || x.shape[1] !== h || x.shape[2] !== w || x.shape[3] !== c || x.shape[0]! < 1) {
      throw new InvalidArgumentError(`${where}: x must be ${expected} with N ≥ 1, got ${x.describe()}`);
    }
    if (x.slice) throw new InvalidArgumentError(`${where}: x is ${x.describe()}, a channel view; pass a plain tensor`);
    const n = x.shape[0]!;
    return engine.scope(() => {
      const tensors = new Map<string, Tensor>([[inputName, x]]);
      const get = (v: string): Tensor => tensors.get(v)!;
      /** The whole output of a root concat, allocated when its first writer runs. */
      const rootTensor = (root: string, layer: string): Tensor => {
        let t = tensors.get(root);
        if (!t) {
          const s = shapes.get(root)!;
          t = engine.profiler.withLayer(layer, () => engine.empty([n, ...s], 'f32', root));
          tensors.set(root, t);
        }
        return t;
      };
      /** Where a step's result goes: a channel view of its concat's output, or nowhere given. */
      const destination = (v: string): Tensor | undefined => {
        const slot = slotOf(v);
        return slot && rootTensor(slot.root, layerOfValue.get(slot.root)!).channelView(slot.offset, shapes.get(v)!.at(-1)!);
      };
      /** An [N, F] value as [N, 1, 1, F] or back, for ops that want one or the other. */
      const asRows = (t: Tensor, shape: number[]): Tensor => t.reshape([n, ...shape]);

      steps.forEach((step, i) => {
        engine.profiler.withLayer(step.layer, () => {
          const out = destination(step.output);
          const o = out ? { out } : {};
          let y: Tensor | undefined;
          switch (step.kind) {
            case 'linear': {
              const xin = get(step.input);
              const epi = step.epilogue ? { epilogue: step.epilogue } : {};
              if (step.node.op === 'conv2d') {
                y = conv2d(xin, step.weight, { stride: step.node.stride, padding: step.node.padding, ...epi, ...o });
              } else {
                y = matmul(xin, step.weight, { ...epi, ...o });
              }
              break;
            }
            case 'batchNorm': {
              const xin = get(step.input);
              if (step.folded) y = scaleShift(xin, step.folded.scale, step.folded.shift, { relu: step.relu, ...o });
              else {
                const p = step.params!;
                y = batchNormInference(xin, p.gamma, p.beta, p.mean, p.variance, { eps: step.node.eps, relu: step.relu, ...o });
              }
              break;
            }
            case 'relu':
              y = relu(get(step.input), o);
              break;
            case 'add':
              y = add(get(step.input), get(step.other), o);
              break;
            case 'maxPool':
            case 'avgPool': {
              const node = step.node as Extract<GraphNode, { op: 'maxPool' | 'avgPool' }>;
              const geometry = { kernel: node.kernel, stride: node.stride, padding: node.padding, ...o };
              y =
                node.op === 'maxPool'
                  ? maxPool2d(get(step.input), geometry).y
                  : avgPool2d(get(step.input), { ...geometry, countIncludePad: node.countIncludePad });
              break;
            }
            case 'globalAvgPool': {
              const channels = shapes.get(step.output)![0]!;
              // The pool writes [N, 1, 1, C]; the value is flat, [N, C].
              if (out) {
                const out4 = asRows(out, [1, 1, channels]);
                globalAvgPool(get(step.input), { out: out4 });
                out4.dispose();
                y = out;
              } else {
                const y4 = globalAvgPool(get(step.input));
                y = asRows(y4, [channels]);
                y4.dispose();
              }
              break;
            }
            case 'flatten': {
              const xin = get(step.input);
              const s = shapes.get(step.input)!;
              const size = shapes.get(step.output)![0]!;
              if ((step.node as Extract<GraphNode, { op: 'flatten' }>).order === 'hwc' || s.length !== 3 || s[0]! * s[1]! === 1 || s[2] === 1) {
                y = asRows(xin, [size]);
              } else {
                // NCHW order: per example [H·W, C] → [C, H·W].
                const rows = asRows(xin, [s[0]! * s[1]!, s[2]!]);
                const chw = transpose(rows);
                rows.dispose();
                y = asRows(chw, [size]);
                chw.dispose();
              }
              break;
            }
            case 'softmax':
              y = softmax(get(step.input));
              break;
            case 'concat': {
              const root = out ?? rootTensor(step.output, step.layer);
              let offset = 0;
              for (const v of step.inputs) {
                const width = shapes.get(v)!.at(-1)!;
                if (!slotIn.has(v)) {
                  const slice = root.channelView(offset, width);
                  concatChannels([get(v)], { out: slice });
                  slice.dispose();
                }
                offset += width;
              }
              y = root;
              break;
            }
          }
          if (out) out.dispose();
          else if (step.kind !== 'concat' || !tensors.has(step.output)) tensors.set(step.output, y!);
        });
        for (const v of readsOf(step)) {
          if (lastRead.get(v) === i && v !== output && v !== inputName) {
            tensors.get(v)?.dispose();
            tensors.delete(v);
          }
        }
      });
      return get(output) as Tensor<'f32'>;
    });
  };

  return {
    graph,
    inputShape: [h, w, c],
    outputSize: outShape[0]!,
    outputIsProbabilities: graph.outputIsProbabilities ?? false,
    parameterCount,
    run,
    dispose(): void {
      if (disposed) return;
      disposed = true;
      for (const t of weights) t.dispose();
    },
  };
}
