/**
 * Backward of BatchNorm (training, with ReLU fused) and of softmax cross-entropy with label
 * smoothing: through the tape against central finite differences of the float64 forward
 * references, and the kernels directly against the float64 analytic gradients.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { Tape } from '../src/autograd/tape.js';
import * as ag from '../src/autograd/functions.js';
import { softmaxCrossEntropyBackward } from '../src/ops/softmax-backward.js';
import { testEngine } from './support/engine.js';
import { assertClose } from './support/compare.js';
import { freshSeed, makeRng, randomArray, randomInt } from './support/random.js';
import { batchNormRef, batchNormStatisticsRef } from './reference/batchnorm.js';
import { crossEntropyRef, softmaxRef } from './reference/softmax.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const seed = freshSeed();
const rng = makeRng(seed);

/** Central differences of f with respect to every element of v (changed and restored in place). */
function fdGrad(v: Float64Array, f: () => number, step = 1e-6): Float64Array {
  return v.map((keep, i) => {
    v[i] = keep + step;
    const up = f();
    v[i] = keep - step;
    const down = f();
    v[i] = keep;
    return (up - down) / (2 * step);
  });
}

describe(`BatchNorm backward (seed ${seed})`, () => {
  for (const [shape, relu, withGamma] of [[[2, 3, 3, 5], true, true], [[1, 4, 5, 3], false, true], [[3, 2, 2, 4], true, false]] as const) {
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

describe(`softmax cross-entropy backward (seed ${seed})`, () => {
  for (const [rows, classes, eps, soft] of [[3, 7, 0, false], [4, 10, 0.1, false], [2, 5, 0.1, true]] as const) {
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

  it('the kernel alone: (p − q′)/B at B=8, K=1000 against float64', async () => {
    const [rows, classes, eps] = [8, 1000, 0.1];
    const logits = randomArray(rng, rows * classes, -5, 5);
    const labels = Int32Array.from({ length: rows }, () => randomInt(rng, 0, classes - 1));
    const p = softmaxRef(logits, rows, classes);
    const ref = p.map((v, i) => (v - ((1 - eps) * (labels[Math.floor(i / classes)] === i % classes ? 1 : 0) + eps / classes)) / rows);
    await engine.scope(async () => {
      const g = softmaxCrossEntropyBackward(engine.tensor(Float32Array.from(p), [rows, classes]), engine.tensor(labels, [rows], 'i32'), { labelSmoothing: eps });
      assertClose(await g.read(), ref, 1e-5, 'dlogits');
      expect(() => softmaxCrossEntropyBackward(engine.zeros([rows, classes]), engine.zeros([rows + 1], 'i32'))).toThrow(/labels must be i32 \[8\]/);
    });
  });
});
