/** Softmax, cross-entropy with label smoothing and top-k against float64 references. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { LABEL_NAN_BITS, softmax, softmaxCrossEntropy, topK } from '../src/ops/softmax.js';
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
  const shapes = [1, 3, 8].flatMap((rows) => [10, 1000, 1001].map((classes) => [rows, classes] as const));
  for (const [rows, classes] of shapes) {
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

  for (const classes of [1000, 1001]) {
    it(`K=${classes}: stays finite and exact for logits of magnitude 1e4, and for a row of equal logits`, async () => {
      const rows = 4;
      const logits = randomArray(rng, rows * classes, -1e4, 1e4);
      logits.fill(3e3, 3 * classes, 4 * classes); // all equal: loss = log K exactly with ε = 0
      logits[classes + 7] = 1e4; // one dominant logit: its probability is 1 to float precision
      const labels = [5, 7, classes - 1, 17];
      const soft = softTargets(rows, classes);
      await engine.scope(async () => {
        const l = engine.tensor(logits, [rows, classes]);
        for (const eps of [0, 0.1]) {
          const r = softmaxCrossEntropy(l, labels, { labelSmoothing: eps });
          const losses = await r.losses.read();
          expect(Array.from(losses).every(Number.isFinite)).toBe(true);
          assertClose(losses, crossEntropyRef(logits, rows, classes, { labels }, eps), 1e-5, `losses at ±1e4, ε=${eps}`);
          const p = await r.probabilities.read();
          assertClose(p, softmaxRef(logits, rows, classes), 1e-5, 'probabilities at ±1e4');
          const s = softmaxCrossEntropy(l, engine.tensor(soft, [rows, classes]), { labelSmoothing: eps });
          assertClose(await s.losses.read(), crossEntropyRef(logits, rows, classes, { soft }, eps), 1e-5, `soft-target losses at ±1e4, ε=${eps}`);
        }
        const equal = softmaxCrossEntropy(engine.tensor(logits.slice(3 * classes), [1, classes]), [3]);
        assertClose(await equal.losses.read(), [Math.log(classes)], 1e-6, 'equal logits');
        assertClose(await equal.probabilities.read(), new Float64Array(classes).fill(1 / classes), 1e-6, 'equal logits: uniform probabilities');
        assertClose(await softmax(l).read(), softmaxRef(logits, rows, classes), 1e-5, 'softmax at ±1e4');
      });
    });
  }

  it('an out-of-range label on the GPU makes only that example NaN', async () => {
    const logits = randomArray(rng, 5 * 10);
    const labels = [2, 10, 4, -1, 9];
    const ref = crossEntropyRef(logits, 5, 10, { labels: labels.map((y) => (y >= 0 && y < 10 ? y : 0)) }, 0.1);
    await engine.scope(async () => {
      const r = softmaxCrossEntropy(engine.tensor(logits, [5, 10]), engine.tensor(new Int32Array(labels), [5], 'i32'), { labelSmoothing: 0.1 });
      const losses = await r.losses.read();
      expect([1, 3].map((i) => Number.isNaN(losses[i]!))).toEqual([true, true]);
      // The kernel's own NaN, not the engine's poison left in place.
      const bits = new Uint32Array(losses.buffer, losses.byteOffset, losses.length);
      expect([bits[1], bits[3]]).toEqual([LABEL_NAN_BITS, LABEL_NAN_BITS]);
      assertClose(
        [0, 2, 4].map((i) => losses[i]!),
        [0, 2, 4].map((i) => ref[i]!),
        1e-5,
        'rows with valid labels',
      );
      expect(Number.isNaN((await r.meanLoss.read())[0]!)).toBe(true);
      assertClose(await r.probabilities.read(), softmaxRef(logits, 5, 10), 1e-5, 'probabilities of every row');
    });
  });

  for (const [rows, classes] of [
    [1, 10],
    [6, 33],
    [3, 1000],
    [8, 1001],
  ] as const) {
    it(`softmax [${rows}, ${classes}]: rows sum to 1 and match the reference`, async () => {
      const logits = randomArray(rng, rows * classes, -20, 20);
      await engine.scope(async () => {
        const p = await softmax(engine.tensor(logits, [rows, classes])).read();
        assertClose(p, softmaxRef(logits, rows, classes), 1e-5, 'softmax');
        for (let r = 0; r < rows; r++) expect(Math.abs(p.slice(r * classes, (r + 1) * classes).reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-5);
      });
    });
  }

  for (const [rows, classes] of [
    [5, 1001],
    [2, 2500],
    [3, 40],
  ] as const) {
    it(`topK [${rows}, ${classes}] matches a CPU sort`, async () => {
      const v = randomArray(rng, rows * classes);
      await engine.scope(async () => {
        const t = engine.tensor(v, [rows, classes]);
        for (const k of [1, 5, 32]) {
          const r = topK(t, k);
          const ref = topKRef(v, rows, classes, k);
          expect(Array.from(await r.indices.read())).toEqual(Array.from(ref.indices));
          assertClose(await r.values.read(), ref.values, 0, `top-${k} values`);
        }
      });
    });
  }

  it('topK breaks ties by the lower index', async () => {
    await engine.scope(async () => {
      const tie = topK(engine.tensor(new Float32Array([1, 3, 3, 2, 3]), [1, 5]), 4);
      expect(Array.from(await tie.indices.read())).toEqual([1, 2, 4, 3]);
      expect(Array.from(await tie.values.read())).toEqual([3, 3, 3, 2]);
      // Many ties: 60 values drawn from 8 levels.
      const v = Float32Array.from({ length: 2 * 60 }, () => randomInt(rng, 0, 7));
      const r = topK(engine.tensor(v, [2, 60]), 20);
      const ref = topKRef(v, 2, 60, 20);
      expect(Array.from(await r.indices.read())).toEqual(Array.from(ref.indices));
      expect(Array.from(await r.values.read())).toEqual(Array.from(ref.values));
    });
  });

  it('rejects bad arguments, naming them', () => {
    engine.scope(() => {
      const l = engine.zeros([2, 5]);
      expect(() => softmaxCrossEntropy(l, [1, 5])).toThrow(/label 5 at index 1 is not a class index in 0\.\.4/);
      expect(() => softmaxCrossEntropy(l, new Int32Array([-1, 2]))).toThrow(/label -1 at index 0 is not a class index/);
      expect(() => softmaxCrossEntropy(l, [0, 1.5])).toThrow(/label 1\.5 at index 1/);
      expect(() => softmaxCrossEntropy(l, [1])).toThrow(/1 labels given for 2 rows/);
      expect(() => softmaxCrossEntropy(l, [1, 2], { labelSmoothing: 1 })).toThrow(/labelSmoothing must be a number in \[0, 1\)/);
      expect(() => softmaxCrossEntropy(l, [1, 2], { labelSmoothing: -0.1 })).toThrow(/labelSmoothing/);
      expect(() => softmaxCrossEntropy(l, engine.zeros([2, 4]))).toThrow(/soft targets must be f32 \[2, 5\]/);
      expect(() => softmaxCrossEntropy(l, engine.zeros([3, 5]))).toThrow(/soft targets must be f32 \[2, 5\]/);
      expect(() => softmaxCrossEntropy(l, engine.zeros([2]))).toThrow(/targets must be rank 2/);
      expect(() => softmaxCrossEntropy(l, engine.zeros([2], 'u32'))).toThrow(/targets must be i32 labels \[B\] or f32 soft targets/);
      expect(() => softmaxCrossEntropy(engine.zeros([10]), [1])).toThrow(/logits must be rank 2/);
      expect(() => softmaxCrossEntropy(engine.zeros([2, 5], 'i32'), [1, 2])).toThrow(/logits must be f32/);
      expect(() => softmaxCrossEntropy(l, engine.tensor(new Int32Array(3), [3], 'i32'))).toThrow(/labels must be i32 \[2\]/);
      expect(() => softmax(engine.zeros([2, 3, 4]))).toThrow(/softmax: logits must be rank 2/);
      expect(() => softmax(engine.zeros([2, 3], 'i32'))).toThrow(/softmax: logits must be f32/);
      expect(() => topK(l, 6)).toThrow(/topK: k must be an integer in 1\.\.5/);
      expect(() => topK(l, 0)).toThrow(/k must be an integer/);
      expect(() => topK(l, 2.5)).toThrow(/k must be an integer/);
      expect(() => topK(engine.zeros([1, 40]), 33)).toThrow(/k must be an integer in 1\.\.32/);
      expect(() => topK(engine.zeros([40]), 3)).toThrow(/values must be rank 2/);
    });
  });
});
