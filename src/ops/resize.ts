/**
 * Image resizing on the GPU (kernels/resize.wgsl): an 8-bit RGB image packed into u32 words in,
 * f32 NHWC [1, H, W, 3] (or one slot of a [B, H, W, 3] batch) out, with a crop before the resize
 * (`source`), a crop after it (`crop`) and per-channel normalisation (out = v · scale + bias,
 * v in [0, 255]) in the same kernel.
 *
 * Filters (the kernel's comment gives the formulas):
 * - bilinear, `halfPixelCenters: true` (default): PyTorch / torchvision `align_corners=False`,
 *   TensorFlow 2 `tf.image.resize(method='bilinear', antialias=False)`;
 * - bilinear, `halfPixelCenters: false`: TensorFlow 1 `tf.compat.v1.image.resize_bilinear(
 *   align_corners=False)` (TF-slim's eval preprocessing);
 * - `antialias: true`: PIL's `Image.resize(BILINEAR)` and torchvision's `antialias=True`: a
 *   triangle filter widened by the downscale factor, weights normalised per output pixel,
 *   separable. Computed in f32 without PIL's fixed-point weights or its rounding of the
 *   intermediate and final images to 8 bits, so it is the exact filter to f32 precision (PIL's
 *   8-bit result differs from it by up to about one level).
 * - `antialias: true, pilRounding: true` (`resizeImage` and `preprocess` only): PIL's own
 *   arithmetic for 8-bit images, byte for byte (src/ops/resize-pil.ts): fixed-point weights, a
 *   horizontal then a vertical pass, each rounded to 8 bits; with `filter: 'bicubic'`, PIL's
 *   BICUBIC (timm's and torchvision's bicubic on PIL images). It runs on the host (a 500 × 375
 *   photo to 342 and cropped to 299 in about 20 ms) and only the crop's pixels go up,
 *   where the kernel normalises them.
 * Downscaling without antialiasing reads only the two nearest samples per axis (aliasing, as
 * in PyTorch and TensorFlow); with it, a pixel costs (2·scale + 1)² taps for a downscale of
 * `scale` (a 4000 × 3000 photo to 342 on its shorter side: about 19 × 19 taps per pixel).
 *
 * Large images: a storage binding holds at most `maxStorageBufferBindingSize` bytes (128 MiB
 * by default, less than the 144 MB of an 8000 × 6000 photo's RGB bytes). `resizeImage` (and
 * `preprocess`) therefore upload the source window in pieces of whole rows, each at most
 * `maxChunkBytes` (default: what the device binds, at most 64 MiB), and dispatch the kernel once
 * per piece for the output rows whose filter taps meet it: the piece holding a pixel's first
 * tap row writes it, later pieces add their rows' share (see kernels/resize.wgsl). Every row is
 * uploaded once; the result is the same resize to f32 rounding. Input sides may be up to
 * MAX_IMAGE_SIDE (2^24), the resized grid's sides up to MAX_RESIZE_SIDE (32768).
 */
import resizeWgsl from '../../kernels/resize.wgsl';
import type { Engine } from '../runtime/engine.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import { KernelFamily } from '../runtime/kernel.js';
import type { Tensor } from '../runtime/tensor.js';
import type { ChannelTriple } from './augment.js';
import { engineOf, expectDType } from './util.js';
import { guardOp, releaseOnThrow } from '../runtime/op-guard.js';
import { pilResize, type Rect, type ResizeFilter } from './resize-pil.js';

export type { Rect } from './resize-pil.js';

export type { ResizeFilter };

export const resizeKernel = new KernelFamily('resize.wgsl', resizeWgsl);

export type { ChannelTriple };

/** The largest side of the resized grid and of the output: the kernel's exact integer sample
 * positions need 2·side·(2·side + 1) < 2^32. */
export const MAX_RESIZE_SIDE = 32768;

