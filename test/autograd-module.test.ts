/**
 * Composed gradient checks: an Inception-A-shaped module (four branches of conv → BatchNorm in
 * training mode → ReLU, one behind a 3×3 average pool, concatenated through channel views) at a
 * 5×5 spatial size, and a stack of two such modules. Every gradient (input, conv weights, γ, β)
 * against central finite differences of the float64 reference of the same network.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import type { Tensor } from '../src/runtime/tensor.js';
import { Tape } from '../src/autograd/tape.js';
import * as ag from '../src/autograd/functions.js';
import { channelSlices } from '../src/ops/concat.js';
import { testEngine } from './support/engine.js';
import { assertClose } from './support/compare.js';
import { freshSeed, makeRng, randomArray } from './support/random.js';
import { conv2dRef } from './reference/conv2d.js';
import { batchNormRef, batchNormStatisticsRef } from './reference/batchnorm.js';
import { pool2dRef } from './reference/pool2d.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const seed = freshSeed();
const rng = makeRng(seed);
const EPS = 1e-3;

type Shape4 = [number, number, number, number];

interface ConvBn {
  kh: number;
  kw: number;
  cin: number;
  cout: number;
  w: Float64Array;
  gamma: Float64Array;
  beta: Float64Array;
}

/** Branches as Inception-A has them, narrowed: 1×1; 1×1 → 5×5; 1×1 → 3×3 → 3×3; pool → 1×1. */
interface ModuleParams {
  b1: ConvBn;
  b5: [ConvBn, ConvBn];
  b3: [ConvBn, ConvBn, ConvBn];
  bp: ConvBn;
}

function convBn(kh: number, kw: number, cin: number, cout: number): ConvBn {
  const scale = Math.sqrt(2 / (kh * kw * cin));
  return {
    kh,
    kw,
    cin,
    cout,
    w: Float64Array.from(randomArray(rng, kh * kw * cin * cout, -scale, scale)),
    gamma: Float64Array.from(randomArray(rng, cout, 0.6, 1.4)),
    beta: Float64Array.from(randomArray(rng, cout, -0.2, 0.2)),
  };
}

function moduleParams(cin: number): ModuleParams {
  return {
    b1: convBn(1, 1, cin, 3),
    b5: [convBn(1, 1, cin, 2), convBn(5, 5, 2, 3)],
    b3: [convBn(1, 1, cin, 2), convBn(3, 3, 2, 3), convBn(3, 3, 3, 3)],
    bp: convBn(1, 1, cin, 2),
  };
}

const moduleWidth = 3 + 3 + 3 + 2;

// ---------------------------------------------------------------- float64 reference

function convBnReluRef(x: ArrayLike<number>, shape: Shape4, p: ConvBn): { out: Float64Array; shape: Shape4 } {
  const ph = (p.kh - 1) / 2;
  const pw = (p.kw - 1) / 2;
  const conv = conv2dRef(x, shape, p.w, [p.kh, p.kw, p.cin, p.cout], { strideH: 1, strideW: 1, padTop: ph, padBottom: ph, padLeft: pw, padRight: pw });
  const st = batchNormStatisticsRef(conv.out, p.cout);
  return { out: batchNormRef(conv.out, p.cout, p.gamma, p.beta, st.mean, st.variance, EPS, true), shape: conv.shape };
}

function moduleRef(x: ArrayLike<number>, shape: Shape4, m: ModuleParams): { out: Float64Array; shape: Shape4 } {
  const chain = (input: { out: ArrayLike<number>; shape: Shape4 }, ps: ConvBn[]) =>
    ps.reduce((t, p) => convBnReluRef(t.out, t.shape, p), input as { out: Float64Array; shape: Shape4 });
  const xin = { out: Float64Array.from(x), shape };
  const pooled = pool2dRef(x, shape, 'avg', { kh: 3, kw: 3, strideH: 1, strideW: 1, pad: [1, 1, 1, 1] }, true);
  const parts = [chain(xin, [m.b1]), chain(xin, m.b5), chain(xin, m.b3), chain({ out: pooled.out, shape }, [m.bp])];
  const [n, h, w] = shape;
  const out = new Float64Array(n * h * w * moduleWidth);
  for (let px = 0; px < n * h * w; px++) {
    let o = 0;
    for (const part of parts) {
      const c = part.shape[3];
      for (let j = 0; j < c; j++) out[px * moduleWidth + o + j] = part.out[px * c + j]!;
      o += c;
    }
  }
  return { out, shape: [n, h, w, moduleWidth] };
}

/** Every array a gradient is checked for, by name. */
function parameterArrays(x: Float64Array, modules: ModuleParams[]): Map<string, Float64Array> {
  const out = new Map<string, Float64Array>([['x', x]]);
  modules.forEach((m, i) => {
    const all: [string, ConvBn][] = [
      ['b1', m.b1],
      ['b5a', m.b5[0]],
      ['b5b', m.b5[1]],
      ['b3a', m.b3[0]],
      ['b3b', m.b3[1]],
      ['b3c', m.b3[2]],
      ['bp', m.bp],
    ];
    for (const [name, p] of all) {
      out.set(`module ${i + 1} ${name}.w`, p.w);
      out.set(`module ${i + 1} ${name}.gamma`, p.gamma);
      out.set(`module ${i + 1} ${name}.beta`, p.beta);
    }
  });
  return out;
}

