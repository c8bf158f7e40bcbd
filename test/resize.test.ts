/** Image resizing on the GPU (kernels/resize.wgsl) against float64 references of PyTorch's,
 * TensorFlow 1's and PIL's filters (test/reference/resize.ts), with crops before and after the
 * resize and normalisation fused in; the inference presets against reference compositions of
 * their steps; batching into slots of a poisoned output; images uploaded in row chunks (forced
 * small here, and a 48-megapixel photo larger than one storage binding); argument checks.
 *
 * Tolerance: resized values in [0, 255] must be within 1e-5 of that range (2.55e-3) of the
 * float64 reference everywhere; normalised outputs within the same error carried through the
 * normalisation (2.55e-3 · |scale|). */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  IMAGENET_MEAN,
  IMAGENET_STD,
  KERAS_PRESET,
  preprocess,
  preprocessGeometry,
  resolvePreprocess,
  roundHalfEven,
  TF_SLIM_PRESET,
  TORCHVISION_PRESET,
} from '../src/io/preprocess.js';
import { MAX_IMAGE_SIDE, packRgbBytes, resizeImage, resizeRgb, type ResizeOptions } from '../src/ops/resize.js';
import type { Engine } from '../src/runtime/engine.js';
import { InvalidArgumentError } from '../src/runtime/errors.js';
import {
  affineGrid,
  axisTaps,
  cropGrid,
  kerasRef,
  presetRegionRef,
  pythonRound,
  resizeGrid,
  resizeRegion,
  tfSlimRef,
  toGrid,
  torchvisionRef,
  type GridRef,
  type ImageRef,
  type PresetRef,
  type RectRef,
  type ResizeModeRef,
} from './reference/resize.js';
import { testEngine } from './support/engine.js';
import { freshSeed, makeRng, randomInt, type Rng } from './support/random.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

/** 1e-5 of the 0–255 range. */
const ABS_TOL = 1e-5 * 255;

function randomImage(rng: Rng, height: number, width: number): ImageRef {
  return { height, width, data: Uint8Array.from({ length: height * width * 3 }, () => Math.floor(rng() * 256)) };
}

/** Worst absolute difference; fails on a non-finite value (an unwritten, poisoned element). */
function expectWithin(got: Float32Array, ref: Float64Array, tol: number, what: string): number {
  expect(got.length, `${what}: length`).toBe(ref.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    if (!Number.isFinite(got[i]!)) throw new Error(`${what}: element ${i} is ${got[i]} (never written)`);
    const e = Math.abs(got[i]! - ref[i]!);
    if (e > worst) worst = e;
    if (!(e <= tol))
      throw new Error(
        `${what}: element ${i} (pixel ${Math.floor(i / 3)}, channel ${i % 3}) is ${got[i]}, reference ${ref[i]} (error ${e.toExponential(2)} > ${tol.toExponential(2)})`,
      );
  }
  return worst;
}

async function runResize(image: ImageRef, options: ResizeOptions): Promise<{ data: Float32Array; shape: readonly number[] }> {
  return engine.scope(async () => {
    const y = resizeImage(engine, image, options);
    return { data: await y.read(), shape: y.shape };
  });
}

const modeOf = (antialias: boolean, halfPixelCenters = true): ResizeModeRef => (antialias ? 'antialias' : halfPixelCenters ? 'bilinear' : 'bilinear-tf1');

