/**
 * The autograd tape: gradients through a graph with fan-out, checked against central finite
 * differences of a float64 reference of the same function; accumulation across backward calls;
 * no-grad mode; and memory back to its baseline after backward and disposal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import type { Tensor } from '../src/runtime/tensor.js';
import { Tape } from '../src/autograd/tape.js';
import * as ag from '../src/autograd/functions.js';
import { testEngine } from './support/engine.js';
import { assertClose } from './support/compare.js';
import { freshSeed, makeRng, randomArray } from './support/random.js';
import { dropoutMaskRef } from './reference/dropout.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const seed = freshSeed();
const rng = makeRng(seed);
const C = 4;

interface Params {
  x: Float64Array;
  w: Float64Array;
  b: Float64Array;
  g: Float64Array;
  h: Float64Array;
}

/**
 * The float64 reference of the graph under test (channels innermost, C per row):
 * a = x·w; s = a + b; p = relu(a)·s; d = relu(p·g + h); loss = mean(d). `a` feeds two ops.
 */
function lossRef(q: Params): number {
  let total = 0;
  for (let i = 0; i < q.x.length; i++) {
    const c = i % C;
    const a = q.x[i]! * q.w[c]!;
    const p = Math.max(0, a) * (a + q.b[c]!);
    total += Math.max(0, p * q.g[c]! + q.h[c]!);
  }
  return total / q.x.length;
}

/** Central differences of lossRef with respect to every element of every parameter. */
function finiteDifferences(q: Params, step = 1e-6): Params {
  const out = {} as Params;
  for (const key of Object.keys(q) as (keyof Params)[]) {
    const v = q[key];
    const d = new Float64Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const keep = v[i]!;
      v[i] = keep + step;
      const up = lossRef(q);
      v[i] = keep - step;
      const down = lossRef(q);
      v[i] = keep;
      d[i] = (up - down) / (2 * step);
    }
    out[key] = d;
  }
  return out;
}

/** Random float32 parameters whose ReLU inputs stay away from the kink (finite differences
 * across it would be meaningless). */
function drawParams(rows: number): Params {
  for (;;) {
    const f = (n: number, lo: number, hi: number) => Float64Array.from(randomArray(rng, n, lo, hi));
    const q: Params = { x: f(rows * C, -1, 1), w: f(C, -1.5, 1.5), b: f(C, -0.5, 0.5), g: f(C, 0.5, 1.5), h: f(C, -0.2, 0.2) };
    let ok = true;
    for (let i = 0; i < q.x.length && ok; i++) {
      const c = i % C;
      const a = q.x[i]! * q.w[c]!;
      const p = Math.max(0, a) * (a + q.b[c]!);
      if (Math.abs(a) < 1e-3 || Math.abs(p * q.g[c]! + q.h[c]!) < 1e-3) ok = false;
    }
    if (ok) return q;
  }
}

function forward(tape: Tape, t: Record<keyof Params, Tensor>): Tensor {
  const a = ag.mul(tape, t.x, t.w);
  const s = ag.add(tape, a, t.b);
  const p = ag.mul(tape, ag.relu(tape, a), s);
  const d = ag.scaleShift(tape, p, t.g, t.h, { relu: true });
  return ag.mean(tape, d);
}

