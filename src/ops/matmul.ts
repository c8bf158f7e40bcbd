/**
 * Matrix product, batched: [M,K]·[K,N] → [M,N], or [B,M,K]·[B,K,N] → [B,M,N].
 * Several kernels share one contract (kernels/matmul.wgsl, whose top comment has the measured
 * numbers); the default is chosen per adapter and `variant` forces one.
 */
import matmulWgsl from '../../kernels/matmul.wgsl';
import type { BindingValue, Engine } from '../runtime/engine.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import type { Tensor } from '../runtime/tensor.js';
import { epilogueBindings, epilogueFlops, type Epilogue } from './epilogue.js';
import { resolveOutput, vec4OutputRefusal, type OutputOption } from './output.js';
import { kernelFamiliesWithSubgroups, subgroupWorkgroupX } from './subgroups.js';
import { describeShapes, engineOf, expectDType } from './util.js';
import { guardOp } from '../runtime/op-guard.js';

const families = kernelFamiliesWithSubgroups('matmul.wgsl', matmulWgsl);
/** The kernels every device can compile. */
export const matmulKernel = families.plain;
/** The whole file, for devices with the `subgroups` feature. */
export const matmulSubgroupKernel = families.subgroups;

export const MATMUL_VARIANTS = ['subgroup16x8', 'subgroup32x8', 'tile4x4_vec4', 'tile4x4', 'shared64'] as const;
export type MatmulVariant = (typeof MATMUL_VARIANTS)[number];

/** Rows of C per invocation of each subgroup variant (each also owns 8 columns). */
const SUBGROUP_ROWS: Partial<Record<MatmulVariant, number>> = { subgroup16x8: 16, subgroup32x8: 32 };

export interface MatmulOptions extends OutputOption {
  variant?: MatmulVariant;
  /** Applied per output column as C is written (bias, folded BatchNorm, ReLU). */
  epilogue?: Epilogue;
}

/** Variants that store C as vec4s (so a channel view must be 4-aligned for them). */
export function isVec4Variant(variant: MatmulVariant): boolean {
  return variant !== 'tile4x4' && variant !== 'shared64';
}

function isSubgroupVariant(variant: MatmulVariant): boolean {
  return variant in SUBGROUP_ROWS;
}

/**
 * Whether a variant can run this problem: tile4x4_vec4 needs N and K divisible by 4, the
 * subgroup variants N divisible by 4 and (given an engine) a device with `subgroups`.
 */
export function matmulVariantApplies(variant: MatmulVariant, _m: number, n: number, k: number, engine?: Engine): boolean {
  if (variant === 'tile4x4_vec4') return n % 4 === 0 && k % 4 === 0;
  if (isSubgroupVariant(variant)) return n % 4 === 0 && (!engine || engine.features.has('subgroups'));
  return true;
}

/**
 * The default variant for this adapter and shape, from the measurements in matmul.wgsl:
 * on CPU rasterisers a subgroup variant (subgroup16x8 where subgroups have 8 or more lanes, as
 * on lavapipe; subgroup32x8 with 4-lane subgroups, as on SwiftShader), else the register tiles;
 * on GPUs the workgroup-memory kernel.
 */
export function defaultMatmulVariant(engine: Engine, m: number, n: number, k: number): MatmulVariant {
  if (!engine.isSoftwareAdapter) return 'shared64';
  const subgroup: MatmulVariant = (engine.adapterInfo.subgroupMaxSize ?? 0) <= 4 ? 'subgroup32x8' : 'subgroup16x8';
  if (matmulVariantApplies(subgroup, m, n, k, engine)) return subgroup;
  return matmulVariantApplies('tile4x4_vec4', m, n, k) ? 'tile4x4_vec4' : 'tile4x4';
}

