/**
 * Custom kernels as a public API (src/runtime/custom-kernel.ts): compile errors at definition
 * with line and column, binding mistakes naming the kernel, results against a float64
 * reference on poisoned outputs, override constants, the profiler's names, and variants chosen
 * by measurement and persisted in the tuning store. Every engine gets a memory store (the
 * default is the user's ~/.cache file).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineKernel, defineVariants, type CustomKernel } from '../src/runtime/custom-kernel.js';
import type { Engine } from '../src/runtime/engine.js';
import { InvalidArgumentError, KernelBindingError, KernelCompileError } from '../src/runtime/errors.js';
import type { PipelineCache } from '../src/runtime/pipeline-cache.js';
import { MemoryTuningStore } from '../src/runtime/tuner.js';
import { anchor } from '../src/runtime/tuning-key.js';
import { assertClose } from './support/compare.js';
import {
  BROKEN_COLUMN,
  BROKEN_LINE,
  BROKEN_WGSL,
  defineDepthwise,
  depthwiseReference,
  dispatchDepthwise,
  dispatchDepthwiseVec4,
  type DepthwiseProblem,
} from './support/custom-kernels.js';
import { testEngine } from './support/engine.js';
import { freshSeed, makeRng, randomArray } from './support/random.js';

/** float32 sums of 9 products against float64. */
const TOLERANCE = 1e-5;
const seed = freshSeed();
const rng = makeRng(seed);
const replay = `(seed ${seed}; replay with TEST_SEED=${seed})`;

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine({ tuning: 'off', tuningStore: new MemoryTuningStore() });
});
afterAll(() => engine?.destroy());

async function thrown(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error, none was thrown');
}

const SCALE_WGSL = /* wgsl */ `
struct Params { n: u32, offset: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read> table: array<f32, 16>;
override SCALE: f32 = 1.0;
override BIAS: f32;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= params.n) { return; }
  y[gid.x] = SCALE * x[gid.x] + params.offset + BIAS + table[gid.x % 16u];
}

@compute @workgroup_size(64)
fn negate(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x < arrayLength(&y)) { y[gid.x] = -x[gid.x]; }
}`;

