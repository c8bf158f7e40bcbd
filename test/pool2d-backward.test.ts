/**
 * Backward of max, average and global average pooling, in three layers of checks:
 *   1. the float64 analytic backward (test/reference/pool2d-backward.ts) against central finite
 *      differences of the float64 forward reference, relative error ≤ 1e-6;
 *   2. the GPU kernels against that analytic backward, fed the indices the GPU forward saved,
 *      relative error ≤ 1e-5, on odd and Inception-like shapes, with channel views and errors;
 *   3. through the tape against finite differences (float32 end to end, ≤ 1e-4).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { Tape } from '../src/autograd/tape.js';
import * as ag from '../src/autograd/functions.js';
import { avgPool2d, globalAvgPool, maxPool2d, type Pool2dOptions } from '../src/ops/pool2d.js';
import { avgPool2dBackward, globalAvgPoolBackward, maxPool2dBackward } from '../src/ops/pool2d-backward.js';
import { testEngine } from './support/engine.js';
import { assertClose } from './support/compare.js';
import { dot, embedded, expectInvalid, fdGrad, sizeOf } from './support/gradients.js';
import { freshSeed, makeRng, randomArray, randomInt, type Rng } from './support/random.js';
import { globalAvgPoolRef, pool2dRef, type PoolGeometryRef } from './reference/pool2d.js';
import { avgPool2dBackwardRef, globalAvgPoolBackwardRef, maxPool2dBackwardRef } from './reference/pool2d-backward.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const seed = freshSeed();
const rng = makeRng(seed);

/** Finite differences in float64 agree with the analytic gradients to about 1e-9 here (the
 * truncation error is O(h²), the rounding error O(1e-16/h)); 1e-6 leaves room. */
const FD_TOLERANCE = 1e-6;
/** The GPU backward in float32 against the float64 analytic backward on the same inputs. */
const GPU_TOLERANCE = 1e-5;

/** Distinct values at least 0.01 apart in random order, so that no finite-difference step can
 * change which element of a window is the maximum. */
function tieFree(r: Rng, n: number): Float64Array {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return Float64Array.from(order, (o) => (o - n / 2) * 0.01);
}

/** The reference's explicit geometry for pooling options with explicit padding. */
function refGeometry(
  kernel: number | readonly [number, number],
  stride: number | readonly [number, number],
  pad: number | readonly [number, number, number, number],
): PoolGeometryRef {
  const [kh, kw] = typeof kernel === 'number' ? [kernel, kernel] : kernel;
  const [strideH, strideW] = typeof stride === 'number' ? [stride, stride] : stride;
  const p: [number, number, number, number] = typeof pad === 'number' ? [pad, pad, pad, pad] : [pad[0], pad[1], pad[2], pad[3]];
  return { kh, kw, strideH, strideW, pad: p };
}

describe(`analytic backward vs finite differences, float64 (seed ${seed})`, () => {
  const poolCases = [
    { kind: 'max', shape: [2, 7, 7, 3], kernel: 3, stride: 2, pad: 0 },
    { kind: 'max', shape: [1, 6, 5, 2], kernel: [2, 3], stride: [1, 2], pad: [1, 0, 1, 1] },
    { kind: 'avg', shape: [1, 6, 6, 3], kernel: 3, stride: 1, pad: 1, include: true },
    { kind: 'avg', shape: [1, 6, 6, 3], kernel: 3, stride: 1, pad: 1, include: false },
    { kind: 'avg', shape: [2, 5, 7, 2], kernel: 3, stride: 2, pad: [1, 0, 1, 1], include: false },
    { kind: 'global', shape: [2, 4, 3, 5], kernel: 1, stride: 1, pad: 0 },
  ] as const;
  for (const c of poolCases) {
    const shape = [...c.shape] as [number, number, number, number];
    const g = refGeometry(c.kernel, c.stride, c.pad);
    const include = 'include' in c ? c.include : true;
    const name =
      c.kind === 'global'
        ? 'global average'
        : `${c.kind} ${g.kh}×${g.kw}/${g.strideH}×${g.strideW} pad [${g.pad.join(', ')}]${c.kind === 'avg' ? (include ? ' pad counted' : ' pad excluded') : ''}`;
    it(`${name} pooling of x[${shape.join('×')}]`, () => {
      const x = c.kind === 'max' ? tieFree(rng, sizeOf(shape)) : Float64Array.from(randomArray(rng, sizeOf(shape)));
      const forward = () => (c.kind === 'global' ? { out: globalAvgPoolRef(x, shape), argmax: new Int32Array() } : pool2dRef(x, shape, c.kind, g, include));
      const r = Float64Array.from(randomArray(rng, forward().out.length));
      const fd = fdGrad(x, () => dot(forward().out, r));
      const analytic =
        c.kind === 'max'
          ? maxPool2dBackwardRef(r, forward().argmax, x.length)
          : c.kind === 'avg'
            ? avgPool2dBackwardRef(r, shape, g, include)
            : globalAvgPoolBackwardRef(r, shape);
      assertClose(analytic, fd, FD_TOLERANCE, 'dx');
    });
  }
});