describe('reference filters', () => {
  it('bilinear taps follow PyTorch (clamped half-pixel source), TF1 (src = dst·scale), antialias weights sum to 1 and reduce to bilinear when upscaling', () => {
    // 4 → 8: src = (o + 0.5)/2 − 0.5: o = 0 → −0.25 → clamped to 0; o = 3 → 1.25.
    expect(axisTaps(4, 8, 'bilinear', 0)).toEqual({ index: [0, 1], weight: [1, 0] });
    expect(axisTaps(4, 8, 'bilinear', 3)).toEqual({ index: [1, 2], weight: [0.75, 0.25] });
    expect(axisTaps(4, 8, 'bilinear', 7)).toEqual({ index: [3, 3], weight: [0.75, 0.25] });
    expect(axisTaps(4, 8, 'bilinear-tf1', 3)).toEqual({ index: [1, 2], weight: [0.5, 0.5] });
    // 8 → 4 antialias: scale 2, support 2, centre 3 for o = 1: pixels trunc(1.5) .. trunc(5.5) − 1,
    // weights ∝ 1 − |x + 0.5 − 3| / 2 = (1, 3, 3, 1) / 4, normalised to (1, 3, 3, 1) / 8.
    const aa = axisTaps(8, 4, 'antialias', 1);
    expect(aa.index).toEqual([1, 2, 3, 4]);
    expect(aa.weight.map((w) => w * 8)).toEqual([1, 3, 3, 1]);
    for (const [i, o] of [
      [37, 299],
      [299, 37],
      [500, 342],
      [7, 3],
    ] as const) {
      for (let k = 0; k < o; k += 7) expect(axisTaps(i, o, 'antialias', k).weight.reduce((a, b) => a + b)).toBeCloseTo(1, 12);
    }
    // Upscaling, antialias is plain bilinear in the interior.
    const up = axisTaps(10, 25, 'antialias', 12);
    const bl = axisTaps(10, 25, 'bilinear', 12);
    const at = (t: typeof up, j: number) => t.weight.filter((_, k) => t.index[k] === j).reduce((a, b) => a + b, 0);
    for (let j = 0; j < 10; j++) expect(at(up, j)).toBeCloseTo(at(bl, j), 12);
    expect(pythonRound(21.5)).toBe(22);
    expect(pythonRound(78.5)).toBe(78);
    expect(pythonRound(0.5)).toBe(0);
    expect(pythonRound(2.4999)).toBe(2);
  });
});