/** The largest side of a stored image (and of the source window): one row of it must fit in
 * one uploaded piece. Every JPEG (at most 65535 a side) is within it. */
export const MAX_IMAGE_SIDE = 2 ** 24;

/** The largest piece of an image `resizeImage` uploads at once unless told otherwise (and
 * never more than the device binds): bounds the GPU memory a large photo takes. */
export const DEFAULT_MAX_CHUNK_BYTES = 64 * 2 ** 20;

export interface ResizeOptions {
  /** Height of the resized grid (the source window scaled to height × width). */
  height: number;
  /** Width of the resized grid. */
  width: number;
  /** Antialiased (PIL / torchvision `antialias=True`) instead of plain bilinear; default false. */
  antialias?: boolean;
  /** Plain bilinear only: half-pixel centres (default true; PyTorch `align_corners=False`) or
   * TensorFlow 1's src = dst · in / out (false). */
  halfPixelCenters?: boolean;
  /** With `antialias`: compute as PIL resizes 8-bit images (fixed-point weights, the horizontal
   * then the vertical pass each rounded to 8 bits), on the host, giving PIL's bytes exactly
   * (torchvision's Resize of a PIL image). Default false (the f32 filter on the GPU).
   * `resizeImage` and `preprocess` only. */
  pilRounding?: boolean;
  /** The antialiased filter: 'bilinear' (default; PIL's BILINEAR) or 'bicubic' (PIL's BICUBIC,
   * a = −0.5; needs `pilRounding`). */
  filter?: ResizeFilter;
  /** The part of the image that is resized (a crop before resizing); default the whole image. */
  source?: Rect;
  /** The part of the resized grid that is written (a crop after resizing): output pixel (y, x)
   * is resized pixel (y + crop.top, x + crop.left). Default the whole grid. */
  crop?: Rect;
  /** Per-channel factor on v in [0, 255] (default 1, 1, 1). */
  scale?: ChannelTriple;
  /** Per-channel offset added after the scale (default 0, 0, 0). */
  bias?: ChannelTriple;
  /** Write into this f32 [B, crop.height, crop.width, 3] tensor at batch index `index` (default
   * 0) instead of returning a new [1, crop.height, crop.width, 3] tensor. */
  out?: Tensor;
  index?: number;
  /** `resizeImage` only: the largest piece of the image, in bytes, uploaded and bound at once
   * (whole rows of the source window; default the device's maxStorageBufferBindingSize, at most
   * DEFAULT_MAX_CHUNK_BYTES). `resizeRgb` binds the words it is given. */
  maxChunkBytes?: number;
}

/** Height and width of a stored image. */
export interface ImageSize {
  height: number;
  width: number;
}

const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** u32 words of an image of `bytes` bytes (the last word zero-padded). */
export const packedWords = (bytes: number): number => Math.ceil(bytes / 4);

/**
 * Bytes (H × W × 3, as decoded) as the kernel's u32 words: byte k in bits 8·(k mod 4) of word
 * ⌊k/4⌋, the last word zero-padded. A view of the same memory where the host is
 * little-endian, the bytes 4-aligned and their count a multiple of 4; else a copy.
 */
export function packRgbBytes(bytes: Uint8Array): Uint32Array {
  if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError(`packRgbBytes: bytes must be a Uint8Array, got ${String(bytes)}`);
  if (littleEndian && bytes.byteOffset % 4 === 0 && bytes.length % 4 === 0) return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  if (littleEndian) {
    const padded = new Uint8Array(4 * packedWords(bytes.length));
    padded.set(bytes);
    return new Uint32Array(padded.buffer);
  }
  const words = new Uint32Array(packedWords(bytes.length));
  for (let k = 0; k < bytes.length; k++) words[k >> 2] = (words[k >> 2]! | (bytes[k]! << (8 * (k & 3)))) >>> 0;
  return words;
}

