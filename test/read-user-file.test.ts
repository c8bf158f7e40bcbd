/**
 * Files a user names (weights, TF.js shards, labels): one reader (src/io/read-user-file.ts) that
 * looks before it reads. A device (/dev/zero never ends), a FIFO (blocks until someone writes),
 * a directory or a file over the size limit is refused with the path, what it is and, for the
 * size, the limit and how to raise it; and every place that reads such a file goes through it.
 *
 * FIFOs stand in for "never-ending" inputs: a reader that opens one without looking blocks
 * forever, so before the fix these tests hang (until the hang guard) instead of eating memory
 * as /dev/zero does.
 * Each FIFO is unblocked afterwards (opened for writing without blocking and closed), so a
 * stuck reader gets EOF and the worker's thread pool is not left hanging.
 */
import { execFileSync, execFile } from 'node:child_process';
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HANG_GUARD_MS } from './support/hang-guard.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { DEFAULT_MAX_FILE_BYTES, MAX_FILE_BYTES_CEILING, MAX_FILE_BYTES_ENV, maxFileBytes, readUserFile, UserFileError } from '../src/io/read-user-file.js';
import { loadSafetensors } from '../src/io/safetensors.js';
import { readTfjsLayersModel } from '../src/io/tfjs-layers.js';
import { loadClassifier } from '../src/api/classifier.js';
import { testEngine } from './support/engine.js';

const run = promisify(execFile);
let dir: string;
let engine: Engine;
const fifos: string[] = [];

