/**
 * The taped conv2d with bias, a scale/shift (BatchNorm folded, or learned) and ReLU in its
 * write-out: with gradients wanted, src/autograd/conv2d.ts splits the epilogue off into a taped
 * scaleShift, and the gradients of all five operands must still match finite differences of
 * the float64 reference. The conv backward kernels themselves are in conv2d-backward.test.ts.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { Tape } from '../src/autograd/tape.js';
import * as ag from '../src/autograd/functions.js';
import { testEngine } from './support/engine.js';
import { assertClose } from './support/compare.js';
import { fdGrad } from './support/gradients.js';
import { freshSeed, makeRng, randomArray } from './support/random.js';
import { conv2dRef } from './reference/conv2d.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const seed = freshSeed();
const rng = makeRng(seed);

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
