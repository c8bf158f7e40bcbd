/**
 * `incept train --preset quick`: a named set of run-defining settings. Flags given win over it;
 * its settings are saved in run.json like any other, so `--resume` restores them (and refuses a
 * preset that contradicts the run, by name). The run's first stdout line says what it will cost,
 * and an estimate of its time follows after its first steps, in a log as on a terminal.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { restoreConfig, trainConfigFrom, TRAIN_PRESETS } from '../src/cli/train-options.js';
import { DEFAULT_TRAIN_CONFIG } from '../src/train/trainer.js';
import { runIncept, writeTinyCifar } from './support/train-cli.js';

const root = mkdtempSync(join(tmpdir(), 'incept-train-preset-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('incept train --preset', () => {
  const quick = TRAIN_PRESETS.quick;

  it('quick sets a small, short run: the CIFAR-10 network at a small width, a training subset and an evaluation subset', () => {
    const c = trainConfigFrom({ preset: 'quick' });
    expect(c).toMatchObject({
      width: Number(quick.width),
      batchSize: Number(quick.batchSize),
      epochs: Number(quick.epochs),
      trainLimit: Number(quick.trainLimit),
      testLimit: Number(quick.testLimit),
    });
    expect(c.width).toBeLessThan(DEFAULT_TRAIN_CONFIG.width);
    expect(c.trainLimit! * c.epochs).toBeLessThan(50_000);
    expect(c.testLimit).toBeLessThan(10_000);
    // The settings it does not name keep their defaults.
    expect(c).toMatchObject({ optimizer: 'sgd', schedule: 'cosine', seed: DEFAULT_TRAIN_CONFIG.seed, momentum: DEFAULT_TRAIN_CONFIG.momentum });
  });

  it('lets every flag given win over the preset, and checks the result as it checks flags', () => {
    expect(trainConfigFrom({ preset: 'quick', width: '0.25', trainLimit: '500' })).toMatchObject({
      width: 0.25,
      trainLimit: 500,
      batchSize: Number(quick.batchSize),
    });
    expect(() => trainConfigFrom({ preset: 'fast' })).toThrow(/--preset must be one of quick, got 'fast'/);
    expect(() => trainConfigFrom({ preset: 'quick', batchSize: '0' })).toThrow(/--batch-size needs an integer from 1/);
  });

  it('on --resume: a preset that matches the run is accepted, one that contradicts it is refused by name', () => {
    const run = trainConfigFrom({ preset: 'quick' });
    expect(restoreConfig(run, { preset: 'quick' }, '/runs/q')).toEqual(run);
    expect(restoreConfig(run, {}, '/runs/q')).toEqual(run);
    expect(() => restoreConfig(trainConfigFrom({}), { preset: 'quick' }, '/runs/d')).toThrow(
      new RegExp(
        `--preset quick \\(sets --width ${quick.width}; the run has 0\\.25\\), .*--preset quick \\(sets --train-limit ${quick.trainLimit}; the run has all training images\\)`,
      ),
    );
  });

  it('saves the preset’s settings in run.json; --resume restores them; the first line says what the run costs, and an estimate follows', async () => {
    const data = join(root, 'cifar');
    writeTinyCifar(data, 12); // 60 training and 12 test images
    const out = join(root, 'quick');
    // The data here is tiny, so the limits and the batch are given: they win; the rest is the preset's.
    const small = ['--train-limit', '40', '--test-limit', '12', '--batch-size', '4'];
    const first = await runIncept(['train', '--preset', 'quick', '--data', data, '--out', out, ...small, '--max-steps', '5']);
    expect(first.code, first.stderr).toBe(0);
    const lines = first.stdout.split('\n');
    expect(lines[0]).toBe(`This run: 5 steps of 4 images = 20 training images (0.50 epochs of 40); the time it takes is estimated after its first steps`);
    expect(first.stdout).toMatch(/^Preset: quick: /m);
    expect(first.stdout).not.toMatch(/software rasteriser/);
    expect(first.stdout).toMatch(/^Estimated time: \S+ in all, at \d+\.\d img\/s \(measured on steps 2–4;/m);
    const record = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { config: Record<string, unknown> };
    expect(record.config).toMatchObject({
      width: Number(quick.width),
      epochs: Number(quick.epochs),
      lr: Number(quick.lr),
      warmupSteps: Number(quick.warmupSteps),
      batchSize: 4,
      trainLimit: 40,
      testLimit: 12,
    });

    // Resumed without the preset (or any setting): the run's settings, the preset's included.
    const resumed = await runIncept(['train', '--resume', '--data', data, '--out', out, '--max-steps', '6']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout.split('\n')[0]).toBe(
      'This run: 1 step of 4 images = 4 training images (0.10 epochs of 40); the time it takes is estimated after its first steps',
    );
    expect(resumed.stdout).toMatch(new RegExp(`^Model: Inception-v3, CIFAR-10 variant, width ${quick.width},`, 'm'));
    expect(resumed.stdout).toMatch(/^Resuming at step 5 /m);
    // A preset that contradicts the run is refused before anything runs.
    const contradicts = await runIncept(['train', '--resume', '--data', data, '--out', out, '--preset', 'quick', '--max-steps', '7']);
    expect(contradicts.code).not.toBe(0);
    expect(contradicts.stderr).toMatch(/--preset quick \(sets --batch-size \d+; the run has 4\)/);
  });

  it('without any run-defining flag on a software adapter, points at --preset quick', async () => {
    const data = join(root, 'cifar-65');
    writeTinyCifar(data, 13); // 65 training images: one default batch of 64
    const plain = await runIncept(['train', '--data', data, '--out', join(root, 'plain'), '--max-steps', '1']);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout.split('\n')[0]).toMatch(/^This run: 1 step of 64 images = 64 training images/);
    const adapter = /^Adapter: (.*)$/m.exec(plain.stdout)![1]!;
    const hint = /^This adapter is a software rasteriser \(no GPU\): .*incept train --preset quick learns visibly in about five minutes$/m;
    // The same test on a GPU: no hint there.
    if (/llvmpipe|lavapipe|swiftshader|software/i.test(adapter)) expect(plain.stdout).toMatch(hint);
    else expect(plain.stdout).not.toMatch(hint);
  });
});
