/**
 * The peer benchmark's ONNX Runtime for Node column (bench/peers/ort-node.ts): the engine's
 * inputs laid out as NCHW element by element; the harness's session on the bytes of
 * exportInceptionV3Onnx gives the engine's logits within the agreement tolerance the benchmark
 * judges by (a small Inception-v3, so this runs in seconds; the benchmark runs the 299×299 one);
 * and the report says, wherever that column appears, that it is a CPU runtime.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { InceptionV3 } from '../src/models/inception-v3.js';
import { exportInceptionV3Onnx } from '../src/io/onnx/export.js';
import { createOrtNodeSession, loadOrtNode, nhwcToNchw, ORT_NODE } from '../bench/peers/ort-node.js';
import { maxRelErr, pairTimes } from '../bench/peers/compare.js';
import { AGREEMENT_TOLERANCE, formatPeerReport, judgeGoals, renderPeerReportHtml, type PeerReport, type PeerReportRow } from '../src/bench/peers-report.js';
import { testEngine } from './support/engine.js';
import { freshSeed, makeRng, randomArray } from './support/random.js';

const seed = freshSeed();
let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

describe(`ONNX Runtime for Node in the peer benchmark (seed ${seed})`, () => {
  it('nhwcToNchw puts x[n][y][x][c] at [n][c][y][x]', () => {
    const dims = [2, 3, 5, 4] as const;
    const x = randomArray(makeRng(seed), 2 * 3 * 5 * 4);
    const out = nhwcToNchw(x, dims);
    for (let n = 0; n < 2; n++)
      for (let y = 0; y < 3; y++)
        for (let xx = 0; xx < 5; xx++) for (let c = 0; c < 4; c++) expect(out[((n * 4 + c) * 3 + y) * 5 + xx]).toBe(x[((n * 3 + y) * 5 + xx) * 4 + c]);
  });

  it("the harness's session on exportInceptionV3Onnx's bytes gives the engine's logits", async () => {
    const model = new InceptionV3(engine, { seed, variant: 'cifar10', width: 0.25, auxLogits: false });
    const runtime = await loadOrtNode();
    try {
      expect(runtime.version).toMatch(/^\d+\.\d+\.\d+/);
      await engine.scope(async () => model.calibrate(engine.randomNormal([4, 32, 32, 3], { seed: seed + 1 })));
      const session = await createOrtNodeSession(runtime, await exportInceptionV3Onnx(model));
      try {
        const shape = [3, 32, 32, 3] as const;
        const x = randomArray(makeRng(seed + 2), 3 * 32 * 32 * 3, -2, 2);
        const ours = (await engine.scope(async () => model.forward(engine.tensor(x, [...shape])).read())) as Float32Array;
        const theirs = await session.run(nhwcToNchw(x, shape), [3, 3, 32, 32]);
        expect(theirs.length).toBe(3 * 10);
        expect(maxRelErr(theirs, ours)).toBeLessThanOrEqual(AGREEMENT_TOLERANCE.inference);
      } finally {
        await session.release();
      }
    } finally {
      model.dispose();
    }
  });

  it('the report names it a CPU runtime and judges no goal on it', () => {
    const timing = { ...pairTimes([30, 28, 26], [800, 700, 750]), maxRelErr: 2e-6 };
    const row: PeerReportRow = {
      group: 'inference',
      environment: 'node',
      timing: 'wall',
      name: 'Inception-v3 inference 299×299',
      batch: 1,
      engineMs: 750,
      engineMsMin: 700,
      engineMsMax: 800,
      peers: { [ORT_NODE]: timing },
    };
    const report: PeerReport = {
      adapter: 'lavapipe',
      adapters: { node: 'lavapipe' },
      date: '2026-12-01T00:00:00.000Z',
      command: 'npm run bench:peers -- --quick',
      quick: true,
      seconds: 1,
      libraries: { [ORT_NODE]: 'onnxruntime-node 1.30.0 (native, CPU execution provider)' },
      rows: [row],
      goals: judgeGoals([row]),
    };
    expect(report.goals.every((g) => g.library !== ORT_NODE && g.rows === 0)).toBe(true);
    const note = new RegExp(`${ORT_NODE} runs on the CPU`);
    expect(formatPeerReport(report)).toMatch(note);
    expect(formatPeerReport(report)).toContain('0.04× (0.03–0.04)');
    expect(renderPeerReportHtml(report)).toMatch(note);
  });
});