function checkSide(op: string, name: string, v: unknown, min = 1, max = MAX_RESIZE_SIDE): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new InvalidArgumentError(`${op}: ${name} must be an integer in [${min}, ${max}], got ${String(v)}`);
  }
  return v;
}

function checkRect(op: string, name: string, r: unknown, within: ImageSize, what: string, max: number): Rect {
  const rect = r as Rect;
  if (typeof r !== 'object' || r === null) throw new InvalidArgumentError(`${op}: ${name} must be { top, left, height, width }, got ${String(r)}`);
  checkSide(op, `${name}.top`, rect.top, 0, max);
  checkSide(op, `${name}.left`, rect.left, 0, max);
  checkSide(op, `${name}.height`, rect.height, 1, max);
  checkSide(op, `${name}.width`, rect.width, 1, max);
  if (rect.top + rect.height > within.height || rect.left + rect.width > within.width) {
    throw new InvalidArgumentError(
      `${op}: ${name} (top ${rect.top}, left ${rect.left}, ${rect.height}×${rect.width}) does not fit in the ${what} (${within.height}×${within.width})`,
    );
  }
  return { top: rect.top, left: rect.left, height: rect.height, width: rect.width };
}

function checkChannels(op: string, name: string, v: unknown, fallback: ChannelTriple): ChannelTriple {
  if (v === undefined) return fallback;
  const ok = Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x));
  if (!ok) throw new InvalidArgumentError(`${op}: ${name} must be three finite numbers (R, G, B), got ${JSON.stringify(v)}`);
  return v as unknown as ChannelTriple;
}

const MODE_HALF_PIXEL = 0;
const MODE_ASYMMETRIC = 1;
const MODE_ANTIALIAS = 2;
type Mode = typeof MODE_HALF_PIXEL | typeof MODE_ASYMMETRIC | typeof MODE_ANTIALIAS;

/** A checked resize: what every dispatch of it shares. */
interface ResizePlan {
  op: string;
  engine: Engine;
  image: ImageSize;
  source: Rect;
  resized: ImageSize;
  crop: Rect;
  mode: Mode;
  /** PIL's 8-bit arithmetic on the host, with this filter (antialiased only). */
  pil: ResizeFilter | undefined;
  scale: ChannelTriple;
  bias: ChannelTriple;
  /** The caller's output tensor; when none was given, one is allocated at the first dispatch. */
  out: Tensor | undefined;
  index: number;
}

