/** TensorFlow.js layers models: the importer (topologies of Keras 2 and 3, the weights manifest,
 * quantised shards, every supported layer and option, its errors) and the imported graphs run
 * by the engine, against tfjs's own predict on its CPU backend as the oracle. Models get fresh
 * seeded weights each run; the seed is in the test names (replay with TEST_SEED). */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import type { Graph } from '../src/graph/ir.js';
import { compileGraph } from '../src/graph/execute.js';
import { importTfjsLayers, readTfjsLayersModel, TfjsLayersError } from '../src/io/tfjs-layers.js';
import { testEngine } from './support/engine.js';
import { assertClose } from './support/compare.js';
import { freshSeed, makeRng, randomArray } from './support/random.js';
import { graphRef } from './reference/graph.js';
import {
  inceptionShaped,
  publish,
  saveArtifacts,
  setRandomWeights,
  setWeightsByName,
  tf,
  tfReady,
  toKeras3Topology,
  type Published,
  type Quantization,
} from './support/tfjs-models.js';

const seed = freshSeed();
let engine: Engine;
let dir: string;
/** The largest relative error per case (engine against tfjs), printed at the end. */
const worst = new Map<string, number>();

beforeAll(async () => {
  await tfReady();
  engine = await testEngine();
  dir = mkdtempSync(join(tmpdir(), 'incept-tfjs-layers-'));
});
afterAll(() => {
  engine?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (worst.size > 0)
    console.log(`tfjs-layers (seed ${seed}): max relative error per model: ${[...worst].map(([k, v]) => `${k} ${v.toExponential(1)}`).join(', ')}`);
});

const L = tf.layers;
type ST = tf.SymbolicTensor;
const ap = (layer: tf.layers.Layer, x: ST | ST[]): ST => layer.apply(x) as ST;

/** A seed per case, derived from the run's seed and the case's name. */
function caseSeed(name: string): number {
  let h = seed;
  for (const ch of name) h = (Math.imul(h, 31) + ch.charCodeAt(0)) >>> 0;
  return h;
}

interface CheckOptions {
  batches?: number[];
  quantize?: Quantization;
  shardBytes?: number;
  /** Edits model.json before import (Keras 3 rewrite, reordering layers, …). */
  edit?: (modelJson: Record<string, any>) => void;
  /** Also runs the plan without fusion. */
  unfused?: boolean;
}

/** Random weights, published in shards of `shardBytes`, imported, and run on the host (float64)
 * and by the engine; both compared with tfjs's predict on the same inputs. */
async function check(name: string, model: tf.LayersModel, options: CheckOptions = {}): Promise<{ graph: Graph; published: Published }> {
  const rng = makeRng(caseSeed(name));
  setRandomWeights(model, rng);
  const published = publish(await saveArtifacts(model), { shardBytes: options.shardBytes ?? 512, quantize: options.quantize });
  if (options.quantize) setWeightsByName(model, published.values);
  options.edit?.(published.modelJson);
  const graph = await importTfjsLayers(published.modelJson, published.readShard, `${name}/model.json`);
  const inShape = graph.input.shape;
  const plans = [compileGraph(engine, graph), ...(options.unfused ? [compileGraph(engine, graph, { fuse: false })] : [])];
  try {
    for (const batch of options.batches ?? [1, 3]) {
      const x = randomArray(rng, batch * inShape.reduce((a, b) => a * b, 1));
      const ref = tf.tidy(() => (model.predict(tf.tensor(x, [batch, ...inShape])) as tf.Tensor).dataSync() as Float32Array);
      // Saturated probabilities (all 0 and 1) would hide any error: the weights are scaled so
      // the logits stay moderate, and this checks they did.
      if (graph.outputIsProbabilities)
        expect(
          ref.some((p) => p > 1e-3 && p < 0.999),
          `${name}: tfjs's probabilities are saturated`,
        ).toBe(true);
      assertClose(graphRef(graph, x, batch), ref, 1e-4, `${name}, batch ${batch}: the imported graph on the host against tfjs`);
      for (const [k, plan] of plans.entries()) {
        const xt = engine.tensor(x, [batch, ...inShape]);
        const y = plan.run(xt);
        const got = await y.read();
        xt.dispose();
        y.dispose();
        const c = assertClose(got, ref, 1e-4, `${name}, batch ${batch}${k ? ', unfused' : ''}: the engine against tfjs`);
        worst.set(name, Math.max(worst.get(name) ?? 0, c.relErr));
      }
    }
  } finally {
    for (const p of plans) p.dispose();
  }
  return { graph, published };
}

