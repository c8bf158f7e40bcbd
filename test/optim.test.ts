/** Optimizers against float64: RMSProp (TensorFlow's form, as Inception-v3 used it), SGD with
 * and without (Nesterov) momentum, weight decay and its exclusions, global-norm clipping applied
 * in the update kernel, learning-rate schedules, the weight EMA with swap, state round trips,
 * argument checks. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { InvalidArgumentError } from '../src/runtime/errors.js';
import type { Shape, Tensor } from '../src/runtime/tensor.js';
import { globalNorm } from '../src/ops/reduce.js';
import { RMSProp, RMSPROP_DEFAULTS } from '../src/optim/rmsprop.js';
import { SGD } from '../src/optim/sgd.js';
import { ExponentialMovingAverage } from '../src/optim/ema.js';
import { isBiasOrNorm, type Optimizer } from '../src/optim/optimizer.js';
import { constantLr, cosineDecay, exponentialDecay, stepDecay, warmupFactor } from '../src/optim/schedule.js';
import {
  clipScaleRef,
  emaDecayRef,
  emaStepRef,
  globalNormRef,
  rmspropInitRef,
  rmspropStepRef,
  sgdStepRef,
  type RmspropStateRef,
  type SgdStateRef,
} from './reference/optim.js';
import { assertClose } from './support/compare.js';
import { testEngine } from './support/engine.js';
import { freshSeed, makeRng, randomArray, type Rng } from './support/random.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const TOLERANCE = 1e-5;
/** Weights pass through cancellation (w − Σ updates can end near 0): a wider bound, see below. */
const WEIGHT_TOLERANCE = 1e-4;
const size = (shape: Shape) => shape.reduce((a, b) => a * b, 1);
const ODD_SHAPES: Shape[] = [[1], [7], [1001], [64, 33]];

/** Host copies of every tensor of a map. */
async function readMap(m: ReadonlyMap<string, Tensor>): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [k, t] of m) out.set(k, (await t.read()) as Float32Array);
  return out;
}

function makeParams(rng: Rng, named: [string, Shape][], lo = -1, hi = 1): { host: Map<string, Float32Array>; params: Map<string, Tensor> } {
  const host = new Map<string, Float32Array>();
  const params = new Map<string, Tensor>();
  for (const [name, shape] of named) {
    const v = randomArray(rng, size(shape), lo, hi);
    host.set(name, v);
    params.set(name, engine.tensor(v, shape));
  }
  return { host, params };
}

function disposeAll(ts: Iterable<Tensor>): void {
  for (const t of ts) t.dispose();
}

/** Runs one step inside a scope, with the gradients uploaded as temporaries. */
function stepWith(opt: Optimizer, named: [string, Shape][], grads: Map<string, Float32Array>, options: Parameters<Optimizer['step']>[1]): void {
  engine.scope(() => {
    const g = new Map<string, Tensor>();
    for (const [name, shape] of named) g.set(name, engine.tensor(grads.get(name)!, shape));
    opt.step(g, options);
  });
}

function randomGrads(rng: Rng, named: [string, Shape][], lo = -1, hi = 1): Map<string, Float32Array> {
  return new Map(named.map(([name, shape]) => [name, randomArray(rng, size(shape), lo, hi)]));
}

function pipelineCount(): number {
  return (engine as unknown as { pipelines: Map<string, unknown> }).pipelines.size;
}

