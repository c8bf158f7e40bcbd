/**
 * The torchvision round trip, checked against torchvision itself: Debian's python3-torchvision
 * (installed by `scripts/setup.sh --test`), driven by test/support/torchvision_oracle.py.
 *
 * - Out: the engine's Inception-v3 (aux head included, BatchNorm statistics from a random
 *   batch), saved with torchvisionStateDict + encodeSafetensors, loads into torchvision's
 *   `inception_v3` with `load_state_dict(strict=True)` and gives the engine's logits. This is
 *   the path of a model trained here that continues training in PyTorch.
 * - In: a torchvision `inception_v3` with torchvision's own initialisation, aux head and
 *   `num_batches_tracked`, its state dict saved as safetensors by Python, loads here through
 *   loadClassifier (format and architecture told from the file) and gives torchvision's logits.
 * - transform_input: torchvision's pretrained Inception-v3 (IMAGENET1K_V1) is built with
 *   `transform_input=True`, which turns ImageNet-normalised input into (x/255 − 0.5) / 0.5 inside
 *   the model; the state dict does not record it and the engine does not apply it. With weights
 *   whose BatchNorm statistics were gathered with the flag on (as the pretrained ones were),
 *   feeding the engine (x/255 − 0.5) / 0.5 gives torchvision's logits, and feeding it the
 *   ImageNet-normalised pixels does not (off by far more than the tolerance).
 *
 * - Pretrained conventions (the input convention a state dict does not record): on a photo (a
 *   sample JPEG when ../shared/data is there, else a generated PNG), loadClassifier with its
 *   defaults gives what torchvision's pretrained setup computes through its published eval
 *   transform (transform_input=True), `inputConvention: 'imagenet'` what a transform_input=False
 *   model computes, and the 'timm' preset what timm's eval transform into timm's InceptionV3
 *   computes. Each twice: on the photo through the engine's own decode and resize, and on the
 *   8-bit crop the Python transform produced (identical pixels: only the normalisation and the
 *   network are compared, at TOLERANCE).
 *
 * Logits are compared norm-wise, max |engine − torchvision| / max |torchvision|, against
 * torchvision's float32 forward (what its users get) and the same network in float64, each within
 * 3e-4. Float32 itself is the floor: on these random networks with realistic BatchNorm statistics
 * torchvision's own float32 logits are 3e-5 to 4e-5 from its float64 ones (measured; one rounding
 * step of the input moves them as much), so 3e-4 leaves room for a different summation order and
 * none for a mistake: a wrong layout, weight or padding moves the logits by 1e-1 and more.
 * Without python3, torch or torchvision every test here fails, saying what to install; nothing
 * is skipped.
 *
 * The photo path (decode, resize, crop in the engine against PIL and torchvision) is held to
 * PHOTO_TOLERANCE = 1e-2 and the same top class. Measured on these networks: every pixel moved by
 * a random −1, 0 or +1 level moves the logits by 1.6e-3 to 2.3e-3, so 1e-2 leaves a 4× margin
 * for the engine's pipeline differing from PIL's by up to one level (a JPEG decoder's IDCT and
 * chroma upsampling against libjpeg's, say; on the sample photo it is byte for byte), while the
 * other convention is off by more than the tolerance (asserted; 0.1 to 2 measured). The 'timm'
 * preset resizes with PIL's bicubic filter as timm does and is held to the same tolerance.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { InceptionV3 } from '../src/models/inception-v3.js';
import { torchvisionStateDict } from '../src/models/inception-v3-weights.js';
import { decodeSafetensors, encodeSafetensors } from '../src/io/safetensors.js';
import { IMAGENET_MEAN, IMAGENET_STD } from '../src/io/preprocess.js';
import { decodeImage, type DecodedImage } from '../src/io/image.js';
import { loadClassifier, type Classifier, type LoadClassifierOptions } from '../src/api/classifier.js';
import { encode as encodePng } from 'fast-png';
import { testEngine } from './support/engine.js';
import { assertClose, compare } from './support/compare.js';
import { freshSeed, makeRng, randomArray } from './support/random.js';
import { HANG_GUARD_MS } from './support/hang-guard.js';

const run = promisify(execFile);
const seed = freshSeed();
const TOLERANCE = 3e-4;
/** Logits on a photo through the engine's decode and resize against PIL's (see the module comment). */
const PHOTO_TOLERANCE = 1e-2;
/** A sample photo when the shared data is there (in a checkout beside ../shared). */
const SAMPLE_PHOTO = fileURLToPath(new URL('../../shared/data/imagenet-sample/n02123045_tabby.JPEG', import.meta.url));
/** What torchvision's inception_v3 is built for (and what the oracle uses). */
const SIZE = 299;
const BATCH = 2;
const ORACLE = fileURLToPath(new URL('./support/torchvision_oracle.py', import.meta.url));
/** Debian's interpreter: python3-torch and python3-torchvision install for it (a `python3` earlier
 * on PATH, such as pyenv's, would not see them). INCEPT_TORCH_PYTHON names another one. */
