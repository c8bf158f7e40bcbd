/**
 * 2-D convolution, forward. NHWC activations, HWIO weights ([KH, KW, Cin, Cout]; why HWIO: see
 * kernels/conv2d.wgsl). Three kernel families serve it, one table of records (CONV2D_TABLE)
 * lists their variants, and the dispatcher picks among them:
 *   - pointwise: a 1×1 conv with stride 1 and no padding is a matrix product [N·H·W, Cin]·[Cin, Cout]
 *     (matmul.ts; one record per matmul variant, derived from its table);
 *   - asymmetric 1×n / n×1 (n ≤ 7, stride 1, padding only along the kernel's axis):
 *     kernels/conv2d-asym.wgsl (records in conv2d-asym.ts), which reuses each input value across the taps;
 *   - general: kernels/conv2d.wgsl, an implicit matrix product for every other case.
 * The optional epilogue (bias, folded BatchNorm, ReLU) is applied in the write-out of each.
 * `variant` forces a kernel; otherwise the engine's tuner picks by measurement when it has
 * measured this problem, and a per-adapter heuristic when it has not.
 */
import conv2dWgsl from '../../kernels/conv2d.wgsl';
import type { Engine } from '../runtime/engine.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import type { Tensor } from '../runtime/tensor.js';
import { kernelChecksum, tuningKeyString, type TunableSet } from '../runtime/tuning-key.js';
import { asymmetricAxis, CONV2D_ASYM_TABLE } from './conv2d-asym.js';
import {
  convGeometry,
  convGeometryUniforms,
  convMacs,
  convTuningKey,
  expectGeometryAndEngine,
  type Conv2dVariantRecord,
  type ConvGeometry,
  type Padding,
} from './conv2d-geometry.js';
import { epilogueBindings, epilogueFlops, type Epilogue } from './epilogue.js';
import { defaultMatmulVariant, matmul, MATMUL_TABLE, type MatmulVariant, type MatmulVariantRecord } from './matmul.js';
import { checkOutput, resolveOutput, vec4OutputRefusal, type OutputOption } from './output.js';
import { batchNormPartialStatistics, type PartialStatistics } from './batchnorm.js';
import { kernelFamiliesWithSubgroups, subgroupWorkgroupX } from './subgroups.js';
import { engineOf, expectDType } from './util.js';
import { dispatchVariant, findVariant, unknownVariantMessage, variantRefusal, type VariantGrid } from './variants.js';
import { guardOp } from '../runtime/op-guard.js';

export { asymmetricAxis, asymParams, conv2dAsymKernels, MAX_ASYM_TAPS } from './conv2d-asym.js';
export type { Conv2dVariantRecord } from './conv2d-geometry.js';

export const conv2dKernels = kernelFamiliesWithSubgroups('conv2d.wgsl', conv2dWgsl);

/** The uniforms of every conv2d.wgsl entry (ConvParams): the implicit product is M × K by Cout. */
function generalParams(g: ConvGeometry, out: { outOffset: number; outStride: number }): Record<string, number> {
  return { ...convGeometryUniforms(g), M: g.n * g.oh * g.ow, K: g.kh * g.kw * g.cin, outOffset: out.outOffset, outStride: out.outStride };
}

const coutRefusal = (name: string) => (g: ConvGeometry) =>
  g.cout % 4 !== 0 ? `${name} needs Cout divisible by 4 (got ${g.cout}); shared64 takes any Cout` : undefined;

/**
 * Workgroup width, lane grouping and grid of subgroup16x8 (16 pixels × 8 channels per lane).
 * When Cout needs at most half a subgroup's lanes (Cout ≤ 32 on lavapipe's 8-lane subgroups,
 * as in the stem's 32-channel convs), the subgroup is split into groups of LANE_GROUP lanes
 * that each take their own 16 pixels, instead of leaving half the lanes idle. Only on the CPU
 * drivers, whose subgroups are consecutive local invocations (the grouping relies on it).
 */
