/**
 * Backward of pooling, BatchNorm (training, with ReLU fused) and softmax cross-entropy with
 * label smoothing, in three layers of checks:
 *   1. the float64 analytic backward (test/reference/layers-backward.ts) against central finite
 *      differences of the float64 forward references, relative error ≤ 1e-6;
 *   2. the GPU kernels against that analytic backward, fed the values the GPU forward saved,
 *      relative error ≤ 1e-5, on odd and Inception-like shapes, with channel views and errors;
 *   3. through the tape against finite differences (float32 end to end, ≤ 1e-4).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import type { Tensor } from '../src/runtime/tensor.js';
import { InvalidArgumentError } from '../src/runtime/errors.js';
import { Tape } from '../src/autograd/tape.js';
import * as ag from '../src/autograd/functions.js';
import { avgPool2d, globalAvgPool, maxPool2d, type Pool2dOptions } from '../src/ops/pool2d.js';
import { avgPool2dBackward, globalAvgPoolBackward, maxPool2dBackward } from '../src/ops/pool2d-backward.js';
import { batchNormTrain } from '../src/ops/batchnorm.js';
import { batchNormTrainBackward } from '../src/ops/batchnorm-backward.js';
import { softmaxCrossEntropy as crossEntropyOp } from '../src/ops/softmax.js';
import { softmaxCrossEntropyBackward } from '../src/ops/softmax-backward.js';
import { testEngine } from './support/engine.js';
import { assertClose } from './support/compare.js';
import { freshSeed, makeRng, randomArray, randomInt, type Rng } from './support/random.js';
import { batchNormRef, batchNormStatisticsRef } from './reference/batchnorm.js';
import { crossEntropyRef, softmaxRef } from './reference/softmax.js';
import { globalAvgPoolRef, pool2dRef, type PoolGeometryRef } from './reference/pool2d.js';
import { conv2dRef } from './reference/conv2d.js';
import {
  avgPool2dBackwardRef,
  batchNormTrainBackwardRef,
  globalAvgPoolBackwardRef,
  maxPool2dBackwardRef,
  softmaxCrossEntropyBackwardRef,
} from './reference/layers-backward.js';

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

/** Central differences of f with respect to every element of v (changed and restored in place),
 * with a step of 1e-6 relative to the element (absolute near zero). */
function fdGrad(v: Float64Array, f: () => number): Float64Array {
  return v.map((keep, i) => {
    const step = 1e-6 * Math.max(1, Math.abs(keep));
    v[i] = keep + step;
    const up = f();
    v[i] = keep - step;
    const down = f();
    v[i] = keep;
    return (up - down) / (2 * step);
  });
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};
const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

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

/** Batch statistics of x as the GPU forward saves them: mean and 1/√(σ² + eps). */
function statsOf(x: ArrayLike<number>, c: number, eps: number): { mean: Float64Array; variance: Float64Array; invStd: Float64Array } {
  const { mean, variance } = batchNormStatisticsRef(x, c);
  return { mean, variance, invStd: Float64Array.from(variance, (v) => 1 / Math.sqrt(v + eps)) };
}

