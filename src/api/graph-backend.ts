/**
 * The ONNX and TF.js formats: the file is imported to the graph IR (src/graph/ir.ts) and
 * compiled onto the engine's kernels (src/graph/execute.ts). The importers' own errors
 * (GraphError and its kinds, naming the file, node and fault) pass through unchanged.
 */
import type { Engine } from '../runtime/engine.js';
import { compileGraph } from '../graph/execute.js';
import { importOnnx } from '../io/onnx/index.js';
import { importTfjsLayers } from '../io/tfjs-layers.js';
import type { Graph } from '../graph/ir.js';
import type { Backend } from './backend.js';

export type GraphSource =
  { kind: 'onnx'; bytes: Uint8Array; source: string } | { kind: 'tfjs'; modelJson: unknown; readShard: (path: string) => Promise<Uint8Array>; source: string };

export async function loadGraphBackend(engine: Engine, src: GraphSource): Promise<Backend> {
  const graph: Graph = src.kind === 'onnx' ? importOnnx(src.bytes, src.source) : await importTfjsLayers(src.modelJson, src.readShard, src.source);
  const model = compileGraph(engine, graph);
  return {
    description: `${src.kind === 'onnx' ? 'ONNX' : 'TF.js layers'} graph, ${graph.nodes.length} nodes`,
    inputShape: model.inputShape,
    numClasses: model.outputSize,
    outputIsProbabilities: model.outputIsProbabilities,
    parameterCount: model.parameterCount,
    forward: (x) => model.run(x),
    dispose: () => model.dispose(),
  };
}
