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
}

export async function loadTfjsWebgpu(engine: Engine): Promise<TfjsPeer> {
  // The engine's driver, as a choice selectNodeAdapter accepts ('software (user ICD)' and the
  // like mean the environment already names the driver: 'system' keeps to it).
  const driver: DriverChoice = (['lavapipe', 'swiftshader', 'hardware'] as const).find((d) => d === engine.driver) ?? 'system';
  const selection = await selectNodeAdapter(driver);
  if (!selection.adapter) throw new Error(`TensorFlow.js peer: no adapter for driver '${driver}'`);
  (globalThis as { navigator?: unknown }).navigator = { gpu: selection.gpu, userAgent: 'node' };
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('TensorFlow.js peer: its WebGPU backend did not start');
  await tf.ready();
  const info = selection.adapter.info;
  return { tf, version: tf.version_core, adapter: `${info.vendor} / ${info.architecture} / ${info.description}` };
}