describe('RMSProp (TensorFlow form) against float64', () => {
  const seed = freshSeed();
  const named = ODD_SHAPES.map((s, i) => [`p${i}`, s] as [string, Shape]);

  it(`has the paper's defaults: ρ 0.9, μ 0.9, ε 1.0, clipping at 2 (seed ${seed})`, () => {
    engine.scope(() => {
      const opt = new RMSProp(engine, [engine.zeros([3])]);
      expect([opt.rho, opt.momentum, opt.epsilon, opt.clipNorm]).toEqual([0.9, 0.9, 1.0, 2]);
      expect(RMSPROP_DEFAULTS).toEqual({ rho: 0.9, momentum: 0.9, epsilon: 1.0, clipNorm: 2 });
      expect(opt.lr).toBeUndefined();
      opt.dispose();
    });
  });

  it(`5 steps on sizes 1, 7, 1001, 64×33: weights, ms (from ones) and mom, lr changing per step without new pipelines (seed ${seed})`, async () => {
    const rng = makeRng(seed);
    // Small initial weights, so that the weights are mostly the updates and an error in an
    // update cannot hide behind the weights' own size.
    const { host, params } = makeParams(rng, named, -0.05, 0.05);
    const opt = new RMSProp(engine, params, { clipNorm: 0 });
    const s0 = await readMap(opt.state());
    for (const [name] of named) {
      expect(
        Array.from(s0.get(`${name}.rmsprop.ms`)!).every((v) => v === 1),
        `${name} ms starts at ones`,
      ).toBe(true);
      expect(
        Array.from(s0.get(`${name}.rmsprop.mom`)!).every((v) => v === 0),
        `${name} mom starts at 0`,
      ).toBe(true);
    }
    expect(s0.get('rmsprop.step')![0]).toBe(0);
    const ref = new Map<string, RmspropStateRef>(named.map(([n]) => [n, rmspropInitRef(host.get(n)!)]));
    let pipelinesAfterFirst = 0;
    for (let step = 0; step < 5; step++) {
      // Gradients up to ±3 so that g² moves ms well away from 1.
      const grads = randomGrads(rng, named, -3, 3);
      const lr = 0.045 * (1 + step) * 0.9;
      stepWith(opt, named, grads, { lr });
      if (step === 0) pipelinesAfterFirst = pipelineCount();
      const st = await readMap(opt.state());
      for (const [name] of named) {
        const r = rmspropStepRef(ref.get(name)!, grads.get(name)!, { lr, rho: 0.9, momentum: 0.9, epsilon: 1, weightDecay: 0, scale: 1 });
        ref.set(name, r);
        const what = `step ${step + 1} ${name}`;
        // A weight that five float32 steps carry close to zero (size 1 has no other elements to
        // carry the norm) keeps the rounding of its larger past values: judged against the
        // weights' starting scale, not only their final one.
        assertClose(await params.get(name)!.read(), r.w, WEIGHT_TOLERANCE, `${what} weights`);
        assertClose(st.get(`${name}.rmsprop.ms`)!, r.ms, TOLERANCE, `${what} ms`);
        assertClose(st.get(`${name}.rmsprop.mom`)!, r.mom, TOLERANCE, `${what} mom`);
      }
      expect(opt.steps).toBe(step + 1);
      expect(st.get('rmsprop.step')![0]).toBe(step + 1);
    }
    expect(pipelineCount()).toBe(pipelinesAfterFirst);
    opt.dispose();
    disposeAll(params.values());
  });

  it(`with the defaults (clipping at 2), weight decay, and BatchNorm/bias excluded from it (seed ${seed})`, async () => {
    const rng = makeRng(seed + 1);
    const shapes: [string, Shape][] = [
      ['Conv2d_1a.conv.weight', [3, 3, 3, 8]],
      ['Conv2d_1a.bn.weight', [8]],
      ['Conv2d_1a.bn.bias', [8]],
      ['fc.weight', [8, 10]],
      ['fc.bias', [10]],
    ];
    const { host, params } = makeParams(rng, shapes);
    const wd = 0.05;
    const opt = new RMSProp(engine, params, { weightDecay: wd, excludeFromWeightDecay: isBiasOrNorm, lr: 0.045 });
    expect(shapes.map(([n]) => opt.weightDecayOf(n))).toEqual([wd, 0, 0, wd, 0]);
    const ref = new Map<string, RmspropStateRef>(shapes.map(([n]) => [n, rmspropInitRef(host.get(n)!)]));
    for (let step = 0; step < 3; step++) {
      const grads = randomGrads(rng, shapes, -2, 2);
      const norm = globalNormRef([...grads.values()]);
      expect(norm).toBeGreaterThan(2); // so clipping is exercised
      stepWith(opt, shapes, grads, {}); // lr from the options
      expect(Math.abs((await opt.gradNorm!.read())[0]! - norm) / norm).toBeLessThanOrEqual(TOLERANCE);
      for (const [name] of shapes) {
        const r = rmspropStepRef(ref.get(name)!, grads.get(name)!, {
          lr: 0.045,
          rho: 0.9,
          momentum: 0.9,
          epsilon: 1,
          weightDecay: opt.weightDecayOf(name),
          scale: clipScaleRef(norm, 2),
        });
        ref.set(name, r);
        assertClose(await params.get(name)!.read(), r.w, TOLERANCE, `step ${step + 1} ${name} weights`);
        const st = await readMap(opt.state());
        assertClose(st.get(`${name}.rmsprop.ms`)!, r.ms, TOLERANCE, `step ${step + 1} ${name} ms`);
        assertClose(st.get(`${name}.rmsprop.mom`)!, r.mom, TOLERANCE, `step ${step + 1} ${name} mom`);
      }
    }
    opt.dispose();
    disposeAll(params.values());
  });
});

