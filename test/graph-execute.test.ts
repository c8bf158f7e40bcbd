/**
 * The graph executor (src/graph/execute.ts): every node kind against the float64 evaluator of
 * the IR (test/reference/graph.ts), fused and unfused, at odd sizes and batches 1 and 3, with
 * outputs poisoned; the zero-copy concat; memory after a run; errors for bad graphs and bad
 * inputs; weights given as GPU tensors (BatchNorm folded on the GPU, nothing uploaded or freed);
 * and the engine's Inception-v3 as a graph (src/graph/from-inception-v3.ts) against the
 * model's own folded forward.
 *
 * Tolerance: norm-wise relative error max|got − ref| / max|ref| ≤ 1e-4 (float32 sums of at most
 * a few hundred terms, and host-folded BatchNorm, against float64).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { InvalidArgumentError } from '../src/runtime/errors.js';
import { compileGraph, type GraphModel } from '../src/graph/execute.js';
import { inceptionV3Graph } from '../src/graph/from-inception-v3.js';
import { GraphError, inferShapes, type AnyGraphWeight, type Graph, type GraphTensorWeight } from '../src/graph/ir.js';
import { Builder } from './support/graph-builder.js';
import { InceptionV3 } from '../src/models/inception-v3.js';
import { totals, type InceptionV3Options } from '../src/models/inception-v3-spec.js';
import { testEngine } from './support/engine.js';
import { assertClose } from './support/compare.js';
import { freshSeed, makeRng, randomArray } from './support/random.js';
import { graphRef } from './reference/graph.js';

const TOLERANCE = 1e-4;

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const seed = freshSeed();
const rng = makeRng(seed);

/** Runs the compiled graph on host data (inside a scope) and returns its output. */
async function runOn(model: GraphModel<AnyGraphWeight>, x: Float32Array, n: number): Promise<Float32Array> {
  return engine.scope(async () => {
    const y = model.run(engine.tensor(x, [n, ...model.inputShape]));
    expect(y.shape).toEqual([n, model.outputSize]);
    return (await y.read()) as Float32Array;
  });
}

/** The graph fused and unfused against the float64 reference, and fused against unfused. */
async function checkGraph(graph: Graph, n: number, what: string): Promise<void> {
  const x = randomArray(rng, n * graph.input.shape.reduce((a, b) => a * b, 1));
  const ref = graphRef(graph, x, n);
  const outputs: Float32Array[] = [];
  for (const fuse of [true, false]) {
    const model = compileGraph(engine, graph, { fuse });
    try {
      const got = await runOn(model, x, n);
      assertClose(got, ref, TOLERANCE, `${what}, batch ${n}, ${fuse ? 'fused' : 'unfused'}`);
      outputs.push(got);
    } finally {
      model.dispose();
    }
  }
  assertClose(outputs[0]!, outputs[1]!, TOLERANCE, `${what}, batch ${n}: fused vs unfused`);
}

