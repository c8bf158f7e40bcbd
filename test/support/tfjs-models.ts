/**
 * TensorFlow.js layers models for the importer's tests: builders (tfjs layers API), seeded
 * weights, publishing a saved model as the converter does (model.json + weight shards of a small
 * size, optionally quantised), a rewrite of a topology into Keras 3's form, and a float64
 * interpreter of the IR that tells an importer mistake from an engine one.
 */
import * as tf from '@tensorflow/tfjs';
import { f16BitsToNumber } from '../../src/io/safetensors.js';
import { randomArray, type Rng } from './random.js';

export type Tf = typeof tf;
export { tf };

let backendReady: Promise<void> | undefined;
/** tfjs on its plain-JavaScript CPU backend: the oracle runs in float32 without any GPU. */
export function tfReady(): Promise<void> {
  backendReady ??= (async () => {
    await tf.setBackend('cpu');
    await tf.ready();
  })();
  return backendReady;
}

/** Sets every weight from `rng`: BatchNorm's variance and γ in [0.5, 1.5] so the normalisation
 * stays well-conditioned, kernels uniform with variance 1 / fan-in (so activations keep their
 * size through deep models and a softmax head does not saturate), everything else in
 * [-0.5, 0.5]. */
export function setRandomWeights(model: tf.LayersModel, rng: Rng): void {
  for (const w of model.weights) {
    const shape = w.shape as number[];
    const n = shape.reduce((a, b) => a * b, 1);
    const positive = /moving_variance|gamma/.test(w.originalName);
    const fanIn = shape.length >= 2 ? n / shape[shape.length - 1]! : 0;
    const bound = fanIn > 0 ? Math.sqrt(3 / fanIn) : 0.5;
    const data = positive ? randomArray(rng, n, 0.5, 1.5) : randomArray(rng, n, -bound, bound);
    w.write(tf.tensor(data, shape));
  }
}

/** Sets weights by their manifest names (as published) from host arrays. */
export function setWeightsByName(model: tf.LayersModel, values: Map<string, Float32Array>): void {
  for (const w of model.weights) {
    const v = values.get(w.originalName);
    if (!v) throw new Error(`no value for weight ${w.originalName}`);
    w.write(tf.tensor(v, w.shape as number[]));
  }
}

export async function saveArtifacts(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return saved!;
}

export type Quantization = 'uint8' | 'uint16' | 'float16';

export interface Published {
  modelJson: Record<string, any>;
  shards: Map<string, Uint8Array>;
  /** Each weight's values as a reader decodes them (after quantisation, if any), by name. */
  values: Map<string, Float32Array>;
  readShard: (path: string) => Promise<Uint8Array>;
}

