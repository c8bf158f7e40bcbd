/**
 * Inference preprocessing: decoded 8-bit RGB images to a normalised f32 NHWC batch
 * [B, H, W, 3] on the GPU, each image resized, cropped and normalised by kernels/resize.wgsl
 * straight into its slot of the batch (one dispatch, or one per piece of rows for an image
 * larger than a storage binding: see src/ops/resize.ts).
 *
 * Four presets reproduce the evaluation pipelines Inception-v3 was released with (each
 * preset's doc comment lists its steps exactly); `size` and the other fields of
 * `PreprocessOptions` adjust them (size 224 for other ImageNet models, for instance).
 * Antialiased resizes (torchvision's and timm's, PIL's filters) are computed as PIL computes
 * them on 8-bit images, on the host, byte for byte (src/ops/resize-pil.ts; `pilRounding: false`
 * gives the exact f32 filter on the GPU instead). The plain bilinear resizes (Keras, TF-slim)
 * run on the GPU in f32 without TensorFlow's final rounding, so they differ from it by under
 * one 8-bit level.
 */
import type { Engine } from '../runtime/engine.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import { releaseOnThrow } from '../runtime/op-guard.js';
import type { Tensor } from '../runtime/tensor.js';
import { checkBindable, checkImage, MAX_RESIZE_SIDE, resizeDecodedImage, type ChannelTriple, type Rect, type ResizeFilter } from '../ops/resize.js';
import type { DecodedImage } from './image.js';

export type PreprocessPreset = 'torchvision' | 'keras' | 'tf-slim' | 'timm';

/** ImageNet's per-channel mean of x / 255 (R, G, B), as torchvision normalises. */
export const IMAGENET_MEAN: ChannelTriple = [0.485, 0.456, 0.406];
/** ImageNet's per-channel standard deviation of x / 255 (R, G, B). */
export const IMAGENET_STD: ChannelTriple = [0.229, 0.224, 0.225];

/**
 * How a model expects its input's values: the part of preprocessing that a state dict cannot
 * record, and that real weights get badly wrong when it is missed.
 * - 'inception': (x / 255 − 0.5) / 0.5, into [−1, 1]. torchvision's pretrained Inception-v3
 *   (`IMAGENET1K_V1`, built with `transform_input=True`, which maps its ImageNet-normalised input
 *   to exactly this before the first conv), timm's `inception_v3.tv_in1k`, `tf_in1k` and
 *   `tf_adv_in1k`, Keras and TF-slim.
 * - 'imagenet': (x / 255 − mean_c) / std_c with ImageNet's mean and std: a torchvision
 *   Inception-v3 built with `transform_input=False` (what `inception_v3(weights=None)` builds, so
 *   one trained from scratch), timm's `inception_v3.gluon_in1k`, and an ONNX export of
 *   torchvision's model (the transform_input step, if any, is in the graph).
 */
export type InputConvention = 'inception' | 'imagenet';

/** Each convention's mean and std of x / 255. */
export const INPUT_CONVENTIONS: Readonly<Record<InputConvention, { readonly mean: ChannelTriple; readonly std: ChannelTriple }>> = {
  inception: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  imagenet: { mean: IMAGENET_MEAN, std: IMAGENET_STD },
};

/** Every step of a pipeline, resolved: what `preprocess` runs. */
export interface PreprocessSteps {
  /** Output height and width. */
  height: number;
  width: number;
  /** Per-side fraction of the image kept by a central crop before resizing (TF's
   * `central_crop`); 1 keeps the whole image. */
  centralFraction: number;
  /** 'shorter-side': the shorter side becomes `resizeSize` and the longer one
   * ⌊resizeSize · long / short⌋ (torchvision's Resize(int)), then a center crop of
   * height × width; 'exact': resized straight to height × width (aspect ratio not kept). */
  resize: 'shorter-side' | 'exact';
  /** For 'shorter-side': the shorter side's length after resizing. */
  resizeSize: number;
  antialias: boolean;
  /** Antialiased only: the filter, 'bilinear' (default) or 'bicubic' (PIL's BICUBIC, timm's). */
  filter?: ResizeFilter;
  /** Antialiased only: PIL's 8-bit arithmetic, its output byte for byte (see ResizeOptions;
   * default true: the antialiased pipelines are PIL's). False: the exact f32 filter. */
  pilRounding?: boolean;
  /** Plain bilinear only: half-pixel centres (true) or TensorFlow 1's corner-aligned
   * positions (false). */
  halfPixelCenters: boolean;
  /** out_c = v_c · scale_c + bias_c for v in [0, 255]. */
  scale: ChannelTriple;
  bias: ChannelTriple;
}