function expectInvalid(f: () => unknown, message: RegExp): void {
  let thrown: unknown;
  try {
    f();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(InvalidArgumentError);
  expect((thrown as Error).message).toMatch(message);
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

  for (const [shape, relu, withGamma] of [
    [[2, 3, 3, 4], false, true],
    [[2, 3, 3, 4], true, true],
    [[1, 4, 5, 3], false, false],
    [[3, 2, 2, 5], true, false],
  ] as const) {
    it(`BatchNorm (training) x[${shape.join('×')}]${relu ? ' then ReLU' : ''} ${withGamma ? 'with' : 'without'} γ: dx, dγ, dβ of Σ r·y`, () => {
      const c = shape[3];
      const n = sizeOf(shape);
      const eps = 1e-3;
      const gamma = Float64Array.from(randomArray(rng, c, 0.5, 1.5));
      const beta = Float64Array.from(randomArray(rng, c, -0.3, 0.3));
      const r = Float64Array.from(randomArray(rng, n));
      // Redraw x until no ReLU input lies within 1e-3 of the kink, where the loss is not
      // differentiable and central differences straddle it.
      let x = Float64Array.from(randomArray(rng, n, -2, 2));
      const pre = () => {
        const st = batchNormStatisticsRef(x, c);
        return batchNormRef(x, c, withGamma ? gamma : null, beta, st.mean, st.variance, eps, false);
      };
      for (let tries = 0; relu && pre().some((v) => Math.abs(v) < 1e-3); tries++) {
        if (tries > 1000) throw new Error('could not draw x away from the ReLU kink');
        x = Float64Array.from(randomArray(rng, n, -2, 2));
      }
      // Without γ the forward runs with γ = 1; the dγ it returns is checked against ∂/∂γ at 1.
      const gammaAt = withGamma ? gamma : new Float64Array(c).fill(1);
      const loss = () => {
        const st = batchNormStatisticsRef(x, c);
        return dot(batchNormRef(x, c, gammaAt, beta, st.mean, st.variance, eps, relu), r);
      };
      const fd = { dx: fdGrad(x, loss), dgamma: fdGrad(gammaAt, loss), dbeta: fdGrad(beta, loss) };
      const st = statsOf(x, c, eps);
      const y = batchNormRef(x, c, withGamma ? gamma : null, beta, st.mean, st.variance, eps, relu);
      const analytic = batchNormTrainBackwardRef(r, x, c, withGamma ? gamma : null, st.mean, st.invStd, relu ? y : null);
      assertClose(analytic.dx, fd.dx, FD_TOLERANCE, 'dx');
      assertClose(analytic.dgamma, fd.dgamma, FD_TOLERANCE, 'dγ');
      assertClose(analytic.dbeta, fd.dbeta, FD_TOLERANCE, 'dβ');
      if (relu) expect(y.some((v) => v === 0)).toBe(true); // the mask did something
    });
  }

  for (const [rows, classes, eps, soft] of [
    [3, 7, 0, false],
    [4, 10, 0.1, false],
    [2, 5, 0, true],
    [3, 6, 0.1, true],
  ] as const) {
    it(`softmax cross-entropy B=${rows} K=${classes} ε=${eps} ${soft ? 'soft' : 'hard'} targets: dlogits of the mean loss`, () => {
      const logits = Float64Array.from(randomArray(rng, rows * classes, -4, 4));
      const labels = Int32Array.from({ length: rows }, () => randomInt(rng, 0, classes - 1));
      const q = normalizedRows(randomArray(rng, rows * classes, 0, 1), rows, classes);
      const target = soft ? { soft: q } : { labels };
      const meanLoss = () => crossEntropyRef(logits, rows, classes, target, eps).reduce((a, v) => a + v, 0) / rows;
      const fd = fdGrad(logits, meanLoss);
      const analytic = softmaxCrossEntropyBackwardRef(softmaxRef(logits, rows, classes), rows, classes, target, eps);
      assertClose(analytic, fd, FD_TOLERANCE, 'dlogits');
    });
  }
});

/** Each row scaled to sum to 1 (a distribution over the classes). */
function normalizedRows(v: Float32Array, rows: number, classes: number): Float32Array {
  const out = Float32Array.from(v);
  for (let b = 0; b < rows; b++) {
    const s = out.slice(b * classes, (b + 1) * classes).reduce((a, x) => a + x, 0);
    for (let k = 0; k < classes; k++) out[b * classes + k]! /= s;
  }
  return out;
}

/** A [.., cTotal] tensor whose channels offset..offset+c−1 hold `data` ([.., c]) and the others
 * random values, with the view of those channels. */