const PYTHON = process.env.INCEPT_TORCH_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const INSTALL_HINT =
  "the torchvision round-trip test needs PyTorch and torchvision as its oracle: run `bash scripts/setup.sh --test` as root (it installs Debian's python3-torchvision), or set INCEPT_TORCH_PYTHON to a python3 that can import torch and torchvision";

async function oracle(args: string[]): Promise<string> {
  try {
    const { stdout } = await run(PYTHON, [ORACLE, ...args], { timeout: HANG_GUARD_MS, maxBuffer: 16 << 20 });
    return stdout;
  } catch (e) {
    const err = e as Error & { stderr?: string; code?: string | number };
    const detail = (err.stderr ?? '').trim().split('\n').slice(-3).join(' | ') || err.message;
    throw new Error(`torchvision oracle: \`${PYTHON} torchvision_oracle.py ${args[0]}\` failed (${detail}); ${INSTALL_HINT}`);
  }
}

/** [N, H, W, C] → [N, C, H, W] and back, for PyTorch's layout. */
function nhwcToNchw(x: Float32Array, [n, h, w, c]: readonly number[]): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < n!; b++)
    for (let y = 0; y < h!; y++)
      for (let xx = 0; xx < w!; xx++) for (let ch = 0; ch < c!; ch++) out[((b * c! + ch) * h! + y) * w! + xx] = x[((b * h! + y) * w! + xx) * c! + ch]!;
  return out;
}
function nchwToNhwc(x: ArrayLike<number>, [n, c, h, w]: readonly number[]): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < n!; b++)
    for (let ch = 0; ch < c!; ch++)
      for (let y = 0; y < h!; y++) for (let xx = 0; xx < w!; xx++) out[((b * h! + y) * w! + xx) * c! + ch] = x[((b * c! + ch) * h! + y) * w! + xx]!;
  return out;
}

/** Pixels in [0, 1] (NHWC) normalised per channel: (p − mean_c) / std_c. */
function normalisePixels(pixels: Float32Array, mean: readonly number[], std: readonly number[]): Float32Array {
  return pixels.map((p, i) => (p - mean[i % 3]!) / std[i % 3]!);
}

async function readTensor(path: string, name: string): Promise<{ data: Float32Array; shape: number[] }> {
  const t = decodeSafetensors(new Uint8Array(await readFile(path)), path).tensors.get(name);
  if (!t || !(t.data instanceof Float32Array)) throw new Error(`${path}: no float tensor '${name}'`);
  return { data: t.data, shape: t.shape };
}

/** The engine's logits against the oracle's `key` (float32) and `key`_f64 (float64), both within
 * TOLERANCE; the errors, and torchvision's own float32 error, as one line for the log. */
async function agree(ours: Float32Array, path: string, key: string, what: string): Promise<string> {
  const f32 = await readTensor(path, key);
  const f64 = await readTensor(path, `${key}_f64`);
  expect(f32.shape).toEqual([BATCH, 1000]);
  const vsTorch = assertClose(ours, f32.data, TOLERANCE, `${what}: engine vs torchvision ${versions.torchvision} (torch ${versions.torch}), float32`).relErr;
  const vsExact = assertClose(ours, f64.data, TOLERANCE, `${what}: engine vs torchvision in float64`).relErr;
  const torchVsExact = compare(f32.data, f64.data).relErr;
  return `${what}: engine vs torchvision ${vsTorch.toExponential(2)}, vs float64 ${vsExact.toExponential(2)} (torchvision's float32 vs float64: ${torchVsExact.toExponential(2)})`;
}

