/**
 * CIFAR-10 augmentation on the GPU (kernels/augment.wgsl): uint8 images [B, 3, 32, 32] packed
 * into u32 words in, normalised f32 NHWC [B, 32, 32, 3] out, with torchvision's
 * RandomCrop(32, padding=4) + RandomHorizontalFlip(0.5) in training. Padding is zero in the
 * uint8 domain (as torchvision pads the image before ToTensor/Normalize), so a padded pixel of
 * channel c is (0 − mean_c) / std_c. The per-image draws (dx, dy, flip) come from
 * Philox4x32-10 keyed by the seed with the step and the image's position in the counter;
 * `augmentDraws` computes the same draws on the host.
 */
import augmentWgsl from '../../kernels/augment.wgsl';
import { philox4x32_10, splitWords } from '../data/random.js';
import type { Engine } from '../runtime/engine.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import { KernelFamily } from '../runtime/kernel.js';
import type { Tensor } from '../runtime/tensor.js';
import { engineOf, expectDType } from './util.js';
import { guardOp } from '../runtime/op-guard.js';

export const augmentKernel = new KernelFamily('augment.wgsl', augmentWgsl);

/** Bytes of one image: 3 planes of 32 × 32. */
export const IMAGE_BYTES = 3072;
/** u32 words of one packed image. */
export const IMAGE_WORDS = IMAGE_BYTES / 4;
export const IMAGE_SIZE = 32;
/** Counter word 3 of the augmentation draws (ASCII 'AUGM'), as in kernels/augment.wgsl. */
export const AUGMENT_STREAM = 0x4155474d;

/** Per-channel mean of CIFAR-10's training set for x / 255 (R, G, B). */
export const CIFAR10_MEAN: readonly [number, number, number] = [0.4914, 0.4822, 0.4465];
/** Per-channel standard deviation of CIFAR-10's training set for x / 255 (over all pixels). */
export const CIFAR10_STD: readonly [number, number, number] = [0.247, 0.2435, 0.2616];

const MAX_INTEGER = 2 ** 53;
const MAX_PADDING = 32;

export type ChannelTriple = readonly [number, number, number];

export interface AugmentDrawOptions {
  /** Generator key: an integer in [0, 2^53]. */
  seed: number;
  /** Training step (second counter word): an integer in [0, 2^53]; each step draws anew. */
  step: number;
  /** Zero padding on each side (default 4): offsets dx, dy are drawn in [0, 2·padding]. */
  padding?: number;
  /** Horizontal flip with probability 1/2 (default true). */
  flip?: boolean;
  /** Counter word 0 of the first image (default 0): image b uses firstIndex + b. */
  firstIndex?: number;
}

export interface AugmentOptions extends Partial<AugmentDrawOptions> {
  /** true: random crop and flip (seed and step required); false: normalise only. */
  training: boolean;
  /** Per-channel mean of x / 255 (default CIFAR10_MEAN). */
  mean?: ChannelTriple;
  /** Per-channel standard deviation of x / 255 (default CIFAR10_STD). */
  std?: ChannelTriple;
}

/** Per-image draws: image b is cut at (top dy[b], left dx[b]) of the padded image, then
 * mirrored when flip[b] = 1. */
export interface AugmentDraws {
  dx: Uint8Array;
  dy: Uint8Array;
  flip: Uint8Array;
}

function checkInteger(op: string, name: string, v: unknown, max = MAX_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    throw new InvalidArgumentError(`${op}: ${name} must be an integer in [0, ${max === MAX_INTEGER ? '2^53' : max}], got ${String(v)}`);
  }
  return v;
}

interface ResolvedDraws {
  seed: number;
  step: number;
  padding: number;
  flip: boolean;
  firstIndex: number;
}

function resolveDraws(op: string, count: number, o: Partial<AugmentDrawOptions>): ResolvedDraws {
  if (o.seed === undefined) throw new InvalidArgumentError(`${op}: seed is required for training-mode augmentation (an integer in [0, 2^53])`);
  if (o.step === undefined) throw new InvalidArgumentError(`${op}: step is required for training-mode augmentation (an integer in [0, 2^53])`);
  const seed = checkInteger(op, 'seed', o.seed);
  const step = checkInteger(op, 'step', o.step);
  const padding = checkInteger(op, 'padding', o.padding ?? 4, MAX_PADDING);
  const flip = o.flip ?? true;
  if (typeof flip !== 'boolean') throw new InvalidArgumentError(`${op}: flip must be a boolean, got ${String(flip)}`);
  const firstIndex = checkInteger(op, 'firstIndex', o.firstIndex ?? 0, 2 ** 32 - 1);
  if (firstIndex + count > 2 ** 32) throw new InvalidArgumentError(`${op}: firstIndex + image count must be at most 2^32, got ${firstIndex} + ${count}`);
  return { seed, step, padding, flip, firstIndex };
}

