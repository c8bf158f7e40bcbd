/** The `incept` command as a user runs it (a child process on the built bundle). */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { inceptionV3Spec, totals } from '../src/models/inception-v3-spec.js';
import { HANG_GUARD_MS } from './support/hang-guard.js';

const run = promisify(execFile);
const incept = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, ['bin/incept.js', ...args], { env: { ...process.env, ...env }, timeout: HANG_GUARD_MS, maxBuffer: 16 << 20 });

describe('incept device', () => {
  it('--json prints adapter, features, limits and a measured peakGflops', async () => {
    const { stdout, stderr } = await incept(['device', '--json', '--quick']);
    const report = JSON.parse(stdout);
    expect(report.adapter.description.length).toBeGreaterThan(0);
    expect(report.features).toEqual(expect.arrayContaining(['timestamp-query']));
    expect(report.limits.maxComputeWorkgroupStorageSize).toBeGreaterThanOrEqual(16384);
    expect(report.peakGflops).toBeGreaterThan(0);
    expect(report.peak.variants.length).toBeGreaterThanOrEqual(2);
    expect(report.driver.reason.length).toBeGreaterThan(0);
    expect(stderr).toMatch(/measuring matmul peak/); // progress goes to stderr, JSON stays clean
  });

  it('prints a readable report; INCEPT_DRIVER pins the driver', async () => {
    const { stdout } = await incept(['device', '--no-peak'], { INCEPT_DRIVER: 'swiftshader' });
    expect(stdout).toMatch(/^Adapter\s+SwiftShader/m);
    expect(stdout).toMatch(/^Driver\s+swiftshader: driver=swiftshader requested/m);
    expect(stdout).toMatch(/maxComputeWorkgroupStorageSize\s+\d+/);
    expect(stdout).toMatch(/Matmul peak\s+not measured/);
  });

  it('no adapter at all: exits 1 with the cause and the fix', async () => {
    const err = await incept(['device', '--no-peak', '--driver', 'system'], { VK_ICD_FILENAMES: '/nonexistent/icd.json' }).catch((e: unknown) => e);
    const { code, stderr } = err as { code: number; stderr: string };
    expect(code).toBe(1);
    expect(stderr).toMatch(/incept: Dawn found no adapter/);
    expect(stderr).toMatch(/npm run setup/);
  });

  it('rejects an unknown driver name', async () => {
    const err = await incept(['device', '--driver', 'gpu9000']).catch((e: unknown) => e);
    expect((err as { stderr: string }).stderr).toMatch(/Allowed choices are auto, hardware, lavapipe, swiftshader, system/);
  });
});

