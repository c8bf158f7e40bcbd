/**
 * `incept infer` as a user runs it (a child process on the built bundle): the human report and
 * `--json` on sample images with random-weight torchvision-format files, agreement with the
 * library's loadClassifier on the same file, and the exit code and message of each way a run
 * can go wrong. Needs `npm run build` (npm test's pretest does it).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { InceptionV3 } from '../src/models/inception-v3.js';
import { torchvisionStateDict } from '../src/models/inception-v3-weights.js';
import { encodeSafetensors } from '../src/io/safetensors.js';
import { readImageFile } from '../src/io/image.js';
import { loadClassifier } from '../src/api/classifier.js';
import { exportInceptionV3Onnx } from '../src/io/onnx/index.js';
import type { InferReport } from '../src/cli/infer.js';
import { testEngine } from './support/engine.js';
import { freshSeed } from './support/random.js';

const run = promisify(execFile);
const incept = (args: string[]) => run(process.execPath, ['bin/incept.js', ...args], { timeout: 300_000, maxBuffer: 16 << 20 });
/** A failed run's exit code and output (the test fails if the run succeeds). */
const failure = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
  const outcome = await incept(args).then(
    () => undefined,
    (e: unknown) => e as { code: number; stdout: string; stderr: string },
  );
  if (!outcome) throw new Error(`incept ${args.join(' ')} succeeded; it should have failed`);
  return outcome;
};

const SAMPLES = new URL('../../shared/data/imagenet-sample/', import.meta.url).pathname;
const TABBY = join(SAMPLES, 'n02123045_tabby.JPEG');
const ORANGE = join(SAMPLES, 'n07747607_orange.JPEG');
const LABELS: string[] = JSON.parse(readFileSync(join(SAMPLES, 'imagenet-simple-labels.json'), 'utf8'));

