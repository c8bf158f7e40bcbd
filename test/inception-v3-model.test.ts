/**
 * The Inception-v3 model at 299×299 and in the paper's stem and low-resolution variants, batch 1: the inference forward with BatchNorm folded into
 * every conv's epilogue against the unfolded graph (conv, then BatchNorm from running
 * statistics, then ReLU) with the same weights, after a calibration pass set realistic running
 * statistics. Then the compiled inference plan the model keeps: one dispatch per conv filed
 * under its layer's name, folded once and again after the parameters change, freed with the model.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import type { Tensor } from '../src/runtime/tensor.js';
import { InceptionV3 } from '../src/models/inception-v3.js';
import type { InceptionV3Options } from '../src/models/inception-v3-spec.js';
import { testEngine } from './support/engine.js';
import { assertClose } from './support/compare.js';
import { freshSeed, makeRng, randomArray } from './support/random.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const seed = freshSeed();

describe(`Inception-v3 inference (seed ${seed})`, () => {
  const variants: [string, InceptionV3Options][] = [
    ['299×299', {}],
    ["Table 3's 7×7 stem", { stem: '7x7' }],
    ["Table 2's 151×151", { lowResolution: 151 }],
    ["Table 2's 79×79", { lowResolution: 79 }],
    ['the CIFAR-10 variant at width 0.25', { variant: 'cifar10', width: 0.25 }],
  ];
  for (const [what, options] of variants) {
    it(`folded and unfolded forwards agree: ${what}, batch 1 (relative error ≤ 1e-4)`, async () => {
      const model = new InceptionV3(engine, { seed, auxLogits: false, ...options });
      const size = model.inputSize;
      try {
        await engine.scope(async () => {
          const calibration = engine.randomNormal([2, size, size, 3], { seed: seed + 1 });
          await model.calibrate(calibration);
          const x = engine.randomNormal([1, size, size, 3], { seed: seed + 2 });
          const folded = await model.forward(x, 'folded').read();
          const unfolded = await model.forward(x, 'unfolded').read();
          expect(folded.length).toBe(model.layers.at(-1)!.outputShape[0]);
          expect(Array.from(folded).every(Number.isFinite)).toBe(true);
          assertClose(folded, unfolded, 1e-4, 'folded vs unfolded logits');
        });
      } finally {
        model.dispose();
      }
    });
  }
});

describe(`Inception-v3 inference plan (seed ${seed})`, () => {
  it('folds once, files each conv as one dispatch under its layer, refolds after setBatchNorm, and frees everything with the model', async () => {
    const baseline = engine.liveTensors;
    const model = new InceptionV3(engine, { seed, auxLogits: false, variant: 'cifar10', width: 0.25 });
    const size = model.inputSize;
    const convs = model.layers.filter((l) => l.kind === 'conv' && !l.aux);
    const profile = async (x: Tensor, mode: 'folded' | 'unfolded' = 'folded') => {
      engine.profiler.enabled = true;
      engine.profiler.clear();
      try {
        const y = await engine.scope(async () => model.forward(x, mode).read());
        await engine.sync();
        return { y, records: [...engine.profiler.records] };
      } finally {
        engine.profiler.enabled = false;
        engine.profiler.clear();
      }
    };
    try {
      await engine.scope(async () => {
        await model.calibrate(engine.randomNormal([2, size, size, 3], { seed: seed + 1 }));
        const x = engine.randomNormal([1, size, size, 3], { seed: seed + 2 });
        const first = await profile(x);
        expect(first.records.filter((r) => r.op === 'foldBatchNormInference').length).toBe(convs.length);
        const again = await profile(x);
        expect(Array.from(again.y)).toEqual(Array.from(first.y));
        expect(again.records.filter((r) => r.op === 'foldBatchNormInference')).toEqual([]);
        const names = new Set(model.layers.map((l) => l.name));
        for (const r of again.records) expect(names.has(r.layer!), `dispatch ${r.kernel} filed under '${r.layer}'`).toBe(true);
        for (const l of convs) expect(again.records.filter((r) => r.layer === l.name && r.op !== 'fill').length, l.name).toBe(1);
        expect(again.records.filter((r) => r.kernel === 'concat.wgsl:copy_into_slice')).toEqual([]);
        const unfolded = await profile(x, 'unfolded');
        for (const r of unfolded.records) expect(names.has(r.layer!), `unfolded dispatch ${r.kernel} filed under '${r.layer}'`).toBe(true);

        // A changed BatchNorm reaches the folded forward (the plan was dropped) and matches the unfolded one.
        const target = convs[convs.length - 1]!.name;
        const r = makeRng(seed + 3);
        const c = model.convs.get(target)!.gamma!.size;
        model.setBatchNorm(target, { gamma: randomArray(r, c, 2, 3), beta: randomArray(r, c, 0.5, 1) });
        const changed = await profile(x);
        expect(changed.records.filter((rec) => rec.op === 'foldBatchNormInference').length).toBe(convs.length);
        expect(Array.from(changed.y)).not.toEqual(Array.from(first.y));
        assertClose(changed.y, (await profile(x, 'unfolded')).y, 1e-4, 'folded vs unfolded after setBatchNorm');

        expect(() => model.forward(engine.zeros([1, size + 1, size, 3]))).toThrow(/InceptionV3\.forward: x must be f32 \[N, 32, 32, 3\]/);
      });
    } finally {
      model.dispose();
    }
    expect(engine.liveTensors).toBe(baseline);
    const x = engine.zeros([1, size, size, 3]);
    expect(() => model.forward(x)).toThrow(/InceptionV3\.forward: the model was disposed/);
    x.dispose();
  });
});