describe('incept bench factorization', () => {
  it('--quick on one pair: table on stdout, the JSON contract, an HTML report, errors checked', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'incept-bench-'));
    try {
      const json = join(dir, 'r.json');
      const html = join(dir, 'r.html');
      // A budget no run reaches (tuning stops when every problem is measured): the tuner runs to
      // completion however loaded the machine is; tuner-budget.test.ts checks the bound itself.
      const { stdout, stderr } = await incept(
        ['bench', 'factorization', '--quick', '--filter', 'Mixed_7b', '--repeats', '2', '--tuning-budget', '600', '--json', json, '--html', html],
        { INCEPT_TUNING_FILE: join(dir, 'tuning.json') },
      );
      expect(stderr).toMatch(/factorization benchmark \(quick\)/);
      expect(stdout).toMatch(/Mixed_7b 3×3 \(384→384\)/);
      expect(stdout).toContain(`HTML report: ${html}`);
      const r = JSON.parse(readFileSync(json, 'utf8'));
      expect(r.adapter.length).toBeGreaterThan(0);
      expect(r.peakGflops).toBeGreaterThan(0);
      expect(r.rows).toHaveLength(1);
      const row = r.rows[0];
      expect(row.batch).toBe(1);
      expect(row.predictedRatio).toBeCloseTo(6 / 9, 6);
      expect(row.paperRatio).toBeCloseTo(6 / 9, 6);
      expect(row.targetRatio).toBeCloseTo(1 - 0.8 * (1 - 6 / 9), 6);
      expect(stdout).toMatch(/\bpaper\b.*\bpredicted\b.*\bmeasured\b.*\btarget\b/);
      expect(r.tuning.budgetMs).toBe(600_000);
      expect(r.tuning.problems).toBeGreaterThanOrEqual(1);
      expect(row.measuredRatio).toBeCloseTo(row.factorized.ms / row.full.ms, 6);
      for (const side of [row.full, row.factorized]) {
        for (const k of ['macs', 'params', 'ms', 'gflops']) expect(side[k]).toBeGreaterThan(0);
        expect(side.variant.length).toBeGreaterThan(0);
        expect(side.maxRelErr).toBeLessThanOrEqual(1e-4);
        expect(side.runs).toBe(2);
      }
      expect(row.full.macs).toBe(8 * 8 * 9 * 384 * 384);
      expect(row.factorized.variant).toContain(' + ');
      expect(row.fused.maxRelErr).toBeLessThanOrEqual(1e-4);
      expect(readFileSync(html, 'utf8')).toMatch(/<canvas/);
      expect(existsSync(join(dir, 'tuning.json'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bad arguments exit 1 with what was wrong', async () => {
    const bad = async (args: string[]) => (await incept(['bench', 'factorization', ...args]).catch((e: unknown) => e)) as { code: number; stderr: string };
    const zero = await bad(['--batches', '0,8']);
    expect(zero.code).toBe(1);
    expect(zero.stderr).toMatch(/--batches needs positive integers separated by commas, got '0,8'/);
    const none = await bad(['--filter', 'no such conv', '--no-tune']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/--filter 'no such conv' matches no pair; pairs: Mixed_5b 5×5/);
  });
});

describe('incept summary', () => {
  it('--json gives the totals and per-layer shapes; --no-aux and --input change them', async () => {
    const full = JSON.parse((await incept(['summary', '--json'])).stdout);
    expect(full.totalParams).toBe(27_161_264);
    expect(full.totalMacs).toBe(5_713_216_096);
    expect(full.layers.find((l: { name: string }) => l.name === 'Mixed_7c').outputShape).toEqual([1, 2048, 8, 8]);
    const small = JSON.parse((await incept(['summary', '--json', '--no-aux', '--input', '75'])).stdout);
    expect(small.totalParams).toBe(23_834_568);
    expect(small.input).toEqual([1, 3, 75, 75]);
    const { stdout } = await incept(['summary', '--no-aux']);
    expect(stdout).toMatch(/total parameters: 23,834,568/);
  });

  it('rejects an input below 75 with a clear error', async () => {
    const err = (await incept(['summary', '--no-aux', '--input', '74']).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/incept: --input needs an integer of at least 75 \(smaller images vanish in Inception-v3's stride-2 layers\), got '74'/);
  });

  it("--cifar10: 32×32 input, 10 classes, the spec's totals; --width scales it and says so", async () => {
    const j = JSON.parse((await incept(['summary', '--cifar10', '--json'])).stdout);
    const t = totals(inceptionV3Spec({ variant: 'cifar10' }));
    expect([j.model, j.variant, j.width, j.input, j.numClasses, j.auxLogits]).toEqual(['inception_v3', 'cifar10', 1, [1, 3, 32, 32], 10, true]);
    expect([j.totalParams, j.totalMacs, j.auxMacs]).toEqual([t.params, t.macs, t.auxMacs]);
    expect(j.totalParams).toBe(22_307_060);
    expect(j.layers.find((l: { name: string }) => l.name === 'Mixed_7c').outputShape).toEqual([1, 2048, 4, 4]);
    const { stdout } = await incept(['summary', '--cifar10', '--width', '0.25', '--no-aux']);
    expect(stdout).toMatch(/^Inception-v3, CIFAR-10 variant, width 0\.25, input \[1, 3, 32, 32\], 10 classes, aux head off/);
    expect(stdout).toMatch(/total parameters: 1,373,346/);
  });

  it('rejects --width 0 and --cifar10 with an ImageNet stem option, naming the flags', async () => {
    const bad = async (args: string[]) => (await incept(['summary', ...args]).catch((e: unknown) => e)) as { code: number; stderr: string };
    const zero = await bad(['--width', '0']);
    expect(zero.code).toBe(1);
    expect(zero.stderr).toMatch(/incept: --width needs a number greater than 0.*got '0'/);
    expect((await bad(['--cifar10', '--width', 'wide'])).stderr).toMatch(/--width needs a number greater than 0.*got 'wide'/);
    const stem = await bad(['--cifar10', '--stem', '7x7']);
    expect(stem.code).toBe(1);
    expect(stem.stderr).toMatch(/incept: --stem cannot go with --cifar10/);
  });
});

describe('incept train', () => {
  /** A CIFAR-10 folder of the real format with `perFile` records per file (CI has no real files). */
  function writeTinyCifar(dir: string, perFile: number): void {
    mkdirSync(dir, { recursive: true });
    let g = 0;
    for (const name of ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin']) {
      const bytes = new Uint8Array(perFile * 3073);
      for (let r = 0; r < perFile; r++, g++) {
        bytes[r * 3073] = g % 10;
        for (let k = 1; k < 3073; k++) bytes[r * 3073 + k] = (g * 37 + k * 11) & 255;
      }
      writeFileSync(join(dir, name), bytes);
    }
  }

  it('trains, stops at --max-steps with a checkpoint, resumes to the end, and writes metrics and the report', async () => {
    const root = mkdtempSync(join(tmpdir(), 'incept-cli-train-'));
    try {
      const data = join(root, 'cifar');
      const out = join(root, 'run');
      writeTinyCifar(data, 8);
      const common = ['train', '--data', data, '--out', out, '--width', '0.125', '--batch-size', '8', '--epochs', '1', '--warmup', '1'];
      const first = await incept([...common, '--max-steps', '2']);
      expect(first.stdout).toMatch(/Batches: 8 images, 5 steps per epoch, 1 epochs/);
      expect(first.stdout).toMatch(/--max-steps 2 reached at step 2 \(epoch 0\.40\)/);
      expect(first.stdout).toContain(`continue with: incept train --resume --out ${out}`);
      expect(existsSync(join(out, 'checkpoints', 'latest.json'))).toBe(true);
      const second = await incept([...common, '--resume']);
      expect(second.stdout).toMatch(/Resuming at step 2 \(epoch 0\.40\)/);
      expect(second.stdout).toMatch(/epoch 1\.00: test top-1 \d+\.\d+%, test loss \d/);
      expect(second.stdout).toMatch(/all 1 epochs done at step 5/);
      const records = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { kind: string; step: number; epoch: number; loss?: number; testAcc?: number });
      expect(records.filter((r) => r.kind === 'step').map((r) => r.step)).toEqual([]); // logged every 10 steps: none in 5
      expect(records.filter((r) => r.kind === 'eval')).toHaveLength(1);
      expect(records[0]).toMatchObject({ kind: 'eval', step: 5, epoch: 1 });
      expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain('Best test accuracy');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('Ctrl-C finishes the step in flight, writes a checkpoint and says how to resume', async () => {
    const root = mkdtempSync(join(tmpdir(), 'incept-cli-sigint-'));
    try {
      const data = join(root, 'cifar');
      const out = join(root, 'run');
      writeTinyCifar(data, 8);
      const child = spawn(
        process.execPath,
        ['bin/incept.js', 'train', '--data', data, '--out', out, '--width', '0.125', '--batch-size', '8', '--epochs', '50'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      const code = await new Promise<number | null>((resolvePromise, reject) => {
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          // The first step's line (printed without a terminal): interrupt the run mid-way.
          if (/step 1\/250/.test(stderr) && !child.killed) child.kill('SIGINT');
        });
        child.on('error', reject);
        child.on('exit', resolvePromise);
        setTimeout(() => reject(new Error(`no exit in time; stderr: ${stderr}`)), 240_000);
      });
      expect(code, stderr).toBe(0);
      expect(stderr).toMatch(/Ctrl-C: finishing the step in flight/);
      expect(stdout).toMatch(/stopped by Ctrl-C at step \d+/);
      expect(existsSync(join(out, 'checkpoints', 'latest.json'))).toBe(true);
      expect(stdout).toContain('continue with: incept train --resume');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('names a bad flag value or a missing data folder', async () => {
    const bad = (await incept(['train', '--optimizer', 'adam']).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--optimizer must be one of sgd, rmsprop, got 'adam'/);
    const lr = (await incept(['train', '--lr', '-1']).catch((e: unknown) => e)) as { stderr: string };
    expect(lr.stderr).toMatch(/--lr needs a learning rate > 0, got '-1'/);
    const missing = (await incept(['train', '--data', '/nonexistent/cifar']).catch((e: unknown) => e)) as { stderr: string };
    expect(missing.stderr).toMatch(/\/nonexistent\/cifar/);
    const input = (await incept(['bench', 'model', '--input', '50']).catch((e: unknown) => e)) as { stderr: string };
    expect(input.stderr).toMatch(/--input needs an integer of at least 75/);
  });
});
