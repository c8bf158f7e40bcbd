/**
 * Flags of `incept bench *`, `serve`, `summary`, `export`, `profile` and `device` are checked
 * before the engine starts: a bad value exits 1 with the flag, the value and the allowed range.
 *
 * "Before the engine starts" is tested without timing anything: these runs get an environment
 * in which no adapter can be found (INCEPT_DRIVER=system with a Vulkan manifest that does not
 * exist), so a command that started the engine before checking its flags would fail with
 * "Dawn found no adapter" instead of naming the flag.
 *
 * Ranges that depend on the adapter (how many images fit one storage buffer binding, how wide or
 * large the network may be) are checked against the real adapter's limits, read from
 * `incept device --json`, and the spec's shapes.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HANG_GUARD_MS } from './support/hang-guard.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inceptionV3Spec } from '../src/models/inception-v3-spec.js';

const run = promisify(execFile);
const NO_ADAPTER = { INCEPT_DRIVER: 'system', VK_ICD_FILENAMES: '/nonexistent/icd.json' };

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function incept(args: string[], env: Record<string, string> = NO_ADAPTER, timeout = HANG_GUARD_MS): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['bin/incept.js', ...args], { env: { ...process.env, ...env }, timeout, maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const { code, stdout, stderr } = e as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr };
  }
}

/** Exits 1 with this message, without having looked for an adapter. */
async function refused(args: string[], message: RegExp): Promise<void> {
  const r = await incept(args);
  expect(r.stderr, args.join(' ')).toMatch(message);
  expect(r.stderr, `${args.join(' ')}: the engine was started before the flags were checked`).not.toMatch(/no adapter/i);
  expect(r.code, args.join(' ')).toBe(1);
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'incept-flags-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('flags are checked before the engine starts', () => {
  it('bench factorization', async () => {
    await refused(['bench', 'factorization', '--batches', '0,8'], /incept: --batches needs positive integers separated by commas, got '0,8'/);
    await refused(['bench', 'factorization', '--repeats', '0'], /incept: --repeats needs an integer from 1 to 1000, got '0'/);
    await refused(['bench', 'factorization', '--repeats', '2,3'], /incept: --repeats needs an integer from 1 to 1000, got '2,3'/);
    await refused(['bench', 'factorization', '--tuning-budget', '1e400'], /incept: --tuning-budget needs a number of seconds from 0 to 86400, got '1e400'/);
    await refused(['bench', 'factorization', '--filter', 'no such conv'], /incept: --filter 'no such conv' matches no pair; pairs: Mixed_5b 5×5/);
    await refused(['bench', 'factorization', '--json', dir], /incept: --json .* is a directory; give the path of a file to write/);
  });

  it('bench convs', async () => {
    await refused(['bench', 'convs', '--batch', '1,2'], /incept: --batch needs one integer of at least 1, got '1,2'/);
    await refused(['bench', 'convs', '--batch', '0'], /incept: --batch needs one integer of at least 1, got '0'/);
    await refused(['bench', 'convs', '--repeats', 'many'], /incept: --repeats needs an integer from 1 to 1000, got 'many'/);
    await refused(['bench', 'convs', '--tuning-budget', '-1'], /incept: --tuning-budget needs a number of seconds from 0 to 86400, got '-1'/);
    await refused(['bench', 'convs', '--filter', '9×9'], /incept: --filter '9×9' matches no Inception-v3 conv shape or layer/);
  });

  it('bench ops and bench train-step', async () => {
    await refused(['bench', 'ops', '--batch', 'x'], /incept: --batch needs one integer of at least 1, got 'x'/);
    await refused(['bench', 'ops', '--repeats', '1001'], /incept: --repeats needs an integer from 1 to 1000, got '1001'/);
    await refused(['bench', 'ops', '--filter', 'fft'], /incept: --filter 'fft' matches no op; ops: maxPool2d 3×3\/2 147²×64/);
    await refused(['bench', 'train-step', '--batch', '-2'], /incept: --batch needs one integer of at least 1, got '-2'/);
    await refused(['bench', 'train-step', '--module', 'Mixed_9z'], /incept: --module 'Mixed_9z' matches no module; modules: Mixed_5b .*, Mixed_6b/);
  });

  it('bench model', async () => {
    await refused(['bench', 'model', '--train-batch', '-1'], /incept: --train-batch needs an integer of at least 0, got '-1'/);
    await refused(['bench', 'model', '--width', '0'], /incept: --width needs a number greater than 0 \(the channel multiplier, e\.g\. 0\.25\), got '0'/);
    await refused(['bench', 'model', '--input', '50'], /incept: --input needs an integer of at least 75 .*got '50'/);
    await refused(['bench', 'model', '--repeats', '0'], /incept: --repeats needs an integer from 1 to 1000, got '0'/);
    await refused(['bench', 'model', '--html', dir], /incept: --html .* is a directory/);
  });

  it('profile', async () => {
    await refused(['profile', '--warmup', '-1'], /incept: --warmup needs a number of runs ≥ 0 and at most 100, got '-1'/);
    await refused(['profile', '--warmup', '1000'], /incept: --warmup needs a number of runs ≥ 0 and at most 100, got '1000'/);
    await refused(['profile', '--cifar10', '--input', '4'], /incept: --input must be at least 8 .*got 4/);
    await refused(['profile', '--peak', 'Infinity'], /incept: --peak needs a matmul peak in GFLOP\/s > 0, got 'Infinity'/);
    await refused(['profile', '--json', dir], /incept: --json .* is a directory/);
  });

  it('export', async () => {
    const out = join(dir, 'm.onnx');
    await refused(['export', '--out', out, '--classes', 'abc'], /incept: --classes needs an integer of at least 1, got 'abc'/);
    await refused(['export', '--out', out, '--input', '50'], /incept: --input needs an integer of at least 75 .*got '50'/);
    await refused(['export', '--out', out, '--cifar10', '--input', '7'], /incept: --input needs an integer of at least 8 .*got '7'/);
    await refused(['export', '--out', out, '--opset', '99'], /incept: --opset needs an integer from 7 to 21, got '99'/);
    await refused(['export', '--out', out, '--seed', '1.5'], /incept: --seed needs an integer from 0 to 4294967295, got '1.5'/);
    await refused(['export', '--out', out, '--width', '-1'], /incept: --width needs a number greater than 0/);
    await refused(['export', '--out', dir], /incept: --out .* is a directory/);
  });

  it('summary names the flag, not only the model option', async () => {
    await refused(['summary', '--classes', '0'], /incept: --classes needs an integer of at least 1, got '0'/);
    await refused(['summary', '--classes', '2.5'], /incept: --classes needs an integer of at least 1, got '2.5'/);
    await refused(['summary', '--no-aux', '--input', '74'], /incept: --input needs an integer of at least 75 .*got '74'/);
    await refused(['summary', '--input', '100'], /incept: --input needs an integer of at least 299 with the aux head .*--no-aux.*got '100'/);
    await refused(['summary', '--width', '1e300'], /incept: --width 1e300 makes the counts too large to be exact/);
  });

  it('serve', async () => {
    await refused(['serve', '--port', '99999'], /incept: --port needs a port number 0–65535 \(0: any free port\), got '99999'/);
    await refused(['serve', '--host', ''], /incept: --host needs an address to listen on \(an IP address or a host name\), got ''/);
    await refused(['serve', '--host', 'not a host!'], /incept: --host needs an address to listen on .*got 'not a host!'/);
  });

  it('device', async () => {
    await refused(['device', '--driver', 'gpu9000'], /Allowed choices are auto, hardware, lavapipe, swiftshader, system/);
    await refused(['device', '--quick', '--no-peak'], /incept: --quick shortens the matmul peak measurement, which --no-peak skips; give one of them/);
  });
});