function planResize(op: string, engine: Engine, size: unknown, options: ResizeOptions): ResizePlan {
  const sz = size as ImageSize;
  if (typeof size !== 'object' || size === null)
    throw new InvalidArgumentError(`${op}: size must be { height, width } of the stored image, got ${String(size)}`);
  const image: ImageSize = {
    height: checkSide(op, 'image height', sz.height, 1, MAX_IMAGE_SIDE),
    width: checkSide(op, 'image width', sz.width, 1, MAX_IMAGE_SIDE),
  };
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgumentError(`${op}: options must give at least { height, width } of the resized grid`);
  const resized: ImageSize = { height: checkSide(op, 'height', options.height), width: checkSide(op, 'width', options.width) };
  const antialias = options.antialias ?? false;
  if (typeof antialias !== 'boolean') throw new InvalidArgumentError(`${op}: antialias must be a boolean, got ${String(options.antialias)}`);
  const halfPixelCenters = options.halfPixelCenters ?? true;
  if (typeof halfPixelCenters !== 'boolean')
    throw new InvalidArgumentError(`${op}: halfPixelCenters must be a boolean, got ${String(options.halfPixelCenters)}`);
  if (antialias && !halfPixelCenters) {
    throw new InvalidArgumentError(`${op}: halfPixelCenters: false is TensorFlow 1's plain bilinear resize; the antialiased filter always uses pixel centres`);
  }
  const pilRounding = options.pilRounding ?? false;
  if (typeof pilRounding !== 'boolean') throw new InvalidArgumentError(`${op}: pilRounding must be a boolean, got ${String(options.pilRounding)}`);
  if (pilRounding && !antialias) throw new InvalidArgumentError(`${op}: pilRounding applies to the antialiased filters (PIL's); set antialias: true`);
  const filter = options.filter ?? 'bilinear';
  if (filter !== 'bilinear' && filter !== 'bicubic')
    throw new InvalidArgumentError(`${op}: filter must be 'bilinear' or 'bicubic', got ${JSON.stringify(options.filter)}`);
  if (filter === 'bicubic' && !pilRounding)
    throw new InvalidArgumentError(`${op}: filter 'bicubic' is PIL's, computed on the host: set antialias: true and pilRounding: true`);
  const source = options.source === undefined ? { top: 0, left: 0, ...image } : checkRect(op, 'source', options.source, image, 'image', MAX_IMAGE_SIDE);
  const crop = options.crop === undefined ? { top: 0, left: 0, ...resized } : checkRect(op, 'crop', options.crop, resized, 'resized grid', MAX_RESIZE_SIDE);
  const scale = checkChannels(op, 'scale', options.scale, [1, 1, 1]);
  const bias = checkChannels(op, 'bias', options.bias, [0, 0, 0]);
  const mode: Mode = antialias ? MODE_ANTIALIAS : halfPixelCenters ? MODE_HALF_PIXEL : MODE_ASYMMETRIC;

  const out = options.out;
  const index = options.index ?? 0;
  if (out === undefined) {
    if (options.index !== undefined && options.index !== 0) throw new InvalidArgumentError(`${op}: index ${options.index} needs an out tensor to write into`);
    checkBindable(op, engine, [1, crop.height, crop.width, 3]);
  } else {
    engineOf(op, out);
    if (out.owner !== (engine as unknown)) throw new InvalidArgumentError(`${op}: out belongs to another engine`);
    expectDType(op, 'out', out, 'f32');
    if (out.slice || out.rank !== 4 || out.shape[1] !== crop.height || out.shape[2] !== crop.width || out.shape[3] !== 3) {
      throw new InvalidArgumentError(`${op}: out must be a plain f32[B, ${crop.height}, ${crop.width}, 3] tensor (the crop's size), got ${out.describe()}`);
    }
    if (!Number.isInteger(index) || index < 0 || index >= out.shape[0]!) {
      throw new InvalidArgumentError(`${op}: index must be an integer in [0, ${out.shape[0]! - 1}] (a slot of out), got ${String(options.index)}`);
    }
  }
  return { op, engine, image, source, resized, crop, mode, pil: pilRounding ? filter : undefined, scale, bias, out, index };
}

/** Refuses an output the kernel could not bind, before anything is allocated. @internal */
export function checkBindable(op: string, engine: Engine, shape: readonly number[]): void {
  const bytes = shape.reduce((a, b) => a * b, 1) * 4;
  const limit = engine.limits.maxStorageBufferBindingSize;
  if (bytes > limit) {
    throw new InvalidArgumentError(
      `${op}: the output f32[${shape.join(', ')}] takes ${bytes} bytes, more than this device's maxStorageBufferBindingSize (${limit} bytes); ask for a smaller output (or fewer images at once)`,
    );
  }
}

function outputOf(plan: ResizePlan): Tensor {
  plan.out ??= plan.engine.empty([1, plan.crop.height, plan.crop.width, 3], 'f32', plan.op);
  return plan.out;
}

/** in = whole·den + rest per axis, den = 2·out (out for TensorFlow 1's positions). */
function splitAxis(mode: Mode, inSize: number, outSize: number): { whole: number; rest: number } {
  const den = mode === MODE_ASYMMETRIC ? outSize : 2 * outSize;
  return { whole: Math.floor(inSize / den), rest: inSize % den };
}

