/**
 * loadClassifier on torchvision-layout safetensors written from a random-weight Inception-v3:
 * the classifier's outputs are the native model's forward on the same input, bit for bit;
 * probabilities, top-k order and labels; files that are wrong in each way fail with an error
 * naming the file and the fault; dispose gives the GPU memory back.
 *
 * The full 299×299 network runs once (a real sample image, end to end); everything else uses
 * the CIFAR-10 variant at width 0.25, which is the same code at a few percent of the cost.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { InceptionV3 } from '../src/models/inception-v3.js';
import { torchvisionStateDict } from '../src/models/inception-v3-weights.js';
import { encodeSafetensors, type SafetensorsInput } from '../src/io/safetensors.js';
import { decodeImage, readImageFile, type DecodedImage } from '../src/io/image.js';
import { preprocess } from '../src/io/preprocess.js';
import { ClassifierError, detectModelFormat, loadClassifier, parseLabels, type Classifier } from '../src/api/classifier.js';
import { exportInceptionV3Onnx } from '../src/io/onnx/index.js';
import { testEngine } from './support/engine.js';
import { freshSeed, makeRng } from './support/random.js';
import { publish, saveArtifacts, setRandomWeights, tf, tfReady } from './support/tfjs-models.js';

const SAMPLES = new URL('../../shared/data/imagenet-sample/', import.meta.url);
const sample = (name: string) => new URL(name, SAMPLES).pathname;
const LABELS: string[] = JSON.parse(readFileSync(sample('imagenet-simple-labels.json'), 'utf8'));

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const seed = freshSeed();
const replay = `(seed ${seed}; replay with TEST_SEED=${seed})`;

/** A small random-weight network with realistic running statistics, saved as torchvision safetensors. */
async function cifarFile(numClasses = 10): Promise<{ model: InceptionV3; bytes: Uint8Array; dict: Map<string, SafetensorsInput> }> {
  const model = new InceptionV3(engine, { seed, variant: 'cifar10', width: 0.25, numClasses });
  await model.calibrate(engine.randomNormal([4, 32, 32, 3], { seed: seed + 1 }));
  const dict = await torchvisionStateDict(model);
  return { model, bytes: encodeSafetensors(dict), dict };
}

let small: { model: InceptionV3; bytes: Uint8Array; dict: Map<string, SafetensorsInput> };
let tabby: DecodedImage;
beforeAll(async () => {
  small = await cifarFile();
  tabby = await readImageFile(sample('n02123045_tabby.JPEG'));
});
afterAll(() => small?.model.dispose());

const sum = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0);

