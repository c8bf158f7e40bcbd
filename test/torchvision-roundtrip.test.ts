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
 * Logits are compared norm-wise, max |engine − torchvision| / max |torchvision|, against
 * torchvision's float32 forward (what its users get) and the same network in float64, each within
 * 3e-4. Float32 itself is the floor: on these random networks with realistic BatchNorm statistics
 * torchvision's own float32 logits are 3e-5 to 4e-5 from its float64 ones (measured; one rounding
 * step of the input moves them as much), so 3e-4 leaves room for a different summation order and
 * none for a mistake: a wrong layout, weight or padding moves the logits by 1e-1 and more.
 * Without python3, torch or torchvision every test here fails, saying what to install; nothing
 * is skipped.
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
import { loadClassifier } from '../src/api/classifier.js';
import { testEngine } from './support/engine.js';
import { assertClose, compare } from './support/compare.js';
import { freshSeed, makeRng, randomArray } from './support/random.js';
import { HANG_GUARD_MS } from './support/hang-guard.js';

const run = promisify(execFile);
const seed = freshSeed();
const TOLERANCE = 3e-4;
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
    const modelPath = join(dir, 'torchvision.safetensors');
    const modelTiPath = join(dir, 'torchvision-transform-input.safetensors');
    const dataPath = join(dir, 'torchvision-data.safetensors');
    await oracle(['make', String(seed), modelPath, modelTiPath, dataPath]);
    const pixels = await readTensor(dataPath, 'pixels');
    expect(pixels.shape).toEqual([BATCH, 3, SIZE, SIZE]);
    const nhwc = nchwToNhwc(pixels.data, pixels.shape);
    const imagenet = normalisePixels(nhwc, IMAGENET_MEAN, IMAGENET_STD);
    /** The logits loadClassifier's model gives for each input. */
    const logitsOf = async (path: string, inputs: Float32Array[]): Promise<Float32Array[]> => {
      const classifier = await loadClassifier(engine, { weights: path });
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
});
