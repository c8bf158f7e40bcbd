/**
 * model.json and its `modelTopology`: Keras's model config ({ class_name: "Model" | "Functional" |
 * "Sequential", config }, or the same under `model_config` in files converted from HDF5), read
 * into layers and the calls that connect them. Keras 2 topologies (`inbound_nodes` as nested
 * arrays [[layer, nodeIndex, tensorIndex, kwargs], …]) and Keras 3 ones (`inbound_nodes` as
 * [{ args: [keras tensors], kwargs }] with `keras_history`) are both read.
 */
import { isObject, show, type Json } from './errors.js';

/** A reference to a layer's output: the `node`-th call of `layer`, its `tensor`-th output. */
export interface TensorRef {
  layer: string;
  node: number;
  tensor: number;
}

export interface LayerEntry {
  name: string;
  className: string;
  config: Json;
  /** One entry per call of the layer: the tensors that call read. */
  calls: TensorRef[][];
}

export interface Topology {
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

export function parseTopology(modelTopology: unknown, fail: (p: string) => never): Topology {
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

export function parseModelJson(modelJson: unknown, fail: (p: string) => never): Json {
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