/** A 512×384 PNG of smooth random colour fields with hard-edged bars and a little noise: an
 * image with both gradients and edges for resizing, made fresh from the seed. */
function generatedPhoto(rngSeed: number): Uint8Array {
  const rng = makeRng(rngSeed);
  const [w, h] = [512, 384];
  const data = new Uint8Array(w * h * 3);
  const blobs = Array.from({ length: 6 }, () => ({ x: rng() * w, y: rng() * h, r: 40 + rng() * 120, c: [rng(), rng(), rng()].map((v) => 255 * v) }));
  const bars = Array.from({ length: 5 }, () => ({ x: rng() * w, width: 4 + rng() * 30, c: [rng(), rng(), rng()].map((v) => 255 * v) }));
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let ch = 0; ch < 3; ch++) {
        let v = 128 + 60 * Math.sin((x + 3 * ch * y) / 50);
        for (const b of blobs) v += (b.c[ch]! - 128) * Math.exp(-((x - b.x) ** 2 + (y - b.y) ** 2) / (2 * b.r * b.r));
        for (const b of bars) if (x >= b.x && x < b.x + b.width && y > h / 4) v = b.c[ch]!;
        data[(y * w + x) * 3 + ch] = Math.max(0, Math.min(255, Math.round(v + 6 * (rng() - 0.5))));
      }
  return encodePng({ width: w, height: h, data, channels: 3, depth: 8 });
}

let engine: Engine;
let dir: string;
let versions: { python: string; torch: string; torchvision: string };
let checked: Promise<void> | undefined;
/** Every test starts with this, so on a machine without the oracle each one fails with the
 * install hint (a failing beforeAll would leave them reported as skipped). */
const requireOracle = (): Promise<void> =>
  (checked ??= oracle(['check']).then((out) => {
    versions = JSON.parse(out) as typeof versions;
  }));

/** torchvision's inception_v3 state dicts (transform_input False and True), made once by Python. */
let models: Promise<{ plain: string; transformInput: string; data: string }> | undefined;
const madeModels = (): Promise<{ plain: string; transformInput: string; data: string }> =>
  (models ??= (async () => {
    const paths = {
      plain: join(dir, 'torchvision.safetensors'),
      transformInput: join(dir, 'torchvision-transform-input.safetensors'),
      data: join(dir, 'torchvision-data.safetensors'),
    };
    await oracle(['make', String(seed), paths.plain, paths.transformInput, paths.data]);
    return paths;
  })());

/** The photo (its bytes and what it is) and the oracle's results for it, made once. */
let photoRun: Promise<{ bytes: Uint8Array; what: string; out: string }> | undefined;
const photoResults = (): Promise<{ bytes: Uint8Array; what: string; out: string }> =>
  (photoRun ??= (async () => {
    const m = await madeModels();
    let photoPath = SAMPLE_PHOTO;
    let what = 'the sample photo n02123045_tabby.JPEG';
    if (!existsSync(photoPath)) {
      photoPath = join(dir, 'generated.png');
      await writeFile(photoPath, generatedPhoto(seed + 7));
      what = 'a generated 512×384 PNG (no sample photos here)';
    }
    const out = join(dir, 'photo-logits.safetensors');
    await oracle(['photo', m.plain, m.transformInput, photoPath, out]);
    return { bytes: new Uint8Array(await readFile(photoPath)), what, out };
  })());

/** The model's logits for one image (decoded, or an 8-bit crop made by hand). */
async function imageLogits(classifier: Classifier, image: DecodedImage): Promise<Float32Array> {
  const r = await classifier.classify(image, { scores: true });
  return r.outputs!;
}

/** The index of the largest value. */
const argmax = (v: ArrayLike<number>): number => {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  return best;
};

/** Loads `path` with `options`, runs `body`, disposes. */
async function withClassifier<T>(path: string, options: Omit<LoadClassifierOptions, 'weights'>, body: (c: Classifier) => Promise<T>): Promise<T> {
  const c = await loadClassifier(engine, { weights: path, ...options });
  try {
    return await body(c);
  } finally {
    c.dispose();
  }
}

/**
 * One convention checked both ways against the oracle's `key` logits: the photo through the
 * engine's pipeline (within `photoTolerance`, same top class) and the oracle's own 8-bit crop
 * `cropKey` fed to the same normalisation (within TOLERANCE). Returns the log line.
 */
