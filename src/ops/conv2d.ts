/**
 * 2-D convolution, forward. NHWC activations, HWIO weights ([KH, KW, Cin, Cout]; why HWIO: see
 * kernels/conv2d.wgsl). Three kernel families serve it and the dispatcher picks among them:
 *   - pointwise: a 1×1 conv with stride 1 and no padding is a matrix product [N·H·W, Cin]·[Cin, Cout]
 *     (matmul.ts and its variants);
 *   - asymmetric 1×n / n×1 (n ≤ 7, stride 1, padding only along the kernel's axis):
 *     kernels/conv2d-asym.wgsl, which reuses each input value across the taps;
 *   - general: kernels/conv2d.wgsl, an implicit matrix product for every other case.
 * The optional epilogue (bias, folded BatchNorm, ReLU) is applied in the write-out of each.
 * `variant` forces a kernel; otherwise the engine's tuner picks by measurement when it has
 * measured this problem, and a per-adapter heuristic when it has not.
 */
import conv2dWgsl from '../../kernels/conv2d.wgsl';
import conv2dAsymWgsl from '../../kernels/conv2d-asym.wgsl';
import matmulWgslSource from '../../kernels/matmul.wgsl';
import type { Engine } from '../runtime/engine.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import type { Tensor } from '../runtime/tensor.js';
import { convGeometry, convGeometryUniforms, convMacs, type ConvGeometry, type Padding } from './conv2d-geometry.js';
import { epilogueBindings, epilogueFlops, type Epilogue } from './epilogue.js';
import { defaultMatmulVariant, isVec4Variant, matmul, matmulVariantApplies, MATMUL_VARIANTS, type MatmulVariant } from './matmul.js';
import { checkOutput, resolveOutput, vec4OutputRefusal, type OutputOption } from './output.js';
import { batchNormPartialStatistics, type PartialStatistics } from './batchnorm.js';
import { kernelFamiliesWithSubgroups, subgroupWorkgroupX } from './subgroups.js';
import { engineOf, expectDType } from './util.js';
import { guardOp } from '../runtime/op-guard.js';

export const conv2dKernels = kernelFamiliesWithSubgroups('conv2d.wgsl', conv2dWgsl);
export const conv2dAsymKernels = kernelFamiliesWithSubgroups('conv2d-asym.wgsl', conv2dAsymWgsl);

export const CONV2D_GENERAL_VARIANTS = ['subgroup16x8', 'subgroup32x8', 'tile8x8', 'shared64'] as const;
export const CONV2D_ASYM_VARIANTS = ['subgroup_line16x8', 'subgroup_window8x8', 'window8x8', 'shared_line64'] as const;
/** The 1×1 path: a matmul, with matmul's own variant named after the prefix. */
export const CONV2D_POINTWISE_VARIANTS = MATMUL_VARIANTS.map((v) => `pointwise:${v}` as const);
export const CONV2D_VARIANTS = [...CONV2D_GENERAL_VARIANTS, ...CONV2D_ASYM_VARIANTS, ...CONV2D_POINTWISE_VARIANTS] as const;
export type Conv2dVariant = (typeof CONV2D_VARIANTS)[number];

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

const SUBGROUP_VARIANTS = new Set<string>(['subgroup16x8', 'subgroup32x8', 'subgroup_window8x8', 'subgroup_line16x8']);

/** The longest asymmetric kernel the window kernels hold (their window is 8 + n − 1 ≤ 14). */
export const MAX_ASYM_TAPS = 7;

/** Whether the geometry is a 1×n or n×1 conv the asymmetric kernels handle; 'w' slides along W. */
export function asymmetricAxis(g: ConvGeometry): 'w' | 'h' | undefined {
  if (g.strideH !== 1 || g.strideW !== 1 || g.cout % 4 !== 0) return undefined;
  if (g.kh === 1 && g.kw > 1 && g.kw <= MAX_ASYM_TAPS && g.padTop === 0 && g.padBottom === 0) return 'w';
  if (g.kw === 1 && g.kh > 1 && g.kh <= MAX_ASYM_TAPS && g.padLeft === 0 && g.padRight === 0) return 'h';
  return undefined;
}

