/**
 * The engine's graph IR run with TensorFlow.js ops, so the peer runs exactly the network the
 * engine runs (same weights, same layout: both take NHWC activations and HWIO filters).
 * Used in Node and in the browser page alike: it only calls `tf` ops.
 *
 * Inference is built the way a TF.js user would get it at its best: a converted graph model
 * folds BatchNorm into the preceding conv and fuses bias and ReLU (`tf.fused.conv2d`), so this
 * does the same, on the host in float64, once. Training keeps BatchNorm with batch statistics
 * (`tf.moments`) and takes gradients with `tf.variableGrads`.
 */
import type * as TfCore from '@tensorflow/tfjs-core';
import type { Graph, GraphNode, GraphPadding } from '../../src/graph/ir.js';
import { foldBatchNorm } from '../../src/ops/epilogue.js';

export type Tf = typeof TfCore;
type T4 = TfCore.Tensor4D;
type T = TfCore.Tensor;

export interface TfjsInferenceModel {
  /** NHWC images → [batch, classes] (logits, or probabilities if the graph ends in a softmax). */
  run(x: T4): TfCore.Tensor2D;
  dispose(): void;
}

export class TfjsGraphError extends Error {}

const explicit = (p: GraphPadding): [[number, number], [number, number], [number, number], [number, number]] => [
  [0, 0],
  [p[0], p[1]],
  [p[2], p[3]],
  [0, 0],
];
const zeroPad = (p: GraphPadding) => p.every((v) => v === 0);

/** How many nodes read each value (a BatchNorm folds into a conv only when it is the conv's one reader). */
function readers(graph: Graph): Map<string, number> {
  const count = new Map<string, number>();
  for (const n of graph.nodes) for (const i of n.inputs) count.set(i, (count.get(i) ?? 0) + 1);
  count.set(graph.output, (count.get(graph.output) ?? 0) + 1);
  return count;
}

function hostWeight(graph: Graph, name: string | undefined, node: GraphNode): Float32Array | undefined {
  if (name === undefined) return undefined;
  const w = graph.weights.get(name);
  if (!w) throw new TfjsGraphError(`${graph.source}: node ${node.name} reads weight '${name}', which the graph does not have`);
  return w.data;
}

/** Pooling shared by inference and training (they differ only in conv and BatchNorm). */
function pool(tf: Tf, node: Extract<GraphNode, { op: 'maxPool' | 'avgPool' }>, x: T4): T4 {
  const k = node.kernel;
  const s = node.stride;
  if (node.op === 'maxPool') {
    // Padding never wins a max: pad with the lowest float, then pool without padding.
    const xp = zeroPad(node.padding) ? x : tf.pad(x, explicit(node.padding), -3.4e38);
    return tf.maxPool(xp, k, s, 'valid');
  }
  if (zeroPad(node.padding)) return tf.avgPool(x, k, s, 'valid');
  const summed = tf.mul(tf.avgPool(tf.pad(x, explicit(node.padding)), k, s, 'valid'), k[0] * k[1]) as T4;
  if (node.countIncludePad) return tf.div(summed, k[0] * k[1]) as T4;
  // Divide by the real elements in each window: pool a padded map of ones the same way.
  const [, h, w] = x.shape;
  const ones = tf.pad(tf.ones([1, h, w, 1]) as T4, explicit(node.padding));
  const count = tf.mul(tf.avgPool(ones, k, s, 'valid'), k[0] * k[1]);
  return tf.div(summed, count) as T4;
}

function flatten(tf: Tf, node: Extract<GraphNode, { op: 'flatten' }>, x: T): T {
  if (x.rank === 2) return x;
  const n = x.shape[0]!;
  return node.order === 'chw' ? tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [n, -1]) : tf.reshape(x, [n, -1]);
}

