/**
 * Inception-v3's training graph on the tape: a step at 299×299 with the aux head (batch 1, the
 * aux head's 1×1 BatchNorm then sees one value per channel), gradients for every parameter, the
 * running statistics of the first BatchNorm against float64, and the tape leaving no tensors
 * behind. The gradients themselves are checked by finite differences per op and through whole
 * modules in test/{pool2d,batchnorm,softmax,conv2d}-backward.test.ts and test/autograd-module.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { InceptionV3 } from '../src/models/inception-v3.js';
import { Tape } from '../src/autograd/tape.js';
import * as ag from '../src/autograd/functions.js';
import { inceptionLoss } from '../src/nn/loss.js';
import type { Tensor } from '../src/runtime/tensor.js';
import { conv2dRef } from './reference/conv2d.js';
import { batchNormStatisticsRef, runningUpdateRef } from './reference/batchnorm.js';
import { assertClose } from './support/compare.js';
import { testEngine } from './support/engine.js';
import { freshSeed, makeRng, randomArray } from './support/random.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const seed = freshSeed();

/** Mean cross-entropy of the logits plus 0.4 × the aux head's, as the TensorFlow code weighs them. */
const loss = (tape: Tape, out: { logits: Tensor; auxLogits?: Tensor }, labels: number[]) => inceptionLoss(tape, out, labels).total;

