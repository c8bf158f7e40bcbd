/**
 * In Chromium: one GPUDevice from navigator.gpu shared by the engine and TensorFlow.js's WebGPU
 * backend, tensors passed both ways without a copy and checked against float64 references; the
 * engine leaves the device alive when destroyed; a device with WebGPU's default limits is refused
 * naming the missing limit. page.ts runs these; browser.test.ts asserts each name.
 */
import * as tf from '@tensorflow/tfjs-core';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { createEngine } from '../../src/runtime/engine.js';
import { deviceDescriptorFor, DeviceRequirementsError } from '../../src/runtime/device.js';
import { add, relu } from '../../src/ops/elementwise.js';
import { matmul } from '../../src/ops/matmul.js';
import { randomArray, type Rng } from '../support/random.js';
import type { PageResult } from './page.js';

export const SHARED_DEVICE_CHECKS = [
  'shared device: TF.js WebGPU and the engine on one navigator.gpu device pass tensors both ways without a copy',
  'shared device: a device with WebGPU default limits is refused naming maxStorageBuffersPerShaderStage',
] as const;

/** float32 kernels against float64 sums of a few dozen products. */
const TOL = 1e-5;

function maxRelErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`got ${got.length} values, expected ${want.length}`);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / Math.max(1, Math.abs(want[i]!)));
  return worst;
}

async function adapter(): Promise<GPUAdapter> {
  const a = await navigator.gpu.requestAdapter();
  if (!a) throw new Error('navigator.gpu.requestAdapter() returned null');
  return a;
}

async function shareWithTfjs(rng: Rng): Promise<void> {
  const gpuAdapter = await adapter();
  const device = await gpuAdapter.requestDevice(deviceDescriptorFor(gpuAdapter));
  const engine = await createEngine({ device, poisonOutputs: true, tuning: 'off' });
  try {
    if (!engine.sharedDevice) throw new Error('engine.sharedDevice is false for a device passed in');
    // TF.js's kernels are registered under 'webgpu': put that name on the shared device.
    if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
    tf.registerBackend('webgpu', () => new WebGPUBackend(device, gpuAdapter.info));
    if (!(await tf.setBackend('webgpu'))) throw new Error('TF.js did not start its WebGPU backend on the shared device');
    tf.env().set('WEBGPU_CPU_FORWARD', false); // keep TF.js's small results on the GPU

    // TF.js → engine: TF.js's GPU buffers wrapped and multiplied by the engine.
    const [m, k, n] = [9, 13, 5];
    const a = randomArray(rng, m * k);
    const b = randomArray(rng, k * n);
    const aTf = tf.tidy(() => tf.mul(tf.tensor2d(a, [m, k]), tf.scalar(2)));
    const bTf = tf.tidy(() => tf.mul(tf.tensor2d(b, [k, n]), tf.scalar(2)));
    const aGpu = aTf.dataToGPU();
    const bGpu = bTf.dataToGPU();
    const c = matmul(engine.wrapGpuBuffer(aGpu.buffer!, [m, k]), engine.wrapGpuBuffer(bGpu.buffer!, [k, n]));
    const want = new Float64Array(m * n);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) want[i * n + j]! += 4 * a[i * k + p]! * b[p * n + j]!;
    const errIn = maxRelErr(await c.read(), want);
    if (!(errIn < TOL)) throw new Error(`TF.js → engine matmul: relative error ${errIn} over ${TOL}`);

    // Engine → TF.js: the engine's output buffer read by a TF.js op.
    const x = randomArray(rng, 21);
    c.dispose();
    const y = engine.scope(() => {
      const xt = engine.tensor(x, [3, 7]);
      return relu(add(xt, xt));
    });
    const yTf = tf.tensor({ buffer: await y.gpuBuffer(), zeroCopy: true }, [3, 7], 'float32');
    const z = tf.mul(yTf, tf.scalar(3));
    const errOut = maxRelErr(
      await z.data(),
      Array.from(x, (v) => 3 * Math.max(0, 2 * v)),
    );
    if (!(errOut < TOL)) throw new Error(`engine → TF.js: relative error ${errOut} over ${TOL}`);
    tf.dispose([aTf, bTf, aGpu.tensorRef, bGpu.tensorRef, yTf, z]);

    engine.destroy();
    // The device is still TF.js's to use.
    const s = tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4]));
    const sum = Array.from(await s.data());
    if (sum.join() !== '4,6') throw new Error(`TF.js after engine.destroy(): [1,2]+[3,4] gave [${sum.join()}]`);
  } finally {
    engine.destroy();
    tf.removeBackend('webgpu');
    device.destroy();
  }
}

async function refuseDefaultLimits(): Promise<void> {
  const plain = await (await adapter()).requestDevice();
  try {
    const have = plain.limits.maxStorageBuffersPerShaderStage;
    const err = await createEngine({ device: plain }).then(
      (e) => {
        e.destroy();
        return undefined;
      },
      (e: unknown) => e,
    );
    // A device requested without limits gets WebGPU's defaults: 8 storage buffers per stage.
    if (have !== 8) throw new Error(`a device requested without limits has maxStorageBuffersPerShaderStage ${have}, not WebGPU's default 8`);
    if (!(err instanceof DeviceRequirementsError)) throw new Error(`expected a DeviceRequirementsError, got ${String(err)}`);
    if (err.missing.join() !== `maxStorageBuffersPerShaderStage is ${have}, the kernels need 9`)
      throw new Error(`unexpected missing list: ${err.missing.join('; ')}`);
  } finally {
    plain.destroy();
  }
}

/** Runs every check; one result per name in SHARED_DEVICE_CHECKS. */
export async function runSharedDeviceChecks(rng: Rng): Promise<PageResult[]> {
  const checks: [(typeof SHARED_DEVICE_CHECKS)[number], () => Promise<void>][] = [
    [SHARED_DEVICE_CHECKS[0], () => shareWithTfjs(rng)],
    [SHARED_DEVICE_CHECKS[1], refuseDefaultLimits],
  ];
  const results: PageResult[] = [];
  for (const [name, run] of checks) {
    try {
      await run();
      results.push({ name, ok: true });
    } catch (e) {
      results.push({ name, ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    }
  }
  return results;
}