function subgroup16x8Grid(engine: Engine, g: ConvGeometry): VariantGrid {
  const m = g.n * g.oh * g.ow;
  const lanes = Math.ceil(g.cout / 8);
  const sg = engine.adapterInfo.subgroupMaxSize ?? 0;
  if (engine.isSoftwareAdapter && sg > 1 && 2 * lanes <= sg) {
    const group = 2 ** Math.ceil(Math.log2(lanes));
    return { overrides: { SUBGROUP_WG_X: sg, LANE_GROUP: group }, workgroups: engine.foldRows(1, Math.ceil(m / (16 * (sg / group)))) };
  }
  const wgX = subgroupWorkgroupX(engine, lanes);
  return { overrides: { SUBGROUP_WG_X: wgX }, workgroups: engine.foldRows(Math.ceil(lanes / wgX), Math.ceil(m / 16)) };
}

/** The general records, in the order candidates are listed. */
const CONV2D_GENERAL_TABLE = [
  {
    name: 'subgroup16x8',
    kernel: conv2dKernels.subgroups,
    entry: 'subgroup16x8',
    statistics: { entry: 'subgroup16x8_stats', blockPixels: 16 },
    features: ['subgroups'],
    refusal: coutRefusal('subgroup16x8'),
    storesVec4: true,
    grid: subgroup16x8Grid,
    bindings: { x: 'x', w: 'w4', y: 'y4' },
    params: generalParams,
  },
  {
    name: 'subgroup32x8',
    kernel: conv2dKernels.subgroups,
    entry: 'subgroup32x8',
    features: ['subgroups'],
    refusal: coutRefusal('subgroup32x8'),
    storesVec4: true,
    // 32 output pixels × 8 channels per lane.
    grid: (engine, g) => {
      const lanes = Math.ceil(g.cout / 8);
      const wgX = subgroupWorkgroupX(engine, lanes);
      return { overrides: { SUBGROUP_WG_X: wgX }, workgroups: engine.foldRows(Math.ceil(lanes / wgX), Math.ceil((g.n * g.oh * g.ow) / 32)) };
    },
    bindings: { x: 'x', w: 'w4', y: 'y4' },
    params: generalParams,
  },
  {
    name: 'tile8x8',
    kernel: conv2dKernels.plain,
    entry: 'tile8x8',
    statistics: { entry: 'tile8x8_stats', blockPixels: 8 },
    refusal: coutRefusal('tile8x8'),
    storesVec4: true,
    // 8×8 invocations of 8 pixels × 8 channels each.
    grid: (engine, g) => ({ overrides: {}, workgroups: engine.foldRows(Math.ceil(g.cout / 8 / 8), Math.ceil((g.n * g.oh * g.ow) / 8 / 8)) }),
    bindings: { x: 'x', w: 'w4', y: 'y4' },
    params: generalParams,
  },
  {
    name: 'shared64',
    kernel: conv2dKernels.plain,
    entry: 'shared64',
    storesVec4: false,
    grid: (engine, g) => ({ overrides: {}, workgroups: engine.foldRows(Math.ceil(g.cout / 64), Math.ceil((g.n * g.oh * g.ow) / 64)) }),
    bindings: { x: 'x', w: 'w', y: 'y' },
    params: generalParams,
  },
] as const satisfies readonly Conv2dVariantRecord[];

export function isPointwise(g: ConvGeometry): boolean {
  return g.kh === 1 && g.kw === 1 && g.strideH === 1 && g.strideW === 1 && g.padTop + g.padBottom + g.padLeft + g.padRight === 0;
}

/** The product a 1×1 conv is: [N·H·W, Cin]·[Cin, Cout]. */
function pointwiseProduct(g: ConvGeometry): { batch: number; m: number; n: number; k: number } {
  return { batch: 1, m: g.n * g.h * g.w, n: g.cout, k: g.cin };
}

