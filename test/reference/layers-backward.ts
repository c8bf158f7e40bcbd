/**
 * Float64 analytic backward passes of pooling, training-mode BatchNorm (with ReLU) and softmax
 * cross-entropy, written for clarity, not speed. Each takes what the GPU op takes: the output
 * gradient dy and the values the forward pass saved. The forward references they differentiate
 * are in pool2d.ts, batchnorm.ts and softmax.ts; the tests check these against finite
 * differences of those.
 */
import type { PoolGeometryRef } from './pool2d.js';

/** Max pooling: every output sends its gradient to the input element that was its maximum
 * (`argmax`, the forward's flat indices into x). */
export function maxPool2dBackwardRef(dy: ArrayLike<number>, argmax: ArrayLike<number>, inputSize: number): Float64Array {
  const dx = new Float64Array(inputSize);
  for (let o = 0; o < dy.length; o++) dx[argmax[o]!]! += dy[o]!;
  return dx;
}

/** Average pooling: every output spreads dy/divisor over the real input elements of its window
 * (divisor KH·KW when `countIncludePad`, else the number of those elements). */
export function avgPool2dBackwardRef(
  dy: ArrayLike<number>,
  xShape: readonly [number, number, number, number],
  g: PoolGeometryRef,
  countIncludePad: boolean,
): Float64Array {
  const [n, h, w, c] = xShape;
  const [top, bottom, left, right] = g.pad;
  const oh = Math.floor((h + top + bottom - g.kh) / g.strideH) + 1;
  const ow = Math.floor((w + left + right - g.kw) / g.strideW) + 1;
  const dx = new Float64Array(n * h * w * c);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      for (let xo = 0; xo < ow; xo++) {
        const rows: number[] = [];
        const cols: number[] = [];
        for (let i = 0; i < g.kh; i++) {
          const iy = y * g.strideH + i - top;
          if (iy >= 0 && iy < h) rows.push(iy);
        }
        for (let j = 0; j < g.kw; j++) {
          const ix = xo * g.strideW + j - left;
          if (ix >= 0 && ix < w) cols.push(ix);
        }
        const divisor = countIncludePad ? g.kh * g.kw : rows.length * cols.length;
        for (let ch = 0; ch < c; ch++) {
          const share = dy[((b * oh + y) * ow + xo) * c + ch]! / divisor;
          for (const iy of rows) for (const ix of cols) dx[((b * h + iy) * w + ix) * c + ch]! += share;
        }
      }
    }
  }
  return dx;
}

/** Global average pooling: dy [N, C] (or [N, 1, 1, C]) spread evenly over each image's H·W. */
export function globalAvgPoolBackwardRef(dy: ArrayLike<number>, xShape: readonly [number, number, number, number]): Float64Array {
  const [n, h, w, c] = xShape;
  const dx = new Float64Array(n * h * w * c);
  for (let i = 0; i < dx.length; i++) {
    const ch = i % c;
    const b = Math.floor(i / (h * w * c));
    dx[i] = dy[b * c + ch]! / (h * w);
  }
  return dx;
}

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