async function expectImportError(modelJson: unknown, readShard: (p: string) => Promise<Uint8Array>, ...patterns: RegExp[]): Promise<string> {
  let error: unknown;
  try {
    await importTfjsLayers(modelJson, readShard, 'bad/model.json');
  } catch (e) {
    error = e;
  }
  expect(error, 'expected an error').toBeInstanceOf(TfjsLayersError);
  const message = (error as Error).message;
  expect(message.startsWith('bad/model.json: '), message).toBe(true);
  for (const p of patterns) expect(message).toMatch(p);
  return message;
}

// --------------------------------------------------------------------------------- models

function convModel(): tf.LayersModel {
  const x = tf.input({ shape: [11, 9, 3], name: 'image' });
  let y = ap(L.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'c_same_s2' }), x); // 6×5
  y = ap(L.conv2d({ filters: 5, kernelSize: 4, padding: 'same', name: 'c_same_even' }), y); // 6×5, padding 1 before, 2 after
  y = ap(L.conv2d({ filters: 4, kernelSize: [1, 3], padding: 'same', useBias: false, name: 'c_1x3' }), y);
  y = ap(L.conv2d({ filters: 4, kernelSize: [3, 2], strides: [2, 1], padding: 'valid', activation: 'relu', name: 'c_valid' }), y); // 2×4
  y = ap(L.conv2d({ filters: 3, kernelSize: 2, strides: 2, padding: 'same', name: 'c_same_s2_even' }), y); // 1×2
  y = ap(L.flatten({ name: 'flat' }), y);
  y = ap(L.dense({ units: 5, activation: 'softmax', name: 'head' }), y);
  return tf.model({ inputs: x, outputs: y });
}

function batchNormModel(): tf.LayersModel {
  const x = tf.input({ shape: [5, 6, 4], name: 'in' });
  let y = ap(L.conv2d({ filters: 6, kernelSize: 3, padding: 'same', useBias: false, name: 'conv' }), x);
  y = ap(L.batchNormalization({ scale: false, name: 'bn_no_scale' }), y);
  y = ap(L.batchNormalization({ center: false, epsilon: 0.01, name: 'bn_no_center' }), y);
  y = ap(L.batchNormalization({ center: false, scale: false, axis: 3, name: 'bn_neither' }), y);
  y = ap(L.reLU({ name: 'relu' }), y);
  y = ap(L.batchNormalization({ name: 'bn_full' }), y);
  y = ap(L.flatten({ name: 'flat' }), y);
  y = ap(L.dense({ units: 8, activation: 'relu', name: 'fc1' }), y);
  y = ap(L.batchNormalization({ name: 'bn_flat' }), y);
  y = ap(L.dense({ units: 4, name: 'fc2' }), y);
  return tf.model({ inputs: x, outputs: y });
}

function poolModel(): tf.LayersModel {
  const x = tf.input({ shape: [7, 9, 4], name: 'in' });
  const a = ap(L.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same', name: 'avg_same' }), x);
  const m = ap(L.maxPooling2d({ poolSize: 3, strides: 1, padding: 'same', name: 'max_same' }), x);
  const c = ap(L.conv2d({ filters: 3, kernelSize: 1, name: 'proj' }), x);
  let y = ap(L.concatenate({ axis: -1, name: 'cat3' }), [a, m, c]); // 7×9×11
  y = ap(L.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'avg_same_s2' }), y); // 4×5, the divisor differs at the edges
  const v = ap(L.averagePooling2d({ poolSize: [2, 3], strides: 1, padding: 'valid', name: 'avg_valid' }), y); // 3×3
  const w = ap(L.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same', name: 'max_same_s2' }), y); // 2×3
  const gv = ap(L.globalMaxPooling2d({ name: 'gmax' }), v);
  const gw = ap(L.globalAveragePooling2d({ name: 'gavg' }), w);
  y = ap(L.concatenate({ name: 'cat_flat' }), [gv, gw]);
  y = ap(L.dense({ units: 6, name: 'fc' }), y);
  return tf.model({ inputs: x, outputs: y });
}