function embedded(data: ArrayLike<number>, shape: readonly number[], offset: number, cTotal: number): { big: Tensor; view: Tensor } {
  const c = shape[shape.length - 1]!;
  const rows = data.length / c;
  const all = randomArray(rng, rows * cTotal, -9, 9);
  for (let r = 0; r < rows; r++) for (let k = 0; k < c; k++) all[r * cTotal + offset + k] = data[r * c + k]!;
  const big = engine.tensor(all, [...shape.slice(0, -1), cTotal]);
  return { big, view: big.channelView(offset, c) };
}

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
      const { view } = embedded(dy, y.shape, 3, 11);
      const idx = await indices.read();
      assertClose(await maxPool2dBackward(view, indices, shape, options).read(), maxPool2dBackwardRef(dy, idx, xt.size), GPU_TOLERANCE, 'max dx');
      for (const include of [true, false]) {
        const dxAvg = avgPool2dBackward(view, shape, { ...options, countIncludePad: include });
        assertClose(await dxAvg.read(), avgPool2dBackwardRef(dy, shape, g, include), GPU_TOLERANCE, `average dx (include ${include})`);
      }
      const dyGlobal = randomArray(rng, 2 * 5);
      const global = embedded(dyGlobal, [2, 1, 1, 5], 4, 9);
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