/** Where the bound words hold the source window: pixels per stored row, the stored row of
 * source-window row `held[0]`, the stored column of source-window column 0. */
interface WordsLayout {
  stride: number;
  top: number;
  left: number;
}

/** One dispatch: the output rows `rows` from the source-window rows `held` that `words` hold. */
function dispatchResize(plan: ResizePlan, words: Tensor, layout: WordsLayout, held: readonly [number, number], rows: readonly [number, number]): void {
  const { engine, source, resized, crop, mode } = plan;
  const out = outputOf(plan);
  const y = splitAxis(mode, source.height, resized.height);
  const x = splitAxis(mode, source.width, resized.width);
  const supportY = Math.max(source.height / resized.height, 1);
  const supportX = Math.max(source.width / resized.width, 1);
  const pixels = crop.width * (rows[1] - rows[0]);
  // Taps per output pixel, for the declared cost.
  const taps = mode === MODE_ANTIALIAS ? Math.min(2 * Math.ceil(supportY) + 1, held[1] - held[0]) * Math.min(2 * Math.ceil(supportX) + 1, source.width) : 4;
  engine.dispatch({
    op: plan.op,
    kernel: resizeKernel,
    entry: 'resize',
    overrides: { MODE: mode },
    bindings: {
      image: words,
      output: out,
      params: {
        wordsStride: layout.stride,
        wordsTop: layout.top,
        wordsLeft: layout.left,
        heldFirst: held[0],
        heldEnd: held[1],
        srcHeight: source.height,
        srcWidth: source.width,
        resizedHeight: resized.height,
        resizedWidth: resized.width,
        yWhole: y.whole,
        yRest: y.rest,
        xWhole: x.whole,
        xRest: x.rest,
        cropTop: crop.top,
        cropLeft: crop.left,
        outWidth: crop.width,
        rowFirst: rows[0],
        rowEnd: rows[1],
        outBase: plan.index * crop.height * crop.width * 3,
        supportY,
        supportX,
        invSupportY: 1 / supportY,
        invSupportX: 1 / supportX,
        scale: [...plan.scale, 0],
        bias: [...plan.bias, 0],
      },
    },
    workgroups: [Math.ceil(crop.width / 8), Math.ceil((rows[1] - rows[0]) / 8), 1],
    // Three multiply-adds per tap and channel; reads three bytes per tap, writes 12 per pixel.
    cost: { flops: pixels * taps * 3 * 2, bytes: pixels * (taps * 3 + 12) },
  });
}

/**
 * Resizes (and crops and normalises) one packed RGB image on the GPU. `words`: u32 with at
 * least ⌈H·W·3 / 4⌉ elements (`packRgbBytes`), bound whole, so at most the device's
 * maxStorageBufferBindingSize bytes (`resizeImage` takes larger images); `size`: the stored
 * image's height and width. Returns f32 [1, outH, outW, 3] (outH × outW the crop, default the
 * resized grid), or `out` with slot `index` written.
 */
export const resizeRgb = guardOp('resizeRgb', function resizeRgb(words: Tensor, size: ImageSize, options: ResizeOptions): Tensor<'f32'> {
  const op = 'resizeRgb';
  const engine = engineOf(op, words);
  expectDType(op, 'words', words, 'u32');
  if (typeof options === 'object' && options !== null && options.maxChunkBytes !== undefined) {
    throw new InvalidArgumentError(
      `${op}: maxChunkBytes applies to resizeImage, which uploads a decoded image in pieces; resizeRgb binds the words it is given`,
    );
  }
  const plan = planResize(op, engine, size, options);
  if (plan.pil) {
    throw new InvalidArgumentError(
      `${op}: pilRounding runs on the host, which does not hold these words; resizeImage and preprocess take the decoded image and apply it`,
    );
  }
  const { image, source, crop } = plan;
  const needed = packedWords(image.height * image.width * 3);
  if (words.slice || words.size < needed) {
    throw new InvalidArgumentError(
      `${op}: words must be u32 holding the ${image.height}×${image.width}×3 image bytes four to a word (at least ${needed} words), got ${words.describe()}`,
    );
  }
  const limit = engine.limits.maxStorageBufferBindingSize;
  if (words.byteLength > limit) {
    throw new InvalidArgumentError(
      `${op}: the words of the ${image.height}×${image.width} image take ${words.byteLength} bytes, more than this device's maxStorageBufferBindingSize (${limit}); resizeImage and preprocess take the decoded image and upload it in pieces that fit`,
    );
  }
  dispatchResize(plan, words, { stride: image.width, top: source.top, left: source.left }, [0, source.height], [0, crop.height]);
  return outputOf(plan) as Tensor<'f32'>;
});

