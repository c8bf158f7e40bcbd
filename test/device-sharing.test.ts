/**
 * One GPUDevice shared by the engine and TensorFlow.js's WebGPU backend (in Node, on Dawn):
 * tensors cross both ways without a copy (engine.wrapGpuBuffer of TF.js's dataToGPU buffer,
 * TF.js's tf.tensor({ buffer }) of tensor.gpuBuffer()), results checked against float64 CPU
 * references; the engine neither destroys the borrowed device nor takes over its error handler,
 * and a device below the kernels' limits is refused naming each missing limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../src/runtime/engine.js';
import { DeviceRequirementsError, REQUIRED_LIMITS, requestGpuDevice, selectAdapter, type AcquiredDevice } from '../src/runtime/device.js';
import { InvalidArgumentError } from '../src/runtime/errors.js';
import { KernelFamily } from '../src/runtime/kernel.js';
import { add, matmul, relu } from '../src/index.js';
import { freshSeed, makeRng, randomArray } from './support/random.js';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expandWgslIncludes } from '../scripts/wgsl-include.mjs';

type Tf = typeof import('@tensorflow/tfjs-core');

const seed = freshSeed();
const rng = makeRng(seed);
/** float32 kernels against float64 sums of at most a few dozen products. */
const TOL = 1e-5;

function matmulRef(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) c[i * n + j]! += a[i * k + p]! * b[p * n + j]!;
  return c;
}

function maxRelErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / Math.max(1, Math.abs(want[i]!)));
  return worst;
}

let acquired: AcquiredDevice;
let engine: Engine;
let tf: Tf;
const ownerErrors: string[] = [];
const ownerHandler = (ev: GPUUncapturedErrorEvent): void => void ownerErrors.push(ev.error.message);

beforeAll(async () => {
  acquired = await requestGpuDevice();
  acquired.device.onuncapturederror = ownerHandler;
  engine = await createEngine({ device: acquired.device, poisonOutputs: true });
  // TF.js's WebGPU backend looks for navigator.gpu when constructed (Node 20 has no navigator).
  (globalThis as { navigator?: unknown }).navigator ??= { gpu: acquired.gpu, userAgent: 'node' };
  tf = await import('@tensorflow/tfjs-core');
  const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
  // TF.js's kernels are registered for the backend name 'webgpu': replace the factory its
  // import registered (which would request a device of its own) by one on the shared device.
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new WebGPUBackend(acquired.device, acquired.info));
  expect(await tf.setBackend('webgpu')).toBe(true);
  // TF.js runs small ops on the CPU by default; this test wants its results on the GPU.
  tf.env().set('WEBGPU_CPU_FORWARD', false);
});

