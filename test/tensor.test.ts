/** Tensors: creation, dtypes, random generators, readback, disposal, scopes, memory statistics. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Engine } from '../src/runtime/engine.js';
import { InvalidArgumentError } from '../src/runtime/errors.js';
import { sizeClass } from '../src/runtime/pool.js';
import { add, relu } from '../src/ops/elementwise.js';
import { testEngine } from './support/engine.js';
import { freshSeed, makeRng, randomArray } from './support/random.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

describe('creating and reading tensors', () => {
  it('round-trips f32, i32 and u32 data of odd sizes', async () => {
    const rng = makeRng(freshSeed());
    await engine.scope(async () => {
      for (const n of [1, 3, 257, 1001]) {
        const f = randomArray(rng, n, -1e6, 1e6);
        const i = Int32Array.from(f, (v) => Math.round(v));
        const u = Uint32Array.from(f, (v) => Math.abs(Math.round(v)) * 4096);
        expect(Array.from(await engine.tensor(f).read())).toEqual(Array.from(f));
        const ti = engine.tensor(i);
        expect(ti.dtype).toBe('i32');
        expect(Array.from(await ti.read())).toEqual(Array.from(i));
        const tu = engine.tensor(u, [n], 'u32');
        expect(await tu.read()).toBeInstanceOf(Uint32Array);
        expect(Array.from(await tu.read())).toEqual(Array.from(u));
      }
    });
  });

  it('converts plain arrays to the requested dtype and keeps the shape', async () => {
    await engine.scope(async () => {
      const t = engine.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
      expect(t.shape).toEqual([2, 3]);
      expect(t.dtype).toBe('f32');
      expect(t.size).toBe(6);
      expect(Array.from(await engine.tensor([-1, 2], [2], 'i32').read())).toEqual([-1, 2]);
    });
  });

  it('zeros are zeros even on reused pooled memory', async () => {
    await engine.scope(async () => {
      engine.tensor(new Float32Array(300).fill(7)).dispose();
      const z = engine.zeros([300]);
      expect((await z.read()).every((v) => v === 0)).toBe(true);
    });
  });

  it('rejects bad shapes and mismatched data with a message naming the problem', () => {
    expect(() => engine.tensor([1, 2, 3], [2, 2])).toThrow(/data has 3 elements but shape \[2, 2\] holds 4/);
    expect(() => engine.zeros([2, -1])).toThrow(InvalidArgumentError);
    expect(() => engine.zeros([2.5])).toThrow(/non-negative integers/);
  });

  it('empty tensors read back as empty arrays', async () => {
    const t = engine.zeros([0, 3]);
    expect((await t.read()).length).toBe(0);
    t.dispose();
  });

  it('reshape and bitcast share the buffer; use after dispose throws', async () => {
    const t = engine.tensor([1, 2, 3, 4]);
    const r = t.reshape([2, 2]);
    expect(r.shape).toEqual([2, 2]);
    const bits = t.bitcast('u32');
    expect((await bits.read())[0]).toBe(0x3f800000);
    expect(() => t.reshape([3])).toThrow(/sizes differ/);
    t.dispose();
    expect(Array.from(await r.read())).toEqual([1, 2, 3, 4]); // storage lives while a view does
    r.dispose();
    bits.dispose();
    expect(() => relu(r)).toThrow(/disposed/);
  });
});

describe('seeded random tensors', () => {
  it('are reproducible per seed and differ across seeds', async () => {
    await engine.scope(async () => {
      const a = await engine.randomNormal([1001], { seed: 42 }).read();
      const b = await engine.randomNormal([1001], { seed: 42 }).read();
      const c = await engine.randomNormal([1001], { seed: 43 }).read();
      expect(Array.from(a)).toEqual(Array.from(b));
      expect(Array.from(a)).not.toEqual(Array.from(c));
      const u1 = await engine.randomUniform([99], { seed: 2 ** 40 + 5 }).read();
      const u2 = await engine.randomUniform([99], { seed: 5 }).read();
      expect(Array.from(u1)).not.toEqual(Array.from(u2)); // high bits of the seed matter
    });
  });

  it('have the requested distribution (moments within sampling error)', async () => {
    const seed = freshSeed();
    await engine.scope(async () => {
      const n = 200_001;
      const normal = await engine.randomNormal([n], { seed, mean: 3, std: 2 }).read();
      const mean = normal.reduce((s, v) => s + v, 0) / n;
      const variance = normal.reduce((s, v) => s + (v - mean) ** 2, 0) / n;
      expect(Math.abs(mean - 3)).toBeLessThan(0.02); // 5 standard errors (2/sqrt(n) ≈ 0.0045)
      expect(Math.abs(Math.sqrt(variance) - 2)).toBeLessThan(0.02);
      const uniform = await engine.randomUniform([n], { seed, low: -2, high: 6 }).read();
      expect(uniform.reduce((m, v) => Math.min(m, v), Infinity)).toBeGreaterThanOrEqual(-2);
      expect(uniform.reduce((m, v) => Math.max(m, v), -Infinity)).toBeLessThan(6);
      const umean = uniform.reduce((s, v) => s + v, 0) / n;
      expect(Math.abs(umean - 2)).toBeLessThan(0.03); // std 8/sqrt(12)/sqrt(n) ≈ 0.005
      expect(normal.every(Number.isFinite)).toBe(true);
    });
  });

  it('reject a bad seed', () => {
    expect(() => engine.randomNormal([3], { seed: -1 })).toThrow(/seed must be a non-negative integer/);
  });
});

describe('scopes and memory statistics', () => {
  it('live bytes return to the baseline after a scope; the returned tensor survives', async () => {
    const before = engine.memory().liveBytes;
    const liveBefore = engine.liveTensors;
    const kept = engine.scope(() => {
      const a = engine.randomNormal([64, 64], { seed: 1 });
      const b = engine.randomNormal([64, 64], { seed: 2 });
      return add(relu(a), b);
    });
    expect(engine.liveTensors).toBe(liveBefore + 1);
    expect(kept.isDisposed).toBe(false);
    expect((await kept.read()).length).toBe(64 * 64);
    kept.dispose();
    expect(engine.memory().liveBytes).toBe(before);
    expect(engine.liveTensors).toBe(liveBefore);
  });

  it('async scopes, nested scopes and tensors returned inside objects', async () => {
    const before = engine.memory().liveBytes;
    const result = await engine.scope(async () => {
      const inner = engine.scope(() => {
        const x = engine.tensor([1, -2, 3]);
        return { y: relu(x), tmp: [engine.zeros([5])] };
      });
      inner.tmp[0]!.dispose();
      const values = await inner.y.read();
      return { values, y: inner.y };
    });
    expect(Array.from(result.values)).toEqual([1, 0, 3]);
    expect(result.y.isDisposed).toBe(false);
    result.y.dispose();
    expect(engine.memory().liveBytes).toBe(before);
  });

  it('a scope that throws still disposes what it created', () => {
    const before = engine.memory().liveBytes;
    expect(() =>
      engine.scope(() => {
        engine.zeros([100]);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(engine.memory().liveBytes).toBe(before);
  });

  it('the pool reuses buffers: a repeated step creates no new buffers; peak and pooled bytes are tracked', async () => {
    const step = () =>
      engine.scope(() => {
        const a = engine.randomNormal([33, 17], { seed: 3 });
        return relu(add(a, a)).dispose();
      });
    step();
    await engine.flush();
    const created = engine.memory().created;
    engine.pool.resetPeak();
    const base = engine.memory().liveBytes;
    step();
    step();
    await engine.flush();
    const m = engine.memory();
    expect(m.created).toBe(created);
    expect(m.reused).toBeGreaterThan(0);
    expect(m.peakBytes).toBeGreaterThan(base);
    expect(m.pooledBytes).toBeGreaterThan(0);
    expect(m.liveBytes).toBe(base);
  });
});

describe('size classes', () => {
  it('cover the request, waste at most a quarter, and are monotonic (property-based)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 }), fc.integer({ min: 1, max: 2 ** 31 }), (x, y) => {
        const cx = sizeClass(x);
        expect(cx).toBeGreaterThanOrEqual(x);
        expect(cx % 16).toBe(0);
        if (x > 256) expect(cx).toBeLessThanOrEqual(x * 1.25 + 1);
        if (x <= y) expect(cx).toBeLessThanOrEqual(sizeClass(y));
      }),
    );
  });
});
