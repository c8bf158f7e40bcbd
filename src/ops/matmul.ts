/**
 * Matrix product, batched: [M,K]·[K,N] → [M,N], or [B,M,K]·[B,K,N] → [B,M,N].
 * Several kernels share one contract (kernels/matmul.wgsl, whose top comment has the measured
 * numbers), one record each in MATMUL_TABLE; the default is chosen per adapter (and by the
 * tuner once it has measured the problem), and `variant` forces one.
 */
import matmulWgsl from '../../kernels/matmul.wgsl';
import type { Engine } from '../runtime/engine.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import type { Tensor } from '../runtime/tensor.js';
import { anchor, kernelChecksum, type TunableSet } from '../runtime/tuning-key.js';
import { epilogueBindings, epilogueFlops, type Epilogue } from './epilogue.js';
import { resolveOutput, vec4OutputRefusal, type OutputOption } from './output.js';
import { kernelFamiliesWithSubgroups, subgroupWorkgroupX } from './subgroups.js';
import { describeShapes, engineOf, expectDType } from './util.js';
import { dispatchVariant, findVariant, unknownVariantMessage, variantCandidates, variantRefusal, type KernelVariant, type VariantGrid } from './variants.js';
import { guardOp } from '../runtime/op-guard.js';

const families = kernelFamiliesWithSubgroups('matmul.wgsl', matmulWgsl);
/** The kernels every device can compile. */
export const matmulKernel = families.plain;
/** The whole file, for devices with the `subgroups` feature. */
export const matmulSubgroupKernel = families.subgroups;

/** One product: C [batch, m, n] = A [batch, m, k] · B [batch, k, n]. */
export interface MatmulGeometry {
  batch: number;
  m: number;
  n: number;
  k: number;
}

export type MatmulRole = 'a' | 'b' | 'c';
export type MatmulVariantRecord<N extends string = string> = KernelVariant<MatmulGeometry, MatmulRole, N>;

/** [x, row blocks, batch]; one matrix whose row blocks pass the per-dimension limit (a 1×1 conv
 * over a large batch) has its rows folded into z instead (FOLDED_ROWS in matmul.wgsl). */
function matmulGrid(engine: Engine, g: MatmulGeometry, x: number, rowBlocks: number, overrides: Record<string, number> = {}): VariantGrid {
  return g.batch === 1 && rowBlocks > engine.gridLimit
    ? { workgroups: engine.foldRows(x, rowBlocks), overrides: { ...overrides, FOLDED_ROWS: 1 } }
    : { workgroups: [x, rowBlocks, g.batch], overrides };
}

/** One invocation owns `rows` rows and two vec4 columns of C. */
function subgroupRecord<N extends string>(name: N, rows: number): MatmulVariantRecord<N> {
  return {
    name,
    kernel: matmulSubgroupKernel,
    entry: name,
    features: ['subgroups'],
    refusal: (g) => (g.n % 4 === 0 ? undefined : `variant ${name} needs N divisible by 4, got N=${g.n}, K=${g.k}`),
    storesVec4: true,
    grid: (engine, g) => {
      const lanes = Math.ceil(g.n / 8);
      const wgX = subgroupWorkgroupX(engine, lanes);
      return matmulGrid(engine, g, Math.ceil(lanes / wgX), Math.ceil(g.m / rows), { SUBGROUP_WG_X: wgX });
    },
    bindings: { a: 'a', b: 'b4', c: 'c4' },
  };
}

/** 8×8 invocations of 4×4 outputs each. */
const tile4x4Grid = (engine: Engine, g: MatmulGeometry): VariantGrid => matmulGrid(engine, g, Math.ceil(g.n / 4 / 8), Math.ceil(g.m / 4 / 8));