afterAll(() => {
  engine?.destroy();
  if (tf?.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  acquired?.device.destroy();
});

describe(`a GPUDevice shared with TensorFlow.js (seed ${seed})`, () => {
  it('runs on the given device, keeps its owner’s error handler and says it is shared', () => {
    expect(engine.device).toBe(acquired.device);
    expect(engine.sharedDevice).toBe(true);
    expect(acquired.device.onuncapturederror).toBe(ownerHandler);
    expect(engine.features.has('subgroups')).toBe(acquired.features.has('subgroups'));
  });

  for (const [m, k, n] of [
    [5, 7, 3],
    [33, 17, 9],
  ] as const) {
    it(`TF.js → engine: matmul [${m},${k}]·[${k},${n}] on TF.js's GPU buffers, no copy`, async () => {
      const a = randomArray(rng, m * k);
      const b = randomArray(rng, k * n);
      // Results of TF.js GPU kernels (dataToGPU refuses CPU-side data); × 2 is exact.
      const aTf = tf.tidy(() => tf.mul(tf.tensor2d(a, [m, k]), tf.scalar(2)));
      const bTf = tf.tidy(() => tf.mul(tf.tensor2d(b, [k, n]), tf.scalar(2)));
      const aGpu = aTf.dataToGPU();
      const bGpu = bTf.dataToGPU();
      const created = engine.memory().created;
      const aT = engine.wrapGpuBuffer(aGpu.buffer!, [m, k]);
      const bT = engine.wrapGpuBuffer(bGpu.buffer!, [k, n]);
      expect(aT.isExternal).toBe(true);
      expect(engine.memory().created).toBe(created); // wrapping allocates nothing
      const c = matmul(aT, bT);
      const got = await c.read();
      expect(
        maxRelErr(
          got,
          matmulRef(
            a.map((v) => 2 * v),
            b.map((v) => 2 * v),
            m,
            k,
            n,
          ),
        ),
      ).toBeLessThan(TOL);
      c.dispose();
      aT.dispose();
      bT.dispose();
      // The wrapped buffers are still TF.js's: disposing the engine's tensors left them whole.
      const again = tf.tensor({ buffer: aGpu.buffer! }, [m, k], 'float32');
      expect(Array.from(await again.data())).toEqual(Array.from(a, (v) => 2 * v));
      again.dispose();
      aGpu.tensorRef.dispose();
      bGpu.tensorRef.dispose();
      aTf.dispose();
      bTf.dispose();
    });
  }

  it('engine → TF.js: gpuBuffer() of relu(a + b) read by tf.tensor({ buffer, zeroCopy }) and used in a TF.js op', async () => {
    const shape = [3, 11];
    const a = randomArray(rng, 33);
    const b = randomArray(rng, 33);
    const y = engine.scope(() => relu(add(engine.tensor(a, shape), engine.tensor(b, shape))));
    const buffer = await y.gpuBuffer();
    const yTf = tf.tensor({ buffer, zeroCopy: true }, shape, 'float32');
    const z = tf.mul(yTf, tf.scalar(3));
    const got = await z.data();
    const want = Array.from(a, (v, i) => 3 * Math.max(0, v + b[i]!));
    expect(maxRelErr(got as Float32Array, want)).toBeLessThan(TOL);
    z.dispose();
    yTf.dispose();
    y.dispose();
  });

  it('wrapping refuses buffers without STORAGE, too small, and read() names a missing COPY_SRC', async () => {
    const device = acquired.device;
    const uniform = device.createBuffer({ size: 64, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: 'not-storage' });
    expect(() => engine.wrapGpuBuffer(uniform, [4])).toThrow(/'not-storage'.*lacks GPUBufferUsage\.STORAGE/);
    const small = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
    expect(() => engine.wrapGpuBuffer(small, [5])).toThrow(/16 bytes.*f32\[5\] tensor needs 20 bytes/);
    expect(() => engine.wrapGpuBuffer({} as GPUBuffer, [1])).toThrow(InvalidArgumentError);
    const storageOnly = engine.wrapGpuBuffer(small, [4]);
    await expect(storageOnly.read()).rejects.toThrow(/without GPUBufferUsage\.COPY_SRC/);
    // It still works as an op input: relu reads it and its output can be read.
    const r = relu(storageOnly);
    await expect(r.read()).resolves.toHaveLength(4);
    r.dispose();
    storageOnly.dispose();
    uniform.destroy();
    small.destroy();
  });

  it('errors of other code on the shared device reach its owner, not the engine’s flush', async () => {
    const reported = new Promise<void>((resolve) => device().addEventListener('uncapturederror', () => resolve(), { once: true }));
    // MAP_READ may only be combined with COPY_DST: a validation error outside any error scope.
    device().createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE, label: 'someone-elses' });
    await reported;
    const x = engine.tensor([1, -2, 3]);
    const y = relu(x);
    await expect(y.read()).resolves.toEqual(new Float32Array([1, 0, 3]));
    expect(ownerErrors.some((m) => m.includes('someone-elses'))).toBe(true);
    x.dispose();
    y.dispose();
  });

  it('destroy() leaves the shared device alive for TF.js and a second engine', async () => {
    const second = await createEngine({ device: acquired.device });
    const t = second.tensor([1, 2, 3]);
    second.destroy();
    expect(() => t.buffer).toThrow(/engine was destroyed/);
    const x = tf.tensor1d([1, 2, 3]);
    expect(Array.from(await tf.add(x, x).data())).toEqual([2, 4, 6]);
    const third = await createEngine({ device: acquired.device });
    await expect(relu(third.tensor([-1, 5])).read()).resolves.toEqual(new Float32Array([0, 5]));
    third.destroy();
    expect(acquired.device.onuncapturederror).toBe(ownerHandler);
  });
});

