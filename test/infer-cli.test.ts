/**
 * `incept infer` as a user runs it (a child process on the built bundle): the human report and
 * `--json` on sample images with random-weight torchvision-format files, agreement with the
 * library's loadClassifier on the same file, many images with bad ones among them (a 48 MP
 * photo, a decompression bomb, a text file), flags checked before the engine starts, and the
 * exit code and message of each way a run can go wrong. Needs `npm run build` (npm test's
 * pretest does it).
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
import { encode as encodePng } from 'fast-png';
import { readImageFile } from '../src/io/image.js';
import { loadClassifier } from '../src/api/classifier.js';
import { exportInceptionV3Onnx } from '../src/io/onnx/index.js';
import type { InferImageResult, InferReport } from '../src/cli/infer.js';
import { testEngine } from './support/engine.js';
import { compare } from './support/compare.js';
import { encodeMosaicJpeg, randomMosaic } from './support/jpeg-mosaic.js';
import { freshSeed, makeRng } from './support/random.js';
import { HANG_GUARD_MS } from './support/hang-guard.js';
import { CIFAR10_CLASSES } from '../src/data/dataset.js';

const run = promisify(execFile);
const incept = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
  run(process.execPath, ['bin/incept.js', ...args], { timeout: HANG_GUARD_MS, maxBuffer: 16 << 20, env });
/** A failed run's exit code and output (the test fails if the run succeeds). */
const failure = async (args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> => {
  const outcome = await incept(args, env).then(
    () => undefined,
    (e: unknown) => e as { code: number; stdout: string; stderr: string },
  );
  if (!outcome) throw new Error(`incept ${args.join(' ')} succeeded; it should have failed`);
  return outcome;
};
/** Entry i of a report, which must be a classified image. */
const classified = (report: InferReport, i: number): InferImageResult => {
  const entry = report.images[i]!;
  if ('error' in entry) throw new Error(`${entry.file}: expected a classification, got the error ${entry.error}`);
  return entry;
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
/** A 48-megapixel 4:2:0 photo (8000×6000), a 97 KB PNG claiming 9990×9990, a text file. */
const PHOTO48 = join(dir, 'photo48.jpg');
const BOMB = join(dir, 'bomb.png');
const NOTES = join(dir, 'notes.jpg');
/** 1×1000: decodes, but the CIFAR model's preprocessing (37 on the shorter side) cannot resize it. */
const NARROW = join(dir, 'narrow.png');

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
  writeFileSync(PHOTO48, encodeMosaicJpeg(randomMosaic(makeRng(seed + 3), 8000, 6000)));
  writeFileSync(BOMB, encodePng({ width: 9990, height: 9990, data: new Uint8Array(9990 * 9990), channels: 1, depth: 8 }));
  writeFileSync(NOTES, 'just text\n');
  writeFileSync(NARROW, encodePng({ width: 1000, height: 1, data: new Uint8Array(3000).fill(90), channels: 3, depth: 8 }));
});
afterAll(() => {
  engine?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe(`incept infer ${replay}`, () => {
  it('prints the top 5 with ImageNet labels per image and the time of each stage (299×299 network)', async () => {
    const { stdout, stderr } = await incept(['infer', TABBY, ORANGE, '--weights', FULL]);
    expect(stdout).toMatch(/^Model {4}Inception-v3, torchvision layout \(torchvision format, .*inception_v3\.safetensors\)$/m);
    expect(stdout).toMatch(/1000 classes, 299×299×3 input, 23\.\d\dM parameters, preprocessing 'torchvision'/);
    // A state dict does not say its input convention: the report names the one used and the other.
    expect(stdout).toMatch(/^Input {4}'inception' convention, \(x\/255 − 0\.5\) \/ 0\.5: the default for ImageNet .*; --input-convention imagenet for /m);
    expect(stdout).toMatch(/^Labels {3}.*imagenet-simple-labels\.json$/m);
    for (const name of ['n02123045_tabby.JPEG', 'n07747607_orange.JPEG'])
      expect(stdout).toMatch(new RegExp(`^${name.replace('.', '\\.')} \\(\\d+×\\d+\\)$`, 'm'));
    const rows = [...stdout.matchAll(/^ {2} ?(\d)\. (.+?) +(\d+\.\d\d)% {2}\(class (\d+)\)$/gm)];
    expect(rows).toHaveLength(10);
    for (const [, , label, , index] of rows) expect(label!.trim()).toBe(LABELS[Number(index)]);
    expect(stdout).toMatch(/^Time {5}load \d.*, decode .*, preprocess .*, forward .*; 2 images in batches of up to 8/m);
    expect(stderr).toMatch(/infer…/); // progress goes to stderr
  });

  it('--json: one document; the same probabilities as loadClassifier on the same file; CIFAR-10 names for the CIFAR-10 variant', async () => {
    const { stdout } = await incept(['infer', TABBY, '--weights', SMALL, '--json', '--topk', '10', '--batch', '1']);
    const report = JSON.parse(stdout) as InferReport;
    expect(report.model).toMatchObject({ format: 'torchvision', classes: 10, inputShape: [32, 32, 3], preset: 'torchvision', outputIsProbabilities: false });
    expect(report.model.inputConvention).toBe('imagenet');
    expect(report.model.inputConventionReason).toMatch(/CIFAR-10 variant/);
    expect(report.labels).toMatch(/^CIFAR-10 class names/);
    expect(report.adapter.length).toBeGreaterThan(0);
    expect(report.images).toHaveLength(1);
    const top = classified(report, 0).top;
    expect(top).toHaveLength(10);
    expect(top.map((t) => t.label)).toEqual(top.map((t) => CIFAR10_CLASSES[t.index]));
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
  });

  it('an ONNX file of the same network: detected, same top classes', async () => {
    const [onnx, torch] = await Promise.all([
      incept(['infer', TABBY, '--weights', ONNX, '--json', '--topk', '3']),
      incept(['infer', TABBY, '--weights', SMALL, '--json', '--topk', '3']),
    ]);
    const a = JSON.parse(onnx.stdout) as InferReport;
    const b = JSON.parse(torch.stdout) as InferReport;
    expect(a.model).toMatchObject({ format: 'onnx', classes: 10, inputShape: [32, 32, 3], preset: 'torchvision' });
    expect(classified(a, 0).top.map((t) => t.index)).toEqual(classified(b, 0).top.map((t) => t.index));
    classified(a, 0).top.forEach((t, i) => expect(t.probability).toBeCloseTo(classified(b, 0).top[i]!.probability, 4));
  });

  it("--input-convention picks the normalisation: the report names it, and the results are loadClassifier's with it", async () => {
    const [human, json] = await Promise.all([
      incept(['infer', TABBY, '--weights', SMALL, '--input-convention', 'inception']),
      incept(['infer', TABBY, '--weights', SMALL, '--input-convention', 'inception', '--json', '--topk', '10']),
    ]);
    expect(human.stdout).toMatch(/^Input {4}'inception' convention, \(x\/255 − 0\.5\) \/ 0\.5: given as inputConvention; --input-convention imagenet for /m);
    const report = JSON.parse(json.stdout) as InferReport;
    expect(report.model).toMatchObject({ inputConvention: 'inception', inputConventionReason: 'given as inputConvention' });
    const top = classified(report, 0).top;
    const c = await loadClassifier(engine, { weights: SMALL, inputConvention: 'inception' });
    const d = await loadClassifier(engine, { weights: SMALL });
    try {
      const image = await readImageFile(TABBY);
      const mine = await c.classify(image, { topk: 10, scores: true });
      expect(top.map((t) => t.index)).toEqual(mine.top.map((t) => t.index));
      top.forEach((t, i) => expect(t.probability).toBeCloseTo(mine.top[i]!.probability, 6));
      // The default (imagenet for the CIFAR-10 variant) gives other logits (the probabilities of
      // this random network may saturate): the convention reaches the network.
      const other = await d.classify(image, { topk: 10, scores: true });
      expect(compare(other.outputs!, mine.outputs!).relErr).toBeGreaterThan(1e-3);
    } finally {
      c.dispose();
      d.dispose();
    }
  });

  it('--labels FILE names the classes; one of another length is an error', async () => {
    const names = Array.from({ length: 10 }, (_, i) => `thing-${i}`);
    const labels = join(dir, 'ten.json');
    writeFileSync(labels, JSON.stringify(names));
    const { stdout } = await incept(['infer', TABBY, '--weights', SMALL, '--labels', labels, '--json', '--topk', '3']);
    const report = JSON.parse(stdout) as InferReport;
    expect(report.labels).toBe(labels);
    expect(classified(report, 0).top.map((t) => t.label)).toEqual(classified(report, 0).top.map((t) => names[t.index]));
    const wrong = await failure(['infer', TABBY, '--weights', SMALL, '--labels', join(SAMPLES, 'imagenet-simple-labels.json')]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^incept: labels for .*cifar\.safetensors: 1000 label\(s\) for a model with 10 classes/m);
  });

  it('exits 1 with a message naming the fault: missing, truncated, foreign and wrong model files; bad flags', async () => {
    const truncated = join(dir, 'truncated.safetensors');
    writeFileSync(truncated, readFileSync(SMALL).subarray(0, 100_000));
    const missingKey = join(dir, 'resnet.safetensors');
    writeFileSync(missingKey, encodeSafetensors({ 'conv1.weight': { shape: [2], data: new Float32Array(2) } }));
    const cases: [string[], RegExp][] = [
      [['infer', TABBY, '--weights', join(dir, 'nope.safetensors')], /^incept: .*nope\.safetensors: no such file/m],
      [['infer', TABBY, '--weights', truncated], /^incept: .*truncated\.safetensors: .*(bytes|truncated|short)/im],
      [['infer', TABBY, '--weights', missingKey], /^incept: .*resnet\.safetensors: no 'fc\.weight' tensor/m],
      [['infer', TABBY, '--weights', TABBY], /^incept: .*tabby\.JPEG: cannot tell the model format/m],
      [['infer', TABBY, '--weights', SMALL, '--topk', '0'], /^incept: --topk needs an integer from 1 to 32, got '0'/m],
      [['infer', TABBY, '--weights', SMALL, '--topk', '11'], /^incept: --topk 11: the model has only 10 classes/m],
      [['infer', TABBY, '--weights', SMALL, '--format', 'caffe'], /argument 'caffe' is invalid\. Allowed choices are torchvision, onnx, tfjs/],
      [['infer', TABBY, '--weights', SMALL, '--input-convention', 'caffe'], /argument 'caffe' is invalid\. Allowed choices are inception, imagenet/],
      [['infer', TABBY], /required option '--weights <file>' not specified/],
    ];
    for (const [args, message] of cases) {
      const { code, stderr } = await failure(args);
      expect(code, `exit code of incept ${args.join(' ')}`).toBe(1);
      expect(stderr, `stderr of incept ${args.join(' ')}`).toMatch(message);
      expect(stderr, 'no stack trace').not.toMatch(/^\s+at /m);
    }
  });
  it('many images, some bad: each bad file gets an error entry, the others (a 48 MP photo among them) are classified, exit code 2', async () => {
    const files = [TABBY, NOTES, PHOTO48, BOMB, ORANGE];
    const names = ['n02123045_tabby.JPEG', 'notes.jpg', 'photo48.jpg', 'bomb.png', 'n07747607_orange.JPEG'];
    const args = ['infer', ...files, '--weights', SMALL, '--topk', '3', '--batch', '2'];
    const bombError = /PNG too large: its header says 9990×9990 pixels \(99\.8 megapixels\), more than the pixel budget of 64 megapixels/;

    // The text report (without the photo, whose decoding takes seconds).
    const text = await failure(args.filter((a) => a !== PHOTO48));
    expect(text.code, text.stderr).toBe(2);
    for (const name of ['n02123045_tabby\\.JPEG', 'n07747607_orange\\.JPEG']) expect(text.stdout).toMatch(new RegExp(`^${name} \\(\\d+×\\d+\\)$`, 'm'));
    expect([...text.stdout.matchAll(/^ {2} ?(\d)\. (.+?) +(\d+\.\d\d)% {2}\(class (\d+)\)$/gm)]).toHaveLength(6);
    expect(text.stdout).toMatch(/^notes\.jpg: error: not a JPEG or PNG image: the first bytes are 6A 75 73 74/m);
    expect(text.stdout).toMatch(new RegExp(`^bomb\\.png: error: ${bombError.source}`, 'm'));
    expect(text.stdout).toMatch(/^Time {5}load .*; 2 of 4 images classified in batches of up to 2/m);
    expect(text.stderr).toMatch(/^incept: 2 of 4 images could not be classified:\n {2}notes\.jpg: not a JPEG or PNG image.*\n {2}bomb\.png: PNG too large/m);
    expect(text.stderr, 'no stack trace').not.toMatch(/^\s+at /m);

    // In batches of two, the last batch holds an image that decodes but that the classifier
    // refuses: the batch is retried image by image.
    const json = await failure([...args, NARROW, '--json']);
    expect(json.code, json.stderr).toBe(2);
    const report = JSON.parse(json.stdout) as InferReport;
    expect(report.images.map((im) => im.file)).toEqual([...names, 'narrow.png']);
    expect(report.failed).toBe(3);
    expect(report.images[5]).toEqual({
      file: 'narrow.png',
      error: expect.stringMatching(/^preprocess: a 1×1000 image resized to 37 on its shorter side would be 37×37000, more than 32768 on a side/),
    });
    expect(report.images[1]).toEqual({ file: 'notes.jpg', error: expect.stringMatching(/^not a JPEG or PNG image/) });
    expect(report.images[3]).toEqual({ file: 'bomb.png', error: expect.stringMatching(bombError) });
    for (const i of [0, 2, 4]) expect(classified(report, i).top).toHaveLength(3);
    expect([classified(report, 2).width, classified(report, 2).height]).toEqual([8000, 6000]);

    // The photo's probabilities are the library's on the same file.
    const c = await loadClassifier(engine, { weights: SMALL });
    try {
      const mine = await c.classify(await readImageFile(PHOTO48), { topk: 3 });
      expect(classified(report, 2).top.map((t) => t.index)).toEqual(mine.top.map((t) => t.index));
      classified(report, 2).top.forEach((t, i) => expect(t.probability).toBeCloseTo(mine.top[i]!.probability, 5));
    } finally {
      c.dispose();
    }

    // --max-megapixels moves the pixel budget: at 40, the 48 MP photo is refused from its header.
    const small = await failure(['infer', TABBY, PHOTO48, '--weights', SMALL, '--json', '--max-megapixels', '40']);
    expect(small.code).toBe(2);
    const smallReport = JSON.parse(small.stdout) as InferReport;
    expect(classified(smallReport, 0).top).toHaveLength(5);
    expect(smallReport.images[1]).toEqual({
      file: 'photo48.jpg',
      error:
        'JPEG too large: its header says 8000×6000 pixels (48.0 megapixels), more than the pixel budget of 40 megapixels (maxMegapixels); nothing was decoded',
    });
  });

  it('only bad images: every one gets its entry and the exit code is 2', async () => {
    const { code, stdout, stderr } = await failure(['infer', NOTES, BOMB, '--weights', SMALL, '--json']);
    expect(code, stderr).toBe(2);
    const report = JSON.parse(stdout) as InferReport;
    expect(report.images.map((im) => ('error' in im ? im.file : `${im.file} classified`))).toEqual(['notes.jpg', 'bomb.png']);
    expect(report.failed).toBe(2);
    expect(stderr).toMatch(/^incept: 2 of 2 images could not be classified:/m);
  });

  it('flags are checked before the engine starts: the message names the flag, the value and the range', async () => {
    // A driver choice the engine refuses: a flag error seen instead proves the flags came first.
    const env = { ...process.env, INCEPT_DRIVER: 'no-such-driver' };
    const cases: [string[], RegExp][] = [
      [['--topk', '0'], /^incept: --topk needs an integer from 1 to 32, got '0'$/m],
      [['--topk', '2.5'], /^incept: --topk needs an integer from 1 to 32, got '2\.5'$/m],
      [['--batch', '0'], /^incept: --batch needs an integer from 1 to 256, got '0'$/m],
      [['--batch', '100000'], /^incept: --batch needs an integer from 1 to 256, got '100000'$/m],
      [['--max-megapixels', '0'], /^incept: --max-megapixels needs a number of megapixels greater than 0 and at most 1000, got '0'$/m],
      [['--max-megapixels', 'lots'], /^incept: --max-megapixels needs a number of megapixels greater than 0 and at most 1000, got 'lots'$/m],
      [['--max-megapixels', '5000'], /^incept: --max-megapixels needs a number of megapixels greater than 0 and at most 1000, got '5000'$/m],
      [['--weights', join(dir, 'nope.safetensors')], /^incept: --weights .*nope\.safetensors: no such file$/m],
      [['--labels', join(dir, 'nope.json')], /^incept: --labels .*nope\.json: cannot read it/m],
    ];
    for (const [flags, message] of cases) {
      const args = ['infer', TABBY, '--weights', SMALL, ...flags];
      const { code, stderr } = await failure(args, env);
      expect(code, `exit code of incept ${args.join(' ')}`).toBe(1);
      expect(stderr, `stderr of incept ${args.join(' ')}`).toMatch(message);
      expect(stderr).not.toMatch(/INCEPT_DRIVER/);
    }
    // With good flags the same environment reaches the engine, which refuses the driver.
    const control = await failure(['infer', TABBY, '--weights', SMALL, '--max-megapixels', '48.5', '--batch', '256'], env);
    expect(control.stderr).toMatch(/^incept: INCEPT_DRIVER='no-such-driver' is not a driver choice/m);
  });
});