describe('definition', () => {
  it('throws a KernelCompileError at definition with the line, column, source line and the kernel name', async () => {
    const e = await thrown(() => defineKernel(engine, { name: 'broken', code: BROKEN_WGSL }));
    expect(e).toBeInstanceOf(KernelCompileError);
    const err = e as KernelCompileError;
    expect(err.kernel).toBe('broken');
    expect(err.messages[0]).toMatchObject({ type: 'error', line: BROKEN_LINE, column: BROKEN_COLUMN });
    expect(err.message).toMatch(/^kernel 'broken' does not compile \(1 error\):/);
    expect(err.message).toContain(`broken:${BROKEN_LINE}:${BROKEN_COLUMN}: error: `);
    const lines = err.message.split('\n');
    const at = lines.findIndex((l) => l.includes('let v: f32 = i * 2u;'));
    expect(at, err.message).toBeGreaterThan(0);
    // The caret stands under the column the compiler named.
    expect(lines[at + 1]!.indexOf('^') - lines[at]!.indexOf('|')).toBe(lines[at]!.indexOf('let v') - lines[at]!.indexOf('|') + 4);
    expect(err.message).not.toMatch(/kernels\//);
    // WebGPU's own report of the bad module was captured, so the engine's next flush is clean.
    await engine.flush();
  });

  it('throws a KernelCompileError naming the entry when a pipeline fails WebGPU validation (too much workgroup memory)', async () => {
    const words = engine.limits.maxComputeWorkgroupStorageSize / 4 + 256;
    const code = `var<workgroup> big: array<f32, ${words}>;
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(64) fn greedy(@builtin(local_invocation_index) i: u32) { big[i] = f32(i); workgroupBarrier(); out[i] = big[63u - i]; }`;
    const e = await thrown(() => defineKernel(engine, { name: 'greedy', code }));
    expect(e).toBeInstanceOf(KernelCompileError);
    expect((e as Error).message).toMatch(/^kernel 'greedy' does not compile/);
    expect((e as KernelCompileError).messages[0]!.entry).toBe('greedy');
    expect((e as Error).message).toMatch(/greedy \(entry greedy\): error: .*workgroup storage/);
    await engine.flush();
  });

  it('turns what the binding reflection cannot handle into a KernelCompileError at definition', async () => {
    const code = `struct P { m: mat4x4<f32> }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(1) fn main() { y[0] = p.m[0][0]; }`;
    const e = await thrown(() => defineKernel(engine, { name: 'matrixUniform', code }));
    expect(e).toBeInstanceOf(KernelCompileError);
    expect((e as Error).message).toMatch(/^kernel 'matrixUniform' does not compile \(1 error\):\nmatrixUniform: error: uniform p\.m has type mat4x4/);
  });

  it('refuses a bad name, an unknown entry or override, and WGSL without compute entries', async () => {
    await expect(defineKernel(engine, { name: '9lives', code: SCALE_WGSL })).rejects.toThrow(/name "9lives" must start with a letter/);
    await expect(defineKernel(engine, { name: 'scale', code: SCALE_WGSL, entries: ['mian'] })).rejects.toThrow(
      /defineKernel 'scale': no compute entry point 'mian'; the WGSL has: main, negate/,
    );
    await expect(defineKernel(engine, { name: 'scale', code: SCALE_WGSL, overrides: { SCALEE: 2 } })).rejects.toThrow(
      /override 'SCALEE' is not declared in the WGSL \(declared: SCALE, BIAS\)/,
    );
    await expect(defineKernel(engine, { name: 'empty', code: 'fn f() -> f32 { return 1.0; }' })).rejects.toThrow(InvalidArgumentError);
  });

  it('reflects entries, bindings and overrides', async () => {
    const k = await defineKernel(engine, { name: 'scale', code: SCALE_WGSL, overrides: { BIAS: 0 } });
    expect(k.entries.map((e) => e.name)).toEqual(['main', 'negate']);
    expect(k.entry('main').bindings.map((b) => `${b.name}:${b.kind}`)).toEqual(['x:storage', 'y:storage', 'params:uniform', 'table:storage']);
    expect(k.overrides.map((o) => o.name)).toEqual(['SCALE', 'BIAS']);
    expect(k.describe('main')).toMatch(/^kernel 'scale' entry 'main' expects:/);
    expect(() => k.dispatch({ bindings: {}, workgroups: [1] })).toThrow(/kernel 'scale' has 2 entry points \(main, negate\); name one as entry/);
  });
});

describe('dispatch', () => {
  let scale: CustomKernel;
  beforeAll(async () => {
    scale = await defineKernel(engine, { name: 'scale', code: SCALE_WGSL, overrides: { BIAS: 0.5 } });
  });

  /** Runs main on fresh inputs and compares with the float64 formula. */
  async function checkScale(n: number, overrides: Record<string, number> | undefined, factor: number, bias: number): Promise<void> {
    const xs = randomArray(rng, n);
    const table = randomArray(rng, 16);
    const offset = rng() - 0.5;
    await engine.scope(async () => {
      const y = engine.empty([n]);
      scale.dispatch({
        entry: 'main',
        bindings: { x: engine.tensor(xs), y, params: { n, offset }, table: engine.tensor(table) },
        workgroups: engine.grid1d(n, 64),
        ...(overrides ? { overrides } : {}),
      });
      const ref = Array.from(xs, (v, i) => factor * v + Math.fround(offset) + bias + table[i % 16]!);
      assertClose(await y.read(), ref, TOLERANCE, `scale n=${n} ${JSON.stringify(overrides)} ${replay}`);
    });
  }

  it('uses the definition’s override values, and a dispatch’s own over them', async () => {
    await checkScale(131, undefined, 1, 0.5);
    await checkScale(131, { SCALE: 3 }, 3, 0.5);
    await checkScale(65, { SCALE: -2, BIAS: 4 }, -2, 4);
    await checkScale(1, undefined, 1, 0.5);
  });

  it('computes a depthwise 3×3 convolution like the float64 reference (odd sizes, poisoned outputs)', async () => {
    const { scalar, vec4 } = await defineDepthwise(engine);
    for (const shape of [
      [1, 5, 7, 3],
      [2, 9, 4, 5],
      [1, 1, 1, 1],
      [3, 6, 11, 8],
    ] as const) {
      const xs = randomArray(
        rng,
        (shape as readonly number[]).reduce((a, b) => a * b, 1),
      );
      const ws = randomArray(rng, 9 * shape[3]);
      const ref = depthwiseReference(xs, ws, shape);
      for (const wg of [64, 32]) {
        await engine.scope(async () => {
          const p: DepthwiseProblem = { x: engine.tensor(xs, [...shape]), weights: engine.tensor(ws, [3, 3, shape[3]]), y: engine.empty([...shape]) };
          dispatchDepthwise(scalar, p, wg);
          assertClose(await p.y.read(), ref, TOLERANCE, `depthwise ${shape.join('×')} WG=${wg} ${replay}`);
        });
      }
      if (shape[3] % 4 === 0) {
        await engine.scope(async () => {
          const p: DepthwiseProblem = { x: engine.tensor(xs, [...shape]), weights: engine.tensor(ws, [3, 3, shape[3]]), y: engine.empty([...shape]) };
          dispatchDepthwiseVec4(vec4, p);
          assertClose(await p.y.read(), ref, TOLERANCE, `depthwise vec4 ${shape.join('×')} ${replay}`);
        });
      }
    }
  });

  it('refuses missing, extra, wrong-size and wrong-dtype bindings with an error naming the kernel', () => {
    engine.scope(() => {
      const x = engine.zeros([32]);
      const y = engine.zeros([32]);
      const table = engine.zeros([16]);
      const ok = { x, y, params: { n: 32, offset: 0 }, table };
      const attempt = (bindings: Record<string, unknown>) => () => scale.dispatch({ entry: 'main', bindings: bindings as typeof ok, workgroups: [1] });
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ x, y, params: ok.params }, /wrong bindings: missing table/],
        [{ ...ok, z: x }, /not used by the kernel: z/],
        [{ ...ok, table: engine.zeros([10]) }, /binding 'table' is array<f32, 16> \(64 bytes\) but .* has only 40 bytes/],
        [{ ...ok, x: engine.zeros([32], 'i32') }, /binding 'x' holds array<f32> but .* is i32/],
        [{ ...ok, params: { n: 32 } }, /uniform 'params' \(Params\): missing offset/],
      ];
      for (const [bindings, problem] of cases) {
        const e = (() => {
          try {
            attempt(bindings)();
          } catch (err) {
            return err as Error;
          }
          throw new Error(`no error for ${problem}`);
        })();
        expect(e).toBeInstanceOf(KernelBindingError);
        expect(e.message).toMatch(/^kernel scale:main \(op scale\): /);
        expect(e.message).toMatch(problem);
        expect(e.message).toContain("kernel 'scale' entry 'main' expects:");
        expect(e.message).not.toMatch(/kernels\//);
      }
      expect(() => scale.dispatch({ entry: 'main', bindings: ok, workgroups: [1], overrides: { WG: 2 } })).toThrow(/override 'WG' is not declared/);
      expect(() => scale.dispatch({ entry: 'mian', bindings: ok, workgroups: [1] })).toThrow(/kernel 'scale' has no entry point 'mian'; it has: main, negate/);
    });
  });

  it('a kernel defined with `entries` allows only those', async () => {
    const only = await defineKernel(engine, { name: 'negateOnly', code: SCALE_WGSL, entries: ['negate'] });
    const xs = randomArray(rng, 37);
    await engine.scope(async () => {
      const y = engine.empty([37]);
      only.dispatch({ bindings: { x: engine.tensor(xs), y }, workgroups: [1] });
      assertClose(
        await y.read(),
        Array.from(xs, (v) => -v),
        0,
        `negate ${replay}`,
      );
    });
    expect(() => only.dispatch({ entry: 'main', bindings: {}, workgroups: [1] })).toThrow(/no entry point 'main'; it has: negate/);
  });

  it('dispatches use the pipelines compiled at definition instead of compiling again', async () => {
    // BIAS has no default: pipelines can be made at definition only once it has a value.
    const k = await defineKernel(engine, { name: 'negateAgain', code: SCALE_WGSL, entries: ['negate'], overrides: { BIAS: 0 } });
    const cache = (engine as unknown as { pipelines: PipelineCache }).pipelines;
    engine.scope(() => k.dispatch({ bindings: { x: engine.zeros([4]), y: engine.zeros([4]) }, workgroups: [1] }));
    await engine.flush();
    const made = k.family.precompiled.get(engine.device)!;
    expect(made.pipelines.size).toBe(1);
    expect(cache.get(k.family, 'negate', { BIAS: 0 }).pipeline).toBe(made.pipelines.get('negate:BIAS=0'));
    expect(cache.get(k.family, 'negate', { BIAS: 0 }).module).toBe(made.module);
  });

  it('a kernel redefined under the same name runs its new code', async () => {
    const code = (k: number) => `@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(1) fn main() { y[0] = ${k}.0; }`;
    for (const k of [1, 2]) {
      const kernel = await defineKernel(engine, { name: 'constant', code: code(k) });
      await engine.scope(async () => {
        const y = engine.empty([1]);
        kernel.dispatch({ bindings: { y }, workgroups: [1] });
        expect((await y.read())[0]).toBe(k);
      });
    }
  });

  it('refuses a tensor of another engine', async () => {
    const other = await testEngine({ tuning: 'off', tuningStore: new MemoryTuningStore() });
    try {
      const k = await defineKernel(engine, { name: 'negate', code: SCALE_WGSL, entries: ['negate'] });
      expect(() => engine.scope(() => k.dispatch({ bindings: { x: other.zeros([4]), y: engine.zeros([4]) }, workgroups: [1] }))).toThrow(
        /kernel 'negate': binding 'x' is .* a tensor of another engine/,
      );
    } finally {
      other.destroy();
    }
  });
});

