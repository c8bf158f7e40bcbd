/**
 * Matrix product, batched: [M,K]·[K,N] → [M,N], or [B,M,K]·[B,K,N] → [B,M,N].
 * Three kernels share one contract (kernels/matmul.wgsl); the default is chosen per adapter:
 * register-tiled on CPU rasterisers, workgroup-memory tiles on GPUs. `variant` forces one.
 */
import matmulWgsl from '../../kernels/matmul.wgsl';
import type { BindingValue, Engine } from '../runtime/engine.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import { KernelFamily } from '../runtime/kernel.js';
import type { Tensor } from '../runtime/tensor.js';
import { describeShapes, engineOf, expectDType } from './util.js';

export const matmulKernel = new KernelFamily('matmul.wgsl', matmulWgsl);

export const MATMUL_VARIANTS = ['tile4x4_vec4', 'tile4x4', 'shared64'] as const;
export type MatmulVariant = (typeof MATMUL_VARIANTS)[number];

export interface MatmulOptions {
  variant?: MatmulVariant;
}

/** Whether a variant can run this problem (the vec4 kernel needs K and N divisible by 4). */
export function matmulVariantApplies(variant: MatmulVariant, _m: number, n: number, k: number): boolean {
  return variant !== 'tile4x4_vec4' || (n % 4 === 0 && k % 4 === 0);
}

/** The default variant for this adapter and shape (the measured ranking in webgpu-here.md). */
export function defaultMatmulVariant(engine: Engine, m: number, n: number, k: number): MatmulVariant {
  if (!engine.isSoftwareAdapter) return 'shared64';
  return matmulVariantApplies('tile4x4_vec4', m, n, k) ? 'tile4x4_vec4' : 'tile4x4';
}

export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const engine = engineOf('matmul', a, b);
  expectDType('matmul', 'a', a, 'f32');
  expectDType('matmul', 'b', b, 'f32');
  const batched = a.rank === 3;
  if (!((a.rank === 2 && b.rank === 2) || (a.rank === 3 && b.rank === 3 && a.shape[0] === b.shape[0]))) {
    throw new InvalidArgumentError(`matmul: needs [M,K]·[K,N] or [B,M,K]·[B,K,N], got ${describeShapes(a, b)}`);
  }
  const batch = batched ? a.shape[0]! : 1;
  const [m, k] = a.shape.slice(-2) as [number, number];
  const [k2, n] = b.shape.slice(-2) as [number, number];
  if (k !== k2) throw new InvalidArgumentError(`matmul: inner dimensions differ (${k} vs ${k2}) in ${describeShapes(a, b)}`);
  const variant = options.variant ?? defaultMatmulVariant(engine, m, n, k);
  if (!MATMUL_VARIANTS.includes(variant)) {
    throw new InvalidArgumentError(`matmul: unknown variant '${variant}'; choose one of ${MATMUL_VARIANTS.join(', ')}`);
  }
  if (!matmulVariantApplies(variant, m, n, k)) {
    throw new InvalidArgumentError(`matmul: variant ${variant} needs N and K divisible by 4, got N=${n}, K=${k}`);
  }
  const out = engine.empty(batched ? [batch, m, n] : [m, n], 'f32', 'matmul');
  if (k === 0) {
    engine.fillBits(out, 0);
    return out;
  }
  const params = { M: m, N: n, K: k, batch };
  const cost = { flops: 2 * batch * m * n * k, bytes: 4 * batch * (m * k + k * n + m * n) };
  if (variant === 'shared64') {
    engine.dispatch({ op: 'matmul', kernel: matmulKernel, entry: 'shared64', bindings: { a, b, c: out, params }, workgroups: [Math.ceil(n / 64), Math.ceil(m / 64), batch], cost });
  } else {
    const wg = 8;
    const bindings: Record<string, BindingValue> = variant === 'tile4x4_vec4' ? { a4: a, b4: b, c4: out, params } : { a, b, c: out, params };
    engine.dispatch({ op: 'matmul', kernel: matmulKernel, entry: variant, bindings, workgroups: [Math.ceil(n / 4 / wg), Math.ceil(m / 4 / wg), batch], cost });
  }
  return out;
}
