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
  for (const [b, inF, outF] of [
    [2, 2048, 1000],
    [3, 37, 13],
    [1, 768, 1000],
    [8, 5, 4],
  ] as const) {
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
        assertClose(
          await linear(xt, wt, engine.tensor(bias), { relu: true }).read(),
          withBias.map((v) => Math.max(0, v)),
          1e-5,
          'bias + ReLU',
        );
      });
    });
  }

  for (const offset of [4, 3]) {
    it(`writes into out: a plain tensor and a channel view at offset ${offset} of a wider buffer`, async () => {
      const [b, inF, outF, total] = [3, 37, 13, 24];
      const x = randomArray(rng, b * inF);
      const w = randomArray(rng, inF * outF);
      const bias = randomArray(rng, outF);
      const ref = matmulRef(x, w, 1, b, inF, outF).map((v, i) => Math.max(0, v + bias[i % outF]!));
      const before = randomArray(rng, b * total);
      await engine.scope(async () => {
        const xt = engine.tensor(x, [b, inF]);
        const wt = engine.tensor(w, [inF, outF]);
        const bt = engine.tensor(bias);
        const plain = engine.zeros([b, outF]);
        expect(linear(xt, wt, bt, { relu: true, out: plain })).toBe(plain);
        assertClose(await plain.read(), ref, 1e-5, 'plain out');
        const big = engine.tensor(before, [b, total]);
        linear(xt, wt, bt, { relu: true, out: big.channelView(offset, outF) });
        const all = await big.read();
        const expected = Float64Array.from(before);
        for (let r = 0; r < b; r++) for (let c = 0; c < outF; c++) expected[r * total + offset + c] = ref[r * outF + c]!;
        assertClose(all, expected, 1e-5, 'channel view and the channels around it');
        for (let r = 0; r < b; r++) {
          for (let c = 0; c < total; c++) if (c < offset || c >= offset + outF) expect(all[r * total + c]).toBe(before[r * total + c]);
        }
      });
    });
  }

  it('rejects bad arguments, naming the mismatched dimensions', () => {
    engine.scope(() => {
      expect(() => linear(engine.zeros([2, 5]), engine.zeros([4, 3]))).toThrow(/linear: x has 5 features but weight \[in, out\] expects 4/);
      expect(() => linear(engine.zeros([2, 4]), engine.zeros([4, 3]), engine.zeros([4]))).toThrow(/linear: bias must have 3 elements/);
      expect(() => linear(engine.zeros([4]), engine.zeros([4, 3]))).toThrow(/linear: x must be rank 2/);
      expect(() => linear(engine.zeros([2, 4]), engine.zeros([4, 3, 1]))).toThrow(/linear: weight must be rank 2/);
      expect(() => linear(engine.zeros([2, 4], 'i32'), engine.zeros([4, 3]))).toThrow(/linear: x must be f32/);
      expect(() => linear(engine.zeros([2, 4]), engine.zeros([4, 3], 'u32'))).toThrow(/linear: weight must be f32/);
      expect(() => linear(engine.zeros([2, 4]), engine.zeros([4, 3]), engine.zeros([3], 'i32'))).toThrow(/linear: bias must be f32/);
      expect(() => linear(engine.zeros([0, 4]), engine.zeros([4, 3]))).toThrow(/linear: x needs a batch of at least 1 and at least 1 feature/);
      expect(() => linear(engine.zeros([2, 4]), engine.zeros([4, 3]), undefined, { out: engine.zeros([2, 4]) })).toThrow(
        /out must have the result's shape \[2, 3\]/,
      );
    });
  });
});