/** The 1×1 record of a matmul variant: its kernel, grid and bindings, with the conv's names. */
function pointwiseRecord<N extends MatmulVariant>(mm: MatmulVariantRecord<N>): Conv2dVariantRecord<`pointwise:${N}`> {
  const name = `pointwise:${mm.name}` as const;
  // A variant that refuses K = 1 with N aligned needs Cin (K) divisible by 4 as well as Cout.
  const needs = mm.refusal?.({ batch: 1, m: 1, n: 4, k: 1 }) ? 'Cin and Cout' : 'Cout';
  return {
    name,
    kernel: mm.kernel,
    entry: mm.entry,
    ...(mm.features ? { features: mm.features } : {}),
    refusal: (g) => {
      if (!isPointwise(g)) return `${name} needs a 1×1 kernel with stride 1 and no padding`;
      return mm.refusal?.(pointwiseProduct(g)) ? `${name} needs ${needs} divisible by 4` : undefined;
    },
    storesVec4: mm.storesVec4,
    grid: (engine, g) => mm.grid(engine, pointwiseProduct(g)),
    bindings: { x: mm.bindings.a, w: mm.bindings.b, y: mm.bindings.c },
    params: (g, out) => ({ M: g.n * g.h * g.w, N: g.cout, K: g.cin, batch: 1, cOffset: out.outOffset, ldc: out.outStride }),
    matmul: mm.name,
  };
}

const CONV2D_POINTWISE_TABLE = MATMUL_TABLE.map((mm) => pointwiseRecord<MatmulVariant>(mm));

export type Conv2dVariant = (typeof CONV2D_GENERAL_TABLE)[number]['name'] | (typeof CONV2D_ASYM_TABLE)[number]['name'] | `pointwise:${MatmulVariant}`;

/** Every forward conv kernel, one record each, in the order candidates are listed. */
export const CONV2D_TABLE: readonly Conv2dVariantRecord<Conv2dVariant>[] = [...CONV2D_GENERAL_TABLE, ...CONV2D_ASYM_TABLE, ...CONV2D_POINTWISE_TABLE];

export const CONV2D_GENERAL_VARIANTS = CONV2D_GENERAL_TABLE.map((v) => v.name);
export const CONV2D_ASYM_VARIANTS = CONV2D_ASYM_TABLE.map((v) => v.name);
/** The 1×1 path: a matmul, with matmul's own variant named after the prefix. */
export const CONV2D_POINTWISE_VARIANTS = CONV2D_POINTWISE_TABLE.map((v) => v.name);
export const CONV2D_VARIANTS: readonly Conv2dVariant[] = CONV2D_TABLE.map((v) => v.name);

export interface Conv2dOptions extends OutputOption {
  /** Stride per axis, or one for both (default 1). */
  stride?: number | readonly [number, number];
  /** Default 'valid'. */
  padding?: Padding;
  /** Per-output-channel bias, [Cout]. Shorthand for `epilogue.shift` (give one or the other). */
  bias?: Tensor;
  /** Scale, shift and ReLU applied per output channel as the result is written. */
  epilogue?: Epilogue;
  /** Force a kernel (for tests and research); it must apply to this problem. */
  variant?: Conv2dVariant;
}

/** Whether a variant needs the `subgroups` feature. */
export function conv2dVariantNeedsSubgroups(variant: Conv2dVariant): boolean {
  return findVariant(CONV2D_TABLE, variant)?.features?.includes('subgroups') ?? false;
}

/** Why `variant` cannot run this problem's shape (on any device), or undefined if it can. */
export function conv2dShapeRefusal(variant: Conv2dVariant, g: ConvGeometry): string | undefined {
  const v = findVariant(CONV2D_TABLE, variant);
  return v ? v.refusal?.(g) : unknownVariantMessage(CONV2D_TABLE, variant);
}

/** Why `variant` cannot run this problem on this engine (writing into `out`, if given), or
 * undefined if it can. */
export function conv2dVariantRefusal(variant: Conv2dVariant, g: ConvGeometry, engine: Engine, out?: Tensor): string | undefined {
  const v = findVariant(CONV2D_TABLE, variant);
  return v ? variantRefusal(v, g, engine, { view: out }) : unknownVariantMessage(CONV2D_TABLE, variant);
}

/** Every variant that can run this problem on this engine (writing into `out`, if given). */
export function conv2dCandidates(g: ConvGeometry, engine: Engine, out?: Tensor): Conv2dVariant[] {
  expectGeometryAndEngine('conv2dCandidates', g, engine);
  return CONV2D_VARIANTS.filter((v) => conv2dVariantRefusal(v, g, engine, out) === undefined);
}

