/** CIFAR-10 augmentation on the GPU: the per-image draws (host, GPU and an independent
 * reference agree bit for bit), crop + flip + normalise against float64, evaluation mode,
 * the draws' distribution and reproducibility, labels, argument checks. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  augmentBatch,
  augmentDraws,
  augmentDrawsGpu,
  augmentImages,
  CIFAR10_MEAN,
  CIFAR10_STD,
  IMAGE_BYTES,
  normalizationTable,
  packImageBytes,
} from '../src/ops/augment.js';
import type { Engine } from '../src/runtime/engine.js';
import { InvalidArgumentError } from '../src/runtime/errors.js';
import { augmentRef, drawsRef } from './reference/augment.js';
import { assertClose } from './support/compare.js';
import { testEngine } from './support/engine.js';
import { freshSeed, makeRng, type Rng } from './support/random.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const randomBytes = (rng: Rng, n: number) => Uint8Array.from({ length: n }, () => Math.floor(rng() * 256));
const bigSeed = (rng: Rng) => Math.floor(rng() * 2 ** 53);

/** The GPU result of augmentBatch, read back. */
async function runBatch(bytes: Uint8Array, options: Parameters<typeof augmentBatch>[3]): Promise<Float32Array> {
  return engine.scope(() => augmentBatch(engine, bytes, undefined, options).images).read();
}

function expectExact(got: Float32Array, ref: Float64Array, what: string): void {
  expect(got.length).toBe(ref.length);
  for (let i = 0; i < got.length; i++) {
    if (got[i] !== Math.fround(ref[i]!)) throw new Error(`${what}: element ${i} is ${got[i]}, want f32(${ref[i]}) = ${Math.fround(ref[i]!)}`);
  }
}

describe('augmentation draws', () => {
  const seed = freshSeed();
  it(`host (augmentDraws), GPU (augmentDrawsGpu) and the reference agree exactly, seeds and steps past 2^32 (seed ${seed})`, async () => {
    const rng = makeRng(seed);
    const cases = [
      { seed: 0, step: 0, count: 5 },
      { seed: 2 ** 53, step: 2 ** 53, count: 3 },
      { seed: bigSeed(rng), step: Math.floor(rng() * 1000), count: 1000 },
      { seed: bigSeed(rng), step: bigSeed(rng), count: 257, padding: 2 },
      { seed: Math.floor(rng() * 2 ** 32), step: 7, count: 130, padding: 0 },
      { seed: Math.floor(rng() * 2 ** 32), step: 9, count: 70, flip: false },
      { seed: Math.floor(rng() * 2 ** 32), step: 11, count: 33, firstIndex: 2 ** 32 - 33 },
    ];
    for (const c of cases) {
      const host = augmentDraws(c.count, c);
      const ref = drawsRef(c.count, c.seed, c.step, c.padding ?? 4, c.flip ?? true, c.firstIndex ?? 0);
      expect(Array.from(host.dx)).toEqual(ref.dx);
      expect(Array.from(host.dy)).toEqual(ref.dy);
      expect(Array.from(host.flip)).toEqual(ref.flip);
      const gpu = await engine.scope(() => augmentDrawsGpu(engine, c.count, c)).read();
      const rows = Array.from({ length: c.count }, (_, b) => [gpu[3 * b], gpu[3 * b + 1], gpu[3 * b + 2]]);
      expect(rows, JSON.stringify(c)).toEqual(ref.dx.map((dx, b) => [dx, ref.dy[b], ref.flip[b]]));
    }
  });

  it(`all 81 crop offsets appear about equally often and half the images are flipped (seed ${seed})`, () => {
    const n = 8100;
    const d = augmentDraws(n, { seed: bigSeed(makeRng(seed + 1)), step: 3 });
    const cells = new Array<number>(81).fill(0);
    for (let b = 0; b < n; b++) {
      expect(d.dx[b]).toBeLessThanOrEqual(8);
      expect(d.dy[b]).toBeLessThanOrEqual(8);
      cells[d.dy[b]! * 9 + d.dx[b]!]!++;
    }
    // 100 expected per cell, σ ≈ 9.9: [40, 160] is beyond 6σ either way.
    for (let k = 0; k < 81; k++) expect(cells[k], `offset (dy ${Math.floor(k / 9)}, dx ${k % 9})`).toBeGreaterThanOrEqual(40);
    for (let k = 0; k < 81; k++) expect(cells[k]).toBeLessThanOrEqual(160);
    const chiSquare = cells.reduce((s, v) => s + (v - 100) ** 2 / 100, 0);
    expect(chiSquare).toBeLessThan(160); // 80 degrees of freedom: mean 80, sd 12.6
    const flips = d.flip.reduce((s, v) => s + v, 0);
    expect(Math.abs(flips - n / 2)).toBeLessThanOrEqual(5 * Math.sqrt(n / 4));
    // Flip is independent of the offset: each half of the offsets has flips near half.
    const flippedLeft = Array.from(d.flip).filter((f, b) => f === 1 && d.dx[b]! < 4).length;
    const left = Array.from(d.dx).filter((v) => v < 4).length;
    expect(Math.abs(flippedLeft - left / 2)).toBeLessThanOrEqual(5 * Math.sqrt(left / 4));
  });

  it(`same seed and step give the same draws; another seed or step gives others (seed ${seed})`, () => {
    const rng = makeRng(seed + 2);
    const s = bigSeed(rng);
    const key = (d: ReturnType<typeof augmentDraws>) => Array.from(d.dx, (dx, b) => `${dx},${d.dy[b]},${d.flip[b]}`);
    const n = 200;
    const a = key(augmentDraws(n, { seed: s, step: 5 }));
    expect(key(augmentDraws(n, { seed: s, step: 5 }))).toEqual(a);
    const same = (p: string[], q: string[]) => p.filter((v, i) => v === q[i]).length;
    // Independent draws coincide with probability 1/162 per image.
    for (const other of [
      { seed: s, step: 6 },
      { seed: s + 1, step: 5 },
      { seed: (s + 2 ** 32) % 2 ** 53, step: 5 },
      { seed: s, step: 5 + 2 ** 32 },
    ]) {
      expect(same(a, key(augmentDraws(n, other))), JSON.stringify(other)).toBeLessThan(12);
    }
  });
});