function residualModel(): tf.LayersModel {
  const x = tf.input({ shape: [6, 10, 3], name: 'in' });
  const a = ap(L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'branch3x3' }), x);
  const b = ap(L.conv2d({ filters: 4, kernelSize: 1, name: 'shortcut' }), x);
  let y = ap(L.add({ name: 'residual' }), [a, b]);
  y = ap(L.activation({ activation: 'relu', name: 'act' }), y);
  const c = ap(L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'again' }), y);
  y = ap(L.add({ name: 'sum3' }), [y, c, b]);
  y = ap(L.activation({ activation: 'linear', name: 'identity' }), y);
  y = ap(L.maxPooling2d({ poolSize: 2, name: 'pool' }), y); // 3×5×4
  y = ap(L.flatten({ name: 'flat' }), y); // 60, in H, W, C order
  y = ap(L.dropout({ rate: 0.3, name: 'drop' }), y);
  y = ap(L.dense({ units: 7, name: 'logits' }), y);
  y = ap(L.softmax({ name: 'probs' }), y);
  return tf.model({ inputs: x, outputs: y });
}

function depthwiseModel(): tf.LayersModel {
  const x = tf.input({ shape: [9, 8, 3], name: 'in' });
  let y = ap(L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', name: 'dw' }), x); // 5×4×6
  y = ap(L.depthwiseConv2d({ kernelSize: [2, 3], padding: 'valid', useBias: false, activation: 'relu', name: 'dw_valid' }), y);
  y = ap(L.globalAveragePooling2d({ name: 'gap' }), y);
  y = ap(L.dense({ units: 3, name: 'fc' }), y);
  return tf.model({ inputs: x, outputs: y });
}

/** MobileNet's pattern: ZeroPadding2D before a valid strided (depthwise) convolution. */
function zeroPaddingModel(): tf.LayersModel {
  const x = tf.input({ shape: [8, 7, 3], name: 'in' });
  let y = ap(
    L.zeroPadding2d({
      padding: [
        [0, 1],
        [2, 1],
      ],
      name: 'pad_asym',
    }),
    x,
  ); // 9×10
  y = ap(L.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'valid', activation: 'relu', name: 'conv_s2' }), y); // 4×4
  y = ap(L.zeroPadding2d({ padding: 1, name: 'pad1' }), y);
  y = ap(L.depthwiseConv2d({ kernelSize: 3, padding: 'same', name: 'dw' }), y); // 6×6, its own padding on top
  y = ap(L.flatten({ name: 'flat' }), y);
  y = ap(L.dense({ units: 3, name: 'fc' }), y);
  return tf.model({ inputs: x, outputs: y });
}

function sharedLayerModel(): tf.LayersModel {
  const x = tf.input({ shape: [6, 6, 3], name: 'in' });
  const shared = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'shared' });
  const a = ap(shared, x);
  const b = ap(shared, ap(L.conv2d({ filters: 3, kernelSize: 1, name: 'pre' }), x));
  let y = ap(L.concatenate({ name: 'cat' }), [a, b]);
  y = ap(L.globalAveragePooling2d({ name: 'gap' }), y);
  y = ap(L.dense({ units: 3, activation: 'softmax', name: 'fc' }), y);
  return tf.model({ inputs: x, outputs: y });
}

function sequentialModel(): tf.Sequential {
  return tf.sequential({
    name: 'seq',
    layers: [
      L.conv2d({ inputShape: [8, 8, 2], filters: 4, kernelSize: 3, activation: 'relu', name: 'seq_conv' }),
      L.maxPooling2d({ poolSize: 2, name: 'seq_pool' }),
      L.batchNormalization({ name: 'seq_bn' }),
      L.flatten({ name: 'seq_flat' }),
      L.dropout({ rate: 0.5, name: 'seq_drop' }),
      L.dense({ units: 5, activation: 'relu', name: 'seq_fc1' }),
      L.dense({ units: 3, activation: 'softmax', name: 'seq_fc2' }),
    ],
  });
}