describe('SGD (PyTorch form) against float64', () => {
  const seed = freshSeed();
  const shapes: [string, Shape][] = [
    ['conv.weight', [3, 3, 5, 7]],
    ['bn.weight', [7]],
    ['bn.bias', [7]],
    ['fc.weight', [1001]],
    ['fc.bias', [1]],
  ];
  const variants = [
    { momentum: 0, nesterov: false },
    { momentum: 0.9, nesterov: false },
    { momentum: 0.9, nesterov: true },
  ];
  for (const v of variants) {
    for (const wd of [0, 0.1]) {
      const label = `${v.momentum === 0 ? 'plain' : v.nesterov ? 'Nesterov' : 'momentum 0.9'}, weight decay ${wd}${wd ? ' (bn and biases excluded by name)' : ''}`;
      it(`${label}: 4 steps, weights and momentum buffer (seed ${seed})`, async () => {
        const rng = makeRng(seed + v.momentum * 10 + (v.nesterov ? 1 : 0) + wd * 1000);
        // Small initial weights, as above: the weights are mostly the updates.
        const { host, params } = makeParams(rng, shapes, -0.05, 0.05);
        const exclude = (name: string) => name.startsWith('bn.') || name.endsWith('.bias');
        const opt = new SGD(engine, params, { momentum: v.momentum, nesterov: v.nesterov, weightDecay: wd, excludeFromWeightDecay: exclude, clipNorm: 0 });
        const ref = new Map<string, SgdStateRef>(shapes.map(([n]) => [n, { w: Float64Array.from(host.get(n)!), buf: null }]));
        for (let step = 0; step < 4; step++) {
          const grads = randomGrads(rng, shapes);
          const lr = 0.1 / (step + 1);
          stepWith(opt, shapes, grads, { lr });
          const st = await readMap(opt.state());
          expect([...st.keys()].sort()).toEqual(v.momentum ? [...shapes.map(([n]) => `${n}.sgd.momentum_buffer`), 'sgd.step'].sort() : ['sgd.step']);
          for (const [name] of shapes) {
            const r = sgdStepRef(ref.get(name)!, grads.get(name)!, {
              lr,
              momentum: v.momentum,
              nesterov: v.nesterov,
              weightDecay: exclude(name) ? 0 : wd,
              scale: 1,
            });
            ref.set(name, r);
            assertClose(await params.get(name)!.read(), r.w, TOLERANCE, `step ${step + 1} ${name} weights`);
            if (r.buf) assertClose(st.get(`${name}.sgd.momentum_buffer`)!, r.buf, TOLERANCE, `step ${step + 1} ${name} buffer`);
          }
        }
        opt.dispose();
        disposeAll(params.values());
      });
    }
  }

  it(`the first momentum step sets buf = g exactly, and weight decay changes what it should (seed ${seed})`, async () => {
    const rng = makeRng(seed + 77);
    const named: [string, Shape][] = [
      ['a', [33]],
      ['b', [5]],
    ];
    const { host, params } = makeParams(rng, named);
    const grads = randomGrads(rng, named);
    const opt = new SGD(engine, params, { momentum: 0.9, weightDecay: 0.5, excludeFromWeightDecay: (n) => n === 'b', clipNorm: 0 });
    stepWith(opt, named, grads, { lr: 0.01 });
    const st = await readMap(opt.state());
    expect(Array.from(st.get('b.sgd.momentum_buffer')!)).toEqual(Array.from(grads.get('b')!));
    // a got 0.5·w added: its buffer differs from its gradient exactly by that.
    assertClose(
      st.get('a.sgd.momentum_buffer')!,
      Float64Array.from(grads.get('a')!, (g, i) => g + 0.5 * host.get('a')![i]!),
      TOLERANCE,
      'buffer with decay',
    );
    opt.dispose();
    disposeAll(params.values());
  });
});

