/**
 * Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3",
 * SC'11) and dropout, written for clarity. Every 32-bit step is exact integer arithmetic: the
 * low word of a product by Math.imul, the high word from 16-bit halves (each partial product is
 * below 2^32, so no float64 rounding can occur), checked against BigInt in the tests.
 */

export const PHILOX_M0 = 0xd2511f53;
export const PHILOX_M1 = 0xcd9e8d57;
export const PHILOX_W0 = 0x9e3779b9;
export const PHILOX_W1 = 0xbb67ae85;

/** The high 32 bits of the 64-bit product a·b of two unsigned 32-bit words. */
export function mulhi32(a: number, b: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const loLo = aLo * bLo;
  const hiLo = aHi * bLo;
  const loHi = aLo * bHi;
  const hiHi = aHi * bHi;
  const cross = (loLo >>> 16) + (hiLo & 0xffff) + loHi; // < 2^32: see kernels/common/philox.wgsl
  return (hiHi + (hiLo >>> 16) + Math.floor(cross / 65536)) >>> 0;
}

/** The same high word through BigInt, an independent check on mulhi32. */
export function mulhi32BigInt(a: number, b: number): number {
  return Number((BigInt(a >>> 0) * BigInt(b >>> 0)) >> 32n);
}

export type Word4 = [number, number, number, number];

/** Philox4x32 with 10 rounds: four unsigned 32-bit words from a 128-bit counter and a 64-bit key. */
export function philox4x32_10(counter: readonly number[], key: readonly number[]): Word4 {
  let [c0, c1, c2, c3] = counter.map((w) => w >>> 0) as Word4;
  let k0 = key[0]! >>> 0;
  let k1 = key[1]! >>> 0;
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + PHILOX_W0) >>> 0;
      k1 = (k1 + PHILOX_W1) >>> 0;
    }
    const hi0 = mulhi32(PHILOX_M0, c0);
    const lo0 = Math.imul(PHILOX_M0, c0) >>> 0;
    const hi1 = mulhi32(PHILOX_M1, c2);
    const lo1 = Math.imul(PHILOX_M1, c2) >>> 0;
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
  }
  return [c0, c1, c2, c3];
}

/** A non-negative integer below 2^53 (or 2^53 itself) as [low word, high word]. */
export function splitWords(v: number): [number, number] {
  return [(v % 2 ** 32) >>> 0, Math.floor(v / 2 ** 32) >>> 0];
}

/** uniform_i of dropout: counter (⌊i/4⌋, offset low, offset high, 0), key = seed's two words,
 * output word i mod 4, top 24 bits as a fraction in [0, 1). */
export function dropoutUniforms(n: number, seed: number, offset: number): Float64Array {
  const key = splitWords(seed);
  const [offLo, offHi] = splitWords(offset);
  const u = new Float64Array(n);
  for (let block = 0; block * 4 < n; block++) {
    const words = philox4x32_10([block, offLo, offHi, 0], key);
    for (let j = 0; j < 4 && block * 4 + j < n; j++) u[block * 4 + j] = (words[j]! >>> 8) / 2 ** 24;
  }
  return u;
}

/** mask_i = 1 when uniform_i ≥ rate (element kept), else 0. */
export function dropoutMaskRef(n: number, rate: number, seed: number, offset = 0): Uint8Array {
  const u = dropoutUniforms(n, seed, offset);
  return Uint8Array.from(u, (v) => (v >= rate ? 1 : 0));
}

/** y_i = x_i · mask_i / (1 − rate). */
export function dropoutRef(x: ArrayLike<number>, rate: number, seed: number, offset = 0): Float64Array {
  const mask = dropoutMaskRef(x.length, rate, seed, offset);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = mask[i] ? x[i]! / (1 - rate) : 0;
  return out;
}