/** Every kind of node, in small graphs at odd sizes. */
const cases: [string, () => Graph][] = [
  [
    'conv2d: 1×1, 3×3 stride 2 with uneven padding, 1×7, 7×1, 5×5 stride 1×2, odd channels, bias and relu',
    () => {
      const b = new Builder(rng, [9, 11, 5]);
      let v = b.conv('x', 6, [3, 3], { stride: [2, 2], padding: [1, 0, 1, 1], bias: true, relu: true });
      v = b.conv(v, 8, [1, 1]);
      v = b.conv(v, 8, [1, 7], { padding: [0, 0, 3, 3], relu: true });
      v = b.conv(v, 7, [7, 1], { padding: [3, 3, 0, 0], bias: true });
      v = b.conv(v, 3, [5, 5], { stride: [1, 2], padding: [2, 2, 2, 2] });
      return b.graph(b.flatten(v, 'chw'));
    },
  ],
  [
    'batchNorm: after conv (folded), after a pool (γ and β absent), after dense; relu after each',
    () => {
      const b = new Builder(rng, [7, 7, 6]);
      let v = b.relu(b.batchNorm(b.conv('x', 8, [3, 3], { padding: [1, 1, 1, 1], bias: true })));
      v = b.pool('maxPool', v, [3, 3], [2, 2], [1, 1, 1, 1]);
      v = b.relu(b.batchNorm(v, { gamma: false, beta: false }));
      v = b.batchNorm(v, { gamma: false });
      v = b.pool('avgPool', v, [2, 2], [1, 1], [0, 0, 0, 0]);
      v = b.relu(b.batchNorm(b.dense(b.flatten(v, 'chw'), 10, { bias: true })));
      return b.graph(b.dense(v, 5));
    },
  ],
  [
    'a conv with relu before a batchNorm (not foldable), a conv feeding two readers',
    () => {
      const b = new Builder(rng, [6, 5, 3]);
      const c = b.conv('x', 4, [3, 3], { padding: [1, 1, 1, 1], relu: true });
      const bn = b.batchNorm(c);
      const raw = b.conv(bn, 4, [1, 1]);
      const r = b.relu(raw);
      const sum = b.addValues(b.batchNorm(raw), r);
      return b.graph(b.flatten(sum, 'hwc'));
    },
  ],
  [
    'pools: max 2×3 stride 2×1 with padding, avg 3×3/2 counting padding or not, global average, add',
    () => {
      const b = new Builder(rng, [10, 9, 4]);
      const m = b.pool('maxPool', 'x', [2, 3], [2, 1], [0, 1, 1, 1]);
      const a1 = b.pool('avgPool', 'x', [3, 3], [2, 2], [1, 1, 1, 1], true);
      const a2 = b.pool('avgPool', 'x', [3, 3], [2, 2], [1, 1, 1, 1], false);
      const s = b.relu(b.addValues(a1, a2));
      return b.graph(b.concat([b.globalAvgPool(m), b.globalAvgPool(s), b.globalAvgPool(a2)]));
    },
  ],
  [
    'flatten in both orders, dense with relu, dropout, a flat concat, softmax',
    () => {
      const b = new Builder(rng, [3, 5, 4]);
      const f = b.concat([b.flatten('x', 'chw'), b.flatten('x', 'hwc')]);
      const d = b.dropout(b.dense(f, 7, { bias: true, relu: true }));
      // Dense layers written into a flat concat at an offset that is not a multiple of 4.
      const both = b.concat([b.dense(d, 5), b.dense(d, 6, { relu: true })]);
      return b.graph(b.softmax(b.dense(both, 6, { bias: true })), true);
    },
  ],
  [
    'concat: module branches, the input itself, a value read twice, a nested concat, a branch also read elsewhere',
    () => {
      const b = new Builder(rng, [7, 9, 6]);
      const b1 = b.relu(b.batchNorm(b.conv('x', 5, [1, 1])));
      const mid = b.relu(b.batchNorm(b.conv('x', 6, [1, 1])));
      const inner = b.concat([b.relu(b.conv(mid, 3, [1, 3], { padding: [0, 0, 1, 1] })), b.relu(b.conv(mid, 6, [3, 1], { padding: [1, 1, 0, 0] }))]);
      const pooled = b.conv(b.pool('avgPool', 'x', [3, 3], [1, 1], [1, 1, 1, 1]), 4, [1, 1], { bias: true, relu: true });
      const twice = b.pool('maxPool', 'x', [3, 3], [1, 1], [1, 1, 1, 1]);
      // A standalone relu, BatchNorm and add written in place too.
      const reluPool = b.relu(b.pool('maxPool', 'x', [3, 3], [1, 1], [1, 1, 1, 1]));
      const bnPool = b.batchNorm(b.pool('avgPool', 'x', [3, 3], [1, 1], [1, 1, 1, 1], false));
      const sum = b.addValues(twice, 'x');
      const cat = b.concat([b1, inner, 'x', pooled, twice, twice, b.dropout(mid), reluPool, bnPool, sum]);
      const out = b.addValues(b.globalAvgPool(cat), b.dense(b.globalAvgPool(b1), 5 + 9 + 6 + 4 + 12 + 6 + 18));
      return b.graph(b.dense(out, 7, { bias: true }));
    },
  ],
];

