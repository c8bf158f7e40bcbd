/**
 * Keras layers → the graph IR: the layers the model's output depends on are converted, each
 * call after the calls it reads, with the converter of its class (layers.ts).
 */
import { Builder, LayerReader, type Value } from './builder.js';
import { isObject, show } from './errors.js';
import { CLASS_ALIASES, layerConverter, TFJS_SUPPORTED_LAYERS } from './layers.js';
import type { Manifest } from './manifest.js';
import type { LayerEntry, TensorRef, Topology } from './topology.js';

export interface ConvertedLayers {
  input: Value;
  output: Value;
  /** The IR nodes, and the manifest weights they need (read once the conversion is done). */
  builder: Builder;
}

function inputShape(entry: LayerEntry, fail: (p: string) => never): number[] {
  const cfg = entry.config;
  const raw = cfg['batch_input_shape'] ?? cfg['batch_shape'] ?? (Array.isArray(cfg['shape']) ? [null, ...(cfg['shape'] as unknown[])] : undefined);
  const where = `input layer '${entry.name}' (${entry.className})`;
  if (!Array.isArray(raw)) return fail(`${where} does not give its shape (batch_input_shape)`);
  const shape = raw.slice(1);
  if (shape.length !== 3) return fail(`${where} has shape ${show(raw)}; the engine takes image inputs [batch, H, W, C]`);
  if (!shape.every((d) => Number.isInteger(d) && d >= 1))
    return fail(`${where} has shape ${show(raw)}; H, W and C must be fixed positive sizes (the engine compiles for one input size)`);
  const dtype = cfg['dtype'];
  const dtypeName = isObject(dtype) && isObject(dtype['config']) ? dtype['config']['name'] : dtype;
  if (dtypeName !== undefined && dtypeName !== null && dtypeName !== 'float32')
    return fail(`${where} has dtype ${show(dtypeName)}; only float32 inputs are supported`);
  return shape as number[];
}

/** Converts the layers between the model's input and output; `fail` throws the importer's error. */
export function convertLayers(topology: Topology, manifest: Manifest, fail: (p: string) => never): ConvertedLayers {
  const inputEntry = topology.layers.get(topology.input.layer);
  if (!inputEntry) return fail(`the model's input names the layer '${topology.input.layer}', which the model does not have`);
  if (inputEntry.className !== 'InputLayer') return fail(`the model's input is layer '${inputEntry.name}' (${inputEntry.className}), not an InputLayer`);
  const input: Value = { name: inputEntry.name, shape: inputShape(inputEntry, fail) };

  const b = new Builder(manifest, fail);
  b.uniqueName(input.name);
  const values = new Map<string, Value>();
  const refKey = (r: TensorRef): string => `${r.layer}\u0000${r.node}`;
  values.set(refKey(topology.input), input);
  const visiting = new Set<string>();

  // Depth-first from the output: converts each call after the calls it reads, so the nodes come
  // out in dependency order whatever order the file lists the layers in, and layers the output
  // does not depend on are left out.
  const resolve = (ref: TensorRef, reader: string): Value => {
    const key = refKey(ref);
    const done = values.get(key);
    if (done) return done;
    const entry = topology.layers.get(ref.layer);
    if (!entry) return fail(`${reader} reads layer '${ref.layer}', which the model does not have`);
    const where = `layer '${entry.name}' (${entry.className})`;
    if (visiting.has(key)) return fail(`${where} depends on its own output (a cycle)`);
    if (ref.tensor !== 0) return fail(`${reader} reads output ${ref.tensor} of ${where}; only single-output layers are supported`);
    const className = CLASS_ALIASES[entry.className] ?? entry.className;
    const convert = layerConverter(className);
    if (!convert) {
      const nested = ['Model', 'Functional', 'Sequential'].includes(entry.className)
        ? ' (nested models are not supported; flatten the model into one before converting)'
        : '';
      if (entry.className === 'InputLayer') return fail(`${where} is a second input; only models with one input are supported`);
      return fail(`${where}: layer class '${entry.className}' is not supported${nested}; supported: ${TFJS_SUPPORTED_LAYERS.join(', ')}`);
    }
    const call = entry.calls[ref.node];
    if (!call) return fail(`${reader} reads call ${ref.node} of ${where}, which has ${entry.calls.length} call${entry.calls.length === 1 ? '' : 's'}`);
    visiting.add(key);
    const inputs = call.map((r) => resolve(r, where));
    visiting.delete(key);
    const padded = inputs.find((v) => v.zeroPadded);
    if (padded && !(className === 'Conv2D' || className === 'DepthwiseConv2D')) {
      return fail(
        `${where} reads the output of ${padded.zeroPadded!.layer}, which is supported only right before a Conv2D or DepthwiseConv2D (that takes it as its own padding)`,
      );
    }
    const valueName = ref.node === 0 ? entry.name : `${entry.name}:${ref.node}`;
    const out = convert(new LayerReader(entry, className, fail), inputs, b, valueName);
    values.set(key, out);
    return out;
  };
  const output = resolve(topology.output, 'the model output');
  if (output.zeroPadded) return fail(`the model ends in ${output.zeroPadded.layer}; ZeroPadding2D is supported only right before a convolution`);
  if (output.name === input.name) return fail(`the model's output is its input: there is nothing to run`);
  return { input, output, builder: b };
}
