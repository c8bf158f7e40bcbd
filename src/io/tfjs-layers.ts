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
 * The importer reads the format (tfjs/topology.ts, tfjs/manifest.ts), converts the layers
 * (tfjs/convert.ts with one converter per layer class in tfjs/layers.ts), then reads the shards
 * the converted layers need and assembles the graph.
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
import { readUserFile, UserFileError } from './read-user-file.js';
import { inferShapes, weightValueProblem, type Graph, type GraphWeight } from '../graph/ir.js';
import { convertLayers } from './tfjs/convert.js';
import { TfjsLayersError } from './tfjs/errors.js';
import { decodeWeight, parseManifest, readGroups } from './tfjs/manifest.js';
import { parseModelJson, parseTopology } from './tfjs/topology.js';

export { TfjsLayersError } from './tfjs/errors.js';
export { TFJS_SUPPORTED_LAYERS } from './tfjs/layers.js';

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
  const { input, output, builder } = convertLayers(topology, manifest, fail);

  const neededGroups = new Set([...builder.requests.values()].map((r) => r.source.group));
  const groups = await readGroups(manifest, neededGroups, readShard, fail);
  const weights = new Map<string, GraphWeight>();
  for (const [name, req] of builder.requests) {
    const data = decodeWeight(req.source, groups.get(req.source.group)!, fail);
    weights.set(name, { shape: req.shape, data: req.transform ? req.transform(data) : data });
  }
  const graph: Graph = {
    source: `tfjs:${source}`,
    input: { name: input.name, shape: input.shape },
    output: output.name,
    nodes: builder.nodes,
    weights,
    outputIsProbabilities: builder.producers.get(output.name)?.op === 'softmax',
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