describe('profiling', () => {
  it('the profiler files dispatches under the kernel’s name, and measure() times them', async () => {
    const { scalar } = await defineDepthwise(engine);
    const shape = [1, 8, 8, 4];
    await engine.scope(async () => {
      const p: DepthwiseProblem = { x: engine.randomNormal(shape, { seed: 1 }), weights: engine.randomNormal([3, 3, 4], { seed: 2 }), y: engine.empty(shape) };
      engine.profiler.clear();
      engine.profiler.enabled = true;
      try {
        dispatchDepthwise(scalar, p);
        await engine.sync();
      } finally {
        engine.profiler.enabled = false;
      }
      const mine = engine.profiler.records.filter((r) => r.op === 'depthwise3x3');
      expect(mine.map((r) => r.kernel)).toEqual(['depthwise3x3:main']);
      expect(mine[0]!.flops).toBe(18 * 8 * 8 * 4);
      expect(engine.profiler.format()).toContain('depthwise3x3:main');
      const stats = await scalar.measure(() => dispatchDepthwise(scalar, p), { warmup: 1, repeats: 2 });
      expect(stats.kernels).toEqual(['depthwise3x3:main']);
      expect(stats.runs).toBe(2);
      expect(stats.ms).toBeGreaterThanOrEqual(0);
      expect(stats.flops).toBe(18 * 8 * 8 * 4);
    });
  });
});