function device(): GPUDevice {
  return acquired.device;
}

describe('a device below the kernels’ limits', () => {
  it('is refused with a DeviceRequirementsError naming each missing limit', async () => {
    const { adapter } = await selectAdapter();
    const plain = await adapter.requestDevice(); // WebGPU's default limits: 8 storage buffers per stage
    try {
      const err = await createEngine({ device: plain }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DeviceRequirementsError);
      expect((err as DeviceRequirementsError).missing).toEqual([
        `maxStorageBuffersPerShaderStage is ${plain.limits.maxStorageBuffersPerShaderStage}, the kernels need 9`,
      ]);
      expect((err as Error).message).toMatch(/deviceDescriptorFor\(adapter\)/);
    } finally {
      plain.destroy();
    }
    await expect(createEngine({ device: 'gpu' as unknown as GPUDevice })).rejects.toThrow(/options\.device must be a GPUDevice/);
  });

  it('REQUIRED_LIMITS covers every kernel entry: storage buffers, workgroup size and memory', () => {
    const dir = fileURLToPath(new URL('../kernels/', import.meta.url));
    let storage = 0;
    let invocations = 0;
    let sizeX = 0;
    let sizeY = 0;
    let groups = 0;
    let workgroupBytes = 0;
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.wgsl'))) {
      const code = expandWgslIncludes(dir + file);
      const family = new KernelFamily(file, code);
      for (const name of family.entryNames) {
        const entry = family.entry(name);
        storage = Math.max(storage, entry.bindings.filter((b) => b.kind === 'storage').length);
        groups = Math.max(groups, ...entry.bindings.map((b) => b.group + 1));
        const [x, y, z] = entry.workgroupSize;
        invocations = Math.max(invocations, x * y * z);
        sizeX = Math.max(sizeX, x);
        sizeY = Math.max(sizeY, y);
      }
      // Fixed-size workgroup arrays of f32 / vec4f, summed per file (an upper bound per entry).
      let bytes = 0;
      for (const m of code.matchAll(/var<workgroup>\s*\w+\s*:\s*([^;]+);/g)) bytes += workgroupVarBytes(m[1]!.trim());
      workgroupBytes = Math.max(workgroupBytes, bytes);
    }
    expect(storage).toBe(REQUIRED_LIMITS.maxStorageBuffersPerShaderStage);
    expect(invocations).toBeLessThanOrEqual(REQUIRED_LIMITS.maxComputeInvocationsPerWorkgroup);
    expect(sizeX).toBeLessThanOrEqual(REQUIRED_LIMITS.maxComputeWorkgroupSizeX);
    expect(sizeY).toBeLessThanOrEqual(REQUIRED_LIMITS.maxComputeWorkgroupSizeY);
    expect(groups).toBeLessThanOrEqual(REQUIRED_LIMITS.maxBindGroups);
    expect(workgroupBytes).toBe(REQUIRED_LIMITS.maxComputeWorkgroupStorageSize);
  });
});

/** Bytes of a workgroup variable's type: scalars, vectors and nested fixed arrays; an array
 * sized by an override (reduce.wgsl's WG) counts at its 256-invocation maximum. */
function workgroupVarBytes(type: string): number {
  const scalar: Record<string, number> = { f32: 4, i32: 4, u32: 4, vec2f: 8, vec3u: 16, vec3f: 16, vec4f: 16, vec4u: 16, 'atomic<u32>': 4, 'atomic<i32>': 4 };
  if (type in scalar) return scalar[type]!;
  const m = /^array<(.+),\s*(\w+)>$/.exec(type);
  if (!m) throw new Error(`workgroup variable of unknown type ${type}`);
  const count = /^\d+$/.test(m[2]!) ? Number(m[2]) : 256;
  return count * workgroupVarBytes(m[1]!.trim());
}