describe(`graph executor against the float64 reference (seed ${seed})`, () => {
  for (const [what, build] of cases) {
    for (const n of [1, 3]) {
      it(`${what}: batch ${n}, fused and unfused (relative error ≤ ${TOLERANCE})`, async () => {
        const graph = build();
        inferShapes(graph);
        await checkGraph(graph, n, what);
      });
    }
  }
});

/** An Inception-module-shaped graph: 1×1; 1×1 → 5×5; 1×1 → 3×3 → 3×3; avg-pool → 1×1, each
 * conv → BatchNorm → ReLU, into one concat. */
function moduleGraph(): Graph {
  const b = new Builder(rng, [9, 9, 12], 'module-graph');
  const unit = (input: string, cout: number, k: number, name: string): string =>
    b.relu(
      b.batchNorm(b.conv(input, cout, [k, k], { padding: [(k - 1) / 2, (k - 1) / 2, (k - 1) / 2, (k - 1) / 2], name: `${name}.conv` }), { name: `${name}.bn` }),
      `${name}.relu`,
    );
  const b1 = unit('x', 8, 1, 'branch1x1');
  const b5 = unit(unit('x', 6, 1, 'branch5x5_1'), 12, 5, 'branch5x5_2');
  const b3 = unit(unit(unit('x', 8, 1, 'branch3x3dbl_1'), 12, 3, 'branch3x3dbl_2'), 12, 3, 'branch3x3dbl_3');
  const bp = unit(b.pool('avgPool', 'x', [3, 3], [1, 1], [1, 1, 1, 1]), 6, 1, 'branch_pool');
  const cat = b.concat([b1, b5, b3, bp], 'module');
  return b.graph(b.dense(b.globalAvgPool(cat), 10, { bias: true }));
}