describe('variants', () => {
  type Problem = DepthwiseProblem;

  async function setup(e: Engine, calls: Record<string, number>) {
    const { scalar, vec4 } = await defineDepthwise(e);
    const variants = defineVariants(e, {
      name: 'depthwise3x3',
      variants: {
        scalar: (p: Problem) => {
          calls.scalar!++;
          dispatchDepthwise(scalar, p);
          return p.y;
        },
        vec4: (p: Problem) => {
          calls.vec4!++;
          dispatchDepthwiseVec4(vec4, p);
          return p.y;
        },
      },
      kernels: [scalar, vec4],
      key: (p) => ({ c: p.x.shape[3]!, pixels: anchor(p.x.shape[1]! * p.x.shape[2]!) }),
      repeats: 2,
    });
    return variants;
  }

  function problem(e: Engine, shape: number[], xs: Float32Array, ws: Float32Array): Problem {
    return { x: e.tensor(xs, shape), weights: e.tensor(ws, [3, 3, shape[3]!]), y: e.empty(shape) };
  }

  it('measures every candidate once per key, persists the choice, and a new engine on the same store reuses it without measuring', async () => {
    const store = new MemoryTuningStore();
    const shape = [1, 6, 7, 8];
    const xs = randomArray(rng, 6 * 7 * 8);
    const ws = randomArray(rng, 72);
    const ref = depthwiseReference(xs, ws, shape);
    const first = await testEngine({ tuning: 'auto', tuningStore: store });
    let chosen: string;
    try {
      const calls = { scalar: 0, vec4: 0 };
      const v = await setup(first, calls);
      expect(v.names).toEqual(['scalar', 'vec4']);
      await first.scope(async () => {
        const p = problem(first, shape, xs, ws);
        expect(v.stored(p)).toBeUndefined();
        const y = await v.run(p);
        // One warm-up round and two timed rounds each, then the chosen one's real run.
        chosen = (await v.choose(p))!;
        expect(calls[chosen as 'scalar']).toBe(4);
        expect(calls[chosen === 'scalar' ? 'vec4' : 'scalar']).toBe(3);
        assertClose(await y.read(), ref, TOLERANCE, `chosen variant ${chosen} ${replay}`);
      });
      const records = Object.values(store.load()).filter((r) => r.op === 'depthwise3x3');
      expect(records).toHaveLength(1);
      expect(Object.keys(records[0]!.ms).sort()).toEqual(['scalar', 'vec4']);
      expect(records[0]!.variant).toBe(chosen!);
      expect(records[0]!.shapeClass).toMatch(/^kernels=fnv[0-9a-f]{8} c=8 pixels=64$/);
    } finally {
      first.destroy();
    }

    const second = await testEngine({ tuning: 'auto', tuningStore: store });
    try {
      const calls = { scalar: 0, vec4: 0 };
      const v = await setup(second, calls);
      await second.scope(async () => {
        const p = problem(second, shape, xs, ws);
        expect(v.stored(p)).toBe(chosen);
        const y = await v.run(p);
        expect(calls).toEqual({ scalar: chosen === 'scalar' ? 1 : 0, vec4: chosen === 'vec4' ? 1 : 0 });
        assertClose(await y.read(), ref, TOLERANCE, `stored variant ${chosen} ${replay}`);
        // Another key is measured anew.
        const other = problem(second, [1, 3, 3, 4], randomArray(rng, 36), randomArray(rng, 36));
        expect(v.stored(other)).toBeUndefined();
        await v.choose(other);
        expect(calls.scalar + calls.vec4).toBe(1 + 6);
      });
    } finally {
      second.destroy();
    }
  });

  it('tuning off runs the default without measuring; a pin wins', async () => {
    const calls = { scalar: 0, vec4: 0 };
    const v = await setup(engine, calls);
    await engine.scope(async () => {
      const p = problem(engine, [1, 4, 4, 4], randomArray(rng, 64), randomArray(rng, 36));
      expect(await v.choose(p)).toBe('scalar');
      engine.tuner.pin('depthwise3x3', 'vec4');
      try {
        expect(await v.choose(p)).toBe('vec4');
        v.runStored(p);
      } finally {
        engine.tuner.pin('depthwise3x3', undefined);
      }
      expect(calls).toEqual({ scalar: 0, vec4: 1 });
    });
  });

  it('refuses an empty variant list and kernels of another engine', async () => {
    expect(() => defineVariants(engine, { name: 'none', variants: {}, kernels: [] })).toThrow(/variants is empty/);
    const { scalar } = await defineDepthwise(engine);
    expect(() => defineVariants(engine, { name: 'nokernels', variants: { a: () => undefined }, kernels: [] })).toThrow(/kernels must list the CustomKernels/);
    const other = await testEngine({ tuning: 'off', tuningStore: new MemoryTuningStore() });
    try {
      expect(() => defineVariants(other, { name: 'x', variants: { a: () => undefined }, kernels: [scalar] })).toThrow(
        /kernel 'depthwise3x3' was defined on another engine/,
      );
    } finally {
      other.destroy();
    }
  });
});
