/**
 * A float64 evaluator of the graph IR (src/graph/ir.ts) on the CPU, written for clarity, not
 * speed, and on purpose sharing no code with the engine: every node is computed straight from
 * its definition in the IR's comments, one example at a time. Values are per example, NHWC
 * ([H, W, C]) or flat ([F]); a batch is N examples back to back.
 */
import type { Graph, GraphNode, GraphPadding } from '../../src/graph/ir.js';

export interface RefValue {
  /** Per-example shape. */
  shape: number[];
  /** N examples, each shape's size, in order. */
  data: Float64Array;
}

const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

function weightOf(graph: Graph, name: string | undefined): Float32Array | undefined {
  if (name === undefined) return undefined;
  const w = graph.weights.get(name);
  if (!w) throw new Error(`graphRef: missing weight ${name}`);
  return w.data;
}

function outputSize(size: number, k: number, stride: number, before: number, after: number): number {
  return Math.floor((size + before + after - k) / stride) + 1;
}

function conv(x: RefValue, n: number, graph: Graph, node: Extract<GraphNode, { op: 'conv2d' }>): RefValue {
  const [h, w, cin] = x.shape as [number, number, number];
  const weights = graph.weights.get(node.weight)!;
  const [kh, kw, , cout] = weights.shape as [number, number, number, number];
  const wt = weights.data;
  const bias = weightOf(graph, node.bias);
  const [top, bottom, left, right] = node.padding;
  const [sh, sw] = node.stride;
  const oh = outputSize(h, kh, sh, top, bottom);
  const ow = outputSize(w, kw, sw, left, right);
  const out = new Float64Array(n * oh * ow * cout);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let co = 0; co < cout; co++) {
          let acc = bias ? bias[co]! : 0;
          for (let i = 0; i < kh; i++) {
            const iy = oy * sh + i - top;
            if (iy < 0 || iy >= h) continue;
            for (let j = 0; j < kw; j++) {
              const ix = ox * sw + j - left;
              if (ix < 0 || ix >= w) continue;
              for (let ci = 0; ci < cin; ci++) {
                acc += x.data[((b * h + iy) * w + ix) * cin + ci]! * wt[((i * kw + j) * cin + ci) * cout + co]!;
              }
            }
          }
          out[((b * oh + oy) * ow + ox) * cout + co] = node.relu ? Math.max(acc, 0) : acc;
        }
      }
    }
  }
  return { shape: [oh, ow, cout], data: out };
}

function pool(
  x: RefValue,
  n: number,
  kind: 'max' | 'avg',
  kernel: [number, number],
  stride: [number, number],
  padding: GraphPadding,
  countIncludePad: boolean,
): RefValue {
  const [h, w, c] = x.shape as [number, number, number];
  const [top, bottom, left, right] = padding;
  const oh = outputSize(h, kernel[0], stride[0], top, bottom);
  const ow = outputSize(w, kernel[1], stride[1], left, right);
  const out = new Float64Array(n * oh * ow * c);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let ch = 0; ch < c; ch++) {
          let best = -Infinity;
          let sum = 0;
          let count = 0;
          for (let i = 0; i < kernel[0]; i++) {
            const iy = oy * stride[0] + i - top;
            if (iy < 0 || iy >= h) continue;
            for (let j = 0; j < kernel[1]; j++) {
              const ix = ox * stride[1] + j - left;
              if (ix < 0 || ix >= w) continue;
              const v = x.data[((b * h + iy) * w + ix) * c + ch]!;
              best = Math.max(best, v);
              sum += v;
              count++;
            }
          }
          const divisor = countIncludePad ? kernel[0] * kernel[1] : count;
          out[((b * oh + oy) * ow + ox) * c + ch] = kind === 'max' ? best : sum / divisor;
        }
      }
    }
  }
  return { shape: [oh, ow, c], data: out };
}

