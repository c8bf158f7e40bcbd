/**
 * The peer benchmark runs TensorFlow.js on the engine's own graph IR (bench/peers/tfjs-graph.ts)
 * and uses its outputs as a correctness oracle, so that translation is itself checked here:
 * on TF.js's CPU backend (no GPU needed) against the float64 IR evaluator, for graphs that use
 * every IR op, BatchNorm folded and not, both pooling paddings and both flatten orders.
 * The training translation is checked on its loss and on its gradients by finite differences.
 * Also the peer report: goals judged from the rows, the table and the HTML page.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Graph } from '../src/graph/ir.js';
import { tfjsInferenceModel, tfjsTrainingModel } from '../bench/peers/tfjs-graph.js';
import {
  AGREEMENT_TOLERANCE,
  disagreements,
  formatPeerReport,
  judgeGoals,
  peerReportChartCount,
  renderPeerReportHtml,
  type PeerReport,
  type PeerReportRow,
} from '../src/bench/peers-report.js';
import { pairTimes } from '../bench/peers/compare.js';
import { Builder } from './support/graph-builder.js';
import { assertClose } from './support/compare.js';
import { freshSeed, makeRng, randomArray } from './support/random.js';
import { graphRef } from './reference/graph.js';
import { tf, tfReady } from './support/tfjs-models.js';
import { drawReport } from './support/report-page.js';
import { launchChromium, type LaunchedChromium } from './browser/harness.js';

const seed = freshSeed();
const rng = makeRng(seed);
const TOLERANCE = 1e-4;

beforeAll(tfReady);

function runTf(graph: Graph, x: Float32Array, n: number): Float32Array {
  const model = tfjsInferenceModel(tf as never, graph);
  try {
    const [h, w, c] = graph.input.shape as [number, number, number];
    const input = tf.tensor4d(x, [n, h, w, c]);
    const y = model.run(input as never) as unknown as typeof input;
    const out = y.dataSync() as Float32Array;
    tf.dispose([input, y]);
    return out;
  } finally {
    model.dispose();
  }
}

/** An Inception-module-shaped block with a residual add, odd sizes, a stride-2 padded conv and both avg-pool divisors. */
function everyOpGraph(order: 'hwc' | 'chw', probabilities: boolean): Graph {
  const b = new Builder(rng, [11, 9, 5], 'peer-graph');
  const unit = (input: string, cout: number, k: [number, number], pad: [number, number, number, number], name: string) =>
    b.relu(b.batchNorm(b.conv(input, cout, k, { padding: pad, name: `${name}.conv` }), { name: `${name}.bn` }), `${name}.relu`);
  const stem = unit('x', 8, [3, 3], [1, 1, 1, 1], 'stem');
  const a = unit(stem, 6, [1, 3], [0, 0, 1, 1], 'a');
  const bb = unit(unit(stem, 4, [1, 1], [0, 0, 0, 0], 'b1'), 6, [3, 1], [1, 1, 0, 0], 'b2');
  const sum = b.addValues(a, bb);
  const poolIn = b.pool('avgPool', stem, [3, 3], [1, 1], [1, 1, 1, 1], true);
  const poolEx = b.pool('avgPool', stem, [3, 3], [1, 1], [1, 1, 1, 1], false);
  const lonelyBn = b.relu(b.batchNorm(b.concat([poolIn, poolEx])));
  const cat = b.concat([sum, lonelyBn, b.conv(stem, 3, [3, 3], { padding: [1, 1, 1, 1], bias: true, relu: true })]);
  const down = b.pool('maxPool', b.conv(cat, 7, [3, 3], { stride: [2, 2], padding: [0, 1, 1, 0], bias: true }), [3, 3], [2, 2], [1, 1, 1, 1]);
  const head = b.dense(b.dropout(b.flatten(down, order)), 10, { bias: true, relu: true });
  const out = b.dense(head, 6, { bias: true });
  return b.graph(probabilities ? b.softmax(out) : out, probabilities);
}

