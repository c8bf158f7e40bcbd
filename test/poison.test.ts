/** Poisoning works: a kernel that leaves elements unwritten is caught by the comparison. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { KernelFamily } from '../src/runtime/kernel.js';
import { assertClose } from './support/compare.js';
import { testEngine } from './support/engine.js';

const halfCopy = new KernelFamily(
  'test_half_copy.wgsl',
  `@group(0) @binding(0) var<storage, read> src: array<f32>;
   @group(0) @binding(1) var<storage, read_write> dst: array<f32>;
   @compute @workgroup_size(64) fn even_only(@builtin(global_invocation_id) gid: vec3u) {
     let i = 2u * gid.x;
     if (i < arrayLength(&dst)) { dst[i] = src[i]; }
   }`,
);

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

describe('output poisoning', () => {
  it('fills outputs with NaN / 0xDEADBEEF before a kernel runs', async () => {
    await engine.scope(async () => {
      expect((await engine.empty([5]).read()).every(Number.isNaN)).toBe(true);
      expect(Array.from(await engine.empty([3], 'u32').read())).toEqual([0xdeadbeef, 0xdeadbeef, 0xdeadbeef]);
    });
  });

  it('a kernel that skips elements fails the comparison instead of passing on stale memory', async () => {
    await engine.scope(async () => {
      const data = Float32Array.from({ length: 128 }, (_, i) => i);
      const src = engine.tensor(data);
      const dst = engine.empty([128]);
      engine.dispatch({ op: 'evenOnly', kernel: halfCopy, entry: 'even_only', bindings: { src, dst }, workgroups: [1] });
      const got = await dst.read();
      expect(() => assertClose(got, data, 1e-6, 'even_only')).toThrow(/element 1 is NaN/);
    });
  });
});