/**
 * The heuristic choice, used until the tuner has measured a problem (numbers in the kernels'
 * headers): the pointwise path for 1×1; on lavapipe (8-lane subgroups) the general subgroup
 * kernel, which beat the window kernels even on 1×n / n×1; on SwiftShader (4-lane subgroups)
 * and without subgroups the window kernel for 1×n / n×1 and the register tiles otherwise; on
 * GPUs the workgroup-memory kernels (shared_line64 for 'same' 1×n / n×1, else window8x8 for
 * those, shared64 for the rest; not measured on a GPU yet).
 */
export function defaultConv2dVariant(g: ConvGeometry, engine: Engine): Conv2dVariant {
  expectGeometryAndEngine('defaultConv2dVariant', g, engine);
  if (isPointwise(g)) return `pointwise:${defaultMatmulVariant(engine, g.n * g.h * g.w, g.cout, g.cin)}`;
  const asym = asymmetricAxis(g) !== undefined;
  if (!engine.isSoftwareAdapter) {
    if (!asym) return 'shared64';
    return conv2dShapeRefusal('shared_line64', g) === undefined ? 'shared_line64' : 'window8x8';
  }
  const wideSubgroups = engine.features.has('subgroups') && (engine.adapterInfo.subgroupMaxSize ?? 0) >= 8;
  if (asym && !wideSubgroups) return 'window8x8';
  if (g.cout % 4 !== 0) return 'shared64';
  return wideSubgroups ? 'subgroup16x8' : 'tile8x8';
}

/** What decides which conv kernel is fastest, as the tuner keys it. */
export interface Conv2dTuningShape {
  g: ConvGeometry;
  epilogue: boolean;
  /** Only variants with a fused statistics write-out compete (conv2dWithStatistics). */
  statistics: boolean;
  /** The output (a channel view, if any) takes vec4 stores. */
  outAligned: boolean;
}

export interface Conv2dProblem extends Conv2dTuningShape {
  engine: Engine;
  /** Which epilogue parts the measured runs apply. */
  parts: { scale: boolean; shift: boolean; relu: boolean };
}

export const conv2dTunables: TunableSet<Conv2dProblem, Conv2dTuningShape> = {
  op: 'conv2d',
  checksum: kernelChecksum([...CONV2D_TABLE.map((v) => v.kernel), ...MATMUL_TABLE.map((v) => v.kernel)]),
  variants: CONV2D_TABLE,
  key: ({ g, epilogue, statistics, outAligned }) => ({ ...convTuningKey(g), epilogue, statistics, outAligned }),
  makeInputs: ({ engine, g, parts, statistics }) => {
    // Seeded: every variant sees the same data.
    const x = engine.randomNormal([g.n, g.h, g.w, g.cin], { seed: 1 });
    const w = engine.randomNormal([g.kh, g.kw, g.cin, g.cout], { seed: 2, std: Math.sqrt(1 / (g.kh * g.kw * g.cin)) });
    const scale = parts.scale ? engine.randomUniform([g.cout], { seed: 3, low: 0.5, high: 1.5 }) : undefined;
    const shift = parts.shift ? engine.randomUniform([g.cout], { seed: 4, low: -0.5, high: 0.5 }) : undefined;
    const epi: Epilogue | undefined =
      parts.scale || parts.shift || parts.relu ? { ...(scale ? { scale } : {}), ...(shift ? { shift } : {}), relu: parts.relu } : undefined;
    const inputs = [x, w, ...(scale ? [scale] : []), ...(shift ? [shift] : [])];
    return { inputs, run: (variant) => recordConv2d(engine, x, w, g, epi, conv2dRecord(variant), undefined, statistics) };
  },
};

/** The tuner's stored key of a problem (for tests and tools). */
export function conv2dShapeClass(g: ConvGeometry, epi: Epilogue | undefined, flags: { statistics?: boolean; outAligned?: boolean } = {}): string {
  return tuningKeyString(conv2dTunables, {
    g,
    epilogue: !!(epi?.scale || epi?.shift || epi?.relu),
    statistics: flags.statistics ?? false,
    outAligned: flags.outAligned ?? true,
  });
}

function conv2dRecord(variant: string): Conv2dVariantRecord {
  const v = findVariant(CONV2D_TABLE, variant);
  if (!v) throw new InvalidArgumentError(`conv2d: ${unknownVariantMessage(CONV2D_TABLE, variant)}`);
  return v;
}