function smallQuantModel(): tf.LayersModel {
  const x = tf.input({ shape: [6, 5, 3], name: 'in' });
  let y = ap(L.conv2d({ filters: 5, kernelSize: 3, padding: 'same', useBias: false, name: 'conv' }), x);
  y = ap(L.batchNormalization({ name: 'bn' }), y);
  y = ap(L.activation({ activation: 'relu', name: 'act' }), y);
  y = ap(L.globalAveragePooling2d({ name: 'gap' }), y);
  y = ap(L.dense({ units: 4, activation: 'softmax', name: 'fc' }), y);
  return tf.model({ inputs: x, outputs: y });
}

// --------------------------------------------------------------------------------- tests

describe(`importing (seed ${seed})`, () => {
  it("resolves TensorFlow's same padding (odd pixel at the end), strides and the layer options into IR nodes", async () => {
    const { graph } = await check('conv', convModel(), { batches: [1] });
    const conv = (name: string) => graph.nodes.find((n) => n.name === name) as any;
    expect(conv('c_same_s2').padding).toEqual([1, 1, 1, 1]); // 11 → 6: 1 + 1; 9 → 5: 1 + 1
    expect(conv('c_same_s2').stride).toEqual([2, 2]);
    expect(conv('c_same_s2').relu).toBe(true);
    expect(conv('c_same_even').padding).toEqual([1, 2, 1, 2]);
    expect(conv('c_1x3').padding).toEqual([0, 0, 1, 1]);
    expect(conv('c_1x3').bias).toBeUndefined();
    expect(conv('c_valid').padding).toEqual([0, 0, 0, 0]);
    expect(conv('c_same_s2_even').padding).toEqual([0, 0, 0, 0]); // 2×4 → 1×2 needs none
    expect(graph.nodes.map((n) => n.op)).toEqual(['conv2d', 'conv2d', 'conv2d', 'conv2d', 'conv2d', 'flatten', 'dense', 'softmax']);
    expect(graph.output).toBe('head');
    expect(graph.outputIsProbabilities).toBe(true);
    expect(graph.source).toBe('tfjs:conv/model.json');
    expect(graph.weights.get('c_same_s2/kernel')!.shape).toEqual([3, 3, 3, 6]);
    expect(graph.weights.get('head/kernel')!.shape).toEqual([6, 5]); // 1×2×3 after the last conv
  });

  it('sorts the nodes by dependency whatever order model.json lists the layers in, and reads Keras 3 topologies', async () => {
    const model = poolModel();
    setRandomWeights(model, makeRng(caseSeed('order')));
    const published = publish(await saveArtifacts(model), { shardBytes: 200 });
    const reference = await importTfjsLayers(published.modelJson, published.readShard);
    const reversed = JSON.parse(JSON.stringify(published.modelJson));
    reversed.modelTopology.config.layers.reverse();
    const fromReversed = await importTfjsLayers(reversed, published.readShard);
    const producers = new Set([fromReversed.input.name]);
    for (const node of fromReversed.nodes) {
      for (const i of node.inputs) expect(producers.has(i), `${node.name} reads ${i} before it is written`).toBe(true);
      producers.add(node.output);
    }
    const keras3 = { ...published.modelJson, modelTopology: toKeras3Topology(published.modelJson.modelTopology) };
    const wrapped = {
      ...published.modelJson,
      modelTopology: { keras_version: '2.13.1', backend: 'tensorflow', model_config: { ...published.modelJson.modelTopology, class_name: 'Functional' } },
    };
    const x = randomArray(makeRng(caseSeed('order-x')), 2 * 7 * 9 * 4);
    const expected = graphRef(reference, x, 2);
    for (const g of [fromReversed, await importTfjsLayers(keras3, published.readShard), await importTfjsLayers(JSON.stringify(wrapped), published.readShard)]) {
      expect(new Set(g.nodes.map((n) => JSON.stringify(n)))).toEqual(new Set(reference.nodes.map((n) => JSON.stringify(n))));
      expect([...g.weights.keys()].sort()).toEqual([...reference.weights.keys()].sort());
      assertClose(graphRef(g, x, 2), expected, 0, 'the same model, listed differently');
    }
  });

  it('reads weights from several manifest groups, each with its own shards', async () => {
    const model = smallQuantModel();
    setRandomWeights(model, makeRng(caseSeed('groups')));
    const published = publish(await saveArtifacts(model), { shardBytes: 1 << 20 });
    const [group] = published.modelJson.weightsManifest;
    const whole = published.shards.get(group.paths[0])!;
    // Split after the second weight; the second group's bytes go into three shards.
    const cut = group.weights.slice(0, 2).reduce((s: number, w: any) => s + 4 * w.shape.reduce((a: number, b: number) => a * b, 1), 0);
    const rest = whole.subarray(cut);
    const third = Math.ceil(rest.length / 3);
    const shards = new Map<string, Uint8Array>([
      ['a/group1-shard1of1.bin', whole.subarray(0, cut)],
      ['b/group2-shard1of3.bin', rest.subarray(0, third)],
      ['b/group2-shard2of3.bin', rest.subarray(third, 2 * third)],
      ['b/group2-shard3of3.bin', rest.subarray(2 * third)],
    ]);
    const json = {
      ...published.modelJson,
      weightsManifest: [
        { paths: ['a/group1-shard1of1.bin'], weights: group.weights.slice(0, 2) },
        { paths: [...shards.keys()].slice(1), weights: group.weights.slice(2) },
      ],
    };
    const graph = await importTfjsLayers(json, async (p) => shards.get(p)!);
    const x = randomArray(makeRng(caseSeed('groups-x')), 6 * 5 * 3);
    const ref = tf.tidy(() => (model.predict(tf.tensor(x, [1, 6, 5, 3])) as tf.Tensor).dataSync() as Float32Array);
    assertClose(graphRef(graph, x, 1), ref, 1e-4, 'two groups');
  });

  it('reads a model whose layers call a shared layer twice', async () => {
    const { graph } = await check('shared layer', sharedLayerModel(), { batches: [2] });
    const shared = graph.nodes.filter((n) => n.op === 'conv2d' && (n as any).weight === 'shared/kernel');
    expect(shared.map((n) => n.output).sort()).toEqual(['shared', 'shared:1']);
  });

  it('maps GlobalAveragePooling2D with keepdims to a whole-grid average pool', async () => {
    // tfjs has no keepdims: a whole-grid AveragePooling2D gives tfjs's answer, then the layer
    // becomes GlobalAveragePooling2D(keepdims=True) as Keras writes it.
    const x = tf.input({ shape: [4, 5, 3], name: 'in' });
    let y = ap(L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'conv' }), x);
    y = ap(L.averagePooling2d({ poolSize: [4, 5], name: 'gap_keep' }), y);
    y = ap(L.conv2d({ filters: 3, kernelSize: 1, name: 'head_conv' }), y);
    y = ap(L.flatten({ name: 'flat' }), y);
    const { graph } = await check('keepdims', tf.model({ inputs: x, outputs: y }), {
      batches: [2],
      edit: (json) => {
        const layer = json.modelTopology.config.layers.find((l: any) => l.name === 'gap_keep');
        layer.class_name = 'GlobalAveragePooling2D';
        layer.config = { name: 'gap_keep', data_format: 'channels_last', keepdims: true };
      },
    });
    expect(graph.nodes.find((n) => n.name === 'gap_keep')).toMatchObject({ op: 'avgPool', kernel: [4, 5], stride: [1, 1], padding: [0, 0, 0, 0] });
  });
});

