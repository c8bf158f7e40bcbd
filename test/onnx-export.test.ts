/**
 * ONNX export (src/io/onnx/export.ts): IR graphs with every node kind, exported at several
 * opsets and run by onnxruntime-node against the engine running the same graph; the round trip
 * importOnnx → exportOnnx on the import test's models (onnxruntime on both files); the file's
 * structure (names, symbolic batch, layouts); errors; and the engine's Inception-v3 at 299×299
 * exported with exportInceptionV3Onnx, run by onnxruntime against the model's folded forward,
 * and imported back into the engine.
 *
 * Tolerance: norm-wise relative error max|got − ref| / max|ref| ≤ 1e-4.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { InvalidArgumentError } from '../src/runtime/errors.js';
import { compileGraph } from '../src/graph/execute.js';
import { GraphError, inferShapes, type Graph, type GraphNode, type GraphPadding } from '../src/graph/ir.js';
import { InceptionV3 } from '../src/models/inception-v3.js';
import { exportInceptionV3Onnx, exportOnnx, importOnnx } from '../src/io/onnx/index.js';
import { decodeModelProto, int64ToNumber } from '../src/io/onnx/schema.js';
import { testEngine } from './support/engine.js';
import { compare } from './support/compare.js';
import { freshSeed, makeRng, type Rng } from './support/random.js';
import { nchwToNhwc, nhwcToNchw, ONNX_CASES, runOrt, uniform } from './support/onnx-builder.js';

const TOLERANCE = 1e-4;

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
const worst: number[] = [];
afterAll(() => {
  engine?.destroy();
  if (worst.length > 0) console.log(`largest relative error in onnx-export: ${Math.max(...worst).toExponential(2)} over ${worst.length} comparisons`);
});

const seed = freshSeed();

function expectClose(got: Float32Array, ref: Float32Array, what: string, tolerance = TOLERANCE): void {
  expect(got.length, `${what}: length`).toBe(ref.length);
  const c = compare(got, ref);
  worst.push(c.relErr);
  expect(c.nonFinite, `${what}: non-finite output at ${c.nonFinite}`).toBe(-1);
  expect(c.relErr, `${what}: worst at ${c.worstIndex}: ${got[c.worstIndex]} vs ${ref[c.worstIndex]}`).toBeLessThanOrEqual(tolerance);
}

/** Runs the IR graph on the engine for an NHWC input [N, H, W, C]. */
async function runEngine(graph: Graph, nhwc: Float32Array, n: number): Promise<Float32Array> {
  const model = compileGraph(engine, graph);
  try {
    return await engine.scope(async () => (await model.run(engine.tensor(nhwc, [n, ...graph.input.shape])).read()) as Float32Array);
  } finally {
    model.dispose();
  }
}

/** A node without its output (the builder names it after the node). */
type NodeInit = GraphNode extends unknown ? (GraphNode extends infer N ? (N extends GraphNode ? Omit<N, 'output'> : never) : never) : never;

/** IR graphs node by node, random weights; each method returns the value it writes. */
class GraphBuilder {
  readonly nodes: GraphNode[] = [];
  readonly weights: Graph['weights'] = new Map();

  constructor(
    private readonly rng: Rng,
    readonly inputShape: [number, number, number],
  ) {}

  graph(output: string, outputIsProbabilities = false): Graph {
    return {
      source: 'export-test',
      input: { name: 'image', shape: [...this.inputShape] },
      output,
      nodes: [...this.nodes],
      weights: this.weights,
      outputIsProbabilities,
    };
  }

  shape(v: string): number[] {
    return inferShapes(this.graph(v)).get(v)!;
  }

  private weight(name: string, shape: number[], lo: number, hi: number): string {
    this.weights.set(name, {
      shape,
      data: uniform(
        this.rng,
        shape.reduce((a, b) => a * b, 1),
        lo,
        hi,
      ),
    });
    return name;
  }

  private add(node: NodeInit): string {
    this.nodes.push({ ...node, output: `${node.name}:0` } as GraphNode);
    return `${node.name}:0`;
  }

