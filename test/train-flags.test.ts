/**
 * `incept train` checks its flags before it builds anything: each bad value is named with its
 * flag, the value and the allowed range, and the ranges that depend on the adapter (how wide a
 * network, how large a batch fits its buffer limits) come from the adapter's limits.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { trainConfigFrom, trainRunOptionsFrom } from '../src/cli/train.js';
import { checkTrainingBuffers } from '../src/train/buffer-limits.js';
import { inceptionV3Spec } from '../src/models/inception-v3-spec.js';
import { runIncept, writeTinyCifar } from './support/train-cli.js';

/** The largest conv weight tensor (bytes) and the largest per-image activation (bytes) of the
 * CIFAR-10 network at a width, worked out here from the layer table, independently of the code. */
function sizesFromSpec(width: number): { weightBytes: number; activationBytes: number } {
  const layers = inceptionV3Spec({ variant: 'cifar10', width });
  const channels = new Map<string, number>([['input', 3]]);
  let weightBytes = 0;
  let activationBytes = 0;
  for (const l of layers) {
    channels.set(l.name, l.outputShape[0]);
    activationBytes = Math.max(activationBytes, 4 * l.outputShape[0] * l.outputShape[1] * l.outputShape[2]);
    if (l.kind === 'conv') {
      const cin = l.inputs.reduce((s, name) => s + channels.get(name)!, 0);
      weightBytes = Math.max(weightBytes, 4 * l.kernel![0] * l.kernel![1] * cin * l.outputShape[0]);
    }
  }
  return { weightBytes, activationBytes };
}

describe('incept train flags', () => {
  const bad: [Record<string, string>, RegExp][] = [
    [{ width: '0' }, /--width needs a width multiplier > 0, got '0'/],
    [{ width: 'wide' }, /--width needs a width multiplier > 0, got 'wide'/],
    [{ epochs: '0' }, /--epochs needs an integer from 1 to \d+, got '0'/],
    [{ epochs: '1e30' }, /--epochs needs an integer from 1 to \d+, got '1e30'/],
    [{ batchSize: '2.5' }, /--batch-size needs an integer from 1 to \d+, got '2\.5'/],
    [{ lr: 'Infinity' }, /--lr needs a learning rate > 0, got 'Infinity'/],
    [{ momentum: '1' }, /--momentum needs a number in \[0, 1\), got '1'/],
    [{ warmup: '-1' }, /--warmup needs an integer from 0 to \d+, got '-1'/],
    [{ seed: '4294967296' }, /--seed needs an integer from 0 to 4294967295, got '4294967296'/],
    [{ seed: '-1' }, /--seed needs an integer from 0 to 4294967295, got '-1'/],
    [{ ema: '1' }, /--ema needs a decay in \[0, 1\) \(0: off\), got '1'/],
    [{ trainLimit: '0' }, /--train-limit needs an integer from 1 to \d+, got '0'/],
    [{ testLimit: '1.5' }, /--test-limit needs an integer from 1 to \d+, got '1\.5'/],
    [{ labelSmoothing: '1' }, /--label-smoothing needs a number in \[0, 1\), got '1'/],
    [{ clip: '-2' }, /--clip needs a threshold ≥ 0 \(0: no clipping\), got '-2'/],
  ];
  for (const [opts, message] of bad) {
    it(`refuses ${JSON.stringify(opts)}`, () => expect(() => trainConfigFrom(opts)).toThrow(message));
  }

  it('checks the flags that steer one invocation: --minutes, --max-steps, --checkpoint-every, --log-every, --overwrite with --resume', () => {
    expect(() => trainRunOptionsFrom({ minutes: '0' })).toThrow(/--minutes needs a number of minutes > 0, got '0'/);
    expect(() => trainRunOptionsFrom({ maxSteps: '-3' })).toThrow(/--max-steps needs an integer from 1 to \d+, got '-3'/);
    expect(() => trainRunOptionsFrom({ checkpointEvery: '-1' })).toThrow(/--checkpoint-every needs a number of minutes ≥ 0 \(0: after every step\), got '-1'/);
    expect(() => trainRunOptionsFrom({ logEvery: '0' })).toThrow(/--log-every needs an integer from 1 to \d+, got '0'/);
    expect(() => trainRunOptionsFrom({ resume: true, overwrite: true })).toThrow(/--overwrite deletes the run that --resume continues/);
    expect(trainRunOptionsFrom({})).toMatchObject({ checkpointEverySeconds: 600, logEvery: 10 });
    expect(trainRunOptionsFrom({ checkpointEvery: '0.5', logEvery: '1' })).toMatchObject({ checkpointEverySeconds: 30, logEvery: 1 });
  });

  it('derives the allowed width and batch size from the adapter’s buffer limits', () => {
    const limits = { maxStorageBufferBindingSize: 128 << 20, maxBufferSize: 2 ** 32 - 1 };
    // Width 5: the biggest conv weight does not fit one binding; the error says how wide fits.
    const tooWide = checkTrainingBuffers(limits, { width: 5, batchSize: 8 });
    expect(tooWide?.flag).toBe('--width');
    expect(tooWide?.message).toMatch(
      /^--width 5: .*maxStorageBufferBindingSize \(134217728 bytes\).*the allowed range is 0 < --width ≤ \d+\.\d+ at --batch-size 8/,
    );
    const widest = Number(/--width ≤ (\d+\.\d+)/.exec(tooWide!.message)![1]);
    expect(sizesFromSpec(widest).weightBytes).toBeLessThanOrEqual(limits.maxStorageBufferBindingSize);
    expect(sizesFromSpec(widest + 0.01).weightBytes).toBeGreaterThan(limits.maxStorageBufferBindingSize);
    expect(checkTrainingBuffers(limits, { width: widest, batchSize: 8 })).toBeUndefined();

    // A batch whose activations do not fit: the range of batch sizes at this width.
    const perImage = sizesFromSpec(0.25).activationBytes;
    const most = Math.floor(limits.maxStorageBufferBindingSize / perImage);
    expect(checkTrainingBuffers(limits, { width: 0.25, batchSize: most })).toBeUndefined();
    const tooBig = checkTrainingBuffers(limits, { width: 0.25, batchSize: most + 1 });
    expect(tooBig?.flag).toBe('--batch-size');
    expect(tooBig?.message).toContain(`the allowed range is 1 ≤ --batch-size ≤ ${most} at --width 0.25`);
    // The smaller of the two limits counts.
    expect(checkTrainingBuffers({ maxStorageBufferBindingSize: 2 ** 31, maxBufferSize: perImage * 10 }, { width: 0.25, batchSize: 11 })?.message).toMatch(
      /maxBufferSize/,
    );
  });
});