describe(`graph executor: planning, memory and profiles (seed ${seed})`, () => {
  it('a module-shaped graph: the fused run writes the branches in place (no concat copy), the unfused one copies each', async () => {
    const graph = moduleGraph();
    const n = 2;
    const x = randomArray(rng, n * 9 * 9 * 12);
    const ref = graphRef(graph, x, n);
    const copies: Record<string, number> = {};
    for (const fuse of [true, false]) {
      const model = compileGraph(engine, graph, { fuse });
      engine.profiler.enabled = true;
      engine.profiler.clear();
      try {
        assertClose(await runOn(model, x, n), ref, TOLERANCE, `module graph ${fuse ? 'fused' : 'unfused'}`);
        await engine.sync();
        const records = engine.profiler.records;
        copies[fuse ? 'fused' : 'unfused'] = records.filter((r) => r.kernel === 'concat.wgsl:copy_into_slice').length;
        const layers = new Set(records.map((r) => r.layer));
        const names = new Set(graph.nodes.map((nd) => nd.name));
        for (const l of layers) expect(names.has(l!), `dispatch filed under '${l}', not a node name`).toBe(true);
        if (fuse) {
          // conv → BatchNorm → ReLU is one dispatch, filed under the conv.
          expect(layers.has('branch5x5_2.conv')).toBe(true);
          expect(layers.has('branch5x5_2.bn')).toBe(false);
          expect(records.filter((r) => r.layer === 'branch5x5_2.conv' && r.op !== 'fill').length).toBe(1);
        } else {
          for (const name of ['branch5x5_2.conv', 'branch5x5_2.bn', 'branch5x5_2.relu', 'module']) expect(layers.has(name), name).toBe(true);
        }
      } finally {
        engine.profiler.enabled = false;
        engine.profiler.clear();
        model.dispose();
      }
    }
    expect(copies).toEqual({ fused: 0, unfused: 4 });
  });

  it('run leaves no live tensors but its result; dispose frees the weights', async () => {
    const baseline = engine.liveTensors;
    const model = compileGraph(engine, moduleGraph());
    const withWeights = engine.liveTensors;
    expect(withWeights).toBeGreaterThan(baseline);
    const x = engine.randomNormal([3, 9, 9, 12], { seed });
    const before = engine.liveTensors;
    const buffersBefore = engine.memory().liveBuffers;
    const y = model.run(x);
    expect(engine.liveTensors).toBe(before + 1);
    expect(engine.memory().liveBuffers).toBe(buffersBefore + 1);
    expect(Array.from(await y.read()).every(Number.isFinite)).toBe(true);
    y.dispose();
    x.dispose();
    expect(engine.liveTensors).toBe(withWeights);
    model.dispose();
    expect(engine.liveTensors).toBe(baseline);
    const z = engine.zeros([1, 9, 9, 12]);
    expect(() => model.run(z)).toThrow(/module-graph: run: the model was disposed/);
    z.dispose();
    expect(engine.liveTensors).toBe(baseline);
  });

  it('reports the input shape, output size, probabilities flag and parameter count', () => {
    const b = new Builder(rng, [4, 4, 3]);
    const v = b.softmax(b.dense(b.flatten(b.batchNorm(b.conv('x', 5, [3, 3], { bias: true })), 'hwc'), 6, { bias: true }));
    const model = compileGraph(engine, b.graph(v, true));
    try {
      expect(model.inputShape).toEqual([4, 4, 3]);
      expect(model.outputSize).toBe(6);
      expect(model.outputIsProbabilities).toBe(true);
      // conv 3·3·3·5 + 5, BatchNorm γ and β (its running statistics are not parameters), dense 20·6 + 6.
      expect(model.parameterCount).toBe(135 + 5 + 10 + 126);
    } finally {
      model.dispose();
    }
  });
});

/** The same graph with every weight uploaded as a tensor the caller keeps. */
function onGpu(graph: Graph): Graph<GraphTensorWeight> {
  const weights = new Map([...graph.weights].map(([name, w]) => [name, { shape: w.shape, tensor: engine.keep(engine.tensor(w.data, w.shape)) }]));
  return { ...graph, weights };
}