describe(`loadClassifier, torchvision safetensors ${replay}`, () => {
  it('detects the format from the bytes and reads the architecture from the shapes (CIFAR-10 variant, width 0.25, 10 classes)', async () => {
    expect(detectModelFormat(small.bytes, 'w.safetensors')).toBe('torchvision');
    const c = await loadClassifier(engine, { weights: small.bytes });
    try {
      expect(c.format).toBe('torchvision');
      expect(c.numClasses).toBe(10);
      expect(c.inputShape).toEqual([32, 32, 3]);
      expect(c.presetName).toBe('torchvision');
      expect(c.description).toBe('Inception-v3 (CIFAR-10 variant), width 0.25, torchvision layout');
      expect(c.parameterCount).toBeGreaterThan(1e6);
    } finally {
      c.dispose();
    }
  });

  it("a tensor input gives exactly the native model's logits; probabilities sum to 1; top-k is sorted and agrees with them", async () => {
    const c = await loadClassifier(engine, { weights: { name: 'cifar.safetensors', bytes: small.bytes } });
    const x = engine.randomNormal([3, 32, 32, 3], { seed: seed + 2 });
    try {
      const results = await c.classify(x, { topk: 4, scores: true });
      const native = (await engine.scope(() => small.model.forward(x)).read()) as Float32Array;
      expect(results).toHaveLength(3);
      results.forEach((r, i) => {
        expect(r.outputs).toEqual(native.slice(i * 10, (i + 1) * 10));
        expect(sum(r.probabilities!)).toBeCloseTo(1, 5);
        expect(r.top).toHaveLength(4);
        for (let j = 1; j < 4; j++) expect(r.top[j]!.probability).toBeLessThanOrEqual(r.top[j - 1]!.probability);
        const best = Array.from(r.outputs!).reduce((b, v, k, a) => (v > a[b]! ? k : b), 0);
        expect(r.top[0]!.index).toBe(best);
        for (const t of r.top) {
          expect(t.probability).toBeCloseTo(r.probabilities![t.index]!, 6);
          expect(t.label).toBe(`class ${t.index}`);
        }
        expect(r.ms).toBeGreaterThan(0);
      });
    } finally {
      x.dispose();
      c.dispose();
    }
  });

  it('an image input is preprocessed at the model input size (torchvision preset), same as preprocessing by hand', async () => {
    const labels = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
    const c = await loadClassifier(engine, { weights: small.bytes, labels });
    try {
      const one = await c.classify(tabby, { scores: true });
      const x = preprocess(engine, [tabby], { preset: 'torchvision', size: 32 });
      const [viaTensor] = await c.classify(x, { scores: true });
      x.dispose();
      expect(one.outputs).toEqual(viaTensor!.outputs);
      expect(one.top).toHaveLength(5);
      expect(one.top.map((t) => t.label)).toEqual(one.top.map((t) => labels[t.index]));
      const run = await c.classifyDetailed([tabby, tabby, tabby], { batchSize: 2, topk: 1 });
      expect(run.results.map((r) => r.top[0]!.index)).toEqual([one.top[0]!.index, one.top[0]!.index, one.top[0]!.index]);
      expect(run.timing.preprocessMs).toBeGreaterThan(0);
      expect(run.timing.forwardMs).toBeGreaterThan(0);
      expect(run.layers).toBeUndefined(); // the engine does not profile
    } finally {
      c.dispose();
    }
  });

  it('a training checkpoint layout (model.* keys, optimizer state beside them) loads as the CIFAR-10 variant', async () => {
    const tensors = new Map<string, SafetensorsInput>();
    for (const [k, v] of small.dict) tensors.set(`model.${k}`, v);
    tensors.set('optimizer.fc.weight.momentum', { shape: [2], data: new Float32Array(2) });
    const c = await loadClassifier(engine, { weights: encodeSafetensors(tensors) });
    try {
      const x = engine.randomNormal([1, 32, 32, 3], { seed: seed + 3 });
      const [r] = await c.classify(x, { scores: true });
      const native = await engine.scope(() => small.model.forward(x)).read();
      x.dispose();
      expect(r!.outputs).toEqual(native);
    } finally {
      c.dispose();
    }
  });

  it('dispose gives back every byte the classifier took; a disposed classifier refuses to run', async () => {
    await engine.sync();
    const before = engine.memory().liveBytes;
    const c = await loadClassifier(engine, { weights: small.bytes });
    await c.classify(tabby);
    expect(engine.memory().liveBytes).toBeGreaterThan(before);
    c.dispose();
    expect(engine.memory().liveBytes).toBe(before);
    await expect(c.classify(tabby)).rejects.toThrow(/disposed/);
  });
});