/**
 * The variant to run when none is forced: among the candidates (those with a statistics entry
 * when `statistics`), the tuner's measured choice, else the heuristic's where it is a candidate
 * (an output view not 4-aligned leaves only the scalar-store kernels), else the first.
 * Undefined when no candidate exists.
 */
function chooseConv2dVariant(
  engine: Engine,
  g: ConvGeometry,
  epi: Epilogue | undefined,
  out: Tensor | undefined,
  statistics: boolean,
): Conv2dVariant | undefined {
  const candidates = CONV2D_TABLE.filter((v) => (!statistics || v.statistics) && variantRefusal(v, g, engine, { view: out }) === undefined).map((v) => v.name);
  if (candidates.length === 0) return undefined;
  const heuristic = defaultConv2dVariant(g, engine);
  const fallback = candidates.includes(heuristic) ? heuristic : candidates[0]!;
  const parts = { scale: !!epi?.scale, shift: !!epi?.shift, relu: !!epi?.relu };
  const problem: Conv2dProblem = { engine, g, epilogue: parts.scale || parts.shift || parts.relu, statistics, outAligned: !vec4OutputRefusal('', out), parts };
  return engine.tuner.choose(conv2dTunables, problem, candidates, fallback) as Conv2dVariant;
}

/** y = conv2d(x, w) with the optional epilogue; x NHWC [N,H,W,Cin], w HWIO [KH,KW,Cin,Cout]. */
export const conv2d = guardOp('conv2d', function conv2d(x: Tensor, w: Tensor, options: Conv2dOptions = {}): Tensor {
  const op = 'conv2d';
  const engine = engineOf(op, x, w);
  expectDType(op, 'x', x, 'f32');
  expectDType(op, 'weights', w, 'f32');
  const g = convGeometry(op, x.shape, w.shape, options.stride, options.padding ?? 'valid');
  if (options.bias && options.epilogue?.shift) throw new InvalidArgumentError(`${op}: give the bias as 'bias' or as 'epilogue.shift', not both`);
  const epi: Epilogue | undefined = options.bias ? { ...options.epilogue, shift: options.bias } : options.epilogue;
  if (options.out) checkOutput(engine, op, [g.n, g.oh, g.ow, g.cout], options.out);
  let variant = options.variant;
  if (variant !== undefined) {
    const why = conv2dVariantRefusal(variant, g, engine, options.out);
    if (why) throw new InvalidArgumentError(`${op}: ${why}`);
  } else {
    variant = chooseConv2dVariant(engine, g, epi, options.out, false)!;
  }
  return recordConv2d(engine, x, w, g, epi, conv2dRecord(variant), options.out);
});

/**
 * y = conv2d(x, w) for training, where BatchNorm follows: the kernel also writes the per-block
 * partial statistics of y (see PartialStatistics in batchnorm.ts), so batchNormTrain(y, …,
 * { partials }) merges them instead of reading y once more. Runs a variant with a fused
 * statistics write-out (a record with a statistics entry: subgroup16x8 or tile8x8, tuned
 * between them); where none applies (Cout not a multiple of 4, or an explicit other variant)
 * the conv runs as usual and the standalone statistics pass follows. No epilogue or bias:
 * BatchNorm's β takes that role.
 */
export const conv2dWithStatistics = guardOp(
  'conv2dWithStatistics',
  function conv2dWithStatistics(x: Tensor, w: Tensor, options: Omit<Conv2dOptions, 'epilogue' | 'bias'> = {}): { y: Tensor; statistics: PartialStatistics } {
    const op = 'conv2dWithStatistics';
    const engine = engineOf(op, x, w);
    if ((options as Conv2dOptions).epilogue || (options as Conv2dOptions).bias) {
      throw new InvalidArgumentError(`${op}: no epilogue or bias (the statistics are of the raw conv output, and BatchNorm's β replaces a bias)`);
    }
    expectDType(op, 'x', x, 'f32');
    expectDType(op, 'weights', w, 'f32');
    const g = convGeometry(op, x.shape, w.shape, options.stride, options.padding ?? 'valid');
    if (options.out) checkOutput(engine, op, [g.n, g.oh, g.ow, g.cout], options.out);
    let variant = options.variant;
    if (variant !== undefined) {
      const why = conv2dVariantRefusal(variant, g, engine, options.out);
      if (why) throw new InvalidArgumentError(`${op}: ${why}`);
    } else {
      variant = chooseConv2dVariant(engine, g, undefined, options.out, true);
    }
    const v = variant === undefined ? undefined : conv2dRecord(variant);
    if (!v?.statistics) {
      const y = conv2d(x, w, { ...options, ...(variant ? { variant } : {}) });
      return { y, statistics: batchNormPartialStatistics(y) };
    }
    return recordConv2d(engine, x, w, g, undefined, v, options.out, true);
  },
);