describe(`graph executor: weights as GPU tensors (seed ${seed})`, () => {
  /** BatchNorm after convs without a bias (folded on the GPU), after a conv with one (which the
   * GPU fold does not take: a scale-shift pass after it), on its own after a pool, into a concat. */
  const tensorCase = (): Graph => {
    const b = new Builder(rng, [8, 7, 6], 'tensor-graph');
    const plain = b.relu(b.batchNorm(b.conv('x', 5, [3, 3], { padding: [1, 1, 1, 1], name: 'plain' }), { name: 'plain.bn' }), 'plain.relu');
    const biased = b.relu(b.batchNorm(b.conv('x', 4, [1, 1], { bias: true, name: 'biased' }), { name: 'biased.bn' }));
    const pooled = b.relu(b.batchNorm(b.pool('avgPool', 'x', [3, 3], [1, 1], [1, 1, 1, 1], false), { gamma: false, name: 'pooled.bn' }));
    const cat = b.concat([plain, biased, pooled], 'cat');
    return b.graph(b.dense(b.globalAvgPool(cat), 7, { bias: true }));
  };

  it('fused, with BatchNorm unfolded and unfused: the float64 reference; folds on the GPU; uploads and frees no weight', async () => {
    const host = tensorCase();
    const graph = onGpu(host);
    const n = 2;
    const x = randomArray(rng, n * 8 * 7 * 6);
    const ref = graphRef(host, x, n);
    const baseline = engine.liveTensors;
    try {
      for (const options of [{}, { foldBatchNorm: false }, { fuse: false }]) {
        const what = `tensor weights, ${JSON.stringify(options)}`;
        engine.profiler.enabled = true;
        engine.profiler.clear();
        const model = compileGraph(engine, graph, { ...options, layerName: (node) => `L:${node.name.split('.')[0]}` });
        try {
          await engine.sync();
          const folds = engine.profiler.records.filter((r) => r.op === 'foldBatchNormInference');
          // plain.bn folds into its conv; biased.bn (the GPU fold takes no bias) and pooled.bn into a scale-shift pass.
          const folding = !('fuse' in options || 'foldBatchNorm' in options);
          expect(folds.map((r) => r.layer).sort(), what).toEqual(folding ? ['L:biased', 'L:plain', 'L:pooled'] : []);
          expect(engine.liveTensors, `${what}: only the folded scales and shifts are new`).toBe(baseline + 2 * folds.length);
          engine.profiler.clear();
          assertClose(await runOn(model, x, n), ref, TOLERANCE, what);
          await engine.sync();
          const records = engine.profiler.records;
          const layers = [...new Set(records.map((r) => r.layer))];
          expect(
            layers.every((l) => l!.startsWith('L:')),
            `${what}: ${layers.join(', ')}`,
          ).toBe(true);
          const copies = records.filter((r) => r.kernel === 'concat.wgsl:copy_into_slice').length;
          expect(copies, what).toBe('fuse' in options ? 3 : 0);
          const calls = (layer: string) => records.filter((r) => r.layer === layer && r.op !== 'fill').length;
          // One conv with its BatchNorm; a conv, then a scale-shift; a scale-shift after the pool (filed under its own node).
          if (folding) expect([calls('L:plain'), calls('L:biased'), calls('L:pooled')], what).toEqual([1, 2, 1]);
        } finally {
          engine.profiler.enabled = false;
          engine.profiler.clear();
          model.dispose();
        }
        expect(engine.liveTensors, `${what}: dispose frees the folds, not the graph's tensors`).toBe(baseline);
      }
    } finally {
      for (const w of graph.weights.values()) w.tensor.dispose();
    }
  });

  it('a tensor weight of another shape, type or engine, or disposed, is refused at compile time, naming it', async () => {
    const b = new Builder(rng, [5, 5, 2], 'tensor-graph');
    const graph = onGpu(b.graph(b.dense(b.globalAvgPool(b.relu(b.batchNorm(b.conv('x', 3, [3, 3])))), 4)));
    const other = await testEngine();
    const live = engine.liveTensors;
    try {
      const conv = graph.weights.get('conv_1.w')!;
      const swap = (tensor: typeof conv.tensor): Graph<GraphTensorWeight> => ({
        ...graph,
        weights: new Map(graph.weights).set('conv_1.w', { ...conv, tensor }),
      });
      const wrongShape = engine.zeros([3, 2, 3, 3]);
      const wrongType = engine.zeros([3, 3, 2, 3], 'i32');
      const foreign = other.zeros([3, 3, 2, 3]);
      for (const t of [wrongShape, wrongType, foreign]) {
        expect(() => compileGraph(engine, swap(t))).toThrow(/tensor-graph: weight 'conv_1\.w' must be a live f32 \[3, 3, 2, 3\] tensor of the engine/);
        t.dispose();
      }
      conv.tensor.dispose();
      expect(() => compileGraph(engine, graph)).toThrow(GraphError);
      expect(engine.liveTensors).toBe(live - 1);
    } finally {
      for (const w of graph.weights.values()) w.tensor.dispose();
      other.destroy();
    }
  });
});

