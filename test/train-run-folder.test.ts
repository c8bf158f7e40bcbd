/**
 * `incept train` and the run folder it owns: a folder holding a run is never emptied by a new
 * run without --overwrite; --resume takes the run's settings from the folder and refuses a flag
 * that contradicts them, by name; a torn metrics line and records past the checkpoint are
 * repaired at resume; one process at a time holds the folder, and the lock of a dead one is
 * taken over.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, appendFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freshSeed } from './support/random.js';
import { readMetricLines, runIncept, writeTinyCifar } from './support/train-cli.js';

const seed = freshSeed() % 10_000;
const root = mkdtempSync(join(tmpdir(), 'incept-train-folder-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const data = join(root, 'cifar');
writeTinyCifar(data, 8); // 40 training and 8 test images

/** 16 images at batch 8: 2 steps an epoch. */
const tiny = [
  '--data',
  data,
  '--width',
  '0.125',
  '--batch-size',
  '8',
  '--epochs',
  '1',
  '--train-limit',
  '16',
  '--test-limit',
  '8',
  '--warmup',
  '1',
  '--log-every',
  '1',
];
const read = (p: string) => readFileSync(p, 'utf8');

describe(`incept train: the run folder (seed ${seed})`, () => {
  it('refuses an --out folder that holds a run unless --resume or --overwrite, and leaves it as it was', async () => {
    const out = join(root, 'existing');
    const first = await runIncept(['train', ...tiny, '--out', out, '--max-steps', '1', '--seed', String(seed)]);
    expect(first.code, first.stderr).toBe(0);
    const metrics = read(join(out, 'metrics.jsonl'));
    const latest = read(join(out, 'checkpoints', 'latest.json'));
    expect(metrics).toMatch(/"step":1/);

    const again = await runIncept(['train', ...tiny, '--out', out, '--max-steps', '1']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`${out} already holds a training run`);
    expect(again.stderr).toContain(`incept train --resume --out ${out}`);
    expect(again.stderr).toMatch(/another --out folder/);
    expect(again.stderr).toMatch(/--overwrite/);
    expect(read(join(out, 'metrics.jsonl'))).toBe(metrics);
    expect(read(join(out, 'checkpoints', 'latest.json'))).toBe(latest);

    const both = await runIncept(['train', ...tiny, '--out', out, '--resume', '--overwrite']);
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/--overwrite .*--resume/);

    const over = await runIncept(['train', ...tiny, '--out', out, '--overwrite', '--max-steps', '2', '--seed', String(seed + 1)]);
    expect(over.code, over.stderr).toBe(0);
    expect(
      readMetricLines(join(out, 'metrics.jsonl'))
        .filter((r) => r.kind === 'step')
        .map((r) => r.step),
    ).toEqual([1, 2]);
    expect(JSON.parse(read(join(out, 'run.json'))).config.seed).toBe(seed + 1);
  });

  it('--resume restores the run’s settings from its folder and refuses a flag that contradicts them, by name', async () => {
    const out = join(root, 'restore');
    const start = await runIncept(['train', ...tiny, '--out', out, '--epochs', '2', '--lr', '0.03', '--seed', String(seed), '--max-steps', '1']);
    expect(start.code, start.stderr).toBe(0);

    const conflict = await runIncept([
      'train',
      '--data',
      data,
      '--out',
      out,
      '--resume',
      '--train-limit',
      '24',
      '--seed',
      String(seed + 1),
      '--batch-size',
      '8',
    ]);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toMatch(/--train-limit 24 .*16/);
    expect(conflict.stderr).toMatch(new RegExp(`--seed ${seed + 1} .*${seed}`));
    expect(conflict.stderr).not.toMatch(/--batch-size/); // the same value as the run's is no conflict

    // Only where the data is and where the run is: everything else comes from the folder.
    const resumed = await runIncept(['train', '--data', data, '--out', out, '--resume', '--batch-size', '8']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain('Data: 16 training and 8 test images');
    expect(resumed.stdout).toMatch(/lr 0\.03 /);
    expect(resumed.stdout).toMatch(/Batches: 8 images, 2 steps per epoch, 2 epochs, label smoothing 0\.1, seed \d+/);
    expect(resumed.stdout).toContain(`seed ${seed}`);
    expect(resumed.stdout).toContain('Resuming at step 1 ');
    expect(resumed.stdout).toMatch(/all 2 epochs done at step 4 /);
  });

  it('--resume with nothing to resume says so without starting the engine', async () => {
    const r = await runIncept(['train', ...tiny, '--out', join(root, 'empty'), '--resume']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/nothing to resume/);
    expect(r.stdout).not.toMatch(/^Adapter:/m);
  });

  it('cuts a torn last metrics line and drops records past the checkpoint’s step when resuming', async () => {
    const out = join(root, 'torn');
    const first = await runIncept(['train', ...tiny, '--out', out, '--max-steps', '1', '--seed', String(seed)]);
    expect(first.code, first.stderr).toBe(0);
    // What a crash after logging step 2 (before its checkpoint), then one in the middle of a line, leaves.
    appendFileSync(
      join(out, 'metrics.jsonl'),
      `${JSON.stringify({ kind: 'step', step: 2, epoch: 1, loss: 99, lr: 0.05, imagesPerSecond: 1, seconds: 1 })}\n{"kind":"step","step":3,"ep`,
    );
    const resumed = await runIncept(['train', ...tiny, '--out', out, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout + resumed.stderr).toMatch(/torn last line/);
    expect(resumed.stdout + resumed.stderr).toMatch(/1 record past the checkpoint's step 1/);
    const records = readMetricLines(join(out, 'metrics.jsonl')); // every line parses
    const steps = records.filter((r) => r.kind === 'step');
    expect(steps.map((r) => r.step)).toEqual([1, 2]);
    expect(steps[1]!.loss).not.toBe(99);
    expect(records.filter((r) => r.kind === 'eval').map((r) => r.step)).toEqual([2]);
    expect(read(join(out, 'report.html'))).toContain('Best test accuracy');
  });

  it('one process per run folder: a live holder’s lock is refused, a dead one’s is taken over', async () => {
    const out = join(root, 'locked');
    mkdirSync(out, { recursive: true });
    const lock = join(out, 'run.lock');
    // This test's own process is alive: its lock holds.
    writeFileSync(lock, JSON.stringify({ pid: process.pid, hostname: hostname(), started: new Date().toISOString(), command: 'incept train (test)' }));
    const busy = await runIncept(['train', ...tiny, '--out', out, '--max-steps', '1']);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain(`is in use by process ${process.pid}`);
    expect(existsSync(join(out, 'metrics.jsonl'))).toBe(false);
    expect(existsSync(lock)).toBe(true);

    // A process that has exited: its lock is stale.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(dead.stdout);
    writeFileSync(lock, JSON.stringify({ pid: deadPid, hostname: hostname(), started: new Date().toISOString(), command: 'incept train (killed)' }));
    const taken = await runIncept(['train', ...tiny, '--out', out, '--max-steps', '1']);
    expect(taken.code, taken.stderr).toBe(0);
    expect(taken.stderr).toContain(`taking over ${lock}`);
    expect(taken.stderr).toContain(`process ${deadPid}`);
    expect(existsSync(lock)).toBe(false); // released at exit
  });
});