describe(`loadClassifier: files and arguments that do not fit fail clearly ${replay}`, () => {
  const load = (weights: Uint8Array, extra: Record<string, unknown> = {}) =>
    loadClassifier(engine, { weights: { name: 'w.safetensors', bytes: weights }, ...extra });

  it('a truncated file names the file and what is short', async () => {
    await expect(load(small.bytes.subarray(0, small.bytes.length - 1000))).rejects.toThrow(/w\.safetensors: .*(byte|truncated|short)/i);
    await expect(load(small.bytes.subarray(0, 5))).rejects.toThrow(ClassifierError);
    await expect(load(small.bytes.subarray(0, 5))).rejects.toThrow(/w\.safetensors: not a safetensors file: only 5 byte\(s\)/);
    await expect(load(new Uint8Array(0))).rejects.toThrow(/w\.safetensors: empty file/);
  });

  it('a missing tensor, a wrong shape and a file of another network are named', async () => {
    const missing = new Map(small.dict);
    missing.delete('Mixed_6c.branch7x7_2.conv.weight');
    await expect(load(encodeSafetensors(missing))).rejects.toThrow(
      /w\.safetensors: missing 1 tensor\(s\) the model needs, e\.g\. Mixed_6c\.branch7x7_2\.conv\.weight/,
    );
    const wrong = new Map(small.dict);
    const w = wrong.get('Mixed_5b.branch1x1.conv.weight')!;
    wrong.set('Mixed_5b.branch1x1.conv.weight', { ...w, shape: [w.shape[0]! / 2, w.shape[1]! * 2, 1, 1] });
    await expect(load(encodeSafetensors(wrong))).rejects.toThrow(
      /w\.safetensors: Mixed_5b\.branch1x1\.conv\.weight has shape \[\d+, \d+, 1, 1\], the model needs/,
    );
    const resnet = encodeSafetensors({ 'conv1.weight': { shape: [4, 3, 3, 3], data: new Float32Array(108) } });
    await expect(load(resnet)).rejects.toThrow(
      /w\.safetensors: no 'fc\.weight' tensor, so not a torchvision Inception-v3 state dict \(1 tensor\(s\), e\.g\. conv1\.weight\)/,
    );
  });

  it('unknown format or preset, foreign files, a class count or label list that does not match', async () => {
    await expect(load(small.bytes, { format: 'keras-h5' })).rejects.toThrow(/unknown format "keras-h5"; the formats are torchvision, onnx, tfjs/);
    await expect(load(small.bytes, { preset: 'caffe' })).rejects.toThrow(/unknown preset "caffe"/);
    const zip = new Uint8Array([0x50, 0x4b, 0x03, 0x04, ...new Array(60).fill(0)]);
    await expect(loadClassifier(engine, { weights: { name: 'model.pth', bytes: zip } })).rejects.toThrow(/model\.pth: this is a ZIP archive \(a PyTorch/);
    await expect(loadClassifier(engine, { weights: { name: 'x.bin', bytes: new Uint8Array(64).fill(7) } })).rejects.toThrow(
      /x\.bin: cannot tell the model format/,
    );
    await expect(load(small.bytes, { numClasses: 1000 })).rejects.toThrow(/w\.safetensors: the model has 10 classes, 1000 were expected/);
    await expect(load(small.bytes, { labels: LABELS })).rejects.toThrow(/labels for w\.safetensors: 1000 label\(s\) for a model with 10 classes/);
    await expect(load(small.bytes, { labels: ['a', 'b'] })).rejects.toThrow(ClassifierError);
    const live = engine.memory().liveBytes;
    await expect(load(small.bytes, { labels: ['a'] })).rejects.toThrow(/1 label\(s\)/);
    expect(engine.memory().liveBytes, 'a failed load frees what it uploaded').toBe(live);
  });

  it('bad classify arguments', async () => {
    const c = await load(small.bytes);
    try {
      const x = engine.zeros([1, 31, 32, 3]);
      await expect(c.classify(x)).rejects.toThrow(/a tensor input must be f32 \[N, 32, 32, 3\]/);
      x.dispose();
      await expect(c.classify(tabby, { topk: 11 })).rejects.toThrow(/topk must be an integer in 1\.\.10/);
      await expect(c.classify([])).rejects.toThrow(/no images/);
      await expect(c.classify({} as DecodedImage)).rejects.toThrow(/image 0 must be a decoded image/);
    } finally {
      c.dispose();
    }
  });

  it('label files: JSON arrays, Keras class-index objects, plain lines', () => {
    expect(parseLabels('["a", "b"]')).toEqual(['a', 'b']);
    expect(parseLabels('{"1": ["n02", "dog"], "0": ["n01", "cat"]}')).toEqual(['cat', 'dog']);
    expect(parseLabels('cat\ndog\n\n')).toEqual(['cat', 'dog']);
    expect(() => parseLabels('[1, 2]', 'l.json')).toThrow(/l\.json: a label list must hold strings; entry 0 is 1/);
    expect(() => parseLabels('', 'l.txt')).toThrow(/l\.txt: no labels/);
  });
});

describe(`loadClassifier, the graph formats ${replay}`, () => {
  it('ONNX: the exported network is detected, runs through the graph compiler and agrees with the native forward', async () => {
    const bytes = await exportInceptionV3Onnx(small.model);
    expect(detectModelFormat(bytes, 'model.onnx')).toBe('onnx');
    const c = await loadClassifier(engine, { weights: { name: 'model.onnx', bytes } });
    const x = engine.randomNormal([2, 32, 32, 3], { seed: seed + 5 });
    try {
      expect(c.format).toBe('onnx');
      expect(c.presetName).toBe('torchvision');
      expect(c.inputShape).toEqual([32, 32, 3]);
      expect(c.numClasses).toBe(10);
      const results = await c.classify(x, { scores: true });
      const native = (await engine.scope(() => small.model.forward(x)).read()) as Float32Array;
      results.forEach((r, i) => {
        const want = native.slice(i * 10, (i + 1) * 10);
        const scale = Math.max(...Array.from(want, Math.abs));
        r.outputs!.forEach((v, k) => expect(Math.abs(v - want[k]!)).toBeLessThanOrEqual(1e-4 * scale));
      });
    } finally {
      x.dispose();
      c.dispose();
    }
    await expect(loadClassifier(engine, { weights: { name: 'model.onnx', bytes: bytes.subarray(0, bytes.length >> 1) } })).rejects.toThrow(/model\.onnx/);
  });

  it('TF.js: model.json with its shards as files; keras preprocessing; a model ending in softmax is not softmaxed again; a missing shard is named', async () => {
    await tfReady();
    const L = tf.layers;
    const input = tf.input({ shape: [24, 24, 3], name: 'image' });
    let y = L.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'conv' }).apply(input) as ReturnType<typeof tf.input>;
    y = L.globalAveragePooling2d({ name: 'pool' }).apply(y) as ReturnType<typeof tf.input>;
    y = L.dense({ units: 6, activation: 'softmax', name: 'head' }).apply(y) as ReturnType<typeof tf.input>;
    const keras = tf.model({ inputs: input, outputs: y });
    setRandomWeights(keras, makeRng(seed + 6));
    const published = publish(await saveArtifacts(keras), { shardBytes: 400 });
    expect(published.shards.size).toBeGreaterThan(1);
    const files = [
      { name: 'model.json', bytes: new TextEncoder().encode(JSON.stringify(published.modelJson)) },
      ...[...published.shards].map(([name, bytes]) => ({ name, bytes })),
    ];
    const c = await loadClassifier(engine, { weights: files });
    try {
      expect(c.format).toBe('tfjs');
      expect(c.presetName).toBe('keras');
      expect(c.outputIsProbabilities).toBe(true);
      expect(c.inputShape).toEqual([24, 24, 3]);
      const x = c.preprocess([tabby]);
      const host = (await x.read()) as Float32Array;
      const [r] = await c.classify(x, { scores: true, topk: 6 });
      x.dispose();
      const want = (keras.predict(tf.tensor(host, [1, 24, 24, 3])) as ReturnType<typeof tf.tensor>).dataSync();
      r!.outputs!.forEach((v, k) => expect(v).toBeCloseTo(want[k]!, 5));
      expect(r!.probabilities).toEqual(r!.outputs);
      expect(sum(r!.probabilities!)).toBeCloseTo(1, 5);
    } finally {
      c.dispose();
    }
    const shardName = [...published.shards.keys()][1]!;
    await expect(loadClassifier(engine, { weights: files.filter((f) => f.name !== shardName) })).rejects.toThrow(
      new RegExp(`model\\.json lists the weight shard '${shardName}', which is not among the files given`),
    );
  });
});