async function checkConvention(
  what: string,
  path: string,
  options: Omit<LoadClassifierOptions, 'weights'>,
  key: string,
  cropKey: string,
  photoTolerance: number,
  expectConvention: Classifier['inputConvention'],
): Promise<{ line: string; crop: DecodedImage }> {
  const photo = await photoResults();
  const want = await readTensor(photo.out, key);
  const wantF64 = await readTensor(photo.out, `${key}_f64`);
  const cropTensor = decodeSafetensors(new Uint8Array(await readFile(photo.out)), photo.out).tensors.get(cropKey)!;
  expect(cropTensor.shape).toEqual([SIZE, SIZE, 3]);
  const crop: DecodedImage = { width: SIZE, height: SIZE, data: cropTensor.data as Uint8Array };
  const image = decodeImage(photo.bytes, photo.what);
  const viaPhoto = await withClassifier(path, options, async (c) => {
    expect(c.inputConvention).toBe(expectConvention);
    return imageLogits(c, image);
  });
  // Identical pixels: the crop resized 299 → 299 (an identity) and normalised by the classifier.
  const preset = typeof options.preset === 'string' ? { preset: options.preset } : (options.preset ?? {});
  const viaCrop = await withClassifier(path, { ...options, preset: { ...preset, resizeSize: SIZE } }, async (c) => imageLogits(c, crop));
  const exact = assertClose(viaCrop, want.data, TOLERANCE, `${what}: identical pixels, engine vs torchvision float32`).relErr;
  assertClose(viaCrop, wantF64.data, TOLERANCE, `${what}: identical pixels, engine vs float64`);
  const photoErr = assertClose(viaPhoto, want.data, photoTolerance, `${what}: ${photo.what} through the engine's decode and resize`).relErr;
  expect(argmax(viaPhoto), `${what}: top class on ${photo.what}`).toBe(argmax(want.data));
  return {
    line: `${what}: identical pixels ${exact.toExponential(2)} (limit ${TOLERANCE}); ${photo.what} ${photoErr.toExponential(2)} (limit ${photoTolerance}), top class ${argmax(want.data)} as in PyTorch`,
    crop,
  };
}

