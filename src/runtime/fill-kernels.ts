/**
 * The engine's own kernels: constant fills (also used to poison op outputs) and counter-based
 * random numbers. They live in the runtime rather than src/ops because the engine itself needs
 * them (empty() poisons through fillBits), and the ops import the engine, not the other way.
 */
import fillWgsl from '../../kernels/fill.wgsl';
import randomWgsl from '../../kernels/random.wgsl';
import type { Dispatcher } from './dispatch-spec.js';
import { InvalidArgumentError } from './errors.js';
import { KernelFamily } from './kernel.js';
import type { Tensor } from './tensor.js';

/** Bits used to poison outputs: a quiet NaN for f32, an unlikely pattern for integers. */
export const POISON_F32 = 0x7fc00000;
export const POISON_INT = 0xdeadbeef;

const fillKernel = new KernelFamily('fill.wgsl', fillWgsl);
const randomKernel = new KernelFamily('random.wgsl', randomWgsl);

/** Writes a 32-bit pattern into every element of `t`, whatever its dtype (viewed as u32). */
export function fillBits(engine: Dispatcher, t: Tensor, bits: number): void {
  const asBits = t.dtype === 'u32' ? t : t.bitcast('u32');
  try {
    engine.dispatch({
      op: 'fill',
      kernel: fillKernel,
      entry: 'fill_u32',
      bindings: { out: asBits, params: { n: t.size, value: bits >>> 0 } },
      workgroups: engine.grid1d(t.size, 256),
      cost: { bytes: t.byteLength },
    });
  } finally {
    if (asBits !== t) asBits.dispose();
  }
}

/** Fills `out` with uniform numbers a + b·u, u in [0, 1) ('uniform'), or normal ones of mean a and
 * deviation b ('normal'); the same seed gives the same numbers on every device. */
export function fillRandom(engine: Dispatcher, entry: 'uniform' | 'normal', out: Tensor, seed: number, a: number, b: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > Number.MAX_SAFE_INTEGER) {
    throw new InvalidArgumentError(`random${entry === 'normal' ? 'Normal' : 'Uniform'}: seed must be a non-negative integer, got ${seed}`);
  }
  const n = out.size;
  engine.dispatch({
    op: `random.${entry}`,
    kernel: randomKernel,
    entry: `random_${entry}`,
    bindings: { out, params: { n, seedLo: seed >>> 0, seedHi: Math.floor(seed / 2 ** 32) >>> 0, a, b } },
    // Box–Muller makes two normal numbers per invocation.
    workgroups: engine.grid1d(entry === 'normal' ? Math.ceil(n / 2) : n, 64),
    cost: { bytes: n * 4 },
  });
}