describe(`Inception-v3 training graph (seed ${seed})`, () => {
  for (const batch of [1, 2]) {
    it(`runs a step at 299×299 with the aux head at batch ${batch}: finite loss, a finite ${batch > 1 ? 'non-zero ' : ''}gradient for every parameter, nothing left behind`, async () => {
      const model = new InceptionV3(engine, { seed });
      const tape = new Tape(engine);
      try {
        expect(model.hasAux).toBe(true);
        const baseline = engine.memory();
        const { lossValue, grads } = await engine.scope(async () => {
          const x = engine.randomNormal([batch, 299, 299, 3], { seed: seed + 1 });
          const out = model.forwardTrain(tape, x, { dropoutSeed: seed });
          expect(out.logits.shape).toEqual([batch, 1000]);
          expect(out.auxLogits!.shape).toEqual([batch, 1000]);
          const l = loss(tape, out, batch === 1 ? [seed % 1000] : [seed % 1000, (seed + 1) % 1000]);
          tape.backward(l);
          const lossValue = (await l.read())[0]!;
          const grads = new Map<string, Float32Array>();
          for (const [name, p] of model.parameters()) grads.set(name, (await tape.grad(p)!.read()) as Float32Array);
          return { lossValue, grads };
        });
        expect(Number.isFinite(lossValue)).toBe(true);
        // Untrained logits are near-uniform: the loss starts close to ln(1000) (+ 0.4·ln 1000).
        expect(lossValue).toBeGreaterThan(0.5 * Math.log(1000));
        expect(lossValue).toBeLessThan(3 * Math.log(1000));
        expect(grads.size).toBe(model.parameters().size);
        const dead: string[] = [];
        for (const [name, g] of grads) {
          expect(g.every(Number.isFinite), `${name} gradient finite`).toBe(true);
          // β of a BatchNorm whose ReLU output is all zero can get no gradient at all; weights must.
          if (!name.endsWith('.bn.bias') && g.every((v) => v === 0)) dead.push(name);
        }
        // At batch 1 the aux head's BatchNorm after its 1×1-map conv normalises a single value per
        // channel to 0 (β after ReLU), so nothing flows into the aux head's earlier layers; from
        // batch 2 on every weight gets a gradient.
        if (batch > 1) expect(dead, 'parameters whose gradient is all zero').toEqual([]);
        else
          expect(
            dead.every((name) => name.startsWith('AuxLogits.')),
            `dead outside the aux head: ${dead.join(', ')}`,
          ).toBe(true);
        tape.zeroGrad();
        const after = engine.memory();
        expect(after.liveBytes).toBe(baseline.liveBytes);
        expect(after.liveBuffers).toBe(baseline.liveBuffers);
      } finally {
        tape.dispose();
        model.dispose();
      }
    });
  }

  it('updates the running statistics (PyTorch momentum 0.1, unbiased variance) and its first BatchNorm matches float64', async () => {
    const model = new InceptionV3(engine, { seed, inputSize: 75, auxLogits: false });
    const tape = new Tape(engine);
    try {
      const rng = makeRng(seed);
      const shape = [2, 75, 75, 3] as const;
      const x = randomArray(rng, 2 * 75 * 75 * 3);
      const [w, rm, rv] = await engine.scope(async () => {
        const out = model.forwardTrain(tape, engine.tensor(x, [...shape]), { dropoutSeed: 1 });
        tape.backward(ag.mean(tape, out.logits));
        tape.zeroGrad();
        const p = model.convs.get('Conv2d_1a_3x3')!;
        return Promise.all([p.w.read(), p.runningMean!.read(), p.runningVar!.read()]);
      });
      const conv = conv2dRef(x, shape, w!, [3, 3, 3, 32], { strideH: 2, strideW: 2, padTop: 0, padBottom: 0, padLeft: 0, padRight: 0 });
      const batch = batchNormStatisticsRef(conv.out, 32);
      const count = conv.out.length / 32;
      const ref = runningUpdateRef({ mean: new Float64Array(32), variance: new Float64Array(32).fill(1) }, batch, count, 'pytorch', 0.1, true);
      assertClose(rm!, ref.mean, 1e-4, 'running mean of Conv2d_1a_3x3.bn');
      assertClose(rv!, ref.variance, 1e-4, 'running variance of Conv2d_1a_3x3.bn');
    } finally {
      tape.dispose();
      model.dispose();
    }
  });

  it("trains the paper's aux head without BatchNorm (Table 3): its convs' biases get gradients", async () => {
    const model = new InceptionV3(engine, { seed, auxBatchNorm: false });
    const tape = new Tape(engine);
    try {
      const p = model.convs.get('AuxLogits.conv1')!;
      expect(p.gamma).toBeUndefined();
      expect(model.parameters().has('AuxLogits.conv1.conv.bias')).toBe(true);
      const [lossValue, db] = await engine.scope(async () => {
        const out = model.forwardTrain(tape, engine.randomNormal([2, 299, 299, 3], { seed: seed + 3 }), { dropoutSeed: seed });
        const l = loss(tape, out, [1, 2]);
        tape.backward(l);
        return Promise.all([l.read(), tape.grad(p.bias!)!.read()]);
      });
      tape.zeroGrad();
      expect(Number.isFinite(lossValue![0])).toBe(true);
      expect(db!.every(Number.isFinite)).toBe(true);
      expect(db!.some((v) => v !== 0)).toBe(true);
    } finally {
      tape.dispose();
      model.dispose();
    }
  });

  it('trains the CIFAR-10 variant (width 0.25, aux head, asymmetric same padding) at batch 4', async () => {
    const model = new InceptionV3(engine, { seed, variant: 'cifar10', width: 0.25 });
    const tape = new Tape(engine);
    try {
      expect(model.inputSize).toBe(32);
      const { lossValue, dead } = await engine.scope(async () => {
        const out = model.forwardTrain(tape, engine.randomNormal([4, 32, 32, 3], { seed: seed + 4 }), { dropoutSeed: seed });
        expect(out.logits.shape).toEqual([4, 10]);
        expect(out.auxLogits!.shape).toEqual([4, 10]);
        const l = loss(tape, out, [0, 3, 9, 3]);
        tape.backward(l);
        const dead: string[] = [];
        for (const [name, p] of model.parameters()) {
          const g = await tape.grad(p)!.read();
          expect(g.every(Number.isFinite), name).toBe(true);
          if (!name.endsWith('.bn.bias') && g.every((v) => v === 0)) dead.push(name);
        }
        return { lossValue: (await l.read())[0]!, dead };
      });
      tape.zeroGrad();
      expect(Number.isFinite(lossValue)).toBe(true);
      expect(dead).toEqual([]);
    } finally {
      tape.dispose();
      model.dispose();
    }
  });

  it('rejects an input of the wrong size, naming what it needs', () => {
    const model = new InceptionV3(engine, { seed, inputSize: 75, auxLogits: false });
    const tape = new Tape(engine);
    try {
      engine.scope(() => {
        expect(() => model.forwardTrain(tape, engine.zeros([1, 80, 80, 3]))).toThrow(/forwardTrain: x must be f32 \[N, 75, 75, 3\]/);
        expect(() => model.forward(engine.zeros([1, 75, 75, 4]))).toThrow(/forward: x must be f32 \[N, 75, 75, 3\]/);
      });
    } finally {
      tape.dispose();
      model.dispose();
    }
  });
});