describe('gradient clipping by global norm, inside the update kernel', () => {
  const seed = freshSeed();
  const named = ODD_SHAPES.map((s, i) => [`g${i}`, s] as [string, Shape]);

  it(`above the threshold the update is the clipped one (norm in float64 over ALL gradients); the norm tensor is exposed (seed ${seed})`, async () => {
    const rng = makeRng(seed);
    // Zero weights: the weights after the step are the update itself, exactly as computed.
    const { host, params } = makeParams(rng, named, 0, 0);
    const grads = randomGrads(rng, named);
    const norm = globalNormRef([...grads.values()]);
    expect(norm).toBeGreaterThan(2);
    const opt = new SGD(engine, params, { clipNorm: 2 });
    stepWith(opt, named, grads, { lr: 1 });
    const scale = clipScaleRef(norm, 2);
    expect(scale).toBeLessThan(0.2);
    expect(opt.gradNorm).toBeDefined();
    const gotNorm = (await opt.gradNorm!.read())[0]!;
    expect(Math.abs(gotNorm - norm) / norm).toBeLessThanOrEqual(TOLERANCE);
    // Displacement −lr·s·g: its global norm is the threshold (up to the 1e-6).
    let sq = 0;
    for (const [name] of named) {
      const w = await params.get(name)!.read();
      const moved = Float64Array.from(w, (x, i) => x - host.get(name)![i]!);
      sq += moved.reduce((s, x) => s + x * x, 0);
      assertClose(
        moved,
        Float64Array.from(grads.get(name)!, (g) => -scale * g),
        TOLERANCE,
        `clipped update of ${name}`,
      );
    }
    expect(Math.sqrt(sq)).toBeCloseTo(2, 4);
    opt.dispose();
    disposeAll(params.values());
  });

  it(`below the threshold the update is the unclipped one, bit for bit (seed ${seed})`, async () => {
    const rng = makeRng(seed + 1);
    const { host, params } = makeParams(rng, named);
    const raw = randomGrads(rng, named);
    const shrink = 1.5 / globalNormRef([...raw.values()]);
    const grads = new Map([...raw].map(([k, g]) => [k, Float32Array.from(g, (x) => x * shrink)]));
    expect(globalNormRef([...grads.values()])).toBeLessThan(2);
    const copies = new Map([...host].map(([k, v]) => [k, engine.tensor(v, params.get(k)!.shape)]));
    const clipped = new RMSProp(engine, params, { clipNorm: 2 });
    const unclipped = new RMSProp(engine, copies, { clipNorm: 0 });
    stepWith(clipped, named, grads, { lr: 0.3 });
    stepWith(unclipped, named, grads, { lr: 0.3 });
    expect(unclipped.gradNorm).toBeUndefined();
    for (const [name] of named) {
      const a = await params.get(name)!.read();
      expect(Array.from(a), name).toEqual(Array.from(await copies.get(name)!.read()));
      const r = rmspropStepRef(rmspropInitRef(host.get(name)!), grads.get(name)!, { lr: 0.3, rho: 0.9, momentum: 0.9, epsilon: 1, weightDecay: 0, scale: 1 });
      assertClose(a, r.w, TOLERANCE, `unclipped ${name}`);
    }
    clipped.dispose();
    unclipped.dispose();
    disposeAll(params.values());
    disposeAll(copies.values());
  });

  it(`takes the norm and the threshold per step from the caller (the trainer's globalNorm), read from the GPU buffer (seed ${seed})`, async () => {
    const rng = makeRng(seed + 2);
    const { host, params } = makeParams(rng, named, 0, 0);
    const grads = randomGrads(rng, named);
    const opt = new SGD(engine, params, { clipNorm: 0, momentum: 0.5 });
    // A norm tensor of our choosing proves the kernel uses the buffer it is given.
    const fakeNorm = engine.tensor([10]);
    stepWith(opt, named, grads, { lr: 1, gradNorm: fakeNorm, clip: 3 });
    expect(opt.gradNorm).toBe(fakeNorm);
    for (const [name] of named) {
      const moved = Float64Array.from(await params.get(name)!.read(), (x, i) => x - host.get(name)![i]!);
      assertClose(
        moved,
        Float64Array.from(grads.get(name)!, (g) => -(3 / (10 + 1e-6)) * g),
        TOLERANCE,
        `caller's norm, ${name}`,
      );
    }
    // And the real one, computed by the trainer in a scope the step outlives.
    const before = await readMap(params);
    const state = await readMap(opt.state());
    const norm = globalNormRef([...grads.values()]);
    engine.scope(() => {
      const g = new Map(named.map(([n, s]) => [n, engine.tensor(grads.get(n)!, s)]));
      opt.step(g, { lr: 0.5, gradNorm: globalNorm([...g.values()]), clip: 2 });
    });
    for (const [name] of named) {
      const r = sgdStepRef({ w: Float64Array.from(before.get(name)!), buf: Float64Array.from(state.get(`${name}.sgd.momentum_buffer`)!) }, grads.get(name)!, {
        lr: 0.5,
        momentum: 0.5,
        nesterov: false,
        weightDecay: 0,
        scale: clipScaleRef(norm, 2),
      });
      assertClose(await params.get(name)!.read(), r.w, TOLERANCE, `trainer's norm, ${name}`);
    }
    fakeNorm.dispose();
    opt.dispose();
    disposeAll(params.values());
  });

  it(`the optimizer's own norm survives the step's scope and is freed at the next step and at dispose (seed ${seed})`, async () => {
    const rng = makeRng(seed + 3);
    const { params } = makeParams(rng, named);
    const live0 = engine.liveTensors;
    const opt = new RMSProp(engine, params, { lr: 0.01 });
    const grads = randomGrads(rng, named);
    stepWith(opt, named, grads, {});
    const first = opt.gradNorm!;
    expect(first.isDisposed).toBe(false);
    const want = globalNormRef([...grads.values()]);
    expect(Math.abs((await first.read())[0]! - want) / want).toBeLessThanOrEqual(TOLERANCE);
    stepWith(opt, named, grads, { clip: 0 });
    expect(first.isDisposed).toBe(true);
    expect(opt.gradNorm).toBeUndefined();
    stepWith(opt, named, grads, {});
    opt.dispose();
    expect(engine.liveTensors).toBe(live0);
    disposeAll(params.values());
  });
});

