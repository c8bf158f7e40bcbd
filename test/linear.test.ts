/** The fully connected layer against a float64 reference. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { linear } from '../src/ops/linear.js';
import { testEngine } from './support/engine.js';
import { assertClose } from './support/compare.js';
import { freshSeed, makeRng, randomArray } from './support/random.js';
import { matmulRef } from './reference/matmul.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const seed = freshSeed();
const rng = makeRng(seed);

describe(`linear (seed ${seed})`, () => {
  for (const [b, inF, outF] of [[2, 2048, 1000], [3, 37, 13], [1, 768, 1000], [8, 5, 4]] as const) {
    it(`[${b}, ${inF}] · [${inF}, ${outF}], with and without bias, and with ReLU`, async () => {
      const x = randomArray(rng, b * inF);
      const w = randomArray(rng, inF * outF, -0.05, 0.05);
      const bias = randomArray(rng, outF);
      const plain = matmulRef(x, w, 1, b, inF, outF);
      const withBias = plain.map((v, i) => v + bias[i % outF]!);
      await engine.scope(async () => {
        const xt = engine.tensor(x, [b, inF]);
        const wt = engine.tensor(w, [inF, outF]);
        assertClose(await linear(xt, wt).read(), plain, 1e-5, 'no bias');
        assertClose(await linear(xt, wt, engine.tensor(bias)).read(), withBias, 1e-5, 'bias');
        assertClose(await linear(xt, wt, engine.tensor(bias), { relu: true }).read(), withBias.map((v) => Math.max(0, v)), 1e-5, 'bias + ReLU');
      });
    });
  }

  it('rejects mismatched dimensions, naming them', () => {
    engine.scope(() => {
      expect(() => linear(engine.zeros([2, 5]), engine.zeros([4, 3]))).toThrow(/x has 5 features but weight \[in, out\] expects 4/);
      expect(() => linear(engine.zeros([2, 4]), engine.zeros([4, 3]), engine.zeros([4]))).toThrow(/bias must have 3 elements/);
      expect(() => linear(engine.zeros([4]), engine.zeros([4, 3]))).toThrow(/x must be rank 2/);
    });
  });
});
