/**
 * Image resizing and the inference presets written for clarity, in float64, the way the
 * original libraries write them (not the way the kernel does):
 * - bilinear: PyTorch's upsample_bilinear2d with align_corners=False (area_pixel_compute_
 *   source_index), and TensorFlow 1's resize_bilinear (half_pixel_centers=False);
 * - antialias: PIL's ImagingResample (precompute_coeffs with the bilinear filter, support 1),
 *   horizontal pass then vertical pass, without PIL's fixed-point rounding;
 * - presets: torchvision's Resize + CenterCrop + Normalize, Keras's resize + x/127.5 − 1,
 *   TF-slim's convert_image_dtype + central_crop + resize_bilinear + (x − 0.5)·2, each composed
 *   step by step on whole images (resize the whole grid, then slice the crop).
 */

export type ResizeModeRef = 'bilinear' | 'bilinear-tf1' | 'antialias';

export interface ImageRef {
  width: number;
  height: number;
  /** H × W × 3 bytes, R G B interleaved. */
  data: Uint8Array;
}

/** A float64 image: H × W × 3 values. */
export interface GridRef {
  width: number;
  height: number;
  data: Float64Array;
}

/** The source samples and weights of one output sample along one axis. */
export interface Taps {
  index: number[];
  weight: number[];
}

/** Output sample o of `outSize` taken from `inSize` input samples. */
export function axisTaps(inSize: number, outSize: number, mode: ResizeModeRef, o: number): Taps {
  const scale = inSize / outSize;
  if (mode === 'bilinear' || mode === 'bilinear-tf1') {
    let src = mode === 'bilinear' ? (o + 0.5) * scale - 0.5 : o * scale;
    if (src < 0) src = 0;
    const i0 = Math.floor(src);
    const i1 = i0 < inSize - 1 ? i0 + 1 : i0;
    const lambda1 = src - i0;
    return { index: [i0, i1], weight: [1 - lambda1, lambda1] };
  }
  // PIL: support = filter support (1 for bilinear) × max(scale, 1); the triangle is stretched
  // by the same factor.
  const filterScale = Math.max(scale, 1);
  const support = 1 * filterScale;
  const center = (o + 0.5) * scale;
  let xmin = Math.trunc(center - support + 0.5);
  if (xmin < 0) xmin = 0;
  let xmax = Math.trunc(center + support + 0.5);
  if (xmax > inSize) xmax = inSize;
  const triangle = (x: number) => Math.max(0, 1 - Math.abs(x));
  const taps: Taps = { index: [], weight: [] };
  let total = 0;
  for (let x = xmin; x < xmax; x++) {
    const w = triangle((x - center + 0.5) / filterScale);
    taps.index.push(x);
    taps.weight.push(w);
    total += w;
  }
  taps.weight = taps.weight.map((w) => w / total);
  return taps;
}

/** The bytes of an image as float64 values. */
export function toGrid(image: ImageRef): GridRef {
  return { width: image.width, height: image.height, data: Float64Array.from(image.data) };
}

/** Rows top .. top + height − 1 and columns left .. left + width − 1 of a grid. */
export function cropGrid(g: GridRef, top: number, left: number, height: number, width: number): GridRef {
  if (top < 0 || left < 0 || top + height > g.height || left + width > g.width)
    throw new Error(`crop ${top},${left} ${height}×${width} outside ${g.height}×${g.width}`);
  const out = new Float64Array(height * width * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) out[(y * width + x) * 3 + c] = g.data[((y + top) * g.width + x + left) * 3 + c]!;
    }
  }
  return { width, height, data: out };
}

