/**
 * Float64 analytic backward of softmax cross-entropy (./softmax.ts), written for clarity, not
 * speed. It takes what the GPU op takes: the probabilities the forward saved and the targets.
 */

/**
 * Softmax cross-entropy with label smoothing, L = scale · Σ_rows Σ_k −q'_k log p_k with
 * q' = (1 − ε)·q + ε/K and q one-hot of `labels` or the given soft targets: dL/dlogits =
 * scale · (p − q'), as Σ_k q'_k = 1 in every row. scale = 1/rows is the mean loss's.
 */
export function softmaxCrossEntropyBackwardRef(
  probabilities: ArrayLike<number>,
  rows: number,
  classes: number,
  targets: { labels?: ArrayLike<number>; soft?: ArrayLike<number> },
  eps: number,
  scale = 1 / rows,
): Float64Array {
  return Float64Array.from(probabilities, (p, i) => {
    const r = Math.floor(i / classes);
    const q = targets.labels ? (targets.labels[r] === i % classes ? 1 : 0) : targets.soft![i]!;
    return scale * (p - ((1 - eps) * q + eps / classes));
  });
}