describe(`autograd tape (seed ${seed})`, () => {
  it('gradients through a graph with fan-out match float64 finite differences', async () => {
    const rows = 6;
    const q = drawParams(rows);
    const fd = finiteDifferences(q);
    await engine.scope(async () => {
      const tape = new Tape(engine);
      const t = {
        x: tape.param(engine.tensor(Float32Array.from(q.x), [rows, C])),
        w: tape.param(engine.tensor(Float32Array.from(q.w))),
        b: tape.param(engine.tensor(Float32Array.from(q.b))),
        g: tape.param(engine.tensor(Float32Array.from(q.g))),
        h: tape.param(engine.tensor(Float32Array.from(q.h))),
      };
      const loss = forward(tape, t);
      assertClose(await loss.read(), [lossRef(q)], 1e-6, 'loss');
      tape.backward(loss);
      expect(tape.size).toBe(0);
      for (const key of Object.keys(t) as (keyof Params)[]) {
        assertClose(await tape.grad(t[key])!.read(), fd[key], 1e-4, `d loss / d ${key}`);
      }
      tape.dispose();
    });
  });

  it('gradients add up over backward calls until zeroGrad; no-grad records nothing', async () => {
    const q = drawParams(3);
    const fd = finiteDifferences(q);
    await engine.scope(async () => {
      const tape = new Tape(engine);
      const t = {
        x: tape.param(engine.tensor(Float32Array.from(q.x), [3, C])),
        w: tape.param(engine.tensor(Float32Array.from(q.w))),
        b: tape.param(engine.tensor(Float32Array.from(q.b))),
        g: tape.param(engine.tensor(Float32Array.from(q.g))),
        h: tape.param(engine.tensor(Float32Array.from(q.h))),
      };
      tape.backward(forward(tape, t));
      tape.backward(forward(tape, t));
      assertClose(await tape.grad(t.w)!.read(), fd.w.map((v) => 2 * v), 1e-4, 'twice the gradient after two backward calls');
      tape.zeroGrad();
      expect(tape.grad(t.w)).toBeUndefined();
      tape.noGrad(() => forward(tape, t));
      expect(tape.size).toBe(0);
      tape.backward(forward(tape, t));
      assertClose(await tape.grad(t.h)!.read(), fd.h, 1e-4, 'after zeroGrad, one backward');
      tape.dispose();
    });
  });

  it('dropout backward regenerates the forward mask', async () => {
    const n = 1001;
    const x = randomArray(rng, n);
    const mask = dropoutMaskRef(n, 0.4, 77);
    await engine.scope(async () => {
      const tape = new Tape(engine);
      const xt = tape.param(engine.tensor(x));
      tape.backward(ag.sum(tape, ag.dropout(tape, xt, { rate: 0.4, seed: 77 })));
      assertClose(await tape.grad(xt)!.read(), Array.from(mask, (m) => (m ? 1 / 0.6 : 0)), 1e-6, 'd sum(dropout(x)) / dx');
      tape.dispose();
    });
  });

  it('leaves no live tensors behind: memory returns to its baseline', async () => {
    const q = drawParams(64);
    const tape = new Tape(engine);
    const t = {
      x: tape.param(engine.keep(engine.tensor(Float32Array.from(q.x), [64, C]))),
      w: tape.param(engine.keep(engine.tensor(Float32Array.from(q.w)))),
      b: tape.param(engine.keep(engine.tensor(Float32Array.from(q.b)))),
      g: tape.param(engine.keep(engine.tensor(Float32Array.from(q.g)))),
      h: tape.param(engine.keep(engine.tensor(Float32Array.from(q.h)))),
    };
    await engine.sync();
    const baseline = engine.memory();
    for (let step = 0; step < 3; step++) {
      engine.scope(() => tape.backward(forward(tape, t)));
      tape.zeroGrad();
    }
    await engine.sync();
    const after = engine.memory();
    expect(after.liveBytes).toBe(baseline.liveBytes);
    expect(after.liveBuffers).toBe(baseline.liveBuffers);
    tape.dispose();
    for (const p of Object.values(t)) p.dispose();
  });

  it('refuses a loss that does not depend on parameters, or one with many elements', () => {
    engine.scope(() => {
      const tape = new Tape(engine);
      const p = tape.param(engine.zeros([3]));
      expect(() => tape.backward(engine.zeros([1]))).toThrow(/does not depend on any parameter/);
      expect(() => tape.backward(ag.relu(tape, p))).toThrow(/has 3 elements; pass dLoss/);
      expect(() => tape.grad(engine.zeros([1]))).toThrow(/is not a parameter of this tape/);
      tape.dispose();
    });
  });
});
