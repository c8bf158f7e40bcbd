/**
 * The shape arithmetic of a 2-D convolution: strides and padding as the user gives them,
 * resolved into per-side numbers and output sizes, with errors that say which argument was wrong.
 * Activations are NHWC, weights HWIO ([KH, KW, Cin, Cout]).
 */
import { InvalidArgumentError } from '../runtime/errors.js';
import { anchor, type TuningKey } from '../runtime/tuning-key.js';
import type { MatmulVariant } from './matmul.js';
import type { KernelVariant } from './variants.js';

/** 'same' keeps ⌈size / stride⌉ outputs (extra padding goes after, as in TensorFlow); 'valid'
 * pads nothing; a number pads every side; [along H, along W] pads both sides of each axis;
 * [top, bottom, left, right] pads each side. */
export type Padding = 'same' | 'valid' | number | readonly [number, number] | readonly [number, number, number, number];

export interface ConvGeometry {
  n: number;
  h: number;
  w: number;
  cin: number;
  kh: number;
  kw: number;
  cout: number;
  strideH: number;
  strideW: number;
  padTop: number;
  padBottom: number;
  padLeft: number;
  padRight: number;
  oh: number;
  ow: number;
}

const GEOMETRY_FIELDS = ['n', 'h', 'w', 'cin', 'kh', 'kw', 'cout', 'strideH', 'strideW', 'padTop', 'padBottom', 'padLeft', 'padRight', 'oh', 'ow'] as const;

function described(value: unknown): string {
  if (value === null || typeof value !== 'object') return typeof value === 'string' ? `'${value}'` : String(value);
  const name = (value as object).constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : `an object with keys ${Object.keys(value).slice(0, 6).join(', ') || '(none)'}`;
}

/**
 * For the exported helpers that take a geometry and an engine (conv2dCandidates,
 * defaultConv2dVariant): a clear error when a caller passes something else, say tensors or the
 * arguments swapped, where the variant tables would otherwise answer for a geometry of NaNs.
 */
export function expectGeometryAndEngine(op: string, g: unknown, engine: unknown): void {
  const geometry = g as Record<string, unknown> | null;
  if (typeof g !== 'object' || geometry === null || GEOMETRY_FIELDS.some((f) => !Number.isInteger(geometry[f]))) {
    throw new InvalidArgumentError(`${op}: g must be a convolution geometry (convGeometry(op, xShape, wShape, stride, padding)), got ${described(g)}`);
  }
  if (typeof engine !== 'object' || engine === null || typeof (engine as { dispatch?: unknown }).dispatch !== 'function') {
    throw new InvalidArgumentError(`${op}: engine must be an Engine (from createEngine), got ${described(engine)}`);
  }
}

function samePadding(size: number, kernel: number, stride: number): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + kernel - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

function isNonNegativeInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

/** [top, bottom, left, right] for a kernel kh×kw on an h×w input at the given strides. */
export function resolvePadding(
  op: string,
  padding: Padding,
  h: number,
  w: number,
  kh: number,
  kw: number,
  strideH: number,
  strideW: number,
): [number, number, number, number] {
  if (padding === 'valid') return [0, 0, 0, 0];
  if (padding === 'same') return [...samePadding(h, kh, strideH), ...samePadding(w, kw, strideW)];
  const sides: readonly number[] =
    typeof padding === 'number' ? [padding, padding, padding, padding] : padding.length === 2 ? [padding[0], padding[0], padding[1], padding[1]] : padding;
  if (!Array.isArray(sides) || sides.length !== 4 || !sides.every(isNonNegativeInt)) {
    throw new InvalidArgumentError(
      `${op}: padding must be 'same', 'valid', a non-negative integer, [alongH, alongW] or [top, bottom, left, right] of non-negative integers, got ${JSON.stringify(padding)}`,
    );
  }
  return sides as unknown as [number, number, number, number];
}

export function resolveStride(op: string, stride: number | readonly [number, number] | undefined): [number, number] {
  const s = stride === undefined ? [1, 1] : typeof stride === 'number' ? [stride, stride] : stride;
  if (s.length !== 2 || !s.every((v) => Number.isInteger(v) && v >= 1)) {
    throw new InvalidArgumentError(`${op}: stride must be a positive integer or [strideH, strideW] of positive integers, got ${JSON.stringify(stride)}`);
  }
  return [s[0]!, s[1]!];
}

/**
 * Checks x [N,H,W,Cin] against w [KH,KW,Cin,Cout] and resolves the geometry. Every failure
 * names the argument and what was expected.
 */