/** Every matmul kernel, in the order candidates are listed. */
export const MATMUL_TABLE = [
  subgroupRecord('subgroup16x8', 16),
  subgroupRecord('subgroup32x8', 32),
  {
    name: 'tile4x4_vec4',
    kernel: matmulKernel,
    entry: 'tile4x4_vec4',
    refusal: (g) => (g.n % 4 === 0 && g.k % 4 === 0 ? undefined : `variant tile4x4_vec4 needs N and K divisible by 4, got N=${g.n}, K=${g.k}`),
    storesVec4: true,
    grid: tile4x4Grid,
    bindings: { a: 'a4', b: 'b4', c: 'c4' },
  },
  { name: 'tile4x4', kernel: matmulKernel, entry: 'tile4x4', storesVec4: false, grid: tile4x4Grid, bindings: { a: 'a', b: 'b', c: 'c' } },
  {
    name: 'shared64',
    kernel: matmulKernel,
    entry: 'shared64',
    storesVec4: false,
    grid: (engine, g) => matmulGrid(engine, g, Math.ceil(g.n / 64), Math.ceil(g.m / 64)),
    bindings: { a: 'a', b: 'b', c: 'c' },
  },
] as const satisfies readonly MatmulVariantRecord[];

export type MatmulVariant = (typeof MATMUL_TABLE)[number]['name'];
export const MATMUL_VARIANTS: readonly MatmulVariant[] = MATMUL_TABLE.map((v) => v.name);

export interface MatmulOptions extends OutputOption {
  variant?: MatmulVariant;
  /** Applied per output column as C is written (bias, folded BatchNorm, ReLU). */
  epilogue?: Epilogue;
}

export function matmulRecord(variant: MatmulVariant): MatmulVariantRecord {
  return findVariant<MatmulVariantRecord>(MATMUL_TABLE, variant)!;
}

/** Variants that store C as vec4s (so a channel view must be 4-aligned for them). */
export function isVec4Variant(variant: MatmulVariant): boolean {
  return matmulRecord(variant).storesVec4;
}

/**
 * Whether a variant can run this problem: tile4x4_vec4 needs N and K divisible by 4, the
 * subgroup variants N divisible by 4 and (given an engine) a device with `subgroups`.
 */
export function matmulVariantApplies(variant: MatmulVariant, m: number, n: number, k: number, engine?: Engine): boolean {
  const v = findVariant<MatmulVariantRecord>(MATMUL_TABLE, variant);
  if (!v) return true;
  if (v.refusal?.({ batch: 1, m, n, k })) return false;
  return !engine || (v.features ?? []).every((f) => engine.features.has(f));
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

/** What decides which matmul kernel is fastest, as the tuner keys it. */
export interface MatmulTuningShape {
  g: MatmulGeometry;
  epilogue: { scale: boolean; shift: boolean; relu: boolean };
  /** Whether the output (a channel view, if any) takes vec4 stores. */
  outAligned: boolean;
}

export interface MatmulProblem extends MatmulTuningShape {
  engine: Engine;
}

export const matmulTunables: TunableSet<MatmulProblem, MatmulTuningShape> = {
  op: 'matmul',
  checksum: kernelChecksum(MATMUL_TABLE.map((v) => v.kernel)),
  variants: MATMUL_TABLE,
  key: ({ g, epilogue, outAligned }) => ({
    batch: anchor(g.batch),
    m: anchor(g.m),
    n: anchor(g.n),
    k: anchor(g.k),
    n4: g.n % 4 === 0,
    k4: g.k % 4 === 0,
    epilogue: epilogue.scale || epilogue.shift || epilogue.relu,
    outAligned,
  }),
  makeInputs: ({ engine, g, epilogue }) => {
    const a = engine.randomNormal([g.batch, g.m, g.k], { seed: 1 });
    const b = engine.randomNormal([g.batch, g.k, g.n], { seed: 2, std: Math.sqrt(1 / g.k) });
    const scale = epilogue.scale ? engine.randomUniform([g.n], { seed: 3, low: 0.5, high: 1.5 }) : undefined;
    const shift = epilogue.shift ? engine.randomUniform([g.n], { seed: 4, low: -0.5, high: 0.5 }) : undefined;
    const epi: Epilogue = { ...(scale ? { scale } : {}), ...(shift ? { shift } : {}), relu: epilogue.relu };
    return {
      inputs: [a, b, ...(scale ? [scale] : []), ...(shift ? [shift] : [])],
      run: (variant) => {
        const c = engine.empty([g.batch, g.m, g.n], 'f32', 'matmul tuning');
        recordMatmul(engine, matmulRecord(variant as MatmulVariant), g, a, b, c, epi, { outOffset: 0, outStride: g.n });
        return c;
      },
    };
  },
};

export const matmul = guardOp('matmul', function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
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
  const g: MatmulGeometry = { batch, m, n, k };
  const variant = options.variant ?? chooseMatmulVariant(engine, g, options);
  const v = findVariant<MatmulVariantRecord>(MATMUL_TABLE, variant);
  if (!v) throw new InvalidArgumentError(`matmul: ${unknownVariantMessage(MATMUL_TABLE, variant)}`);
  const refusal = variantRefusal(v, g, engine, { view: options.out, label: `variant ${variant}`, featuresFirst: true });
  if (refusal) throw new InvalidArgumentError(`matmul: ${refusal}`);
  // Checks the epilogue's tensors before anything is allocated.
  epilogueBindings('matmul', options.epilogue, n, v.storesVec4, b);
  if (k === 0 && options.out?.slice)
    throw new InvalidArgumentError('matmul: K = 0 with an output view is not supported (nothing to compute; fill the view instead)');
  const { y: out, outOffset, outStride } = resolveOutput(engine, 'matmul', batched ? [batch, m, n] : [m, n], options.out);
  if (k === 0) {
    if (options.epilogue) throw new InvalidArgumentError('matmul: an epilogue needs K ≥ 1');
    engine.fillBits(out, 0);
    return out;
  }
  recordMatmul(engine, v, g, a, b, out, options.epilogue, { outOffset, outStride });
  return out;
});