describe(`the peer benchmark's TF.js translation of the graph IR (seed ${seed}; replay with TEST_SEED=${seed})`, () => {
  for (const [order, probabilities] of [
    ['chw', false],
    ['hwc', true],
  ] as const) {
    it(`every op, flatten ${order}${probabilities ? ', softmax' : ''}: TF.js (BatchNorm folded into the convs) matches the float64 reference`, () => {
      const graph = everyOpGraph(order, probabilities);
      for (const n of [1, 3]) {
        const x = randomArray(rng, n * 11 * 9 * 5);
        const ref = graphRef(graph, x, n);
        assertClose(runTf(graph, x, n), ref, TOLERANCE, `batch ${n}`);
      }
    });
  }

  it('a BatchNorm whose conv output has a second reader is not folded into it, and the result still matches', () => {
    const b = new Builder(rng, [6, 6, 3], 'two-readers');
    const conv = b.conv('x', 4, [3, 3], { padding: [1, 1, 1, 1] });
    const graph = b.graph(b.dense(b.globalAvgPool(b.concat([b.batchNorm(conv), conv])), 5, { bias: true }));
    const x = randomArray(rng, 2 * 6 * 6 * 3);
    assertClose(runTf(graph, x, 2), graphRef(graph, x, 2), TOLERANCE, 'two readers');
  });

  it('training: the loss is label-smoothed cross-entropy on batch statistics, and the gradients agree with finite differences', async () => {
    const b = new Builder(rng, [5, 5, 2], 'train-graph');
    const conv = b.conv('x', 3, [3, 3], { padding: [1, 1, 1, 1], name: 'c' });
    // No ReLU: a central difference across its kink is not a derivative (the forward's ReLU is checked above).
    const graph = b.graph(b.dense(b.globalAvgPool(b.batchNorm(conv, { name: 'bn' })), 4, { bias: true }));
    const n = 3;
    const x = randomArray(rng, n * 5 * 5 * 2);
    const labels = [0, 3, 1];
    const smoothing = 0.1;
    // Float64 loss of the same network with BatchNorm on batch statistics, written out here.
    const lossAt = (weights: Graph['weights']): number => {
      const convOut = graphRefValue({ ...graph, weights }, x, n, 'c:0');
      const c = 3;
      const m = convOut.length / c;
      const bn = graph.nodes.find((nd) => nd.op === 'batchNorm')!;
      if (bn.op !== 'batchNorm') throw new Error('no batchNorm');
      const gamma = weights.get(bn.gamma!)!.data;
      const beta = weights.get(bn.beta!)!.data;
      const normed = new Float64Array(convOut.length);
      for (let ch = 0; ch < c; ch++) {
        let mean = 0;
        for (let i = 0; i < m; i++) mean += convOut[i * c + ch]!;
        mean /= m;
        let v = 0;
        for (let i = 0; i < m; i++) v += (convOut[i * c + ch]! - mean) ** 2;
        v /= m;
        for (let i = 0; i < m; i++) normed[i * c + ch] = (gamma[ch]! * (convOut[i * c + ch]! - mean)) / Math.sqrt(v + bn.eps) + beta[ch]!;
      }
      const dense = graph.nodes.find((nd) => nd.op === 'dense')!;
      if (dense.op !== 'dense') throw new Error('no dense');
      const W = weights.get(dense.weight)!.data;
      const B = weights.get(dense.bias!)!.data;
      const perExample = m / n;
      let loss = 0;
      for (let e = 0; e < n; e++) {
        const pooled = [0, 1, 2].map((ch) => {
          let s = 0;
          for (let p = 0; p < perExample; p++) s += normed[(e * perExample + p) * c + ch]!;
          return s / perExample;
        });
        const logits = [0, 1, 2, 3].map((u) => B[u]! + pooled.reduce((s, v, ch) => s + v * W[ch * 4 + u]!, 0));
        const max = Math.max(...logits);
        const lse = max + Math.log(logits.reduce((s, l) => s + Math.exp(l - max), 0));
        logits.forEach((l, u) => (loss -= ((u === labels[e] ? 1 - smoothing : 0) + smoothing / 4) * (l - lse)));
      }
      return loss / n;
    };
    const model = tfjsTrainingModel(tf as never, graph, { labelSmoothing: smoothing, lr: 0, clipNorm: 0, rho: 0.9, momentum: 0, epsilon: 1 });
    try {
      const oneHot = tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), 4), 'float32');
      const input = tf.tensor4d(x, [n, 5, 5, 2]);
      const step = model.step(input as never, oneHot as never, true);
      expect(Math.abs((step.loss.dataSync() as Float32Array)[0]! - lossAt(graph.weights))).toBeLessThan(1e-4);
      for (const name of [
        'c.w',
        'bn.gamma',
        'bn.beta',
        graph.nodes.find((nd) => nd.op === 'dense')!.op === 'dense' ? (graph.nodes.find((nd) => nd.op === 'dense') as { weight: string }).weight : '',
      ]) {
        const w = graph.weights.get(name)!;
        const grad = step.grads!.get(name)!.dataSync() as Float32Array;
        const fd = new Float64Array(w.data.length);
        const h = 1e-3;
        for (let i = 0; i < w.data.length; i++) {
          const at = (delta: number) => {
            const data = Float32Array.from(w.data);
            data[i] = data[i]! + delta;
            return lossAt(new Map([...graph.weights, [name, { shape: w.shape, data }]]));
          };
          fd[i] = (at(h) - at(-h)) / (2 * h);
        }
        assertClose(grad, fd, 2e-2, `∂loss/∂${name} against central differences`);
      }
      tf.dispose([oneHot, input, step.loss, ...step.grads!.values()]);
    } finally {
      model.dispose();
    }
  });
});