export function tfjsInferenceModel(tf: Tf, graph: Graph): TfjsInferenceModel {
  const uses = readers(graph);
  const owned: T[] = [];
  const keep = <U extends T>(t: U): U => {
    owned.push(t);
    return t;
  };
  const upload = (data: Float32Array, shape: number[]) => keep(tf.tensor(data, shape));
  type Step = (values: Map<string, T>) => T;
  const steps: { node: GraphNode; output: string; run: Step }[] = [];
  const nodes = graph.nodes;
  const absorbed = new Set<GraphNode>();
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i]!;
    if (absorbed.has(node)) continue;
    const input = node.inputs[0]!;
    switch (node.op) {
      case 'conv2d':
      case 'dense': {
        const wInfo = graph.weights.get(node.weight);
        if (!wInfo) throw new TfjsGraphError(`${graph.source}: node ${node.name} reads weight '${node.weight}', which the graph does not have`);
        const w = Float32Array.from(wInfo.data);
        let bias = hostWeight(graph, node.bias, node);
        let relu = node.relu ?? false;
        let output = node.output;
        const cout = wInfo.shape.at(-1)!;
        // Fold a following BatchNorm (the conv's only reader) and then a ReLU, as TF.js's
        // converter does for a graph model.
        const next = nodes.find((n) => n.inputs.includes(output));
        if (!relu && next?.op === 'batchNorm' && uses.get(output) === 1) {
          const f = foldBatchNorm(
            {
              gamma: hostWeight(graph, next.gamma, next),
              beta: hostWeight(graph, next.beta, next),
              mean: hostWeight(graph, next.mean, next)!,
              variance: hostWeight(graph, next.variance, next)!,
              eps: next.eps,
            },
            bias,
          );
          for (let j = 0; j < w.length; j++) w[j] = w[j]! * f.scale[j % cout]!;
          bias = f.shift;
          absorbed.add(next);
          output = next.output;
        }
        const after = nodes.find((n) => n.inputs.includes(output));
        if (!relu && after?.op === 'relu' && uses.get(output) === 1) {
          relu = true;
          absorbed.add(after);
          output = after.output;
        }
        const W = upload(w, wInfo.shape);
        const B = bias ? upload(Float32Array.from(bias), [cout]) : undefined;
        const activation = relu ? 'relu' : 'linear';
        if (node.op === 'conv2d') {
          const stride = node.stride;
          const pad = explicit(node.padding);
          steps.push({
            node,
            output,
            run: (v) =>
              tf.fused.conv2d({ x: v.get(input) as T4, filter: W as T4, strides: stride, pad, dataFormat: 'NHWC', ...(B ? { bias: B } : {}), activation }),
          });
        } else {
          steps.push({
            node,
            output,
            run: (v) => tf.fused.matMul({ a: v.get(input) as TfCore.Tensor2D, b: W as TfCore.Tensor2D, ...(B ? { bias: B } : {}), activation }),
          });
        }
        break;
      }
      case 'batchNorm': {
        const f = foldBatchNorm({
          gamma: hostWeight(graph, node.gamma, node),
          beta: hostWeight(graph, node.beta, node),
          mean: hostWeight(graph, node.mean, node)!,
          variance: hostWeight(graph, node.variance, node)!,
          eps: node.eps,
        });
        const scale = upload(f.scale, [f.scale.length]);
        const shift = upload(f.shift, [f.shift.length]);
        steps.push({ node, output: node.output, run: (v) => tf.add(tf.mul(v.get(input)!, scale), shift) });
        break;
      }
      default:
        steps.push({ node, output: node.output, run: (v) => commonOp(tf, node, v) });
    }
  }
  return {
    run(x) {
      return tf.tidy(() => {
        const values = new Map<string, T>([[graph.input.name, x]]);
        for (const s of steps) values.set(s.output, s.run(values));
        const out = values.get(graph.output);
        if (!out) throw new TfjsGraphError(`${graph.source}: output '${graph.output}' was never computed`);
        return out as TfCore.Tensor2D;
      });
    },
    dispose() {
      tf.dispose(owned);
      owned.length = 0;
    },
  };
}

/** The ops that have no weights run the same way at inference and in training. */
function commonOp(tf: Tf, node: GraphNode, v: Map<string, T>): T {
  const x = v.get(node.inputs[0]!)!;
  switch (node.op) {
    case 'relu':
      return tf.relu(x);
    case 'maxPool':
    case 'avgPool':
      return pool(tf, node, x as T4);
    case 'globalAvgPool':
      return tf.mean(x, [1, 2]);
    case 'concat':
      return tf.concat(
        node.inputs.map((i) => v.get(i)!),
        -1,
      );
    case 'flatten':
      return flatten(tf, node, x);
    case 'add':
      return tf.add(x, v.get(node.inputs[1]!)!);
    case 'softmax':
      return tf.softmax(x);
    case 'dropout':
      return x;
    default:
      throw new TfjsGraphError(`node ${node.name}: op ${node.op} has weights; the caller handles it`);
  }
}

export interface TfjsTrainingOptions {
  labelSmoothing: number;
  lr: number;
  /** Global-norm gradient clipping threshold (0: none), as the engine's optimizer does it. */
  clipNorm: number;
  /** RMSProp as TF-slim trained Inception-v3: decay 0.9, momentum 0.9, ε 1.0. */
  rho: number;
  momentum: number;
  epsilon: number;
}