const seed = freshSeed();
const replay = `(seed ${seed}; replay with TEST_SEED=${seed})`;
const dir = mkdtempSync(join(tmpdir(), 'incept-infer-'));
const FULL = join(dir, 'inception_v3.safetensors');
const SMALL = join(dir, 'cifar.safetensors');
const ONNX = join(dir, 'cifar.onnx');

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
  const full = new InceptionV3(engine, { seed });
  writeFileSync(FULL, encodeSafetensors(await torchvisionStateDict(full)));
  full.dispose();
  const small = new InceptionV3(engine, { seed: seed + 1, variant: 'cifar10', width: 0.25 });
  await small.calibrate(engine.randomNormal([4, 32, 32, 3], { seed: seed + 2 }));
  writeFileSync(SMALL, encodeSafetensors(await torchvisionStateDict(small)));
  writeFileSync(ONNX, await exportInceptionV3Onnx(small));
  small.dispose();
}, 180_000);
afterAll(() => {
  engine?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe(`incept infer ${replay}`, () => {
  it('prints the top 5 with ImageNet labels per image and the time of each stage (299×299 network)', async () => {
    const { stdout, stderr } = await incept(['infer', TABBY, ORANGE, '--weights', FULL]);
    expect(stdout).toMatch(/^Model {4}Inception-v3, torchvision layout \(torchvision format, .*inception_v3\.safetensors\)$/m);
    expect(stdout).toMatch(/1000 classes, 299×299×3 input, 23\.\d\dM parameters, preprocessing 'torchvision'/);
    expect(stdout).toMatch(/^Labels {3}.*imagenet-simple-labels\.json$/m);
    for (const name of ['n02123045_tabby.JPEG', 'n07747607_orange.JPEG']) expect(stdout).toMatch(new RegExp(`^${name.replace('.', '\\.')} \\(\\d+×\\d+\\)$`, 'm'));
    const rows = [...stdout.matchAll(/^ {2} ?(\d)\. (.+?) +(\d+\.\d\d)% {2}\(class (\d+)\)$/gm)];
    expect(rows).toHaveLength(10);
    for (const [, , label, , index] of rows) expect(label!.trim()).toBe(LABELS[Number(index)]);
    expect(stdout).toMatch(/^Time {5}load \d.*, decode .*, preprocess .*, forward .*; 2 images in batches of up to 8/m);
    expect(stderr).toMatch(/infer…/); // progress goes to stderr
  }, 300_000);

  it('--json: one document; the same probabilities as loadClassifier on the same file; no labels for a 10-class model', async () => {
    const { stdout } = await incept(['infer', TABBY, '--weights', SMALL, '--json', '--topk', '10', '--batch', '1']);
    const report = JSON.parse(stdout) as InferReport;
    expect(report.model).toMatchObject({ format: 'torchvision', classes: 10, inputShape: [32, 32, 3], preset: 'torchvision', outputIsProbabilities: false });
    expect(report.labels).toBeNull();
    expect(report.adapter.length).toBeGreaterThan(0);
    expect(report.images).toHaveLength(1);
    const top = report.images[0]!.top;
    expect(top).toHaveLength(10);
    expect(top.map((t) => t.label)).toEqual(top.map((t) => `class ${t.index}`));
    expect(top.reduce((s, t) => s + t.probability, 0)).toBeCloseTo(1, 5);
    for (let i = 1; i < top.length; i++) expect(top[i]!.probability).toBeLessThanOrEqual(top[i - 1]!.probability);
    for (const k of ['loadMs', 'decodeMs', 'preprocessMs', 'forwardMs', 'totalMs'] as const) expect(report.timing[k]).toBeGreaterThan(0);

    const c = await loadClassifier(engine, { weights: SMALL });
    try {
      const mine = await c.classify(await readImageFile(TABBY), { topk: 10 });
      expect(top.map((t) => t.index)).toEqual(mine.top.map((t) => t.index));
      top.forEach((t, i) => expect(t.probability).toBeCloseTo(mine.top[i]!.probability, 6));
    } finally {
      c.dispose();
    }
  }, 300_000);

  it('an ONNX file of the same network: detected, same top classes', async () => {
    const [onnx, torch] = await Promise.all([incept(['infer', TABBY, '--weights', ONNX, '--json', '--topk', '3']), incept(['infer', TABBY, '--weights', SMALL, '--json', '--topk', '3'])]);
    const a = JSON.parse(onnx.stdout) as InferReport;
    const b = JSON.parse(torch.stdout) as InferReport;
    expect(a.model).toMatchObject({ format: 'onnx', classes: 10, inputShape: [32, 32, 3], preset: 'torchvision' });
    expect(a.images[0]!.top.map((t) => t.index)).toEqual(b.images[0]!.top.map((t) => t.index));
    a.images[0]!.top.forEach((t, i) => expect(t.probability).toBeCloseTo(b.images[0]!.top[i]!.probability, 4));
  }, 300_000);

  it('--labels FILE names the classes; one of another length is an error', async () => {
    const names = Array.from({ length: 10 }, (_, i) => `thing-${i}`);
    const labels = join(dir, 'ten.json');
    writeFileSync(labels, JSON.stringify(names));
    const { stdout } = await incept(['infer', TABBY, '--weights', SMALL, '--labels', labels, '--json', '--topk', '3']);
    const report = JSON.parse(stdout) as InferReport;
    expect(report.labels).toBe(labels);
    expect(report.images[0]!.top.map((t) => t.label)).toEqual(report.images[0]!.top.map((t) => names[t.index]));
    const wrong = await failure(['infer', TABBY, '--weights', SMALL, '--labels', join(SAMPLES, 'imagenet-simple-labels.json')]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^incept: labels for .*cifar\.safetensors: 1000 label\(s\) for a model with 10 classes/m);
  }, 300_000);

  it('exits 1 with a message naming the fault: missing, truncated, foreign and wrong files; bad images and flags', async () => {
    const truncated = join(dir, 'truncated.safetensors');
    writeFileSync(truncated, readFileSync(SMALL).subarray(0, 100_000));
    const notImage = join(dir, 'notes.jpg');
    writeFileSync(notImage, 'just text\n');
    const missingKey = join(dir, 'resnet.safetensors');
    writeFileSync(missingKey, encodeSafetensors({ 'conv1.weight': { shape: [2], data: new Float32Array(2) } }));
    const cases: [string[], RegExp][] = [
      [['infer', TABBY, '--weights', join(dir, 'nope.safetensors')], /^incept: .*nope\.safetensors: no such file/m],
      [['infer', TABBY, '--weights', truncated], /^incept: .*truncated\.safetensors: .*(bytes|truncated|short)/im],
      [['infer', TABBY, '--weights', missingKey], /^incept: .*resnet\.safetensors: no 'fc\.weight' tensor/m],
      [['infer', TABBY, '--weights', TABBY], /^incept: .*tabby\.JPEG: cannot tell the model format/m],
      [['infer', notImage, '--weights', SMALL], /^incept: .*notes\.jpg: not a JPEG or PNG image/m],
      [['infer', TABBY, '--weights', SMALL, '--topk', '0'], /^incept: --topk needs an integer from 1 to 32, got '0'/m],
      [['infer', TABBY, '--weights', SMALL, '--topk', '11'], /^incept: --topk 11: the model has only 10 classes/m],
      [['infer', TABBY, '--weights', SMALL, '--format', 'caffe'], /argument 'caffe' is invalid\. Allowed choices are torchvision, onnx, tfjs/],
      [['infer', TABBY], /required option '--weights <file>' not specified/],
    ];
    for (const [args, message] of cases) {
      const { code, stderr } = await failure(args);
      expect(code, `exit code of incept ${args.join(' ')}`).toBe(1);
      expect(stderr, `stderr of incept ${args.join(' ')}`).toMatch(message);
      expect(stderr, 'no stack trace').not.toMatch(/^\s+at /m);
    }
  }, 300_000);
});
