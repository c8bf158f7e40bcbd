/** Seeded inputs and the output comparison every peer row uses. */
import { InceptError } from '../../src/runtime/errors.js';
import { median } from '../../src/runtime/timing.js';
import { mulberry32 } from '../../src/data/random.js';
import type { PairedTimes } from '../../src/bench/peers-report.js';

export type { PairedTimes };

/** Standard normal numbers from a seeded generator (Box–Muller on mulberry32), the same in Node and the page. */
export function normals(count: number, seed: number, std: number): Float32Array {
  const uniform = mulberry32(seed);
  const out = new Float32Array(count);
  // 1 − u is in (0, 1]: the logarithm stays finite.
  for (let i = 0; i < count; i++) out[i] = std * Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return out;
}

/** max |peer − engine| / max |engine| over the whole output (a NaN anywhere gives Infinity). */
export function maxRelErr(peer: ArrayLike<number>, engine: ArrayLike<number>): number {
  if (peer.length !== engine.length) throw new InceptError(`peer output has ${peer.length} elements, the engine's ${engine.length}`);
  let err = 0;
  let mag = 0;
  for (let i = 0; i < engine.length; i++) {
    const d = Math.abs(peer[i]! - engine[i]!);
    err = Number.isNaN(d) ? Infinity : Math.max(err, d);
    mag = Math.max(mag, Math.abs(engine[i]!));
  }
  return err / (mag || 1);
}

/** Peer times against the engine's, round by round (both arrays from the same rounds). */
export function pairTimes(peerMs: readonly number[], engineMs: readonly number[]): PairedTimes {
  if (peerMs.length === 0 || peerMs.length !== engineMs.length)
    throw new InceptError(`paired timing needs the same number of rounds on both sides, got ${peerMs.length} and ${engineMs.length}`);
  const ratios = peerMs.map((t, i) => t / engineMs[i]!);
  return {
    ms: median(peerMs),
    msMin: Math.min(...peerMs),
    msMax: Math.max(...peerMs),
    ratio: median(ratios),
    ratioMin: Math.min(...ratios),
    ratioMax: Math.max(...ratios),
  };
}
