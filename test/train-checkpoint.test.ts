/**
 * A training run's checkpoints on disk: a folder per checkpoint and a `latest.json` pointer
 * written last, so the previous checkpoint stays the one a resume uses until the new one is
 * whole; unique temporary names, so two writers never clobber each other; a damaged newest
 * checkpoint falls back to the previous one; the old two-file layout still resumes. And the
 * run folder's lock: one process at a time, a dead holder's lock taken over.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import type { Tensor } from '../src/runtime/tensor.js';
import { writeCheckpoint } from '../src/io/checkpoint-file.js';
import { readTrainCheckpoint, removeUnpublishedCheckpoints, writeTrainCheckpoint } from '../src/train/checkpoint.js';
import { acquireRunLock } from '../src/train/run-lock.js';
import { DEFAULT_TRAIN_CONFIG, type TrainState } from '../src/train/trainer.js';
import { testEngine } from './support/engine.js';
import { freshSeed, makeRng, randomArray } from './support/random.js';

let engine: Engine;
let root: string;
beforeAll(async () => {
  engine = await testEngine();
  root = mkdtempSync(join(tmpdir(), 'incept-train-ckpt-'));
});
afterAll(() => {
  engine?.destroy();
  if (root) rmSync(root, { recursive: true, force: true });
});

const seed = freshSeed();
const rng = makeRng(seed);

function stateAt(step: number): TrainState {
  return {
    config: { ...DEFAULT_TRAIN_CONFIG, width: 0.125 },
    step,
    loader: { epoch: 0, cursor: 8 * step, seed: 1 },
    seconds: step,
    epochLossSum: step,
    epochLossCount: step,
  };
}
function tensorsFor(values: Float32Array): Map<string, Tensor> {
  return new Map([['model.w', engine.tensor(values, [values.length])]]);
}

describe(`training checkpoints (seed ${seed})`, () => {
  it('the newest published checkpoint is the one read; half-written and unpublished ones are ignored, and cleared at the next start', async () => {
    const dir = join(root, 'publish');
    const a = randomArray(rng, 12);
    const first = await writeTrainCheckpoint(dir, tensorsFor(a), stateAt(1));
    expect((await readTrainCheckpoint(dir)).state.step).toBe(1);
    // What kill -9 leaves: a folder with the tensors only, and a complete folder never published.
    const half = join(dir, 'checkpoints', 'step-00000002-deadbeef');
    mkdirSync(half);
    cpSync(join(first, 'checkpoint.safetensors'), join(half, 'checkpoint.safetensors'));
    const unpublished = join(dir, 'checkpoints', 'step-00000003-cafebabe');
    cpSync(first, unpublished, { recursive: true });
    const read = await readTrainCheckpoint(dir);
    expect(read.state.step).toBe(1);
    expect([...read.tensors.get('model.w')!]).toEqual([...a]);

    // A run starting in the folder (holding its lock) clears what no pointer names.
    expect(removeUnpublishedCheckpoints(dir).sort()).toEqual([half, unpublished]);
    expect(existsSync(half) || existsSync(unpublished)).toBe(false);
    expect((await readTrainCheckpoint(dir)).state.step).toBe(1);

    const b = randomArray(rng, 12);
    const second = await writeTrainCheckpoint(dir, tensorsFor(b), stateAt(4));
    const latest = await readTrainCheckpoint(dir);
    expect(latest.state.step).toBe(4);
    expect([...latest.tensors.get('model.w')!]).toEqual([...b]);
    // The previous checkpoint is kept beside the newest.
    expect(existsSync(first) && existsSync(second)).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'checkpoints', 'latest.json'), 'utf8'))).toMatchObject({ step: 4 });
    const third = await writeTrainCheckpoint(dir, tensorsFor(a), stateAt(5));
    expect(existsSync(first)).toBe(false);
    expect(existsSync(second) && existsSync(third)).toBe(true);
  });

  it('a damaged newest checkpoint falls back to the previous one, saying which file is damaged', async () => {
    const dir = join(root, 'damaged');
    const a = randomArray(rng, 9);
    await writeTrainCheckpoint(dir, tensorsFor(a), stateAt(2));
    const newest = await writeTrainCheckpoint(dir, tensorsFor(randomArray(rng, 9)), stateAt(3));
    truncateSync(join(newest, 'checkpoint.safetensors'), 20);
    const messages: string[] = [];
    const read = await readTrainCheckpoint(dir, { onMessage: (m) => messages.push(m) });
    expect(read.state.step).toBe(2);
    expect([...read.tensors.get('model.w')!]).toEqual([...a]);
    expect(messages.join('\n')).toContain(join(newest, 'checkpoint.safetensors'));
    expect(messages.join('\n')).toMatch(/previous checkpoint \(step 2\)/);
  });

  it('two checkpoints written at once into one run folder do not collide (unique temporary names)', async () => {
    const dir = join(root, 'concurrent');
    const a = randomArray(rng, 64);
    const b = randomArray(rng, 64);
    await Promise.all([writeTrainCheckpoint(dir, tensorsFor(a), stateAt(7)), writeTrainCheckpoint(dir, tensorsFor(b), stateAt(7))]);
    const read = await readTrainCheckpoint(dir);
    expect(read.state.step).toBe(7);
    expect([[...a], [...b]]).toContainEqual([...read.tensors.get('model.w')!]);
    const files = readdirSync(join(dir, 'checkpoints'), { recursive: true }) as string[];
    expect(files.filter((f) => /tmp/.test(f))).toEqual([]);
  });

  it('a run written in the old layout (checkpoint.safetensors + checkpoint.json in the run folder) still resumes', async () => {
    const dir = join(root, 'legacy');
    const a = randomArray(rng, 5);
    await writeCheckpoint(dir, 'checkpoint', { tensors: tensorsFor(a), json: { version: 1, ...stateAt(6) } });
    const read = await readTrainCheckpoint(dir);
    expect(read.state.step).toBe(6);
    expect([...read.tensors.get('model.w')!]).toEqual([...a]);
  });

  it('no checkpoint at all names the folder', async () => {
    await expect(readTrainCheckpoint(join(root, 'none'))).rejects.toThrow(/no checkpoint in .*none/);
  });
});

describe('the run folder lock', () => {
  it('one holder at a time: a live holder is named, a released lock can be taken again', async () => {
    const dir = join(root, 'lock-live');
    const lock = await acquireRunLock(dir);
    try {
      expect(JSON.parse(readFileSync(join(dir, 'run.lock'), 'utf8'))).toMatchObject({ pid: process.pid, hostname: hostname() });
      await expect(acquireRunLock(dir)).rejects.toThrow(new RegExp(`is in use by process ${process.pid} on ${hostname()}`));
    } finally {
      lock.release();
    }
    expect(existsSync(join(dir, 'run.lock'))).toBe(false);
    (await acquireRunLock(dir)).release();
  });

  it('the lock of a process that is gone is taken over with a message; a torn lock file too', async () => {
    const dir = join(root, 'lock-stale');
    mkdirSync(dir, { recursive: true });
    const deadPid = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
    writeFileSync(join(dir, 'run.lock'), JSON.stringify({ pid: deadPid, hostname: hostname(), started: '2026-01-01T00:00:00.000Z', command: 'incept train' }));
    const messages: string[] = [];
    const lock = await acquireRunLock(dir, { onMessage: (m) => messages.push(m) });
    expect(messages.join('\n')).toMatch(new RegExp(`taking over .*run\\.lock: process ${deadPid} .*is no longer running`));
    expect(JSON.parse(readFileSync(join(dir, 'run.lock'), 'utf8')).pid).toBe(process.pid);
    lock.release();

    writeFileSync(join(dir, 'run.lock'), '{"pid": 12'); // a holder killed while writing it (older versions)
    const torn: string[] = [];
    (await acquireRunLock(dir, { onMessage: (m) => torn.push(m) })).release();
    expect(torn.join('\n')).toMatch(/taking over .*run\.lock/);
  });

  it('a lock held on another machine is not guessed about', async () => {
    const dir = join(root, 'lock-remote');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'run.lock'),
      JSON.stringify({ pid: 1, hostname: `not-${hostname()}`, started: '2026-01-01T00:00:00.000Z', command: 'incept train' }),
    );
    await expect(acquireRunLock(dir)).rejects.toThrow(new RegExp(`in use by process 1 on not-${hostname()}.*delete .*run\\.lock`));
  });
});