beforeAll(async () => {
  engine = await testEngine();
  dir = await mkdtemp(join(tmpdir(), 'incept-torchvision-'));
});
afterAll(async () => {
  engine?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe(`Inception-v3 between the engine and torchvision (seed ${seed}; replay with TEST_SEED=${seed})`, () => {
  it("out: the engine's safetensors loads strictly into torchvision's inception_v3 and gives the same logits", async () => {
    await requireOracle();
    const model = new InceptionV3(engine, { seed });
    try {
      expect(model.hasAux).toBe(true);
      // Inputs spread like ImageNet-normalised pixels (about [−2.1, 2.6]); the BatchNorm
      // statistics come from another batch of the same kind, as training would leave them.
      const rng = makeRng(seed + 1);
      const shape = [BATCH, SIZE, SIZE, 3];
      const calibration = randomArray(rng, 4 * SIZE * SIZE * 3, -2, 2.5);
      await engine.scope(async () => model.calibrate(engine.tensor(calibration, [4, SIZE, SIZE, 3])));
      const modelPath = join(dir, 'engine.safetensors');
      await writeFile(modelPath, encodeSafetensors(await torchvisionStateDict(model)));
      const x = randomArray(rng, BATCH * SIZE * SIZE * 3, -2, 2.5);
      const ours = (await engine.scope(async () => model.forward(engine.tensor(x, shape)).read())) as Float32Array;
      const inputsPath = join(dir, 'engine-inputs.safetensors');
      await writeFile(inputsPath, encodeSafetensors({ x: { shape: [BATCH, 3, SIZE, SIZE], data: nhwcToNchw(x, shape) } }));
      const outPath = join(dir, 'torchvision-logits.safetensors');
      await oracle(['run', modelPath, inputsPath, outPath]);
      console.log(await agree(ours, outPath, 'logits', "out (the engine's weights)"));
    } finally {
      model.dispose();
    }
  });

  it("in: torchvision's state dict saved as safetensors by Python loads through loadClassifier and gives the same logits, with and without transform_input", async () => {
    await requireOracle();
    const { plain: modelPath, transformInput: modelTiPath, data: dataPath } = await madeModels();
    const pixels = await readTensor(dataPath, 'pixels');
    expect(pixels.shape).toEqual([BATCH, 3, SIZE, SIZE]);
    const nhwc = nchwToNhwc(pixels.data, pixels.shape);
    const imagenet = normalisePixels(nhwc, IMAGENET_MEAN, IMAGENET_STD);
    /** The logits loadClassifier's model gives for each input. */
    const logitsOf = async (path: string, inputs: Float32Array[]): Promise<Float32Array[]> => {
      const classifier = await loadClassifier(engine, { weights: path });
      // Tensor inputs are taken as they are; the convention applies to images only.
      try {
        expect(classifier.format).toBe('torchvision');
        expect(classifier.numClasses).toBe(1000);
        expect(classifier.inputShape).toEqual([SIZE, SIZE, 3]);
        const out: Float32Array[] = [];
        for (const x of inputs) {
          const results = await engine.scope(async () => classifier.classify(engine.tensor(x, [BATCH, SIZE, SIZE, 3]), { scores: true }));
          const logits = new Float32Array(BATCH * 1000);
          results.forEach((r, i) => logits.set(r.outputs!, i * 1000));
          out.push(logits);
        }
        return out;
      } finally {
        classifier.dispose();
      }
    };
    // transform_input=False: the model takes the ImageNet-normalised pixels as they are (what
    // the engine's 'torchvision' preprocessing preset gives).
    const [plain] = await logitsOf(modelPath, [imagenet]);
    const a = await agree(plain!, dataPath, 'logits', "in (torchvision's weights), transform_input=False");
    // transform_input=True (the pretrained weights' setting) on those same inputs: the engine
    // matches it on (p − 0.5) / 0.5, and not on the ImageNet-normalised pixels.
    const [rescaled, unconverted] = await logitsOf(modelTiPath, [normalisePixels(nhwc, [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]), imagenet]);
    const b = await agree(rescaled!, dataPath, 'logits_transform_input', 'in, transform_input=True, the engine fed (p − 0.5) / 0.5');
    const withoutRescaling = compare(unconverted!, (await readTensor(dataPath, 'logits_transform_input')).data).relErr;
    expect(withoutRescaling).toBeGreaterThan(100 * TOLERANCE);
    console.log(`${a}\n${b}\nthe engine fed ImageNet-normalised pixels instead: off by ${withoutRescaling.toExponential(2)}`);
  });

  it("pretrained (transform_input=True) weights: loadClassifier's default convention gives torchvision's logits on a photo through its published eval transform", async () => {
    await requireOracle();
    const m = await madeModels();
    const { line, crop } = await checkConvention(
      'torchvision pretrained, default convention',
      m.transformInput,
      {},
      'logits_tv',
      'crop_tv',
      PHOTO_TOLERANCE,
      'inception',
    );
    // The other convention on the same pixels is far outside the photo tolerance: the tests above
    // tell the conventions apart.
    const photo = await photoResults();
    const wrong = await withClassifier(m.transformInput, { inputConvention: 'imagenet', preset: { preset: 'torchvision', resizeSize: SIZE } }, async (c) => {
      expect(c.inputConventionReason).toMatch(/given/);
      return imageLogits(c, crop);
    });
    const off = compare(wrong, (await readTensor(photo.out, 'logits_tv')).data).relErr;
    expect(off).toBeGreaterThan(PHOTO_TOLERANCE);
    console.log(`${line}\nthe 'imagenet' convention on the same weights instead: off by ${off.toExponential(2)}`);
  });

  it("transform_input=False weights with inputConvention 'imagenet' give torchvision's logits on a photo", async () => {
    await requireOracle();
    const m = await madeModels();
    const { line } = await checkConvention(
      'transform_input=False, imagenet',
      m.plain,
      { inputConvention: 'imagenet' },
      'logits_plain',
      'crop_tv',
      PHOTO_TOLERANCE,
      'imagenet',
    );
    console.log(line);
  });

  it("timm: the 'timm' preset gives timm's InceptionV3 logits (tv_in1k: the same weights, mean = std = 0.5, resize 341) on a photo", async () => {
    await requireOracle();
    const m = await madeModels();
    const { line } = await checkConvention('timm tv_in1k', m.transformInput, { preset: 'timm' }, 'logits_timm', 'crop_timm', PHOTO_TOLERANCE, 'inception');
    console.log(line);
  });
});