describe('resizeRgb', () => {
  const seed = freshSeed();

  // [image H, W] → [resized H, W]: up- and downscaling, odd and non-square sizes, 1×1.
  const cases: [number, number, number, number][] = [
    [37, 53, 299, 299],
    [333, 500, 342, 513],
    [61, 97, 23, 40],
    [1, 1, 5, 7],
    [1, 1, 1, 1],
    [8, 8, 1, 1],
    [3, 200, 7, 9],
    [17, 23, 17, 23],
    [300, 200, 19, 13],
    [5, 4, 12, 3],
    // Antialiased, ~50 taps per axis.
    [900, 1200, 37, 50],
  ];
  for (const antialias of [false, true]) {
    for (const [h, w, oh, ow] of cases) {
      it(`${antialias ? 'antialias' : 'bilinear'} ${h}×${w} → ${oh}×${ow} matches float64 within 1e-5 of 0–255 (seed ${seed})`, async () => {
        const rng = makeRng(seed + h * 1000 + w + (antialias ? 7 : 0));
        const image = randomImage(rng, h, w);
        const got = await runResize(image, { height: oh, width: ow, antialias });
        expect(got.shape).toEqual([1, oh, ow, 3]);
        const ref = resizeGrid(toGrid(image), oh, ow, modeOf(antialias));
        expectWithin(got.data, ref.data, ABS_TOL, `${h}×${w} → ${oh}×${ow}`);
        if (oh === h && ow === w) {
          // Same size: the identity, exactly (both filters).
          expect(Array.from(got.data)).toEqual(Array.from(image.data));
        }
      });
    }
  }

  it(`TensorFlow 1 bilinear (halfPixelCenters: false) matches its reference, up and down (seed ${seed})`, async () => {
    const rng = makeRng(seed + 1);
    for (const [h, w, oh, ow] of [
      [37, 53, 299, 299],
      [250, 190, 31, 77],
      [1, 1, 3, 3],
      [9, 2, 4, 5],
    ] as const) {
      const image = randomImage(rng, h, w);
      const got = await runResize(image, { height: oh, width: ow, halfPixelCenters: false });
      expectWithin(got.data, resizeGrid(toGrid(image), oh, ow, 'bilinear-tf1').data, ABS_TOL, `tf1 ${h}×${w} → ${oh}×${ow}`);
    }
  });

  it(`an upscale of a constant image is constant; a 2× antialiased downscale is the mean of 4×4 triangle-weighted pixels (seed ${seed})`, async () => {
    const rng = makeRng(seed + 2);
    const grey = { height: 13, width: 7, data: new Uint8Array(13 * 7 * 3).fill(200) };
    for (const antialias of [false, true]) {
      const got = await runResize(grey, { height: 29, width: 30, antialias });
      for (const v of got.data) expect(Math.abs(v - 200)).toBeLessThan(1e-4);
    }
    // Interior output pixel of a 2× downscale: weights (1, 3, 3, 1)/8 per axis.
    const image = randomImage(rng, 8, 8);
    const got = await runResize(image, { height: 4, width: 4, antialias: true });
    const w = [1, 3, 3, 1].map((v) => v / 8);
    for (let c = 0; c < 3; c++) {
      let s = 0;
      for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) s += w[i]! * w[j]! * image.data[((1 + i) * 8 + 1 + j) * 3 + c]!;
      expect(Math.abs(got.data[(1 * 4 + 1) * 3 + c]! - s)).toBeLessThan(ABS_TOL);
    }
  });

  it(`crop after resizing: output (y, x) is resized pixel (y + top, x + left), any offsets (seed ${seed})`, async () => {
    const rng = makeRng(seed + 3);
    for (const antialias of [false, true]) {
      const image = randomImage(rng, 71, 45);
      const full = resizeGrid(toGrid(image), 110, 64, modeOf(antialias));
      for (let k = 0; k < 4; k++) {
        const ch = randomInt(rng, 1, 110);
        const cw = randomInt(rng, 1, 64);
        const crop = { top: randomInt(rng, 0, 110 - ch), left: randomInt(rng, 0, 64 - cw), height: ch, width: cw };
        const got = await runResize(image, { height: 110, width: 64, antialias, crop });
        expect(got.shape).toEqual([1, ch, cw, 3]);
        expectWithin(got.data, cropGrid(full, crop.top, crop.left, ch, cw).data, ABS_TOL, `crop ${JSON.stringify(crop)}`);
      }
    }
  });

  it(`crop before resizing (source window) equals resizing the cut-out image (seed ${seed})`, async () => {
    const rng = makeRng(seed + 4);
    for (const antialias of [false, true]) {
      const image = randomImage(rng, 40, 66);
      const source = { top: 3, left: 17, height: 31, width: 44 };
      const cut = cropGrid(toGrid(image), source.top, source.left, source.height, source.width);
      const got = await runResize(image, { height: 20, width: 91, antialias, source });
      expectWithin(got.data, resizeGrid(cut, 20, 91, modeOf(antialias)).data, ABS_TOL, `source window, antialias ${antialias}`);
    }
  });

  it(`normalisation: v · scale_c + bias_c, fused with both crops (seed ${seed})`, async () => {
    const rng = makeRng(seed + 5);
    const image = randomImage(rng, 50, 38);
    const scale = [1 / (255 * 0.229), -2 / 255, 0.5] as const;
    const bias = [-0.485 / 0.229, 1, -7] as const;
    const source = { top: 2, left: 1, height: 45, width: 36 };
    const crop = { top: 5, left: 9, height: 20, width: 21 };
    const got = await runResize(image, { height: 30, width: 33, antialias: true, source, crop, scale, bias });
    const ref = affineGrid(cropGrid(resizeGrid(cropGrid(toGrid(image), 2, 1, 45, 36), 30, 33, 'antialias'), 5, 9, 20, 21), scale, bias);
    expectWithin(got.data, ref.data, ABS_TOL * Math.max(...scale.map(Math.abs)) + 1e-6, 'normalised');
  });

  it('packed words: byte k in bits 8·(k mod 4) of word ⌊k/4⌋; unaligned or odd lengths are copied and zero-padded', () => {
    const rng = makeRng(11);
    const backing = Uint8Array.from({ length: 31 }, () => Math.floor(rng() * 256));
    for (const bytes of [backing.subarray(0, 24), backing.subarray(1, 28), backing.subarray(0, 27)]) {
      const words = packRgbBytes(bytes);
      expect(words.length).toBe(Math.ceil(bytes.length / 4));
      for (let k = 0; k < words.length * 4; k++) expect((words[k >> 2]! >>> (8 * (k & 3))) & 0xff).toBe(k < bytes.length ? bytes[k] : 0);
    }
    const aligned = backing.subarray(0, 24);
    expect(packRgbBytes(aligned).buffer).toBe(aligned.buffer);
  });

  it('resizeRgb on words uploaded by hand writes the slot `index` of `out` only', async () => {
    const rng = makeRng(12);
    const image = randomImage(rng, 9, 10);
    const [got, shape] = await engine.scope(async () => {
      const words = engine.tensor(packRgbBytes(image.data), [Math.ceil(270 / 4)], 'u32');
      const out = engine.zeros([3, 4, 5, 3]);
      const y = resizeRgb(words, image, { height: 4, width: 5, antialias: true, out, index: 1 });
      expect(y).toBe(out);
      return [await out.read(), out.shape] as const;
    });
    expect(shape).toEqual([3, 4, 5, 3]);
    const slot = 60;
    expect(got.subarray(0, slot).every((v) => v === 0)).toBe(true);
    expect(got.subarray(2 * slot).every((v) => v === 0)).toBe(true);
    expectWithin(got.subarray(slot, 2 * slot), resizeGrid(toGrid(image), 4, 5, 'antialias').data, ABS_TOL, 'slot 1');
  });
});

