/**
 * What an op hands to `engine.dispatch`: the kernel entry, its bindings and its grid. Kept apart
 * from the engine so the parts that check and record a dispatch can name it without importing
 * the Engine class (engine.ts re-exports these types for the public API).
 */
import type { KernelFamily } from './kernel.js';
import type { Tensor } from './tensor.js';

export type UniformValues = Record<string, number | readonly number[]>;
export type BindingValue = Tensor | UniformValues;

export interface DispatchSpec {
  /** The op asking for the dispatch (shown in errors and profiles), e.g. 'add'. */
  op: string;
  kernel: KernelFamily;
  entry: string;
  /** Values for the WGSL `override` constants; part of the pipeline cache key. */
  overrides?: Record<string, number>;
  /** Every binding the entry point uses, by its WGSL variable name. */
  bindings: Record<string, BindingValue>;
  /** Workgroup counts; see `grid1d` for 1-D problems larger than one dimension allows. */
  workgroups: readonly [number, number?, number?];
  /** Declared cost, for GFLOP/s and GB/s in profiles. */
  cost?: { flops?: number; bytes?: number };
  /** Storage bindings that may be channel views (Tensor.channelView): the kernel honours the
   * view's offset and stride (passed in its uniforms). Any other binding refuses a view. */
  views?: readonly string[];
}

/** What the engine's helpers (fills, random numbers) need of it to record a dispatch. */
export interface Dispatcher {
  dispatch(spec: DispatchSpec): void;
  grid1d(n: number, workgroupSize: number): [number, number, number];
}
