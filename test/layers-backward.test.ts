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
import { globalAvgPoolRef, pool2dRef } from './reference/pool2d.js';
import { conv2dRef } from './reference/conv2d.js';

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

describe(`pooling backward (seed ${seed})`, () => {
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
        const y = c.kind === 'max' ? ag.maxPool2d(tape, xt, opts) : c.kind === 'avg' ? ag.avgPool2d(tape, xt, { ...opts, countIncludePad: c.include }) : ag.globalAvgPool(tape, xt);
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