/**
 * torchvision's ImageNet evaluation transform for Inception-v3 (`Inception_V3_Weights.
 * IMAGENET1K_V1.transforms()`: `ImageClassification(crop_size=299, resize_size=342)`):
 * 1. Resize(342, bilinear, antialias=True): the shorter side to 342, the longer side to
 *    ⌊342 · long / short⌋ (Python's int()), PIL's antialiased bilinear filter;
 * 2. CenterCrop(299): top = round((resizedH − 299) / 2), left = round((resizedW − 299) / 2),
 *    with Python's round (halves to even: (342 − 299) / 2 = 21.5 → 22);
 * 3. ToTensor + Normalize: (x / 255 − mean_c) / std_c, mean (0.485, 0.456, 0.406), std
 *    (0.229, 0.224, 0.225).
 * With `size` s: resize to round(s / 0.875) (256 for 224), crop s.
 */
export const TORCHVISION_PRESET: PreprocessSteps = {
  height: 299,
  width: 299,
  centralFraction: 1,
  resize: 'shorter-side',
  resizeSize: 342,
  antialias: true,
  halfPixelCenters: true,
  scale: [1 / (255 * IMAGENET_STD[0]), 1 / (255 * IMAGENET_STD[1]), 1 / (255 * IMAGENET_STD[2])],
  bias: [-IMAGENET_MEAN[0] / IMAGENET_STD[0], -IMAGENET_MEAN[1] / IMAGENET_STD[1], -IMAGENET_MEAN[2] / IMAGENET_STD[2]],
};

/**
 * Keras's Inception-v3 (`keras.applications.inception_v3.preprocess_input`, mode 'tf'), the
 * image resized as `tf.image.resize` does by default:
 * 1. resize straight to 299 × 299 (aspect ratio not kept), bilinear with half-pixel centres,
 *    no antialiasing;
 * 2. x / 127.5 − 1, into [−1, 1].
 */
export const KERAS_PRESET: PreprocessSteps = {
  height: 299,
  width: 299,
  centralFraction: 1,
  resize: 'exact',
  resizeSize: 299,
  antialias: false,
  halfPixelCenters: true,
  scale: [1 / 127.5, 1 / 127.5, 1 / 127.5],
  bias: [-1, -1, -1],
};

/**
 * TF-slim's evaluation preprocessing for Inception (`inception_preprocessing.
 * preprocess_for_eval`):
 * 1. x / 255 (convert_image_dtype);
 * 2. central_crop(0.875): of an H × W image keep rows top .. top + H − 2·top − 1 with
 *    top = int((H − 0.875·H) / 2) (truncated, in float64), and the same for columns;
 * 3. resize to 299 × 299 with `tf.image.resize_bilinear(align_corners=False)`, TensorFlow 1's
 *    resize: no antialiasing and half_pixel_centers=False, sample positions src = dst · in / out;
 * 4. (x − 0.5) · 2, into [−1, 1].
 */
export const TF_SLIM_PRESET: PreprocessSteps = {
  height: 299,
  width: 299,
  centralFraction: 0.875,
  resize: 'exact',
  resizeSize: 299,
  antialias: false,
  halfPixelCenters: false,
  scale: [2 / 255, 2 / 255, 2 / 255],
  bias: [-1, -1, -1],
};

/**
 * timm's evaluation transform for its Inception-v3 weights (`resolve_data_config` +
 * `create_transform`: input 299, crop_pct 0.875, bicubic, mean = std = 0.5):
 * 1. Resize(⌊299 / 0.875⌋ = 341) of the shorter side, as torchvision's Resize(int), with PIL's
 *    bicubic filter (antialiased: widened by the downscale factor);
 * 2. CenterCrop(299), as torchvision's;
 * 3. (x / 255 − 0.5) / 0.5 (convention 'inception'; timm's `gluon_in1k` weights take 'imagenet').
 * With `size` s: resize to ⌊s / 0.875⌋.
 */
export const TIMM_PRESET: PreprocessSteps = {
  ...TORCHVISION_PRESET,
  resizeSize: 341,
  filter: 'bicubic',
  scale: [2 / 255, 2 / 255, 2 / 255],
  bias: [-1, -1, -1],
};

