/**
 * The engine's own Inception-v3 as an IR graph with host weights: what the ONNX exporter
 * writes. It is inception-v3-graph.ts's graph (the one the model's forward compiles and runs)
 * with every weight read back from the GPU, which is why it is async.
 */
import { BATCHNORM_EPS, DROPOUT_RATE, type InceptionV3 } from '../models/inception-v3.js';
import { inceptionV3TensorGraph } from './inception-v3-graph.js';
import type { Graph, GraphWeight } from './ir.js';

export { INCEPTION_V3_SOURCE } from './inception-v3-graph.js';

export async function inceptionV3Graph(model: InceptionV3): Promise<Graph> {
  const { graph } = inceptionV3TensorGraph(model, { batchNormEps: BATCHNORM_EPS, dropoutRate: DROPOUT_RATE });
  const entries = [...graph.weights];
  const data = await Promise.all(entries.map(([, w]) => w.tensor.read()));
  const weights = new Map<string, GraphWeight>(entries.map(([name, w], i) => [name, { shape: w.shape, data: data[i] as Float32Array }]));
  return { ...graph, weights };
}
