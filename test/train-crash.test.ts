/**
 * kill -9 during `incept train`, then `--resume`: the run ends with the same weights, optimizer
 * state and weight average, bit for bit, as a run that was never interrupted, and its metrics
 * hold every step once. The crashes land where losing data is likeliest: halfway through a
 * checkpoint (tensors written, JSON not), after a checkpoint is complete but before it is
 * published, halfway through a metrics line, and at a random moment chosen from outside. The
 * test-only crash points (INCEPT_TRAIN_CRASH=<point>@<step>, src/train/crash-points.ts) SIGKILL
 * the process at a step chosen by count; the outside kill lands wherever the run happens to
 * be, and no assertion depends on where.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readTrainCheckpoint } from '../src/train/checkpoint.js';
import { freshSeed, makeRng, randomInt } from './support/random.js';
import { readMetricLines, runIncept, writeTinyCifar, type InceptRun } from './support/train-cli.js';

const seed = freshSeed();
const rng = makeRng(seed);
const root = mkdtempSync(join(tmpdir(), 'incept-train-crash-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const data = join(root, 'cifar');
writeTinyCifar(data, 8); // 40 training images; --train-limit 32 at batch 8: 4 steps an epoch
// 3 epochs of 4 steps: epoch ends (evaluation, checkpoint) at steps 4, 8 and 12.
const runFlags = [
  '--data',
  data,
  '--width',
  '0.125',
  '--batch-size',
  '8',
  '--epochs',
  '3',
  '--train-limit',
  '32',
  '--test-limit',
  '8',
  '--warmup',
  '2',
  '--lr',
  '0.03',
  '--ema',
  '0.9',
  '--seed',
  String(seed % 10_000),
  '--log-every',
  '1',
];

function expectKilled(r: InceptRun, what: string): void {
  expect(r.signal, `${what} should have been killed; exit code ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe('SIGKILL');
}
function expectDone(r: InceptRun, what: string): void {
  expect(r.code, `${what}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
}

describe(`incept train killed with SIGKILL and resumed (seed ${seed})`, () => {
  it('reaches the uninterrupted run’s final weights and logs every step once', async () => {
    const straight = join(root, 'straight');
    expectDone(await runIncept(['train', ...runFlags, '--out', straight]), 'the uninterrupted run');

    const out = join(root, 'crashed');
    const crash = (point: string, step: number) => ({ env: { INCEPT_TRAIN_CRASH: `${point}@${step}` } });

    // 1. A checkpoint after every step; killed halfway through writing the one of step r1.
    const r1 = randomInt(rng, 2, 3);
    expectKilled(
      await runIncept(['train', ...runFlags, '--out', out, '--checkpoint-every', '0'], crash('checkpoint-partial', r1)),
      `crash halfway through checkpoint ${r1}`,
    );
    // 2. Resumes from step r1 − 1 (the half-written checkpoint is not used; the metrics line of
    //    step r1 goes, so it is not logged twice); killed while appending the metrics line of r2.
    const r2 = randomInt(rng, r1 + 1, 7);
    const second = await runIncept(['train', ...runFlags, '--out', out, '--resume'], crash('metrics-torn', r2));
    expectKilled(second, `crash in the metrics line of step ${r2}`);
    expect(second.stdout).toContain(`Resuming at step ${r1 - 1} `);
    expect(second.stderr).toMatch(/taking over .*run\.lock/); // the killed run's lock was stale
    // 3. Resumes from the newest checkpoint (r1 − 1, or the epoch end at 4); the torn line is cut.
    //    Killed at step 8 after the checkpoint folder is complete but before it is published.
    const third = await runIncept(['train', ...runFlags, '--out', out, '--resume'], crash('checkpoint-unpublished', 8));
    expectKilled(third, 'crash before publishing checkpoint 8');
    expect(third.stdout).toContain(`Resuming at step ${r2 >= 5 ? 4 : r1 - 1} `);
    expect(third.stdout + third.stderr).toMatch(/torn last line/);
    // 4. Resumes at step 4 (checkpoint 8 was never published; evaluation 8 is dropped from the
    //    metrics); a checkpoint after every step, killed from outside once one past step r4 exists.
    const r4 = randomInt(rng, 9, 11);
    const fourth = await runIncept(['train', ...runFlags, '--out', out, '--resume', '--checkpoint-every', '0'], {
      onSpawn: (child) => {
        const poll = setInterval(() => {
          if (child.exitCode !== null || child.signalCode !== null) return clearInterval(poll);
          try {
            const latest = JSON.parse(readFileSync(join(out, 'checkpoints', 'latest.json'), 'utf8')) as { step: number };
            if (latest.step >= r4) {
              child.kill('SIGKILL');
              clearInterval(poll);
            }
          } catch {
            // the pointer is replaced by a rename, so a read never sees half of it; it may not exist yet
          }
        }, 25);
      },
    });
    expect(fourth.stdout).toContain('Resuming at step 4 ');
    // 5. To the end.
    const last = await runIncept(['train', ...runFlags, '--out', out, '--resume']);
    expectDone(last, 'the last resume');
    expect(last.stdout).toMatch(/all 3 epochs done at step 12/);

    // The same weights, running statistics, optimizer state and weight average, bit for bit.
    const a = await readTrainCheckpoint(straight);
    const b = await readTrainCheckpoint(out);
    expect(b.state.step).toBe(12);
    expect([...b.tensors.keys()].sort()).toEqual([...a.tensors.keys()].sort());
    expect([...b.tensors.keys()].some((k) => k.startsWith('ema.'))).toBe(true);
    for (const [name, values] of a.tensors) {
      const other = b.tensors.get(name)!;
      expect(Buffer.from(other.buffer, other.byteOffset, other.byteLength).equals(Buffer.from(values.buffer, values.byteOffset, values.byteLength)), name).toBe(
        true,
      );
    }

    // Every step logged once, in order, with the uninterrupted run's losses and evaluations.
    const want = readMetricLines(join(straight, 'metrics.jsonl'));
    const got = readMetricLines(join(out, 'metrics.jsonl'));
    const steps = (rs: typeof got) => rs.filter((r) => r.kind === 'step').map((r) => [r.step, r.loss, r.lr]);
    const evals = (rs: typeof got) => rs.filter((r) => r.kind === 'eval').map((r) => [r.step, r.testAcc, r.testLoss, r.trainLoss]);
    expect(steps(want).map(([s]) => s)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(steps(got)).toEqual(steps(want));
    expect(evals(want).map(([s]) => s)).toEqual([4, 8, 12]);
    expect(evals(got)).toEqual(evals(want));

    // What is left: the newest checkpoint and the one before it, nothing half-written, no lock.
    const left = readdirSync(join(out, 'checkpoints')).sort();
    expect(left.filter((f) => f !== 'latest.json').length).toBeLessThanOrEqual(2);
    expect(left.filter((f) => /tmp/.test(f))).toEqual([]);
    expect(existsSync(join(out, 'run.lock'))).toBe(false);
  });
});