export const PREPROCESS_PRESETS: Readonly<Record<PreprocessPreset, PreprocessSteps>> = {
  torchvision: TORCHVISION_PRESET,
  keras: KERAS_PRESET,
  'tf-slim': TF_SLIM_PRESET,
  timm: TIMM_PRESET,
};

/** The convention a pipeline's normalisation is, or 'custom' for any other. */
export function inputConventionOf(steps: Pick<PreprocessSteps, 'scale' | 'bias'>): InputConvention | 'custom' {
  const near = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
  for (const name of Object.keys(INPUT_CONVENTIONS) as InputConvention[]) {
    const { mean, std } = INPUT_CONVENTIONS[name];
    if ([0, 1, 2].every((c) => near(steps.scale[c]!, 1 / (255 * std[c]!)) && near(steps.bias[c]!, -mean[c]! / std[c]!))) return name;
  }
  return 'custom';
}

/** A preset with changes. Normalisation is given by mean and std (of x / 255) or by scale and
 * bias (of x in [0, 255]), not both. */
export interface PreprocessOptions {
  /** The pipeline to start from (default 'torchvision'). */
  preset?: PreprocessPreset;
  /** Output side, or [height, width] (default 299). For torchvision, the resize before the
   * crop follows it: round(size / 0.875) unless `resizeSize` is given. */
  size?: number | readonly [number, number];
  /** The shorter side after resizing, before the center crop (torchvision). Setting it on an
   * 'exact' preset switches it to resize-shorter-side-then-crop. */
  resizeSize?: number;
  centralFraction?: number;
  antialias?: boolean;
  halfPixelCenters?: boolean;
  /** The antialiased filter: 'bilinear' or 'bicubic' (PIL's). */
  filter?: ResizeFilter;
  /** Antialiased resizes as PIL computes them on 8-bit images (default true), or the exact
   * f32 filter (false). */
  pilRounding?: boolean;
  /** The normalisation by name (see InputConvention), in place of the preset's; not with
   * mean, std, scale or bias. */
  convention?: InputConvention;
  mean?: ChannelTriple;
  std?: ChannelTriple;
  scale?: ChannelTriple;
  bias?: ChannelTriple;
}

function checkInt(op: string, name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new InvalidArgumentError(`${op}: ${name} must be an integer in [${min}, ${max}], got ${String(v)}`);
  return v;
}

function checkTriple(op: string, name: string, v: unknown, positive = false): ChannelTriple {
  const ok = Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0));
  if (!ok) throw new InvalidArgumentError(`${op}: ${name} must be three finite numbers${positive ? ' > 0' : ''} (R, G, B), got ${JSON.stringify(v)}`);
  return v as unknown as ChannelTriple;
}

