/**
 * Errors are never silent: argument mistakes throw at the call, and WebGPU's own asynchronous
 * errors (validation, out-of-memory) come back as thrown GpuErrors naming the kernel and op.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { DeviceLimitError, GpuError, InvalidArgumentError } from '../src/runtime/errors.js';
import { KernelFamily } from '../src/runtime/kernel.js';
import { add } from '../src/ops/elementwise.js';
import { testEngine } from './support/engine.js';

const COPY_WGSL = /* wgsl */ `
struct CopyParams { n: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> params: CopyParams;
@compute @workgroup_size(64)
fn copy_scaled(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x < params.n) { dst[gid.x] = src[gid.x] * params.scale; }
}`;
const copyKernel = new KernelFamily('test_copy.wgsl', COPY_WGSL);

let engine: Engine;
let unchecked: Engine;
beforeAll(async () => {
  engine = await testEngine();
  // precheck off: limits are left to WebGPU, to prove its own errors surface too.
  unchecked = await testEngine({ precheck: false });
});
afterAll(() => {
  engine?.destroy();
  unchecked?.destroy();
});

function copySpec(e: Engine, n: number) {
  const src = e.zeros([n]);
  const dst = e.zeros([n]);
  return {
    op: 'testCopy',
    kernel: copyKernel,
    entry: 'copy_scaled',
    bindings: { src, dst, params: { n, scale: 2 } },
    workgroups: [Math.ceil(n / 64)] as [number],
  };
}

describe('invalid dispatches throw', () => {
  it('a workgroup count over the device limit throws at once, naming op, kernel, output tensor and limit, without the WGSL', () => {
    const spec = copySpec(engine, 8);
    const max = engine.limits.maxComputeWorkgroupsPerDimension;
    expect(() => engine.dispatch({ ...spec, workgroups: [max + 1] })).toThrow(DeviceLimitError);
    let message = '';
    try {
      engine.dispatch({ ...spec, workgroups: [max + 1] });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(
      new RegExp(
        `^testCopy \\(kernel test_copy\\.wgsl:copy_scaled\\): the grid \\[${max + 1}, 1, 1\\] .*maxComputeWorkgroupsPerDimension ${max}\\) for output tensor .*f32\\[8\\].*smaller pieces`,
      ),
    );
    expect(message).not.toMatch(/@group|@binding/);
  });

  it('the same dispatch without the JS precheck fails in WebGPU and the flush throws a GpuError naming the kernel', async () => {
    const spec = copySpec(unchecked, 8);
    unchecked.dispatch({ ...spec, workgroups: [unchecked.limits.maxComputeWorkgroupsPerDimension + 1] });
    const err = await unchecked.flush().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GpuError);
    expect((err as GpuError).kind).toBe('validation');
    expect((err as GpuError).message).toMatch(/test_copy\.wgsl:copy_scaled \(op testCopy\)/);
    // The engine stays usable after a failed batch.
    const out = add(unchecked.tensor([1, 2]), unchecked.tensor([3, 4]));
    expect(Array.from(await out.read())).toEqual([4, 6]);
  });

  it('a kernel asking for more workgroup memory than the device has throws at flush, naming it', async () => {
    const words = engine.limits.maxComputeWorkgroupStorageSize / 4 + 1024;
    const greedy = new KernelFamily(
      'test_greedy.wgsl',
      `var<workgroup> big: array<f32, ${words}>;
       @group(0) @binding(0) var<storage, read_write> out: array<f32>;
       @compute @workgroup_size(64) fn greedy(@builtin(local_invocation_index) i: u32) {
         big[i] = f32(i); workgroupBarrier(); out[i] = big[63u - i];
       }`,
    );
    const out = engine.zeros([64]);
    engine.dispatch({ op: 'testGreedy', kernel: greedy, entry: 'greedy', bindings: { out }, workgroups: [1] });
    const err = await engine.flush().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GpuError);
    expect((err as GpuError).message).toMatch(/test_greedy\.wgsl:greedy \(op testGreedy\)/);
    out.dispose();
  });

  it('a shader that does not compile throws at flush, naming the kernel', async () => {
    const broken = new KernelFamily(
      'test_broken.wgsl',
      `@group(0) @binding(0) var<storage, read_write> out: array<f32>;
      @compute @workgroup_size(1) fn broken() { out[0] = undefined_name; }`,
    );
    const out = engine.zeros([1]);
    engine.dispatch({ op: 'testBroken', kernel: broken, entry: 'broken', bindings: { out }, workgroups: [1] });
    await expect(engine.flush()).rejects.toThrow(/test_broken\.wgsl:broken/);
    out.dispose();
  });
});