describe('augmentImages', () => {
  const seed = freshSeed();

  for (const batch of [1, 3, 7]) {
    it(`training: crop with zero padding + flip + normalise match float64 with the same draws, batch ${batch} (seed ${seed})`, async () => {
      const rng = makeRng(seed + batch);
      const bytes = randomBytes(rng, batch * IMAGE_BYTES);
      const s = bigSeed(rng);
      const step = Math.floor(rng() * 100000);
      const got = await runBatch(bytes, { training: true, seed: s, step });
      const ref = augmentRef(bytes, drawsRef(batch, s, step), 4, CIFAR10_MEAN, CIFAR10_STD);
      assertClose(got, ref, 1e-6, `augment batch ${batch}`);
      // A lookup of values rounded once: exactly f32 of the float64 value.
      expectExact(got, ref, `augment batch ${batch}`);
    });
  }

  it(`padded pixels are (0 − mean)/std: in a white image, exactly the pixels the crop takes from the padding (seed ${seed})`, async () => {
    // Image of all 255: the output is table[c][255] inside the crop and table[c][0] in the padding;
    // the count of padded pixels per image is 32·32 − (32 − |dx − 4|)(32 − |dy − 4|).
    const n = 81;
    const bytes = new Uint8Array(n * IMAGE_BYTES).fill(255);
    const s = bigSeed(makeRng(seed + 10));
    const got = await runBatch(bytes, { training: true, seed: s, step: 1 });
    const d = augmentDraws(n, { seed: s, step: 1 });
    const table = normalizationTable();
    for (let b = 0; b < n; b++) {
      let padded = 0;
      for (let p = 0; p < 1024; p++) {
        const v = got[(b * 1024 + p) * 3]!;
        if (v === table[0]) padded++;
        else expect(v).toBe(table[255]);
      }
      expect(padded).toBe(1024 - (32 - Math.abs(d.dx[b]! - 4)) * (32 - Math.abs(d.dy[b]! - 4)));
    }
    expect(table[0]).toBeCloseTo(-0.4914 / 0.247, 6);
  });

  it(`evaluation: exactly f32((x/255 − mean_c)/std_c) of the image itself, default and custom statistics (seed ${seed})`, async () => {
    const rng = makeRng(seed + 20);
    for (const batch of [1, 3, 7, 64]) {
      const bytes = randomBytes(rng, batch * IMAGE_BYTES);
      // Every byte value appears.
      for (let v = 0; v < 256; v++) bytes[(v * 37) % bytes.length] = v;
      const got = await runBatch(bytes, { training: false });
      const ref = augmentRef(bytes, undefined, 0, CIFAR10_MEAN, CIFAR10_STD);
      expectExact(got, ref, `eval batch ${batch}`);
      assertClose(got, ref, 1e-6, `eval batch ${batch}`);
    }
    const bytes = randomBytes(rng, 2 * IMAGE_BYTES);
    const mean = [0.5, 0.25, 0] as const;
    const std = [0.5, 1, 2] as const;
    const got = await runBatch(bytes, { training: false, mean, std, seed: 1, step: 2 });
    expectExact(got, augmentRef(bytes, undefined, 0, mean, std), 'eval with custom mean and std');
  });

  it(`padding 0 without flip is the identity crop; padding 2 draws offsets in [0, 4] (seed ${seed})`, async () => {
    const rng = makeRng(seed + 30);
    const bytes = randomBytes(rng, 5 * IMAGE_BYTES);
    const s = bigSeed(rng);
    const identity = await runBatch(bytes, { training: true, seed: s, step: 0, padding: 0, flip: false });
    expectExact(identity, augmentRef(bytes, undefined, 0, CIFAR10_MEAN, CIFAR10_STD), 'padding 0, no flip');
    const two = await runBatch(bytes, { training: true, seed: s, step: 4, padding: 2 });
    expectExact(two, augmentRef(bytes, drawsRef(5, s, 4, 2), 2, CIFAR10_MEAN, CIFAR10_STD), 'padding 2');
  });

  it(`same seed and step give identical batches; another step or seed changes them (seed ${seed})`, async () => {
    const rng = makeRng(seed + 40);
    const bytes = randomBytes(rng, 16 * IMAGE_BYTES);
    const s = Math.floor(rng() * 2 ** 31);
    const a = await runBatch(bytes, { training: true, seed: s, step: 10 });
    const b = await runBatch(bytes, { training: true, seed: s, step: 10 });
    expect(Buffer.from(b.buffer).equals(Buffer.from(a.buffer))).toBe(true);
    for (const other of [
      { seed: s, step: 11 },
      { seed: s + 1, step: 10 },
    ]) {
      const c = await runBatch(bytes, { training: true, ...other });
      const sameImages = Array.from({ length: 16 }, (_, i) => i).filter((i) =>
        a.subarray(i * 3072, (i + 1) * 3072).every((v, k) => v === c[i * 3072 + k]),
      ).length;
      expect(sameImages, JSON.stringify(other)).toBeLessThan(4); // equal draws: 1/162 per image
    }
  });

  it(`a batch of 128 (grid of 2048 workgroups) matches the reference; labels come back as i32 (seed ${seed})`, async () => {
    const rng = makeRng(seed + 50);
    const n = 128;
    const bytes = randomBytes(rng, n * IMAGE_BYTES);
    const labels = Uint8Array.from({ length: n }, () => Math.floor(rng() * 10));
    const s = bigSeed(rng);
    const [images, gotLabels, dtype, shape] = await engine.scope(async () => {
      const r = augmentBatch(engine, bytes, labels, { training: true, seed: s, step: 77 });
      return [await r.images.read(), await r.labels!.read(), r.labels!.dtype, r.images.shape] as const;
    });
    expect(shape).toEqual([n, 32, 32, 3]);
    expect(dtype).toBe('i32');
    expect(Array.from(gotLabels)).toEqual(Array.from(labels));
    expectExact(images, augmentRef(bytes, drawsRef(n, s, 77), 4, CIFAR10_MEAN, CIFAR10_STD), 'batch 128');
  });

  it('augmentImages on packed words uploaded by hand equals augmentBatch; an empty batch is empty', async () => {
    const rng = makeRng(99);
    const bytes = randomBytes(rng, 3 * IMAGE_BYTES);
    const viaWords = await engine
      .scope(() => augmentImages(engine.tensor(packImageBytes(bytes), [3, 768], 'u32'), { training: true, seed: 4, step: 2 }))
      .read();
    expect(Array.from(viaWords)).toEqual(Array.from(await runBatch(bytes, { training: true, seed: 4, step: 2 })));
    const empty = engine.scope(() => {
      const y = augmentImages(engine.empty([0, 768], 'u32'), { training: false });
      return y.shape;
    });
    expect(empty).toEqual([0, 32, 32, 3]);
  });
});

