/** Inception-v3's loss (src/nn/loss.ts): label-smoothed cross-entropy + 0.4 × the aux head's, and its gradients, against float64. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { Tape } from '../src/autograd/tape.js';
import { inceptionLoss } from '../src/nn/loss.js';
import { crossEntropyRef, softmaxRef } from './reference/softmax.js';
import { assertClose } from './support/compare.js';
import { testEngine } from './support/engine.js';
import { freshSeed, makeRng, randomArray } from './support/random.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const mean = (v: Float64Array) => v.reduce((a, b) => a + b, 0) / v.length;

/** d(mean smoothed CE)/d logits = (p − q')/B. */
function gradRef(logits: Float32Array, labels: number[], classes: number, eps: number, weight: number): Float64Array {
  const b = labels.length;
  const p = softmaxRef(logits, b, classes);
  return Float64Array.from(p, (v, i) => {
    const q = (1 - eps) * (labels[Math.floor(i / classes)] === i % classes ? 1 : 0) + eps / classes;
    return (weight * (v - q)) / b;
  });
}

describe('inceptionLoss', () => {
  const seed = freshSeed();
  for (const [b, k, eps, auxWeight] of [
    [3, 10, 0.1, 0.4],
    [1, 1001, 0, 0.4],
    [5, 7, 0.2, 1],
  ] as const) {
    it(`B ${b}, ${k} classes, ε ${eps}, aux weight ${auxWeight} (seed ${seed})`, async () => {
      const rng = makeRng(seed + k);
      const logits = randomArray(rng, b * k, -4, 4);
      const aux = randomArray(rng, b * k, -4, 4);
      const labels = Array.from({ length: b }, () => Math.floor(rng() * k));
      const tape = new Tape(engine);
      try {
        const [total, main, auxLoss, dLogits, dAux] = await engine.scope(async () => {
          const l = tape.param(engine.tensor(logits, [b, k]));
          const a = tape.param(engine.tensor(aux, [b, k]));
          const loss = inceptionLoss(tape, { logits: l, auxLogits: a }, labels, { labelSmoothing: eps, auxWeight });
          tape.backward(loss.total);
          return Promise.all([loss.total.read(), loss.main.read(), loss.aux!.read(), tape.grad(l)!.read(), tape.grad(a)!.read()]);
        });
        const mainRef = mean(crossEntropyRef(logits, b, k, { labels }, eps));
        const auxRef = mean(crossEntropyRef(aux, b, k, { labels }, eps));
        assertClose(main!, [mainRef], 1e-5, 'main loss');
        assertClose(auxLoss!, [auxRef], 1e-5, 'aux loss');
        assertClose(total!, [mainRef + auxWeight * auxRef], 1e-5, 'total loss');
        assertClose(dLogits!, gradRef(logits, labels, k, eps, 1), 1e-5, 'd total / d logits');
        assertClose(dAux!, gradRef(aux, labels, k, eps, auxWeight), 1e-5, 'd total / d aux logits');
      } finally {
        tape.dispose();
      }
    });
  }

  it('without an aux head (or weight 0) the total is the main loss; a bad weight is refused by name', () => {
    const tape = new Tape(engine);
    try {
      engine.scope(() => {
        const l = tape.param(engine.zeros([2, 3]));
        const only = inceptionLoss(tape, { logits: l }, [0, 1]);
        expect(only.total).toBe(only.main);
        expect(only.aux).toBeUndefined();
        expect(() => inceptionLoss(tape, { logits: l, auxLogits: l }, [0, 1], { auxWeight: -1 })).toThrow(/auxWeight must be a finite number/);
      });
    } finally {
      tape.dispose();
    }
  });
});
