/**
 * The CIFAR-10 trainer on a small synthetic data set (CI machines have no CIFAR-10 files): a run
 * stopped and resumed from its checkpoint repeats the uninterrupted run's losses bit for bit
 * (every kernel sums in a fixed order and every random draw is a function of seed and step);
 * a time budget ends with an evaluation and a checkpoint; the metrics log has what the issue
 * asks for; a resume without a checkpoint says so.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import type { ImageDataset } from '../src/data/dataset.js';
import { DEFAULT_TRAIN_CONFIG, Trainer, type TrainConfig } from '../src/train/trainer.js';
import { MetricsLog, readMetrics, type MetricRecord } from '../src/train/metrics.js';
import { readTrainCheckpoint } from '../src/train/checkpoint.js';
import { testEngine } from './support/engine.js';
import { freshSeed, makeRng } from './support/random.js';

let engine: Engine;
let root: string;
beforeAll(async () => {
  engine = await testEngine();
  root = mkdtempSync(join(tmpdir(), 'incept-train-'));
});
afterAll(() => {
  engine?.destroy();
  if (root) rmSync(root, { recursive: true, force: true });
});

const seed = freshSeed();

/** Images whose class sets a colour cast, plus noise: learnable in a few steps. */
function syntheticSet(count: number, rngSeed: number): ImageDataset {
  const rng = makeRng(rngSeed);
  const images = new Uint8Array(count * 3072);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const label = Math.floor(rng() * 10);
    labels[i] = label;
    for (let c = 0; c < 3; c++) {
      const base = 40 + 20 * ((label + 3 * c) % 10);
      for (let k = 0; k < 1024; k++) images[i * 3072 + c * 1024 + k] = Math.max(0, Math.min(255, Math.round(base + 60 * (rng() - 0.5))));
    }
  }
  return { images, labels, count };
}

const config: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, width: 0.125, batchSize: 8, epochs: 2, lr: 0.02, warmupSteps: 2, seed: seed % 100_000, ema: 0.9 };
const data = { train: syntheticSet(32, seed), test: syntheticSet(16, seed + 1) };

/** The uninterrupted run the resumed ones are compared with: 6 steps (an evaluation at 4), once. */
let straightRun: Promise<{ losses: number[]; records: MetricRecord[] }> | undefined;
function straight(): Promise<{ losses: number[]; records: MetricRecord[] }> {
  straightRun ??= (async () => {
    const dir = join(root, 'straight');
    const trainer = await Trainer.create(engine, config, data, dir);
    try {
      const { losses } = await trainer.run(new MetricsLog(join(dir, 'metrics.jsonl')), { maxSteps: 6, logEvery: 1 });
      return { losses, records: readMetrics(join(dir, 'metrics.jsonl')) };
    } finally {
      trainer.dispose();
    }
  })();
  return straightRun;
}

