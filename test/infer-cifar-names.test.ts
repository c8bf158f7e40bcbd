/**
 * `incept infer` on a CIFAR-10 model names its classes (airplane … truck) rather than `class N`
 * when no --labels is given: for the exporter's ONNX and safetensors files of the CIFAR-10
 * variant, and for a file whose metadata says cifar10. A 10-class model that says nothing of
 * CIFAR-10 keeps `class N`, and --labels still wins. Child processes on the built bundle.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { encode as encodePng } from 'fast-png';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InferReport } from '../src/cli/infer.js';
import { CIFAR10_LABELS, datasetLabels, onnxModelMetadata } from '../src/api/labels.js';
import { encodeModelProto } from '../src/io/onnx/schema.js';
import { HANG_GUARD_MS } from './support/hang-guard.js';

const run = promisify(execFile);
const incept = (args: string[]) => run(process.execPath, ['bin/incept.js', ...args], { timeout: HANG_GUARD_MS, maxBuffer: 16 << 20 });

let dir: string;
let image: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'incept-cifar-names-'));
  const data = new Uint8Array(32 * 32 * 3).map((_, i) => (i * 37) % 256);
  image = join(dir, 'img.png');
  writeFileSync(image, encodePng({ width: 32, height: 32, data, channels: 3, depth: 8 }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function inferJson(model: string, extra: string[] = []): Promise<InferReport> {
  const { stdout } = await incept(['infer', '--weights', model, '--json', '--topk', '10', ...extra, image]);
  return JSON.parse(stdout) as InferReport;
}

describe('incept infer names CIFAR-10 classes', () => {
  for (const ext of ['onnx', 'safetensors']) {
    it(`an exported CIFAR-10 variant (.${ext}) gets airplane … truck`, async () => {
      const model = join(dir, `cifar.${ext}`);
      await incept(['export', '--cifar10', '--width', '0.125', '--out', model]);
      const report = await inferJson(model);
      expect(report.labels).toMatch(/CIFAR-10/);
      const entry = report.images[0]!;
      if ('error' in entry) throw new Error(entry.error);
      expect(entry.top).toHaveLength(10);
      for (const t of entry.top) expect(t.label).toBe(CIFAR10_LABELS[t.index]);
      const { stdout } = await incept(['infer', '--weights', model, '--topk', '10', image]);
      expect(stdout).toMatch(/Labels\s+CIFAR-10 class names/);
      expect(stdout).toMatch(/\bairplane\b/);
      expect(stdout).not.toMatch(/^\s+\d+\. class \d/m);
    });
  }

  it('--labels still names the classes', async () => {
    const model = join(dir, 'cifar.onnx');
    const labels = join(dir, 'mine.txt');
    writeFileSync(labels, Array.from({ length: 10 }, (_, i) => `mine${i}`).join('\n'));
    const report = await inferJson(model, ['--labels', labels]);
    expect(report.labels).toBe(labels);
    const entry = report.images[0]!;
    if ('error' in entry) throw new Error(entry.error);
    for (const t of entry.top) expect(t.label).toBe(`mine${t.index}`);
  });

  it('a 10-class ImageNet-variant export says nothing of CIFAR-10 and keeps class N', async () => {
    const model = join(dir, 'ten.onnx');
    await incept(['export', '--classes', '10', '--input', '75', '--width', '0.125', '--out', model]);
    const report = await inferJson(model);
    expect(report.labels).toBeNull();
    const entry = report.images[0]!;
    if ('error' in entry) throw new Error(entry.error);
    for (const t of entry.top) expect(t.label).toBe(`class ${t.index}`);
  });
});

describe('datasetLabels and onnxModelMetadata', () => {
  it('reads producer_name and metadata_props from an ONNX file without decoding its graph', () => {
    const bytes = encodeModelProto({
      ir_version: 7,
      producer_name: 'someone',
      metadata_props: [
        { key: 'dataset', value: 'CIFAR-10' },
        { key: 'author', value: 'x' },
      ],
      graph: { name: 'g', node: [], initializer: [], input: [], output: [] },
    });
    const meta = onnxModelMetadata(bytes)!;
    expect(meta.producer).toBe('someone');
    expect(meta.props).toEqual({ dataset: 'CIFAR-10', author: 'x' });
    expect(datasetLabels({ numClasses: 10, metadata: meta.props })?.labels).toEqual(CIFAR10_LABELS);
    expect(onnxModelMetadata(new Uint8Array([0x0a, 0x05, 0x01]))).toBeUndefined();
  });

  it('needs 10 classes and something that says CIFAR-10', () => {
    expect(datasetLabels({ numClasses: 10, metadata: { 'incept.variant': 'cifar10' } })?.dataset).toBe('CIFAR-10');
    expect(datasetLabels({ numClasses: 100, metadata: { 'incept.variant': 'cifar10' } })).toBeUndefined();
    expect(datasetLabels({ numClasses: 10, metadata: { dataset: 'svhn' } })).toBeUndefined();
    expect(datasetLabels({ numClasses: 10, inputShape: [32, 32, 3] })).toBeUndefined();
    expect(datasetLabels({ numClasses: 10, inputShape: [32, 32, 3], producer: 'incept-gpu' })?.dataset).toBe('CIFAR-10');
    expect(datasetLabels({ numClasses: 10, inputShape: [75, 75, 3], producer: 'incept-gpu' })).toBeUndefined();
    expect(datasetLabels({ numClasses: 10, description: 'Inception-v3 (CIFAR-10 variant), width 0.125, torchvision layout' })?.dataset).toBe('CIFAR-10');
  });
});