export interface TfjsTrainingStep {
  loss: T;
  /** Only when asked for: the gradients by IR weight name (before clipping). */
  grads?: Map<string, T>;
}

export interface TfjsTrainingModel {
  /** Trainable variables by IR weight name (running statistics are not trained). */
  variables: Map<string, TfCore.Variable>;
  /** One step: forward with batch statistics, loss, gradients, clipping, RMSProp update. */
  step(x: T4, oneHot: TfCore.Tensor2D, keepGrads?: boolean): TfjsTrainingStep;
  dispose(): void;
}

/**
 * The graph as a training network: conv (+ bias), BatchNorm over the batch (γ, β trained),
 * the rest as at inference, softmax cross-entropy with label smoothing on the output logits.
 * Running statistics are not updated (the engine updates them inside its BatchNorm kernels;
 * the cost is a few vector ops per layer).
 */
export function tfjsTrainingModel(tf: Tf, graph: Graph, options: TfjsTrainingOptions): TfjsTrainingModel {
  const variables = new Map<string, TfCore.Variable>();
  const trainable = new Set<string>();
  for (const n of graph.nodes) {
    if (n.op === 'conv2d' || n.op === 'dense') [n.weight, n.bias].forEach((w) => w && trainable.add(w));
    if (n.op === 'batchNorm') [n.gamma, n.beta].forEach((w) => w && trainable.add(w));
  }
  for (const name of trainable) {
    const w = graph.weights.get(name);
    if (!w) throw new TfjsGraphError(`${graph.source}: weight '${name}' is missing`);
    variables.set(name, tf.variable(tf.tensor(w.data, w.shape), true));
  }
  const varList = [...variables.values()];
  const optimizer = tf.train.rmsprop(options.lr, options.rho, options.momentum, options.epsilon);
  const forward = (x: T4): T => {
    const values = new Map<string, T>([[graph.input.name, x]]);
    for (const node of graph.nodes) {
      const xin = values.get(node.inputs[0]!)!;
      let y: T;
      switch (node.op) {
        case 'conv2d': {
          const conv = tf.conv2d(xin as T4, variables.get(node.weight) as unknown as T4, node.stride, explicit(node.padding), 'NHWC');
          y = node.bias ? tf.add(conv, variables.get(node.bias)!) : conv;
          if (node.relu) y = tf.relu(y);
          break;
        }
        case 'dense': {
          y = tf.matMul(xin as TfCore.Tensor2D, variables.get(node.weight) as unknown as TfCore.Tensor2D);
          if (node.bias) y = tf.add(y, variables.get(node.bias)!);
          if (node.relu) y = tf.relu(y);
          break;
        }
        case 'batchNorm': {
          const { mean, variance } = tf.moments(xin, [0, 1, 2]);
          y = tf.batchNorm(xin, mean, variance, node.beta ? variables.get(node.beta) : undefined, node.gamma ? variables.get(node.gamma) : undefined, node.eps);
          break;
        }
        default:
          y = commonOp(tf, node, values);
      }
      values.set(node.output, y);
    }
    return values.get(graph.output)!;
  };
  return {
    variables,
    step(x, oneHot, keepGrads = false) {
      let grads: Map<string, T> | undefined;
      const loss = tf.tidy(() => {
        const { value, grads: g } = tf.variableGrads(
          () => tf.losses.softmaxCrossEntropy(oneHot, forward(x) as TfCore.Tensor2D, undefined, options.labelSmoothing) as TfCore.Scalar,
          varList,
        );
        let scaled: Record<string, T> = g;
        if (options.clipNorm > 0) {
          // tf.clip_by_global_norm, which TF.js lacks: one scale for all gradients.
          // Summed in a loop: TF.js's WebGPU addN binds every input at once and fails past the
          // adapter's storage-buffer limit (8 here) with hundreds of parameters.
          const norm = tf.sqrt(Object.values(g).reduce<T>((acc, t) => tf.add(acc, tf.sum(tf.square(t))), tf.scalar(0)));
          const s = tf.minimum(1, tf.div(options.clipNorm, tf.add(norm, 1e-6)));
          scaled = Object.fromEntries(Object.entries(g).map(([k, t]) => [k, tf.mul(t, s)]));
        }
        if (keepGrads) {
          grads = new Map([...variables].map(([name, v]) => [name, tf.keep(g[v.name]!)]));
        }
        optimizer.applyGradients(scaled as TfCore.NamedTensorMap);
        return value;
      });
      return grads ? { loss, grads } : { loss };
    },
    dispose() {
      tf.dispose(varList);
      optimizer.dispose();
    },
  };
}