/** The steps of a preset name or options object, checked. */
export function resolvePreprocess(spec: PreprocessPreset | PreprocessOptions): PreprocessSteps {
  const op = 'preprocess';
  const options: PreprocessOptions = typeof spec === 'string' ? { preset: spec } : spec;
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgumentError(`${op}: expected a preset name (${Object.keys(PREPROCESS_PRESETS).join(', ')}) or options, got ${String(spec)}`);
  const name = options.preset ?? 'torchvision';
  const base = Object.hasOwn(PREPROCESS_PRESETS, name) ? PREPROCESS_PRESETS[name] : undefined;
  if (!base) throw new InvalidArgumentError(`${op}: unknown preset ${JSON.stringify(name)}; the presets are ${Object.keys(PREPROCESS_PRESETS).join(', ')}`);
  const steps: PreprocessSteps = { ...base };
  if (options.size !== undefined) {
    const [h, w] =
      typeof options.size === 'number' ? [options.size, options.size] : Array.isArray(options.size) && options.size.length === 2 ? options.size : [NaN, NaN];
    steps.height = checkInt(op, 'size', h, 1, MAX_RESIZE_SIDE);
    steps.width = checkInt(op, 'size', w, 1, MAX_RESIZE_SIDE);
    // torchvision's presets round size / 0.875 (299 → 342), timm's floors it (299 → 341).
    if (steps.resize === 'shorter-side') steps.resizeSize = (name === 'timm' ? Math.floor : Math.round)(Math.max(steps.height, steps.width) / 0.875);
  }
  if (options.resizeSize !== undefined) {
    steps.resize = 'shorter-side';
    steps.resizeSize = checkInt(op, 'resizeSize', options.resizeSize, 1, MAX_RESIZE_SIDE);
  }
  if (steps.resize === 'shorter-side' && steps.resizeSize < Math.max(steps.height, steps.width)) {
    throw new InvalidArgumentError(
      `${op}: resizeSize (${steps.resizeSize}) must be at least the crop's sides (${steps.height}×${steps.width}): the center crop would reach outside the resized image`,
    );
  }
  if (options.centralFraction !== undefined) {
    const f = options.centralFraction;
    if (typeof f !== 'number' || !(f > 0 && f <= 1)) throw new InvalidArgumentError(`${op}: centralFraction must be a number in (0, 1], got ${String(f)}`);
    steps.centralFraction = f;
  }
  if (options.antialias !== undefined) {
    if (typeof options.antialias !== 'boolean') throw new InvalidArgumentError(`${op}: antialias must be a boolean, got ${String(options.antialias)}`);
    steps.antialias = options.antialias;
    if (options.antialias) steps.halfPixelCenters = true;
  }
  if (options.halfPixelCenters !== undefined) {
    if (typeof options.halfPixelCenters !== 'boolean')
      throw new InvalidArgumentError(`${op}: halfPixelCenters must be a boolean, got ${String(options.halfPixelCenters)}`);
    if (!options.halfPixelCenters && steps.antialias)
      throw new InvalidArgumentError(`${op}: halfPixelCenters: false applies to plain bilinear resizing only (set antialias: false)`);
    steps.halfPixelCenters = options.halfPixelCenters;
  }
  if (options.filter !== undefined) {
    if (options.filter !== 'bilinear' && options.filter !== 'bicubic')
      throw new InvalidArgumentError(`${op}: filter must be 'bilinear' or 'bicubic', got ${JSON.stringify(options.filter)}`);
    steps.filter = options.filter;
  }
  if (options.pilRounding !== undefined) {
    if (typeof options.pilRounding !== 'boolean') throw new InvalidArgumentError(`${op}: pilRounding must be a boolean, got ${String(options.pilRounding)}`);
    steps.pilRounding = options.pilRounding;
  }
  if (!steps.antialias && (steps.filter ?? 'bilinear') !== 'bilinear')
    throw new InvalidArgumentError(`${op}: filter '${steps.filter}' is antialiased (PIL's); set antialias: true`);
  if (steps.antialias && steps.filter === 'bicubic' && steps.pilRounding === false)
    throw new InvalidArgumentError(`${op}: filter 'bicubic' is computed as PIL computes it (pilRounding: true)`);
  const byStats = options.mean !== undefined || options.std !== undefined;
  const byAffine = options.scale !== undefined || options.bias !== undefined;
  if (options.convention !== undefined) {
    const convention = INPUT_CONVENTIONS[options.convention];
    if (!Object.hasOwn(INPUT_CONVENTIONS, options.convention) || !convention)
      throw new InvalidArgumentError(
        `${op}: unknown convention ${JSON.stringify(options.convention)}; the conventions are ${Object.keys(INPUT_CONVENTIONS).join(', ')}`,
      );
    if (byStats || byAffine) throw new InvalidArgumentError(`${op}: give a convention or mean and std or scale and bias, not more than one of them`);
    const { mean, std } = convention;
    steps.scale = [1 / (255 * std[0]), 1 / (255 * std[1]), 1 / (255 * std[2])];
    steps.bias = [-mean[0] / std[0], -mean[1] / std[1], -mean[2] / std[2]];
  }
  if (byStats && byAffine) throw new InvalidArgumentError(`${op}: give mean and std (of x / 255) or scale and bias (of x in [0, 255]), not both`);
  if (byStats) {
    const mean = checkTriple(op, 'mean', options.mean ?? [0, 0, 0]);
    const std = checkTriple(op, 'std', options.std ?? [1, 1, 1], true);
    steps.scale = [1 / (255 * std[0]), 1 / (255 * std[1]), 1 / (255 * std[2])];
    steps.bias = [-mean[0] / std[0], -mean[1] / std[1], -mean[2] / std[2]];
  }
  if (byAffine) {
    steps.scale = checkTriple(op, 'scale', options.scale ?? [1, 1, 1]);
    steps.bias = checkTriple(op, 'bias', options.bias ?? [0, 0, 0]);
  }
  return steps;
}

/** Python's round(): to the nearest integer, halves to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Where one image's pixels come from: the source window that is resized, the resized grid,
 * and the crop of it that is the output. */
export interface PreprocessGeometry {
  source: Rect;
  resized: { height: number; width: number };
  crop: Rect;
}