describe(`pooling backward kernels vs float64 (seed ${seed})`, () => {
  const maxCases: { shape: [number, number, number, number]; options: Pool2dOptions; pad: number | [number, number, number, number] }[] = [
    { shape: [2, 17, 17, 8], options: { kernel: 3, stride: 2 }, pad: 0 }, // Inception's grid reductions
    { shape: [1, 9, 7, 3], options: { kernel: 3, stride: 2, padding: 1 }, pad: 1 },
    { shape: [2, 6, 5, 5], options: { kernel: [3, 2], stride: [2, 1], padding: [1, 1, 0, 1] }, pad: [1, 1, 0, 1] },
    { shape: [1, 5, 5, 7], options: { kernel: 2, stride: 3 }, pad: 0 }, // stride > kernel: some inputs in no window
  ];
  for (const c of maxCases) {
    it(`max ${JSON.stringify(c.options.kernel)}/${JSON.stringify(c.options.stride)} pad ${JSON.stringify(c.pad)} on x[${c.shape.join('×')}]`, async () => {
      const x = randomArray(rng, sizeOf(c.shape));
      await engine.scope(async () => {
        const { y, indices } = maxPool2d(engine.tensor(x, c.shape), { ...c.options, returnIndices: true });
        const idx = await indices.read();
        const ref = pool2dRef(x, c.shape, 'max', refGeometry(c.options.kernel, c.options.stride ?? c.options.kernel, c.pad));
        expect(Array.from(idx)).toEqual(Array.from(ref.argmax)); // random floats: no ties
        const dy = randomArray(rng, y.size);
        const dx = maxPool2dBackward(engine.tensor(dy, y.shape), indices, c.shape, c.options);
        expect(dx.shape).toEqual(c.shape);
        assertClose(await dx.read(), maxPool2dBackwardRef(dy, idx, x.length), GPU_TOLERANCE, 'dx');
      });
    });
  }

  it('max: the same window maximum for several outputs (3×3/1 pad 1) sums their gradients, exactly', async () => {
    // A single peak per image: every window that contains it sends its dy there.
    const shape: [number, number, number, number] = [2, 5, 6, 3];
    const x = randomArray(rng, sizeOf(shape), -1, 0);
    x[(0 * 5 * 6 + 2 * 6 + 3) * 3 + 1] = 5;
    const options: Pool2dOptions = { kernel: 3, stride: 1, padding: 1 };
    await engine.scope(async () => {
      const { y, indices } = maxPool2d(engine.tensor(x, shape), { ...options, returnIndices: true });
      const dy = Float32Array.from({ length: y.size }, () => randomInt(rng, -8, 8) / 8); // exact sums
      const dx = await maxPool2dBackward(engine.tensor(dy, y.shape), indices, shape, options).read();
      const ref = maxPool2dBackwardRef(dy, await indices.read(), x.length);
      expect(Array.from(dx)).toEqual(Array.from(ref));
      const peak = (0 * 5 * 6 + 2 * 6 + 3) * 3 + 1;
      let expected = 0;
      for (let oh = 1; oh <= 3; oh++) for (let ow = 2; ow <= 4; ow++) expected += dy[((0 * 5 + oh) * 6 + ow) * 3 + 1]!;
      expect(dx[peak]).toBe(expected);
    });
  });

  const avgCases: {
    shape: [number, number, number, number];
    kernel: number | [number, number];
    stride: number | [number, number];
    pad: number | [number, number, number, number];
  }[] = [
    { shape: [2, 8, 8, 6], kernel: 3, stride: 1, pad: 1 }, // Inception's branch_pool
    { shape: [1, 7, 9, 5], kernel: 3, stride: 2, pad: 1 },
    { shape: [1, 5, 6, 3], kernel: [2, 3], stride: [1, 2], pad: [0, 1, 1, 1] },
    { shape: [1, 8, 8, 4], kernel: 5, stride: 3, pad: 0 },
  ];
  for (const c of avgCases) {
    for (const include of [true, false]) {
      it(`average ${JSON.stringify(c.kernel)}/${JSON.stringify(c.stride)} pad ${JSON.stringify(c.pad)} ${include ? 'pad counted' : 'pad excluded'} on x[${c.shape.join('×')}]`, async () => {
        const options = { kernel: c.kernel, stride: c.stride, padding: c.pad, countIncludePad: include };
        const g = refGeometry(c.kernel, c.stride, c.pad);
        await engine.scope(async () => {
          const y = avgPool2d(engine.tensor(randomArray(rng, sizeOf(c.shape)), c.shape), options);
          const dy = randomArray(rng, y.size);
          const dx = avgPool2dBackward(engine.tensor(dy, y.shape), c.shape, options);
          assertClose(await dx.read(), avgPool2dBackwardRef(dy, c.shape, g, include), GPU_TOLERANCE, 'dx');
        });
      });
    }
  }

  for (const shape of [
    [2, 8, 8, 16],
    [3, 5, 7, 3],
    [1, 1, 1, 4],
  ] as [number, number, number, number][]) {
    it(`global average on x[${shape.join('×')}]`, async () => {
      await engine.scope(async () => {
        const y = globalAvgPool(engine.tensor(randomArray(rng, sizeOf(shape)), shape));
        const dy = randomArray(rng, y.size);
        const dx = globalAvgPoolBackward(engine.tensor(dy, y.shape), shape);
        assertClose(await dx.read(), globalAvgPoolBackwardRef(dy, shape), GPU_TOLERANCE, 'dx');
      });
    });
  }

  it('dy as a channel view of a wider gradient (max, average and global), as when the forward wrote into a concat', async () => {
    const shape: [number, number, number, number] = [2, 7, 6, 5];
    const options: Pool2dOptions = { kernel: 3, stride: 2, padding: 1 };
    const g = refGeometry(3, 2, 1);
    await engine.scope(async () => {
      const xt = engine.tensor(randomArray(rng, sizeOf(shape)), shape);
      const { y, indices } = maxPool2d(xt, { ...options, returnIndices: true });
      const dy = randomArray(rng, y.size);
      const { view } = embedded(engine, rng, dy, y.shape, 3, 11);
      const idx = await indices.read();
      assertClose(await maxPool2dBackward(view, indices, shape, options).read(), maxPool2dBackwardRef(dy, idx, xt.size), GPU_TOLERANCE, 'max dx');
      for (const include of [true, false]) {
        const dxAvg = avgPool2dBackward(view, shape, { ...options, countIncludePad: include });
        assertClose(await dxAvg.read(), avgPool2dBackwardRef(dy, shape, g, include), GPU_TOLERANCE, `average dx (include ${include})`);
      }
      const dyGlobal = randomArray(rng, 2 * 5);
      const global = embedded(engine, rng, dyGlobal, [2, 1, 1, 5], 4, 9);
      assertClose(await globalAvgPoolBackward(global.view, shape).read(), globalAvgPoolBackwardRef(dyGlobal, shape), GPU_TOLERANCE, 'global dx');
    });
  });

  it('rejects bad arguments with messages naming the op and the argument', () => {
    engine.scope(() => {
      const shape = [1, 7, 7, 2];
      const options: Pool2dOptions = { kernel: 3, stride: 2 };
      const dy = engine.zeros([1, 3, 3, 2]);
      const idx = engine.zeros([1, 3, 3, 2], 'i32');
      expectInvalid(() => maxPool2dBackward(dy, engine.zeros([1, 3, 3, 2]), shape, options), /maxPool2dBackward: indices must be i32/);
      expectInvalid(
        () => maxPool2dBackward(dy, engine.zeros([1, 3, 2, 3], 'i32'), shape, options),
        /maxPool2dBackward: indices must be a plain i32 tensor of dy's shape \[1, 3, 3, 2\]/,
      );
      expectInvalid(
        () => maxPool2dBackward(dy, engine.zeros([1, 3, 3, 4], 'i32').channelView(0, 2), shape, options),
        /maxPool2dBackward: indices must be a plain/,
      );
      expectInvalid(
        () => maxPool2dBackward(engine.zeros([1, 4, 4, 2]), idx, shape, options),
        /maxPool2dBackward: dy must have the forward output's shape \[1, 3, 3, 2\]/,
      );
      expectInvalid(() => maxPool2dBackward(dy, idx, [1, 2, 2, 2], options), /maxPool2dBackward: kernel 3×3 is larger than the padded input 2×2/);
      expectInvalid(() => maxPool2dBackward(engine.zeros([1, 3, 3, 2], 'i32'), idx, shape, options), /maxPool2dBackward: dy must be f32/);
      expectInvalid(
        () => avgPool2dBackward(dy, shape, { ...options, countIncludePad: 'yes' as unknown as boolean }),
        /avgPool2dBackward: countIncludePad must be a boolean/,
      );
      expectInvalid(() => avgPool2dBackward(dy, [1, 7, 7], options), /avgPool2dBackward: the input shape must be \[N, H, W, C\]/);
      expectInvalid(
        () => globalAvgPoolBackward(engine.zeros([1, 1, 1, 3]), [1, 4, 4, 2]),
        /globalAvgPoolBackward: dy must have the forward output's shape \[1, 1, 1, 2\]/,
      );
      expectInvalid(() => globalAvgPoolBackward(engine.zeros([1, 1, 1, 2]), [1, 0, 4, 2]), /globalAvgPoolBackward: .* has no pixels/);
    });
  });
});

