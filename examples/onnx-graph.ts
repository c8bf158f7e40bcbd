/**
 * Runs a generic ONNX graph, not a classifier: a small residual feature extractor that maps a
 * 16×16 RGB image to an 8×8×4 feature map. The graph is written in code as the engine's graph IR,
 * saved as an ONNX file (exportOnnx), then loaded like any ONNX file (importOnnx) and compiled
 * onto the GPU (compileGraph). The result is checked against the same network computed in plain
 * JavaScript below, so the example fails loudly if the GPU disagrees.
 *
 *   node onnx-graph.js [file.onnx]      (default: tiny-residual.onnx, written first)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { compileGraph, createEngine, exportOnnx, importOnnx, type Graph, type GraphWeight } from 'incept-gpu';

const file = process.argv[2] ?? 'tiny-residual.onnx';
const H = 16,
  W = 16,
  C = 3,
  F = 8,
  OUT = 4;

/** Seeded weights in [-scale, scale]. */
function weight(shape: number[], seed: number, scale: number): GraphWeight {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return { shape, data };
}

// conv 3×3 + BatchNorm + ReLU → a; conv 3×3 + ReLU → b; a + b; 2×2 max-pool; 1×1 conv; flatten.
const graph: Graph = {
  source: 'tiny-residual',
  input: { name: 'image', shape: [H, W, C] },
  output: 'features',
  nodes: [
    { op: 'conv2d', name: 'stem', inputs: ['image'], output: 'stem_out', weight: 'stem.w', bias: 'stem.b', stride: [1, 1], padding: [1, 1, 1, 1] },
    {
      op: 'batchNorm',
      name: 'stem_bn',
      inputs: ['stem_out'],
      output: 'stem_bn_out',
      gamma: 'bn.gamma',
      beta: 'bn.beta',
      mean: 'bn.mean',
      variance: 'bn.var',
      eps: 1e-3,
    },
    { op: 'relu', name: 'stem_relu', inputs: ['stem_bn_out'], output: 'a' },
    { op: 'conv2d', name: 'branch', inputs: ['a'], output: 'b', weight: 'branch.w', stride: [1, 1], padding: [1, 1, 1, 1], relu: true },
    { op: 'add', name: 'residual', inputs: ['a', 'b'], output: 'sum' },
    { op: 'maxPool', name: 'pool', inputs: ['sum'], output: 'pooled', kernel: [2, 2], stride: [2, 2], padding: [0, 0, 0, 0] },
    { op: 'conv2d', name: 'head', inputs: ['pooled'], output: 'map', weight: 'head.w', stride: [1, 1], padding: [0, 0, 0, 0] },
    { op: 'flatten', name: 'flatten', inputs: ['map'], output: 'features', order: 'chw' },
  ],
  weights: new Map([
    ['stem.w', weight([3, 3, C, F], 1, 0.4)],
    ['stem.b', weight([F], 2, 0.1)],
    ['bn.gamma', { shape: [F], data: new Float32Array(F).map((_, i) => 0.8 + 0.05 * i) }],
    ['bn.beta', weight([F], 3, 0.1)],
    ['bn.mean', weight([F], 4, 0.2)],
    ['bn.var', { shape: [F], data: new Float32Array(F).map((_, i) => 0.5 + 0.1 * i) }],
    ['branch.w', weight([3, 3, F, F], 5, 0.2)],
    ['head.w', weight([1, 1, F, OUT], 6, 0.5)],
  ]),
};

if (!process.argv[2]) writeFileSync(file, exportOnnx(graph));
const imported = importOnnx(readFileSync(file), file);