/** The geometry of `steps` for an image of the given size (see each preset's steps). */
export function preprocessGeometry(steps: PreprocessSteps, image: { width: number; height: number }): PreprocessGeometry {
  const op = 'preprocess';
  const H = image.height;
  const W = image.width;
  // TF's central_crop: start = int((side − side · fraction) / 2), size = side − 2 · start.
  const top = steps.centralFraction < 1 ? Math.trunc((H - H * steps.centralFraction) / 2) : 0;
  const left = steps.centralFraction < 1 ? Math.trunc((W - W * steps.centralFraction) / 2) : 0;
  const source: Rect = { top, left, height: H - 2 * top, width: W - 2 * left };
  if (source.height < 1 || source.width < 1) throw new InvalidArgumentError(`${op}: the central crop of a ${H}×${W} image is empty`);
  if (steps.resize === 'exact') {
    return { source, resized: { height: steps.height, width: steps.width }, crop: { top: 0, left: 0, height: steps.height, width: steps.width } };
  }
  // torchvision: new_short = size, new_long = int(size · long / short).
  const s = steps.resizeSize;
  const resized =
    source.width <= source.height
      ? { width: s, height: Math.trunc((s * source.height) / source.width) }
      : { height: s, width: Math.trunc((s * source.width) / source.height) };
  if (resized.height > MAX_RESIZE_SIDE || resized.width > MAX_RESIZE_SIDE) {
    throw new InvalidArgumentError(
      `${op}: a ${H}×${W} image resized to ${s} on its shorter side would be ${resized.height}×${resized.width}, more than ${MAX_RESIZE_SIDE} on a side ` +
        `(aspect ratios up to ${(MAX_RESIZE_SIDE / s).toFixed(1)}:1 fit)`,
    );
  }
  const crop: Rect = {
    top: roundHalfEven((resized.height - steps.height) / 2),
    left: roundHalfEven((resized.width - steps.width) / 2),
    height: steps.height,
    width: steps.width,
  };
  return { source, resized, crop };
}

/** How images go up to the GPU. */
export interface UploadOptions {
  /** The largest piece of an image uploaded and bound at once, in bytes (whole rows; default the
   * device's maxStorageBufferBindingSize, at most 64 MiB). */
  maxChunkBytes?: number;
}

/**
 * Preprocesses a batch of decoded images on the GPU: f32 [B, height, width, 3] (NHWC), image b
 * in slot b. Each image is uploaded (packed, 3 bytes a pixel; in pieces of whole rows when it is
 * larger than `maxChunkBytes`) and resized, cropped and normalised into its slot. `spec`: a
 * preset name ('torchvision', 'keras', 'tf-slim', 'timm') or options that start from one.
 */
export function preprocess(
  engine: Engine,
  images: readonly DecodedImage[],
  spec: PreprocessPreset | PreprocessOptions = 'torchvision',
  upload: UploadOptions = {},
): Tensor<'f32'> {
  return releaseOnThrow(() => recordPreprocess(engine, images, spec, upload));
}

function recordPreprocess(engine: Engine, images: readonly DecodedImage[], spec: PreprocessPreset | PreprocessOptions, upload: UploadOptions): Tensor<'f32'> {
  const op = 'preprocess';
  const steps = resolvePreprocess(spec);
  if (!Array.isArray(images)) throw new InvalidArgumentError(`${op}: images must be an array of decoded images, got ${String(images)}`);
  images.forEach((im, b) => checkImage(op, `images[${b}]`, im));
  const geometry = images.map((im) => preprocessGeometry(steps, im));
  checkBindable(op, engine, [images.length, steps.height, steps.width, 3]);
  const out = engine.empty([images.length, steps.height, steps.width, 3], 'f32', op);
  try {
    images.forEach((im, b) => {
      const g = geometry[b]!;
      resizeDecodedImage(op, engine, im, {
        height: g.resized.height,
        width: g.resized.width,
        antialias: steps.antialias,
        halfPixelCenters: steps.halfPixelCenters,
        ...(steps.antialias ? { pilRounding: steps.pilRounding ?? true, filter: steps.filter ?? 'bilinear' } : {}),
        source: g.source,
        crop: g.crop,
        scale: steps.scale,
        bias: steps.bias,
        out,
        index: b,
        ...(upload.maxChunkBytes !== undefined ? { maxChunkBytes: upload.maxChunkBytes } : {}),
      });
    });
  } catch (e) {
    out.dispose();
    throw e;
  }
  return out as Tensor<'f32'>;
}
