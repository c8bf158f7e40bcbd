/** Transpose of the last two dimensions, against a plain reference, at odd sizes. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { transpose } from '../src/ops/transpose.js';
import { testEngine } from './support/engine.js';
import { freshSeed, makeRng, randomArray } from './support/random.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const seed = freshSeed();
const rng = makeRng(seed);

describe(`transpose (seed ${seed})`, () => {
  for (const shape of [
    [1, 1],
    [3, 5],
    [33, 7],
    [64, 65],
    [2, 9, 31],
    [2048, 3],
  ]) {
    it(`[${shape.join('×')}]`, async () => {
      const x = randomArray(
        rng,
        shape.reduce((a, b) => a * b, 1),
      );
      const [r, c] = shape.slice(-2) as [number, number];
      const batch = x.length / (r * c);
      const ref = new Float32Array(x.length);
      for (let b = 0; b < batch; b++) for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) ref[b * r * c + j * r + i] = x[b * r * c + i * c + j]!;
      await engine.scope(async () => {
        const y = transpose(engine.tensor(x, shape));
        expect(y.shape).toEqual([...shape.slice(0, -2), c, r]);
        expect(Array.from(await y.read())).toEqual(Array.from(ref));
      });
    });
  }
  it('refuses a vector', () => {
    engine.scope(() => expect(() => transpose(engine.zeros([4]))).toThrow(/at least 2 dimensions/));
  });
});
