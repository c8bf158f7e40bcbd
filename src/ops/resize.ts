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
 * Downscaling without antialiasing reads only the two nearest samples per axis (aliasing, as
 * in PyTorch and TensorFlow); with it, a pixel costs (2·scale + 1)² taps for a downscale of
 * `scale` (a 4000 × 3000 photo to 342 on its shorter side: about 19 × 19 taps per pixel).
 */
import resizeWgsl from '../../kernels/resize.wgsl';
import type { Engine } from '../runtime/engine.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import { KernelFamily } from '../runtime/kernel.js';
import type { Tensor } from '../runtime/tensor.js';
import type { ChannelTriple } from './augment.js';
import { engineOf, expectDType } from './util.js';

export const resizeKernel = new KernelFamily('resize.wgsl', resizeWgsl);

export type { ChannelTriple };

/** A rectangle of pixels: rows top .. top + height − 1, columns left .. left + width − 1. */
export interface Rect {
  top: number;
  left: number;
  height: number;
  width: number;
}

/** The largest side (input, resized or output) the kernel's integer positions allow. */
export const MAX_RESIZE_SIDE = 32768;

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
  const words = new Uint32Array(packedWords(bytes.length));
  for (let k = 0; k < bytes.length; k++) words[k >> 2] = (words[k >> 2]! | (bytes[k]! << (8 * (k & 3)))) >>> 0;
  return words;
}

function checkSide(op: string, name: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > MAX_RESIZE_SIDE) {
    throw new InvalidArgumentError(`${op}: ${name} must be an integer in [${min}, ${MAX_RESIZE_SIDE}], got ${String(v)}`);
  }
  return v;
}

function checkRect(op: string, name: string, r: unknown, within: ImageSize, what: string): Rect {
  const rect = r as Rect;
  if (typeof r !== 'object' || r === null) throw new InvalidArgumentError(`${op}: ${name} must be { top, left, height, width }, got ${String(r)}`);
  checkSide(op, `${name}.top`, rect.top, 0);
  checkSide(op, `${name}.left`, rect.left, 0);
  checkSide(op, `${name}.height`, rect.height);
  checkSide(op, `${name}.width`, rect.width);
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

/**
 * Resizes (and crops and normalises) one packed RGB image on the GPU. `words`: u32 with at
 * least ⌈H·W·3 / 4⌉ elements (`packRgbBytes`); `size`: the stored image's height and width.
 * Returns f32 [1, outH, outW, 3] (outH × outW the crop, default the resized grid), or `out`
 * with slot `index` written.
 */
export function resizeRgb(words: Tensor, size: ImageSize, options: ResizeOptions): Tensor<'f32'> {
  const op = 'resizeRgb';
  const engine = engineOf(op, words);
  expectDType(op, 'words', words, 'u32');
  if (typeof size !== 'object' || size === null) throw new InvalidArgumentError(`${op}: size must be { height, width } of the stored image, got ${String(size)}`);
  const image: ImageSize = { height: checkSide(op, 'image height', size.height), width: checkSide(op, 'image width', size.width) };
  const needed = packedWords(image.height * image.width * 3);
  if (words.slice || words.size < needed) {
    throw new InvalidArgumentError(`${op}: words must be u32 holding the ${image.height}×${image.width}×3 image bytes four to a word (at least ${needed} words), got ${words.describe()}`);
  }
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`${op}: options must give at least { height, width } of the resized grid`);
  const resized: ImageSize = { height: checkSide(op, 'height', options.height), width: checkSide(op, 'width', options.width) };
  const antialias = options.antialias ?? false;
  if (typeof antialias !== 'boolean') throw new InvalidArgumentError(`${op}: antialias must be a boolean, got ${String(options.antialias)}`);
  const halfPixelCenters = options.halfPixelCenters ?? true;
  if (typeof halfPixelCenters !== 'boolean') throw new InvalidArgumentError(`${op}: halfPixelCenters must be a boolean, got ${String(options.halfPixelCenters)}`);
  if (antialias && !halfPixelCenters) {
    throw new InvalidArgumentError(`${op}: halfPixelCenters: false is TensorFlow 1's plain bilinear resize; the antialiased filter always uses pixel centres`);
  }
  const source = options.source === undefined ? { top: 0, left: 0, ...image } : checkRect(op, 'source', options.source, image, 'image');
  const crop = options.crop === undefined ? { top: 0, left: 0, ...resized } : checkRect(op, 'crop', options.crop, resized, 'resized grid');
  const scale = checkChannels(op, 'scale', options.scale, [1, 1, 1]);
  const bias = checkChannels(op, 'bias', options.bias, [0, 0, 0]);

  let out = options.out;
  const index = options.index ?? 0;
  if (out === undefined) {
    if (options.index !== undefined && options.index !== 0) throw new InvalidArgumentError(`${op}: index ${options.index} needs an out tensor to write into`);
    out = engine.empty([1, crop.height, crop.width, 3], 'f32', op);
  } else {
    engineOf(op, words, out);
    expectDType(op, 'out', out, 'f32');
    if (out.slice || out.rank !== 4 || out.shape[1] !== crop.height || out.shape[2] !== crop.width || out.shape[3] !== 3) {
      throw new InvalidArgumentError(`${op}: out must be a plain f32[B, ${crop.height}, ${crop.width}, 3] tensor (the crop's size), got ${out.describe()}`);
    }
    if (!Number.isInteger(index) || index < 0 || index >= out.shape[0]!) {
      throw new InvalidArgumentError(`${op}: index must be an integer in [0, ${out.shape[0]! - 1}] (a slot of out), got ${String(options.index)}`);
    }
  }
  const supportY = Math.max(source.height / resized.height, 1);
  const supportX = Math.max(source.width / resized.width, 1);
  const mode = antialias ? 2 : halfPixelCenters ? 0 : 1;
  const pixels = crop.height * crop.width;
  // Taps per output pixel along each axis (for the declared cost).
  const taps = antialias ? Math.min(2 * Math.ceil(supportY) + 1, source.height) * Math.min(2 * Math.ceil(supportX) + 1, source.width) : 4;
  engine.dispatch({
    op,
    kernel: resizeKernel,
    entry: 'resize',
    overrides: { MODE: mode },
    bindings: {
      image: words,
      output: out,
      params: {
        imageWidth: image.width,
        srcTop: source.top,
        srcLeft: source.left,
        srcHeight: source.height,
        srcWidth: source.width,
        resizedHeight: resized.height,
        resizedWidth: resized.width,
        cropTop: crop.top,
        cropLeft: crop.left,
        outHeight: crop.height,
        outWidth: crop.width,
        outBase: index * pixels * 3,
        supportY,
        supportX,
        invSupportY: 1 / supportY,
        invSupportX: 1 / supportX,
        scale: [...scale, 0],
        bias: [...bias, 0],
      },
    },
    workgroups: [Math.ceil(crop.width / 8), Math.ceil(crop.height / 8), 1],
    // Three multiply-adds per tap and channel; reads three bytes per tap, writes 12 per pixel.
    cost: { flops: pixels * taps * 3 * 2, bytes: pixels * (taps * 3 + 12) },
  });
  return out as Tensor<'f32'>;
}