/** A FIFO nobody writes to: reading it without a check blocks forever. */
function fifo(name: string): string {
  const path = join(dir, name);
  execFileSync('mkfifo', [path]);
  fifos.push(path);
  return path;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'incept-user-file-'));
  engine = await testEngine();
});
afterEach(() => {
  // Unblock any reader stuck on a FIFO (only a reader being there lets a non-blocking open succeed).
  for (const p of fifos) {
    try {
      closeSync(openSync(p, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // ENXIO: nobody is reading it, which is what a correct reader leaves behind.
    }
  }
  delete process.env[MAX_FILE_BYTES_ENV];
});
afterAll(() => {
  engine?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const errorOf = async (p: Promise<unknown>): Promise<Error> =>
  p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as Error,
  );

describe('readUserFile', () => {
  it('reads a regular file whole', async () => {
    const path = join(dir, 'ok.bin');
    const bytes = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) & 255);
    writeFileSync(path, bytes);
    expect(await readUserFile(path, { what: 'weights file' })).toEqual(bytes);
  });

  it('refuses a character device (/dev/zero, /dev/null) and a FIFO without reading them, naming the path and what it is', async () => {
    const zero = await errorOf(readUserFile('/dev/zero', { what: 'weights file' }));
    expect(zero).toBeInstanceOf(UserFileError);
    expect(zero.message).toMatch(/^\/dev\/zero: not a regular file \(a character device\); a weights file must be a regular file/);
    expect((await errorOf(readUserFile('/dev/null', { what: 'labels file' }))).message).toMatch(/^\/dev\/null: not a regular file \(a character device\)/);
    const pipe = fifo('pipe.bin');
    expect((await errorOf(readUserFile(pipe, { what: 'weights file' }))).message).toMatch(/pipe\.bin: not a regular file \(a FIFO/);
  });

  it('refuses a directory and a missing file, naming the path', async () => {
    expect((await errorOf(readUserFile(dir, { what: 'model file', directoryHint: 'give the model file' }))).message).toMatch(
      /: a directory, not a file; give the model file/,
    );
    expect((await errorOf(readUserFile(join(dir, 'absent.bin'), { what: 'model file' }))).message).toMatch(/absent\.bin: no such file/);
  });

  it('checks the size before reading: over the limit, the error states the limit in bytes and how to raise it', async () => {
    const path = join(dir, 'big.bin');
    writeFileSync(path, new Uint8Array(4096));
    process.env[MAX_FILE_BYTES_ENV] = '1000';
    const small = await errorOf(readUserFile(path, { what: 'weights file' }));
    expect(small).toBeInstanceOf(UserFileError);
    expect(small.message).toMatch(
      /big\.bin: 4096 bytes, more than the limit of 1000 bytes on a weights file; raise it with INCEPT_MAX_FILE_BYTES=<bytes> \(at most 4294967296\)/,
    );
    process.env[MAX_FILE_BYTES_ENV] = '2048';
    expect(maxFileBytes()).toBe(2048);
    expect((await errorOf(readUserFile(path, { what: 'weights file' }))).message).toMatch(/more than the limit of 2048 bytes/);
    process.env[MAX_FILE_BYTES_ENV] = '4096';
    expect((await readUserFile(path, { what: 'weights file' })).length).toBe(4096);
  });

  it('the default limit is 2 GiB, raisable to 4 GiB; a bad INCEPT_MAX_FILE_BYTES is named', () => {
    expect(DEFAULT_MAX_FILE_BYTES).toBe(2 * 1024 ** 3);
    expect(MAX_FILE_BYTES_CEILING).toBe(4 * 1024 ** 3);
    expect(maxFileBytes()).toBe(DEFAULT_MAX_FILE_BYTES);
    process.env[MAX_FILE_BYTES_ENV] = '4GiB';
    expect(maxFileBytes()).toBe(4 * 1024 ** 3);
    process.env[MAX_FILE_BYTES_ENV] = '500MB';
    expect(maxFileBytes()).toBe(500e6);
    for (const bad of ['lots', '-5', '0', '5GiB']) {
      process.env[MAX_FILE_BYTES_ENV] = bad;
      expect(() => maxFileBytes()).toThrow(new RegExp(`INCEPT_MAX_FILE_BYTES='${bad}'.*a number of bytes from 1 to 4294967296`));
    }
  });
});

describe('every reader of a user-named model, weights or labels file goes through it', () => {
  it('loadSafetensors (and readCheckpoint, incept export --weights) refuses /dev/zero and a FIFO', async () => {
    expect((await errorOf(loadSafetensors('/dev/zero'))).message).toMatch(/^\/dev\/zero: not a regular file \(a character device\)/);
    expect((await errorOf(loadSafetensors(fifo('w.safetensors')))).message).toMatch(/w\.safetensors: not a regular file \(a FIFO/);
    const big = join(dir, 'big.safetensors');
    writeFileSync(big, new Uint8Array(5000));
    process.env[MAX_FILE_BYTES_ENV] = '1000';
    expect((await errorOf(loadSafetensors(big))).message).toMatch(/big\.safetensors: 5000 bytes, more than the limit of 1000 bytes/);
  });

  it('loadClassifier with a path refuses /dev/zero and a FIFO before reading', async () => {
    expect((await errorOf(loadClassifier(engine, { weights: '/dev/zero' }))).message).toMatch(/^\/dev\/zero: not a regular file \(a character device\)/);
    expect((await errorOf(loadClassifier(engine, { weights: fifo('model.onnx') }))).message).toMatch(/model\.onnx: not a regular file \(a FIFO/);
  });

  it("TF.js shards beside model.json are read the same way (readTfjsLayersModel and loadClassifier's path)", async () => {
    const folder = join(dir, 'tfjs');
    mkdirSync(folder);
    const modelJson = {
      format: 'layers-model',
      modelTopology: {
        class_name: 'Sequential',
        config: {
          name: 's',
          layers: [
            { class_name: 'Flatten', config: { name: 'f', batch_input_shape: [null, 1, 1, 3] } },
            { class_name: 'Dense', config: { name: 'd', units: 2, use_bias: false } },
          ],
        },
      },
      weightsManifest: [{ paths: ['shard.bin'], weights: [{ name: 'd/kernel', shape: [3, 2], dtype: 'float32' }] }],
    };
    const path = join(folder, 'model.json');
    writeFileSync(path, JSON.stringify(modelJson));
    fifo('tfjs/shard.bin');
    expect((await errorOf(readTfjsLayersModel(path))).message).toMatch(/weight shard 'shard\.bin'.*not a regular file \(a FIFO/);
    expect((await errorOf(loadClassifier(engine, { weights: path }))).message).toMatch(/shard 'shard\.bin'.*not a regular file \(a FIFO/);
  });

  it('incept export --weights /dev/zero exits 1 at once with the reason; INCEPT_MAX_FILE_BYTES applies to the CLI', async () => {
    const env = { ...process.env, INCEPT_DRIVER: 'system', VK_ICD_FILENAMES: '/nonexistent/icd.json' };
    const fail = async (args: string[], extra: Record<string, string> = {}) =>
      (await run(process.execPath, ['bin/incept.js', ...args], { env: { ...env, ...extra }, timeout: HANG_GUARD_MS }).catch((e: unknown) => e)) as {
        code: number;
        stderr: string;
      };
    const zero = await fail(['export', '--out', join(dir, 'x.onnx'), '--weights', '/dev/zero']);
    expect(zero.code).toBe(1);
    expect(zero.stderr).toMatch(/incept: \/dev\/zero: not a regular file \(a character device\)/);
    const file = join(dir, 'cli.safetensors');
    writeFileSync(file, new Uint8Array(3000));
    const big = await fail(['export', '--out', join(dir, 'x.onnx'), '--weights', file], { INCEPT_MAX_FILE_BYTES: '1000' });
    expect(big.code).toBe(1);
    expect(big.stderr).toMatch(/cli\.safetensors: 3000 bytes, more than the limit of 1000 bytes .*INCEPT_MAX_FILE_BYTES/);
  });
});