describe('learning-rate schedules', () => {
  const close = (got: number, want: number) => expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-15 * Math.max(1, Math.abs(want)));

  it('exponential decay: 0.94 every two epochs, staircase, at the epoch boundaries', () => {
    const lr = exponentialDecay({ lr: 0.045, stepsPerEpoch: 100 });
    close(lr(0), 0.045);
    close(lr(100), 0.045);
    close(lr(199), 0.045);
    close(lr(200), 0.045 * 0.94);
    close(lr(399), 0.045 * 0.94);
    close(lr(400), 0.045 * 0.94 * 0.94);
    close(lr(1000), 0.045 * 0.94 ** 5);
    close(lr(100 * 2 * 50 + 17), 0.045 * 0.94 ** 50);
    const smooth = exponentialDecay({ lr: 0.045, stepsPerEpoch: 100, staircase: false });
    close(smooth(100), 0.045 * Math.sqrt(0.94));
    close(smooth(400), 0.045 * 0.94 ** 2);
    // Non-integer steps per epoch (1281167 / 32): the period is 2 epochs of them.
    const imagenet = exponentialDecay({ lr: 0.045, stepsPerEpoch: 1281167 / 32 });
    close(imagenet(80072), 0.045);
    close(imagenet(80073), 0.045 * 0.94);
  });

  it('linear warm-up over W steps: lr·(step + 1)/W, then the schedule', () => {
    const lr = exponentialDecay({ lr: 0.045, stepsPerEpoch: 100, warmupSteps: 10 });
    close(lr(0), 0.0045);
    close(lr(4), 0.045 * 0.5);
    close(lr(9), 0.045);
    close(lr(10), 0.045);
    close(lr(250), 0.045 * 0.94);
    expect(warmupFactor(3, 0)).toBe(1);
    const c = constantLr(0.2, { warmupSteps: 4 });
    expect([0, 1, 2, 3, 4, 100].map(c)).toEqual([0.05, 0.1, 0.15000000000000002, 0.2, 0.2, 0.2]);
  });

  it('step decay: factor every N epochs', () => {
    const lr = stepDecay({ lr: 0.1, stepsPerEpoch: 50, everyEpochs: 30 });
    close(lr(0), 0.1);
    close(lr(1499), 0.1);
    close(lr(1500), 0.1 * 0.1);
    close(lr(3000), 0.1 * 0.1 * 0.1);
    const half = stepDecay({ lr: 1, stepsPerEpoch: 10, everyEpochs: 1, factor: 0.5, warmupSteps: 5 });
    close(half(0), 0.2);
    close(half(9), 1);
    close(half(10), 0.5);
    close(half(35), 0.125);
  });

  it('cosine: peak after the warm-up, midpoint halfway, the floor at and after totalSteps', () => {
    const lr = cosineDecay({ lr: 0.1, totalSteps: 1100, floor: 0.001, warmupSteps: 100 });
    close(lr(0), 0.001);
    close(lr(49), 0.05);
    close(lr(99), 0.1);
    close(lr(100), 0.1);
    close(lr(600), (0.1 + 0.001) / 2);
    close(lr(350), 0.001 + (0.099 * (1 + Math.cos(Math.PI / 4))) / 2);
    close(lr(1100), 0.001);
    close(lr(5000), 0.001);
    const plain = cosineDecay({ lr: 2, totalSteps: 10 });
    close(plain(0), 2);
    close(plain(5), 1);
    close(plain(10), 0);
    // Monotone after the warm-up.
    for (let s = 101; s <= 1100; s++) expect(lr(s)).toBeLessThanOrEqual(lr(s - 1));
  });

  it('rejects bad options and steps, naming the schedule and the argument', () => {
    expect(() => exponentialDecay({ lr: 0.045, stepsPerEpoch: 0 })).toThrow(/exponentialDecay: stepsPerEpoch must be a finite number in \(0, ∞\)/);
    expect(() => exponentialDecay({ lr: -1, stepsPerEpoch: 10 })).toThrow(/exponentialDecay: lr must be/);
    expect(() => exponentialDecay({ lr: 1, stepsPerEpoch: 10, rate: 1.5 })).toThrow(/exponentialDecay: rate must be/);
    expect(() => exponentialDecay({ lr: 1, stepsPerEpoch: 10, warmupSteps: -1 })).toThrow(/exponentialDecay: warmupSteps must be an integer/);
    expect(() => exponentialDecay({ lr: 1, stepsPerEpoch: 10 })(-1)).toThrow(/exponentialDecay: step must be an integer ≥ 0, got -1/);
    expect(() => exponentialDecay({ lr: 1, stepsPerEpoch: 10 })(1.5)).toThrow(InvalidArgumentError);
    expect(() => stepDecay({ lr: 1, stepsPerEpoch: 10, everyEpochs: 0 })).toThrow(/stepDecay: everyEpochs must be/);
    expect(() => stepDecay({ lr: 1, stepsPerEpoch: 10, everyEpochs: 2, factor: 0 })).toThrow(/stepDecay: factor must be/);
    expect(() => cosineDecay({ lr: 1, totalSteps: 10, warmupSteps: 10 })).toThrow(/cosineDecay: totalSteps must be an integer > warmupSteps \(10\)/);
    expect(() => cosineDecay({ lr: 1, totalSteps: 10, floor: 2 })).toThrow(/cosineDecay: floor must be a finite number in \[0, 1\]/);
    expect(() => constantLr(NaN)).toThrow(/constantLr: lr must be/);
  });
});