describe('graph executor: errors', () => {
  const small = (): Builder => {
    const b = new Builder(rng, [5, 5, 2], 'bad.onnx');
    return b;
  };

  it('a malformed graph fails at compile time, naming the source and the node', () => {
    const b = small();
    const v = b.conv('x', 3, [3, 3]);
    const g = b.graph(b.flatten(v, 'hwc'));
    g.weights.delete(g.nodes[0]!.name + '.w');
    expect(() => compileGraph(engine, g)).toThrow(GraphError);
    expect(() => compileGraph(engine, g)).toThrow(/bad\.onnx: node 'conv_1' \(conv2d\) reads the weight 'conv_1\.w'/);

    const b2 = small();
    const spatialOut = b2.graph(b2.conv('x', 3, [1, 1]));
    expect(() => compileGraph(engine, spatialOut)).toThrow(/bad\.onnx: the output 'conv_1:0' must be a flat \[F\] value.*got \[5, 5, 3\]/);

    const b3 = small();
    const emptyWindow = b3.graph(b3.globalAvgPool(b3.pool('maxPool', 'x', [2, 2], [2, 2], [2, 0, 0, 0])));
    const live = engine.liveTensors;
    expect(() => compileGraph(engine, emptyWindow)).toThrow(GraphError);
    expect(() => compileGraph(engine, emptyWindow)).toThrow(/bad\.onnx: node 'maxPool_1' \(maxPool\).*no input element/);
    expect(engine.liveTensors).toBe(live);

    const b4 = small();
    const zeroStride = b4.graph(b4.flatten(b4.conv('x', 3, [1, 1], { stride: [0, 1] }), 'hwc'));
    expect(() => compileGraph(engine, zeroStride)).toThrow(
      /bad\.onnx: node 'conv_1' \(conv2d\): stride must be \[strideH, strideW\] of positive integers, got \[0,1\]/,
    );
    expect(engine.liveTensors).toBe(live);
  });

  it('bad inputs are refused with the expected shape', async () => {
    const b = small();
    const model = compileGraph(engine, b.graph(b.globalAvgPool('x')));
    try {
      await engine.scope(async () => {
        const expected = /bad\.onnx: run: x must be f32 \[N, 5, 5, 2\] \(NHWC\)/;
        expect(() => model.run(engine.zeros([1, 5, 4, 2]))).toThrow(expected);
        expect(() => model.run(engine.zeros([5, 5, 2]))).toThrow(expected);
        expect(() => model.run(engine.zeros([1, 5, 5, 2], 'i32'))).toThrow(expected);
        expect(() => model.run(engine.zeros([0, 5, 5, 2]))).toThrow(InvalidArgumentError);
        const gone = engine.zeros([1, 5, 5, 2]);
        gone.dispose();
        expect(() => model.run(gone)).toThrow(/bad\.onnx: run: x .* was disposed/);
        const wide = engine.zeros([1, 5, 5, 4]);
        expect(() => model.run(wide.channelView(0, 2))).toThrow(/channel view/);
        const y = model.run(
          engine.tensor(
            Float32Array.from({ length: 50 }, (_, i) => i),
            [1, 5, 5, 2],
          ),
        );
        expect(Array.from(await y.read())).toEqual([24, 25]);
      });
      const other = await testEngine();
      try {
        expect(() => model.run(other.zeros([1, 5, 5, 2]))).toThrow(/bad\.onnx: run: x .* belongs to another engine/);
      } finally {
        other.destroy();
      }
    } finally {
      model.dispose();
    }
  });
});

