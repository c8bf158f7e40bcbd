/** Pooling kernels against the float64 reference: Inception-v3's pools, random geometries,
 * both average conventions, argmax indices, global average pooling, channel views, errors. */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { avgPool2d, globalAvgPool, maxPool2d } from '../src/ops/pool2d.js';
import { testEngine } from './support/engine.js';
import { assertClose } from './support/compare.js';
import { freshSeed, makeRng, randomArray } from './support/random.js';
import { globalAvgPoolRef, pool2dRef, type PoolGeometryRef } from './reference/pool2d.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const seed = freshSeed();
const rng = makeRng(seed);

type Shape4 = [number, number, number, number];

/** Runs max (with indices) and both averages on one geometry and checks them all. */
async function checkPools(shape: Shape4, g: PoolGeometryRef, what: string): Promise<void> {
  const xHost = randomArray(
    rng,
    shape.reduce((a, b) => a * b, 1),
  );
  const opts = { kernel: [g.kh, g.kw] as [number, number], stride: [g.strideH, g.strideW] as [number, number], padding: g.pad };
  const max = pool2dRef(xHost, shape, 'max', g);
  const avgIn = pool2dRef(xHost, shape, 'avg', g, true);
  const avgEx = pool2dRef(xHost, shape, 'avg', g, false);
  await engine.scope(async () => {
    const x = engine.tensor(xHost, shape);
    const { y, indices } = maxPool2d(x, { ...opts, returnIndices: true });
    expect(y.shape).toEqual(max.shape);
    assertClose(await y.read(), max.out, 0, `${what}: max`);
    expect(Array.from(await indices.read()), `${what}: argmax indices`).toEqual(Array.from(max.argmax));
    assertClose(await maxPool2d(x, opts).y.read(), max.out, 0, `${what}: max without indices`);
    assertClose(await avgPool2d(x, opts).read(), avgIn.out, 1e-5, `${what}: avg, padding counted`);
    assertClose(await avgPool2d(x, { ...opts, countIncludePad: false }).read(), avgEx.out, 1e-5, `${what}: avg, padding excluded`);
  });
}