/** The heuristic default (the scalar-store kernel where C is a channel view not 4-aligned),
 * unless the tuner has measured this problem's candidates. */
function chooseMatmulVariant(engine: Engine, g: MatmulGeometry, options: MatmulOptions): MatmulVariant {
  const heuristic = defaultMatmulVariant(engine, g.m, g.n, g.k);
  const misaligned = vec4OutputRefusal(heuristic, options.out) !== undefined;
  const fallback: MatmulVariant = misaligned && isVec4Variant(heuristic) ? 'tile4x4' : heuristic;
  // An empty product records nothing to measure.
  if (g.batch * g.m * g.n * g.k === 0) return fallback;
  const candidates = variantCandidates<MatmulGeometry, MatmulVariantRecord>(MATMUL_TABLE, g, engine, { view: options.out }).map((c) => c.name);
  const epi = options.epilogue;
  const problem: MatmulProblem = { engine, g, epilogue: { scale: !!epi?.scale, shift: !!epi?.shift, relu: !!epi?.relu }, outAligned: !misaligned };
  return engine.tuner.choose(matmulTunables, problem, candidates, fallback) as MatmulVariant;
}

function recordMatmul(
  engine: Engine,
  v: MatmulVariantRecord,
  g: MatmulGeometry,
  a: Tensor,
  b: Tensor,
  c: Tensor,
  epilogue: Epilogue | undefined,
  layout: { outOffset: number; outStride: number },
): void {
  const epi = epilogueBindings('matmul', epilogue, g.n, v.storesVec4, b);
  const cost = { flops: (2 * g.k + epilogueFlops(epilogue)) * g.batch * g.m * g.n, bytes: 4 * g.batch * (g.m * g.k + g.k * g.n + g.m * g.n) };
  dispatchVariant(engine, v, g, {
    op: 'matmul',
    tensors: { a, b, c },
    bindings: { params: { M: g.m, N: g.n, K: g.k, batch: g.batch, cOffset: layout.outOffset, ldc: layout.outStride }, ...epi.bindings },
    overrides: epi.overrides,
    views: ['c'],
    cost,
  });
}