describe(`the engine's Inception-v3 as a graph (seed ${seed})`, () => {
  const variants: [string, InceptionV3Options, number][] = [
    ['75×75', { inputSize: 75, width: 1 }, 2],
    ['299×299 (torchvision)', {}, 1],
    ['CIFAR-10 at 32×32, width 0.5', { variant: 'cifar10', width: 0.5 }, 2],
  ];
  for (const [what, options, n] of variants) {
    it(`compileGraph(inceptionV3Graph(model)) matches model.forward(x, 'folded'): ${what}, batch ${n} (relative error ≤ 1e-4)`, async () => {
      const model = new InceptionV3(engine, { seed, auxLogits: false, ...options });
      let graphModel: GraphModel | undefined;
      try {
        const size = model.inputSize;
        // Realistic running statistics from a batch, then γ and β off their initial 1 and 0, so
        // every BatchNorm tensor's place in the graph matters.
        await engine.scope(async () => model.calibrate(engine.randomNormal([2, size, size, 3], { seed: seed + 1 })));
        const r = makeRng(seed + 2);
        for (const [name, p] of model.convs) {
          if (p.gamma) model.setBatchNorm(name, { gamma: randomArray(r, p.gamma.size, 0.7, 1.3), beta: randomArray(r, p.gamma.size, -0.2, 0.2) });
        }
        const graph = await inceptionV3Graph(model);
        expect(graph.source).toBe('incept:inception-v3');
        expect(graph.nodes.map((nd) => nd.name)).toEqual(
          expect.arrayContaining(['Mixed_6b.branch7x7_2.conv', 'Mixed_6b.branch7x7_2.bn', 'Mixed_6b.branch7x7_2.relu', 'Mixed_7c', 'dropout', 'fc']),
        );
        expect(graph.nodes.some((nd) => nd.name.startsWith('AuxLogits'))).toBe(false);
        graphModel = compileGraph(engine, graph);
        expect(graphModel.parameterCount).toBe(totals(model.layers.filter((l) => !l.aux)).params);
        expect(graphModel.outputSize).toBe(model.layers.at(-1)!.outputShape[0]);
        const gm = graphModel;
        await engine.scope(async () => {
          const x = engine.randomNormal([n, size, size, 3], { seed: seed + 3 });
          const expected = await model.forward(x, 'folded').read();
          engine.profiler.enabled = size <= 75;
          engine.profiler.clear();
          const got = await gm.run(x).read();
          await engine.sync();
          engine.profiler.enabled = false;
          expect(got.length).toBe(n * gm.outputSize);
          assertClose(got, expected, 1e-4, `${what}: graph vs model.forward`);
          // Every module's branches write into the module's output in place.
          expect(engine.profiler.records.filter((rec) => rec.kernel === 'concat.wgsl:copy_into_slice')).toEqual([]);
          engine.profiler.clear();
        });
      } finally {
        engine.profiler.enabled = false;
        graphModel?.dispose();
        model.dispose();
      }
    });
  }

  it('the spec and the model parameters line up with the graph for a v2 stem and 1001 classes', async () => {
    const model = new InceptionV3(engine, { seed, auxLogits: false, stem: '7x7', numClasses: 1001, width: 0.25, inputSize: 80 });
    try {
      const graph = await inceptionV3Graph(model);
      const shapes = inferShapes(graph);
      expect(shapes.get('fc')).toEqual([1001]);
      expect(shapes.get('Conv2d_1a_7x7')).toEqual([37, 37, 16]);
      const conv = graph.nodes.find((nd) => nd.name === 'Conv2d_1a_7x7.conv');
      expect(conv).toMatchObject({ op: 'conv2d', stride: [2, 2], weight: 'Conv2d_1a_7x7.conv.weight' });
      expect(graph.weights.get('Conv2d_1a_7x7.conv.weight')!.shape).toEqual([7, 7, 3, 16]);
      expect(graph.weights.get('fc.weight')!.shape).toEqual([model.linears.get('fc')!.w.shape[0], 1001]);
      const pool = graph.nodes.find((nd) => nd.name === 'Mixed_5b.avg_pool');
      expect(pool).toMatchObject({ op: 'avgPool', countIncludePad: true, padding: [1, 1, 1, 1] });
    } finally {
      model.dispose();
    }
  });
});