describe('incept train refuses bad flags before building the model', () => {
  const root = mkdtempSync(join(tmpdir(), 'incept-train-flags-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const data = join(root, 'cifar');
  writeTinyCifar(data, 8); // 40 training and 8 test images

  it('a network too wide for the adapter: the flag, its value and the range that fits, nothing trained', async () => {
    const device = JSON.parse(
      execFileSync(process.execPath, ['bin/incept.js', 'device', '--json', '--no-peak'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
    ) as { limits: Record<string, number> };
    const limit = Math.min(device.limits.maxStorageBufferBindingSize!, device.limits.maxBufferSize!);
    let width = 5;
    while (sizesFromSpec(width).weightBytes <= limit) width *= 2;
    const out = join(root, 'wide');
    const r = await runIncept([
      'train',
      '--data',
      data,
      '--out',
      out,
      '--width',
      String(width),
      '--batch-size',
      '8',
      '--train-limit',
      '16',
      '--test-limit',
      '8',
      '--max-steps',
      '1',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`incept: --width ${width}: .*the allowed range is 0 < --width ≤ \\d+\\.\\d+ at --batch-size 8`));
    expect(r.stdout).not.toMatch(/^Model:/m);
    expect(existsSync(out)).toBe(false); // refused before the run folder got anything, so none is left
  });

  it('a data limit beyond the data: the flag and what the folder holds', async () => {
    const r = await runIncept([
      'train',
      '--data',
      data,
      '--out',
      join(root, 'limit'),
      '--width',
      '0.125',
      '--batch-size',
      '8',
      '--train-limit',
      '100',
      '--test-limit',
      '8',
      '--max-steps',
      '1',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--train-limit 100: .*40 training images/);
    const batch = await runIncept([
      'train',
      '--data',
      data,
      '--out',
      join(root, 'batch'),
      '--width',
      '0.125',
      '--batch-size',
      '64',
      '--test-limit',
      '8',
      '--max-steps',
      '1',
    ]);
    expect(batch.code).toBe(1);
    expect(batch.stderr).toMatch(/--batch-size 64: .*40 training images/);
  });
});