describe(`pooling backward through the tape (seed ${seed})`, () => {
  const cases = [
    { kind: 'max', shape: [2, 7, 7, 3], k: 3, stride: 2, pad: 0, include: true },
    { kind: 'max', shape: [1, 6, 5, 2], k: 2, stride: 1, pad: 1, include: true },
    { kind: 'avg', shape: [1, 6, 6, 3], k: 3, stride: 1, pad: 1, include: true },
    { kind: 'avg', shape: [2, 5, 7, 2], k: 3, stride: 2, pad: 1, include: false },
    { kind: 'global', shape: [2, 4, 3, 5], k: 0, stride: 1, pad: 0, include: true },
  ] as const;
  for (const c of cases) {
    it(`${c.kind} ${c.k ? `${c.k}×${c.k}/${c.stride} pad ${c.pad}${c.kind === 'avg' ? (c.include ? ' (pad counted)' : ' (pad excluded)') : ''}` : ''} x[${c.shape.join('×')}]: taped gradient matches finite differences`, async () => {
      const shape = [...c.shape] as [number, number, number, number];
      const n = shape.reduce((a, b) => a * b, 1);
      // Distinct values spaced well apart, so no perturbation changes a window's maximum.
      const order = Array.from({ length: n }, (_, i) => i).sort(() => rng() - 0.5);
      const x = Float64Array.from(order, (o) => (o - n / 2) * 0.01);
      const g = { kh: c.k, kw: c.k, strideH: c.stride, strideW: c.stride, pad: [c.pad, c.pad, c.pad, c.pad] as [number, number, number, number] };
      const forwardRef = (): Float64Array => (c.kind === 'global' ? globalAvgPoolRef(x, shape) : pool2dRef(x, shape, c.kind, g, c.include).out);
      const outSize = forwardRef().length;
      const r = Float64Array.from(randomArray(rng, outSize));
      const f = () => forwardRef().reduce((a, v, i) => a + v * r[i]!, 0) / outSize;
      const fd = fdGrad(x, f);
      await engine.scope(async () => {
        const tape = new Tape(engine);
        const xt = tape.param(engine.tensor(Float32Array.from(x), shape));
        const opts = { kernel: c.k, stride: c.stride, padding: c.pad };
        const y =
          c.kind === 'max'
            ? ag.maxPool2d(tape, xt, opts)
            : c.kind === 'avg'
              ? ag.avgPool2d(tape, xt, { ...opts, countIncludePad: c.include })
              : ag.globalAvgPool(tape, xt);
        const loss = ag.mean(tape, ag.mul(tape, y, engine.tensor(Float32Array.from(r), y.shape)));
        assertClose(await loss.read(), [f()], 1e-5, 'loss');
        tape.backward(loss);
        assertClose(await tape.grad(xt)!.read(), fd, 1e-4, 'dx');
        tape.dispose();
      });
    });
  }
});