describe('exponential moving average of the weights', () => {
  const seed = freshSeed();
  const named: [string, Shape][] = [
    ['a', [1]],
    ['b', [7]],
    ['c', [1001]],
    ['d', [64, 33]],
  ];

  for (const numUpdates of [false, true]) {
    it(`avg ← d·avg + (1 − d)·w over 6 updates${numUpdates ? ", with TF's num_updates warm-up min(decay, (1+n)/(10+n))" : ''} (seed ${seed})`, async () => {
      const rng = makeRng(seed + (numUpdates ? 1 : 0));
      const { host, params } = makeParams(rng, named);
      const decay = numUpdates ? 0.9999 : 0.8;
      const ema = new ExponentialMovingAverage(engine, params, { decay, numUpdates });
      expect(ema.decay).toBe(decay);
      const avg = new Map<string, Float64Array>([...host].map(([k, v]) => [k, Float64Array.from(v)]));
      for (const [k, t] of ema.averages) assertClose(await t.read(), avg.get(k)!, 0, `${k} starts as a copy`);
      for (let n = 0; n < 6; n++) {
        // New weights, as an optimizer step would leave them.
        for (const [name, t] of params) {
          const w = randomArray(rng, t.size);
          host.set(name, w);
          engine.write(t, w);
        }
        const d = emaDecayRef(decay, numUpdates ? n : null);
        expect(ema.decayAt()).toBe(d);
        ema.update();
        for (const [name, t] of ema.averages) {
          avg.set(name, emaStepRef(avg.get(name)!, host.get(name)!, d));
          assertClose(await t.read(), avg.get(name)!, TOLERANCE, `update ${n + 1} (d = ${d}) ${name}`);
        }
      }
      expect(ema.updates).toBe(6);
      if (numUpdates) expect([0, 1, 2, 10 ** 6].map((n) => ema.decayAt(n))).toEqual([0.1, 2 / 11, 3 / 12, 0.9999]);
      ema.dispose();
      disposeAll(params.values());
    });
  }

  it(`an explicit num_updates (the global step) and the default decay 0.9999 (1 − d formed in float64) (seed ${seed})`, async () => {
    const rng = makeRng(seed + 2);
    const { host, params } = makeParams(rng, [['w', [513]]]);
    const ema = new ExponentialMovingAverage(engine, params);
    expect(ema.decay).toBe(0.9999);
    const w1 = randomArray(rng, 513, 5, 10);
    engine.write(params.get('w')!, w1);
    ema.update();
    assertClose(await ema.averages.get('w')!.read(), emaStepRef(host.get('w')!, w1, 0.9999), 1e-6, 'decay 0.9999');
    const avg1 = Float64Array.from(await ema.averages.get('w')!.read());
    ema.update(4);
    assertClose(await ema.averages.get('w')!.read(), emaStepRef(avg1, w1, 5 / 14), TOLERANCE, 'num_updates 4');
    ema.dispose();
    disposeAll(params.values());
  });

  it(`swap puts the averages into the parameters (same tensors) and back, bit for bit; withAverages restores on error (seed ${seed})`, async () => {
    const rng = makeRng(seed + 3);
    const { params } = makeParams(rng, named);
    const ema = new ExponentialMovingAverage(engine, params, { decay: 0.5 });
    for (const [, t] of params) engine.write(t, randomArray(rng, t.size));
    ema.update();
    const weights = await readMap(params);
    const averages = await readMap(ema.averages);
    ema.swap();
    expect(ema.swapped).toBe(true);
    for (const [name, t] of params) expect(Array.from(await t.read()), name).toEqual(Array.from(averages.get(name)!));
    expect(() => ema.update()).toThrow(/ema.update: the averages are swapped into the parameters/);
    ema.swap();
    expect(ema.swapped).toBe(false);
    for (const [name, t] of params) expect(Array.from(await t.read()), name).toEqual(Array.from(weights.get(name)!));
    for (const [name, t] of ema.averages) expect(Array.from(await t.read()), name).toEqual(Array.from(averages.get(name)!));

    const seen = await ema.withAverages(async () => readMap(params));
    for (const [name] of params) expect(Array.from(seen.get(name)!)).toEqual(Array.from(averages.get(name)!));
    await expect(
      ema.withAverages(() => {
        throw new Error('evaluation failed');
      }),
    ).rejects.toThrow('evaluation failed');
    expect(ema.swapped).toBe(false);
    for (const [name, t] of params) expect(Array.from(await t.read()), name).toEqual(Array.from(weights.get(name)!));

    ema.copyToParams();
    for (const [name, t] of params) expect(Array.from(await t.read()), name).toEqual(Array.from(averages.get(name)!));
    ema.dispose();
    disposeAll(params.values());
  });

  it(`state()/loadState() round trip continues like an uninterrupted EMA (seed ${seed})`, async () => {
    const rng = makeRng(seed + 4);
    const { host, params } = makeParams(rng, named);
    const a = new ExponentialMovingAverage(engine, params, { numUpdates: true });
    a.update();
    a.update();
    const saved = await readMap(a.state());
    expect(saved.get('ema.updates')![0]).toBe(2);
    const copies = new Map([...host].map(([k, v]) => [k, engine.tensor(v, params.get(k)!.shape)]));
    const b = new ExponentialMovingAverage(engine, copies, { numUpdates: true });
    b.loadState(saved);
    expect(b.updates).toBe(2);
    for (let i = 0; i < 2; i++) {
      for (const [name, t] of params) {
        const w = randomArray(rng, t.size);
        engine.write(t, w);
        engine.write(copies.get(name)!, w);
      }
      a.update();
      b.update();
    }
    const [ra, rb] = [await readMap(a.averages), await readMap(b.averages)];
    for (const [name] of named) expect(Array.from(rb.get(name)!), name).toEqual(Array.from(ra.get(name)!));
    expect(() => b.loadState(new Map([['x.ema', [1]]]))).toThrow(/ema.loadState: 'x.ema' is not a state entry/);
    a.dispose();
    b.dispose();
    disposeAll(params.values());
    disposeAll(copies.values());
  });
});

