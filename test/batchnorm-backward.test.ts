/**
 * Backward of training-mode BatchNorm (with ReLU fused), in three layers of checks:
 *   1. the float64 analytic backward (test/reference/batchnorm-backward.ts) against central
 *      finite differences of the float64 forward reference, relative error ≤ 1e-6;
 *   2. the GPU kernels against that analytic backward, fed the statistics the GPU forward saved,
 *      relative error ≤ 1e-5, on odd and Inception-like shapes, with channel views and errors;
 *   3. through the tape against finite differences (float32 end to end, ≤ 1e-4).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { Tape } from '../src/autograd/tape.js';
import * as ag from '../src/autograd/functions.js';
import { batchNormTrain } from '../src/ops/batchnorm.js';
import { batchNormTrainBackward } from '../src/ops/batchnorm-backward.js';
import { testEngine } from './support/engine.js';
import { assertClose } from './support/compare.js';
import { dot, embedded, expectInvalid, fdGrad, sizeOf } from './support/gradients.js';
import { freshSeed, makeRng, randomArray } from './support/random.js';
import { batchNormRef, batchNormStatisticsRef } from './reference/batchnorm.js';
import { batchNormTrainBackwardRef } from './reference/batchnorm-backward.js';

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

/** Batch statistics of x as the GPU forward saves them: mean and 1/√(σ² + eps). */
function statsOf(x: ArrayLike<number>, c: number, eps: number): { mean: Float64Array; variance: Float64Array; invStd: Float64Array } {
  const { mean, variance } = batchNormStatisticsRef(x, c);
  return { mean, variance, invStd: Float64Array.from(variance, (v) => 1 / Math.sqrt(v + eps)) };
}

describe(`analytic backward vs finite differences, float64 (seed ${seed})`, () => {
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
      const xs = embedded(engine, rng, x, shape, 2, 9);
      const ys = engine.zeros([2, 3, 5, 13]);
      const yView = ys.channelView(5, 6);
      const gt = engine.tensor(gamma);
      const fwd = batchNormTrain(xs.view, gt, null, { relu: true, out: yView });
      const dys = embedded(engine, rng, dy, shape, 1, 7);
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