describe('oversize buffers throw', () => {
  it('a tensor larger than maxBufferSize throws at creation, with the sizes', () => {
    const elements = Math.floor(engine.limits.maxBufferSize / 4) + 1024;
    expect(() => engine.zeros([elements])).toThrow(InvalidArgumentError);
    expect(() => engine.zeros([elements])).toThrow(/maxBufferSize/);
  });

  it('without the precheck, WebGPU rejects the buffer and the next flush throws a GpuError', async () => {
    const elements = Math.floor(unchecked.limits.maxBufferSize / 4) + 1024;
    const t = unchecked.zeros([elements]);
    const err = await unchecked.flush().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GpuError);
    expect((err as GpuError).message).toMatch(/storage buffer of \d+ bytes \(op allocate\)/);
    t.dispose();
  });
});

describe('bindings are checked against the reflected WGSL', () => {
  it('a missing binding lists what the kernel expects', () => {
    const spec = copySpec(engine, 4);
    const { dst: _dst, ...partial } = spec.bindings;
    let message = '';
    try {
      engine.dispatch({ ...spec, bindings: partial });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/missing dst/);
    expect(message).toMatch(/@group\(0\) @binding\(0\) src: storage, read, array<f32>/);
    expect(message).toMatch(/@group\(0\) @binding\(1\) dst: storage, read_write, array<f32>/);
    expect(message).toMatch(/params: uniform CopyParams \{ n: u32, scale: f32 \}/);
  });

  it('an extra binding, a wrong dtype, a number for a buffer, a bad uniform each throw', () => {
    const spec = copySpec(engine, 4);
    const ints = engine.tensor(new Int32Array(4));
    expect(() => engine.dispatch({ ...spec, bindings: { ...spec.bindings, extra: ints } })).toThrow(/not used by the kernel: extra/);
    expect(() => engine.dispatch({ ...spec, bindings: { ...spec.bindings, src: ints } })).toThrow(/holds array<f32> but .* is i32/);
    expect(() => engine.dispatch({ ...spec, bindings: { ...spec.bindings, src: { n: 1 } } })).toThrow(/needs a tensor/);
    expect(() => engine.dispatch({ ...spec, bindings: { ...spec.bindings, params: { n: 4 } } })).toThrow(/missing scale/);
    expect(() => engine.dispatch({ ...spec, bindings: { ...spec.bindings, params: { n: 4, scale: 1, typo: 2 } } })).toThrow(/unknown typo/);
    expect(() => engine.dispatch({ ...spec, overrides: { NOPE: 1 } })).toThrow(/override 'NOPE' is not declared/);
    expect(() => engine.dispatch({ ...spec, entry: 'nope' })).toThrow(/has no compute entry point 'nope'; it has: copy_scaled/);
  });

  it('binding one buffer as both input and output is refused (WebGPU forbids the aliasing)', () => {
    const spec = copySpec(engine, 4);
    expect(() => engine.dispatch({ ...spec, bindings: { ...spec.bindings, dst: spec.bindings.src } })).toThrow(/same buffer and one is written/);
  });

  it('a disposed tensor is refused', () => {
    const spec = copySpec(engine, 4);
    spec.bindings.src.dispose();
    expect(() => engine.dispatch(spec)).toThrow(/disposed/);
  });
});
