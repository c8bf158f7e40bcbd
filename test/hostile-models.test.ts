/**
 * Model files that parse but must not run: weights holding NaN or ±Infinity, BatchNorm running
 * variances below 0, TF.js manifests whose shard paths leave the model's folder; and models
 * whose outputs come out NaN/Inf at classify time. Every format is refused at load with the file
 * and the tensor named (torchvision safetensors, a training checkpoint's layout, the engine's
 * checkpoint files, ONNX, TF.js),
 * and classify raises a ClassifierError naming the image instead of answering `class -1`.
 *
 * Models are tiny (hand-written ONNX and model.json, the CIFAR-10 network at width 0.25 for
 * the torchvision layout), so this runs in seconds on a software driver.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { InceptionV3 } from '../src/models/inception-v3.js';
import { loadTorchvisionWeights, torchvisionStateDict } from '../src/models/inception-v3-weights.js';
import { encodeSafetensors, type SafetensorsInput, type SafetensorsTensor } from '../src/io/safetensors.js';
import { importOnnx, OnnxImportError } from '../src/io/onnx/index.js';
import { importTfjsLayers, TfjsLayersError } from '../src/io/tfjs-layers.js';
import { ClassifierError, loadClassifier } from '../src/api/classifier.js';
import { readCheckpoint, writeCheckpoint } from '../src/io/checkpoint-file.js';
import { testEngine } from './support/engine.js';
import { OnnxBuilder } from './support/onnx-builder.js';

let engine: Engine;
let model: InceptionV3;
let dict: Map<string, SafetensorsInput>;
beforeAll(async () => {
  engine = await testEngine();
  model = new InceptionV3(engine, { seed: 3, variant: 'cifar10', width: 0.25, numClasses: 10 });
  dict = await torchvisionStateDict(model);
});
afterAll(() => {
  model?.dispose();
  engine?.destroy();
});

const errorOf = async (p: Promise<unknown> | (() => unknown)): Promise<Error> => {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
};

/** The state dict with one tensor's element replaced. */
function poisoned(key: string, index: number, value: number, prefix = ''): Uint8Array {
  const out = new Map<string, SafetensorsInput>();
  for (const [k, v] of dict) {
    const data = k === key ? Float32Array.from(v.data as Float32Array) : v.data;
    if (k === key) (data as Float32Array)[index] = value;
    out.set(prefix + k, { ...v, data });
  }
  return encodeSafetensors(out);
}

describe('torchvision safetensors: non-finite weights and negative running variances are refused at load', () => {
  const load = (bytes: Uint8Array) => loadClassifier(engine, { weights: { name: 'w.safetensors', bytes } });

  it('NaN in a conv weight, +Inf in the classifier bias, -Inf in a BatchNorm β: file, tensor, value and element named', async () => {
    const nan = await errorOf(load(poisoned('Mixed_6c.branch7x7_2.conv.weight', 5, NaN)));
    expect(nan.message).toMatch(/^w\.safetensors: tensor 'Mixed_6c\.branch7x7_2\.conv\.weight' holds NaN at element 5 /);
    expect((await errorOf(load(poisoned('fc.bias', 3, Infinity)))).message).toMatch(/^w\.safetensors: tensor 'fc\.bias' holds Infinity at element 3 /);
    expect((await errorOf(load(poisoned('Conv2d_1a_3x3.bn.bias', 0, -Infinity)))).message).toMatch(
      /tensor 'Conv2d_1a_3x3\.bn\.bias' holds -Infinity at element 0 /,
    );
  });

  it('a negative running variance is named with its channel', async () => {
    const e = await errorOf(load(poisoned('Mixed_5b.branch1x1.bn.running_var', 2, -0.5)));
    expect(e.message).toMatch(
      /^w\.safetensors: tensor 'Mixed_5b\.branch1x1\.bn\.running_var' is a BatchNorm running variance and holds -0\.5 at channel 2; a variance cannot be negative/,
    );
  });

  it("an `incept train` checkpoint's layout (model.* keys) is checked the same way, naming the file's key", async () => {
    const e = await errorOf(load(poisoned('Mixed_7c.branch_pool.conv.weight', 1, NaN, 'model.')));
    expect(e.message).toMatch(/^w\.safetensors: tensor 'model\.Mixed_7c\.branch_pool\.conv\.weight' holds NaN at element 1 /);
  });

  it('loadTorchvisionWeights itself (used by incept export --weights) refuses them and leaves the model as it was', async () => {
    const before = (await model.stateDict().get('fc.bias')!.read()) as Float32Array;
    const tensors = new Map<string, SafetensorsTensor>();
    for (const [k, v] of dict)
      tensors.set(k, {
        dtype: 'F32',
        shape: [...v.shape],
        data: k === 'fc.bias' ? Float32Array.from(v.data as Float32Array, () => NaN) : (v.data as Float32Array),
      });
    expect((await errorOf(() => loadTorchvisionWeights(model, tensors, 'export.safetensors'))).message).toMatch(
      /^export\.safetensors: tensor 'fc\.bias' holds NaN at element 0 /,
    );
    expect(await model.stateDict().get('fc.bias')!.read()).toEqual(before);
  });
});