/** Resizes a whole grid to outHeight × outWidth: along x first, then along y (separable). */
export function resizeGrid(g: GridRef, outHeight: number, outWidth: number, mode: ResizeModeRef): GridRef {
  const horizontal = new Float64Array(g.height * outWidth * 3);
  for (let x = 0; x < outWidth; x++) {
    const t = axisTaps(g.width, outWidth, mode, x);
    for (let y = 0; y < g.height; y++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        t.index.forEach((j, k) => (s += t.weight[k]! * g.data[(y * g.width + j) * 3 + c]!));
        horizontal[(y * outWidth + x) * 3 + c] = s;
      }
    }
  }
  const out = new Float64Array(outHeight * outWidth * 3);
  for (let y = 0; y < outHeight; y++) {
    const t = axisTaps(g.height, outHeight, mode, y);
    for (let x = 0; x < outWidth; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        t.index.forEach((i, k) => (s += t.weight[k]! * horizontal[(i * outWidth + x) * 3 + c]!));
        out[(y * outWidth + x) * 3 + c] = s;
      }
    }
  }
  return { width: outWidth, height: outHeight, data: out };
}

/** v · scale_c + bias_c per channel. */
export function affineGrid(g: GridRef, scale: readonly number[], bias: readonly number[]): GridRef {
  return { ...g, data: g.data.map((v, i) => v * scale[i % 3]! + bias[i % 3]!) };
}

/** Python 3's round(): the nearest integer, halves to the even one. */
export function pythonRound(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

export const IMAGENET_MEAN_REF = [0.485, 0.456, 0.406];
export const IMAGENET_STD_REF = [0.229, 0.224, 0.225];

/** torchvision: Resize(resize) (antialias) → CenterCrop(crop) → ToTensor → Normalize. */
export function torchvisionRef(image: ImageRef, crop = 299, resize = 342): GridRef {
  // transforms.functional._compute_resized_output_size with an int size.
  const { width: w, height: h } = image;
  const [short, long] = w <= h ? [w, h] : [h, w];
  const newShort = resize;
  const newLong = Math.trunc((resize * long) / short);
  const [newW, newH] = w <= h ? [newShort, newLong] : [newLong, newShort];
  const resized = resizeGrid(toGrid(image), newH, newW, 'antialias');
  // transforms.functional.center_crop.
  const top = pythonRound((newH - crop) / 2);
  const left = pythonRound((newW - crop) / 2);
  const cropped = cropGrid(resized, top, left, crop, crop);
  return { ...cropped, data: cropped.data.map((v, i) => (v / 255 - IMAGENET_MEAN_REF[i % 3]!) / IMAGENET_STD_REF[i % 3]!) };
}

/** Keras: tf.image.resize(image, (size, size)) (bilinear, half-pixel, no antialias), then
 * preprocess_input: x / 127.5 − 1. */
export function kerasRef(image: ImageRef, size = 299): GridRef {
  const resized = resizeGrid(toGrid(image), size, size, 'bilinear');
  return { ...resized, data: resized.data.map((v) => v / 127.5 - 1) };
}

/** TF-slim preprocess_for_eval: convert_image_dtype (x / 255), central_crop(0.875),
 * resize_bilinear(align_corners=False) (TF1: no half-pixel centres), (x − 0.5) · 2. */
export function tfSlimRef(image: ImageRef, size = 299, centralFraction = 0.875): GridRef {
  const asFloat: GridRef = { ...toGrid(image), data: Float64Array.from(image.data, (v) => v / 255) };
  // tf.image.central_crop.
  const hStart = Math.trunc((image.height - image.height * centralFraction) / 2);
  const wStart = Math.trunc((image.width - image.width * centralFraction) / 2);
  const cropped = cropGrid(asFloat, hStart, wStart, image.height - 2 * hStart, image.width - 2 * wStart);
  const resized = resizeGrid(cropped, size, size, 'bilinear-tf1');
  return { ...resized, data: resized.data.map((v) => (v - 0.5) * 2) };
}

/** A rectangle of an image or grid: rows top .. top + height − 1, columns left .. left + width − 1. */
export interface RectRef {
  top: number;
  left: number;
  height: number;
  width: number;
}

/**
 * The resize cropGrid(resizeGrid(cropGrid(toGrid(image), source), H, W, mode), crop) computes,
 * for the crop's pixels only and straight from the bytes (a 48-megapixel photo would be 1.15 GB
 * as a float64 grid): along x for each source row some output row needs, then along y. The
 * same taps (axisTaps), the same float64 sums.
 */
export function resizeRegion(image: ImageRef, source: RectRef, resized: { height: number; width: number }, crop: RectRef, mode: ResizeModeRef): GridRef {
  const xTaps = Array.from({ length: crop.width }, (_, x) => axisTaps(source.width, resized.width, mode, crop.left + x));
  const yTaps = Array.from({ length: crop.height }, (_, y) => axisTaps(source.height, resized.height, mode, crop.top + y));
  const rows = new Map<number, Float64Array>();
  const horizontal = (i: number): Float64Array => {
    let row = rows.get(i);
    if (row) return row;
    row = new Float64Array(crop.width * 3);
    const base = ((source.top + i) * image.width + source.left) * 3;
    for (let x = 0; x < crop.width; x++) {
      const t = xTaps[x]!;
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let k = 0; k < t.index.length; k++) s += t.weight[k]! * image.data[base + t.index[k]! * 3 + c]!;
        row[x * 3 + c] = s;
      }
    }
    rows.set(i, row);
    return row;
  };
  const out = new Float64Array(crop.height * crop.width * 3);
  for (let y = 0; y < crop.height; y++) {
    const t = yTaps[y]!;
    const taps = t.index.map(horizontal);
    for (let x = 0; x < crop.width * 3; x++) {
      let s = 0;
      for (let k = 0; k < taps.length; k++) s += t.weight[k]! * taps[k]![x]!;
      out[y * crop.width * 3 + x] = s;
    }
    // Rows above every later output row's taps are not needed again.
    const lowest = y + 1 < crop.height ? Math.min(...yTaps[y + 1]!.index) : Infinity;
    for (const i of rows.keys()) if (i < lowest) rows.delete(i);
  }
  return { width: crop.width, height: crop.height, data: out };
}