describe(`pooling (seed ${seed})`, () => {
  it("Inception-v3's pools: 3×3/2 'valid' max and 3×3/1 padded averages", async () => {
    await checkPools([2, 35, 35, 6], { kh: 3, kw: 3, strideH: 2, strideW: 2, pad: [0, 0, 0, 0] }, '35² 3×3/2');
    await checkPools([1, 17, 17, 9], { kh: 3, kw: 3, strideH: 2, strideW: 2, pad: [0, 0, 0, 0] }, '17² 3×3/2');
    await checkPools([2, 8, 8, 5], { kh: 3, kw: 3, strideH: 1, strideW: 1, pad: [1, 1, 1, 1] }, '8² 3×3/1 pad 1');
    await checkPools([1, 35, 35, 3], { kh: 3, kw: 3, strideH: 1, strideW: 1, pad: [1, 1, 1, 1] }, '35² 3×3/1 pad 1');
    // Channel counts that are multiples of 4 take the four-channels-per-invocation kernels.
    await checkPools([1, 17, 17, 8], { kh: 3, kw: 3, strideH: 2, strideW: 2, pad: [0, 0, 0, 0] }, '17² 3×3/2, C = 8');
    await checkPools([2, 8, 8, 12], { kh: 3, kw: 3, strideH: 1, strideW: 1, pad: [1, 1, 1, 1] }, '8² 3×3/1 pad 1, C = 12');
  });

  it('random geometries: windows 1–5 per axis, strides 1–3, uneven padding, odd sizes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          n: fc.integer({ min: 1, max: 3 }),
          h: fc.integer({ min: 1, max: 11 }),
          w: fc.integer({ min: 1, max: 11 }),
          c: fc.integer({ min: 1, max: 7 }),
          kh: fc.integer({ min: 1, max: 5 }),
          kw: fc.integer({ min: 1, max: 5 }),
          sh: fc.integer({ min: 1, max: 3 }),
          sw: fc.integer({ min: 1, max: 3 }),
          pads: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 4, maxLength: 4 }),
          widePadding: fc.integer({ min: 0, max: 3 }),
        }),
        async (r) => {
          // Mostly padding narrower than the window (always valid); one run in four keeps
          // padding as wide as drawn, which may leave windows with no input element.
          const k = [r.kh, r.kh, r.kw, r.kw];
          const pad = r.pads.map((p, i) => (r.widePadding === 0 ? p : Math.min(p, k[i]! - 1))) as [number, number, number, number];
          const g = { kh: r.kh, kw: r.kw, strideH: r.sh, strideW: r.sw, pad };
          const shape: Shape4 = [r.n, r.h, r.w, r.c];
          const what = `x[${shape.join(',')}] k${r.kh}×${r.kw} s${r.sh}×${r.sw} pad [${pad.join(',')}]`;
          const opts = { kernel: [r.kh, r.kw] as [number, number], stride: [r.sh, r.sw] as [number, number], padding: pad };
          if (r.kh > r.h + pad[0] + pad[1] || r.kw > r.w + pad[2] + pad[3]) {
            engine.scope(() => expect(() => maxPool2d(engine.zeros(shape), opts), what).toThrow(/is larger than the padded input/));
            return;
          }
          // Padding as wide as the window can leave a window with no input element (the
          // reference then has no argmax): both ops must refuse the geometry up front.
          if (pool2dRef(new Float64Array(r.n * r.h * r.w * r.c), shape, 'max', g).argmax.includes(-1)) {
            engine.scope(() => {
              expect(() => maxPool2d(engine.zeros(shape), opts), what).toThrow(/with no input element/);
              expect(() => avgPool2d(engine.zeros(shape), { ...opts, countIncludePad: false }), what).toThrow(/with no input element/);
            });
            return;
          }
          await checkPools(shape, g, what);
        },
      ),
      { numRuns: 40, seed },
    );
  });

  it("'same' padding and ties: the first maximum wins", async () => {
    await checkPools([1, 7, 6, 4], { kh: 3, kw: 3, strideH: 2, strideW: 2, pad: [1, 1, 1, 1] }, "'same'-like 3×3/2");
    await engine.scope(async () => {
      const x = engine.tensor(new Float32Array([1, 5, 5, 2]), [1, 2, 2, 1]);
      const { y, indices } = maxPool2d(x, { kernel: 2, returnIndices: true });
      expect(Array.from(await y.read())).toEqual([5]);
      expect(Array.from(await indices.read())).toEqual([1]);
      // NaN propagates (as in PyTorch), in the scalar and the vec4 kernels alike.
      for (const c of [1, 4]) {
        const nanX = new Float32Array(3 * 3 * c).fill(1);
        nanX.fill(NaN, 4 * c, 5 * c); // the centre pixel, every channel
        nanX.fill(5, 8 * c, 9 * c); // a larger value after it
        const pooled = await maxPool2d(engine.tensor(nanX, [1, 3, 3, c]), { kernel: 3 }).y.read();
        expect(Array.from(pooled).every(Number.isNaN), `NaN in a window of ${c} channels`).toBe(true);
      }
      const s = maxPool2d(engine.tensor(randomArray(rng, 2 * 7 * 7 * 3), [2, 7, 7, 3]), { kernel: 3, stride: 2, padding: 'same' }).y;
      expect(s.shape).toEqual([2, 4, 4, 3]);
    });
  });

  it('global average pooling over 8×8 and 17×17 with odd channel counts', async () => {
    for (const shape of [
      [2, 8, 8, 13],
      [1, 17, 17, 5],
      [3, 1, 1, 2],
    ] as Shape4[]) {
      const xHost = randomArray(
        rng,
        shape.reduce((a, b) => a * b, 1),
      );
      await engine.scope(async () => {
        const y = globalAvgPool(engine.tensor(xHost, shape));
        expect(y.shape).toEqual([shape[0], 1, 1, shape[3]]);
        assertClose(await y.read(), globalAvgPoolRef(xHost, shape), 1e-5, `global avg ${shape.join('×')}`);
      });
    }
  });

  it('writes into a channel view and leaves the other channels alone', async () => {
    const shape: Shape4 = [2, 9, 9, 5];
    const xHost = randomArray(rng, 2 * 9 * 9 * 5);
    const ref = pool2dRef(xHost, shape, 'max', { kh: 3, kw: 3, strideH: 2, strideW: 2, pad: [0, 0, 0, 0] });
    const gap = globalAvgPoolRef(xHost, shape);
    await engine.scope(async () => {
      const x = engine.tensor(xHost, shape);
      const big = engine.zeros([2, 4, 4, 12]);
      maxPool2d(x, { kernel: 3, stride: 2, out: big.channelView(3, 5) });
      const all = await big.read();
      const got = new Float64Array(2 * 16 * 5);
      for (let p = 0; p < 32; p++) {
        for (let c = 0; c < 12; c++) {
          if (c >= 3 && c < 8) got[p * 5 + c - 3] = all[p * 12 + c]!;
          else expect(all[p * 12 + c], `channel ${c} of pixel ${p} outside the view`).toBe(0);
        }
      }
      assertClose(got, ref.out, 0, 'max pool into a view');
      // A 4-aligned view takes the vec4 kernel: x with 8 channels into channels 4..11 of 16.
      const x8Host = randomArray(rng, 1 * 7 * 7 * 8);
      const ref8 = pool2dRef(x8Host, [1, 7, 7, 8], 'avg', { kh: 3, kw: 3, strideH: 1, strideW: 1, pad: [1, 1, 1, 1] }, false);
      const big8 = engine.zeros([1, 7, 7, 16]);
      avgPool2d(engine.tensor(x8Host, [1, 7, 7, 8]), { kernel: 3, stride: 1, padding: 1, countIncludePad: false, out: big8.channelView(4, 8) });
      const all8 = await big8.read();
      const got8 = new Float64Array(49 * 8);
      for (let p = 0; p < 49; p++) {
        for (let c = 0; c < 16; c++) {
          if (c >= 4 && c < 12) got8[p * 8 + c - 4] = all8[p * 16 + c]!;
          else expect(all8[p * 16 + c], `channel ${c} of pixel ${p} outside the aligned view`).toBe(0);
        }
      }
      assertClose(got8, ref8.out, 1e-5, 'avg pool into an aligned view');
      const pooled = engine.zeros([2, 1, 1, 9]);
      globalAvgPool(x, { out: pooled.channelView(4, 5) });
      const pv = await pooled.read();
      assertClose([...pv.slice(4, 9), ...pv.slice(13, 18)], gap, 1e-5, 'global avg into a view');
      expect([...pv.slice(0, 4), ...pv.slice(9, 13)].every((v) => v === 0)).toBe(true);
    });
  });

  it('rejects bad arguments, naming them', () => {
    engine.scope(() => {
      const x = engine.zeros([1, 5, 5, 2]);
      expect(() => maxPool2d(engine.zeros([5, 5, 2]), { kernel: 3 })).toThrow(/maxPool2d: x must be rank 4 NHWC/);
      expect(() => maxPool2d(x, { kernel: 9 })).toThrow(/kernel 9×9 is larger than the padded input 5×5/);
      expect(() => avgPool2d(x, { kernel: 3, padding: -1 })).toThrow(/padding must be/);
      expect(() => maxPool2d(x, { kernel: 3, stride: 0 })).toThrow(/stride must be a positive integer/);
      expect(() => maxPool2d(x, { kernel: 2, padding: [2, 0, 0, 0] })).toThrow(/padding \[2, 0, 0, 0\] leaves some 2×2 windows .* with no input element/);
      expect(() => avgPool2d(x, { kernel: [1, 2], stride: 1, padding: [0, 0, 0, 2] })).toThrow(/avgPool2d: padding \[0, 0, 0, 2\] leaves some 1×2 windows/);
      // Wide trailing padding is fine when the stride never lands a window inside it.
      expect(maxPool2d(x, { kernel: 2, stride: 3, padding: [0, 2, 0, 0] }).y.shape).toEqual([1, 2, 2, 2]);
      expect(() => maxPool2d(x, { kernel: 3, out: engine.zeros([1, 2, 2, 2]) })).toThrow(/out must have the result's shape \[1, 1, 1, 2\]/);
      expect(() => maxPool2d(x, { kernel: [3, 0] as unknown as [number, number] })).toThrow(/kernel must be a positive integer/);
      expect(() => avgPool2d(x, { kernel: 3, countIncludePad: 'yes' as unknown as boolean })).toThrow(/countIncludePad must be a boolean/);
      expect(() => globalAvgPool(engine.tensor(new Int32Array(4), [1, 2, 2, 1]))).toThrow(/globalAvgPool: x must be f32/);
    });
  });
});
