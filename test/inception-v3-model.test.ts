/**
 * The Inception-v3 model at 299×299 and in the paper's stem and low-resolution variants, batch 1: the inference forward with BatchNorm folded into
 * every conv's epilogue against the unfolded graph (conv, then BatchNorm from running
 * statistics, then ReLU) with the same weights, after a calibration pass set realistic running
 * statistics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { InceptionV3 } from '../src/models/inception-v3.js';
import type { InceptionV3Options } from '../src/models/inception-v3-spec.js';
import { testEngine } from './support/engine.js';
import { assertClose } from './support/compare.js';
import { freshSeed } from './support/random.js';

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