describe(`against tfjs predict (seed ${seed})`, () => {
  it('Conv2D: same and valid padding, odd sizes, strides 2, 1×n and even kernels, bias, ReLU; Dense + softmax', async () => {
    await check('conv', convModel(), { unfused: true });
  });

  it('BatchNormalization with and without scale and center, other epsilons, on images and flat values; ReLU layer', async () => {
    const { graph } = await check('batchnorm', batchNormModel(), { unfused: true });
    const bn = (name: string) => graph.nodes.find((n) => n.name === name) as any;
    expect(bn('bn_no_scale').gamma).toBeUndefined();
    expect(bn('bn_no_scale').beta).toBe('bn_no_scale/beta');
    expect(bn('bn_no_center').beta).toBeUndefined();
    expect(bn('bn_no_center').eps).toBeCloseTo(0.01, 8);
    expect(bn('bn_neither').gamma ?? bn('bn_neither').beta).toBeUndefined();
  });

  it('pools with same padding where the divisor convention matters, valid pools, global max/average, Concatenate of 3 branches', async () => {
    const { graph } = await check('pools', poolModel(), { unfused: true });
    expect(graph.nodes.find((n) => n.name === 'avg_same_s2')).toMatchObject({ op: 'avgPool', padding: [1, 1, 1, 1], countIncludePad: false });
  });

  it('Add residuals (of two and three values), Activation, Flatten of a 3×5 grid, Dropout, Softmax layer', async () => {
    const { graph } = await check('residual', residualModel());
    expect(graph.nodes.filter((n) => n.op === 'add')).toHaveLength(3);
    expect(graph.outputIsProbabilities).toBe(true);
  });

  it('DepthwiseConv2D with a depth multiplier, expanded to a full convolution', async () => {
    await check('depthwise', depthwiseModel());
  });

  it('ZeroPadding2D folded into the convolution after it', async () => {
    const { graph } = await check('zero padding', zeroPaddingModel());
    expect(graph.nodes.find((n) => n.name === 'conv_s2')).toMatchObject({ inputs: ['in'], padding: [0, 1, 2, 1] });
    expect(graph.nodes.find((n) => n.name === 'dw')).toMatchObject({ inputs: ['conv_s2'], padding: [2, 2, 2, 2] });
  });

  it('a Sequential model', async () => {
    const { graph } = await check('sequential', sequentialModel());
    expect(graph.input).toEqual({ name: 'seq_conv_input', shape: [8, 8, 2] });
  });

  for (const quantize of ['uint8', 'uint16', 'float16'] as const) {
    it(`weights quantised to ${quantize} (tfjs runs the dequantised values)`, async () => {
      const { published } = await check(`quantised ${quantize}`, smallQuantModel(), { quantize, shardBytes: 64 });
      const q = published.modelJson.weightsManifest[0].weights[0].quantization;
      expect(q.dtype).toBe(quantize);
      expect(published.shards.size).toBeGreaterThan(1);
    });
  }

  it('a Keras-InceptionV3-shaped functional model at 75×75 (stem, modules A, C and E, the reduction, GAP, 10 classes)', async () => {
    const { graph, published } = await check('inception-mini', inceptionShaped(), { batches: [1, 3], shardBytes: 8192 });
    expect(published.shards.size).toBeGreaterThan(3);
    expect(graph.outputIsProbabilities).toBe(true);
    expect(graph.nodes.filter((n) => n.op === 'concat')).toHaveLength(6);
    const c7 = graph.nodes.find((n) => n.name === 'c_7_2_conv') as any;
    expect(c7.padding).toEqual([0, 0, 3, 3]);
    const pool = graph.nodes.find((n) => n.name === 'a_pool') as any;
    expect(pool).toMatchObject({ op: 'avgPool', padding: [1, 1, 1, 1], countIncludePad: false });
  });
});