/** float32 → IEEE half bits, rounding to nearest even (test data stays in half's normal range). */
export function f32ToF16Bits(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  let mant = x & 0x7fffff;
  if (exp <= 0) {
    if (exp < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - exp;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  if (exp >= 31) return sign | 0x7c00;
  let h = (exp << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}

/**
 * The converter's output for saved artifacts: model.json ({ format, generatedBy, convertedBy,
 * modelTopology, weightsManifest: [{ paths, weights }] }) and the group's bytes cut into shards
 * of `shardBytes` (the last shorter), named group1-shardKofN.bin. With `quantize`, every float32
 * weight is stored quantised: uint8/uint16 affine (min = the weight's minimum, scale = range /
 * (2^bits − 1), q = round((v − min) / scale), read back as q·scale + min) or float16.
 */
export function publish(artifacts: tf.io.ModelArtifacts, options: { shardBytes?: number; quantize?: Quantization } = {}): Published {
  const specs = artifacts.weightSpecs ?? [];
  const raw = artifacts.weightData;
  const whole = raw === undefined ? new Uint8Array(0) : Array.isArray(raw) ? concat(raw.map((b) => new Uint8Array(b))) : new Uint8Array(raw);
  const values = new Map<string, Float32Array>();
  const parts: Uint8Array[] = [];
  const weights: Record<string, any>[] = [];
  let at = 0;
  for (const spec of specs) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(whole.slice(at, at + 4 * n).buffer);
    at += 4 * n;
    const q = options.quantize;
    if (!q) {
      parts.push(new Uint8Array(data.buffer.slice(0)));
      values.set(spec.name, data);
      weights.push({ name: spec.name, shape: spec.shape, dtype: 'float32' });
    } else if (q === 'float16') {
      const bits = Uint16Array.from(data, (v) => f32ToF16Bits(v));
      parts.push(new Uint8Array(bits.buffer));
      values.set(
        spec.name,
        Float32Array.from(bits, (b) => f16BitsToNumber(b)),
      );
      weights.push({ name: spec.name, shape: spec.shape, dtype: 'float32', quantization: { dtype: 'float16' } });
    } else {
      const levels = q === 'uint8' ? 255 : 65535;
      let min = Infinity;
      let max = -Infinity;
      for (const v of data) {
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
      const scale = max > min ? (max - min) / levels : 1;
      const codes = q === 'uint8' ? new Uint8Array(n) : new Uint16Array(n);
      const back = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        codes[i] = Math.min(levels, Math.max(0, Math.round((data[i]! - min) / scale)));
        back[i] = codes[i]! * scale + min;
      }
      parts.push(new Uint8Array(codes.buffer));
      values.set(spec.name, back);
      weights.push({ name: spec.name, shape: spec.shape, dtype: 'float32', quantization: { dtype: q, scale, min } });
    }
  }
  const bytes = concat(parts);
  const shardBytes = options.shardBytes ?? 4 * 1024 * 1024;
  const count = Math.max(1, Math.ceil(bytes.length / shardBytes));
  const shards = new Map<string, Uint8Array>();
  for (let i = 0; i < count; i++) shards.set(`group1-shard${i + 1}of${count}.bin`, bytes.slice(i * shardBytes, (i + 1) * shardBytes));
  const modelJson = {
    format: 'layers-model',
    generatedBy: artifacts.generatedBy ?? 'TensorFlow.js tfjs-layers',
    convertedBy: artifacts.convertedBy ?? null,
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: [...shards.keys()], weights }],
  };
  const readShard = async (path: string): Promise<Uint8Array> => {
    const s = shards.get(path);
    if (!s) throw new Error(`no shard ${path}`);
    return s;
  };
  return { modelJson: JSON.parse(JSON.stringify(modelJson)), shards, values, readShard };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Rewrites a Keras 2 functional topology (as tfjs-layers writes it) into Keras 3's form:
 * class "Functional", layers with module / registered_name, DTypePolicy objects, InputLayer's
 * batch_shape, and inbound nodes as { args: [keras tensors], kwargs } (a list of tensors as the
 * first argument for merge layers), input_layers / output_layers as bare refs.
 */
export function toKeras3Topology(topology: Record<string, any>): Record<string, any> {
  const t = JSON.parse(JSON.stringify(topology));
  const config = t.config;
  const tensor = (ref: any[]) => ({ class_name: '__keras_tensor__', config: { shape: null, dtype: 'float32', keras_history: [ref[0], ref[1], ref[2]] } });
  const layers = config.layers.map((layer: any) => {
    const cfg = { ...layer.config, dtype: { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null } };
    if (layer.class_name === 'InputLayer') {
      cfg.batch_shape = cfg.batch_input_shape;
      delete cfg.batch_input_shape;
    }
    const merge = ['Concatenate', 'Add'].includes(layer.class_name);
    const inbound = (layer.inbound_nodes ?? []).map((call: any[][]) => ({ args: merge ? [call.map(tensor)] : call.map(tensor), kwargs: {} }));
    return { module: 'keras.layers', class_name: layer.class_name, config: cfg, registered_name: null, name: layer.name, inbound_nodes: inbound };
  });
  return {
    class_name: 'Functional',
    config: { name: config.name, trainable: true, layers, input_layers: config.input_layers[0], output_layers: config.output_layers[0] },
    keras_version: '3.6.0',
    backend: 'tensorflow',
  };
}

// ------------------------------------------------------------------------------ models

/** Keras's conv2d_bn: a conv without bias, BatchNorm without γ (scale=False), ReLU. */
function convBn(
  x: tf.SymbolicTensor,
  filters: number,
  kh: number,
  kw: number,
  name: string,
  strides = 1,
  padding: 'same' | 'valid' = 'same',
): tf.SymbolicTensor {
  const c = tf.layers.conv2d({ filters, kernelSize: [kh, kw], strides, padding, useBias: false, name: `${name}_conv` }).apply(x) as tf.SymbolicTensor;
  const b = tf.layers.batchNormalization({ axis: 3, scale: false, name: `${name}_bn` }).apply(c) as tf.SymbolicTensor;
  return tf.layers.activation({ activation: 'relu', name }).apply(b) as tf.SymbolicTensor;
}

const concatOf = (xs: tf.SymbolicTensor[], name: string): tf.SymbolicTensor => tf.layers.concatenate({ axis: 3, name }).apply(xs) as tf.SymbolicTensor;
const avgSame = (x: tf.SymbolicTensor, name: string): tf.SymbolicTensor =>
  tf.layers.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same', name }).apply(x) as tf.SymbolicTensor;

/**
 * Keras's InceptionV3 in miniature at 75×75 (its smallest input): the stem (3×3/2 valid, 3×3
 * valid, 3×3 same, max-pool, 1×1, 3×3 valid, max-pool), a module A (1×1, 5×5, double 3×3,
 * average-pool branches), the reduction (3×3/2, double 3×3 ending /2, max-pool), a module C
 * (1×7 / 7×1 chains), a module E (1×3 and 3×1 expanded branches, concatenated), global average
 * pooling and a 10-class softmax head. Widths are small so tfjs's CPU backend stays quick.
 */
export function inceptionShaped(): tf.LayersModel {
  const input = tf.input({ shape: [75, 75, 3], name: 'input_1' });
  let x = convBn(input, 8, 3, 3, 'stem1', 2, 'valid'); // 37
  x = convBn(x, 8, 3, 3, 'stem2', 1, 'valid'); // 35
  x = convBn(x, 12, 3, 3, 'stem3'); // 35
  x = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, name: 'stem_pool1' }).apply(x) as tf.SymbolicTensor; // 17
  x = convBn(x, 12, 1, 1, 'stem4', 1, 'valid');
  x = convBn(x, 16, 3, 3, 'stem5', 1, 'valid'); // 15
  x = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, name: 'stem_pool2' }).apply(x) as tf.SymbolicTensor; // 7

  // Module A (mixed0).
  const a1 = convBn(x, 8, 1, 1, 'a_1x1');
  const a5 = convBn(convBn(x, 6, 1, 1, 'a_5x5_1'), 8, 5, 5, 'a_5x5_2');
  const a3 = convBn(convBn(convBn(x, 8, 1, 1, 'a_3x3dbl_1'), 12, 3, 3, 'a_3x3dbl_2'), 12, 3, 3, 'a_3x3dbl_3');
  const ap = convBn(avgSame(x, 'a_pool'), 4, 1, 1, 'a_pool_proj');
  x = concatOf([a1, a5, a3, ap], 'mixed0'); // 7×7×32

  // Reduction (mixed3).
  const r3 = convBn(x, 16, 3, 3, 'r_3x3', 2, 'valid');
  const rd = convBn(convBn(convBn(x, 8, 1, 1, 'r_dbl_1'), 12, 3, 3, 'r_dbl_2'), 12, 3, 3, 'r_dbl_3', 2, 'valid');
  const rp = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, name: 'r_pool' }).apply(x) as tf.SymbolicTensor;
  x = concatOf([r3, rd, rp], 'mixed3'); // 3×3×60

  // Module C (mixed4).
  const c1 = convBn(x, 12, 1, 1, 'c_1x1');
  let c7 = convBn(x, 8, 1, 1, 'c_7_1');
  c7 = convBn(convBn(c7, 8, 1, 7, 'c_7_2'), 12, 7, 1, 'c_7_3');
  let cd = convBn(x, 8, 1, 1, 'c_dbl_1');
  cd = convBn(convBn(convBn(convBn(cd, 8, 7, 1, 'c_dbl_2'), 8, 1, 7, 'c_dbl_3'), 8, 7, 1, 'c_dbl_4'), 12, 1, 7, 'c_dbl_5');
  const cp = convBn(avgSame(x, 'c_pool'), 12, 1, 1, 'c_pool_proj');
  x = concatOf([c1, c7, cd, cp], 'mixed4'); // 3×3×48

  // Module E (mixed9).
  const e1 = convBn(x, 16, 1, 1, 'e_1x1');
  const e3 = convBn(x, 12, 1, 1, 'e_3x3');
  const e3x = concatOf([convBn(e3, 12, 1, 3, 'e_3x3_1x3'), convBn(e3, 12, 3, 1, 'e_3x3_3x1')], 'mixed9_0');
  const ed = convBn(convBn(x, 14, 1, 1, 'e_dbl_1'), 12, 3, 3, 'e_dbl_2');
  const edx = concatOf([convBn(ed, 12, 1, 3, 'e_dbl_1x3'), convBn(ed, 12, 3, 1, 'e_dbl_3x1')], 'mixed9_1');
  const ep = convBn(avgSame(x, 'e_pool'), 8, 1, 1, 'e_pool_proj');
  x = concatOf([e1, e3x, edx, ep], 'mixed9'); // 3×3×72

  x = tf.layers.globalAveragePooling2d({ name: 'avg_pool' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 10, activation: 'softmax', name: 'predictions' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name: 'inception_v3_mini' });
}

// ------------------------------------------------------------------------------ reference
