/**
 * Float64 references for the optimizers, written for clarity, not speed. Each step function
 * takes the state before the step and returns the state after it (new arrays), formula by
 * formula as the documentation states them.
 */

/** √(Σ over tensors of Σ g²), in float64. */
export function globalNormRef(grads: readonly ArrayLike<number>[]): number {
  let s = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
  return Math.sqrt(s);
}

/** The clipping scale min(1, clip / (norm + 1e-6)); 1 when clip is 0 (off). */
export function clipScaleRef(norm: number, clip: number): number {
  return clip > 0 ? Math.min(1, clip / (norm + 1e-6)) : 1;
}

/** The gradient the update sees: scale · g + wd · w. */
export function effectiveGradRef(g: ArrayLike<number>, w: ArrayLike<number>, scale: number, weightDecay: number): Float64Array {
  return Float64Array.from(g, (gi, i) => scale * gi + weightDecay * w[i]!);
}

export interface RmspropStateRef {
  w: Float64Array;
  ms: Float64Array;
  mom: Float64Array;
}

/** TensorFlow's RMSPropOptimizer state before the first step: ms = 1, mom = 0. */
export function rmspropInitRef(w: ArrayLike<number>): RmspropStateRef {
  return { w: Float64Array.from(w), ms: new Float64Array(w.length).fill(1), mom: new Float64Array(w.length) };
}

export interface RmspropHyperRef {
  lr: number;
  rho: number;
  momentum: number;
  epsilon: number;
  weightDecay: number;
  /** Clipping scale (clipScaleRef), 1 for none. */
  scale: number;
}

/** ms ← ρ·ms + (1 − ρ)·g²;  mom ← μ·mom + lr·g/√(ms + ε);  w ← w − mom. */
export function rmspropStepRef(s: RmspropStateRef, grad: ArrayLike<number>, h: RmspropHyperRef): RmspropStateRef {
  const g = effectiveGradRef(grad, s.w, h.scale, h.weightDecay);
  const ms = Float64Array.from(s.ms, (m, i) => h.rho * m + (1 - h.rho) * g[i]! * g[i]!);
  const mom = Float64Array.from(s.mom, (v, i) => h.momentum * v + (h.lr * g[i]!) / Math.sqrt(ms[i]! + h.epsilon));
  const w = Float64Array.from(s.w, (wi, i) => wi - mom[i]!);
  return { w, ms, mom };
}

export interface SgdStateRef {
  w: Float64Array;
  /** PyTorch's momentum_buffer; null before the first step (and always for plain SGD). */
  buf: Float64Array | null;
}

export interface SgdHyperRef {
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  scale: number;
}

/** PyTorch: buf = g on the first step, else μ·buf + g; w ← w − lr·buf (Nesterov: w − lr·(g + μ·buf)). */
export function sgdStepRef(s: SgdStateRef, grad: ArrayLike<number>, h: SgdHyperRef): SgdStateRef {
  const g = effectiveGradRef(grad, s.w, h.scale, h.weightDecay);
  if (h.momentum === 0) return { w: Float64Array.from(s.w, (wi, i) => wi - h.lr * g[i]!), buf: null };
  const buf = s.buf === null ? Float64Array.from(g) : Float64Array.from(s.buf, (b, i) => h.momentum * b + g[i]!);
  const d = h.nesterov ? Float64Array.from(g, (gi, i) => gi + h.momentum * buf[i]!) : buf;
  return { w: Float64Array.from(s.w, (wi, i) => wi - h.lr * d[i]!), buf };
}

/** TensorFlow's ExponentialMovingAverage decay: min(decay, (1 + n)/(10 + n)) with num_updates n. */
export function emaDecayRef(decay: number, numUpdates: number | null): number {
  return numUpdates === null ? decay : Math.min(decay, (1 + numUpdates) / (10 + numUpdates));
}

/** avg ← d·avg + (1 − d)·w. */
export function emaStepRef(avg: ArrayLike<number>, w: ArrayLike<number>, d: number): Float64Array {
  return Float64Array.from(avg, (a, i) => d * a + (1 - d) * w[i]!);
}