describe("the engine's own checkpoints (incept train --resume reads them with readCheckpoint)", () => {
  it('a checkpoint holding NaN or a negative running variance is refused, naming the file and the tensor', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'incept-hostile-ckpt-'));
    try {
      const ok = {
        'model.fc.bias': engine.tensor(new Float32Array([0.5, -1])),
        'model.bn.running_var': engine.tensor(new Float32Array([1, 2])),
        step: engine.tensor(new Int32Array([3]), [1], 'i32'),
      };
      await writeCheckpoint(dir, 'good', { tensors: ok, json: { step: 3 } });
      expect((await readCheckpoint(dir, 'good')).tensors.size).toBe(3);
      const nan = { ...ok, 'model.fc.bias': engine.tensor(new Float32Array([0.5, NaN])) };
      await writeCheckpoint(dir, 'nan', { tensors: nan, json: { step: 3 } });
      expect((await errorOf(readCheckpoint(dir, 'nan'))).message).toMatch(/nan\.safetensors: tensor 'model\.fc\.bias' holds NaN at element 1 /);
      const negative = { ...ok, 'model.bn.running_var': engine.tensor(new Float32Array([1, -2])) };
      await writeCheckpoint(dir, 'neg', { tensors: negative, json: { step: 3 } });
      expect((await errorOf(readCheckpoint(dir, 'neg'))).message).toMatch(
        /neg\.safetensors: tensor 'model\.bn\.running_var' is a BatchNorm running variance and holds -2 at channel 1/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** x [N, 3, 4, 4] → Conv 1×1 (2 channels) → BatchNormalization → GlobalAveragePool → Flatten → [N, 2]. */
function onnxModel(edit: { w?: number[]; variance?: number[]; scale?: number[] } = {}): Uint8Array {
  const b = new OnnxBuilder();
  b.input('x', ['N', 3, 4, 4]);
  const w = b.initializer('conv.W', [2, 3, 1, 1], edit.w ?? [1, 1, 1, 0.5, 0.5, 0.5]);
  const y = b.node('Conv', ['x', w], {}, { name: 'conv' });
  const bn = b.node(
    'BatchNormalization',
    [
      y,
      b.initializer('bn.scale', [2], edit.scale ?? [1, 1]),
      b.initializer('bn.B', [2], [0, 0]),
      b.initializer('bn.mean', [2], [0, 0]),
      b.initializer('bn.var', [2], edit.variance ?? [1, 1]),
    ],
    {},
    { name: 'bn' },
  );
  const p = b.node('GlobalAveragePool', [bn], {}, { name: 'pool' });
  b.node('Flatten', [p], {}, { name: 'flat', outputs: ['logits'] });
  b.output('logits', ['N', 2]);
  return b.build();
}

describe('ONNX: non-finite initializers and negative variances are refused at import', () => {
  it('NaN and Infinity in a weight, a negative BatchNorm variance: file, initializer and element named', () => {
    expect(() => importOnnx(onnxModel(), 'ok.onnx')).not.toThrow();
    const nan = (() => {
      try {
        importOnnx(onnxModel({ w: [1, 1, NaN, 0.5, 0.5, 0.5] }), 'nan.onnx');
      } catch (e) {
        return e as Error;
      }
      throw new Error('expected an error');
    })();
    expect(nan).toBeInstanceOf(OnnxImportError);
    expect(nan.message).toMatch(/^nan\.onnx: weight 'conv\.W' holds NaN at element \d+ /);
    expect(() => importOnnx(onnxModel({ scale: [1, -Infinity] }), 'inf.onnx')).toThrow(/^inf\.onnx: weight 'bn\.scale' holds -Infinity at element 1 /);
    expect(() => importOnnx(onnxModel({ variance: [1, -2] }), 'var.onnx')).toThrow(
      /^var\.onnx: weight 'bn\.var' is the variance of BatchNorm node 'bn' and holds -2 at channel 1; a variance cannot be negative/,
    );
  });

  it('loadClassifier passes the error on, naming the file', async () => {
    await expect(loadClassifier(engine, { weights: { name: 'model.onnx', bytes: onnxModel({ w: [Infinity, 1, 1, 1, 1, 1] }) } })).rejects.toThrow(
      /^model\.onnx: weight 'conv\.W' holds Infinity/,
    );
  });
});

/** A Sequential model.json: BatchNormalization on a [1, 1, 2] input, Flatten, Dense 2 → 3; one shard. */
function tfjsModel(values: { gamma?: number[]; variance?: number[]; kernel?: number[] } = {}, paths: string[] = ['group1-shard1of1.bin']) {
  const weights = [
    { name: 'bn/gamma', shape: [2], dtype: 'float32', data: values.gamma ?? [1, 1] },
    { name: 'bn/beta', shape: [2], dtype: 'float32', data: [0, 0] },
    { name: 'bn/moving_mean', shape: [2], dtype: 'float32', data: [0, 0] },
    { name: 'bn/moving_variance', shape: [2], dtype: 'float32', data: values.variance ?? [1, 1] },
    { name: 'dense/kernel', shape: [2, 3], dtype: 'float32', data: values.kernel ?? [1, 2, 3, 4, 5, 6] },
  ];
  const modelJson = {
    format: 'layers-model',
    modelTopology: {
      class_name: 'Sequential',
      config: {
        name: 'seq',
        layers: [
          { class_name: 'BatchNormalization', config: { name: 'bn', axis: -1, epsilon: 0.001, batch_input_shape: [null, 1, 1, 2] } },
          { class_name: 'Flatten', config: { name: 'flat' } },
          { class_name: 'Dense', config: { name: 'dense', units: 3, use_bias: false } },
        ],
      },
    },
    weightsManifest: [{ paths, weights: weights.map(({ data: _d, ...w }) => w) }],
  };
  const shard = new Uint8Array(Float32Array.from(weights.flatMap((w) => w.data)).buffer);
  const read: string[] = [];
  const readShard = async (p: string): Promise<Uint8Array> => {
    read.push(p);
    return shard;
  };
  return { modelJson, readShard, read };
}

describe('TF.js layers: non-finite weights and negative variances are refused at import', () => {
  it('NaN, Infinity and a negative moving variance: file, weight and element named', async () => {
    const ok = tfjsModel();
    await expect(importTfjsLayers(ok.modelJson, ok.readShard, 'ok/model.json')).resolves.toBeDefined();
    const nan = tfjsModel({ kernel: [1, 2, NaN, 4, 5, 6] });
    const e = await errorOf(importTfjsLayers(nan.modelJson, nan.readShard, 'nan/model.json'));
    expect(e).toBeInstanceOf(TfjsLayersError);
    expect(e.message).toMatch(/^nan\/model\.json: weight 'dense\/kernel' holds NaN at element 2 /);
    const inf = tfjsModel({ gamma: [Infinity, 1] });
    await expect(importTfjsLayers(inf.modelJson, inf.readShard, 'inf/model.json')).rejects.toThrow(
      /^inf\/model\.json: weight 'bn\/gamma' holds Infinity at element 0 /,
    );
    const negative = tfjsModel({ variance: [0.5, -1e-3] });
    await expect(importTfjsLayers(negative.modelJson, negative.readShard, 'var/model.json')).rejects.toThrow(
      /^var\/model\.json: weight 'bn\/moving_variance' is the variance of BatchNorm node 'bn' and holds -0\.001 at channel 1; a variance cannot be negative/,
    );
  });
});

describe("TF.js layers: weightsManifest paths stay inside the model's folder", () => {
  it('../ escapes, absolute paths and URLs are refused, naming the path, before any shard is read', async () => {
    for (const bad of [
      '../secret.bin',
      'shards/../../secret.bin',
      '..\\secret.bin',
      '/etc/passwd',
      '\\\\server\\share\\x.bin',
      'C:\\weights\\x.bin',
      'https://example.com/x.bin',
      'file:///etc/passwd',
      '',
    ]) {
      const m = tfjsModel({}, [bad]);
      const e = await errorOf(importTfjsLayers(m.modelJson, m.readShard, 'm/model.json'));
      expect(e, bad).toBeInstanceOf(TfjsLayersError);
      expect(e.message).toContain(`m/model.json: weightsManifest group 1: shard path ${JSON.stringify(bad)}`);
      expect(e.message).toMatch(/must be a relative path inside the model's folder/);
      expect(m.read, `${bad}: nothing read`).toEqual([]);
    }
  });

  it('relative paths inside the folder are read as written', async () => {
    for (const good of ['group1-shard1of1.bin', './group1-shard1of1.bin', 'weights/group1-shard1of1.bin', 'a..b.bin']) {
      const m = tfjsModel({}, [good]);
      await importTfjsLayers(m.modelJson, m.readShard, 'm/model.json');
      expect(m.read).toEqual([good]);
    }
  });
});

describe('classify: non-finite outputs are an error naming the image, never class -1', () => {
  it('NaN and Infinity in the outputs of one image of a batch', async () => {
    const c = await loadClassifier(engine, { weights: { name: 'tiny.onnx', bytes: onnxModel() } });
    try {
      const image = 4 * 4 * 3;
      const data = new Float32Array(3 * image).fill(0.25);
      data[image + 7] = NaN; // image 1
      const x = engine.tensor(data, [3, 4, 4, 3]);
      const e = await errorOf(c.classify(x, { topk: 1 }));
      x.dispose();
      expect(e).toBeInstanceOf(ClassifierError);
      expect(e.message).toMatch(/^tiny\.onnx: the model's outputs for image 1 \(of 3; batch 1, images 0–2\) are NaN/);
      data.fill(0.25);
      data.fill(3e38, 2 * image, 3 * image); // image 2: the sums overflow float32
      const y = engine.tensor(data, [3, 4, 4, 3]);
      const inf = await errorOf(c.classify(y));
      y.dispose();
      expect(inf.message).toMatch(/outputs for image 2 \(of 3; batch 1, images 0–2\) are (Infinity|-Infinity|NaN)/);
      data.fill(0.25);
      const fine = engine.tensor(data, [3, 4, 4, 3]);
      const results = await c.classify(fine, { topk: 2 });
      fine.dispose();
      for (const r of results) for (const t of r.top) expect(t.index).toBeGreaterThanOrEqual(0);
    } finally {
      c.dispose();
    }
  });
});
