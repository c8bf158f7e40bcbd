/**
 * Inception-v3's weights in torchvision's layout: the OIHW ↔ HWIO and [out, in] ↔ [in, out]
 * conversions element by element, a save → safetensors bytes → load round trip that reproduces
 * the model's logits exactly, and the errors for files that do not fit the model.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { InceptionV3 } from '../src/models/inception-v3.js';
import { hwioToOihw, loadTorchvisionWeights, oihwToHwio, torchvisionStateDict, transpose2d } from '../src/models/inception-v3-weights.js';
import { decodeSafetensors, encodeSafetensors, type SafetensorsTensor } from '../src/io/safetensors.js';
import { testEngine } from './support/engine.js';
import { freshSeed, makeRng, randomArray } from './support/random.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const seed = freshSeed();

describe(`torchvision layout (seed ${seed})`, () => {
  it('OIHW → HWIO puts w[o][i][y][x] at [y][x][i][o], and back', () => {
    const [cout, cin, kh, kw] = [5, 3, 2, 7];
    const w = randomArray(makeRng(seed), cout * cin * kh * kw);
    const hwio = oihwToHwio(w, [cout, cin, kh, kw]);
    for (let o = 0; o < cout; o++)
      for (let i = 0; i < cin; i++)
        for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) expect(hwio[((y * kw + x) * cin + i) * cout + o]).toBe(w[((o * cin + i) * kh + y) * kw + x]);
    expect(hwioToOihw(hwio, [kh, kw, cin, cout])).toEqual(w);
    const m = randomArray(makeRng(seed + 1), 3 * 4);
    expect(transpose2d(transpose2d(m, 3, 4), 4, 3)).toEqual(m);
    expect(transpose2d(m, 3, 4)[1 * 3 + 2]).toBe(m[2 * 4 + 1]);
  });

  it('save to torchvision-layout safetensors and load into another model: the same logits', async () => {
    const a = new InceptionV3(engine, { seed, variant: 'cifar10', width: 0.25 });
    const b = new InceptionV3(engine, { seed: seed + 1, variant: 'cifar10', width: 0.25 });
    try {
      await a.calibrate(engine.randomNormal([4, 32, 32, 3], { seed: seed + 2 }));
      const dict = await torchvisionStateDict(a);
      expect(dict.get('Conv2d_1a_3x3.conv.weight')!.shape).toEqual([8, 3, 3, 3]);
      expect(dict.get('fc.weight')!.shape).toEqual([10, a.layers.find((l) => l.name === 'avgpool')!.outputShape[0]]);
      expect(dict.get('Mixed_5b.branch1x1.bn.num_batches_tracked')).toMatchObject({ dtype: 'I64', shape: [] });
      const decoded = decodeSafetensors(encodeSafetensors(dict), 'round trip');
      const report = loadTorchvisionWeights(b, decoded.tensors, 'round trip');
      expect(report.loaded).toBe(a.stateDict().size);
      expect(report.ignored.every((k) => k.endsWith('num_batches_tracked'))).toBe(true);
      const [ya, yb] = await engine.scope(async () => {
        const x = engine.randomNormal([2, 32, 32, 3], { seed: seed + 3 });
        return Promise.all([a.forward(x).read(), b.forward(x).read()]);
      });
      expect(yb).toEqual(ya);
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('refuses files that do not fit, naming the key; ignores the aux head for a model without one', async () => {
    const withAux = new InceptionV3(engine, { seed, variant: 'cifar10', width: 0.25 });
    const noAux = new InceptionV3(engine, { seed, variant: 'cifar10', width: 0.25, auxLogits: false });
    const hundred = new InceptionV3(engine, { seed, variant: 'cifar10', width: 0.25, numClasses: 100 });
    try {
      const tensors = decodeSafetensors(encodeSafetensors(await torchvisionStateDict(withAux))).tensors;
      expect(loadTorchvisionWeights(noAux, tensors).ignored.some((k) => k.startsWith('AuxLogits.'))).toBe(true);
      expect(() => loadTorchvisionWeights(hundred, tensors, 'w.safetensors')).toThrow(
        /w\.safetensors: AuxLogits\.fc\.weight has shape \[10, \d+\], the model needs \[100, \d+\] \(a different number of classes/,
      );
      const missing = new Map(tensors);
      missing.delete('Mixed_6c.branch7x7_2.conv.weight');
      expect(() => loadTorchvisionWeights(withAux, missing, 'w.safetensors')).toThrow(
        /w\.safetensors: missing 1 tensor\(s\) the model needs, e\.g\. Mixed_6c\.branch7x7_2\.conv\.weight/,
      );
      const extra = new Map<string, SafetensorsTensor>(tensors);
      extra.set('layer1.0.conv1.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1) });
      expect(() => loadTorchvisionWeights(withAux, extra, 'resnet.safetensors')).toThrow(
        /resnet\.safetensors: 1 tensor\(s\) that Inception-v3 .* does not have, e\.g\. layer1\.0\.conv1\.weight/,
      );
    } finally {
      withAux.dispose();
      noAux.dispose();
      hundred.dispose();
    }
  });
});
