/** Float64 references for the reductions, written for clarity, not speed. Float64 sums of up
 * to 10^6 float32 values are exact to about 1e-10 relative, far below the tolerances tested. */

export function sumRef(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]!;
  return s;
}

export function meanRef(x: ArrayLike<number>): number {
  return sumRef(x) / x.length;
}

/** x viewed as [rows, channels] (channels innermost): the sum of each column. */
export function sumChannelsRef(x: ArrayLike<number>, channels: number): Float64Array {
  const out = new Float64Array(channels);
  for (let i = 0; i < x.length; i++) out[i % channels] = out[i % channels]! + x[i]!;
  return out;
}

/** sqrt(Σ over tensors of Σ x²). */
export function globalNormRef(tensors: readonly ArrayLike<number>[]): number {
  let s = 0;
  for (const t of tensors) for (let i = 0; i < t.length; i++) s += t[i]! * t[i]!;
  return Math.sqrt(s);
}

/** y + α·x. */
export function scaledAddRef(y: ArrayLike<number>, x: ArrayLike<number>, alpha: number): Float64Array {
  const out = new Float64Array(y.length);
  for (let i = 0; i < y.length; i++) out[i] = y[i]! + alpha * x[i]!;
  return out;
}

/** What a naive left-to-right float32 loop would give: shows a test's data is hard enough. */
export function naiveFloat32Sum(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s = Math.fround(s + x[i]!);
  return s;
}
