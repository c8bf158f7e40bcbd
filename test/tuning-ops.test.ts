/**
 * Tuning through the ops' tunable sets on the real engine, beyond conv2d forward (tuner.test.ts):
 * matmul and both conv backward kernels queue a problem when they have a choice, tune() measures
 * it, and later calls run the stored choice with the same result; a problem with one applicable
 * variant is never queued; a stored record whose key is of an older form is not used, so the
 * problem is measured again. Small problems, so tuning takes little time.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { conv2dBackwardInput, conv2dBackwardInputTunables, conv2dBackwardWeights } from '../src/ops/conv2d-backward.js';
import { convGeometry } from '../src/ops/conv2d-geometry.js';
import { conv2d, conv2dCandidates, defaultConv2dVariant } from '../src/ops/conv2d.js';
import { defaultMatmulVariant, matmul, matmulTunables } from '../src/ops/matmul.js';
import type { Engine } from '../src/runtime/engine.js';
import { MemoryTuningStore, type TuningRecord } from '../src/runtime/tuner.js';
import { tuningKeyString } from '../src/runtime/tuning-key.js';
import { assertClose } from './support/compare.js';
import { testEngine } from './support/engine.js';
import { freshSeed, makeRng, randomArray } from './support/random.js';

/** A budget no run reaches: these tests check what is measured, tuner-budget.test.ts the bound. */
const TUNE = { repeats: 1, budgetMs: 600_000 };
const seed = freshSeed();
const rng = makeRng(seed);
const engines: Engine[] = [];
async function makeEngine(store = new MemoryTuningStore()): Promise<Engine> {
  const e = await testEngine({ tuning: 'auto', tuningStore: store });
  engines.push(e);
  return e;
}
afterAll(() => {
  for (const e of engines.splice(0)) e.destroy();
});

/** Runs `fn` with the profiler on and returns what it read back and the kernels of `op`'s dispatches. */
async function profiled(engine: Engine, op: string, fn: () => Promise<ArrayLike<number>>): Promise<{ out: ArrayLike<number>; kernels: string[] }> {
  const before = engine.profiler.records.length;
  engine.profiler.enabled = true;
  try {
    const out = await engine.scope(fn);
    return {
      out,
      kernels: engine.profiler.records
        .splice(before)
        .filter((r) => r.op === op)
        .map((r) => r.kernel),
    };
  } finally {
    engine.profiler.enabled = false;
  }
}

function planted(op: string, shapeClass: string, variant: string): TuningRecord {
  return { op, shapeClass, variant, ms: { [variant]: 1 }, measuredAt: new Date(0).toISOString() };
}