describe('optimizer state round trip', () => {
  const seed = freshSeed();
  const named = ODD_SHAPES.map((s, i) => [`p${i}`, s] as [string, Shape]);
  const make: [string, (ps: Map<string, Tensor>) => Optimizer][] = [
    ['RMSProp', (ps) => new RMSProp(engine, ps, { weightDecay: 1e-3, excludeFromWeightDecay: isBiasOrNorm })],
    ['SGD Nesterov', (ps) => new SGD(engine, ps, { momentum: 0.9, nesterov: true, weightDecay: 1e-3 })],
  ];
  for (const [label, build] of make) {
    it(`${label}: 3 steps, state() to host arrays (a checkpoint), loadState into a new optimizer, 2 more steps equal an uninterrupted run bit for bit (seed ${seed})`, async () => {
      const rng = makeRng(seed);
      const { params } = makeParams(rng, named);
      const schedule = exponentialDecay({ lr: 0.045, stepsPerEpoch: 2, everyEpochs: 1, warmupSteps: 2 });
      const grads = Array.from({ length: 5 }, () => randomGrads(rng, named, -2, 2));
      const a = build(params);
      for (let s = 0; s < 3; s++) stepWith(a, named, grads[s]!, { lr: schedule(s) });
      const checkpoint = await readMap(a.state());
      const weights = await readMap(params);
      const restored = new Map([...weights].map(([k, v]) => [k, engine.tensor(v, params.get(k)!.shape)]));
      const b = build(restored);
      b.loadState(checkpoint);
      expect(b.steps).toBe(3);
      for (let s = 3; s < 5; s++) {
        stepWith(a, named, grads[s]!, { lr: schedule(s) });
        stepWith(b, named, grads[s]!, { lr: schedule(b.steps) });
      }
      const [wa, wb, sa, sb] = [await readMap(params), await readMap(restored), await readMap(a.state()), await readMap(b.state())];
      for (const [name] of named) expect(Array.from(wb.get(name)!), `weights ${name}`).toEqual(Array.from(wa.get(name)!));
      expect([...sb.keys()]).toEqual([...sa.keys()]);
      for (const [k, v] of sa) expect(Array.from(sb.get(k)!), k).toEqual(Array.from(v));

      // Tensors load too (copied on the GPU); the step count is host data.
      const c = build(new Map([...weights].map(([k, v]) => [k, engine.tensor(v, params.get(k)!.shape)])));
      const fromTensors = new Map<string, Tensor | number[]>([...a.state()].map(([k, t]) => [k, t]));
      fromTensors.set(`${a.kind}.step`, [a.steps]);
      c.loadState(fromTensors);
      const sc = await readMap(c.state());
      for (const [k, v] of await readMap(a.state())) expect(Array.from(sc.get(k)!), k).toEqual(Array.from(v));
      for (const o of [a, b, c]) o.dispose();
      for (const o of [c]) disposeAll(o.params.values());
      disposeAll(params.values());
      disposeAll(restored.values());
    });
  }

  it('loadState rejects missing, unknown and mis-sized entries before writing anything', async () => {
    const params = new Map([['w', engine.tensor([1, 2, 3])]]);
    const opt = new RMSProp(engine, params);
    const good = new Map<string, number[]>([
      ['w.rmsprop.ms', [2, 2, 2]],
      ['w.rmsprop.mom', [0.5, 0.5, 0.5]],
      ['rmsprop.step', [4]],
    ]);
    const without = (k: string) => new Map([...good].filter(([n]) => n !== k));
    expect(() => opt.loadState(without('w.rmsprop.mom'))).toThrow(/rmsprop.loadState: 'w.rmsprop.mom' is missing/);
    expect(() => opt.loadState(without('rmsprop.step'))).toThrow(/rmsprop.loadState: 'rmsprop.step' \(the step count\) is missing/);
    expect(() => opt.loadState(new Map([...good, ['w.sgd.momentum_buffer', [0, 0, 0]]]))).toThrow(
      /'w.sgd.momentum_buffer' is not a state entry of this rmsprop optimizer/,
    );
    expect(() => opt.loadState(new Map([...good, ['w.rmsprop.ms', [1, 1]]]))).toThrow(/'w.rmsprop.ms' has 2 values, expected 3/);
    expect(() => opt.loadState(new Map([...good, ['rmsprop.step', [1.5]]]))).toThrow(/'rmsprop.step' must hold one non-negative integer/);
    expect(() => opt.loadState(new Map<string, Tensor | number[]>([...good, ['rmsprop.step', opt.state().get('rmsprop.step')!]]))).toThrow(
      /must be host values/,
    );
    const st = await readMap(opt.state());
    expect(Array.from(st.get('w.rmsprop.ms')!)).toEqual([1, 1, 1]);
    expect(opt.steps).toBe(0);
    opt.loadState(good);
    expect(opt.steps).toBe(4);
    expect(Array.from((await readMap(opt.state())).get('w.rmsprop.ms')!)).toEqual([2, 2, 2]);
    opt.dispose();
    disposeAll(params.values());
  });
});

