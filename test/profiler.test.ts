/** GPU timing per dispatch: kernel, workgroups, time, declared cost; an honest fallback without
 * timestamp queries. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { add } from '../src/ops/elementwise.js';
import { matmul } from '../src/ops/matmul.js';
import { scaledAddInPlace } from '../src/ops/reduce.js';
import { MAX_TIMED_DISPATCHES } from '../src/runtime/profiler.js';
import { testEngine } from './support/engine.js';

let engine: Engine;
let noTimestamps: Engine;
beforeAll(async () => {
  engine = await testEngine({ poisonOutputs: false, profile: true });
  noTimestamps = await testEngine({ poisonOutputs: false, profile: true, disableFeatures: ['timestamp-query'] });
});
afterAll(() => {
  engine?.destroy();
  noTimestamps?.destroy();
});

async function runSome(e: Engine) {
  await e.scope(async () => {
    const a = e.randomNormal([96, 64], { seed: 1 });
    const b = e.randomNormal([64, 80], { seed: 2 });
    await e.sync();
    e.profiler.clear();
    const c = matmul(a, b);
    const d = add(c, c);
    await d.read();
  });
}

describe('profiler', () => {
  it('records kernel, workgroups, GPU time and declared cost of each dispatch', async () => {
    await runSome(engine);
    const recs = engine.profiler.records;
    expect(recs.map((r) => r.op)).toEqual(['matmul', 'add']);
    const mm = recs[0]!;
    expect(mm.kernel).toMatch(/^matmul\.wgsl:/);
    expect(mm.flops).toBe(2 * 96 * 64 * 80);
    expect(mm.bytes).toBe(4 * (96 * 64 + 64 * 80 + 96 * 80));
    expect(mm.workgroups.every((w) => w >= 1)).toBe(true);
    expect(mm.timing).toBe(engine.features.has('timestamp-query') ? 'timestamp' : 'cpu-wall');
    expect(mm.ms).toBeGreaterThan(0);
    const summary = engine.profiler.summary();
    expect(summary.find((s) => s.op === 'matmul')!.gflops).toBeCloseTo(mm.flops / mm.ms / 1e6, 6);
    const table = engine.profiler.format();
    expect(table).toMatch(/^matmul\s+matmul\.wgsl:\w+\s+1\s+[\d.]+\s+[\d.]+\s+[\d.]+$/m);
    expect(table).toMatch(/^add\s+elementwise\.wgsl:add\s+1\s/m);
  });

  it('without timestamp-query, times each dispatch on the CPU and marks the records cpu-wall', async () => {
    expect(noTimestamps.features.has('timestamp-query')).toBe(false);
    expect(noTimestamps.profiler.timing).toBe('cpu-wall');
    await runSome(noTimestamps);
    const recs = noTimestamps.profiler.records;
    expect(recs.map((r) => r.op)).toEqual(['matmul', 'add']);
    expect(recs.every((r) => r.timing === 'cpu-wall' && r.ms > 0)).toBe(true);
    expect(noTimestamps.profiler.format()).toMatch(/cpu-wall fallback/);
  });

  it('a profiled batch larger than one query set is split and still fully timed', async () => {
    await engine.scope(async () => {
      const x = engine.tensor(new Float32Array(8).fill(1));
      await engine.sync();
      engine.profiler.clear();
      let y = x;
      for (let i = 0; i < 1100; i++) y = add(y, x);
      expect(Array.from(await y.read())).toEqual(new Array(8).fill(1101));
    });
    expect(engine.profiler.records.length).toBe(1100);
  });

  it('the dispatch that finds the query set full keeps its own uniforms (each dispatch a different α)', async () => {
    // The full query set flushes the batch; a dispatch bound before that flush would have its
    // uniforms in an arena the next batch reuses, and read a later dispatch's α.
    for (const lead of [0, 1, 7]) {
      await engine.scope(async () => {
        const x = engine.tensor(new Float32Array(5).fill(1));
        const y = engine.tensor(new Float32Array(5));
        for (let i = 0; i < lead; i++) scaledAddInPlace(y, x, 0);
        await engine.sync();
        engine.profiler.clear();
        const n = MAX_TIMED_DISPATCHES + 300;
        for (let i = 1; i <= n; i++) scaledAddInPlace(y, x, i);
        // Whole numbers below 2^24: every partial sum is exact in float32.
        expect(Array.from(await y.read()), `lead ${lead}`).toEqual(new Array(5).fill((n * (n + 1)) / 2));
        expect(engine.profiler.records.length).toBe(n);
      });
    }
  });
});
