/**
 * The CIFAR-10 binary files (Node only: it reads the file system). From
 * https://www.cs.toronto.edu/~kriz/cifar.html, "CIFAR-10 binary version": data_batch_1.bin ..
 * data_batch_5.bin (training, 10,000 records each), test_batch.bin (10,000) and
 * batches.meta.txt (the class names, one a line). Record format: see src/data/dataset.ts.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InvalidArgumentError } from '../runtime/errors.js';
import { IMAGE_BYTES } from '../ops/augment.js';
import { CIFAR10_CLASSES, CIFAR10_RECORD_BYTES, DatasetError, decodeRecords, type ImageDataset } from './dataset.js';

/** Where `loadCifar10` looks by default, resolved against the current working directory. */
export const DEFAULT_CIFAR10_DIRECTORY = '../shared/data/cifar-10-batches-bin';
export const CIFAR10_TRAIN_FILES: readonly string[] = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'];
export const CIFAR10_TEST_FILES: readonly string[] = ['test_batch.bin'];
const META_FILE = 'batches.meta.txt';

export type Cifar10Split = 'train' | 'test';

export interface LoadCifar10Options {
  /** The folder holding the .bin files (default DEFAULT_CIFAR10_DIRECTORY, against the cwd). */
  directory?: string;
  /** 'train' (data_batch_1..5, 50,000 images; default) or 'test' (test_batch, 10,000). */
  split?: Cifar10Split;
  /** At most this many images, the first in file order. */
  limit?: number;
}

export interface Cifar10Dataset extends ImageDataset {
  split: Cifar10Split;
  /** The absolute folder read. */
  directory: string;
  /** The files the images came from, in order. */
  files: string[];
  /** Ten names, label i is classNames[i]: batches.meta.txt if present, else CIFAR10_CLASSES. */
  classNames: string[];
}

/** The class names of batches.meta.txt in `directory`, or the standard ten without one. */
export function readCifar10ClassNames(directory: string): string[] {
  const path = join(directory, META_FILE);
  if (!existsSync(path)) return [...CIFAR10_CLASSES];
  const names = readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (names.length !== 10) throw new DatasetError(`CIFAR-10: ${path} lists ${names.length} class names; it must list 10, one a line`);
  return names;
}

/**
 * Reads a split into memory: images [N, 3, 32, 32] uint8 (3 KB each; the training set is
 * 150 MB) and labels [N]. Checks every file of the split before reading: the folder and each
 * file must exist, and each file must be a whole, non-zero number of 3073-byte records; a
 * label above 9 names its file and record. All failures are DatasetErrors saying what to fix.
 */
export async function loadCifar10(options: LoadCifar10Options = {}): Promise<Cifar10Dataset> {
  const op = 'loadCifar10';
  const split = options.split ?? 'train';
  if (split !== 'train' && split !== 'test') throw new InvalidArgumentError(`${op}: split must be 'train' or 'test', got ${JSON.stringify(split)}`);
  const limit = options.limit;
  if (limit !== undefined && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1)) {
    throw new InvalidArgumentError(`${op}: limit must be a positive integer, got ${String(limit)}`);
  }
  const given = options.directory ?? DEFAULT_CIFAR10_DIRECTORY;
  const directory = resolve(given);
  if (!existsSync(directory) || !statSync(directory).isDirectory()) {
    const how = options.directory === undefined ? `the default '${DEFAULT_CIFAR10_DIRECTORY}' against the working directory ${process.cwd()}` : `'${given}'`;
    throw new DatasetError(
      `CIFAR-10: no folder ${directory} (from ${how}). Download and unpack the binary version (cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html), then pass its cifar-10-batches-bin folder: loadCifar10({ directory: '/path/to/cifar-10-batches-bin' })`,
    );
  }

  const names = split === 'train' ? CIFAR10_TRAIN_FILES : CIFAR10_TEST_FILES;
  const files: { name: string; path: string; records: number }[] = [];
  for (const name of names) {
    const path = join(directory, name);
    if (!existsSync(path)) throw new DatasetError(`CIFAR-10: ${name} is missing from ${directory} (the ${split} split needs ${names.join(', ')})`);
    const size = statSync(path).size;
    if (size === 0 || size % CIFAR10_RECORD_BYTES !== 0) {
      throw new DatasetError(
        `CIFAR-10: ${path} is ${size} bytes; expected a non-zero multiple of ${CIFAR10_RECORD_BYTES} (1 label byte + ${IMAGE_BYTES} image bytes per record; 10,000 records = ${10_000 * CIFAR10_RECORD_BYTES} bytes). Truncated download, or not the binary version?`,
      );
    }
    files.push({ name, path, records: size / CIFAR10_RECORD_BYTES });
  }
  const classNames = readCifar10ClassNames(directory);

  const available = files.reduce((s, f) => s + f.records, 0);
  const count = Math.min(available, limit ?? available);
  const images = new Uint8Array(count * IMAGE_BYTES);
  const labels = new Uint8Array(count);
  const used: string[] = [];
  let at = 0;
  for (const f of files) {
    if (at >= count) break;
    const take = Math.min(f.records, count - at);
    const bytes = new Uint8Array(take * CIFAR10_RECORD_BYTES);
    const handle = await open(f.path, 'r');
    try {
      let done = 0;
      while (done < bytes.length) {
        const { bytesRead } = await handle.read(bytes, done, bytes.length - done, done);
        if (bytesRead === 0) throw new DatasetError(`CIFAR-10: ${f.path} ended after ${done} bytes while reading ${bytes.length} (changed while loading?)`);
        done += bytesRead;
      }
    } finally {
      await handle.close();
    }
    at += decodeRecords(bytes, f.name, images, labels, at);
    used.push(f.name);
  }
  return { split, directory, files: used, classNames, images, labels, count };
}