describe(`files (seed ${seed})`, () => {
  async function writeModel(name: string): Promise<{ path: string; published: Published; model: tf.LayersModel }> {
    const model = smallQuantModel();
    setRandomWeights(model, makeRng(caseSeed(name)));
    const published = publish(await saveArtifacts(model), { shardBytes: 100 });
    const folder = join(dir, name);
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'model.json'), JSON.stringify(published.modelJson));
    for (const [p, bytes] of published.shards) writeFileSync(join(folder, p), bytes);
    return { path: join(folder, 'model.json'), published, model };
  }

  it('reads model.json and its shards relative to it', async () => {
    const { path, published, model } = await writeModel('ok');
    expect(published.shards.size).toBeGreaterThan(2);
    const graph = await readTfjsLayersModel(path);
    expect(graph.source).toBe(`tfjs:${path}`);
    const x = randomArray(makeRng(caseSeed('file-x')), 2 * 6 * 5 * 3);
    const ref = tf.tidy(() => (model.predict(tf.tensor(x, [2, 6, 5, 3])) as tf.Tensor).dataSync() as Float32Array);
    assertClose(graphRef(graph, x, 2), ref, 1e-4, 'read from files');
  });

  it('names a missing or truncated shard and its expected byte length', async () => {
    const { path, published } = await writeModel('broken');
    const names = [...published.shards.keys()];
    const total = [...published.shards.values()].reduce((s, b) => s + b.length, 0);
    const full = published.shards.get(names[0]!)!.length;
    const last = names[names.length - 1]!;
    const folder = path.slice(0, -'model.json'.length);
    writeFileSync(join(folder, last), published.shards.get(last)!.subarray(0, 3));
    await expect(readTfjsLayersModel(path)).rejects.toThrow(
      new RegExp(
        `weight shard '${last}' \\(group 1, shard ${names.length} of ${names.length}\\) is truncated: it holds 3 bytes, expected ${total - full * (names.length - 1)} bytes`,
      ),
    );
    writeFileSync(join(folder, names[1]!), published.shards.get(names[1]!)!.subarray(0, full - 8));
    writeFileSync(join(folder, last), published.shards.get(last)!);
    await expect(readTfjsLayersModel(path)).rejects.toThrow(
      new RegExp(`'${names[1]}' \\(group 1, shard 2 of ${names.length}\\) is truncated: it holds ${full - 8} bytes, expected ${full} bytes`),
    );
    rmSync(join(folder, names[1]!));
    const message = await readTfjsLayersModel(path).then(
      () => '',
      (e: Error) => e.message,
    );
    expect(message).toMatch(
      new RegExp(
        `^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: weight shard '${names[1]}' \\(group 1, shard 2 of ${names.length}\\) could not be read, expected ${full} bytes`,
      ),
    );
    expect(message).toContain(`no such file: ${join(folder, names[1]!)}`);
    await expect(readTfjsLayersModel(join(dir, 'nowhere', 'model.json'))).rejects.toThrow(/nowhere\/model\.json: no such file/);
    writeFileSync(path, '{"format": "layers-model", "modelTopology": ');
    await expect(readTfjsLayersModel(path)).rejects.toThrow(/model\.json: not valid JSON/);
  });
});