export const matmul = guardOp(function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
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
  const heuristic = defaultMatmulVariant(engine, m, n, k);
  // A channel view whose offset or stride is not a multiple of 4 needs the scalar-store kernel.
  const variant = options.variant ?? (vec4OutputRefusal(heuristic, options.out) && isVec4Variant(heuristic) ? 'tile4x4' : heuristic);
  if (!MATMUL_VARIANTS.includes(variant)) {
    throw new InvalidArgumentError(`matmul: unknown variant '${variant}'; choose one of ${MATMUL_VARIANTS.join(', ')}`);
  }
  if (!matmulVariantApplies(variant, m, n, k)) {
    const needs = variant === 'tile4x4_vec4' ? 'N and K divisible by 4' : 'N divisible by 4';
    throw new InvalidArgumentError(`matmul: variant ${variant} needs ${needs}, got N=${n}, K=${k}`);
  }
  if (!matmulVariantApplies(variant, m, n, k, engine)) {
    throw new InvalidArgumentError(`matmul: variant ${variant} needs the 'subgroups' feature, which this device (${engine.adapterName}) lacks`);
  }
  const vec4 = isVec4Variant(variant);
  const refusal = vec4 ? vec4OutputRefusal(`matmul: variant ${variant}`, options.out) : undefined;
  if (refusal) throw new InvalidArgumentError(refusal);
  const epi = epilogueBindings('matmul', options.epilogue, n, vec4, b);
  if (k === 0 && options.out?.slice)
    throw new InvalidArgumentError('matmul: K = 0 with an output view is not supported (nothing to compute; fill the view instead)');
  const { y: out, outOffset, outStride } = resolveOutput(engine, 'matmul', batched ? [batch, m, n] : [m, n], options.out);
  if (k === 0) {
    if (options.epilogue) throw new InvalidArgumentError('matmul: an epilogue needs K ≥ 1');
    engine.fillBits(out, 0);
    return out;
  }
  const params = { M: m, N: n, K: k, batch, cOffset: outOffset, ldc: outStride };
  const cost = { flops: (2 * k + epilogueFlops(options.epilogue)) * batch * m * n, bytes: 4 * batch * (m * k + k * n + m * n) };
  const rows = SUBGROUP_ROWS[variant];
  // [x, row blocks, batch]; one matrix whose row blocks pass the per-dimension limit (a 1×1 conv
  // over a large batch) has its rows folded into z instead (FOLDED_ROWS in matmul.wgsl).
  const grid = (x: number, rowBlocks: number): { workgroups: [number, number, number]; overrides: Record<string, number> } =>
    batch === 1 && rowBlocks > engine.gridLimit
      ? { workgroups: engine.foldRows(x, rowBlocks), overrides: { ...epi.overrides, FOLDED_ROWS: 1 } }
      : { workgroups: [x, rowBlocks, batch], overrides: epi.overrides };
  if (rows) {
    // One invocation owns `rows` rows and two vec4 columns of C.
    const lanes = Math.ceil(n / 8);
    const wgX = subgroupWorkgroupX(engine, lanes);
    const g = grid(Math.ceil(lanes / wgX), Math.ceil(m / rows));
    engine.dispatch({
      op: 'matmul',
      kernel: matmulSubgroupKernel,
      entry: variant,
      overrides: { SUBGROUP_WG_X: wgX, ...g.overrides },
      bindings: { a, b4: b, c4: out, params, ...epi.bindings },
      workgroups: g.workgroups,
      cost,
      views: ['c4'],
    });
  } else if (variant === 'shared64') {
    const g = grid(Math.ceil(n / 64), Math.ceil(m / 64));
    engine.dispatch({
      op: 'matmul',
      kernel: matmulKernel,
      entry: 'shared64',
      overrides: g.overrides,
      bindings: { a, b, c: out, params, ...epi.bindings },
      workgroups: g.workgroups,
      cost,
      views: ['c'],
    });
  } else {
    const wg = 8;
    const bindings: Record<string, BindingValue> =
      variant === 'tile4x4_vec4' ? { a4: a, b4: b, c4: out, params, ...epi.bindings } : { a, b, c: out, params, ...epi.bindings };
    const g = grid(Math.ceil(n / 4 / wg), Math.ceil(m / 4 / wg));
    engine.dispatch({
      op: 'matmul',
      kernel: matmulKernel,
      entry: variant,
      overrides: g.overrides,
      bindings,
      workgroups: g.workgroups,
      cost,
      views: ['c', 'c4'],
    });
  }
  return out;
});