describe('presets', () => {
  const seed = freshSeed();

  it('geometry: torchvision resizes the shorter side to 342 (longer truncated) and center-crops with Python rounding; tf-slim keeps the central 87.5%', () => {
    const tv = preprocessGeometry(TORCHVISION_PRESET, { width: 500, height: 375 });
    // 342 · 500 / 375 = 456; crop top = round(21.5) = 22, left = round(78.5) = 78 (halves to even).
    expect(tv).toEqual({
      source: { top: 0, left: 0, height: 375, width: 500 },
      resized: { height: 342, width: 456 },
      crop: { top: 22, left: 78, height: 299, width: 299 },
    });
    // Portrait 333 × 500 (W × H): 342 · 500 / 333 = 513.5… → 513.
    expect(preprocessGeometry(TORCHVISION_PRESET, { width: 333, height: 500 }).resized).toEqual({ height: 513, width: 342 });
    expect(preprocessGeometry(KERAS_PRESET, { width: 37, height: 53 })).toEqual({
      source: { top: 0, left: 0, height: 53, width: 37 },
      resized: { height: 299, width: 299 },
      crop: { top: 0, left: 0, height: 299, width: 299 },
    });
    // int((500 − 437.5) / 2) = 31 → 438 rows; int((375 − 328.125) / 2) = 23 → 329 columns.
    expect(preprocessGeometry(TF_SLIM_PRESET, { width: 375, height: 500 }).source).toEqual({ top: 31, left: 23, height: 438, width: 329 });
    expect(roundHalfEven(21.5)).toBe(22);
    expect(roundHalfEven(78.5)).toBe(78);
    expect(roundHalfEven(3.2)).toBe(3);
    // Size 224: resize to 256 on the shorter side (torchvision's ResNet / ViT transforms).
    const s224 = resolvePreprocess({ preset: 'torchvision', size: 224 });
    expect([s224.height, s224.width, s224.resizeSize]).toEqual([224, 224, 256]);
    expect(resolvePreprocess({ preset: 'keras', size: [128, 96] })).toMatchObject({ height: 128, width: 96, resize: 'exact' });
    const tv2 = resolvePreprocess('torchvision');
    for (let c = 0; c < 3; c++) {
      // (x/255 − mean)/std as x · scale + bias.
      expect(100 * tv2.scale[c]! + tv2.bias[c]!).toBeCloseTo((100 / 255 - IMAGENET_MEAN[c]!) / IMAGENET_STD[c]!, 12);
    }
  });

  const presetRefs = {
    torchvision: (im: ImageRef, size: number) => torchvisionRef(im, size, Math.round(size / 0.875)),
    keras: (im: ImageRef, size: number) => kerasRef(im, size),
    'tf-slim': (im: ImageRef, size: number) => tfSlimRef(im, size),
  } as const;
  // Normalised outputs: the resize tolerance times the largest |scale|. torchvision's resize is
  // PIL's 8-bit arithmetic (pilRounding): each of its two passes rounds to 8 bits, so it lies
  // within one level of the exact filter (half a level per pass; the bilinear weights are
  // positive and sum to 1). test/preprocess-torchvision.test.ts checks it against PIL itself.
  const tolFor = (preset: keyof typeof presetRefs) =>
    (preset === 'torchvision' ? 1 + ABS_TOL : ABS_TOL) * Math.max(...resolvePreprocess(preset).scale.map(Math.abs)) + 1e-6;

  for (const preset of ['torchvision', 'keras', 'tf-slim'] as const) {
    it(`${preset}: [B, 299, 299, 3], each image in its slot, matches the reference composition of its steps (seed ${seed})`, async () => {
      const rng = makeRng(seed + preset.length);
      const images = [randomImage(rng, 375, 500), randomImage(rng, 53, 37), randomImage(rng, 333, 333), randomImage(rng, 1, 1)];
      const [got, shape] = await engine.scope(async () => {
        const y = preprocess(engine, images, preset);
        return [await y.read(), y.shape] as const;
      });
      expect(shape).toEqual([4, 299, 299, 3]);
      const slot = 299 * 299 * 3;
      images.forEach((im, b) => {
        const ref: GridRef = presetRefs[preset](im, 299);
        // The output is poisoned before the dispatches: every element of every slot is written.
        expectWithin(got.subarray(b * slot, (b + 1) * slot), ref.data, tolFor(preset), `${preset} image ${b} (${im.height}×${im.width})`);
      });
    });
  }

  it(`torchvision with pilRounding: false is the exact filter in f32, within 1e-5 of 0–255 (seed ${seed})`, async () => {
    const rng = makeRng(seed + 41);
    const images = [randomImage(rng, 375, 500), randomImage(rng, 61, 44)];
    const got = await engine.scope(() => preprocess(engine, images, { preset: 'torchvision', pilRounding: false }).read());
    const slot = 299 * 299 * 3;
    images.forEach((im, b) =>
      expectWithin(
        got.subarray(b * slot, (b + 1) * slot),
        torchvisionRef(im, 299, 342).data,
        ABS_TOL * Math.max(...TORCHVISION_PRESET.scale) + 1e-6,
        `torchvision f32, image ${b}`,
      ),
    );
  });

  it(`size 224 and a non-square output; options change a preset step by step (seed ${seed})`, async () => {
    const rng = makeRng(seed + 40);
    const images = [randomImage(rng, 300, 451), randomImage(rng, 97, 64)];
    const got = await engine.scope(() => preprocess(engine, images, { preset: 'torchvision', size: 224 }).read());
    const slot = 224 * 224 * 3;
    images.forEach((im, b) =>
      expectWithin(got.subarray(b * slot, (b + 1) * slot), torchvisionRef(im, 224, 256).data, tolFor('torchvision'), `torchvision 224, image ${b}`),
    );

    const rect = await engine.scope(async () => {
      const y = preprocess(engine, images, { preset: 'keras', size: [40, 70], mean: [0.5, 0.5, 0.5], std: [0.25, 0.5, 1] });
      return { data: await y.read(), shape: y.shape };
    });
    expect(rect.shape).toEqual([2, 40, 70, 3]);
    images.forEach((im, b) => {
      const r = resizeGrid(toGrid(im), 40, 70, 'bilinear');
      const ref = r.data.map((v, i) => (v / 255 - 0.5) / [0.25, 0.5, 1][i % 3]!);
      expectWithin(rect.data.subarray(b * 8400, (b + 1) * 8400), ref, ABS_TOL / (255 * 0.25) + 1e-6, `keras 40×70, image ${b}`);
    });
  });

  it(`a batch of one image equals the same image in a batch of five; an empty batch is [0, 299, 299, 3] (seed ${seed})`, async () => {
    const rng = makeRng(seed + 50);
    const images = Array.from({ length: 5 }, (_, b) => randomImage(rng, 20 + 13 * b, 90 - 11 * b));
    const batch = await engine.scope(() => preprocess(engine, images, 'tf-slim').read());
    const slot = 299 * 299 * 3;
    for (const b of [0, 3]) {
      const single = await engine.scope(() => preprocess(engine, [images[b]!], 'tf-slim').read());
      expect(Array.from(batch.subarray(b * slot, (b + 1) * slot))).toEqual(Array.from(single));
    }
    expect(engine.scope(() => preprocess(engine, [], 'keras').shape)).toEqual([0, 299, 299, 3]);
  });
});

