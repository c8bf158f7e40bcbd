/**
 * The photo path (decodeImage → preprocess) against torchvision's own eval transform, run by
 * Debian's python3-torchvision and python3-pil (test/support/pil_preprocess_oracle.py): PIL's
 * decode (libjpeg-turbo), Resize(342, bilinear, antialias) (PIL's Image.resize), CenterCrop(299),
 * ToTensor. The comparison is of the 299 × 299 × 3 pixels before normalisation, in 8-bit levels:
 * every pixel within one level (the issue's bound; measured: identical, 0 levels, for every
 * image), and the same normalised through the preset's ImageNet mean and std.
 *
 * Images: made fresh by the oracle for each run (smooth random fields with hard-edged colour
 * discs and noise: JPEG 4:2:0, 4:2:2, 4:4:4, progressive and grayscale, PNG RGB, palette and RGBA;
 * landscape, portrait, odd sizes, square, small ones that the resize enlarges, a 61 × 250 strip),
 * plus the ImageNet sample photos in ../shared/data/imagenet-sample when that folder exists.
 * Also PIL's bicubic (timm's filter) through preprocess, and resizeImage with pilRounding
 * against PIL's Image.resize on random noise of random sizes, both ways, in row pieces too.
 *
 * Without python3, torch, torchvision or PIL every test here fails, saying what to install.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, type DecodedImage } from '../src/io/image.js';
import { IMAGENET_MEAN, IMAGENET_STD, preprocess, type PreprocessOptions } from '../src/io/preprocess.js';
import { resizeImage, type ResizeFilter } from '../src/ops/resize.js';
import type { Engine } from '../src/runtime/engine.js';
import { testEngine } from './support/engine.js';
import { HANG_GUARD_MS } from './support/hang-guard.js';
import { freshSeed, makeRng, randomInt } from './support/random.js';

const run = promisify(execFile);
const seed = freshSeed();
const replay = `(seed ${seed}; replay with TEST_SEED=${seed})`;
const ORACLE = fileURLToPath(new URL('./support/pil_preprocess_oracle.py', import.meta.url));
const SAMPLES = fileURLToPath(new URL('../../shared/data/imagenet-sample', import.meta.url));
/** Debian's interpreter, where python3-torchvision installs (a pyenv python3 on PATH lacks it). */
const PYTHON = process.env.INCEPT_TORCH_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const INSTALL_HINT =
  "this test needs torchvision and PIL as its oracle: run `bash scripts/setup.sh --test` as root (it installs Debian's python3-torchvision, which brings python3-pil), " +
  'or set INCEPT_TORCH_PYTHON to a python3 that can import torch, torchvision and PIL';
/** The issue's bound: one 8-bit level. */
const MAX_LEVELS = 1;

async function oracle(args: string[]): Promise<string> {
  try {
    const { stdout } = await run(PYTHON, [ORACLE, ...args], { timeout: HANG_GUARD_MS, maxBuffer: 16 << 20 });
    return stdout;
  } catch (e) {
    const err = e as Error & { stderr?: string };
    const detail = (err.stderr ?? '').trim().split('\n').slice(-3).join(' | ') || err.message;
    throw new Error(`PIL/torchvision oracle: \`${PYTHON} pil_preprocess_oracle.py ${args[0]}\` failed (${detail}); ${INSTALL_HINT}`);
  }
}

interface Job {
  kind: 'decode' | 'transform' | 'resize';
  out: string;
  [key: string]: unknown;
}