describe(`tuning through the op sets (seed ${seed})`, () => {
  const [m, k, n] = [24, 16, 12];
  const a = randomArray(rng, m * k);
  const b = randomArray(rng, k * n);

  it('matmul: queued once when not forced, measured, and the stored choice runs with the same result', async () => {
    const engine = await makeEngine();
    const run = (variant?: 'tile4x4') =>
      profiled(engine, 'matmul', () => matmul(engine.tensor(a, [m, k]), engine.tensor(b, [k, n]), variant ? { variant } : {}).read());
    const first = await run();
    expect(first.kernels).toEqual([`matmul.wgsl:${defaultMatmulVariant(engine, m, n, k)}`]);
    expect(engine.tuner.pendingCount).toBe(1);
    await run();
    await run('tile4x4'); // forced: nothing to choose, nothing queued
    expect(engine.tuner.pendingCount).toBe(1);
    const report = await engine.tuner.tune(TUNE);
    expect(report.tuned).toHaveLength(1);
    const rec = report.tuned[0]!;
    expect(rec.op).toBe('matmul');
    const problem = { g: { batch: 1, m, n, k }, epilogue: { scale: false, shift: false, relu: false }, outAligned: true };
    expect(rec.shapeClass).toBe(tuningKeyString(matmulTunables, problem));
    expect(Object.keys(rec.ms).length).toBeGreaterThanOrEqual(2);
    const tuned = await run();
    expect(tuned.kernels).toEqual([`matmul.wgsl:${rec.variant}`]);
    assertClose(tuned.out, first.out, 1e-5, `matmul tuned (${rec.variant}) against default (seed ${seed})`);
    // A product of a size in the same bucket uses the measurement without queueing.
    await profiled(engine, 'matmul', () => matmul(engine.tensor(randomArray(rng, 20 * k), [20, k]), engine.tensor(b, [k, n])).read());
    expect(engine.tuner.pendingCount).toBe(0);
  });

  it('conv2dBackwardInput: tile8x8 and tile8x8_scalar compete where both apply; one applicable variant is not queued', async () => {
    const engine = await makeEngine();
    const xShape = [1, 6, 6, 8];
    const wShape = [3, 3, 8, 8];
    const dy = randomArray(rng, 6 * 6 * 8);
    const w = randomArray(rng, 3 * 3 * 8 * 8);
    const run = () =>
      profiled(engine, 'conv2dBackwardInput', () =>
        conv2dBackwardInput(engine.tensor(dy, [1, 6, 6, 8]), engine.tensor(w, wShape), xShape, { padding: 'same' }).read(),
      );
    const first = await run();
    expect(first.kernels).toEqual(['conv2d-backward.wgsl:transpose_weights', 'conv2d-backward.wgsl:input_tile8x8']);
    expect(engine.tuner.pendingCount).toBe(1);
    // Cin = 3: only the scalar kernel applies.
    await profiled(engine, 'conv2dBackwardInput', () =>
      conv2dBackwardInput(engine.tensor(randomArray(rng, 6 * 6 * 8), [1, 6, 6, 8]), engine.zeros([3, 3, 3, 8]), [1, 6, 6, 3], { padding: 'same' }).read(),
    );
    expect(engine.tuner.pendingCount).toBe(1);
    const report = await engine.tuner.tune(TUNE);
    expect(report.tuned.map((r) => [r.op, Object.keys(r.ms).sort()])).toEqual([['conv2dBackwardInput', ['tile8x8', 'tile8x8_scalar']]]);

    // A stored scalar choice is what runs, with the same result.
    const g = convGeometry('test', xShape, wShape, 1, 'same');
    const key = `${engine.tuner.adapterKey}|conv2dBackwardInput|${tuningKeyString(conv2dBackwardInputTunables, { g })}`;
    const stored = new MemoryTuningStore();
    stored.save({ [key]: planted('conv2dBackwardInput', tuningKeyString(conv2dBackwardInputTunables, { g }), 'tile8x8_scalar') });
    const fresh = await makeEngine(stored);
    const scalar = await profiled(fresh, 'conv2dBackwardInput', () =>
      conv2dBackwardInput(fresh.tensor(dy, [1, 6, 6, 8]), fresh.tensor(w, wShape), xShape, { padding: 'same' }).read(),
    );
    expect(scalar.kernels).toEqual(['conv2d-backward.wgsl:input_tile8x8_scalar']);
    expect(fresh.tuner.pendingCount).toBe(0);
    assertClose(scalar.out, first.out, 1e-5, `dx scalar against tile8x8 (seed ${seed})`);
  });

  it('conv2dBackwardWeights: queued where both kernels apply, measured, same result', async () => {
    const engine = await makeEngine();
    const x = randomArray(rng, 2 * 5 * 5 * 4);
    const dy = randomArray(rng, 2 * 5 * 5 * 8);
    const run = () =>
      profiled(engine, 'conv2dBackwardWeights', () =>
        conv2dBackwardWeights(engine.tensor(x, [2, 5, 5, 4]), engine.tensor(dy, [2, 5, 5, 8]), [3, 3, 4, 8], { padding: 'same' }).read(),
      );
    const first = await run();
    expect(first.kernels[0]).toBe('conv2d-backward.wgsl:weight_tile8x8');
    expect(engine.tuner.pendingCount).toBe(1);
    const report = await engine.tuner.tune(TUNE);
    expect(report.tuned).toHaveLength(1);
    const rec = report.tuned[0]!;
    expect(rec.op).toBe('conv2dBackwardWeights');
    const tuned = await run();
    expect(tuned.kernels[0]).toBe(`conv2d-backward.wgsl:weight_${rec.variant}`);
    assertClose(tuned.out, first.out, 1e-5, `dw tuned (${rec.variant}) against default (seed ${seed})`);
  });

  it('a record stored under an older form of key is not used: the problem is queued and measured again', async () => {
    const store = new MemoryTuningStore();
    const probe = await makeEngine(store);
    const adapter = probe.tuner.adapterKey;
    const g = convGeometry('test', [1, 7, 7, 8], [3, 3, 8, 8], 1, 'same');
    const other = conv2dCandidates(g, probe).find((v) => v !== defaultConv2dVariant(g, probe))!;
    const oldKey = 'kernels 1a2b3c4d n1 7x7x8 k3x3 s1x1 p1,1,1,1 cout8';
    store.save({ [`${adapter}|conv2d|${oldKey}`]: planted('conv2d', oldKey, other) });
    const engine = await makeEngine(store);
    const { kernels } = await profiled(engine, 'conv2d', () =>
      conv2d(engine.tensor(randomArray(rng, 7 * 7 * 8), [1, 7, 7, 8]), engine.tensor(randomArray(rng, 9 * 64), [3, 3, 8, 8]), { padding: 'same' }).read(),
    );
    expect(kernels).toEqual([`conv2d.wgsl:${defaultConv2dVariant(g, engine)}`]);
    expect(engine.tuner.pendingCount).toBe(1);
    const report = await engine.tuner.tune(TUNE);
    expect(report.tuned).toHaveLength(1);
    // The old record stays in the store (another version of the package may still read it).
    expect(Object.keys(store.load())).toHaveLength(2);
  });
});