describe('images larger than one storage binding: uploaded in row chunks', () => {
  const seed = freshSeed();

  // Normalised outputs: the resize tolerance times the largest |scale|.
  // torchvision's resize is PIL's 8-bit arithmetic: within one level of the exact filter (above).
  const tolFor = (preset: PresetRef) => (preset === 'torchvision' ? 1 + ABS_TOL : ABS_TOL) * Math.max(...resolvePreprocess(preset).scale.map(Math.abs)) + 1e-6;

  /** Runs `f` and returns what it returned with the sizes, in u32 words, of the packed image
   * pieces uploaded meanwhile. */
  async function withUploads<T>(f: () => Promise<T>): Promise<{ result: T; words: number[] }> {
    const spy = vi.spyOn(engine, 'tensor');
    try {
      const result = await f();
      const words = spy.mock.calls.filter((call) => call[2] === 'u32').map((call) => (call[0] as Uint32Array).length);
      return { result, words };
    } finally {
      spy.mockRestore();
    }
  }

  /** A random image of `length` bytes, filled four bytes at a time (fast for 144 MB). */
  function bigRandomImage(rng: Rng, height: number, width: number): ImageRef {
    const words = new Uint32Array(Math.ceil((height * width * 3) / 4));
    for (let i = 0; i < words.length; i++) words[i] = Math.floor(rng() * 2 ** 32);
    return { height, width, data: new Uint8Array(words.buffer, 0, height * width * 3) };
  }

  interface ChunkCase {
    image: [number, number];
    resized: [number, number];
    mode: ResizeModeRef;
    source?: RectRef;
    crop?: RectRef;
  }
  // Downscales whose filter windows span several chunks, upscales, a one-pixel-wide image, the
  // identity, and windows before and after the resize.
  const cases: ChunkCase[] = [
    { image: [97, 61], resized: [13, 9], mode: 'antialias' },
    { image: [97, 61], resized: [13, 9], mode: 'bilinear' },
    { image: [97, 61], resized: [13, 9], mode: 'bilinear-tf1' },
    { image: [45, 33], resized: [90, 71], mode: 'antialias' },
    { image: [45, 33], resized: [90, 71], mode: 'bilinear' },
    { image: [200, 3], resized: [7, 5], mode: 'antialias' },
    { image: [31, 1], resized: [299, 299], mode: 'bilinear-tf1' },
    { image: [31, 17], resized: [31, 17], mode: 'antialias' },
    {
      image: [71, 45],
      resized: [23, 29],
      mode: 'antialias',
      source: { top: 3, left: 5, height: 60, width: 37 },
      crop: { top: 2, left: 4, height: 17, width: 21 },
    },
    {
      image: [71, 45],
      resized: [123, 29],
      mode: 'bilinear',
      source: { top: 9, left: 0, height: 51, width: 45 },
      crop: { top: 50, left: 1, height: 61, width: 27 },
    },
  ];

  it(`resizeImage with maxChunkBytes: pieces of at most that size, chunks thinner than a filter window, every filter, matches float64 (seed ${seed})`, async () => {
    const rng = makeRng(seed);
    for (const c of cases) {
      const [h, w] = c.image;
      const image = randomImage(rng, h, w);
      const source = c.source ?? { top: 0, left: 0, height: h, width: w };
      const crop = c.crop ?? { top: 0, left: 0, height: c.resized[0], width: c.resized[1] };
      // One to four rows of the source window per piece, in whole words.
      const rows = randomInt(rng, 1, 4);
      const maxChunkBytes = 4 * Math.ceil((rows * source.width * 3) / 4);
      const what = `${c.mode} ${h}×${w} (source ${JSON.stringify(source)}) → ${c.resized.join('×')} (crop ${JSON.stringify(crop)}), ${rows} row(s) a piece`;
      const { result, words } = await withUploads(() =>
        runResize(image, {
          height: c.resized[0],
          width: c.resized[1],
          antialias: c.mode === 'antialias',
          halfPixelCenters: c.mode !== 'bilinear-tf1',
          source,
          crop,
          maxChunkBytes,
        }),
      );
      expect(words.length, `${what}: pieces`).toBeGreaterThan(1);
      for (const n of words) expect(n * 4, `${what}: piece size`).toBeLessThanOrEqual(maxChunkBytes);
      expect(result.shape).toEqual([1, crop.height, crop.width, 3]);
      expectWithin(result.data, resizeRegion(image, source, { height: c.resized[0], width: c.resized[1] }, crop, c.mode).data, ABS_TOL, what);
    }
  });

  it(`the region reference equals the whole-grid references on small images (seed ${seed})`, () => {
    const rng = makeRng(seed + 1);
    for (const [h, w] of [
      [375, 500],
      [53, 37],
      [1, 1],
    ] as const) {
      const image = randomImage(rng, h, w);
      for (const [preset, whole] of [
        ['torchvision', torchvisionRef(image)],
        ['keras', kerasRef(image)],
        ['tf-slim', tfSlimRef(image)],
      ] as const) {
        const region = presetRegionRef(image, preset);
        expect(region.data.length).toBe(whole.data.length);
        const worst = region.data.reduce((m, v, i) => Math.max(m, Math.abs(v - whole.data[i]!)), 0);
        expect(worst, `${preset} ${h}×${w}`).toBeLessThan(1e-9);
      }
    }
  });

  it(`preprocess with maxChunkBytes: a batch through each preset in small pieces matches the references (seed ${seed})`, async () => {
    const rng = makeRng(seed + 2);
    const images = [randomImage(rng, 375, 500), randomImage(rng, 53, 37), randomImage(rng, 1, 1)];
    const maxChunkBytes = 4 * randomInt(rng, 1000, 3000);
    for (const preset of ['torchvision', 'keras', 'tf-slim'] as const) {
      const { result, words } = await withUploads(() => engine.scope(() => preprocess(engine, images, preset, { maxChunkBytes }).read()));
      expect(words.length).toBeGreaterThan(images.length);
      for (const n of words) expect(n * 4).toBeLessThanOrEqual(maxChunkBytes);
      const slot = 299 * 299 * 3;
      images.forEach((im, b) =>
        expectWithin(
          result.subarray(b * slot, (b + 1) * slot),
          presetRegionRef(im, preset).data,
          tolFor(preset),
          `${preset} image ${b}, pieces of ${maxChunkBytes} bytes`,
        ),
      );
    }
  });

  it(`a 48-megapixel photo (8000×6000: 144 MB of RGB, more than a 128 MiB binding) through the three presets matches float64 (seed ${seed})`, async () => {
    const image = bigRandomImage(makeRng(seed + 3), 6000, 8000);
    const bindable = Math.min(engine.limits.maxStorageBufferBindingSize, engine.limits.maxBufferSize);
    for (const preset of ['torchvision', 'keras', 'tf-slim'] as const) {
      const { result, words } = await withUploads(() => engine.scope(() => preprocess(engine, [image], preset).read()));
      for (const n of words) expect(n * 4).toBeLessThanOrEqual(bindable);
      expectWithin(result, presetRegionRef(image, preset).data, tolFor(preset), `${preset} 8000×6000`);
    }
  });

  it(`sides beyond 32768: a 1000×40000 panorama through the presets, and a 2×40000 strip resized (seed ${seed})`, async () => {
    const rng = makeRng(seed + 4);
    const panorama = bigRandomImage(rng, 1000, 40000);
    for (const preset of ['torchvision', 'keras', 'tf-slim'] as const) {
      const got = await engine.scope(() => preprocess(engine, [panorama], preset).read());
      expectWithin(got, presetRegionRef(panorama, preset).data, tolFor(preset), `${preset} 1000×40000`);
    }
    const strip = randomImage(rng, 2, 40000);
    for (const mode of ['antialias', 'bilinear'] as const) {
      const got = await runResize(strip, { height: 5, width: 299, antialias: mode === 'antialias' });
      expectWithin(got.data, resizeGrid(toGrid(strip), 5, 299, mode).data, ABS_TOL, `${mode} 2×40000 → 5×299`);
    }
    expect(MAX_IMAGE_SIDE).toBeGreaterThanOrEqual(65535); // every JPEG size
  });

  it('pieces too small for one row, and shapes beyond the kernel, are refused by name', () => {
    const image = { width: 40, height: 3, data: new Uint8Array(360) };
    engine.scope(() => {
      expect(() => resizeImage(engine, image, { height: 2, width: 2, maxChunkBytes: 100 })).toThrow(
        /resizeImage: maxChunkBytes \(100\) is less than one row of the source window \(40 pixels × 3 = 120 bytes\)/,
      );
      expect(() => resizeImage(engine, image, { height: 2, width: 2, maxChunkBytes: 2 ** 40 })).toThrow(
        /resizeImage: maxChunkBytes must be an integer in \[4, \d+\] \(what this device binds\), got 1099511627776/,
      );
      expect(() => preprocess(engine, [{ width: 40000, height: 2, data: new Uint8Array(240000) }], 'torchvision')).toThrow(
        /preprocess: a 2×40000 image resized to 342 on its shorter side would be 342×6840000, more than 32768 on a side \(aspect ratios up to 95\.8:1 fit\)/,
      );
    });
  });
});

