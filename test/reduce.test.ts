/** Reductions against float64: sum, mean, sumChannels, globalNorm (one pass over many tensors),
 * scaledAdd and its in-place form; float32 accuracy at 10^6 elements; argument checks. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { globalNorm, mean, scaledAdd, scaledAddInPlace, sum, sumChannels } from '../src/ops/reduce.js';
import { InvalidArgumentError } from '../src/runtime/errors.js';
import type { Shape, Tensor } from '../src/runtime/tensor.js';
import { globalNormRef, meanRef, naiveFloat32Sum, scaledAddRef, sumChannelsRef, sumRef } from './reference/reduce.js';
import { assertClose } from './support/compare.js';
import { testEngine } from './support/engine.js';
import { freshSeed, makeRng, randomArray, randomInt } from './support/random.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const TOLERANCE = 1e-5;
const size = (shape: Shape) => shape.reduce((a, b) => a * b, 1);
const absSum = (x: ArrayLike<number>) => sumRef(Float64Array.from(x, Math.abs));

async function scalar(t: Tensor): Promise<number> {
  expect(t.shape).toEqual([1]);
  return (await t.read())[0]!;
}

/** Float32 summation error is relative to Σ|x| (what rounding scales with); on the data below,
 * mixed sign with mean 0.5, |Σx| is close to Σ|x|/2 except for a handful of elements. */
function expectSumClose(got: number, ref: number, scaleOf: number, what: string): void {
  expect(Number.isFinite(got), `${what}: got ${got}`).toBe(true);
  const err = Math.abs(got - ref) / Math.max(scaleOf, Number.MIN_VALUE);
  expect(err, `${what}: got ${got}, reference ${ref}, error ${err.toExponential(2)} relative to Σ|x|`).toBeLessThanOrEqual(TOLERANCE);
}

describe('sum and mean against float64', () => {
  const seed = freshSeed();
  for (const n of [1, 7, 1023, 4096, 4097, 65537]) {
    it(`${n} elements of mixed sign (seed ${seed})`, async () => {
      const x = randomArray(makeRng(seed + n), n, -0.5, 1.5);
      const [s, m] = await engine.scope(async () => {
        const xt = engine.tensor(x);
        return [await scalar(sum(xt)), await scalar(mean(xt))];
      });
      expectSumClose(s!, sumRef(x), absSum(x), `sum of ${n}`);
      expectSumClose(m!, meanRef(x), absSum(x) / n, `mean of ${n}`);
    });
  }

  it(`10^6 elements of mixed sign: relative error ≤ 1e-5 (seed ${seed})`, async () => {
    const n = 1_000_000;
    const x = randomArray(makeRng(seed), n, -0.5, 1.5);
    const [s, m] = await engine.scope(async () => {
      const xt = engine.tensor(x, [100, 100, 100]);
      return [await scalar(sum(xt)), await scalar(mean(xt))];
    });
    assertClose([s!], [sumRef(x)], TOLERANCE, 'sum of 10^6 mixed-sign values');
    assertClose([m!], [meanRef(x)], TOLERANCE, 'mean of 10^6 mixed-sign values');
  });

  it('10^6 ones sum to exactly 10^6, and 10^6 copies of f32(0.1) within 1e-5 where a naive float32 loop is off by 1e-3 or more', async () => {
    const n = 1_000_000;
    const ones = new Float32Array(n).fill(1);
    const tenths = new Float32Array(n).fill(0.1);
    const [s1, m1, s01] = await engine.scope(async () => {
      const o = engine.tensor(ones);
      return [await scalar(sum(o)), await scalar(mean(o)), await scalar(sum(engine.tensor(tenths)))];
    });
    expect(s1).toBe(n);
    expect(m1).toBe(1);
    const ref = sumRef(tenths);
    assertClose([s01!], [ref], TOLERANCE, 'sum of 10^6 × f32(0.1)');
    expect(Math.abs(naiveFloat32Sum(tenths) - ref) / ref).toBeGreaterThan(1e-3);
  });

  it('sum of an empty tensor is 0', async () => {
    expect(await engine.scope(() => scalar(sum(engine.zeros([0, 3]))))).toBe(0);
  });
});

