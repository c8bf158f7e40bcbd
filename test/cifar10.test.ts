/** CIFAR-10 data: the binary-file loader on small synthetic files of the exact format (every
 * error case and its message), per-channel statistics, and the batching iterator (seeded
 * shuffle per epoch, partial batches, state and resume). CI machines have no copy of the real
 * files, so every test writes its own. */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CIFAR10_TEST_FILES, CIFAR10_TRAIN_FILES, DEFAULT_CIFAR10_DIRECTORY, loadCifar10 } from '../src/data/cifar10.js';
import { CIFAR10_CLASSES, channelStatistics, DatasetError, type ImageDataset } from '../src/data/dataset.js';
import { BatchLoader, type LoaderState } from '../src/data/loader.js';
import { shuffledIndices } from '../src/data/random.js';
import { CIFAR10_MEAN, CIFAR10_STD, IMAGE_BYTES, normalizationTable } from '../src/ops/augment.js';
import type { Engine } from '../src/runtime/engine.js';
import { InvalidArgumentError } from '../src/runtime/errors.js';
import { augmentRef, drawsRef } from './reference/augment.js';
import { testEngine } from './support/engine.js';
import { freshSeed, makeRng } from './support/random.js';

let engine: Engine;
let root: string;
beforeAll(async () => {
  engine = await testEngine();
  root = mkdtempSync(join(tmpdir(), 'incept-cifar10-'));
});
afterAll(() => {
  engine?.destroy();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** Byte of channel c at (y, x) of global image g: distinct planes, rows and columns. */
const pattern = (g: number, c: number, y: number, x: number) => (g * 7 + c * 85 + y * 3 + x * 5) & 0xff;
const labelOf = (g: number) => (g * 3) % 10;

let dirCount = 0;
/** A folder with the split's files, `records[k]` records in file k; images numbered in file
 * order from `first`. Returns the folder. */
function writeSplit(files: readonly string[], records: number[], options: { meta?: string; first?: number; dir?: string } = {}): string {
  const dir = options.dir ?? join(root, `set${dirCount++}`);
  mkdirSync(dir, { recursive: true });
  let g = options.first ?? 0;
  files.forEach((name, k) => {
    const bytes = new Uint8Array(records[k]! * 3073);
    for (let r = 0; r < records[k]!; r++, g++) {
      bytes[r * 3073] = labelOf(g);
      for (let c = 0; c < 3; c++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) bytes[r * 3073 + 1 + c * 1024 + y * 32 + x] = pattern(g, c, y, x);
    }
    writeFileSync(join(dir, name), bytes);
  });
  if (options.meta !== undefined) writeFileSync(join(dir, 'batches.meta.txt'), options.meta);
  return dir;
}

function expectImages(data: ImageDataset, count: number, first = 0): void {
  expect(data.count).toBe(count);
  expect(data.images.length).toBe(count * IMAGE_BYTES);
  expect(Array.from(data.labels)).toEqual(Array.from({ length: count }, (_, i) => labelOf(first + i)));
  for (let i = 0; i < count; i++) {
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) {
          const got = data.images[i * 3072 + c * 1024 + y * 32 + x];
          if (got !== pattern(first + i, c, y, x)) throw new Error(`image ${i} channel ${c} (${y}, ${x}): ${got}, want ${pattern(first + i, c, y, x)}`);
        }
      }
    }
  }
}