describe('argument checks', () => {
  it('name the op and the argument', () => {
    const image = { width: 4, height: 3, data: new Uint8Array(36) };
    engine.scope(() => {
      const words = engine.tensor(packRgbBytes(image.data), [9], 'u32');
      expect(() => resizeRgb(engine.zeros([9]), image, { height: 2, width: 2 })).toThrow(/resizeRgb: words must be u32/);
      expect(() => resizeRgb(engine.zeros([8], 'u32'), image, { height: 2, width: 2 })).toThrow(
        /resizeRgb: words must be u32 holding the 3×4×3 image bytes four to a word \(at least 9 words\)/,
      );
      expect(() => resizeRgb(words, image, { height: 0, width: 2 })).toThrow(/resizeRgb: height must be an integer in \[1, 32768\], got 0/);
      expect(() => resizeRgb(words, image, { height: 2, width: 2.5 })).toThrow(/resizeRgb: width must be an integer/);
      expect(() => resizeRgb(words, image, { height: 2, width: 2, antialias: true, halfPixelCenters: false })).toThrow(/resizeRgb: halfPixelCenters: false/);
      expect(() => resizeRgb(words, image, { height: 2, width: 2, source: { top: 1, left: 0, height: 3, width: 4 } })).toThrow(
        /resizeRgb: source \(top 1, left 0, 3×4\) does not fit in the image \(3×4\)/,
      );
      expect(() => resizeRgb(words, image, { height: 5, width: 5, crop: { top: 0, left: 3, height: 5, width: 3 } })).toThrow(
        /resizeRgb: crop .* does not fit in the resized grid \(5×5\)/,
      );
      expect(() => resizeRgb(words, image, { height: 2, width: 2, scale: [1, 2] as never })).toThrow(/resizeRgb: scale must be three finite numbers/);
      expect(() => resizeRgb(words, image, { height: 2, width: 2, out: engine.zeros([2, 2, 3, 3]) })).toThrow(
        /resizeRgb: out must be a plain f32\[B, 2, 2, 3\]/,
      );
      expect(() => resizeRgb(words, image, { height: 2, width: 2, out: engine.zeros([2, 2, 2, 3]), index: 2 })).toThrow(
        /resizeRgb: index must be an integer in \[0, 1\]/,
      );
      expect(() => resizeRgb(words, image, { height: 2, width: 2, index: 1 })).toThrow(/resizeRgb: index 1 needs an out tensor/);
      expect(() => resizeImage(engine, { width: 4, height: 3, data: new Uint8Array(35) }, { height: 2, width: 2 })).toThrow(
        /resizeImage: image.data must be a Uint8Array of height × width × 3 = 36 bytes/,
      );
      expect(() => preprocess(engine, [image], 'caffe' as never)).toThrow(/preprocess: unknown preset "caffe"; the presets are torchvision, keras, tf-slim/);
      expect(() => preprocess(engine, [image, { width: 0, height: 3, data: new Uint8Array(0) }], 'keras')).toThrow(
        /preprocess: images\[1\].width must be an integer in \[1, 16777216\]/,
      );
      expect(() => preprocess(engine, [image], { preset: 'torchvision', size: 300, resizeSize: 256 })).toThrow(
        /preprocess: resizeSize \(256\) must be at least the crop's sides/,
      );
      expect(() => preprocess(engine, [image], { mean: [0, 0, 0], scale: [1, 1, 1] })).toThrow(/preprocess: give mean and std .* or scale and bias/);
      expect(() => preprocess(engine, [image], { std: [1, 0, 1] })).toThrow(/preprocess: std must be three finite numbers > 0/);
      expect(() => preprocess(engine, [image], { centralFraction: 0 })).toThrow(/preprocess: centralFraction must be a number in \(0, 1\]/);
      expect(() => preprocess(engine, [image], { preset: 'torchvision', halfPixelCenters: false })).toThrow(InvalidArgumentError);
      // PIL's arithmetic and its bicubic filter: antialiased, and on the host only.
      expect(() => resizeImage(engine, image, { height: 2, width: 2, pilRounding: true })).toThrow(
        /resizeImage: pilRounding applies to the antialiased filters/,
      );
      expect(() => resizeImage(engine, image, { height: 2, width: 2, antialias: true, filter: 'bicubic' })).toThrow(
        /resizeImage: filter 'bicubic' is PIL's, computed on the host: set antialias: true and pilRounding: true/,
      );
      expect(() => resizeImage(engine, image, { height: 2, width: 2, antialias: true, pilRounding: true, filter: 'lanczos' as never })).toThrow(
        /resizeImage: filter must be 'bilinear' or 'bicubic', got "lanczos"/,
      );
      expect(() => resizeRgb(words, image, { height: 2, width: 2, antialias: true, pilRounding: true })).toThrow(
        /resizeRgb: pilRounding runs on the host, which does not hold these words/,
      );
      expect(() => preprocess(engine, [image], { preset: 'keras', filter: 'bicubic' })).toThrow(
        /preprocess: filter 'bicubic' is antialiased \(PIL's\); set antialias: true/,
      );
      expect(() => preprocess(engine, [image], { filter: 'bicubic', pilRounding: false })).toThrow(
        /preprocess: filter 'bicubic' is computed as PIL computes it/,
      );
      expect(() => preprocess(engine, [image], { pilRounding: 1 as never })).toThrow(/preprocess: pilRounding must be a boolean, got 1/);
    });
  });
});