export function isPointwise(g: ConvGeometry): boolean {
  return g.kh === 1 && g.kw === 1 && g.strideH === 1 && g.strideW === 1 && g.padTop + g.padBottom + g.padLeft + g.padRight === 0;
}

function pointwiseVariantOf(v: Conv2dVariant): MatmulVariant | undefined {
  return v.startsWith('pointwise:') ? (v.slice('pointwise:'.length) as MatmulVariant) : undefined;
}

/** Output pixels and channels one invocation of each general subgroup kernel computes. */
const SUBGROUP_TILES = { subgroup16x8: [16, 8], subgroup32x8: [32, 8] } as const;

/** Whether a variant needs the `subgroups` feature. */
export function conv2dVariantNeedsSubgroups(variant: Conv2dVariant): boolean {
  const mm = pointwiseVariantOf(variant);
  return SUBGROUP_VARIANTS.has(variant) || (mm !== undefined && mm.startsWith('subgroup'));
}

/** Why `variant` cannot run this problem's shape (on any device), or undefined if it can. */
export function conv2dShapeRefusal(variant: Conv2dVariant, g: ConvGeometry): string | undefined {
  if (!(CONV2D_VARIANTS as readonly string[]).includes(variant)) return `unknown variant '${variant}'; choose one of ${CONV2D_VARIANTS.join(', ')}`;
  const mm = pointwiseVariantOf(variant);
  if (mm) {
    if (!isPointwise(g)) return `${variant} needs a 1×1 kernel with stride 1 and no padding`;
    if (!matmulVariantApplies(mm, g.n * g.h * g.w, g.cout, g.cin)) return `${variant} needs ${mm === 'tile4x4_vec4' ? 'Cin and Cout' : 'Cout'} divisible by 4`;
  } else if ((CONV2D_ASYM_VARIANTS as readonly string[]).includes(variant)) {
    const axis = asymmetricAxis(g);
    if (!axis) return `${variant} needs a 1×n or n×1 kernel (n = 2…${MAX_ASYM_TAPS}), stride 1, padding only along the kernel's axis, and Cout divisible by 4`;
    if ((variant === 'subgroup_line16x8' || variant === 'shared_line64') && (axis === 'w' ? g.ow !== g.w : g.oh !== g.h))
      return `${variant} needs 'same' padding along the kernel's axis (as many outputs as inputs)`;
  } else if (variant !== 'shared64' && g.cout % 4 !== 0) {
    return `${variant} needs Cout divisible by 4 (got ${g.cout}); shared64 takes any Cout`;
  }
  return undefined;
}

/** Variants that store their output as vec4s (a channel view must be 4-aligned for them). */
function storesVec4(variant: Conv2dVariant): boolean {
  const mm = pointwiseVariantOf(variant);
  return mm ? isVec4Variant(mm) : variant !== 'shared64';
}

/** Why `variant` cannot run this problem on this engine (writing into `out`, if given), or
 * undefined if it can. */
export function conv2dVariantRefusal(variant: Conv2dVariant, g: ConvGeometry, engine: Engine, out?: Tensor): string | undefined {
  const why = conv2dShapeRefusal(variant, g);
  if (why) return why;
  if (storesVec4(variant)) {
    const misaligned = vec4OutputRefusal(variant, out);
    if (misaligned) return misaligned;
  }
  if (conv2dVariantNeedsSubgroups(variant) && !engine.features.has('subgroups')) {
    return `${variant} needs the 'subgroups' feature, which this device (${engine.adapterName}) lacks`;
  }
  return undefined;
}