describe('sumChannels against float64', () => {
  const seed = freshSeed();
  const shapes: Shape[] = [[1], [1, 1], [5], [7, 3], [1023, 5], [65537, 2], [2, 9, 7, 5], [4, 17, 17, 64], [3, 1, 1, 2048], [125_000, 8]];
  for (const shape of shapes) {
    it(`[${shape}] → [${shape[shape.length - 1]}] (seed ${seed})`, async () => {
      const x = randomArray(makeRng(seed + size(shape)), size(shape), -0.5, 1.5);
      const channels = shape[shape.length - 1]!;
      const got = await engine.scope(() => {
        const y = sumChannels(engine.tensor(x, shape));
        expect(y.shape).toEqual([channels]);
        return y.read();
      });
      assertClose(got, sumChannelsRef(x, channels), TOLERANCE, `sumChannels [${shape}]`);
    });
  }

  it('no rows gives zeros; no channels gives an empty result', async () => {
    await engine.scope(async () => {
      expect(Array.from(await sumChannels(engine.zeros([0, 4])).read())).toEqual([0, 0, 0, 0]);
      expect(sumChannels(engine.zeros([3, 0])).shape).toEqual([0]);
    });
  });
});

describe('globalNorm against float64', () => {
  const seed = freshSeed();

  async function check(arrays: Float32Array[], shapes: Shape[], what: string): Promise<{ dispatches: number; costsDeclared: boolean }> {
    await engine.sync();
    engine.profiler.enabled = true;
    engine.profiler.clear();
    try {
      const got = await engine.scope(() => scalar(globalNorm(arrays.map((a, i) => engine.tensor(a, shapes[i])))));
      assertClose([got], [globalNormRef(arrays)], TOLERANCE, what);
      const recs = engine.profiler.records.filter((r) => r.op === 'globalNorm');
      return { dispatches: recs.length, costsDeclared: recs.every((r) => r.flops > 0 && r.bytes > 0) };
    } finally {
      engine.profiler.enabled = false;
      engine.profiler.clear();
    }
  }

  it(`20 tensors of odd sizes, one of 70001 elements and an empty one, in ⌈21/7⌉ + 1 = 4 dispatches (seed ${seed})`, async () => {
    const rng = makeRng(seed);
    const shapes: Shape[] = [];
    for (let i = 0; i < 20; i++) {
      const r = randomInt(rng, 0, 2);
      shapes.push(
        r === 0
          ? [2 * randomInt(rng, 0, 4000) + 1]
          : r === 1
            ? [randomInt(rng, 1, 9), randomInt(rng, 1, 9), 2 * randomInt(rng, 1, 40) + 1]
            : [3, 3, randomInt(rng, 1, 33), 2 * randomInt(rng, 0, 20) + 1],
      );
    }
    shapes.splice(7, 0, [0, 5]);
    shapes.push([70_001]);
    const arrays = shapes.map((s) => randomArray(rng, size(s), -2, 2));
    const r = await check(arrays, shapes, 'globalNorm of 21 odd tensors and an empty one');
    expect(r.dispatches).toBe(Math.ceil(21 / 7) + 1);
    expect(r.costsDeclared).toBe(true);
  });

  it(`300 small tensors (Inception-v3 has about that many parameter tensors) in ⌈300/7⌉ + 1 = 44 dispatches (seed ${seed})`, async () => {
    const rng = makeRng(seed + 1);
    const shapes: Shape[] = Array.from({ length: 300 }, () => [randomInt(rng, 1, 300)]);
    const arrays = shapes.map((s) => randomArray(rng, size(s), -1, 1));
    const r = await check(arrays, shapes, 'globalNorm of 300 small tensors');
    expect(r.dispatches).toBe(44);
  });

  it(`one 10^6-element tensor, and a tensor list whose elements are all empty (seed ${seed})`, async () => {
    const x = randomArray(makeRng(seed + 2), 1_000_000, -1, 1);
    await check([x], [[1000, 1000]], 'globalNorm of 10^6 elements');
    expect(await engine.scope(() => scalar(globalNorm([engine.zeros([0]), engine.zeros([2, 0])])))).toBe(0);
  });
});

