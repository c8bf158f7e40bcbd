/**
 * Float64 analytic backward of training-mode BatchNorm (./batchnorm.ts), written for clarity,
 * not speed. It takes what the GPU op takes: dy and the batch statistics the forward saved.
 */

/**
 * Training-mode BatchNorm y = γ·x̂ + β, x̂ = (x − μ)·invStd, μ and invStd the batch statistics
 * per channel over all M rows (then ReLU when `y` is given: its sign is the mask). With g the
 * gradient reaching γ·x̂ + β:
 *   dβ = Σ g,  dγ = Σ g·x̂,
 *   dx = γ·invStd · (g − dβ/M − x̂·dγ/M)
 * (the two subtracted terms are the paths through μ and through the variance). Without γ,
 * γ = 1 and dγ is still returned (what a γ would get).
 */
export function batchNormTrainBackwardRef(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  channels: number,
  gamma: ArrayLike<number> | null,
  mean: ArrayLike<number>,
  invStd: ArrayLike<number>,
  reluOutput: ArrayLike<number> | null,
): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const rows = x.length / channels;
  const g = Float64Array.from(dy, (v, i) => (reluOutput && !(reluOutput[i]! > 0) ? 0 : v));
  const xhat = Float64Array.from(x, (v, i) => (v - mean[i % channels]!) * invStd[i % channels]!);
  const dbeta = new Float64Array(channels);
  const dgamma = new Float64Array(channels);
  for (let i = 0; i < g.length; i++) {
    dbeta[i % channels]! += g[i]!;
    dgamma[i % channels]! += g[i]! * xhat[i]!;
  }
  const dx = Float64Array.from(g, (gi, i) => {
    const c = i % channels;
    return (gamma?.[c] ?? 1) * invStd[c]! * (gi - dbeta[c]! / rows - (xhat[i]! * dgamma[c]!) / rows);
  });
  return { dx, dgamma, dbeta };
}