export function convGeometry(
  op: string,
  xShape: readonly number[],
  wShape: readonly number[],
  stride: number | readonly [number, number] | undefined,
  padding: Padding,
): ConvGeometry {
  if (xShape.length !== 4) throw new InvalidArgumentError(`${op}: x must be rank 4 NHWC [N, H, W, Cin], got shape [${xShape.join(', ')}]`);
  if (wShape.length !== 4) throw new InvalidArgumentError(`${op}: weights must be rank 4 HWIO [KH, KW, Cin, Cout], got shape [${wShape.join(', ')}]`);
  const [n, h, w, cin] = xShape as [number, number, number, number];
  const [kh, kw, wcin, cout] = wShape as [number, number, number, number];
  if (wcin !== cin)
    throw new InvalidArgumentError(
      `${op}: channel mismatch: x has Cin=${cin} (shape [${xShape.join(', ')}]) but weights expect Cin=${wcin} (HWIO shape [${wShape.join(', ')}])`,
    );
  if (n < 1 || h < 1 || w < 1 || cin < 1) throw new InvalidArgumentError(`${op}: x must have N, H, W and Cin ≥ 1, got [${xShape.join(', ')}]`);
  if (kh < 1 || kw < 1 || cout < 1) throw new InvalidArgumentError(`${op}: weights must have KH, KW and Cout ≥ 1, got [${wShape.join(', ')}]`);
  const [strideH, strideW] = resolveStride(op, stride);
  const [padTop, padBottom, padLeft, padRight] = resolvePadding(op, padding, h, w, kh, kw, strideH, strideW);
  if (kh > h + padTop + padBottom || kw > w + padLeft + padRight) {
    throw new InvalidArgumentError(
      `${op}: kernel ${kh}×${kw} is larger than the padded input ${h + padTop + padBottom}×${w + padLeft + padRight} (input ${h}×${w}, padding [${padTop}, ${padBottom}, ${padLeft}, ${padRight}])`,
    );
  }
  const oh = Math.floor((h + padTop + padBottom - kh) / strideH) + 1;
  const ow = Math.floor((w + padLeft + padRight - kw) / strideW) + 1;
  return { n, h, w, cin, kh, kw, cout, strideH, strideW, padTop, padBottom, padLeft, padRight, oh, ow };
}

/** Multiply-adds of a convolution (one per weight per output pixel). */
export function convMacs(g: ConvGeometry): number {
  return g.n * g.oh * g.ow * g.kh * g.kw * g.cin * g.cout;
}

/** The geometry fields every conv kernel's uniforms share (named as in the WGSL structs). */
export function convGeometryUniforms(g: ConvGeometry): Record<string, number> {
  return {
    N: g.n,
    H: g.h,
    W: g.w,
    Cin: g.cin,
    OH: g.oh,
    OW: g.ow,
    Cout: g.cout,
    KH: g.kh,
    KW: g.kw,
    strideH: g.strideH,
    strideW: g.strideW,
    padTop: g.padTop,
    padLeft: g.padLeft,
  };
}

/** A conv's binding roles: input, weights, output. */
export type ConvRole = 'x' | 'w' | 'y';

/** One forward conv kernel (records in conv2d.ts and conv2d-asym.ts, which share this type). */
export type Conv2dVariantRecord<N extends string = string> = KernelVariant<ConvGeometry, ConvRole, N> & {
  /** The entry's uniforms: the general and the asymmetric kernels lay them out differently. */
  readonly params: (g: ConvGeometry, out: { outOffset: number; outStride: number }) => Record<string, number>;
  /** Set on the 1×1 records: the conv runs as a product, with this matmul variant. */
  readonly matmul?: MatmulVariant;
};

/** The tuning key fields every conv kernel (forward and both gradients) shares: sizes bucketed,
 * the facts that decide which variants apply (kernel, stride, padding, 4-alignment) exact. */
export function convTuningKey(g: ConvGeometry): TuningKey {
  return {
    n: anchor(g.n),
    h: anchor(g.h),
    w: anchor(g.w),
    cin: anchor(g.cin),
    cout: anchor(g.cout),
    kh: g.kh,
    kw: g.kw,
    strideH: g.strideH,
    strideW: g.strideW,
    padTop: g.padTop,
    padBottom: g.padBottom,
    padLeft: g.padLeft,
    padRight: g.padRight,
    cin4: g.cin % 4 === 0,
    cout4: g.cout % 4 === 0,
  };
}