/**
 * The draws of `count` images on the host, bit for bit those of the kernel: Philox4x32-10 on
 * counter (firstIndex + b, step mod 2^32, ⌊step / 2^32⌋, AUGMENT_STREAM), key (seed mod 2^32,
 * ⌊seed / 2^32⌋); dx = w0 mod (2P + 1), dy = w1 mod (2P + 1), flip = w2 >> 31.
 */
export function augmentDraws(count: number, options: AugmentDrawOptions): AugmentDraws {
  const op = 'augmentDraws';
  checkInteger(op, 'count', count, 2 ** 32);
  const d = resolveDraws(op, count, options);
  const key = splitWords(d.seed);
  const [stepLo, stepHi] = splitWords(d.step);
  const span = 2 * d.padding + 1;
  const out: AugmentDraws = { dx: new Uint8Array(count), dy: new Uint8Array(count), flip: new Uint8Array(count) };
  for (let b = 0; b < count; b++) {
    const w = philox4x32_10([d.firstIndex + b, stepLo, stepHi, AUGMENT_STREAM], key);
    out.dx[b] = w[0] % span;
    out.dy[b] = w[1] % span;
    out.flip[b] = d.flip ? w[2] >>> 31 : 0;
  }
  return out;
}

/**
 * The lookup table of the kernel: table[256·c + v] = f32((v / 255 − mean_c) / std_c),
 * computed in float64 and rounded once.
 */
export function normalizationTable(mean: ChannelTriple = CIFAR10_MEAN, std: ChannelTriple = CIFAR10_STD): Float32Array {
  const table = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) for (let v = 0; v < 256; v++) table[256 * c + v] = (v / 255 - mean[c]!) / std[c]!;
  return table;
}

function checkChannels(op: string, name: string, v: unknown, positive: boolean): ChannelTriple {
  const ok = Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0));
  if (!ok) throw new InvalidArgumentError(`${op}: ${name} must be three finite numbers${positive ? ' > 0' : ''} (R, G, B), got ${JSON.stringify(v)}`);
  return v as unknown as ChannelTriple;
}

const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The bytes of B images ([B, 3, 32, 32], as in the files) as the kernel's u32 words, byte i
 * in bits 8·(i mod 4) of word ⌊i/4⌋. A view of the same memory where the host is
 * little-endian and the bytes 4-aligned, else a copy. */
export function packImageBytes(bytes: Uint8Array): Uint32Array {
  if (bytes.length % IMAGE_BYTES !== 0) {
    throw new InvalidArgumentError(`packImageBytes: bytes must hold whole 3×32×32 images (a multiple of ${IMAGE_BYTES}), got ${bytes.length}`);
  }
  if (littleEndian && bytes.byteOffset % 4 === 0) return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const words = new Uint32Array(bytes.length / 4);
  for (let i = 0; i < words.length; i++) {
    words[i] = (bytes[4 * i]! | (bytes[4 * i + 1]! << 8) | (bytes[4 * i + 2]! << 16) | (bytes[4 * i + 3]! << 24)) >>> 0;
  }
  return words;
}

/**
 * Augments and normalises a batch on the GPU. `words`: u32[B, 768], the batch's bytes packed by
 * `packImageBytes`. Returns f32[B, 32, 32, 3] (NHWC), (x / 255 − mean_c) / std_c of the
 * cropped and flipped image in training, of the image itself in evaluation.
 */