/**
 * Source-window rows that output row y of the crop may read, [first, last]: one row wider on
 * each side than the filter's window, so that the kernel's f32 window bounds lie inside it.
 */
function tapRows(plan: ResizePlan, y: number): [number, number] {
  const inSize = plan.source.height;
  const outSize = plan.resized.height;
  const o = y + plan.crop.top;
  let first: number;
  let last: number;
  if (plan.mode === MODE_ANTIALIAS) {
    const support = Math.max(inSize / outSize, 1);
    const centre = (inSize * (2 * o + 1)) / (2 * outSize);
    first = Math.trunc(centre - support + 0.5);
    last = Math.trunc(centre + support + 0.5) - 1;
  } else {
    const src = plan.mode === MODE_HALF_PIXEL ? Math.max((inSize * (2 * o + 1) - outSize) / (2 * outSize), 0) : (inSize * o) / outSize;
    first = Math.floor(src);
    last = first + 1;
  }
  return [Math.max(first - 1, 0), Math.min(last + 1, inSize - 1)];
}

/** The bytes of source-window rows [from, to) as packed words (a view where those rows lie
 * whole, aligned and contiguous in `data`). */
function packWindowRows(image: { width: number; data: Uint8Array }, source: Rect, from: number, to: number): Uint32Array {
  const rowBytes = source.width * 3;
  if (source.left === 0 && source.width === image.width) {
    return packRgbBytes(image.data.subarray((source.top + from) * rowBytes, (source.top + to) * rowBytes));
  }
  const bytes = new Uint8Array(4 * packedWords((to - from) * rowBytes));
  for (let r = from; r < to; r++) {
    const at = ((source.top + r) * image.width + source.left) * 3;
    bytes.set(image.data.subarray(at, at + rowBytes), (r - from) * rowBytes);
  }
  return packRgbBytes(bytes);
}

/** The piece size to use: `requested`, checked against what the device binds (a multiple of
 * 4, at most 2^31 so that the kernel's byte offsets stay within u32), or the default. */
function chunkBytes(op: string, engine: Engine, requested: unknown): number {
  const device = 4 * Math.floor(Math.min(engine.limits.maxStorageBufferBindingSize, engine.limits.maxBufferSize, 2 ** 31) / 4);
  if (requested === undefined) return Math.min(device, DEFAULT_MAX_CHUNK_BYTES);
  if (typeof requested !== 'number' || !Number.isInteger(requested) || requested < 4 || requested > device) {
    throw new InvalidArgumentError(`${op}: maxChunkBytes must be an integer in [4, ${device}] (what this device binds), got ${String(requested)}`);
  }
  return 4 * Math.floor(requested / 4);
}

/**
 * Resizes a decoded image from host memory: its source window goes up in pieces of whole rows
 * of at most `maxChunkBytes`, one dispatch per piece (see the module comment).
 * @internal resizeImage and preprocess
 */