/** One value of the float64 reference, all examples back to back. */
function graphRefValue(graph: Graph, x: Float32Array, n: number, value: string): Float64Array {
  return graphRef({ ...graph, output: value }, x, n);
}

describe('the peer report', () => {
  const timing = (peerMs: number[], engineMs: number[], err: number) => ({ ...pairTimes(peerMs, engineMs), maxRelErr: err });
  const row = (group: PeerReportRow['group'], peers: PeerReportRow['peers'], environment: PeerReportRow['environment'] = 'node'): PeerReportRow => ({
    group,
    environment,
    timing: 'wall',
    name: `${group} row`,
    batch: 1,
    engineMs: 100,
    engineMsMin: 90,
    engineMsMax: 110,
    peers,
  });
  const rows = [
    row('inference', { 'tfjs-webgpu': timing([300, 250, 280], [100, 100, 100], 1e-6) }),
    row(
      'inference',
      { 'tfjs-webgpu': timing([190, 210, 200], [100, 100, 100], 1e-6), 'ort-web-webgpu': timing([120, 130, 90], [100, 100, 100], 2e-6) },
      'chromium',
    ),
    row('training', { 'tfjs-webgpu': timing([500, 520], [100, 110], 3e-6) }),
  ];

  it('ratios are peer / engine per round (median, min–max), and each goal is judged on its worst row', () => {
    const t = rows[0]!.peers['tfjs-webgpu']!;
    expect([t.ratio, t.ratioMin, t.ratioMax, t.ms]).toEqual([2.8, 2.5, 3, 280]);
    const goals = judgeGoals(rows);
    expect(goals.map((g) => [g.library, g.group, g.worst, g.met, g.rows])).toEqual([
      ['tfjs-webgpu', 'inference', 2, true, 2],
      ['ort-web-webgpu', 'inference', 1.2, true, 1],
      ['tfjs-webgpu', 'training', (500 / 100 + 520 / 110) / 2, true, 1],
    ]);
    const unjudged = judgeGoals(rows.slice(0, 1))[1]!;
    expect([unjudged.rows, unjudged.worst, unjudged.met]).toEqual([0, undefined, undefined]);
    expect(() => pairTimes([1, 2], [1])).toThrow(/same number of rounds/);
  });

  it('outputs beyond the agreement tolerance, or NaN, are reported as disagreements naming the row and library', () => {
    expect(disagreements(rows)).toEqual([]);
    const off = row('inference', { 'ort-web-webgpu': timing([1], [1], 2 * AGREEMENT_TOLERANCE.inference) }, 'chromium');
    const nan = row('factorization', { 'tfjs-webgpu': timing([1], [1], Number.NaN) });
    const found = disagreements([...rows, off, nan]);
    expect(found).toHaveLength(2);
    expect(found[0]).toMatch(/inference row, batch 1 \(Chromium\): ort-web-webgpu differs from the engine by 2\.00e-3/);
    expect(found[1]).toMatch(/factorization row, batch 1: tfjs-webgpu differs from the engine by NaN/);
  });

  let chromium: LaunchedChromium | undefined;
  afterAll(async () => chromium?.close());

  it('the table and the HTML page carry every row, the goals and the adapters; the page draws its chart', async () => {
    const report: PeerReport = {
      adapter: 'test adapter',
      adapters: { node: 'node adapter', chromium: 'chromium adapter' },
      date: '2026-11-29T00:00:00.000Z',
      command: 'npm run bench:peers -- --quick',
      quick: true,
      seconds: 12,
      libraries: { 'tfjs-webgpu': 'TF.js 4.22.0', 'ort-web-webgpu': 'onnxruntime-web 1.30.0' },
      rows,
      goals: judgeGoals(rows),
    };
    const text = formatPeerReport(report);
    expect(text).toContain('2.80× (2.50–3.00)');
    expect(text).toContain('chromium adapter');
    expect(text.split('\n').filter((l) => l.includes(' row · batch 1')).length).toBe(3);
    const html = renderPeerReportHtml(report);
    expect(html).toContain('id="chart-ratios"');
    expect(html).toContain('node adapter');
    const data = JSON.parse(/<script type="application\/json" id="peer-data">([^<]*)<\/script>/.exec(html)![1]!) as { rows: unknown[]; libraries: string[] };
    expect(data.rows.length).toBe(3);
    expect(data.libraries).toEqual(['tfjs-webgpu', 'ort-web-webgpu']);
    expect(html).not.toMatch(/<script[^>]*\ssrc=/i);
    chromium = await launchChromium();
    const state = await drawReport(chromium.browser, html);
    expect(state.error).toBeUndefined();
    expect(state.pageErrors).toEqual([]);
    expect(state.drawn).toBe(peerReportChartCount(report));
    expect(peerReportChartCount(report)).toBe(2);
  });
});