export const augmentImages = guardOp('augmentImages', function augmentImages(words: Tensor, options: AugmentOptions): Tensor<'f32'> {
  const op = 'augmentImages';
  const engine = engineOf(op, words);
  expectDType(op, 'words', words, 'u32');
  if (words.rank !== 2 || words.shape[1] !== IMAGE_WORDS || words.slice) {
    throw new InvalidArgumentError(`${op}: words must be u32[B, ${IMAGE_WORDS}] (3×32×32 bytes per image, four to a word), got ${words.describe()}`);
  }
  const count = words.shape[0]!;
  if (typeof options?.training !== 'boolean')
    throw new InvalidArgumentError(`${op}: training must be a boolean (true: crop and flip; false: normalise only), got ${String(options?.training)}`);
  const mean = checkChannels(op, 'mean', options.mean ?? CIFAR10_MEAN, false);
  const std = checkChannels(op, 'std', options.std ?? CIFAR10_STD, true);
  const d: ResolvedDraws = options.training ? resolveDraws(op, count, options) : { seed: 0, step: 0, padding: 0, flip: false, firstIndex: 0 };
  const y = engine.empty([count, IMAGE_SIZE, IMAGE_SIZE, 3], 'f32', op);
  if (count === 0) return y;
  const table = engine.tensor(normalizationTable(mean, std), [3, 256], 'f32');
  try {
    engine.dispatch({
      op,
      kernel: augmentKernel,
      entry: 'augment',
      overrides: { TRAINING: options.training ? 1 : 0 },
      bindings: { images: words, table, y, params: drawParams(count, d) },
      workgroups: engine.grid1d(count * IMAGE_SIZE * IMAGE_SIZE, 64),
      // Reads each byte once, writes 4 bytes per value; no floating-point arithmetic (a lookup).
      cost: { bytes: count * IMAGE_BYTES * 5 },
    });
  } finally {
    table.dispose();
  }
  return y as Tensor<'f32'>;
});

function drawParams(count: number, d: ResolvedDraws) {
  const [keyLo, keyHi] = splitWords(d.seed);
  const [stepLo, stepHi] = splitWords(d.step);
  return { count, first: d.firstIndex, keyLo, keyHi, stepLo, stepHi, padding: d.padding, flip: d.flip ? 1 : 0 };
}

/** The kernel's own draws for `count` images: u32[count, 3], rows (dx, dy, flip). For checking
 * `augmentDraws` against the GPU. */
export const augmentDrawsGpu = guardOp('augmentDrawsGpu', function augmentDrawsGpu(engine: Engine, count: number, options: AugmentDrawOptions): Tensor<'u32'> {
  const op = 'augmentDrawsGpu';
  checkInteger(op, 'count', count, 2 ** 32);
  const d = resolveDraws(op, count, options);
  const draws = engine.empty([count, 3], 'u32', op);
  engine.dispatch({
    op,
    kernel: augmentKernel,
    entry: 'augment_draws',
    bindings: { draws, params: drawParams(count, d) },
    workgroups: engine.grid1d(count, 64),
    cost: { bytes: 12 * count },
  });
  return draws;
});

export interface AugmentBatchResult {
  /** f32[B, 32, 32, 3], normalised (and augmented in training). */
  images: Tensor<'f32'>;
  /** i32[B], when labels were given. */
  labels?: Tensor<'i32'>;
}

/**
 * Host bytes to a GPU batch: uploads the images (packed, 3 KB per image) and runs
 * `augmentImages`; uploads `labels` (one byte per image) as i32 when given.
 */
export const augmentBatch = guardOp(
  'augmentBatch',
  function augmentBatch(engine: Engine, images: Uint8Array, labels: Uint8Array | Int32Array | undefined, options: AugmentOptions): AugmentBatchResult {
    const op = 'augmentBatch';
    if (!(images instanceof Uint8Array) || images.length % IMAGE_BYTES !== 0) {
      throw new InvalidArgumentError(
        `${op}: images must be a Uint8Array of whole 3×32×32 images (a multiple of ${IMAGE_BYTES} bytes), got ${images instanceof Uint8Array ? `${images.length} bytes` : String(images)}`,
      );
    }
    const count = images.length / IMAGE_BYTES;
    if (labels !== undefined && labels.length !== count)
      throw new InvalidArgumentError(`${op}: labels must hold one label per image (${count}), got ${labels.length}`);
    const words = engine.tensor(packImageBytes(images), [count, IMAGE_WORDS], 'u32');
    try {
      const out = augmentImages(words, options);
      if (labels === undefined) return { images: out };
      return { images: out, labels: engine.tensor(Int32Array.from(labels), [count], 'i32') as Tensor<'i32'> };
    } finally {
      words.dispose();
    }
  },
);
