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
      assertClose(
        await tape.grad(t.w)!.read(),
        fd.w.map((v) => 2 * v),
        1e-4,
        'twice the gradient after two backward calls',
      );
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
      assertClose(
        await tape.grad(xt)!.read(),
        Array.from(mask, (m) => (m ? 1 / 0.6 : 0)),
        1e-6,
        'd sum(dropout(x)) / dx',
      );
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

  it('linear (with ReLU) and a zero-copy concat of two branches match finite differences', async () => {
    // x [3, 5]; branch 1: relu(x·W1 + b1) [3, 4] written into channels 0..3 of out [3, 6];
    // branch 2: x·W2 [3, 2] into channels 4..5; loss = mean(out · r) for a fixed random r.
    const q = {
      x: Float64Array.from(randomArray(rng, 15)),
      w1: Float64Array.from(randomArray(rng, 20)),
      b1: Float64Array.from(randomArray(rng, 4, -0.2, 0.2)),
      w2: Float64Array.from(randomArray(rng, 10)),
    };
    const r = Float64Array.from(randomArray(rng, 18));
    const f = (p: typeof q): number => {
      let total = 0;
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 4; j++) {
          let v = p.b1[j]!;
          for (let k = 0; k < 5; k++) v += p.x[i * 5 + k]! * p.w1[k * 4 + j]!;
          total += Math.max(0, v) * r[i * 6 + j]!;
        }
        for (let j = 0; j < 2; j++) {
          let v = 0;
          for (let k = 0; k < 5; k++) v += p.x[i * 5 + k]! * p.w2[k * 2 + j]!;
          total += v * r[i * 6 + 4 + j]!;
        }
      }
      return total / 18;
    };
    const fd: Record<string, Float64Array> = {};
    for (const key of Object.keys(q) as (keyof typeof q)[]) {
      const v = q[key];
      fd[key] = v.map((keep, i) => {
        v[i] = keep + 1e-6;
        const up = f(q);
        v[i] = keep - 1e-6;
        const down = f(q);
        v[i] = keep;
        return (up - down) / 2e-6;
      });
    }
    await engine.scope(async () => {
      const tape = new Tape(engine);
      const x = tape.param(engine.tensor(Float32Array.from(q.x), [3, 5]));
      const w1 = tape.param(engine.tensor(Float32Array.from(q.w1), [5, 4]));
      const b1 = tape.param(engine.tensor(Float32Array.from(q.b1)));
      const w2 = tape.param(engine.tensor(Float32Array.from(q.w2), [5, 2]));
      const out = engine.empty([3, 6]);
      const [v1, v2] = [out.channelView(0, 4), out.channelView(4, 2)];
      // The producers write their views; the concat itself allocates and computes nothing.
      const y1 = ag.linear(tape, x, w1, b1, { relu: true, out: v1 });
      const y2 = ag.linear(tape, x, w2, undefined, { out: v2 });
      expect(y1).toBe(v1);
      expect(y2).toBe(v2);
      const joined = ag.concatViews(tape, out, [v1, v2]);
      expect(joined).toBe(out);
      const loss = ag.mean(tape, ag.mul(tape, joined, engine.tensor(Float32Array.from(r), [3, 6])));
      assertClose(await loss.read(), [f(q)], 1e-5, 'loss');
      tape.backward(loss);
      assertClose(await tape.grad(x)!.read(), fd.x!, 1e-4, 'd/dx (two branches)');
      assertClose(await tape.grad(w1)!.read(), fd.w1!, 1e-4, 'd/dW1');
      assertClose(await tape.grad(b1)!.read(), fd.b1!, 1e-4, 'd/db1');
      assertClose(await tape.grad(w2)!.read(), fd.w2!, 1e-4, 'd/dW2');
      tape.dispose();
    });
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