  conv(
    name: string,
    x: string,
    cout: number,
    kernel: [number, number],
    o: { stride?: [number, number]; padding?: GraphPadding; bias?: boolean; relu?: boolean } = {},
  ): string {
    const cin = this.shape(x).at(-1)!;
    const s = Math.sqrt(3 / (kernel[0] * kernel[1] * cin));
    const weight = this.weight(`${name}.weight`, [kernel[0], kernel[1], cin, cout], -s, s);
    const bias = o.bias ? { bias: this.weight(`${name}.bias`, [cout], -0.5, 0.5) } : {};
    return this.add({
      op: 'conv2d',
      name,
      inputs: [x],
      weight,
      ...bias,
      stride: o.stride ?? [1, 1],
      padding: o.padding ?? [0, 0, 0, 0],
      ...(o.relu ? { relu: true } : {}),
    });
  }

  batchNorm(name: string, x: string, o: { gamma?: boolean; beta?: boolean } = {}): string {
    const c = this.shape(x).at(-1)!;
    return this.add({
      op: 'batchNorm',
      name,
      inputs: [x],
      ...((o.gamma ?? true) ? { gamma: this.weight(`${name}.weight`, [c], 0.5, 1.5) } : {}),
      ...((o.beta ?? true) ? { beta: this.weight(`${name}.bias`, [c], -0.5, 0.5) } : {}),
      mean: this.weight(`${name}.running_mean`, [c], -0.5, 0.5),
      variance: this.weight(`${name}.running_var`, [c], 0.5, 2),
      eps: 1e-3,
    });
  }

  dense(name: string, x: string, units: number, o: { bias?: boolean; relu?: boolean } = {}): string {
    const fin = this.shape(x)[0]!;
    const s = Math.sqrt(3 / fin);
    const bias = o.bias ? { bias: this.weight(`${name}.bias`, [units], -0.5, 0.5) } : {};
    return this.add({ op: 'dense', name, inputs: [x], weight: this.weight(`${name}.weight`, [fin, units], -s, s), ...bias, ...(o.relu ? { relu: true } : {}) });
  }

  node(node: NodeInit): string {
    return this.add(node);
  }
}

/** Every IR node kind: conv (bias, fused ReLU, asymmetric padding, strides), BatchNorm with
 * and without γ / β, both pools and both average-pool conventions, concat, residual add,
 * 'hwc' and 'chw' flatten, global pool, dense (bias, ReLU, none), BatchNorm on a flat value,
 * dropout and softmax. */
function graphA(rng: Rng): Graph {
  const b = new GraphBuilder(rng, [11, 9, 3]);
  let x = b.conv('stem', 'image', 8, [3, 3], { stride: [2, 1], padding: [1, 2, 0, 1], bias: true, relu: true }); // [6, 8, 8]
  x = b.batchNorm('stem_bn', x, { gamma: false });
  const pooled = b.node({ op: 'maxPool', name: 'pool1', inputs: [x], kernel: [2, 3], stride: [1, 2], padding: [0, 1, 1, 0] }); // [6, 4, 8]
  let br1 = b.conv('branch1', pooled, 5, [1, 1]);
  br1 = b.batchNorm('branch1_bn', br1, { beta: false });
  br1 = b.node({ op: 'relu', name: 'branch1_relu', inputs: [br1] });
  const br2 = b.node({ op: 'avgPool', name: 'branch2', inputs: [pooled], kernel: [3, 3], stride: [1, 1], padding: [1, 1, 1, 1], countIncludePad: false });
  const br3 = b.conv('branch3', pooled, 3, [1, 3], { padding: [0, 0, 1, 1], relu: true });
  let y = b.node({ op: 'concat', name: 'mixed', inputs: [br1, br2, br3] }); // [6, 4, 16]
  y = b.conv('project', y, 8, [1, 1], { bias: true });
  y = b.node({ op: 'add', name: 'residual', inputs: [pooled, y] });
  y = b.node({ op: 'avgPool', name: 'pool2', inputs: [y], kernel: [2, 2], stride: [2, 2], padding: [0, 1, 0, 1], countIncludePad: true }); // [3, 3, 8]
  const flatHwc = b.node({ op: 'flatten', name: 'flatten_hwc', inputs: [y], order: 'hwc' });
  let z = b.dense('fc1', flatHwc, 10, { bias: true, relu: true });
  z = b.node({ op: 'dropout', name: 'dropout', inputs: [z], rate: 0.2 });
  z = b.dense('fc2', z, 6, { bias: true });
  const flatChw = b.node({ op: 'flatten', name: 'flatten_chw', inputs: [y], order: 'chw' });
  let w = b.dense('fc3', flatChw, 6);
  w = b.batchNorm('fc3_bn', w);
  z = b.node({ op: 'add', name: 'sum', inputs: [z, w] });
  z = b.node({ op: 'softmax', name: 'softmax', inputs: [z] });
  return b.graph(z, true);
}

