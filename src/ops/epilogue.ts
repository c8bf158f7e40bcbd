/**
 * The per-output-channel epilogue that matmul and the convolutions apply as they write out:
 * y = relu(acc · scale[c] + shift[c]), each part optional. A bias is a shift; BatchNorm folded
 * for inference (foldBatchNorm) is a scale and a shift. The kernels pick the parts by override
 * constants, so an op without an epilogue runs the plain kernel.
 */
import type { BindingValue } from '../runtime/engine.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import type { Tensor } from '../runtime/tensor.js';
import { expectDType } from './util.js';

export interface Epilogue {
  /** Per-channel multiplier, [C]. */
  scale?: Tensor;
  /** Per-channel addend (a bias), [C]. */
  shift?: Tensor;
  relu?: boolean;
}

/**
 * Overrides and bindings for a kernel's epilogue. `vec4` kernels read scale and shift as
 * vec4s; `placeholder` (any tensor the dispatch already binds for reading, at least 16 bytes
 * for vec4 kernels) fills the slots of absent parts, which the kernel then never reads.
 */
export function epilogueBindings(
  op: string,
  epi: Epilogue | undefined,
  channels: number,
  vec4: boolean,
  placeholder: Tensor,
): { overrides: Record<string, number>; bindings: Record<string, BindingValue> } {
  const parts = { scale: epi?.scale, shift: epi?.shift };
  for (const [name, t] of Object.entries(parts)) {
    if (!t) continue;
    expectDType(op, name, t, 'f32');
    if (t.size !== channels) throw new InvalidArgumentError(`${op}: ${name} needs ${channels} elements (one per output channel), got ${t.describe()}`);
  }
  const suffix = vec4 ? '4' : '';
  return {
    overrides: { HAS_SCALE: parts.scale ? 1 : 0, HAS_SHIFT: parts.shift ? 1 : 0, RELU: epi?.relu ? 1 : 0 },
    bindings: { [`scale${suffix}`]: parts.scale ?? placeholder, [`shift${suffix}`]: parts.shift ?? placeholder },
  };
}

/** FLOPs the epilogue adds per output element. */
export function epilogueFlops(epi: Epilogue | undefined): number {
  return (epi?.scale ? 1 : 0) + (epi?.shift ? 1 : 0) + (epi?.relu ? 1 : 0);
}

export interface BatchNormParams {
  gamma?: ArrayLike<number>;
  beta?: ArrayLike<number>;
  mean: ArrayLike<number>;
  variance: ArrayLike<number>;
  eps: number;
}

/**
 * Inference BatchNorm after a layer with an optional bias, folded into one scale and shift:
 * γ·(x + bias − mean)/√(var + eps) + β = x·scale + shift. Computed in float64; γ defaults to 1
 * and β to 0 (Keras and TF-slim checkpoints have no γ).
 */
export function foldBatchNorm(bn: BatchNormParams, bias?: ArrayLike<number>): { scale: Float32Array; shift: Float32Array } {
  const c = bn.mean.length;
  for (const [name, v] of [
    ['variance', bn.variance],
    ['gamma', bn.gamma],
    ['beta', bn.beta],
    ['bias', bias],
  ] as const) {
    if (v && v.length !== c) throw new InvalidArgumentError(`foldBatchNorm: ${name} has ${v.length} values but mean has ${c}`);
  }
  if (!(bn.eps >= 0)) throw new InvalidArgumentError(`foldBatchNorm: eps must be ≥ 0, got ${bn.eps}`);
  const scale = new Float32Array(c);
  const shift = new Float32Array(c);
  for (let i = 0; i < c; i++) {
    const s = (bn.gamma?.[i] ?? 1) / Math.sqrt(bn.variance[i]! + bn.eps);
    scale[i] = s;
    shift[i] = (bn.beta?.[i] ?? 0) + ((bias?.[i] ?? 0) - bn.mean[i]!) * s;
  }
  return { scale, shift };
}