// ---------------------------------------------------------------- the same network, taped

function tapedConvBn(tape: Tape, x: Tensor, p: ConvBn, t: Map<ConvBn, { w: Tensor; gamma: Tensor; beta: Tensor }>, out?: Tensor): Tensor {
  const q = t.get(p)!;
  const pad: [number, number] = [(p.kh - 1) / 2, (p.kw - 1) / 2];
  const { y, statistics } = ag.conv2dWithStatistics(tape, x, q.w, { padding: pad });
  return ag.batchNormTrain(tape, y, q.gamma, q.beta, { relu: true, partials: statistics, eps: EPS, ...(out ? { out } : {}) });
}

function tapedModule(tape: Tape, x: Tensor, m: ModuleParams, t: Map<ConvBn, { w: Tensor; gamma: Tensor; beta: Tensor }>): Tensor {
  const [n, h, w] = x.shape as Shape4;
  const out = engine.empty([n, h, w, moduleWidth]);
  const views = channelSlices(out, [3, 3, 3, 2]);
  tapedConvBn(tape, x, m.b1, t, views[0]);
  tapedConvBn(tape, tapedConvBn(tape, x, m.b5[0], t), m.b5[1], t, views[1]);
  tapedConvBn(tape, tapedConvBn(tape, tapedConvBn(tape, x, m.b3[0], t), m.b3[1], t), m.b3[2], t, views[2]);
  tapedConvBn(tape, ag.avgPool2d(tape, x, { kernel: 3, stride: 1, padding: 1 }), m.bp, t, views[3]);
  return ag.concatViews(tape, out, views);
}

describe(`composed gradients through Inception-A-shaped modules (seed ${seed})`, () => {
  for (const depth of [1, 2]) {
    it(`${depth} module${depth > 1 ? 's' : ''}, BatchNorm in training mode: every gradient matches finite differences`, async () => {
      const shape: Shape4 = [2, 5, 5, 4];
      const x = Float64Array.from(
        randomArray(
          rng,
          shape.reduce((a, b) => a * b, 1),
        ),
      );
      const modules = [moduleParams(4), ...(depth > 1 ? [moduleParams(moduleWidth)] : [])];
      const outShape: Shape4 = [2, 5, 5, moduleWidth];
      const r = Float64Array.from(
        randomArray(
          rng,
          outShape.reduce((a, b) => a * b, 1),
        ),
      );
      const f = () => {
        let cur: { out: Float64Array; shape: Shape4 } = { out: x, shape };
        for (const m of modules) cur = moduleRef(cur.out, cur.shape, m);
        return cur.out.reduce((a, v, i) => a + v * r[i]!, 0) / r.length;
      };
      const arrays = parameterArrays(x, modules);
      const fd = new Map<string, Float64Array>();
      for (const [name, v] of arrays) {
        fd.set(
          name,
          v.map((keep, i) => {
            v[i] = keep + 1e-6;
            const up = f();
            v[i] = keep - 1e-6;
            const down = f();
            v[i] = keep;
            return (up - down) / 2e-6;
          }),
        );
      }
      await engine.scope(async () => {
        const tape = new Tape(engine);
        const tensors = new Map<ConvBn, { w: Tensor; gamma: Tensor; beta: Tensor }>();
        const byName = new Map<string, Tensor>();
        const xt = tape.param(engine.tensor(Float32Array.from(x), shape));
        byName.set('x', xt);
        modules.forEach((m, i) => {
          const all: [string, ConvBn][] = [
            ['b1', m.b1],
            ['b5a', m.b5[0]],
            ['b5b', m.b5[1]],
            ['b3a', m.b3[0]],
            ['b3b', m.b3[1]],
            ['b3c', m.b3[2]],
            ['bp', m.bp],
          ];
          for (const [name, p] of all) {
            const q = {
              w: tape.param(engine.tensor(Float32Array.from(p.w), [p.kh, p.kw, p.cin, p.cout])),
              gamma: tape.param(engine.tensor(Float32Array.from(p.gamma))),
              beta: tape.param(engine.tensor(Float32Array.from(p.beta))),
            };
            tensors.set(p, q);
            byName.set(`module ${i + 1} ${name}.w`, q.w);
            byName.set(`module ${i + 1} ${name}.gamma`, q.gamma);
            byName.set(`module ${i + 1} ${name}.beta`, q.beta);
          }
        });
        let cur = xt;
        for (const m of modules) cur = tapedModule(tape, cur, m, tensors);
        const loss = ag.mean(tape, ag.mul(tape, cur, engine.tensor(Float32Array.from(r), outShape)));
        assertClose(await loss.read(), [f()], 1e-4, 'loss');
        tape.backward(loss);
        expect(tape.size).toBe(0);
        for (const [name, t] of byName) {
          // float32 through up to eight BatchNorms over 50 values per channel: 2e-3 relative.
          assertClose(await tape.grad(t)!.read(), fd.get(name)!, 2e-3, `d loss / d ${name}`);
        }
        tape.dispose();
      });
    });
  }
});
