/**
 * The asymmetric 1×n / n×1 conv kernels (kernels/conv2d-asym.wgsl; n ≤ 7, stride 1, padding only
 * along the kernel's axis), which reuse each input value across the taps: their records, for
 * conv2d.ts's table. The kernels see the conv as lines: axis B is the one the kernel slides
 * along, axis A the other one.
 */
import conv2dAsymWgsl from '../../kernels/conv2d-asym.wgsl';
import type { Engine } from '../runtime/engine.js';
import type { Conv2dVariantRecord, ConvGeometry } from './conv2d-geometry.js';
import { kernelFamiliesWithSubgroups, subgroupWorkgroupX } from './subgroups.js';
import type { VariantGrid } from './variants.js';

export const conv2dAsymKernels = kernelFamiliesWithSubgroups('conv2d-asym.wgsl', conv2dAsymWgsl);

/** The longest asymmetric kernel the window kernels hold (their window is 8 + n − 1 ≤ 14). */
export const MAX_ASYM_TAPS = 7;

/** Whether the geometry is a 1×n or n×1 conv the asymmetric kernels handle; 'w' slides along W. */
export function asymmetricAxis(g: ConvGeometry): 'w' | 'h' | undefined {
  if (g.strideH !== 1 || g.strideW !== 1 || g.cout % 4 !== 0) return undefined;
  if (g.kh === 1 && g.kw > 1 && g.kw <= MAX_ASYM_TAPS && g.padTop === 0 && g.padBottom === 0) return 'w';
  if (g.kw === 1 && g.kh > 1 && g.kh <= MAX_ASYM_TAPS && g.padLeft === 0 && g.padRight === 0) return 'h';
  return undefined;
}

/** The uniforms of every conv2d-asym.wgsl entry (AsymParams). */
export function asymParams(g: ConvGeometry, out: { outOffset: number; outStride: number }): Record<string, number> {
  const axis = asymmetricAxis(g) ?? 'w';
  const taps = axis === 'w' ? g.kw : g.kh;
  const outLenB = axis === 'w' ? g.ow : g.oh;
  const lenA = axis === 'w' ? g.h : g.w;
  const period = (axis === 'w' ? g.w : g.h) + taps - 1;
  return {
    N: g.n,
    lenA,
    lenB: axis === 'w' ? g.w : g.h,
    Cin: g.cin,
    Cout: g.cout,
    padBefore: axis === 'w' ? g.padLeft : g.padTop,
    outLenB,
    blocksB: Math.ceil(outLenB / 8),
    inStrideA: axis === 'w' ? g.w : 1,
    inStrideB: axis === 'w' ? 1 : g.w,
    outStrideA: axis === 'w' ? g.ow : 1,
    outStrideB: axis === 'w' ? 1 : g.ow,
    inPerImage: g.h * g.w,
    outPerImage: g.oh * g.ow,
    period,
    lineBlocks: Math.ceil((lenA * period) / 16),
    outOffset: out.outOffset,
    outStride: out.outStride,
  };
}

/** The sizes the grids are made of: taps, 8-output blocks of every line, padded line length. */
function lines(g: ConvGeometry): { taps: number; rowsA: number; lenA: number; period: number; lanes: number } {
  const axis = asymmetricAxis(g) ?? 'w';
  const taps = axis === 'w' ? g.kw : g.kh;
  const lenA = axis === 'w' ? g.h : g.w;
  const rowsA = lenA * Math.ceil((axis === 'w' ? g.ow : g.oh) / 8);
  return { taps, rowsA, lenA, period: (axis === 'w' ? g.w : g.h) + taps - 1, lanes: Math.ceil(g.cout / 8) };
}

function asymRefusal(name: string, sameOnly: boolean): (g: ConvGeometry) => string | undefined {
  return (g) => {
    const axis = asymmetricAxis(g);
    if (!axis) return `${name} needs a 1×n or n×1 kernel (n = 2…${MAX_ASYM_TAPS}), stride 1, padding only along the kernel's axis, and Cout divisible by 4`;
    if (sameOnly && (axis === 'w' ? g.ow !== g.w : g.oh !== g.h)) return `${name} needs 'same' padding along the kernel's axis (as many outputs as inputs)`;
    return undefined;
  };
}

function asymRecord<N extends string>(
  name: N,
  options: { subgroups?: boolean; sameOnly?: boolean; grid: (engine: Engine, g: ConvGeometry) => VariantGrid },
): Conv2dVariantRecord<N> {
  return {
    name,
    kernel: options.subgroups ? conv2dAsymKernels.subgroups : conv2dAsymKernels.plain,
    entry: name,
    ...(options.subgroups ? { features: ['subgroups'] as const } : {}),
    refusal: asymRefusal(name, options.sameOnly ?? false),
    storesVec4: true,
    grid: options.grid,
    bindings: { x: 'x', w: 'w4', y: 'y4' },
    params: asymParams,
  };
}

/** A subgroup lane owns 8 channels of one block of outputs: 16 of a whole padded line
 * (subgroup_line16x8) or 8 along one line (subgroup_window8x8). */
function subgroupLineGrid(wholeLines: boolean): (engine: Engine, g: ConvGeometry) => VariantGrid {
  return (engine, g) => {
    const l = lines(g);
    const wgX = subgroupWorkgroupX(engine, l.lanes);
    const blocks = wholeLines ? Math.ceil((l.lenA * l.period) / 16) : l.rowsA;
    return { workgroups: [Math.ceil(l.lanes / wgX), blocks, g.n], overrides: { TAPS: l.taps, SUBGROUP_WG_X: wgX } };
  };
}

/** The asymmetric records, in the order conv2d lists its candidates. */
export const CONV2D_ASYM_TABLE = [
  asymRecord('subgroup_line16x8', { subgroups: true, sameOnly: true, grid: subgroupLineGrid(true) }),
  asymRecord('subgroup_window8x8', { subgroups: true, grid: subgroupLineGrid(false) }),
  asymRecord('window8x8', {
    grid: (_engine, g) => {
      const l = lines(g);
      return { workgroups: [Math.ceil(l.lanes / 8), Math.ceil(l.rowsA / 8), g.n], overrides: { TAPS: l.taps } };
    },
  }),
  asymRecord('shared_line64', {
    sameOnly: true,
    grid: (_engine, g) => {
      const l = lines(g);
      return { workgroups: [Math.ceil(g.cout / 64), Math.ceil((l.lenA * l.period) / 64), g.n], overrides: { TAPS: l.taps } };
    },
  }),
] as const;
