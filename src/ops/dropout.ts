/**
 * Dropout on Philox4x32-10 (kernels/common/philox.wgsl; the counter layout is in kernels/dropout.wgsl).
 * The mask is a pure function of (seed, offset, element index): the forward pass stores
 * nothing, the backward pass draws the same mask again.
 */
import dropoutWgsl from '../../kernels/dropout.wgsl';
import type { Engine } from '../runtime/engine.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import { KernelFamily } from '../runtime/kernel.js';
import type { Tensor } from '../runtime/tensor.js';
import { resolveOutput, type OutputOption } from './output.js';
import { engineOf, expectDType } from './util.js';
import { guardOp } from '../runtime/op-guard.js';

export const dropoutKernel = new KernelFamily('dropout.wgsl', dropoutWgsl);
const WORKGROUP_SIZE = 64;
const TWO_POW_32 = 2 ** 32;
const MAX_SEED = 2 ** 53;

export interface DropoutOptions extends OutputOption {
  /** Probability of dropping an element, in [0, 1). */
  rate: number;
  /** Generator key: an integer in [0, 2^53]. */
  seed: number;
  /** Second counter word (default 0): give each layer and each step its own, in [0, 2^53]. */
  offset?: number;
  /** false: inference, the input passes through. Default true. */
  training?: boolean;
}

// The argument checks and runDropout are exported for dropoutBackward (dropout-backward.ts): it runs the same kernel.
export function checkInteger(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_SEED) {
    throw new InvalidArgumentError(`${op}: ${name} must be an integer in [0, 2^53], got ${String(v)}`);
  }
  return v;
}

export function checkRate(op: string, rate: unknown): number {
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0 || rate >= 1) {
    throw new InvalidArgumentError(`${op}: rate must be a number in [0, 1), got ${String(rate)}`);
  }
  return rate;
}

/**
 * y = x · mask / (1 − rate), mask_i = (uniform_i ≥ rate), uniform_i from Philox4x32-10 of
 * counter (⌊i/4⌋, offset) and key `seed`. With rate 0 or `training: false` the result is a
 * copy of x (always a new tensor, or `out`, never x itself, so the caller owns what it gets
 * either way). Honours `out`, including channel views (x itself must be a plain tensor).
 */
export const dropout = guardOp('dropout', function dropout(x: Tensor, options: DropoutOptions): Tensor<'f32'> {
  const op = 'dropout';
  const engine = engineOf(op, x);
  expectDType(op, 'x', x, 'f32');
  const rate = checkRate(op, options.rate);
  const seed = checkInteger(op, 'seed', options.seed);
  const offset = checkInteger(op, 'offset', options.offset ?? 0);
  const training = options.training ?? true;
  if (typeof training !== 'boolean') throw new InvalidArgumentError(`${op}: training must be a boolean, got ${String(training)}`);
  const { y, outOffset, outStride } = resolveOutput(engine, op, x.shape, options.out);
  runDropout(engine, op, x, y, outOffset, outStride, training ? rate : 0, seed, offset);
  return y;
});

export function runDropout(
  engine: Engine,
  op: string,
  x: Tensor,
  y: Tensor,
  outOffset: number,
  outStride: number,
  rate: number,
  seed: number,
  offset: number,
): void {
  const n = x.size;
  const applyMask = rate > 0;
  engine.dispatch({
    op,
    kernel: dropoutKernel,
    entry: 'dropout',
    overrides: { APPLY_MASK: applyMask ? 1 : 0 },
    bindings: {
      x,
      y,
      params: {
        n,
        channels: Math.max(1, x.channels),
        outOffset,
        outStride,
        keyLo: seed % TWO_POW_32,
        keyHi: Math.floor(seed / TWO_POW_32),
        offsetLo: offset % TWO_POW_32,
        offsetHi: Math.floor(offset / TWO_POW_32),
        // uniform = (word >> 8) / 2^24 ≥ rate  ⇔  (word >> 8) ≥ ceil(rate · 2^24) (rate · 2^24 is exact).
        threshold: Math.ceil(rate * 2 ** 24),
        scale: 1 / (1 - rate),
      },
    },
    views: ['y'],
    workgroups: engine.grid1d(Math.ceil(n / 4), WORKGROUP_SIZE),
    // Flops count the scaling multiply only; Philox's integer work (about 150 operations per
    // four elements) is not floating-point.
    cost: { flops: applyMask ? n : 0, bytes: 8 * n },
  });
}

/**
 * Raw Philox4x32-10: row i of the result is the generator's four words for counter row i
 * (`counters`: u32[n, 4]) and key row i (`keys`: u32[n, 2]). Exposed to check the WGSL
 * generator bit for bit against the published known answers and a JavaScript reference.
 */
export function philox4x32(counters: Tensor, keys: Tensor): Tensor<'u32'> {
  const op = 'philox4x32';
  const engine = engineOf(op, counters, keys);
  expectDType(op, 'counters', counters, 'u32');
  expectDType(op, 'keys', keys, 'u32');
  const n = counters.shape[0] ?? 0;
  if (counters.rank !== 2 || counters.shape[1] !== 4) throw new InvalidArgumentError(`${op}: counters must be u32[n, 4], got ${counters.describe()}`);
  if (keys.rank !== 2 || keys.shape[1] !== 2 || keys.shape[0] !== n)
    throw new InvalidArgumentError(`${op}: keys must be u32[${n}, 2] (one key per counter), got ${keys.describe()}`);
  const words = engine.empty([n, 4], 'u32', op);
  engine.dispatch({
    op,
    kernel: dropoutKernel,
    entry: 'philox',
    bindings: { counters, keys, words, philoxParams: { n } },
    workgroups: engine.grid1d(n, WORKGROUP_SIZE),
    cost: { bytes: 40 * n },
  });
  return words;
}