/** Runs the jobs in one Python process; returns each output as a decoded image. */
async function runJobs(dir: string, jobs: Job[]): Promise<DecodedImage[]> {
  const file = join(dir, `jobs-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(file, JSON.stringify(jobs));
  const sizes = JSON.parse(await oracle(['run', file])) as { height: number; width: number }[];
  return Promise.all(sizes.map(async (s, i) => ({ ...s, data: new Uint8Array(await readFile(jobs[i]!.out)) })));
}

/** Mean and worst |a − b| over all elements; fails on a non-finite value (a poisoned element). */
function levels(got: ArrayLike<number>, want: ArrayLike<number>, what: string): { mean: number; max: number } {
  expect(got.length, `${what}: length`).toBe(want.length);
  let sum = 0;
  let max = 0;
  for (let i = 0; i < got.length; i++) {
    if (!Number.isFinite(got[i]!)) throw new Error(`${what}: element ${i} is ${got[i]} (never written)`);
    const d = Math.abs(got[i]! - want[i]!);
    sum += d;
    if (d > max) max = d;
  }
  return { mean: sum / got.length, max };
}

const RAW: PreprocessOptions = { preset: 'torchvision', scale: [1, 1, 1], bias: [0, 0, 0] };

let engine: Engine;
let dir: string;
let files: string[] = [];
let oracleError: unknown;

beforeAll(async () => {
  engine = await testEngine();
  dir = await mkdtemp(join(tmpdir(), 'incept-pil-'));
  try {
    const info = JSON.parse(await oracle(['check'])) as Record<string, unknown>;
    console.info(`PIL/torchvision oracle: ${JSON.stringify(info)} ${replay}`);
    const made = JSON.parse(await oracle(['generate', dir, String(seed)])) as string[];
    files = made.map((f) => join(dir, f));
    if (existsSync(SAMPLES))
      files.push(
        ...readdirSync(SAMPLES)
          .filter((f) => /\.(jpe?g|png)$/i.test(f))
          .map((f) => join(SAMPLES, f)),
      );
  } catch (e) {
    // Reported by every test (a failing beforeAll would leave them reported as skipped).
    oracleError = e;
  }
}, HANG_GUARD_MS);

afterAll(async () => {
  engine?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function ready(): void {
  if (oracleError) throw oracleError;
  expect(files.length, 'the oracle made no images').toBeGreaterThanOrEqual(30);
}

const name = (f: string) => f.split('/').pop()!;

describe('the photo path against torchvision (PIL decode, Resize(342) antialiased bilinear, CenterCrop(299))', () => {
  it(`decodeImage gives PIL's pixels for every JPEG and PNG ${replay}`, async () => {
    ready();
    const want = await runJobs(
      dir,
      files.map((f, i) => ({ kind: 'decode', file: f, out: join(dir, `d${i}.rgb`) })),
    );
    const rows: string[] = [];
    for (let i = 0; i < files.length; i++) {
      const got = decodeImage(await readFile(files[i]!), name(files[i]!));
      expect([got.width, got.height], name(files[i]!)).toEqual([want[i]!.width, want[i]!.height]);
      const d = levels(got.data, want[i]!.data, `decode ${name(files[i]!)}`);
      rows.push(`${name(files[i]!)} (${got.decoder}): mean ${d.mean.toFixed(3)}, max ${d.max}`);
      expect(d.max, `${name(files[i]!)} decoded by ${got.decoder}: worst difference from PIL`).toBeLessThanOrEqual(MAX_LEVELS);
    }
    console.info(`decode vs PIL, levels:\n${rows.join('\n')}`);
  });

  for (const filter of ['bilinear', 'bicubic'] as const) {
    it(`decodeImage + preprocess ('torchvision' preset${filter === 'bicubic' ? ", filter 'bicubic'" : ''}) is within one level of torchvision's transform ${replay}`, async () => {
      ready();
      const want = await runJobs(
        dir,
        files.map((f, i) => ({ kind: 'transform', file: f, resize: 342, crop: 299, interpolation: filter, out: join(dir, `t${filter}${i}.rgb`) })),
      );
      const rows: string[] = [];
      let worst = 0;
      let total = 0;
      for (let i = 0; i < files.length; i++) {
        const what = `${name(files[i]!)} (${filter})`;
        const image = decodeImage(await readFile(files[i]!), name(files[i]!));
        const t0 = performance.now();
        const raw = preprocess(engine, [image], { ...RAW, filter });
        const got = await raw.read();
        const ms = performance.now() - t0;
        raw.dispose();
        expect([want[i]!.height, want[i]!.width], what).toEqual([299, 299]);
        const d = levels(got, want[i]!.data, what);
        rows.push(`${what} ${image.width}×${image.height}: mean ${d.mean.toFixed(3)}, max ${d.max} (preprocess ${ms.toFixed(0)} ms)`);
        worst = Math.max(worst, d.max);
        total += d.mean;
        expect(d.max, `${what}: worst difference from torchvision, in levels ${replay}`).toBeLessThanOrEqual(MAX_LEVELS);
      }
      console.info(`preprocess vs torchvision (${filter}), levels:\n${rows.join('\n')}\nworst ${worst}, mean of means ${(total / files.length).toFixed(4)}`);
      // The preset's own normalisation, undone: the same pixels (to f32 rounding).
      const image = decodeImage(await readFile(files[0]!), name(files[0]!));
      const normalised = preprocess(engine, [image], { preset: 'torchvision', filter });
      const values = await normalised.read();
      normalised.dispose();
      const back = values.map((v, k) => 255 * (v * IMAGENET_STD[k % 3]! + IMAGENET_MEAN[k % 3]!));
      expect(levels(back, want[0]!.data, 'normalised').max).toBeLessThanOrEqual(MAX_LEVELS + 1e-3);
    });
  }
});

describe("resizeImage with pilRounding against PIL's Image.resize", () => {
  it(`random noise of random sizes, reduced and enlarged, bilinear and bicubic, is PIL's byte for byte ${replay}`, async () => {
    ready();
    const rng = makeRng(seed + 17);
    const cases: { h: number; w: number; oh: number; ow: number; filter: ResizeFilter; chunk?: number }[] = [];
    for (const filter of ['bilinear', 'bicubic'] as const) {
      cases.push({ h: 1, w: 1, oh: 3, ow: 2, filter });
      cases.push({ h: 7, w: 300, oh: 5, ow: 11, filter });
      for (let k = 0; k < 5; k++) {
        const h = randomInt(rng, 2, 400);
        const w = randomInt(rng, 2, 400);
        cases.push({ h, w, oh: randomInt(rng, 1, 2 * h), ow: randomInt(rng, 1, 2 * w), filter, ...(k === 0 ? { chunk: 4 * 3 * w } : {}) });
      }
    }
    const images = cases.map((c) => ({ width: c.w, height: c.h, data: Uint8Array.from({ length: c.h * c.w * 3 }, () => Math.floor(rng() * 256)) }));
    await Promise.all(images.map((im, i) => writeFile(join(dir, `n${i}.rgb`), im.data)));
    const want = await runJobs(
      dir,
      cases.map((c, i) => ({
        kind: 'resize',
        rgb: join(dir, `n${i}.rgb`),
        height: c.h,
        width: c.w,
        out_height: c.oh,
        out_width: c.ow,
        interpolation: c.filter,
        out: join(dir, `r${i}.rgb`),
      })),
    );
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i]!;
      const what = `${c.h}×${c.w} → ${c.oh}×${c.ow} ${c.filter}${c.chunk ? ` in pieces of ${c.chunk} bytes` : ''}`;
      const y = resizeImage(engine, images[i]!, {
        height: c.oh,
        width: c.ow,
        antialias: true,
        pilRounding: true,
        filter: c.filter,
        ...(c.chunk ? { maxChunkBytes: c.chunk } : {}),
      });
      const got = await y.read();
      y.dispose();
      expect(levels(got, want[i]!.data, what).max, what).toBe(0);
    }
  });
});