describe('errors name the layer and what it cannot take', () => {
  async function publishedOf(build: () => tf.LayersModel): Promise<Published> {
    return publish(await saveArtifacts(build()), { shardBytes: 256 });
  }
  const single =
    (layer: tf.layers.Layer, shape = [6, 6, 3]) =>
    () => {
      const x = tf.input({ shape, name: 'in' });
      const y = ap(L.flatten({ name: 'flat' }), ap(layer, x));
      return tf.model({ inputs: x, outputs: y });
    };

  it('unsupported layers and options', async () => {
    let p = await publishedOf(single(L.upSampling2d({ size: [2, 2], name: 'up' })));
    await expectImportError(
      p.modelJson,
      p.readShard,
      /layer 'up' \(UpSampling2D\): layer class 'UpSampling2D' is not supported; supported: InputLayer, Conv2D/,
    );
    p = await publishedOf(single(L.conv2d({ filters: 2, kernelSize: 3, activation: 'sigmoid', name: 'sig' })));
    await expectImportError(p.modelJson, p.readShard, /layer 'sig' \(Conv2D\): activation 'sigmoid' is not supported/);
    p = await publishedOf(single(L.conv2d({ filters: 2, kernelSize: 3, activation: 'softmax', name: 'cs' })));
    await expectImportError(p.modelJson, p.readShard, /layer 'cs' \(Conv2D\): activation 'softmax' over the channels/);
    p = await publishedOf(single(L.conv2d({ filters: 2, kernelSize: 3, dilationRate: 2, name: 'dil' })));
    await expectImportError(p.modelJson, p.readShard, /layer 'dil' \(Conv2D\): dilation_rate \[2, 2\] is not supported/);
    p = await publishedOf(single(L.reLU({ maxValue: 6, name: 'relu6' })));
    await expectImportError(p.modelJson, p.readShard, /layer 'relu6' \(ReLU\): max_value 6 is not supported/);
    p = await publishedOf(single(L.leakyReLU({ name: 'leaky' })));
    await expectImportError(p.modelJson, p.readShard, /layer 'leaky' \(LeakyReLU\): layer class 'LeakyReLU' is not supported/);
    p = await publishedOf(single(L.conv2d({ filters: 2, kernelSize: 3, name: 'plain' })));
    const channelsFirst = JSON.parse(JSON.stringify(p.modelJson));
    channelsFirst.modelTopology.config.layers[1].config.data_format = 'channels_first';
    await expectImportError(channelsFirst, p.readShard, /layer 'plain' \(Conv2D\): data_format "channels_first" is not supported/);
    const grouped = JSON.parse(JSON.stringify(p.modelJson));
    grouped.modelTopology.config.layers[1].config.groups = 3;
    await expectImportError(grouped, p.readShard, /\(Conv2D\): groups 3 is not supported/);
  });

  it('models with two inputs, nested models, dense layers on images', async () => {
    const a = tf.input({ shape: [4, 4, 2], name: 'a' });
    const b = tf.input({ shape: [4, 4, 2], name: 'b' });
    const two = tf.model({ inputs: [a, b], outputs: ap(L.flatten({ name: 'f' }), ap(L.add({ name: 'sum' }), [a, b])) });
    let p = publish(await saveArtifacts(two));
    await expectImportError(p.modelJson, p.readShard, /the model has 2 inputs; only models with one input and one output are supported/);
    p = await publishedOf(single(L.dense({ units: 3, name: 'dense_on_image' })));
    await expectImportError(p.modelJson, p.readShard, /layer 'dense_on_image' \(Dense\): needs a flat input \[F\] .* got \[6, 6, 3\]/);
    p = await publishedOf(() => {
      const x = tf.input({ shape: [6, 6, 3], name: 'in' });
      const y = ap(L.maxPooling2d({ poolSize: 2, name: 'pool' }), ap(L.zeroPadding2d({ padding: 1, name: 'pad' }), x));
      return tf.model({ inputs: x, outputs: ap(L.flatten({ name: 'flat' }), y) });
    });
    await expectImportError(
      p.modelJson,
      p.readShard,
      /layer 'pool' \(MaxPooling2D\) reads the output of layer 'pad' \(ZeroPadding2D\), which is supported only right before a Conv2D/,
    );
    const inner = tf.sequential({ name: 'inner', layers: [L.conv2d({ inputShape: [6, 6, 3], filters: 2, kernelSize: 1, name: 'inner_conv' })] });
    const x = tf.input({ shape: [6, 6, 3], name: 'in' });
    const nested = tf.model({ inputs: x, outputs: ap(L.flatten({ name: 'flat' }), ap(inner as unknown as tf.layers.Layer, x)) });
    p = publish(await saveArtifacts(nested));
    await expectImportError(p.modelJson, p.readShard, /layer 'inner' \(Sequential\).*nested models are not supported/);
  });

  it('the manifest: a missing weight, a wrong shape, a bad quantisation; bad JSON and other formats', async () => {
    const p = await publishedOf(smallQuantModel);
    const missing = JSON.parse(JSON.stringify(p.modelJson));
    missing.weightsManifest[0].weights = missing.weightsManifest[0].weights.filter((w: any) => w.name !== 'bn/moving_variance');
    await expectImportError(missing, p.readShard, /layer 'bn' \(BatchNormalization\): the weights manifest has no 'bn\/moving_variance' \(shape \[5\]\)/);
    const reshaped = JSON.parse(JSON.stringify(p.modelJson));
    reshaped.weightsManifest[0].weights.find((w: any) => w.name === 'fc/kernel').shape = [4, 5];
    await expectImportError(
      reshaped,
      p.readShard,
      /layer 'fc' \(Dense\): weight 'fc\/kernel' has shape \[4, 5\], but the layer's config and input need \[5, 4\]/,
    );
    const badQuant = JSON.parse(JSON.stringify(p.modelJson));
    badQuant.weightsManifest[0].weights[0].quantization = { dtype: 'int4', scale: 1, min: 0 };
    await expectImportError(badQuant, p.readShard, /weight 'conv\/kernel' has quantization .*int4/);
    let reads = 0;
    await expectImportError(
      p.modelJson,
      async (path) => {
        reads++;
        if (path.includes('shard2of')) throw new Error('disk on fire');
        return p.readShard(path);
      },
      /weight shard 'group1-shard2of\d+\.bin' \(group 1, shard 2 of \d+\) could not be read, expected 256 bytes .*: disk on fire/,
    );
    expect(reads).toBeGreaterThan(1);
    await expectImportError('{"format": "layers-model", "modelTopology": {', p.readShard, /not valid JSON/);
    await expectImportError({ format: 'graph-model', modelTopology: {} }, p.readShard, /a TensorFlow\.js graph model/);
    await expectImportError({ format: 'layers-model' }, p.readShard, /no modelTopology/);
    await expectImportError({ modelTopology: { class_name: 'Graph', config: {} } }, p.readShard, /class_name is "Graph"/);
    await expectImportError([1, 2], p.readShard, /must hold an object/);
  });
});
