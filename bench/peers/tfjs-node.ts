/**
 * TensorFlow.js with its WebGPU backend, in Node, on the adapter the engine uses: the engine's
 * driver choice (lavapipe, SwiftShader or a GPU) picks the Vulkan driver, and TF.js gets its own
 * device from a fresh adapter of that driver. Its backend registers itself when imported and
 * looks for `navigator.gpu`, so that global is set first and the import is dynamic.
 */
import type { Engine } from '../../src/runtime/engine.js';
import { selectNodeAdapter, type DriverChoice } from '../../src/runtime/gpu-node.js';

export type Tf = typeof import('@tensorflow/tfjs-core');

export interface TfjsPeer {
  tf: Tf;
  version: string;
  adapter: string;
  /** Throws if TF.js's device reported an error since the last call: TF.js does not check, and a
   * failed pipeline would otherwise leave a silently wrong or empty result in a row. */
  checkErrors(what: string): void;
}

export async function loadTfjsWebgpu(engine: Engine): Promise<TfjsPeer> {
  // The engine's driver, as a choice selectNodeAdapter accepts ('software (user ICD)' and the
  // like mean the environment already names the driver: 'system' keeps to it).
  const driver: DriverChoice = (['lavapipe', 'swiftshader', 'hardware'] as const).find((d) => d === engine.driver) ?? 'system';
  const selection = await selectNodeAdapter(driver);
  if (!selection.adapter) throw new Error(`TensorFlow.js peer: no adapter for driver '${driver}'`);
  (globalThis as { navigator?: unknown }).navigator = { gpu: selection.gpu, userAgent: 'node' };
  const tf = await import('@tensorflow/tfjs-core');
  // tfjs-core alone has no gradient functions; the union package registers them (its ESM
  // gradient files do not load in Node), and the training row needs them.
  await import('@tensorflow/tfjs');
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('TensorFlow.js peer: its WebGPU backend did not start');
  await tf.ready();
  const info = selection.adapter.info;
  const device = (tf.backend() as unknown as { device?: GPUDevice }).device;
  if (!device) throw new Error('TensorFlow.js peer: its WebGPU backend exposes no device to watch for errors');
  const errors: string[] = [];
  device.addEventListener('uncapturederror', (e) => errors.push((e as GPUUncapturedErrorEvent).error.message.split('\n')[0]!));
  return {
    tf,
    version: tf.version_core,
    adapter: `${info.vendor} / ${info.architecture} / ${info.description}`,
    checkErrors(what) {
      if (errors.length === 0) return;
      const first = [...new Set(errors)].slice(0, 3).join(' | ');
      errors.length = 0;
      throw new Error(`TensorFlow.js (WebGPU) reported GPU errors during ${what}: ${first}`);
    },
  };
}
