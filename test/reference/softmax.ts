/** Float64 references for softmax, cross-entropy with label smoothing and top-k. */

/** Row-wise softmax of a [rows, classes] array. */
export function softmaxRef(logits: ArrayLike<number>, rows: number, classes: number): Float64Array {
  const out = new Float64Array(rows * classes);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let k = 0; k < classes; k++) m = Math.max(m, logits[r * classes + k]!);
    let s = 0;
    for (let k = 0; k < classes; k++) s += Math.exp(logits[r * classes + k]! - m);
    for (let k = 0; k < classes; k++) out[r * classes + k] = Math.exp(logits[r * classes + k]! - m) / s;
  }
  return out;
}

/**
 * Per-row −Σ_k q'_k log softmax(l)_k with q' = (1 − ε)·q + ε/K; q is one-hot of `labels` or the
 * given soft targets. log softmax computed as l − m − log Σ exp(l − m).
 */
export function crossEntropyRef(
  logits: ArrayLike<number>,
  rows: number,
  classes: number,
  targets: { labels?: ArrayLike<number>; soft?: ArrayLike<number> },
  eps: number,
): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let k = 0; k < classes; k++) m = Math.max(m, logits[r * classes + k]!);
    let s = 0;
    for (let k = 0; k < classes; k++) s += Math.exp(logits[r * classes + k]! - m);
    const logS = Math.log(s);
    let loss = 0;
    for (let k = 0; k < classes; k++) {
      const q = targets.labels ? (targets.labels[r] === k ? 1 : 0) : targets.soft![r * classes + k]!;
      const qs = (1 - eps) * q + eps / classes;
      loss += qs * -(logits[r * classes + k]! - m - logS);
    }
    out[r] = loss;
  }
  return out;
}

/** Top-k per row by (value descending, index ascending). */
export function topKRef(values: ArrayLike<number>, rows: number, classes: number, k: number): { values: Float64Array; indices: Int32Array } {
  const outV = new Float64Array(rows * k);
  const outI = new Int32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    const idx = Array.from({ length: classes }, (_, i) => i);
    idx.sort((a, b) => values[r * classes + b]! - values[r * classes + a]! || a - b);
    for (let j = 0; j < k; j++) {
      outI[r * k + j] = idx[j]!;
      outV[r * k + j] = values[r * classes + idx[j]!]!;
    }
  }
  return { values: outV, indices: outI };
}