describe('scaledAdd and scaledAddInPlace against float64', () => {
  const seed = freshSeed();
  const shapes: Shape[] = [[1], [7], [1023], [2, 9, 7, 5], [65537]];
  it(`y + α·x as a new tensor (seed ${seed})`, async () => {
    const rng = makeRng(seed);
    for (const shape of shapes) {
      const x = randomArray(rng, size(shape));
      const y = randomArray(rng, size(shape));
      const alpha = -3 + 6 * rng();
      const [got, yAfter] = await engine.scope(async () => {
        const yt = engine.tensor(y, shape);
        const out = scaledAdd(yt, engine.tensor(x, shape), alpha);
        expect(out).not.toBe(yt);
        expect(out.shape).toEqual(shape);
        return [await out.read(), await yt.read()];
      });
      assertClose(got!, scaledAddRef(y, x, alpha), 1e-6, `scaledAdd [${shape}] α=${alpha}`);
      expect(Array.from(yAfter!)).toEqual(Array.from(y));
    }
  });

  it(`y ← y + α·x in place, x unchanged, applied twice (seed ${seed})`, async () => {
    const rng = makeRng(seed + 1);
    for (const shape of shapes) {
      const x = randomArray(rng, size(shape));
      const y = randomArray(rng, size(shape));
      const alpha = -0.01 - rng();
      const [yAfter, xAfter] = await engine.scope(async () => {
        const yt = engine.tensor(y, shape);
        const xt = engine.tensor(x, shape);
        expect(scaledAddInPlace(yt, xt, alpha)).toBe(yt);
        scaledAddInPlace(yt, xt, alpha);
        return [await yt.read(), await xt.read()];
      });
      // Two float32 updates each round once, by at most 2^-24 of the terms' size; relative to
      // the result itself that is unbounded where y and 2αx cancel, so the bound is per element
      // against the terms' magnitude.
      const ref = scaledAddRef(y, x, 2 * alpha);
      for (let i = 0; i < ref.length; i++) {
        const bound = 4 * 2 ** -24 * (Math.abs(y[i]!) + 2 * Math.abs(alpha * x[i]!)) + 1e-30;
        expect(Math.abs(yAfter![i]! - ref[i]!), `scaledAddInPlace ×2 [${shape}] element ${i}`).toBeLessThanOrEqual(bound);
      }
      expect(Array.from(xAfter!)).toEqual(Array.from(x));
    }
  });
});

describe('reduction argument checks', () => {
  it('globalNorm rejects an empty list and non-f32 tensors', () => {
    engine.scope(() => {
      expect(() => globalNorm([])).toThrow(InvalidArgumentError);
      expect(() => globalNorm([])).toThrow(/globalNorm: tensors must be a non-empty array/);
      expect(() => globalNorm([engine.zeros([3]), engine.zeros([2], 'i32')])).toThrow(/globalNorm: tensors\[1\] must be f32/);
    });
  });
  it('scaledAdd and scaledAddInPlace reject shape mismatches, non-f32, a non-finite alpha and aliasing', () => {
    engine.scope(() => {
      const y = engine.zeros([2, 3]);
      expect(() => scaledAdd(y, engine.zeros([3, 2]), 1)).toThrow(/scaledAdd: y and x must have the same shape, got \[2, 3\] and \[3, 2\]/);
      expect(() => scaledAddInPlace(y, engine.zeros([6]), 1)).toThrow(/scaledAddInPlace: y and x must have the same shape/);
      expect(() => scaledAdd(y, engine.zeros([2, 3], 'u32'), 1)).toThrow(/scaledAdd: x must be f32/);
      expect(() => scaledAdd(y, engine.zeros([2, 3]), NaN)).toThrow(/alpha must be a finite number/);
      expect(() => scaledAddInPlace(y, y, 0.5)).toThrow(/scaledAddInPlace: x .* shares y's buffer/);
      expect(() => scaledAddInPlace(y, y.reshape([6]).reshape([2, 3]), 0.5)).toThrow(InvalidArgumentError);
    });
  });
  it('sum, mean and sumChannels reject non-f32 inputs and channel views; mean rejects an empty tensor', () => {
    engine.scope(() => {
      const xi = engine.zeros([4], 'i32');
      expect(() => sum(xi)).toThrow(/sum: x must be f32/);
      expect(() => mean(xi)).toThrow(/mean: x must be f32/);
      expect(() => sumChannels(xi)).toThrow(/sumChannels: x must be f32/);
      expect(() => mean(engine.zeros([0]))).toThrow(/mean: x .* is empty/);
      const view = engine.zeros([2, 6]).channelView(1, 3);
      expect(() => sum(view)).toThrow(/sum: x is .* a channel view/);
      expect(() => sumChannels(view)).toThrow(/channel view/);
    });
  });
});