/** A global pool, the flatten of a flat value, a dense layer without bias, a flat concat. */
function graphB(rng: Rng): Graph {
  const b = new GraphBuilder(rng, [5, 7, 4]);
  const x = b.conv('conv', 'image', 6, [3, 3], { stride: [2, 2], padding: [1, 1, 1, 1], relu: true });
  const g = b.node({ op: 'globalAvgPool', name: 'gap', inputs: [x] });
  const f = b.node({ op: 'flatten', name: 'flatten', inputs: [g], order: 'hwc' });
  const d1 = b.dense('fc_a', f, 4, { relu: true });
  const d2 = b.dense('fc_b', g, 3, { bias: true });
  const c = b.node({ op: 'concat', name: 'cat', inputs: [d1, d2] });
  return b.graph(b.dense('logits', c, 5, { bias: true }));
}

describe(`exportOnnx against onnxruntime (seed ${seed})`, () => {
  const graphs: [string, (rng: Rng) => Graph][] = [
    ['every node kind', graphA],
    ['global pool, flat flatten, flat concat', graphB],
  ];
  graphs.forEach(([what, make], k) => {
    for (const opset of [7, 11, 13, 21]) {
      it(`${what}, opset ${opset}: onnxruntime on the file matches the engine on the graph, batches 1 and 3`, async () => {
        const rng = makeRng(seed + 100 * k + opset);
        const graph = make(rng);
        const bytes = exportOnnx(graph, { opset });
        const [h, w, c] = graph.input.shape as [number, number, number];
        for (const n of [1, 3]) {
          const nhwc = uniform(rng, n * h * w * c, -2, 2);
          const ref = await runOrt(bytes, nhwcToNchw(nhwc, [n, h, w, c]), [n, c, h, w]);
          expect(ref.dims).toEqual([n, inferShapes(graph).get(graph.output)![0]]);
          expectClose(await runEngine(graph, nhwc, n), ref.data, `${what} opset ${opset} batch ${n}`);
        }
      });
    }
  });

  it('writes NCHW with a symbolic batch, node names kept, OIHW conv weights, the opset and producer asked for', () => {
    const graph = graphA(makeRng(seed + 5));
    const model = decodeModelProto(exportOnnx(graph, { opset: 17, producer: 'unit-test', producerVersion: '9.9' }));
    expect(int64ToNumber(model.ir_version)).toBe(8);
    expect(model.opset_import!.map((o) => [o.domain ?? '', int64ToNumber(o.version)])).toEqual([['', 17]]);
    expect([model.producer_name, model.producer_version]).toEqual(['unit-test', '9.9']);
    const g = model.graph!;
    expect(g.input!.map((v) => v.name)).toEqual(['image']);
    const dims = g.input![0]!.type!.tensor_type!.shape!.dim!;
    expect(dims.map((d) => d.dim_param || int64ToNumber(d.dim_value))).toEqual(['batch', 3, 11, 9]);
    expect(g.output!.map((v) => v.name)).toEqual(['softmax:0']);
    const names = g.node!.map((n) => n.name);
    for (const node of graph.nodes) expect(names).toContain(node.name);
    expect(names).toContain('stem/relu');
    expect(names).toContain('flatten_hwc/transpose');
    const conv = g.node!.find((n) => n.name === 'stem')!;
    expect(conv.op_type).toBe('Conv');
    const pads = conv.attribute!.find((a) => a.name === 'pads')!.ints!.map(int64ToNumber);
    expect(pads).toEqual([1, 0, 2, 1]); // [top, left, bottom, right] from the IR's [1, 2, 0, 1]
    const w = g.initializer!.find((t) => t.name === 'stem.weight')!;
    expect(w.dims!.map(int64ToNumber)).toEqual([8, 3, 3, 3]);
    const hwio = graph.weights.get('stem.weight')!.data;
    const view = new DataView(w.raw_data!.buffer, w.raw_data!.byteOffset);
    for (const [o, i, y, x] of [
      [0, 0, 0, 0],
      [7, 2, 1, 2],
      [3, 1, 2, 0],
    ] as const)
      expect(view.getFloat32((((o * 3 + i) * 3 + y) * 3 + x) * 4, true)).toBe(hwio[((y * 3 + x) * 3 + i) * 8 + o]);
    expect(g.node!.find((n) => n.name === 'dropout')!.input!.length).toBe(2); // opset ≥ 12: ratio is an input
  });

  it('round trip: importOnnx then exportOnnx gives a file onnxruntime runs to the same outputs as the original', async () => {
    for (const [k, testCase] of ONNX_CASES.entries()) {
      const rng = makeRng(seed + 7000 + k);
      const original = testCase.build(rng);
      const graph = importOnnx(original, `case${k}.onnx`);
      const again = exportOnnx(graph);
      const [c, h, w] = testCase.chw;
      const x = uniform(rng, 3 * c * h * w, -2, 2);
      // A tf2onnx-style original takes NHWC; the export always takes NCHW.
      const a = testCase.inputLayout === 'nhwc' ? await runOrt(original, nchwToNhwc(x, [3, c, h, w]), [3, h, w, c]) : await runOrt(original, x, [3, c, h, w]);
      const b = await runOrt(again, x, [3, c, h, w]);
      expect(b.dims).toEqual(a.dims);
      expectClose(b.data, a.data, `round trip of '${testCase.name}'`, 1e-5);
      // And once more through the importer: the same IR.
      const back = importOnnx(again, 'again.onnx');
      expect(back.nodes.map((n) => n.op)).toEqual(graph.nodes.map((n) => n.op));
      expect(back.outputIsProbabilities).toBe(graph.outputIsProbabilities);
      expectClose(await runEngine(back, nchwToNhwc(x, [3, c, h, w]), 3), a.data, `engine on the round trip of '${testCase.name}'`);
    }
  });

  it('errors: an opset outside 7–21, a graph that does not check', () => {
    const graph = graphB(makeRng(seed + 9));
    expect(() => exportOnnx(graph, { opset: 6 })).toThrow(InvalidArgumentError);
    expect(() => exportOnnx(graph, { opset: 22 })).toThrow(/exportOnnx: opset must be an integer from 7 to 21, got 22/);
    const broken: Graph = { ...graph, nodes: graph.nodes.map((n) => (n.name === 'fc_a' ? { ...n, weight: 'nope' } : n)) };
    expect(() => exportOnnx(broken)).toThrow(GraphError);
    expect(() => exportOnnx(broken)).toThrow(/export-test: node 'fc_a' \(dense\) reads the weight 'nope'/);
  });
});

