/**
 * Compute pipelines of one device, created on first use. Creating a pipeline compiles WGSL, far
 * slower than recording a dispatch, so each (kernel, entry, override values) is built once; the
 * shader module is shared by every entry and override set of its file.
 */
import { pipelineKey, type KernelFamily } from './kernel.js';

export interface CachedPipeline {
  pipeline: GPUComputePipeline;
  module: GPUShaderModule;
}

export class PipelineCache {
  private modules = new Map<KernelFamily, GPUShaderModule>();
  private pipelines = new Map<string, CachedPipeline>();
  /** Families by identity: two kernels may share a file name (custom kernels redefined with
   * new code, a family's plain and subgroup builds), never a pipeline. */
  private ids = new Map<KernelFamily, number>();

  constructor(private readonly device: GPUDevice) {}

  get(kernel: KernelFamily, entry: string, overrides: Record<string, number>): CachedPipeline {
    const perKernel = pipelineKey(entry, overrides);
    const label = `${kernel.file}:${perKernel}`;
    let id = this.ids.get(kernel);
    if (id === undefined) this.ids.set(kernel, (id = this.ids.size));
    const key = `${id}|${perKernel}`;
    let cached = this.pipelines.get(key);
    if (!cached) {
      const pre = kernel.precompiled.get(this.device);
      let module = this.modules.get(kernel);
      if (!module) {
        module = pre?.module ?? this.device.createShaderModule({ code: kernel.code, label: kernel.source });
        this.modules.set(kernel, module);
      }
      const pipeline =
        pre?.pipelines.get(perKernel) ??
        this.device.createComputePipeline({ label, layout: 'auto', compute: { module, entryPoint: entry, constants: overrides } });
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
    this.ids.clear();
    this.modules.clear();
  }
}