describe('loadCifar10 on synthetic files', () => {
  it('reads the five training files in order into [N, 3, 32, 32] bytes and labels; class names from batches.meta.txt', async () => {
    const names = ['a0', 'b1', 'c2', 'd3', 'e4', 'f5', 'g6', 'h7', 'i8', 'j9'];
    const dir = writeSplit(CIFAR10_TRAIN_FILES, [3, 5, 1, 4, 2], { meta: `${names.join('\n')}\n\n` });
    const data = await loadCifar10({ directory: dir });
    expect(data.split).toBe('train');
    expect(data.directory).toBe(resolve(dir));
    expect(data.files).toEqual([...CIFAR10_TRAIN_FILES]);
    expect(data.classNames).toEqual(names);
    expectImages(data, 15);
  });

  it('reads the test split; without batches.meta.txt the class names are the standard ten', async () => {
    const dir = writeSplit(CIFAR10_TEST_FILES, [6]);
    const data = await loadCifar10({ directory: dir, split: 'test' });
    expect(data.split).toBe('test');
    expect(data.files).toEqual(['test_batch.bin']);
    expect(data.classNames).toEqual([...CIFAR10_CLASSES]);
    expect(data.classNames[0]).toBe('airplane');
    expectImages(data, 6);
  });

  it('limit keeps the first images in file order, across a file boundary, reading only the files it needs', async () => {
    const dir = writeSplit(CIFAR10_TRAIN_FILES, [3, 5, 1, 4, 2]);
    const seven = await loadCifar10({ directory: dir, limit: 7 });
    expect(seven.files).toEqual(['data_batch_1.bin', 'data_batch_2.bin']);
    expectImages(seven, 7);
    expectImages(await loadCifar10({ directory: dir, limit: 3 }), 3);
    expectImages(await loadCifar10({ directory: dir, limit: 1000 }), 15);
  });

  it('planes become pixels: the GPU batch in evaluation mode is NHWC of the file’s R, G, B planes, normalised exactly', async () => {
    const dir = writeSplit(CIFAR10_TEST_FILES, [5]);
    const data = await loadCifar10({ directory: dir, split: 'test' });
    const loader = new BatchLoader(engine, data, { batchSize: 5, seed: 0, training: false });
    const batch = loader.next();
    const [images, labels] = await engine.scope(async () => {
      const r = [await batch.images.read(), await batch.labels.read()] as const;
      batch.images.dispose();
      batch.labels.dispose();
      return r;
    });
    expect(Array.from(labels)).toEqual([0, 1, 2, 3, 4].map(labelOf));
    const table = normalizationTable();
    for (let i = 0; i < 5; i++) {
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) {
          for (let c = 0; c < 3; c++) {
            const want = Math.fround((pattern(i, c, y, x) / 255 - CIFAR10_MEAN[c]!) / CIFAR10_STD[c]!);
            expect(table[256 * c + pattern(i, c, y, x)]).toBe(want);
            const got = images[((i * 32 + y) * 32 + x) * 3 + c];
            if (got !== want) throw new Error(`image ${i} (${y}, ${x}) channel ${c}: ${got}, want ${want}`);
          }
        }
      }
    }
  });
});