describe(`the 299×299 network end to end ${replay}`, () => {
  let classifier: Classifier | undefined;
  afterAll(() => classifier?.dispose());

  it('a sample JPEG through a torchvision-format file of the full network: logits equal the native forward, labels from the ImageNet list', async () => {
    const native = new InceptionV3(engine, { seed: seed + 4 });
    try {
      const t0 = performance.now();
      const bytes = encodeSafetensors(await torchvisionStateDict(native));
      const t1 = performance.now();
      classifier = await loadClassifier(engine, { weights: bytes, labels: LABELS, source: 'inception_v3.safetensors' });
      const t2 = performance.now();
      expect(classifier.inputShape).toEqual([299, 299, 3]);
      expect(classifier.numClasses).toBe(1000);
      expect(classifier.description).toBe('Inception-v3, torchvision layout');
      const image = decodeImage(readFileSync(sample('n07747607_orange.JPEG')), 'orange');
      const x = classifier.preprocess([image]);
      const [r] = await classifier.classify(x, { scores: true, topk: 5 });
      const t3 = performance.now();
      const logits = await engine.scope(() => native.forward(x)).read();
      x.dispose();
      console.info(`299×299: state dict ${(t1 - t0).toFixed(0)} ms, load ${(t2 - t1).toFixed(0)} ms, classify ${(t3 - t2).toFixed(0)} ms`);
      expect(r!.outputs).toEqual(logits);
      expect(sum(r!.probabilities!)).toBeCloseTo(1, 4);
      expect(r!.top.map((t) => t.label)).toEqual(r!.top.map((t) => LABELS[t.index]));
    } finally {
      native.dispose();
    }
  });
});
