/**
 * Dropout's backward: the forward kernel (kernels/dropout.wgsl) run again on dy. The mask is a
 * pure function of (seed, offset, element index), so nothing from the forward pass is needed
 * but its options.
 */
import type { Tensor } from '../runtime/tensor.js';
import { resolveOutput } from './output.js';
import { engineOf, expectDType } from './util.js';
import { guardOp } from '../runtime/op-guard.js';
import { checkInteger, checkRate, runDropout } from './dropout.js';

export interface DropoutBackwardOptions {
  rate: number;
  seed: number;
  offset?: number;
}

/** dx = dy · mask / (1 − rate) with the mask regenerated from the forward pass's seed and offset. */
export const dropoutBackward = guardOp('dropoutBackward', function dropoutBackward(dy: Tensor, options: DropoutBackwardOptions): Tensor<'f32'> {
  const op = 'dropoutBackward';
  const engine = engineOf(op, dy);
  expectDType(op, 'dy', dy, 'f32');
  const rate = checkRate(op, options.rate);
  const seed = checkInteger(op, 'seed', options.seed);
  const offset = checkInteger(op, 'offset', options.offset ?? 0);
  const { y, outOffset, outStride } = resolveOutput(engine, op, dy.shape, undefined);
  runDropout(engine, op, dy, y, outOffset, outStride, rate, seed, offset);
  return y;
});