describe('loadCifar10 errors', () => {
  it('a missing folder: says where it looked and how to pass a path', async () => {
    const missing = join(root, 'no-such-folder');
    const e = await loadCifar10({ directory: missing }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DatasetError);
    expect((e as Error).message).toContain(`no folder ${missing}`);
    expect((e as Error).message).toContain("loadCifar10({ directory: '/path/to/cifar-10-batches-bin' })");
    expect((e as Error).message).toContain('https://www.cs.toronto.edu/~kriz/cifar.html');
    // A file where the folder should be is no folder either.
    const file = join(root, 'plain-file');
    writeFileSync(file, 'x');
    await expect(loadCifar10({ directory: file })).rejects.toThrow(`no folder ${file}`);
  });

  it(`the default folder is ${DEFAULT_CIFAR10_DIRECTORY} against the working directory (read when there, else named with the cwd)`, async () => {
    const expected = resolve(process.cwd(), DEFAULT_CIFAR10_DIRECTORY);
    if (existsSync(expected)) {
      const data = await loadCifar10({ limit: 3, split: 'test' });
      expect(data.directory).toBe(expected);
      expect(data.count).toBe(3);
    } else {
      await expect(loadCifar10({ limit: 3 })).rejects.toThrow(
        `no folder ${expected} (from the default '${DEFAULT_CIFAR10_DIRECTORY}' against the working directory ${process.cwd()})`,
      );
    }
  });

  it('a missing file is named, with the files the split needs', async () => {
    const dir = writeSplit(
      CIFAR10_TRAIN_FILES.filter((f) => f !== 'data_batch_4.bin'),
      [2, 2, 2, 2],
    );
    await expect(loadCifar10({ directory: dir })).rejects.toThrow(DatasetError);
    await expect(loadCifar10({ directory: dir })).rejects.toThrow(
      `data_batch_4.bin is missing from ${dir} (the train split needs data_batch_1.bin, data_batch_2.bin`,
    );
    await expect(loadCifar10({ directory: dir, split: 'test' })).rejects.toThrow(/test_batch\.bin is missing/);
  });

  it('a file whose size is not a non-zero multiple of 3073 is named with the size expected', async () => {
    for (const size of [3073 * 2 + 100, 3072, 0]) {
      const dir = writeSplit(CIFAR10_TRAIN_FILES, [1, 1, 1, 1, 1]);
      writeFileSync(join(dir, 'data_batch_3.bin'), new Uint8Array(size));
      const e = await loadCifar10({ directory: dir }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(DatasetError);
      expect((e as Error).message).toContain(`${join(dir, 'data_batch_3.bin')} is ${size} bytes; expected a non-zero multiple of 3073`);
      expect((e as Error).message).toContain('10,000 records = 30730000 bytes');
    }
  });

  it('a label above 9 names the file and the record', async () => {
    const dir = writeSplit(CIFAR10_TRAIN_FILES, [2, 3, 1, 1, 1]);
    const bytes = new Uint8Array(3 * 3073);
    bytes[2 * 3073] = 10;
    writeFileSync(join(dir, 'data_batch_2.bin'), bytes);
    const e = await loadCifar10({ directory: dir }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DatasetError);
    expect((e as Error).message).toBe('CIFAR-10: data_batch_2.bin record 2 (byte 6146) has label 10; labels are 0–9');
    // Beyond the limit, the bad record is not read.
    expect((await loadCifar10({ directory: dir, limit: 4 })).count).toBe(4);
  });

  it('a batches.meta.txt without ten names, a bad split or limit', async () => {
    const dir = writeSplit(CIFAR10_TEST_FILES, [1], { meta: 'cat\ndog\n' });
    await expect(loadCifar10({ directory: dir, split: 'test' })).rejects.toThrow(
      `${join(dir, 'batches.meta.txt')} lists 2 class names; it must list 10, one a line`,
    );
    await expect(loadCifar10({ directory: dir, split: 'valid' as never })).rejects.toThrow(InvalidArgumentError);
    await expect(loadCifar10({ directory: dir, split: 'valid' as never })).rejects.toThrow(/loadCifar10: split must be 'train' or 'test', got "valid"/);
    for (const limit of [0, -1, 2.5, NaN])
      await expect(loadCifar10({ directory: dir, limit })).rejects.toThrow(/loadCifar10: limit must be a positive integer/);
  });
});

describe('per-channel statistics', () => {
  const seed = freshSeed();
  it(`channelStatistics equals a direct two-pass float64 computation (seed ${seed})`, () => {
    const rng = makeRng(seed);
    const count = 37;
    const images = Uint8Array.from({ length: count * 3072 }, (_, i) => Math.floor(rng() * (i % 3072 < 1024 ? 256 : i % 3072 < 2048 ? 128 : 16)));
    const stats = channelStatistics({ images, labels: new Uint8Array(count), count });
    for (let c = 0; c < 3; c++) {
      const values: number[] = [];
      for (let i = 0; i < count; i++) for (let k = 0; k < 1024; k++) values.push(images[i * 3072 + c * 1024 + k]! / 255);
      const m = values.reduce((s, v) => s + v, 0) / values.length;
      const sd = Math.sqrt(values.reduce((s, v) => s + (v - m) ** 2, 0) / values.length);
      expect(stats.mean[c]).toBeCloseTo(m, 12);
      expect(stats.std[c]).toBeCloseTo(sd, 12);
    }
    expect(() => channelStatistics({ images: new Uint8Array(0), labels: new Uint8Array(0), count: 0 })).toThrow(/no images/);
  });

  it('the exported constants are the well-known values', () => {
    expect(CIFAR10_MEAN).toEqual([0.4914, 0.4822, 0.4465]);
    expect(CIFAR10_STD).toEqual([0.247, 0.2435, 0.2616]);
  });
});

/** A synthetic in-memory data set: image i's bytes from the pattern, label labelOf(i). */
function syntheticData(count: number): ImageDataset {
  const images = new Uint8Array(count * IMAGE_BYTES);
  for (let i = 0; i < count; i++) for (let c = 0; c < 3; c++) for (let k = 0; k < 1024; k++) images[i * 3072 + c * 1024 + k] = pattern(i, c, k >> 5, k & 31);
  return { images, labels: Uint8Array.from({ length: count }, (_, i) => labelOf(i)), count };
}

async function readBatch(b: ReturnType<BatchLoader['next']>): Promise<{ images: Float32Array; labels: Int32Array }> {
  const images = await b.images.read();
  const labels = await b.labels.read();
  b.images.dispose();
  b.labels.dispose();
  return { images, labels };
}

describe('BatchLoader', () => {
  const seed = freshSeed();

  it(`each epoch visits every index exactly once, in an order fixed by (seed, epoch) (seed ${seed})`, () => {
    const n = 1000;
    const data = { images: new Uint8Array(n * IMAGE_BYTES), labels: new Uint8Array(n), count: n };
    const loaderSeed = Math.floor(makeRng(seed)() * 2 ** 53);
    const a = new BatchLoader(engine, data, { batchSize: 64, seed: loaderSeed });
    const b = new BatchLoader(engine, data, { batchSize: 64, seed: loaderSeed });
    const orders: Int32Array[] = [];
    for (let epoch = 0; epoch < 3; epoch++) {
      const seen: number[] = [];
      const sizes: number[] = [];
      do {
        const p = a.nextIndices();
        expect(p.epoch).toBe(epoch);
        expect(p.batch).toBe(sizes.length);
        expect(p.step).toBe(epoch * 16 + sizes.length);
        expect(Array.from(b.nextIndices().indices)).toEqual(Array.from(p.indices));
        seen.push(...p.indices);
        sizes.push(p.indices.length);
      } while (a.epoch === epoch);
      expect(sizes).toEqual([...new Array(15).fill(64), 1000 - 15 * 64]);
      expect([...seen].sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i));
      expect(seen).toEqual(Array.from(shuffledIndices(n, loaderSeed, epoch)));
      orders.push(Int32Array.from(seen));
    }
    expect(a.batchesPerEpoch).toBe(16);
    // Epochs differ from each other and from another seed's (fixed points of a random permutation: about 1).
    const agree = (p: ArrayLike<number>, q: ArrayLike<number>) => Array.from(p).filter((v, i) => v === q[i]).length;
    expect(agree(orders[0]!, orders[1]!)).toBeLessThan(20);
    expect(agree(orders[1]!, orders[2]!)).toBeLessThan(20);
    expect(agree(orders[0]!, shuffledIndices(n, loaderSeed + 1, 0))).toBeLessThan(20);
    expect(
      agree(
        orders[0]!,
        Int32Array.from({ length: n }, (_, i) => i),
      ),
    ).toBeLessThan(20);
  });

  it('dropLast drops the partial batch; without shuffling the order is the file order; evaluation does not shuffle by default', () => {
    const data = syntheticData(10);
    const drop = new BatchLoader(engine, data, { batchSize: 4, seed: 1, dropLast: true });
    expect(drop.batchesPerEpoch).toBe(2);
    expect(drop.epochLength).toBe(8);
    const sizes = [drop.nextIndices(), drop.nextIndices(), drop.nextIndices()].map((p) => [p.epoch, p.batch, p.indices.length]);
    expect(sizes).toEqual([
      [0, 0, 4],
      [0, 1, 4],
      [1, 0, 4],
    ]);
    const plain = new BatchLoader(engine, data, { batchSize: 4, seed: 1, shuffle: false });
    expect([0, 1, 2].map(() => Array.from(plain.nextIndices().indices))).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
    expect(plain.state).toEqual({ epoch: 1, cursor: 0, seed: 1 });
    const evaluation = new BatchLoader(engine, data, { batchSize: 10, seed: 1, training: false });
    expect(evaluation.shuffle).toBe(false);
    expect(Array.from(evaluation.nextIndices().indices)).toEqual(Array.from({ length: 10 }, (_, i) => i));
  });

  it(`next(): images augmented with (seed, step) draws, labels of the indices (seed ${seed})`, async () => {
    const data = syntheticData(23);
    const loaderSeed = Math.floor(makeRng(seed + 1)() * 2 ** 40);
    const loader = new BatchLoader(engine, data, { batchSize: 7, seed: loaderSeed });
    for (let k = 0; k < 5; k++) {
      const batch = loader.next();
      expect(batch.step).toBe(k);
      const { images, labels } = await readBatch(batch);
      expect(batch.images.isDisposed).toBe(true);
      const bytes = new Uint8Array(batch.indices.length * IMAGE_BYTES);
      batch.indices.forEach((i, b) => bytes.set(data.images.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES), b * IMAGE_BYTES));
      expect(Array.from(labels)).toEqual(Array.from(batch.indices, labelOf));
      expect(Array.from(batch.labelValues)).toEqual(Array.from(labels));
      const ref = augmentRef(bytes, drawsRef(batch.indices.length, loaderSeed, batch.step), 4, CIFAR10_MEAN, CIFAR10_STD);
      for (let i = 0; i < ref.length; i++)
        if (images[i] !== Math.fround(ref[i]!)) throw new Error(`batch ${k} element ${i}: ${images[i]}, want ${Math.fround(ref[i]!)}`);
    }
    expect(loader.state).toEqual({ epoch: 1, cursor: 7, seed: loaderSeed });
  });

  it(`resuming from a saved state continues batch for batch: same indices, labels and augmented images (seed ${seed})`, async () => {
    const data = syntheticData(20);
    const loaderSeed = Math.floor(makeRng(seed + 2)() * 2 ** 31);
    const options = { batchSize: 6, seed: loaderSeed };
    const first = new BatchLoader(engine, data, options);
    for (let k = 0; k < 5; k++) await readBatch(first.next()); // into epoch 1
    const saved: LoaderState = JSON.parse(JSON.stringify(first.state));
    expect(saved).toEqual({ epoch: 1, cursor: 6, seed: loaderSeed });
    const resumed = new BatchLoader(engine, data, { batchSize: 6, seed: 12345, state: saved });
    expect(resumed.seed).toBe(loaderSeed);
    expect([resumed.epoch, resumed.batchIndex, resumed.step]).toEqual([1, 1, 5]);
    const later = new BatchLoader(engine, data, { batchSize: 6, seed: 0 });
    later.restore(saved);
    for (let k = 0; k < 6; k++) {
      const [a, b, c] = [first.next(), resumed.next(), later.next()];
      expect([b.epoch, b.batch, b.step]).toEqual([a.epoch, a.batch, a.step]);
      expect(Array.from(b.indices)).toEqual(Array.from(a.indices));
      expect(Array.from(c.indices)).toEqual(Array.from(a.indices));
      const [ra, rb, rc] = [await readBatch(a), await readBatch(b), await readBatch(c)];
      expect(Buffer.from(rb.images.buffer).equals(Buffer.from(ra.images.buffer))).toBe(true);
      expect(Buffer.from(rc.images.buffer).equals(Buffer.from(ra.images.buffer))).toBe(true);
      expect(Array.from(rb.labels)).toEqual(Array.from(ra.labels));
    }
  });

  it('epochBatches() yields the rest of the epoch; the loader is iterable', async () => {
    const data = syntheticData(9);
    const loader = new BatchLoader(engine, data, { batchSize: 4, seed: 3 });
    await readBatch(loader.next());
    const rest: number[] = [];
    for (const batch of loader) {
      rest.push(batch.batch);
      await readBatch(batch);
    }
    expect(rest).toEqual([1, 2]);
    expect(loader.state).toEqual({ epoch: 1, cursor: 0, seed: 3 });
  });

  it('rejects bad options and states, naming them', () => {
    const data = syntheticData(10);
    expect(() => new BatchLoader(engine, data, { batchSize: 0, seed: 1 })).toThrow(/BatchLoader: batchSize must be an integer in \[1, 2\^53\], got 0/);
    expect(() => new BatchLoader(engine, data, { batchSize: 4, seed: -2 })).toThrow(/BatchLoader: seed must be an integer/);
    expect(() => new BatchLoader(engine, data, { batchSize: 11, seed: 1, dropLast: true })).toThrow(
      /batchSize 11 with dropLast leaves no batch of the 10 images/,
    );
    expect(() => new BatchLoader(engine, { ...data, count: 11 }, { batchSize: 4, seed: 1 })).toThrow(/BatchLoader: data must hold count ≥ 1 images/);
    const loader = new BatchLoader(engine, data, { batchSize: 4, seed: 1 });
    expect(() => loader.restore({ epoch: 0, cursor: 3, seed: 1 })).toThrow(
      /state\.cursor must be a multiple of the batch size 4 below the epoch's 10 images, got 3/,
    );
    expect(() => loader.restore({ epoch: 0, cursor: 12, seed: 1 })).toThrow(InvalidArgumentError);
    expect(() => loader.restore({ epoch: -1, cursor: 0, seed: 1 })).toThrow(/state\.epoch must be an integer/);
    expect(() => loader.restore({ epoch: 0, cursor: 0 } as never)).toThrow(/state\.seed must be an integer/);
    loader.restore({ epoch: 4, cursor: 8, seed: 9 });
    expect(loader.state).toEqual({ epoch: 4, cursor: 8, seed: 9 });
  });
});
