/**
 * The optimizer kernel family (kernels/optimizer.wgsl) and the two data movers every optimizer
 * and the EMA share: a copy and an in-place swap, one dispatch per tensor.
 */
import optimizerWgsl from '../../kernels/optimizer.wgsl';
import type { Engine } from '../runtime/engine.js';
import { KernelFamily } from '../runtime/kernel.js';
import type { Tensor } from '../runtime/tensor.js';

export const optimizerKernel = new KernelFamily('optimizer.wgsl', optimizerWgsl);

/** Must match WG in kernels/optimizer.wgsl. */
export const OPTIMIZER_WG = 256;

/** destination ← source, elementwise (same size, distinct buffers). */
export function copyValues(engine: Engine, op: string, source: Tensor, destination: Tensor): void {
  const n = destination.size;
  engine.dispatch({
    op,
    kernel: optimizerKernel,
    entry: 'copy_values',
    bindings: { source, destination, moveParams: { n } },
    workgroups: engine.grid1d(n, OPTIMIZER_WG),
    cost: { bytes: 8 * n },
  });
}

/** a ↔ b, elementwise, in place. */
export function swapValues(engine: Engine, op: string, a: Tensor, b: Tensor): void {
  const n = a.size;
  engine.dispatch({
    op,
    kernel: optimizerKernel,
    entry: 'swap_values',
    bindings: { swapA: a, swapB: b, moveParams: { n } },
    workgroups: engine.grid1d(n, OPTIMIZER_WG),
    cost: { bytes: 16 * n },
  });
}