/** Every variant that can run this problem on this engine (writing into `out`, if given). */
export function conv2dCandidates(g: ConvGeometry, engine: Engine, out?: Tensor): Conv2dVariant[] {
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

/** The tuner's key for a problem: everything that decides which kernel is fastest. */
export function conv2dShapeClass(g: ConvGeometry, epi: Epilogue | undefined): string {
  const pad = [g.padTop, g.padBottom, g.padLeft, g.padRight].join(',');
  return `kernels ${CONV_KERNELS_VERSION} n${g.n} ${g.h}x${g.w}x${g.cin} k${g.kh}x${g.kw} s${g.strideH}x${g.strideW} p${pad} cout${g.cout}${epi?.scale || epi?.shift || epi?.relu ? ' +epilogue' : ''}`;
}

/** FNV-1a of the conv and matmul kernel sources: part of every tuning key, so a stored choice
 * measured against older kernels is measured again rather than trusted. */
const CONV_KERNELS_VERSION = (() => {
  let h = 0x811c9dc5;
  for (const src of [conv2dWgsl, conv2dAsymWgsl, matmulWgslSource]) {
    for (let i = 0; i < src.length; i++) h = Math.imul(h ^ src.charCodeAt(i), 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
})();

/** y = conv2d(x, w) with the optional epilogue; x NHWC [N,H,W,Cin], w HWIO [KH,KW,Cin,Cout]. */
export const conv2d = guardOp(function conv2d(x: Tensor, w: Tensor, options: Conv2dOptions = {}): Tensor {
  const op = 'conv2d';
  const engine = engineOf(op, x, w);
  expectDType(op, 'x', x, 'f32');
  expectDType(op, 'weights', w, 'f32');
  const g = convGeometry(op, x.shape, w.shape, options.stride, options.padding ?? 'valid');
  if (options.bias && options.epilogue?.shift) throw new InvalidArgumentError(`${op}: give the bias as 'bias' or as 'epilogue.shift', not both`);
  const epi: Epilogue | undefined = options.bias ? { ...options.epilogue, shift: options.bias } : options.epilogue;
  if (options.out) checkOutput(engine, op, [g.n, g.oh, g.ow, g.cout], options.out);
  let variant: string | undefined = options.variant;
  if (variant !== undefined) {
    const why = conv2dVariantRefusal(variant as Conv2dVariant, g, engine, options.out);
    if (why) throw new InvalidArgumentError(`${op}: ${why}`);
  } else {
    const candidates = conv2dCandidates(g, engine, options.out);
    const heuristic = defaultConv2dVariant(g, engine);
    // An output view not 4-aligned leaves only the scalar-store kernels (a separate tuning key).
    const fallback = candidates.includes(heuristic) ? heuristic : candidates[0]!;
    const shapeClass = conv2dShapeClass(g, epi) + (candidates.includes(heuristic) || !options.out?.slice ? '' : ' out-unaligned');
    variant = engine.tuner.choose(op, shapeClass, candidates, fallback, () => tuningSetup(engine, g, epi));
  }
  return recordConv2d(engine, x, w, g, epi, variant as Conv2dVariant, options.out);
});

/** Variants that can also write BatchNorm partial statistics (their *_stats entries), with the
 * output pixels per statistics block. */
const STATS_BLOCK_PIXELS: Partial<Record<Conv2dVariant, number>> = { subgroup16x8: 16, tile8x8: 8 };

/**
 * y = conv2d(x, w) for training, where BatchNorm follows: the kernel also writes the per-block
 * partial statistics of y (see PartialStatistics in batchnorm.ts), so batchNormTrain(y, …,
 * { partials }) merges them instead of reading y once more. Runs a variant with a fused
 * statistics write-out (subgroup16x8 or tile8x8, tuned between them); where none applies
 * (Cout not a multiple of 4, or an explicit other variant) the conv runs as usual and the
 * standalone statistics pass follows. No epilogue or bias: BatchNorm's β takes that role.
 */
export const conv2dWithStatistics = guardOp(function conv2dWithStatistics(
  x: Tensor,
  w: Tensor,
  options: Omit<Conv2dOptions, 'epilogue' | 'bias'> = {},
): { y: Tensor; statistics: PartialStatistics } {
  const op = 'conv2dWithStatistics';
  const engine = engineOf(op, x, w);
  if ((options as Conv2dOptions).epilogue || (options as Conv2dOptions).bias) {
    throw new InvalidArgumentError(`${op}: no epilogue or bias (the statistics are of the raw conv output, and BatchNorm's β replaces a bias)`);
  }
  expectDType(op, 'x', x, 'f32');
  expectDType(op, 'weights', w, 'f32');
  const g = convGeometry(op, x.shape, w.shape, options.stride, options.padding ?? 'valid');
  if (options.out) checkOutput(engine, op, [g.n, g.oh, g.ow, g.cout], options.out);
  const fused = (Object.keys(STATS_BLOCK_PIXELS) as Conv2dVariant[]).filter((v) => conv2dVariantRefusal(v, g, engine, options.out) === undefined);
  let variant: Conv2dVariant | undefined = options.variant;
  if (variant !== undefined) {
    const why = conv2dVariantRefusal(variant, g, engine, options.out);
    if (why) throw new InvalidArgumentError(`${op}: ${why}`);
  } else if (fused.length > 0) {
    const heuristic = defaultConv2dVariant(g, engine);
    const fallback = fused.includes(heuristic) ? heuristic : fused[0]!;
    variant = engine.tuner.choose('conv2d', `${conv2dShapeClass(g, undefined)} +statistics`, fused, fallback, () => {
      const setup = tuningSetup(engine, g, undefined);
      return {
        inputs: setup.inputs,
        run: (v: string) => recordConv2d(engine, setup.inputs[0]!, setup.inputs[1]!, g, undefined, v as Conv2dVariant, undefined, true),
      };
    }) as Conv2dVariant;
  }
  if (variant === undefined || STATS_BLOCK_PIXELS[variant] === undefined) {
    const y = conv2d(x, w, { ...options, ...(variant ? { variant } : {}) });
    return { y, statistics: batchNormPartialStatistics(y) };
  }
  const { y, statistics } = recordConv2d(engine, x, w, g, undefined, variant, options.out, true) as { y: Tensor; statistics: PartialStatistics };
  return { y, statistics };
});

/** Fresh inputs of the problem's shapes for the tuner (seeded: variants see the same data). */
function tuningSetup(engine: Engine, g: ConvGeometry, epi: Epilogue | undefined): { inputs: Tensor[]; run: (variant: string) => unknown } {
  const x = engine.randomNormal([g.n, g.h, g.w, g.cin], { seed: 1 });
  const w = engine.randomNormal([g.kh, g.kw, g.cin, g.cout], { seed: 2, std: Math.sqrt(1 / (g.kh * g.kw * g.cin)) });
  const scale = epi?.scale ? engine.randomUniform([g.cout], { seed: 3, low: 0.5, high: 1.5 }) : undefined;
  const shift = epi?.shift ? engine.randomUniform([g.cout], { seed: 4, low: -0.5, high: 0.5 }) : undefined;
  const e: Epilogue | undefined = epi ? { ...(scale ? { scale } : {}), ...(shift ? { shift } : {}), relu: epi.relu ?? false } : undefined;
  const inputs = [x, w, ...(scale ? [scale] : []), ...(shift ? [shift] : [])];
  return { inputs, run: (variant) => recordConv2d(engine, x, w, g, e, variant as Conv2dVariant) };
}

function recordConv2d(engine: Engine, x: Tensor, w: Tensor, g: ConvGeometry, epi: Epilogue | undefined, variant: Conv2dVariant, out?: Tensor): Tensor;
function recordConv2d(
  engine: Engine,
  x: Tensor,
  w: Tensor,
  g: ConvGeometry,
  epi: Epilogue | undefined,
  variant: Conv2dVariant,
  out: Tensor | undefined,
  withStatistics: true,
): { y: Tensor; statistics: PartialStatistics };
function recordConv2d(
  engine: Engine,
  x: Tensor,
  w: Tensor,
  g: ConvGeometry,
  epi: Epilogue | undefined,
  variant: Conv2dVariant,
  out?: Tensor,
  withStatistics = false,
): Tensor | { y: Tensor; statistics: PartialStatistics } {
  const mm = pointwiseVariantOf(variant);
  if (mm) {
    // Reshapes share storage (refcounted), so the temporary ones are disposed at once.
    const rows = g.n * g.h * g.w;
    const x2 = x.reshape([rows, g.cin]);
    const w2 = w.reshape([g.cin, g.cout]);
    const out2 = out?.reshape([rows, g.cout]);
    const y2 = matmul(x2, w2, { variant: mm, ...(epi ? { epilogue: epi } : {}), ...(out2 ? { out: out2 } : {}) });
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
  const cost = { flops: 2 * convMacs(g) + epilogueFlops(epi) * g.n * g.oh * g.ow * g.cout, bytes: 4 * (x.size + w.size + g.n * g.oh * g.ow * g.cout) };
  const { y, outOffset, outStride } = resolveOutput(engine, 'conv2d', [g.n, g.oh, g.ow, g.cout], out);
  const vec4 = variant !== 'shared64';
  const ep = epilogueBindings('conv2d', epi, g.cout, vec4, w);
  const subgroups = SUBGROUP_VARIANTS.has(variant);
  const axis = asymmetricAxis(g);
  if ((CONV2D_ASYM_VARIANTS as readonly string[]).includes(variant) && axis) {
    const taps = axis === 'w' ? g.kw : g.kh;
    const outLenB = axis === 'w' ? g.ow : g.oh;
    const blocksB = Math.ceil(outLenB / 8);
    const params = {
      N: g.n,
      lenA: axis === 'w' ? g.h : g.w,
      lenB: axis === 'w' ? g.w : g.h,
      Cin: g.cin,
      Cout: g.cout,
      padBefore: axis === 'w' ? g.padLeft : g.padTop,
      outLenB,
      blocksB,
      inStrideA: axis === 'w' ? g.w : 1,
      inStrideB: axis === 'w' ? 1 : g.w,
      outStrideA: axis === 'w' ? g.ow : 1,
      outStrideB: axis === 'w' ? 1 : g.ow,
      inPerImage: g.h * g.w,
      outPerImage: g.oh * g.ow,
      period: (axis === 'w' ? g.w : g.h) + taps - 1,
      lineBlocks: 0,
      outOffset,
      outStride,
    };
    params.lineBlocks = Math.ceil((params.lenA * params.period) / 16);
    const rowsA = params.lenA * blocksB;
    const lanes = Math.ceil(g.cout / 8);
    const bindings = { x, w4: w, y4: y, params, ...ep.bindings };
    if (variant === 'shared_line64') {
      const blocks = Math.ceil((params.lenA * params.period) / 64);
      engine.dispatch({
        op: 'conv2d',
        kernel: conv2dAsymKernels.plain,
        entry: variant,
        overrides: { TAPS: taps, ...ep.overrides },
        bindings,
        workgroups: [Math.ceil(g.cout / 64), blocks, g.n],
        cost,
        views: ['y4'],
      });
    } else if (subgroups) {
      const wgX = subgroupWorkgroupX(engine, lanes);
      const blocks = variant === 'subgroup_line16x8' ? params.lineBlocks : rowsA;
      engine.dispatch({
        op: 'conv2d',
        kernel: conv2dAsymKernels.subgroups,
        entry: variant,
        overrides: { TAPS: taps, SUBGROUP_WG_X: wgX, ...ep.overrides },
        bindings,
        workgroups: [Math.ceil(lanes / wgX), blocks, g.n],
        cost,
        views: ['y4'],
      });
    } else {
      engine.dispatch({
        op: 'conv2d',
        kernel: conv2dAsymKernels.plain,
        entry: variant,
        overrides: { TAPS: taps, ...ep.overrides },
        bindings,
        workgroups: [Math.ceil(lanes / 8), Math.ceil(rowsA / 8), g.n],
        cost,
        views: ['y4'],
      });
    }
    return y;
  }
  const m = g.n * g.oh * g.ow;
  const params = {
    ...convGeometryUniforms(g),
    M: m,
    K: g.kh * g.kw * g.cin,
    outOffset,
    outStride,
  };
  if (withStatistics) {
    const blockPixels = STATS_BLOCK_PIXELS[variant]!;
    const chunks = Math.ceil(m / blockPixels);
    const stats = engine.empty([chunks * g.cout, 4], 'f32', 'conv2d statistics');
    const statsCost = { flops: cost.flops + 7 * m * g.cout, bytes: cost.bytes + 16 * chunks * g.cout };
    if (variant === 'tile8x8') {
      engine.dispatch({
        op: 'conv2d',
        kernel: conv2dKernels.plain,
        entry: 'tile8x8_stats',
        overrides: ep.overrides,
        bindings: { x, w4: w, y4: y, params, stats, ...ep.bindings },
        workgroups: engine.foldRows(Math.ceil(g.cout / 8 / 8), Math.ceil(m / 8 / 8)),
        cost: statsCost,
        views: ['y4'],
      });
    } else {
      const grid = subgroup16x8Grid(engine, g.cout, m);
      engine.dispatch({
        op: 'conv2d',
        kernel: conv2dKernels.subgroups,
        entry: 'subgroup16x8_stats',
        overrides: { ...grid.overrides, ...ep.overrides },
        bindings: { x, w4: w, y4: y, params, stats, ...ep.bindings },
        workgroups: grid.workgroups,
        cost: statsCost,
        views: ['y4'],
      });
    }
    return { y, statistics: { partials: stats, chunks, channels: g.cout } };
  }
  if (variant === 'shared64') {
    engine.dispatch({
      op: 'conv2d',
      kernel: conv2dKernels.plain,
      entry: 'shared64',
      overrides: ep.overrides,
      bindings: { x, w, y, params, ...ep.bindings },
      workgroups: engine.foldRows(Math.ceil(g.cout / 64), Math.ceil(m / 64)),
      cost,
      views: ['y'],
    });
  } else if (variant === 'tile8x8') {
    engine.dispatch({
      op: 'conv2d',
      kernel: conv2dKernels.plain,
      entry: 'tile8x8',
      overrides: ep.overrides,
      bindings: { x, w4: w, y4: y, params, ...ep.bindings },
      workgroups: engine.foldRows(Math.ceil(g.cout / 8 / 8), Math.ceil(m / 8 / 8)),
      cost,
      views: ['y4'],
    });
  } else if (variant === 'subgroup16x8') {
    const grid = subgroup16x8Grid(engine, g.cout, m);
    engine.dispatch({
      op: 'conv2d',
      kernel: conv2dKernels.subgroups,
      entry: variant,
      overrides: { ...grid.overrides, ...ep.overrides },
      bindings: { x, w4: w, y4: y, params, ...ep.bindings },
      workgroups: grid.workgroups,
      cost,
      views: ['y4'],
    });
  } else {
    const [rows, channelsPerLane] = SUBGROUP_TILES[variant as keyof typeof SUBGROUP_TILES];
    const lanes = Math.ceil(g.cout / channelsPerLane);
    const wgX = subgroupWorkgroupX(engine, lanes);
    engine.dispatch({
      op: 'conv2d',
      kernel: conv2dKernels.subgroups,
      entry: variant,
      overrides: { SUBGROUP_WG_X: wgX, ...ep.overrides },
      bindings: { x, w4: w, y4: y, params, ...ep.bindings },
      workgroups: engine.foldRows(Math.ceil(lanes / wgX), Math.ceil(m / rows)),
      cost,
      views: ['y4'],
    });
  }
  return y;
}

/**
 * Workgroup width, lane grouping and grid of subgroup16x8 (16 pixels × 8 channels per lane).
 * When Cout needs at most half a subgroup's lanes (Cout ≤ 32 on lavapipe's 8-lane subgroups,
 * as in the stem's 32-channel convs), the subgroup is split into groups of LANE_GROUP lanes
 * that each take their own 16 pixels, instead of leaving half the lanes idle. Only on the CPU
 * drivers, whose subgroups are consecutive local invocations (the grouping relies on it).
 */
function subgroup16x8Grid(engine: Engine, cout: number, m: number): { overrides: Record<string, number>; workgroups: [number, number, number] } {
  const lanes = Math.ceil(cout / 8);
  const sg = engine.adapterInfo.subgroupMaxSize ?? 0;
  if (engine.isSoftwareAdapter && sg > 1 && 2 * lanes <= sg) {
    const group = 2 ** Math.ceil(Math.log2(lanes));
    return { overrides: { SUBGROUP_WG_X: sg, LANE_GROUP: group }, workgroups: engine.foldRows(1, Math.ceil(m / (16 * (sg / group)))) };
  }
  const wgX = subgroupWorkgroupX(engine, lanes);
  return { overrides: { SUBGROUP_WG_X: wgX }, workgroups: engine.foldRows(Math.ceil(lanes / wgX), Math.ceil(m / 16)) };
}
