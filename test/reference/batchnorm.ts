/** Float64 references for BatchNorm over channel-innermost data, written for clarity, not speed. */

/** Per-channel mean and biased (population) variance, by two passes in float64. */
export function batchNormStatisticsRef(x: ArrayLike<number>, channels: number): { mean: Float64Array; variance: Float64Array } {
  const rows = x.length / channels;
  const mean = new Float64Array(channels);
  const variance = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    let sum = 0;
    for (let r = 0; r < rows; r++) sum += x[r * channels + c]!;
    mean[c] = sum / rows;
    let squares = 0;
    for (let r = 0; r < rows; r++) squares += (x[r * channels + c]! - mean[c]!) ** 2;
    variance[c] = squares / rows;
  }
  return { mean, variance };
}

/** y = γ·(x − mean)/√(variance + eps) + β per channel (γ = 1, β = 0 when absent), then ReLU if asked. */
export function batchNormRef(
  x: ArrayLike<number>,
  channels: number,
  gamma: ArrayLike<number> | null,
  beta: ArrayLike<number> | null,
  mean: ArrayLike<number>,
  variance: ArrayLike<number>,
  eps: number,
  relu: boolean,
): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = i % channels;
    const v = ((gamma?.[c] ?? 1) * (x[i]! - mean[c]!)) / Math.sqrt(variance[c]! + eps) + (beta?.[c] ?? 0);
    y[i] = relu ? Math.max(0, v) : v;
  }
  return y;
}

/** 1/√(variance + eps) per channel. */
export function invStdRef(variance: ArrayLike<number>, eps: number): Float64Array {
  return Float64Array.from(variance, (v) => 1 / Math.sqrt(v + eps));
}

/**
 * One running-statistics update, written out per convention:
 *   pytorch: running = (1 − m)·running + m·batch;  keras: running = m·running + (1 − m)·batch.
 * The batch variance entering the running variance is multiplied by count/(count − 1) when
 * `unbiased`.
 */
export function runningUpdateRef(
  running: { mean: ArrayLike<number>; variance: ArrayLike<number> },
  batch: { mean: ArrayLike<number>; variance: ArrayLike<number> },
  count: number,
  convention: 'pytorch' | 'keras',
  momentum: number,
  unbiased: boolean,
): { mean: Float64Array; variance: Float64Array } {
  const blend = (old: number, now: number) => (convention === 'pytorch' ? (1 - momentum) * old + momentum * now : momentum * old + (1 - momentum) * now);
  const correction = unbiased ? count / (count - 1) : 1;
  return {
    mean: Float64Array.from(running.mean, (old, c) => blend(old, batch.mean[c]!)),
    variance: Float64Array.from(running.variance, (old, c) => blend(old, batch.variance[c]! * correction)),
  };
}

/** What the rejected formula gives: E[x²] − E[x]² per channel with every operation rounded to
 * float32 (sequential sums). Used only to show the large-mean test data defeats it. */
export function naiveFloat32VarianceRef(x: ArrayLike<number>, channels: number): Float64Array {
  const f = Math.fround;
  const rows = x.length / channels;
  const out = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    let sum = 0;
    let squares = 0;
    for (let r = 0; r < rows; r++) {
      const v = x[r * channels + c]!;
      sum = f(sum + v);
      squares = f(squares + f(v * v));
    }
    const mean = f(sum / rows);
    out[c] = f(f(squares / rows) - f(mean * mean));
  }
  return out;
}
