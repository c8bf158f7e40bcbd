/** Helpers for tests that run `incept train` as a user does: a child process on the built bundle
 * (bin/incept.js loads dist; rebuild with `node esbuild.config.mjs` after changing src). */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HANG_GUARD_MS } from './hang-guard.js';

/** A CIFAR-10 folder of the real binary format with `perFile` records in each of the six files
 * (CI machines have no CIFAR-10): 5·perFile training and perFile test images. */
export function writeTinyCifar(dir: string, perFile: number): void {
  mkdirSync(dir, { recursive: true });
  let g = 0;
  for (const name of ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin']) {
    const bytes = new Uint8Array(perFile * 3073);
    for (let r = 0; r < perFile; r++, g++) {
      bytes[r * 3073] = g % 10;
      for (let k = 1; k < 3073; k++) bytes[r * 3073 + k] = (g * 37 + k * 11 + ((g * k) % 7) * 13) & 255;
    }
    writeFileSync(join(dir, name), bytes);
  }
}

export interface InceptRun {
  /** The exit code, null when a signal ended the process. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string>;
  /** Called with the child once it runs (e.g. to kill it from outside). */
  onSpawn?: (child: ChildProcess) => void;
  /** Give up (and fail) after this long: a hang guard only, never part of an assertion. */
  hangGuardMs?: number;
}

/** Runs `node bin/incept.js ...args` to its end, however it ends. */
export function runIncept(args: string[], options: RunOptions = {}): Promise<InceptRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['bin/incept.js', ...args], { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`incept ${args.join(' ')} did not end; stdout: ${stdout}\nstderr: ${stderr}`));
    }, options.hangGuardMs ?? HANG_GUARD_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      resolvePromise({ code, signal, stdout, stderr });
    });
    options.onSpawn?.(child);
  });
}

/** The metrics records of a run, every line parsed (a line that does not parse fails the test). */
export function readMetricLines(path: string): Record<string, number | string>[] {
  const text = readFileSync(path, 'utf8');
  if (text !== '' && !text.endsWith('\n')) throw new Error(`${path} ends in a torn line: ${JSON.stringify(text.slice(text.lastIndexOf('\n') + 1))}`);
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, number | string>);
}