function evaluateNode(graph: Graph, node: GraphNode, inputs: RefValue[], n: number): RefValue {
  const x = inputs[0]!;
  switch (node.op) {
    case 'conv2d':
      return conv(x, n, graph, node);
    case 'batchNorm': {
      const c = x.shape[x.shape.length - 1]!;
      const gamma = weightOf(graph, node.gamma);
      const beta = weightOf(graph, node.beta);
      const mean = weightOf(graph, node.mean)!;
      const variance = weightOf(graph, node.variance)!;
      const data = x.data.map((v, i) => {
        const ch = i % c;
        return ((gamma ? gamma[ch]! : 1) * (v - mean[ch]!)) / Math.sqrt(variance[ch]! + node.eps) + (beta ? beta[ch]! : 0);
      });
      return { shape: [...x.shape], data };
    }
    case 'relu':
      return { shape: [...x.shape], data: x.data.map((v) => Math.max(v, 0)) };
    case 'dropout':
      return { shape: [...x.shape], data: Float64Array.from(x.data) };
    case 'maxPool':
      return pool(x, n, 'max', node.kernel, node.stride, node.padding, false);
    case 'avgPool':
      return pool(x, n, 'avg', node.kernel, node.stride, node.padding, node.countIncludePad);
    case 'globalAvgPool': {
      const [h, w, c] = x.shape as [number, number, number];
      const out = new Float64Array(n * c);
      for (let b = 0; b < n; b++) {
        for (let p = 0; p < h * w; p++) for (let ch = 0; ch < c; ch++) out[b * c + ch]! += x.data[(b * h * w + p) * c + ch]!;
      }
      return { shape: [c], data: out.map((v) => v / (h * w)) };
    }
    case 'concat': {
      const lead = sizeOf(x.shape.slice(0, -1));
      const widths = inputs.map((v) => v.shape[v.shape.length - 1]!);
      const total = widths.reduce((a, b) => a + b, 0);
      const out = new Float64Array(n * lead * total);
      for (let r = 0; r < n * lead; r++) {
        let offset = 0;
        inputs.forEach((v, k) => {
          for (let ch = 0; ch < widths[k]!; ch++) out[r * total + offset + ch] = v.data[r * widths[k]! + ch]!;
          offset += widths[k]!;
        });
      }
      return { shape: [...x.shape.slice(0, -1), total], data: out };
    }
    case 'flatten': {
      const size = sizeOf(x.shape);
      if (node.order === 'hwc' || x.shape.length !== 3) return { shape: [size], data: Float64Array.from(x.data) };
      // NCHW order: channel-major, then rows, then columns.
      const [h, w, c] = x.shape as [number, number, number];
      const out = new Float64Array(n * size);
      for (let b = 0; b < n; b++) {
        for (let ch = 0; ch < c; ch++) for (let p = 0; p < h * w; p++) out[b * size + ch * h * w + p] = x.data[b * size + p * c + ch]!;
      }
      return { shape: [size], data: out };
    }
    case 'dense': {
      const weights = graph.weights.get(node.weight)!;
      const [fin, units] = weights.shape as [number, number];
      const bias = weightOf(graph, node.bias);
      const out = new Float64Array(n * units);
      for (let b = 0; b < n; b++) {
        for (let u = 0; u < units; u++) {
          let acc = bias ? bias[u]! : 0;
          for (let f = 0; f < fin; f++) acc += x.data[b * fin + f]! * weights.data[f * units + u]!;
          out[b * units + u] = node.relu ? Math.max(acc, 0) : acc;
        }
      }
      return { shape: [units], data: out };
    }
    case 'add':
      return { shape: [...x.shape], data: x.data.map((v, i) => v + inputs[1]!.data[i]!) };
    case 'softmax': {
      const f = x.shape[0]!;
      const out = new Float64Array(n * f);
      for (let b = 0; b < n; b++) {
        const row = x.data.subarray(b * f, (b + 1) * f);
        const max = Math.max(...row);
        let sum = 0;
        for (let i = 0; i < f; i++) sum += Math.exp(row[i]! - max);
        for (let i = 0; i < f; i++) out[b * f + i] = Math.exp(row[i]! - max) / sum;
      }
      return { shape: [f], data: out };
    }
  }
}

/** Every value of the graph for a batch of n inputs (x: n examples of graph.input.shape). */
export function evaluateGraphRef(graph: Graph, x: ArrayLike<number>, n: number): Map<string, RefValue> {
  const inputSize = sizeOf(graph.input.shape);
  if (x.length !== n * inputSize) throw new Error(`graphRef: x has ${x.length} values, expected ${n} × ${inputSize}`);
  const values = new Map<string, RefValue>([[graph.input.name, { shape: [...graph.input.shape], data: Float64Array.from(x) }]]);
  for (const node of graph.nodes) {
    const inputs = node.inputs.map((name) => {
      const v = values.get(name);
      if (!v) throw new Error(`graphRef: node ${node.name} reads ${name} before it is written`);
      return v;
    });
    values.set(node.output, evaluateNode(graph, node, inputs, n));
  }
  return values;
}

/** The graph's output for a batch of n inputs, [n, F] flattened. */
export function graphRef(graph: Graph, x: ArrayLike<number>, n: number): Float64Array {
  return evaluateGraphRef(graph, x, n).get(graph.output)!.data;
}