function recordConv2d(
  engine: Engine,
  x: Tensor,
  w: Tensor,
  g: ConvGeometry,
  epi: Epilogue | undefined,
  v: Conv2dVariantRecord,
  out?: Tensor,
  withStatistics?: false,
): Tensor;
function recordConv2d(
  engine: Engine,
  x: Tensor,
  w: Tensor,
  g: ConvGeometry,
  epi: Epilogue | undefined,
  v: Conv2dVariantRecord,
  out: Tensor | undefined,
  withStatistics: true,
): { y: Tensor; statistics: PartialStatistics };
function recordConv2d(
  engine: Engine,
  x: Tensor,
  w: Tensor,
  g: ConvGeometry,
  epi: Epilogue | undefined,
  v: Conv2dVariantRecord,
  out: Tensor | undefined,
  withStatistics: boolean,
): { y: Tensor; statistics: PartialStatistics } | Tensor;
function recordConv2d(
  engine: Engine,
  x: Tensor,
  w: Tensor,
  g: ConvGeometry,
  epi: Epilogue | undefined,
  v: Conv2dVariantRecord,
  out?: Tensor,
  withStatistics = false,
): Tensor | { y: Tensor; statistics: PartialStatistics } {
  if (v.matmul) return recordPointwise(x, w, g, epi, v.matmul, out);
  const m = g.n * g.oh * g.ow;
  let cost = { flops: 2 * convMacs(g) + epilogueFlops(epi) * m * g.cout, bytes: 4 * (x.size + w.size + m * g.cout) };
  const { y, outOffset, outStride } = resolveOutput(engine, 'conv2d', [g.n, g.oh, g.ow, g.cout], out);
  const ep = epilogueBindings('conv2d', epi, g.cout, v.storesVec4, w);
  let statistics: PartialStatistics | undefined;
  if (withStatistics) {
    const chunks = Math.ceil(m / v.statistics!.blockPixels);
    statistics = { partials: engine.empty([chunks * g.cout, 4], 'f32', 'conv2d statistics'), chunks, channels: g.cout };
    cost = { flops: cost.flops + 7 * m * g.cout, bytes: cost.bytes + 16 * chunks * g.cout };
  }
  dispatchVariant(engine, v, g, {
    op: 'conv2d',
    tensors: { x, w, y },
    bindings: { params: v.params(g, { outOffset, outStride }), ...(statistics ? { stats: statistics.partials } : {}), ...ep.bindings },
    overrides: ep.overrides,
    views: ['y'],
    cost,
    statistics: withStatistics,
  });
  return statistics ? { y, statistics } : y;
}

/** A 1×1 conv as the product [N·H·W, Cin]·[Cin, Cout], through matmul (which checks and records it). */
function recordPointwise(x: Tensor, w: Tensor, g: ConvGeometry, epi: Epilogue | undefined, variant: MatmulVariant, out: Tensor | undefined): Tensor {
  // Reshapes share storage (refcounted), so the temporary ones are disposed at once.
  const rows = g.n * g.h * g.w;
  const x2 = x.reshape([rows, g.cin]);
  const w2 = w.reshape([g.cin, g.cout]);
  const out2 = out?.reshape([rows, g.cout]);
  const y2 = matmul(x2, w2, { variant, ...(epi ? { epilogue: epi } : {}), ...(out2 ? { out: out2 } : {}) });
  x2.dispose();
  w2.dispose();
  if (out) {
    out2!.dispose();
    return out;
  }
  const y = y2.reshape([g.n, g.oh, g.ow, g.cout]);
  y2.dispose();
  return y;
}