export function resizeDecodedImage(
  op: string,
  engine: Engine,
  image: { width: number; height: number; data: Uint8Array },
  options: ResizeOptions,
): Tensor<'f32'> {
  checkImage(op, 'image', image);
  const plan = planResize(op, engine, image, options);
  if (plan.pil) {
    // PIL's resize on the host; only the crop goes up, where an identity resize (in = out: every
    // sample read with weight exactly 1) normalises it into place.
    const { crop } = plan;
    const data = pilResize(image, plan.source, plan.resized.height, plan.resized.width, crop, plan.pil);
    const { source: _s, crop: _c, antialias: _a, pilRounding: _p, filter: _f, ...rest } = options;
    return resizeDecodedImage(op, engine, { width: crop.width, height: crop.height, data }, { ...rest, height: crop.height, width: crop.width });
  }
  const maxBytes = chunkBytes(op, engine, options.maxChunkBytes);
  const { source, crop } = plan;
  const rowBytes = source.width * 3;
  const rowsPerPiece = Math.floor(maxBytes / rowBytes);
  if (rowsPerPiece < 1) {
    throw new InvalidArgumentError(
      `${op}: maxChunkBytes (${maxBytes}) is less than one row of the source window (${source.width} pixels × 3 = ${rowBytes} bytes)`,
    );
  }
  const ranges = Array.from({ length: crop.height }, (_, y) => tapRows(plan, y));
  // Both ends of the ranges grow with y, so the output rows [firstRow, endRow) that meet the
  // piece [from, to) move forward from piece to piece.
  let firstRow = 0;
  let endRow = 0;
  for (let from = 0; from < source.height && firstRow < crop.height; from += rowsPerPiece) {
    const to = Math.min(from + rowsPerPiece, source.height);
    while (firstRow < crop.height && ranges[firstRow]![1] < from) firstRow++;
    endRow = Math.max(endRow, firstRow);
    while (endRow < crop.height && ranges[endRow]![0] < to) endRow++;
    if (firstRow >= endRow) continue;
    // Only the rows those outputs read (a bilinear downscale skips most rows).
    const heldFirst = Math.max(from, ranges[firstRow]![0]);
    const heldEnd = Math.min(to, ranges[endRow - 1]![1] + 1);
    const packed = packWindowRows(image, source, heldFirst, heldEnd);
    const words = engine.tensor(packed, [packed.length], 'u32');
    try {
      dispatchResize(plan, words, { stride: source.width, top: 0, left: 0 }, [heldFirst, heldEnd], [firstRow, endRow]);
    } finally {
      words.dispose();
    }
  }
  return outputOf(plan) as Tensor<'f32'>;
}

/**
 * Uploads a decoded image (8-bit RGB, H × W × 3 bytes) and resizes it on the GPU, in pieces of
 * whole rows when it is larger than `maxChunkBytes` (see the module comment).
 */
export function resizeImage(engine: Engine, image: { width: number; height: number; data: Uint8Array }, options: ResizeOptions): Tensor<'f32'> {
  return releaseOnThrow(() => resizeDecodedImage('resizeImage', engine, image, options));
}

/** Checks that `image` is { width, height, data: Uint8Array of H·W·3 bytes }. @internal */
export function checkImage(op: string, name: string, image: unknown): void {
  const im = image as { width: number; height: number; data: Uint8Array };
  if (typeof image !== 'object' || image === null)
    throw new InvalidArgumentError(`${op}: ${name} must be a decoded image { width, height, data }, got ${String(image)}`);
  checkSide(op, `${name}.width`, im.width, 1, MAX_IMAGE_SIDE);
  checkSide(op, `${name}.height`, im.height, 1, MAX_IMAGE_SIDE);
  if (!(im.data instanceof Uint8Array) || im.data.length !== im.width * im.height * 3) {
    throw new InvalidArgumentError(
      `${op}: ${name}.data must be a Uint8Array of height × width × 3 = ${im.width * im.height * 3} bytes (8-bit RGB), got ${im.data instanceof Uint8Array ? `${im.data.length} bytes` : String(im.data)}`,
    );
  }
}
