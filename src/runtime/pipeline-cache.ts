/**
 * Compute pipelines of one device, created on first use. Creating a pipeline compiles WGSL, far
 * slower than recording a dispatch, so each (kernel, entry, override values) is built once; the
 * shader module is shared by every entry and override set of its file.
 */
import type { KernelFamily } from './kernel.js';

export interface CachedPipeline {
  pipeline: GPUComputePipeline;
  module: GPUShaderModule;
}

export class PipelineCache {
  private modules = new Map<KernelFamily, GPUShaderModule>();
  private pipelines = new Map<string, CachedPipeline>();

  constructor(private readonly device: GPUDevice) {}

  get(kernel: KernelFamily, entry: string, overrides: Record<string, number>): CachedPipeline {
    const key = `${kernel.file}:${entry}:${Object.entries(overrides)
      .sort()
      .map(([k, v]) => `${k}=${v}`)
      .join(',')}`;
    let cached = this.pipelines.get(key);
    if (!cached) {
      let module = this.modules.get(kernel);
      if (!module) {
        module = this.device.createShaderModule({ code: kernel.code, label: `kernels/${kernel.file}` });
        this.modules.set(kernel, module);
      }
      const pipeline = this.device.createComputePipeline({ label: key, layout: 'auto', compute: { module, entryPoint: entry, constants: overrides } });
      cached = { pipeline, module };
      this.pipelines.set(key, cached);
    }
    return cached;
  }

  /** Pipelines built so far (tests check that a repeated op builds none). */
  get size(): number {
    return this.pipelines.size;
  }

  clear(): void {
    this.pipelines.clear();
    this.modules.clear();
  }
}
