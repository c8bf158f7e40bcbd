/**
 * Comparing GPU output with a float64 reference. The relative error is norm-wise,
 * max|got − ref| / max|ref|, which is stable where individual reference values are near zero.
 * Any NaN or infinity in the output (poisoned and never written, for instance) fails.
 */

export interface Comparison {
  relErr: number;
  maxAbsErr: number;
  worstIndex: number;
  /** The first element that is not finite, or -1. */
  nonFinite: number;
}

export function compare(got: ArrayLike<number>, ref: ArrayLike<number>): Comparison {
  if (got.length !== ref.length) throw new Error(`length mismatch: got ${got.length}, reference ${ref.length}`);
  let maxAbsErr = 0;
  let maxRef = 0;
  let worstIndex = -1;
  let nonFinite = -1;
  for (let i = 0; i < got.length; i++) {
    const g = got[i]!;
    if (!Number.isFinite(g) && nonFinite < 0) nonFinite = i;
    const e = Math.abs(g - ref[i]!);
    if (e > maxAbsErr || Number.isNaN(e)) {
      maxAbsErr = Number.isNaN(e) ? Infinity : e;
      worstIndex = i;
    }
    maxRef = Math.max(maxRef, Math.abs(ref[i]!));
  }
  return { relErr: maxRef > 0 ? maxAbsErr / maxRef : maxAbsErr, maxAbsErr, worstIndex, nonFinite };
}

/** Throws a descriptive error unless got matches ref within `tolerance` (relative, norm-wise). */
export function assertClose(got: ArrayLike<number>, ref: ArrayLike<number>, tolerance: number, what: string): Comparison {
  const c = compare(got, ref);
  if (c.nonFinite >= 0) {
    throw new Error(`${what}: element ${c.nonFinite} is ${got[c.nonFinite]} (not finite: unwritten or overflowed); reference ${ref[c.nonFinite]}`);
  }
  if (!(c.relErr <= tolerance)) {
    throw new Error(
      `${what}: relative error ${c.relErr.toExponential(2)} > ${tolerance} (worst at ${c.worstIndex}: got ${got[c.worstIndex]}, reference ${ref[c.worstIndex]})`,
    );
  }
  return c;
}