describe(`Inception-v3 to ONNX (seed ${seed})`, () => {
  it('299×299, batch 1: onnxruntime on exportInceptionV3Onnx matches forward(x, "folded"), and so does the file imported back', async () => {
    const model = new InceptionV3(engine, { seed, auxLogits: false });
    try {
      // Random BatchNorm parameters and statistics, so the export of each is tested.
      const rng = makeRng(seed + 1);
      for (const [name, p] of model.convs) {
        if (!p.gamma) continue;
        const c = p.gamma.size;
        model.setBatchNorm(name, {
          gamma: uniform(rng, c, 0.6, 1.2),
          beta: uniform(rng, c, -0.2, 0.2),
          runningMean: uniform(rng, c, -0.1, 0.1),
          runningVar: uniform(rng, c, 0.8, 1.6),
        });
      }
      const started = Date.now();
      const bytes = await exportInceptionV3Onnx(model);
      const exportMs = Date.now() - started;
      const size = model.inputSize;
      const nhwc = uniform(rng, size * size * 3, -1, 1);
      const expected = await engine.scope(async () => (await model.forward(engine.tensor(nhwc, [1, size, size, 3]), 'folded').read()) as Float32Array);
      const ref = await runOrt(bytes, nhwcToNchw(nhwc, [1, size, size, 3]), [1, 3, size, size]);
      expect(ref.dims).toEqual([1, 1000]);
      expectClose(expected, ref.data, 'engine forward vs onnxruntime');
      const graph = importOnnx(bytes, 'inception_v3.onnx');
      expect(graph.nodes.filter((n) => n.op === 'conv2d').length).toBe(94);
      const imported = await runEngine(graph, nhwc, 1);
      expectClose(imported, ref.data, 'imported file on the engine vs onnxruntime');
      console.log(`Inception-v3 ONNX: ${(bytes.length / 1e6).toFixed(1)} MB written in ${exportMs} ms`);
    } finally {
      model.dispose();
    }
  });
});