describe('optimizer argument checks', () => {
  it('constructors reject bad hyper-parameters, naming the optimizer and the argument', () => {
    engine.scope(() => {
      const ps = [engine.zeros([4])];
      for (const lr of [-0.1, NaN, Infinity]) expect(() => new RMSProp(engine, ps, { lr })).toThrow(/rmsprop: lr must be a finite number in \[0, ∞\)/);
      expect(() => new SGD(engine, ps, { weightDecay: -1e-4 })).toThrow(/sgd: weightDecay must be a finite number in \[0, ∞\)/);
      expect(() => new RMSProp(engine, ps, { weightDecay: -1 })).toThrow(InvalidArgumentError);
      expect(() => new RMSProp(engine, ps, { rho: -0.1 })).toThrow(/rmsprop: rho must be a finite number in \[0, 1\)/);
      expect(() => new RMSProp(engine, ps, { rho: 1 })).toThrow(/rmsprop: rho/);
      expect(() => new RMSProp(engine, ps, { momentum: -0.5 })).toThrow(/rmsprop: momentum/);
      expect(() => new RMSProp(engine, ps, { epsilon: 0 })).toThrow(/rmsprop: epsilon must be a finite number in \(0, ∞\)/);
      expect(() => new RMSProp(engine, ps, { clipNorm: -2 })).toThrow(/rmsprop: clipNorm/);
      expect(() => new SGD(engine, ps, { momentum: 1.5 })).toThrow(/sgd: momentum/);
      expect(() => new SGD(engine, ps, { nesterov: true })).toThrow(/sgd: nesterov needs momentum > 0/);
      expect(() => new SGD(engine, [])).toThrow(/sgd: params is empty/);
      expect(() => new SGD(engine, [engine.zeros([2], 'i32')])).toThrow(/sgd: params '0' must be f32/);
      expect(() => new SGD(engine, [engine.zeros([2, 6]).channelView(0, 3)])).toThrow(/sgd: params '0' is .* a channel view/);
      const shared = engine.zeros([6]);
      expect(
        () =>
          new SGD(
            engine,
            new Map([
              ['x', shared],
              ['y', shared.reshape([2, 3])],
            ]),
          ),
      ).toThrow(/sgd: params 'y' and 'x' share one buffer/);
      expect(() => new ExponentialMovingAverage(engine, ps, { decay: -0.5 })).toThrow(/ema: decay must be a finite number in \[0, 1\]/);
      expect(() => new ExponentialMovingAverage(engine, ps, { decay: 1.5 })).toThrow(/ema: decay/);
    });
  });

  it('step rejects a bad or missing lr and mismatched gradients, and records nothing when it does', async () => {
    const rng = makeRng(freshSeed());
    const named: [string, Shape][] = [
      ['a', [3, 4]],
      ['b', [5]],
    ];
    const { host, params } = makeParams(rng, named);
    const opt = new SGD(engine, params, { momentum: 0.9 });
    await engine.scope(async () => {
      const ga = engine.tensor(randomArray(rng, 12), [3, 4]);
      const gb = engine.tensor(randomArray(rng, 5), [5]);
      const good = new Map([
        ['a', ga],
        ['b', gb],
      ]);
      expect(() => opt.step(good)).toThrow(/sgd.step: lr is required/);
      for (const lr of [-1, NaN]) expect(() => opt.step(good, { lr })).toThrow(/sgd.step: lr must be a finite number in \[0, ∞\)/);
      expect(() => opt.step(good, { lr: 0.1, clip: -1 })).toThrow(/sgd.step: clip must be/);
      expect(() => opt.step(new Map([['a', ga]]), { lr: 0.1 })).toThrow(/sgd.step: grads\['b'\] is missing/);
      expect(() => opt.step(new Map([...good, ['c', gb]]), { lr: 0.1 })).toThrow(/sgd.step: grads has 'c', which is not a parameter/);
      expect(() =>
        opt.step(
          new Map([
            ['a', ga.reshape([4, 3])],
            ['b', gb],
          ]),
          { lr: 0.1 },
        ),
      ).toThrow(/sgd.step: grads\['a'\] has shape \[4, 3\] but the parameter has \[3, 4\]/);
      expect(() => opt.step([ga], { lr: 0.1 })).toThrow(/sgd.step: grads has 1 tensors for 2 parameters/);
      expect(() =>
        opt.step(
          new Map([
            ['a', ga],
            ['b', engine.zeros([5], 'i32')],
          ]),
          { lr: 0.1 },
        ),
      ).toThrow(/sgd.step: grads\['b'\] must be f32/);
      expect(() =>
        opt.step(
          new Map([
            ['a', params.get('a')!],
            ['b', gb],
          ]),
          { lr: 0.1 },
        ),
      ).toThrow(/sgd.step: grads\['a'\] shares the parameter's buffer/);
      expect(() => opt.step(() => undefined, { lr: 0.1 })).toThrow(/sgd.step: grads\['a'\] is missing/);
      expect(() => opt.step(good, { lr: 0.1, gradNorm: engine.zeros([2]) })).toThrow(/sgd.step: gradNorm must be a live f32 tensor of one element/);
      // Nothing was recorded by the failed calls.
      for (const [name, t] of params) expect(Array.from(await t.read()), name).toEqual(Array.from(host.get(name)!));
      expect(opt.steps).toBe(0);
      // A lookup function and a parallel list both work.
      opt.step((_p, name) => good.get(name), { lr: 0.1 });
      opt.step([ga, gb], { lr: 0.1 });
      expect(opt.steps).toBe(2);
    });
    opt.dispose();
    expect(() => opt.step([], { lr: 1 })).toThrow(/sgd.step: the optimizer was disposed/);
    disposeAll(params.values());
  });

  it('isBiasOrNorm picks BatchNorm γ/β and biases by torchvision names and rank', () => {
    engine.scope(() => {
      const w = engine.zeros([3, 3, 4, 8]);
      const v = engine.zeros([8]);
      expect(isBiasOrNorm('Mixed_5b.branch1x1.conv.weight', w)).toBe(false);
      expect(isBiasOrNorm('Mixed_5b.branch1x1.bn.weight', v)).toBe(true);
      expect(isBiasOrNorm('Mixed_5b.branch1x1.bn.bias', v)).toBe(true);
      expect(isBiasOrNorm('fc.bias', v)).toBe(true);
      expect(isBiasOrNorm('fc.weight', engine.zeros([8, 10]))).toBe(false);
    });
  });
});