const batch = 2;
const input = weight([batch, H, W, C], 7, 1).data;
const engine = await createEngine();
try {
  const model = compileGraph(engine, imported);
  const x = engine.tensor(input, [batch, H, W, C]);
  const y = model.run(x);
  const gpu = (await y.read()) as Float32Array;
  x.dispose();
  y.dispose();
  model.dispose();

  const cpu = referenceForward(input, batch);
  let worst = 0;
  for (let i = 0; i < cpu.length; i++) worst = Math.max(worst, Math.abs(gpu[i]! - cpu[i]!) / (1e-3 + Math.abs(cpu[i]!)));
  console.log(
    `${file}: ${imported.nodes.length} nodes, ${model.parameterCount} parameters, [${batch}, ${H}, ${W}, ${C}] → [${batch}, ${model.outputSize}] (${OUT}×${H / 2}×${W / 2} per image) on ${engine.adapterName}`,
  );
  console.log(`first features: ${Array.from(gpu.slice(0, 6), (v) => v.toFixed(4)).join(' ')}`);
  console.log(`largest relative difference from the plain-JavaScript forward: ${worst.toExponential(2)}`);
  if (!(worst < 1e-3)) throw new Error(`the GPU result differs from the reference by ${worst}`);
} finally {
  engine.destroy();
}

/** The same network on the CPU, NHWC, from the graph's own weights. */
function referenceForward(x: Float32Array, n: number): Float32Array {
  const w = (name: string): Float32Array => graph.weights.get(name)!.data;
  const conv = (v: Float32Array, h: number, wd: number, cin: number, k: number, cout: number, kernel: Float32Array, bias?: Float32Array): Float32Array => {
    const out = new Float32Array(n * h * wd * cout);
    const pad = (k - 1) / 2;
    for (let b = 0; b < n; b++)
      for (let i = 0; i < h; i++)
        for (let j = 0; j < wd; j++)
          for (let o = 0; o < cout; o++) {
            let s = bias ? bias[o]! : 0;
            for (let di = 0; di < k; di++)
              for (let dj = 0; dj < k; dj++) {
                const ii = i + di - pad,
                  jj = j + dj - pad;
                if (ii < 0 || jj < 0 || ii >= h || jj >= wd) continue;
                for (let c = 0; c < cin; c++) s += v[((b * h + ii) * wd + jj) * cin + c]! * kernel[((di * k + dj) * cin + c) * cout + o]!;
              }
            out[((b * h + i) * wd + j) * cout + o] = s;
          }
    return out;
  };
  const relu = (v: Float32Array) => v.map((t) => Math.max(0, t));
  const stem = conv(x, H, W, C, 3, F, w('stem.w'), w('stem.b'));
  const [g, beta, mean, variance] = [w('bn.gamma'), w('bn.beta'), w('bn.mean'), w('bn.var')];
  const a = relu(stem.map((t, i) => (g[i % F]! * (t - mean[i % F]!)) / Math.sqrt(variance[i % F]! + 1e-3) + beta[i % F]!));
  const b = relu(conv(a, H, W, F, 3, F, w('branch.w')));
  const sum = a.map((t, i) => t + b[i]!);
  const h2 = H / 2,
    w2 = W / 2;
  const pooled = new Float32Array(n * h2 * w2 * F);
  for (let bb = 0; bb < n; bb++)
    for (let i = 0; i < h2; i++)
      for (let j = 0; j < w2; j++)
        for (let c = 0; c < F; c++) {
          let m = -Infinity;
          for (let di = 0; di < 2; di++) for (let dj = 0; dj < 2; dj++) m = Math.max(m, sum[((bb * H + 2 * i + di) * W + 2 * j + dj) * F + c]!);
          pooled[((bb * h2 + i) * w2 + j) * F + c] = m;
        }
  const map = conv(pooled, h2, w2, F, 1, OUT, w('head.w'));
  // Flatten in channel-major order, as an NCHW framework's flatten would.
  const out = new Float32Array(n * OUT * h2 * w2);
  for (let bb = 0; bb < n; bb++)
    for (let c = 0; c < OUT; c++) for (let i = 0; i < h2 * w2; i++) out[bb * OUT * h2 * w2 + c * h2 * w2 + i] = map[(bb * h2 * w2 + i) * OUT + c]!;
  return out;
}