describe(`runExport, the future 'incept export' (seed ${seed})`, () => {
  it('writes ONNX and torchvision safetensors (format from the extension), and converts a safetensors checkpoint to ONNX', async () => {
    const { mkdtemp, readFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { runExport } = await import('../src/cli/export.js');
    const { decodeSafetensors } = await import('../src/io/safetensors.js');
    const dir = await mkdtemp(join(tmpdir(), 'incept-export-'));
    try {
      const lines: string[] = [];
      const common = { engine, variant: 'cifar10' as const, width: 0.25, seed, log: (l: string) => lines.push(l) };
      const st = await runExport({ ...common, out: join(dir, 'small.safetensors'), numClasses: 7 });
      expect(st.format).toBe('safetensors');
      const decoded = decodeSafetensors(new Uint8Array(await readFile(st.path)));
      expect(decoded.tensors.get('fc.weight')!.shape[0]).toBe(7);
      expect(decoded.tensors.has('AuxLogits.fc.weight')).toBe(true);
      expect(lines[0]).toMatch(
        /^wrote .*small\.safetensors: [\d.]+ MB, [\d,]+ parameters \(Inception-v3 CIFAR-10 variant, 7 classes; torchvision-layout safetensors, with the aux head; random init, seed \d+\)$/,
      );

      const onnx = await runExport({ ...common, out: join(dir, 'small.onnx'), weights: st.path, opset: 17 });
      expect(onnx.format).toBe('onnx');
      expect(onnx.parameters).toBeLessThan(st.parameters); // no aux head in the inference graph
      expect(lines[1]).toMatch(/small\.onnx: .* 7 classes; ONNX opset 17, input \[batch, 3, 32, 32\] NCHW; weights from .*small\.safetensors\)$/);
      const bytes = new Uint8Array(await readFile(onnx.path));
      const graph = importOnnx(bytes, 'small.onnx');
      const weights = [...graph.weights.entries()].filter(([name]) => !/running_(mean|var)$/.test(name));
      expect(weights.reduce((s, [, w]) => s + w.data.length, 0)).toBe(onnx.parameters);
      // The checkpoint's weights made it: onnxruntime on the file agrees with the engine on the import.
      const rng = makeRng(seed + 3);
      const nhwc = uniform(rng, 32 * 32 * 3, -1, 1);
      const ref = await runOrt(bytes, nhwcToNchw(nhwc, [1, 32, 32, 3]), [1, 3, 32, 32]);
      expectClose(await runEngine(graph, nhwc, 1), ref.data, 'exported CIFAR-10 variant');

      await expect(runExport({ ...common, out: join(dir, 'model.bin') })).rejects.toThrow(
        /cannot tell the format from '.*model\.bin': name the file \.onnx or \.safetensors, or pass --format onnx\|safetensors/,
      );
      await expect(runExport({ ...common, out: join(dir, 'x.onnx'), opset: 5 })).rejects.toThrow(/--opset needs an integer from 7 to 21, got 5/);
      await expect(runExport({ ...common, out: join(dir, 'x.onnx'), weights: join(dir, 'missing.safetensors') })).rejects.toThrow(
        /missing\.safetensors: no such safetensors file/,
      );
      await expect(runExport({ ...common, out: join(dir, 'x.onnx'), weights: st.path, numClasses: 10 })).rejects.toThrow(
        /--classes 10 does not match .*small\.safetensors, whose fc\.weight has 7 classes/,
      );
      await expect(runExport({ ...common, out: join(dir, 'no-such-dir', 'x.onnx') })).rejects.toThrow(/incept export: could not write .*no-such-dir/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
