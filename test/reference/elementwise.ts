/** Float64 references for the elementwise ops, written for clarity, not speed. */

/** out[i] = a[i] + b[i mod |b|] (b broadcast over a's leading dimensions). */
export function addRef(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! + b[i % b.length]!;
  return out;
}

export function mulRef(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! * b[i % b.length]!;
  return out;
}

/** x·scale[c] + shift[c] with c the innermost index, optionally followed by ReLU. */
export function scaleShiftRef(x: ArrayLike<number>, scale: ArrayLike<number>, shift: ArrayLike<number>, relu: boolean): Float64Array {
  const channels = scale.length;
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = i % channels;
    const y = x[i]! * scale[c]! + shift[c]!;
    out[i] = relu ? Math.max(0, y) : y;
  }
  return out;
}

export function reluRef(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v) => Math.max(0, v));
}