describe('packImageBytes', () => {
  it('puts byte i in bits 8·(i mod 4) of word ⌊i/4⌋, aligned (a view) or not (a copy)', () => {
    const rng = makeRng(5);
    const backing = randomBytes(rng, IMAGE_BYTES + 1);
    for (const bytes of [backing.subarray(0, IMAGE_BYTES), backing.subarray(1)]) {
      const words = packImageBytes(bytes);
      expect(words.length).toBe(768);
      for (let i = 0; i < IMAGE_BYTES; i++) expect((words[i >> 2]! >>> (8 * (i & 3))) & 0xff).toBe(bytes[i]);
    }
    expect(() => packImageBytes(new Uint8Array(100))).toThrow(/packImageBytes: bytes must hold whole 3×32×32 images \(a multiple of 3072\), got 100/);
  });
});

describe('augmentation argument checks', () => {
  it('names the op and the argument', () => {
    engine.scope(() => {
      const words = engine.zeros([2, 768], 'u32');
      expect(() => augmentImages(engine.zeros([2, 768]), { training: false })).toThrow(/augmentImages: words must be u32/);
      expect(() => augmentImages(engine.zeros([2, 767], 'u32'), { training: false })).toThrow(/augmentImages: words must be u32\[B, 768\]/);
      expect(() => augmentImages(words, {} as never)).toThrow(/augmentImages: training must be a boolean/);
      expect(() => augmentImages(words, { training: true, step: 1 })).toThrow(/augmentImages: seed is required/);
      expect(() => augmentImages(words, { training: true, seed: 1 })).toThrow(/augmentImages: step is required/);
      expect(() => augmentImages(words, { training: true, seed: -1, step: 0 })).toThrow(/augmentImages: seed must be an integer in \[0, 2\^53\]/);
      expect(() => augmentImages(words, { training: true, seed: 1, step: 0.5 })).toThrow(/augmentImages: step must be an integer/);
      expect(() => augmentImages(words, { training: true, seed: 1, step: 0, padding: 33 })).toThrow(/augmentImages: padding must be an integer in \[0, 32\]/);
      expect(() => augmentImages(words, { training: true, seed: 1, step: 0, flip: 1 as never })).toThrow(/augmentImages: flip must be a boolean/);
      expect(() => augmentImages(words, { training: false, mean: [0.5, 0.5] as never })).toThrow(/augmentImages: mean must be three finite numbers/);
      expect(() => augmentImages(words, { training: false, std: [0.5, 0, 0.5] })).toThrow(/augmentImages: std must be three finite numbers > 0/);
      expect(() => augmentImages(words, { training: false })).not.toThrow();
      expect(() => augmentBatch(engine, new Uint8Array(3000), undefined, { training: false })).toThrow(InvalidArgumentError);
      expect(() => augmentBatch(engine, new Uint8Array(2 * 3072), new Uint8Array(3), { training: false })).toThrow(
        /augmentBatch: labels must hold one label per image \(2\), got 3/,
      );
      expect(() => augmentDraws(3, { seed: 1, step: 2 ** 53 + 2 })).toThrow(/augmentDraws: step must be an integer in \[0, 2\^53\]/);
      expect(() => augmentDrawsGpu(engine, 5, { seed: 1, step: 1, firstIndex: 2 ** 32 - 2 })).toThrow(
        /augmentDrawsGpu: firstIndex \+ image count must be at most 2\^32/,
      );
    });
  });
});
