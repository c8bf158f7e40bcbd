/**
 * Backward of softmax cross-entropy with label smoothing, in three layers of checks:
 *   1. the float64 analytic backward (test/reference/softmax-backward.ts) against central finite
 *      differences of the float64 forward reference, relative error ≤ 1e-6;
 *   2. the GPU kernel against that analytic backward, fed the probabilities the GPU forward
 *      saved, relative error ≤ 1e-5, with hard and soft targets and errors;
 *   3. through the tape against finite differences (float32 end to end, ≤ 1e-4).
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { Tape } from '../src/autograd/tape.js';
import * as ag from '../src/autograd/functions.js';
import { softmaxCrossEntropy as crossEntropyOp } from '../src/ops/softmax.js';
import { softmaxCrossEntropyBackward } from '../src/ops/softmax-backward.js';
import { testEngine } from './support/engine.js';
import { assertClose } from './support/compare.js';
import { expectInvalid, fdGrad } from './support/gradients.js';
import { freshSeed, makeRng, randomArray, randomInt } from './support/random.js';
import { crossEntropyRef, softmaxRef } from './reference/softmax.js';
import { softmaxCrossEntropyBackwardRef } from './reference/softmax-backward.js';

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

describe(`analytic backward vs finite differences, float64 (seed ${seed})`, () => {
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
