/**
 * Inception-v3's weights in torchvision's layout (the state dict of
 * `torchvision.models.inception_v3`, which timm's `inception_v3` shares): conv weights OIHW
 * [Cout, Cin, KH, KW], linear weights [out, in], BatchNorm `weight`, `bias`, `running_mean`,
 * `running_var` and `num_batches_tracked`. The engine keeps conv weights HWIO and linear
 * weights [in, out]; these functions convert both ways, so a torchvision checkpoint saved as
 * safetensors loads into `InceptionV3` and the engine's model saves as one PyTorch loads.
 */
import { InceptError } from '../runtime/errors.js';
import type { InceptionV3 } from './inception-v3.js';
import type { SafetensorsInput, SafetensorsTensor } from '../io/safetensors.js';
import { negativeVarianceProblem, nonFiniteProblem } from '../io/weight-values.js';

/** torchvision [Cout, Cin, KH, KW] → engine [KH, KW, Cin, Cout]. */
export function oihwToHwio(data: ArrayLike<number>, [cout, cin, kh, kw]: readonly number[]): Float32Array {
  const out = new Float32Array(cout! * cin! * kh! * kw!);
  for (let o = 0; o < cout!; o++)
    for (let i = 0; i < cin!; i++)
      for (let y = 0; y < kh!; y++) for (let x = 0; x < kw!; x++) out[((y * kw! + x) * cin! + i) * cout! + o] = data[((o * cin! + i) * kh! + y) * kw! + x]!;
  return out;
}

/** engine [KH, KW, Cin, Cout] → torchvision [Cout, Cin, KH, KW]. */
export function hwioToOihw(data: ArrayLike<number>, [kh, kw, cin, cout]: readonly number[]): Float32Array {
  const out = new Float32Array(cout! * cin! * kh! * kw!);
  for (let o = 0; o < cout!; o++)
    for (let i = 0; i < cin!; i++)
      for (let y = 0; y < kh!; y++) for (let x = 0; x < kw!; x++) out[((o * cin! + i) * kh! + y) * kw! + x] = data[((y * kw! + x) * cin! + i) * cout! + o]!;
  return out;
}

/** A [rows, cols] matrix transposed (linear weights: [out, in] ↔ [in, out]). */
export function transpose2d(data: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

/** Converts a torchvision tensor's data to the engine's layout. */
function toEngineLayout(name: string, data: ArrayLike<number>, shape: readonly number[]): Float32Array {
  if (name.endsWith('.conv.weight') && shape.length === 4) return oihwToHwio(data, shape);
  if (/(^|\.)fc\.weight$/.test(name) && shape.length === 2) return transpose2d(data, shape[0]!, shape[1]!);
  return Float32Array.from(data);
}

/** The torchvision shape of an engine tensor. */
function torchShape(name: string, shape: readonly number[]): number[] {
  if (name.endsWith('.conv.weight') && shape.length === 4) return [shape[3]!, shape[2]!, shape[0]!, shape[1]!];
  if (/(^|\.)fc\.weight$/.test(name) && shape.length === 2) return [shape[1]!, shape[0]!];
  return [...shape];
}

const shapeText = (s: readonly number[]) => `[${s.join(', ')}]`;

export interface LoadWeightsOptions {
  /** What the file's keys carry before torchvision's names ('model.' in an `incept train`
   * checkpoint), so errors name the key as it is in the file. */
  keyPrefix?: string;
}

export interface LoadWeightsReport {
  loaded: number;
  /** Keys of the file the model has no use for (num_batches_tracked, the aux head of a model built without one). */
  ignored: string[];
}

/**
 * Loads a torchvision-layout state dict (decoded safetensors) into the model, converting the
 * layouts. Every tensor of the model must be in the file with torchvision's shape; a missing
 * key, a wrong shape (for example a 1000-class file into a 10-class model) or a key the model
 * does not know is an error naming the key and the source, and so is a NaN or infinite value
 * in any tensor or a negative running variance (all checked before anything is written).
 * `num_batches_tracked` and, for a model built without the aux head, the `AuxLogits.*` keys are
 * ignored and reported.
 */
export function loadTorchvisionWeights(
  model: InceptionV3,
  tensors: ReadonlyMap<string, SafetensorsTensor>,
  source = 'the weights file',
  options: LoadWeightsOptions = {},
): LoadWeightsReport {
  const fileKey = (key: string): string => `${options.keyPrefix ?? ''}${key}`;
  const state = model.stateDict();
  const ignored: string[] = [];
  const unknown: string[] = [];
  for (const key of tensors.keys()) {
    if (state.has(key)) continue;
    if (key.endsWith('.num_batches_tracked') || (!model.hasAux && key.startsWith('AuxLogits.'))) ignored.push(key);
    else unknown.push(key);
  }
  if (unknown.length > 0) {
    throw new InceptError(
      `${source}: ${unknown.length} tensor(s) that Inception-v3 (torchvision names) does not have, e.g. ${unknown.slice(0, 3).join(', ')}; is this an Inception-v3 state dict?`,
    );
  }
  const missing = [...state.keys()].filter((k) => !tensors.has(k));
  if (missing.length > 0) throw new InceptError(`${source}: missing ${missing.length} tensor(s) the model needs, e.g. ${missing.slice(0, 3).join(', ')}`);
  for (const [key, t] of state) {
    const file = tensors.get(key)!;
    if (!(file.data instanceof Float32Array)) throw new InceptError(`${source}: ${key} is ${file.dtype}; Inception-v3's tensors are floating point`);
    const expected = torchShape(key, t.shape);
    if (file.shape.length !== expected.length || file.shape.some((v, i) => v !== expected[i])) {
      const hint = /(^|\.)fc\.(weight|bias)$/.test(key) ? ' (a different number of classes? build the model with numClasses to match)' : '';
      throw new InceptError(`${source}: ${key} has shape ${shapeText(file.shape)}, the model needs ${shapeText(expected)}${hint}`);
    }
    // Checked before anything is written, so a refused file leaves the model as it was.
    const bad =
      nonFiniteProblem(`tensor '${fileKey(key)}'`, file.data, file.shape) ??
      (key.endsWith('.running_var') ? negativeVarianceProblem(`tensor '${fileKey(key)}' is a BatchNorm running variance`, file.data) : undefined);
    if (bad) throw new InceptError(`${source}: ${bad}`);
  }
  for (const [key, t] of state) {
    const file = tensors.get(key)!;
    model.engine.write(t, toEngineLayout(key, file.data, file.shape));
  }
  model.invalidateFolded();
  return { loaded: state.size, ignored };
}

/**
 * The model's tensors in torchvision's layout and names, ready for `encodeSafetensors`
 * (with `num_batches_tracked` as int64 0 for every BatchNorm, so PyTorch loads it strictly).
 */
export async function torchvisionStateDict(model: InceptionV3): Promise<Map<string, SafetensorsInput>> {
  const out = new Map<string, SafetensorsInput>();
  for (const [key, t] of model.stateDict()) {
    const data = (await t.read()) as Float32Array;
    const shape = torchShape(key, t.shape);
    const converted =
      key.endsWith('.conv.weight') && t.rank === 4
        ? hwioToOihw(data, t.shape)
        : /(^|\.)fc\.weight$/.test(key)
          ? transpose2d(data, t.shape[0]!, t.shape[1]!)
          : data;
    out.set(key, { dtype: 'F32', shape, data: converted });
    if (key.endsWith('.bn.running_var')) out.set(key.replace(/running_var$/, 'num_batches_tracked'), { dtype: 'I64', shape: [], data: new Int32Array(1) });
  }
  return out;
}