export type PresetRef = 'torchvision' | 'keras' | 'tf-slim';

/**
 * A preset's reference (torchvisionRef, kerasRef, tfSlimRef: the same geometry and arithmetic)
 * through resizeRegion, for images too large for the whole-grid versions.
 */
export function presetRegionRef(image: ImageRef, preset: PresetRef, size = 299): GridRef {
  const { width: w, height: h } = image;
  if (preset === 'torchvision') {
    const resize = Math.round(size / 0.875);
    const [short, long] = w <= h ? [w, h] : [h, w];
    const newLong = Math.trunc((resize * long) / short);
    const [newW, newH] = w <= h ? [resize, newLong] : [newLong, resize];
    const crop = { top: pythonRound((newH - size) / 2), left: pythonRound((newW - size) / 2), height: size, width: size };
    const g = resizeRegion(image, { top: 0, left: 0, height: h, width: w }, { height: newH, width: newW }, crop, 'antialias');
    return { ...g, data: g.data.map((v, i) => (v / 255 - IMAGENET_MEAN_REF[i % 3]!) / IMAGENET_STD_REF[i % 3]!) };
  }
  const all = { top: 0, left: 0, height: size, width: size };
  if (preset === 'keras') {
    const g = resizeRegion(image, { top: 0, left: 0, height: h, width: w }, { height: size, width: size }, all, 'bilinear');
    return { ...g, data: g.data.map((v) => v / 127.5 - 1) };
  }
  // x / 255 commutes with the resize (a linear filter), so the bytes are resized first.
  const hStart = Math.trunc((h - h * 0.875) / 2);
  const wStart = Math.trunc((w - w * 0.875) / 2);
  const source = { top: hStart, left: wStart, height: h - 2 * hStart, width: w - 2 * wStart };
  const g = resizeRegion(image, source, { height: size, width: size }, all, 'bilinear-tf1');
  return { ...g, data: g.data.map((v) => (v / 255 - 0.5) * 2) };
}
