/**
 * Host-side random numbers for the data pipeline, all seeded and reproducible:
 * - `philox4x32_10`: the same Philox4x32-10 as kernels/common/philox.wgsl,
 *   so the host can compute exactly what a kernel draws (augmentation offsets, for instance);
 * - `mulberry32` and `shuffledIndices`: an epoch's permutation of a data set (Fisher–Yates).
 *
 * Every 32-bit step is exact integer arithmetic: the low word of a product by Math.imul, the
 * high word from 16-bit halves (each partial product is below 2^32, so float64 never rounds).
 */

const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;

/** Counter word 3 of the per-epoch shuffle draw: its own stream, apart from dropout (0) and
 * augmentation (AUGMENT_STREAM in src/ops/augment.ts). ASCII 'SHUF'. */
export const SHUFFLE_STREAM = 0x53485546;

/** The high 32 bits of the 64-bit product a·b of two unsigned 32-bit words. */
function mulhi32(a: number, b: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const ll = aLo * bLo;
  const hl = aHi * bLo;
  const lh = aLo * bHi;
  const cross = (ll >>> 16) + (hl & 0xffff) + lh; // ≤ 0xffffffff, exact in float64
  return (aHi * bHi + (hl >>> 16) + Math.floor(cross / 65536)) >>> 0;
}

/** Philox4x32 with 10 rounds (Salmon et al., SC'11): four unsigned 32-bit words from a
 * 128-bit counter and a 64-bit key. Bit for bit the WGSL `philox4x32_10`. */
export function philox4x32_10(counter: readonly [number, number, number, number], key: readonly [number, number]): [number, number, number, number] {
  let c0 = counter[0] >>> 0;
  let c1 = counter[1] >>> 0;
  let c2 = counter[2] >>> 0;
  let c3 = counter[3] >>> 0;
  let k0 = key[0] >>> 0;
  let k1 = key[1] >>> 0;
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + PHILOX_W0) >>> 0;
      k1 = (k1 + PHILOX_W1) >>> 0;
    }
    const hi0 = mulhi32(PHILOX_M0, c0);
    const lo0 = Math.imul(PHILOX_M0, c0) >>> 0;
    const hi1 = mulhi32(PHILOX_M1, c2);
    const lo1 = Math.imul(PHILOX_M1, c2) >>> 0;
    const n0 = (hi1 ^ c1 ^ k0) >>> 0;
    const n2 = (hi0 ^ c3 ^ k1) >>> 0;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
  return [c0, c1, c2, c3];
}

/** A non-negative integer ≤ 2^53 as [low word, high word]. */
export function splitWords(v: number): [number, number] {
  return [(v % 2 ** 32) >>> 0, Math.floor(v / 2 ** 32) >>> 0];
}

/** mulberry32: a small 32-bit-state generator of uniforms in [0, 1) (multiples of 2^-32). */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The permutation of 0..count−1 for one epoch: Fisher–Yates driven by mulberry32, whose 32-bit
 * seed is Philox4x32-10's first word for counter (epoch mod 2^32, ⌊epoch / 2^32⌋, 0,
 * SHUFFLE_STREAM) and key (seed mod 2^32, ⌊seed / 2^32⌋). Each (seed, epoch) has its own order,
 * computable directly (resuming at epoch 7 does not replay epochs 0–6).
 */
export function shuffledIndices(count: number, seed: number, epoch: number): Int32Array {
  const [eLo, eHi] = splitWords(epoch);
  const rng = mulberry32(philox4x32_10([eLo, eHi, 0, SHUFFLE_STREAM], splitWords(seed))[0]);
  const order = new Int32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1)); // uniform in [0, i]: rng() < 1 and i + 1 ≤ 2^31
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}