/**
 * Uploads a decoded image (8-bit RGB, H × W × 3 bytes) and resizes it on the GPU (`resizeRgb`).
 */
export function resizeImage(engine: Engine, image: { width: number; height: number; data: Uint8Array }, options: ResizeOptions): Tensor<'f32'> {
  const op = 'resizeImage';
  checkImage(op, 'image', image);
  const words = uploadImage(engine, image);
  try {
    return resizeRgb(words, image, options);
  } finally {
    words.dispose();
  }
}

/** Checks that `image` is { width, height, data: Uint8Array of H·W·3 bytes }. @internal */
export function checkImage(op: string, name: string, image: unknown): void {
  const im = image as { width: number; height: number; data: Uint8Array };
  if (typeof image !== 'object' || image === null) throw new InvalidArgumentError(`${op}: ${name} must be a decoded image { width, height, data }, got ${String(image)}`);
  checkSide(op, `${name}.width`, im.width);
  checkSide(op, `${name}.height`, im.height);
  if (!(im.data instanceof Uint8Array) || im.data.length !== im.width * im.height * 3) {
    throw new InvalidArgumentError(
      `${op}: ${name}.data must be a Uint8Array of height × width × 3 = ${im.width * im.height * 3} bytes (8-bit RGB), got ${im.data instanceof Uint8Array ? `${im.data.length} bytes` : String(im.data)}`,
    );
  }
}

/** The image's bytes as a u32 tensor of packed words. @internal */
export function uploadImage(engine: Engine, image: { data: Uint8Array }): Tensor<'u32'> {
  const words = packRgbBytes(image.data);
  return engine.tensor(words, [words.length], 'u32') as Tensor<'u32'>;
}