describe(`CIFAR-10 trainer (seed ${seed})`, () => {
  it('a run stopped at step 3 and resumed from its checkpoint repeats the uninterrupted losses and evaluation exactly', async () => {
    const { losses: full, records: straightRecords } = await straight();
    expect(full).toHaveLength(6);
    expect(full.every(Number.isFinite)).toBe(true);

    const dir = join(root, 'resumed');
    const first = await Trainer.create(engine, config, data, dir);
    let before: number[];
    try {
      const out = await first.run(new MetricsLog(join(dir, 'metrics.jsonl')), { maxSteps: 3, logEvery: 1 });
      expect(out.stopped).toBe('max-steps');
      before = out.losses;
    } finally {
      first.dispose();
    }
    const second = await Trainer.create(engine, config, data, dir, true);
    let after: number[];
    try {
      expect(second.step).toBe(3);
      after = (await second.run(new MetricsLog(join(dir, 'metrics.jsonl'), { append: true }), { maxSteps: 6, logEvery: 1 })).losses;
    } finally {
      second.dispose();
    }
    expect([...before, ...after]).toEqual(full);
    // Steps 1–6 logged once each, across the two runs, and an evaluation at the epoch end (step 4).
    const records = readMetrics(join(dir, 'metrics.jsonl'));
    expect(records.filter((r) => r.kind === 'step').map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6]);
    const evals = records.filter((r) => r.kind === 'eval');
    expect(evals.map((r) => r.step)).toEqual([4]);
    // The evaluation (with the weight average, restored from the checkpoint) matches too.
    const straightEval = straightRecords.find((r) => r.kind === 'eval');
    expect(evals[0]).toMatchObject({
      testAcc: straightEval!.kind === 'eval' ? straightEval!.testAcc : NaN,
      testLoss: straightEval!.kind === 'eval' ? straightEval!.testLoss : NaN,
    });
    for (const r of records) expect(Number.isFinite(r.epoch)).toBe(true);
  });

  it('a time budget that has run out ends after evaluating and writing a checkpoint', async () => {
    const dir = join(root, 'budget');
    const trainer = await Trainer.create(engine, config, data, dir);
    try {
      const out = await trainer.run(new MetricsLog(join(dir, 'metrics.jsonl')), { seconds: 0 });
      expect(out.stopped).toBe('time');
      expect(out.lastEval?.images).toBe(16);
      expect(out.lastEval!.accuracy).toBeGreaterThanOrEqual(0);
      expect(out.checkpoint.startsWith(join(dir, 'checkpoints', 'step-00000000-'))).toBe(true);
      expect((await readTrainCheckpoint(dir)).path).toBe(out.checkpoint);
      const records = readMetrics(join(dir, 'metrics.jsonl'));
      expect(records.at(-1)).toMatchObject({ kind: 'eval', step: 0, testAcc: out.lastEval!.accuracy });
    } finally {
      trainer.dispose();
    }
  });

  it('--checkpoint-every 0: a checkpoint after every step, mid-epoch too, and none written twice for one step', async () => {
    const dir = join(root, 'every-step');
    const trainer = await Trainer.create(engine, config, data, dir);
    const saved: number[] = [];
    try {
      const out = await trainer.run(new MetricsLog(join(dir, 'metrics.jsonl')), {
        maxSteps: 3,
        checkpointEverySeconds: 0,
        onCheckpoint: (c) => saved.push(c.step),
      });
      expect(out.stopped).toBe('max-steps');
      expect((await readTrainCheckpoint(dir)).path).toBe(out.checkpoint);
    } finally {
      trainer.dispose();
    }
    expect(saved).toEqual([1, 2, 3]); // 4 steps an epoch: all three mid-epoch
    expect((await readTrainCheckpoint(dir)).state).toMatchObject({ step: 3, loader: { cursor: 24 } });
  });

  it('resuming refuses a configuration that differs from the checkpoint’s, naming the settings', async () => {
    const dir = join(root, 'differs');
    const first = await Trainer.create(engine, config, data, dir);
    try {
      await first.run(new MetricsLog(join(dir, 'metrics.jsonl')), { maxSteps: 1 });
    } finally {
      first.dispose();
    }
    await expect(Trainer.create(engine, { ...config, batchSize: 4, seed: config.seed + 1 }, data, dir, true)).rejects.toThrow(
      /batchSize \(8 in the checkpoint, 4 given\).*seed/,
    );
    await expect(Trainer.create(engine, config, { train: syntheticSet(24, seed), test: data.test }, dir, true)).rejects.toThrow(/32 training images.*24/);
  });

  it('a time budget that runs out mid-epoch evaluates without restarting the epoch’s mean training loss', async () => {
    const { records: straightRecords } = await straight();
    const dir = join(root, 'budget-mid-epoch');
    const run = async (resume: boolean, control: Parameters<Trainer['run']>[1]) => {
      const t = await Trainer.create(engine, config, data, dir, resume);
      try {
        return await t.run(new MetricsLog(join(dir, 'metrics.jsonl'), resume ? { resumeAtStep: t.step } : {}), { logEvery: 1, ...control });
      } finally {
        t.dispose();
      }
    };
    await run(false, { maxSteps: 2 });
    expect((await run(true, { seconds: 0 })).stopped).toBe('time'); // evaluates at step 2, mid-epoch
    await run(true, { maxSteps: 4 });
    const evals = readMetrics(join(dir, 'metrics.jsonl')).filter((r) => r.kind === 'eval');
    expect(evals.map((r) => r.step)).toEqual([2, 4]);
    const want = straightRecords.find((r) => r.kind === 'eval' && r.step === 4);
    expect(evals[1]).toMatchObject({ testAcc: want?.kind === 'eval' ? want.testAcc : NaN, trainLoss: want?.kind === 'eval' ? want.trainLoss : NaN });
  });

  it('resuming where there is no checkpoint names what is missing', async () => {
    await expect(Trainer.create(engine, config, data, join(root, 'nothing-here'), true)).rejects.toThrow(/checkpoint/);
  });
});