describe('ranges that depend on the adapter come from its limits', () => {
  let limit = 0;
  beforeAll(async () => {
    const r = await incept(['device', '--json', '--no-peak'], {});
    const limits = JSON.parse(r.stdout).limits as Record<string, number>;
    limit = Math.min(limits.maxStorageBufferBindingSize!, limits.maxBufferSize!);
  });

  /** Bytes of the largest activation (or input) of one image. */
  const largestImageBytes = (options: Parameters<typeof inceptionV3Spec>[0]) =>
    4 * Math.max(3 * (options?.inputSize ?? 299) ** 2, ...inceptionV3Spec(options).map((l) => l.outputShape.reduce((a, b) => a * b, 1)));

  it('profile --batch: at most as many images as the largest activation lets fit one storage binding', async () => {
    const r = await incept(['profile', '--batch', '100000'], {});
    expect(r.code).toBe(1);
    const most = Math.floor(limit / largestImageBytes({}));
    expect(r.stderr).toMatch(new RegExp(`incept: --batch 100000 does not fit this adapter \\(.+\\): allowed 1 to ${most}; `));
    expect(r.stderr).toMatch(/maxStorageBufferBindingSize|maxBufferSize/);
    expect(r.stderr).not.toMatch(/profiling Inception-v3/); // stopped before any work
  });

  it('bench model --batches and --input: the largest value that fits is stated, and it does fit', async () => {
    const batches = await incept(['bench', 'model', '--batches', '1,100000'], {});
    expect(batches.code).toBe(1);
    expect(batches.stderr).toMatch(
      new RegExp(`--batches 100000 does not fit this adapter \\(.+\\): allowed 1 to ${Math.floor(limit / largestImageBytes({}))};`),
    );
    const input = await incept(['bench', 'model', '--input', '20000', '--batches', '1', '--train-batch', '0'], {});
    expect(input.code).toBe(1);
    const m = /--input 20000 does not fit this adapter \(.+\): allowed 75 to (\d+)/.exec(input.stderr);
    expect(m, input.stderr).not.toBeNull();
    const most = Number(m![1]);
    expect(largestImageBytes({ inputSize: most, auxLogits: false })).toBeLessThanOrEqual(limit);
    expect(largestImageBytes({ inputSize: most + 1, auxLogits: false })).toBeGreaterThan(limit);
  });

  it('export --classes: the classifier weight must fit one binding', async () => {
    const r = await incept(['export', '--out', join(dir, 'x.onnx'), '--classes', '1000000000'], {});
    expect(r.code).toBe(1);
    const most = Math.floor(limit / (4 * 2048));
    expect(r.stderr).toMatch(new RegExp(`--classes 1000000000 does not fit this adapter \\(.+\\): allowed 1 to ${most}; .*fc`));
  });

  it('a value inside the range passes the check (summary needs no adapter at all)', async () => {
    writeFileSync(join(dir, 'placeholder'), '');
    const r = await incept(['summary', '--json', '--classes', '7'], NO_ADAPTER);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).numClasses).toBe(7);
  });
});
