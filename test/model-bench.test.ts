/**
 * `incept bench model` end to end at a small size (75×75, so it runs in seconds here): the
 * result's per-layer profile accounts for the totals and names every layer of the network, the
 * training step has a backward for every conv, the text summary and the HTML report (drawn in
 * headless Chromium) show it. The timings themselves are the benchmark's business, not a test's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { runModelBench, type ModelBenchResult } from '../src/bench/model/run.js';
import { blockOf, formatModelBench, modelBenchChartCount, renderModelBenchHtml } from '../src/bench/model/report.js';
import { inceptionV3Spec } from '../src/models/inception-v3-spec.js';
import { testEngine } from './support/engine.js';
import { launchChromium, type LaunchedChromium } from './browser/harness.js';
import { drawReport } from './support/report-page.js';
import type { PeerReport } from '../src/bench/peers-report.js';
import { benchModel } from '../src/cli/bench-model.js';

let engine: Engine;
let result: ModelBenchResult;
beforeAll(async () => {
  engine = await testEngine();
  result = await runModelBench(engine, { inputSize: 75, batches: [1, 2], trainBatch: 2, repeats: 1 });
});
afterAll(() => engine?.destroy());

describe('runModelBench at 75×75', () => {
  it('profiles every layer of the forward, and the layers add up to the total', () => {
    const spec = inceptionV3Spec({ inputSize: 75, auxLogits: false });
    expect(result.macs).toBe(spec.filter((l) => l.kind === 'conv' || l.kind === 'linear').reduce((s, l) => s + l.macs, 0));
    expect(result.forward.map((f) => f.batch)).toEqual([1, 2]);
    for (const f of result.forward) {
      const names = new Set(f.layers.map((l) => l.layer));
      // Every layer that does work appears (concats and inference dropout dispatch nothing).
      for (const l of spec) if (l.kind !== 'concat' && l.kind !== 'dropout') expect(names.has(l.name), l.name).toBe(true);
      expect(names.has('(other)')).toBe(false);
      const sum = f.layers.reduce((s, l) => s + l.ms, 0);
      expect(f.gpuMs).toBeGreaterThan(0);
      expect(Math.abs(sum - f.gpuMs) / f.gpuMs).toBeLessThan(1e-9);
      expect(f.gflops).toBeCloseTo((2 * result.macs * f.batch) / f.gpuMs / 1e6, 6);
      expect(f.peakBytes).toBeGreaterThan(result.weightsBytes);
      expect(f.dispatches).toBe(f.layers.reduce((s, l) => s + l.calls, 0));
    }
  });

  it('times a training step: a backward for every conv, loss, update, phases adding up', () => {
    const t = result.train!;
    expect(t.batch).toBe(2);
    expect(Number.isFinite(t.loss)).toBe(true);
    for (const l of inceptionV3Spec({ inputSize: 75, auxLogits: false })) {
      if (l.kind !== 'conv') continue;
      const row = t.layers.find((r) => r.layer === l.name);
      expect(row?.forwardMs, l.name).toBeGreaterThan(0);
      expect(row?.backwardMs, l.name).toBeGreaterThan(0);
    }
    expect(t.updateMs).toBeGreaterThan(0);
    expect(t.forwardMs + t.lossMs + t.backwardMs + t.updateMs).toBeCloseTo(t.gpuMs, 6);
    expect(t.kernels.some((k) => k.pass === 'backward' && k.kernel.startsWith('conv2d-backward'))).toBe(true);
  });

  it('prints a summary with the totals, the blocks and the training step', () => {
    const text = formatModelBench(result);
    expect(text).toContain('Inception-v3, 75×75, on ');
    expect(text).toMatch(/Inference forward/);
    for (const b of ['stem', 'Mixed_5b', 'Mixed_7c', 'classifier']) expect(text).toContain(b);
    expect(text).toMatch(/Training step at batch 2/);
    expect(blockOf('Mixed_6b.branch7x7_2')).toBe('Mixed_6b');
    expect(blockOf('Conv2d_4a_3x3')).toBe('stem');
    expect(blockOf('AuxLogits.conv0')).toBe('aux head');
  });
});

describe('incept bench model --peers', () => {
  const peers: PeerReport = {
    adapter: 'node adapter',
    adapters: { node: 'node adapter', chromium: 'chromium adapter' },
    date: '2026-11-29T00:00:00.000Z',
    command: 'npm run bench:peers -- --only inference,browser --batches 1',
    quick: false,
    seconds: 60,
    libraries: { 'tfjs-webgpu': '@tensorflow/tfjs-backend-webgpu 4.22.0', 'ort-web-webgpu': 'onnxruntime-web 1.30.0' },
    rows: [
      {
        group: 'inference',
        environment: 'node',
        timing: 'wall',
        name: 'Inception-v3 inference 299×299',
        batch: 1,
        engineMs: 1000,
        engineMsMin: 900,
        engineMsMax: 1100,
        peers: { 'tfjs-webgpu': { ms: 6700, msMin: 6000, msMax: 7000, ratio: 6.7, ratioMin: 5.1, ratioMax: 8.1, maxRelErr: 5.5e-5 } },
      },
      {
        group: 'inference',
        environment: 'chromium',
        timing: 'wall',
        name: 'Inception-v3 inference 299×299',
        batch: 1,
        engineMs: 3000,
        engineMsMin: 2900,
        engineMsMax: 3100,
        peers: {
          'tfjs-webgpu': { ms: 15000, msMin: 14000, msMax: 16000, ratio: 5, ratioMin: 4.5, ratioMax: 5.5, maxRelErr: 1e-5 },
          'ort-web-webgpu': { ms: 9000, msMin: 8000, msMax: 10000, ratio: 3, ratioMin: 2.6, ratioMax: 3.3, maxRelErr: 2e-5 },
        },
      },
    ],
    goals: [],
  };

  it('shows the peer rows in the summary and the HTML report', () => {
    const withPeers = { ...result, peers };
    const text = formatModelBench(withPeers);
    expect(text).toMatch(/Against the peers/);
    expect(text).toContain('6.70× (5.10–8.10)');
    expect(text).toContain('3.00× (2.60–3.30)');
    expect(text).toContain('chromium adapter');
    const html = renderModelBenchHtml(withPeers);
    expect(html).toContain('Against the peers');
    expect(html).toContain('onnxruntime-web 1.30.0');
  });

  it('refuses a network the peers do not run, before doing any work', async () => {
    await expect(benchModel({ peers: true, cifar10: true })).rejects.toThrow(/--peers compares the ImageNet network at 299×299/);
    await expect(benchModel({ peers: true, input: '150' })).rejects.toThrow(/drop --cifar10, --input and --width/);
  });
});

describe('the model benchmark report in headless Chromium', () => {
  let chromium: LaunchedChromium | undefined;
  afterAll(async () => chromium?.close());

  it('is self-contained and draws its charts without errors', async () => {
    const html = renderModelBenchHtml(result);
    expect(html).not.toMatch(/<script[^>]*\ssrc=/i);
    chromium = await launchChromium();
    const state = await drawReport(chromium.browser, html);
    expect(state.error).toBeUndefined();
    expect(state.pageErrors).toEqual([]);
    expect(state.drawn).toBe(modelBenchChartCount(result));
    expect(state.tables).toBe(1 + result.forward.length + 1);
  });
});
