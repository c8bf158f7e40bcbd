/** Softmax, cross-entropy with label smoothing and top-k against float64 references. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { softmax, softmaxCrossEntropy, topK } from '../src/ops/softmax.js';
import { testEngine } from './support/engine.js';
import { assertClose } from './support/compare.js';
import { freshSeed, makeRng, randomArray, randomInt } from './support/random.js';
import { crossEntropyRef, softmaxRef, topKRef } from './reference/softmax.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const seed = freshSeed();
const rng = makeRng(seed);

function softTargets(rows: number, classes: number): Float32Array {
  const t = randomArray(rng, rows * classes, 0, 1);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let k = 0; k < classes; k++) s += t[r * classes + k]!;
    for (let k = 0; k < classes; k++) t[r * classes + k]! /= s;
  }
  return t;
}

describe(`softmax cross-entropy (seed ${seed})`, () => {
  for (const [rows, classes] of [[1, 10], [3, 1000], [8, 1001], [5, 7]] as const) {
    for (const eps of [0, 0.1]) {
      it(`B=${rows}, K=${classes}, ε=${eps}: hard labels (host and GPU) and soft targets`, async () => {
        const logits = randomArray(rng, rows * classes, -8, 8);
        const labels = Int32Array.from({ length: rows }, () => randomInt(rng, 0, classes - 1));
        const soft = softTargets(rows, classes);
        const refHard = crossEntropyRef(logits, rows, classes, { labels }, eps);
        const refSoft = crossEntropyRef(logits, rows, classes, { soft }, eps);
        await engine.scope(async () => {
          const l = engine.tensor(logits, [rows, classes]);
          const host = softmaxCrossEntropy(l, labels, { labelSmoothing: eps });
          assertClose(await host.losses.read(), refHard, 1e-5, 'losses, host labels');
          assertClose(await host.meanLoss.read(), [refHard.reduce((a, b) => a + b, 0) / rows], 1e-5, 'mean loss');
          assertClose(await host.probabilities.read(), softmaxRef(logits, rows, classes), 1e-5, 'probabilities');
          const gpu = softmaxCrossEntropy(l, engine.tensor(labels, [rows], 'i32'), { labelSmoothing: eps });
          assertClose(await gpu.losses.read(), refHard, 1e-5, 'losses, GPU labels');
          const s = softmaxCrossEntropy(l, engine.tensor(soft, [rows, classes]), { labelSmoothing: eps });
          assertClose(await s.losses.read(), refSoft, 1e-5, 'losses, soft targets');
        });
      });
    }
  }

  it('stays finite and exact for logits of magnitude 1e4, and for a row of equal logits', async () => {
    const rows = 4;
    const classes = 1000;
    const logits = randomArray(rng, rows * classes, -1e4, 1e4);
    logits.fill(3e3, 3 * classes, 4 * classes); // all equal: loss = log K exactly with ε = 0
    const labels = [5, 999, 0, 17];
    const ref = crossEntropyRef(logits, rows, classes, { labels }, 0.1);
    await engine.scope(async () => {
      const r = softmaxCrossEntropy(engine.tensor(logits, [rows, classes]), labels, { labelSmoothing: 0.1 });
      const losses = await r.losses.read();
      expect(Array.from(losses).every(Number.isFinite)).toBe(true);
      assertClose(losses, ref, 1e-5, 'losses at ±1e4');
      expect(Array.from(await r.probabilities.read()).every(Number.isFinite)).toBe(true);
      const equal = softmaxCrossEntropy(engine.tensor(logits.slice(3 * classes), [1, classes]), [3]);
      assertClose(await equal.losses.read(), [Math.log(classes)], 1e-6, 'equal logits');
    });
  });

  it('an out-of-range label on the GPU makes only that example NaN', async () => {
    await engine.scope(async () => {
      const logits = engine.tensor(randomArray(rng, 3 * 10), [3, 10]);
      const r = softmaxCrossEntropy(logits, engine.tensor(new Int32Array([2, 10, 4]), [3], 'i32'));
      const losses = await r.losses.read();
      expect(Number.isFinite(losses[0]!)).toBe(true);
      expect(Number.isNaN(losses[1]!)).toBe(true);
      expect(Number.isFinite(losses[2]!)).toBe(true);
      expect(Number.isNaN((await r.meanLoss.read())[0]!)).toBe(true);
    });
  });

  it('softmax rows sum to 1 and match the reference', async () => {
    const logits = randomArray(rng, 6 * 33, -20, 20);
    await engine.scope(async () => {
      const p = await softmax(engine.tensor(logits, [6, 33])).read();
      assertClose(p, softmaxRef(logits, 6, 33), 1e-5, 'softmax');
      for (let r = 0; r < 6; r++) expect(Math.abs(p.slice(r * 33, (r + 1) * 33).reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-5);
    });
  });

  it('topK matches a CPU sort, ties to the lower index', async () => {
    const [rows, classes] = [5, 1001];
    const v = randomArray(rng, rows * classes);
    await engine.scope(async () => {
      for (const k of [1, 5, 32]) {
        const r = topK(engine.tensor(v, [rows, classes]), k);
        const ref = topKRef(v, rows, classes, k);
        expect(Array.from(await r.indices.read())).toEqual(Array.from(ref.indices));
        assertClose(await r.values.read(), ref.values, 0, `top-${k} values`);
      }
      const tie = topK(engine.tensor(new Float32Array([1, 3, 3, 2, 3]), [1, 5]), 4);
      expect(Array.from(await tie.indices.read())).toEqual([1, 2, 4, 3]);
    });
  });

  it('rejects bad arguments, naming them', () => {
    engine.scope(() => {
      const l = engine.zeros([2, 5]);
      expect(() => softmaxCrossEntropy(l, [1, 5])).toThrow(/label 5 at index 1 is not a class index in 0\.\.4/);
      expect(() => softmaxCrossEntropy(l, [1])).toThrow(/1 labels given for 2 rows/);
      expect(() => softmaxCrossEntropy(l, [1, 2], { labelSmoothing: 1 })).toThrow(/labelSmoothing must be a number in \[0, 1\)/);
      expect(() => softmaxCrossEntropy(l, engine.zeros([2, 4]))).toThrow(/soft targets must be f32 \[2, 5\]/);
      expect(() => softmaxCrossEntropy(engine.zeros([10]), [1])).toThrow(/logits must be rank 2/);
      expect(() => softmaxCrossEntropy(l, engine.tensor(new Int32Array(3), [3], 'i32'))).toThrow(/labels must be i32 \[2\]/);
      expect(() => topK(l, 6)).toThrow(/k must be an integer in 1\.\.5/);
      expect(() => topK(l, 0)).toThrow(/k must be an integer/);
    });
  });
});