describe(`BatchNorm backward kernel vs float64 (seed ${seed})`, () => {
  for (const [shape, relu, withGamma] of [
    [[2, 5, 5, 7], true, true],
    [[2, 5, 5, 7], false, false],
    [[8, 4, 4, 64], true, false], // Inception's convs: BN without γ, then ReLU
    [[8, 4, 4, 64], false, true],
    [[3, 11], true, true], // any rank with channels innermost
    [[1, 1, 3, 5], false, true],
  ] as const) {
    it(`x[${shape.join('×')}]${relu ? ' then ReLU' : ''} ${withGamma ? 'with' : 'without'} γ: dx, dγ, dβ from what the forward saved`, async () => {
      const c = shape[shape.length - 1]!;
      const n = sizeOf(shape);
      const x = randomArray(rng, n, -2, 3);
      const gamma = randomArray(rng, c, 0.5, 1.5);
      const beta = randomArray(rng, c, -0.5, 0.5);
      const dy = randomArray(rng, n);
      await engine.scope(async () => {
        const xt = engine.tensor(x, [...shape]);
        const gt = withGamma ? engine.tensor(gamma) : null;
        const fwd = batchNormTrain(xt, gt, engine.tensor(beta), { relu });
        const [mean, invStd, y] = [await fwd.mean.read(), await fwd.invStd.read(), await fwd.y.read()];
        const got = batchNormTrainBackward(engine.tensor(dy, [...shape]), xt, gt, fwd.mean, fwd.invStd, { relu, y: fwd.y });
        const ref = batchNormTrainBackwardRef(dy, x, c, withGamma ? gamma : null, mean, invStd, relu ? y : null);
        expect(got.dx.shape).toEqual([...shape]);
        assertClose(await got.dx.read(), ref.dx, GPU_TOLERANCE, 'dx');
        assertClose(await got.dgamma.read(), ref.dgamma, GPU_TOLERANCE, 'dγ');
        assertClose(await got.dbeta.read(), ref.dbeta, GPU_TOLERANCE, 'dβ');
      });
    });
  }

  it('dy, x and y as channel views (a branch of a concat): the same results as plain tensors', async () => {
    const shape = [2, 3, 5, 6];
    const n = sizeOf(shape);
    const x = randomArray(rng, n, -2, 2);
    const dy = randomArray(rng, n);
    const gamma = randomArray(rng, 6, 0.5, 1.5);
    await engine.scope(async () => {
      const xs = embedded(x, shape, 2, 9);
      const ys = engine.zeros([2, 3, 5, 13]);
      const yView = ys.channelView(5, 6);
      const gt = engine.tensor(gamma);
      const fwd = batchNormTrain(xs.view, gt, null, { relu: true, out: yView });
      const dys = embedded(dy, shape, 1, 7);
      const viaViews = batchNormTrainBackward(dys.view, xs.view, gt, fwd.mean, fwd.invStd, { relu: true, y: yView });
      const plainY = batchNormTrain(engine.tensor(x, shape), gt, null, { relu: true }).y;
      const plain = batchNormTrainBackward(engine.tensor(dy, shape), engine.tensor(x, shape), gt, fwd.mean, fwd.invStd, { relu: true, y: plainY });
      expect(Array.from(await viaViews.dx.read())).toEqual(Array.from(await plain.dx.read()));
      expect(Array.from(await viaViews.dgamma.read())).toEqual(Array.from(await plain.dgamma.read()));
      expect(Array.from(await viaViews.dbeta.read())).toEqual(Array.from(await plain.dbeta.read()));
      const ref = batchNormTrainBackwardRef(dy, x, 6, gamma, await fwd.mean.read(), await fwd.invStd.read(), await plainY.read());
      assertClose(await viaViews.dx.read(), ref.dx, GPU_TOLERANCE, 'dx');
    });
  });

  it('rejects bad arguments with messages naming the op and the argument', () => {
    engine.scope(() => {
      const x = engine.zeros([2, 3, 3, 4]);
      const v = engine.zeros([4]);
      expectInvalid(() => batchNormTrainBackward(x, x, null, v, v, { relu: true }), /batchNormTrainBackward: relu needs the forward output y/);
      expectInvalid(() => batchNormTrainBackward(engine.zeros([2, 3, 3, 5]), x, null, v, v), /batchNormTrainBackward: dy must have x's shape \[2, 3, 3, 4\]/);
      expectInvalid(() => batchNormTrainBackward(x, x, null, engine.zeros([3]), v), /batchNormTrainBackward: mean must have 4 elements/);
      expectInvalid(() => batchNormTrainBackward(x, x, engine.zeros([5]), v, v), /batchNormTrainBackward: gamma must have 4 elements/);
      expectInvalid(() => batchNormTrainBackward(x, x, engine.zeros([8]).channelView(0, 4), v, v), /batchNormTrainBackward: gamma is .*a channel view/);
      expectInvalid(() => batchNormTrainBackward(x, x, null, v, engine.zeros([4], 'i32')), /batchNormTrainBackward: invStd must be f32/);
      expectInvalid(
        () => batchNormTrainBackward(x, x, null, v, v, { relu: true, y: engine.zeros([2, 3, 3, 3]) }),
        /batchNormTrainBackward: y must have x's shape/,
      );
      expectInvalid(() => batchNormTrainBackward(x, x, null, v, v, { relu: 1 as unknown as boolean }), /batchNormTrainBackward: relu must be a boolean/);
    });
  });
});

describe(`softmax cross-entropy backward kernel vs float64 (seed ${seed})`, () => {
  for (const [rows, classes, eps, soft, scale] of [
    [8, 1000, 0.1, false, undefined], // ImageNet-sized, Inception's smoothing
    [8, 1000, 0, true, undefined],
    [3, 7, 0, false, 1], // the summed loss
    [5, 13, 0.2, true, 0.37],
  ] as const) {
    it(`B=${rows} K=${classes} ε=${eps} ${soft ? 'soft' : 'hard'} targets, scale ${scale ?? '1/B'}: (p − q′)·scale`, async () => {
      const logits = randomArray(rng, rows * classes, -5, 5);
      const labels = Int32Array.from({ length: rows }, () => randomInt(rng, 0, classes - 1));
      const q = normalizedRows(randomArray(rng, rows * classes, 0, 1), rows, classes);
      await engine.scope(async () => {
        const targets = soft ? engine.tensor(q, [rows, classes]) : engine.tensor(labels, [rows], 'i32');
        const { probabilities } = crossEntropyOp(engine.tensor(logits, [rows, classes]), targets, { labelSmoothing: eps });
        const p = await probabilities.read();
        const g = softmaxCrossEntropyBackward(probabilities, targets, { labelSmoothing: eps, ...(scale !== undefined ? { scale } : {}) });
        const ref = softmaxCrossEntropyBackwardRef(p, rows, classes, soft ? { soft: q } : { labels }, eps, scale ?? 1 / rows);
        assertClose(await g.read(), ref, GPU_TOLERANCE, 'dlogits');
      });
    });
  }

  it('rejects bad arguments with messages naming the op and the argument', () => {
    engine.scope(() => {
      const p = engine.zeros([4, 6]);
      expectInvalid(() => softmaxCrossEntropyBackward(p, engine.zeros([5], 'i32')), /softmaxCrossEntropyBackward: labels must be i32 \[4\]/);
      expectInvalid(
        () => softmaxCrossEntropyBackward(p, engine.zeros([4, 5])),
        /softmaxCrossEntropyBackward: targets must be i32 labels \[4\] or f32 soft targets \[4, 6\]/,
      );
      expectInvalid(
        () => softmaxCrossEntropyBackward(p, engine.zeros([4], 'i32'), { labelSmoothing: 1 }),
        /softmaxCrossEntropyBackward: labelSmoothing must be a number in \[0, 1\)/,
      );
      expectInvalid(
        () => softmaxCrossEntropyBackward(p, engine.zeros([4], 'i32'), { scale: Number.NaN }),
        /softmaxCrossEntropyBackward: scale must be a finite number/,
      );
      expectInvalid(
        () => softmaxCrossEntropyBackward(engine.zeros([4, 6, 1]), engine.zeros([4], 'i32')),
        /softmaxCrossEntropyBackward: probabilities must be \[batch, classes\]/,
      );
      expectInvalid(
        () => softmaxCrossEntropyBackward(engine.zeros([4, 12]).channelView(0, 6), engine.zeros([4], 'i32')),
        /softmaxCrossEntropyBackward: probabilities is .*a channel view/,
      );
    });
  });
});

describe(`BatchNorm backward through the tape (seed ${seed})`, () => {
  for (const [shape, relu, withGamma] of [
    [[2, 3, 3, 5], true, true],
    [[1, 4, 5, 3], false, true],
    [[3, 2, 2, 4], true, false],
  ] as const) {
    it(`x[${shape.join('×')}] relu=${relu} γ=${withGamma}: taped gradients match finite differences`, async () => {
      const c = shape[3];
      const n = (shape as readonly number[]).reduce((a, b) => a * b, 1);
      const x = Float64Array.from(randomArray(rng, n, -2, 2));
      const gamma = Float64Array.from(randomArray(rng, c, 0.5, 1.5));
      const beta = Float64Array.from(randomArray(rng, c, -0.3, 0.3));
      const r = Float64Array.from(randomArray(rng, n));
      const f = () => {
        const st = batchNormStatisticsRef(x, c);
        const y = batchNormRef(x, c, withGamma ? gamma : null, beta, st.mean, st.variance, 1e-3, relu);
        let total = 0;
        for (let i = 0; i < n; i++) total += y[i]! * r[i]!;
        return total / n;
      };
      // Keep ReLU inputs away from the kink, where finite differences are meaningless.
      if (relu) {
        const st = batchNormStatisticsRef(x, c);
        const pre = batchNormRef(x, c, withGamma ? gamma : null, beta, st.mean, st.variance, 1e-3, false);
        for (let i = 0; i < n; i++) if (Math.abs(pre[i]!) < 1e-3) beta[i % c]! += 0.01;
      }
      const fx = fdGrad(x, f);
      const fg = fdGrad(gamma, f);
      const fb = fdGrad(beta, f);
      await engine.scope(async () => {
        const tape = new Tape(engine);
        const xt = tape.param(engine.tensor(Float32Array.from(x), [...shape]));
        const gt = withGamma ? tape.param(engine.tensor(Float32Array.from(gamma))) : null;
        const bt = tape.param(engine.tensor(Float32Array.from(beta)));
        const y = ag.batchNormTrain(tape, xt, gt, bt, { relu });
        const loss = ag.mean(tape, ag.mul(tape, y, engine.tensor(Float32Array.from(r), [...shape])));
        assertClose(await loss.read(), [f()], 1e-5, 'loss');
        tape.backward(loss);
        assertClose(await tape.grad(xt)!.read(), fx, 1e-4, 'dx');
        if (gt) assertClose(await tape.grad(gt)!.read(), fg, 1e-4, 'dγ');
        assertClose(await tape.grad(bt)!.read(), fb, 1e-4, 'dβ');
        tape.dispose();
      });
    });
  }
});

describe(`softmax cross-entropy backward through the tape (seed ${seed})`, () => {
  for (const [rows, classes, eps, soft] of [
    [3, 7, 0, false],
    [4, 10, 0.1, false],
    [2, 5, 0.1, true],
  ] as const) {
    it(`B=${rows} K=${classes} ε=${eps} ${soft ? 'soft' : 'hard'} targets: taped gradient matches finite differences`, async () => {
      const logits = Float64Array.from(randomArray(rng, rows * classes, -4, 4));
      const labels = Array.from({ length: rows }, () => randomInt(rng, 0, classes - 1));
      const q = Float32Array.from(randomArray(rng, rows * classes, 0, 1));
      for (let b = 0; b < rows; b++) {
        const s = q.slice(b * classes, (b + 1) * classes).reduce((a, v) => a + v, 0);
        for (let k = 0; k < classes; k++) q[b * classes + k]! /= s;
      }
      const target = soft ? { soft: q } : { labels };
      const f = () => crossEntropyRef(logits, rows, classes, target, eps).reduce((a, v) => a + v, 0) / rows;
      const fd = fdGrad(logits, f);
      await engine.scope(async () => {
        const tape = new Tape(engine);
        const lt = tape.param(engine.tensor(Float32Array.from(logits), [rows, classes]));
        const loss = ag.softmaxCrossEntropy(tape, lt, soft ? engine.tensor(q, [rows, classes]) : labels, { labelSmoothing: eps });
        assertClose(await loss.read(), [f()], 1e-5, 'mean loss');
        tape.backward(loss);
        assertClose(await tape.grad(lt)!.read(), fd, 1e-4, 'dlogits');
        tape.dispose();
      });
    });
  }
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

describe(`conv with bias, scale/shift and ReLU in the write-out (seed ${seed})`, () => {
  it('taped gradients of x, w, bias, scale and shift match finite differences', async () => {
    const xs: [number, number, number, number] = [2, 5, 4, 3];
    const ws: [number, number, number, number] = [3, 2, 3, 4];
    const x = Float64Array.from(randomArray(rng, 120));
    const w = Float64Array.from(randomArray(rng, 72, -0.5, 0.5));
    const bias = Float64Array.from(randomArray(rng, 4, -0.2, 0.2));
    const scale = Float64Array.from(randomArray(rng, 4, 0.5, 1.5));
    const shift = Float64Array.from(randomArray(rng, 4, -0.2, 0.2));
    const geo = { strideH: 2, strideW: 1, padTop: 1, padBottom: 1, padLeft: 1, padRight: 0 };
    const forwardRef = () => {
      const acc = conv2dRef(x, xs, w, ws, geo, bias);
      return acc.out.map((v, i) => Math.max(0, v * scale[i % 4]! + shift[i % 4]!));
    };
    const outLen = forwardRef().length;
    const r = Float64Array.from(randomArray(rng, outLen));
    const f = () => forwardRef().reduce((a, v, i) => a + v * r[i]!, 0) / outLen;
    const grads = { x: fdGrad(x, f), w: fdGrad(w, f), bias: fdGrad(bias, f), scale: fdGrad(scale, f), shift: fdGrad(shift, f) };
    await engine.scope(async () => {
      const tape = new Tape(engine);
      const t = {
        x: tape.param(engine.tensor(Float32Array.from(x), xs)),
        w: tape.param(engine.tensor(Float32Array.from(w), ws)),
        bias: tape.param(engine.tensor(Float32Array.from(bias))),
        scale: tape.param(engine.tensor(Float32Array.from(scale))),
        shift: tape.param(engine.tensor(Float32Array.from(shift))),
      };
      const y = ag.conv2d(tape, t.x, t.w, { stride: [2, 1], padding: [1, 1, 1, 0], bias: t.bias, scale: t.scale, shift: t.shift, relu: true });
      const loss = ag.mean(tape, ag.mul(tape, y, engine.tensor(Float32Array.from(r), y.shape)));
      assertClose(await loss.read(), [f()], 1e-5, 'loss');
      tape.backward(loss);
      for (const key of Object.keys(t) as (keyof typeof t)[]) assertClose(await tape.grad(t[key])!.read(), grads[key], 1e-4, `d/d${key}`);
      tape.dispose();
    });
  });
});
