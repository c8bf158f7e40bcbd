/**
 * ONNX import (src/io/onnx/import.ts): small models written in the test with random weights,
 * one per group of ops and attribute forms, imported, compiled and run on the engine (NHWC)
 * against onnxruntime-node's CPU provider on the same NCHW input, at batches 1 and 3; then the
 * errors, each of which must name the node (index, name and op_type) and what was wrong.
 *
 * Tolerance: norm-wise relative error max|got − ref| / max|ref| ≤ 1e-4 (float32 both sides,
 * sums in different orders).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { compileGraph } from '../src/graph/execute.js';
import { GraphError, type Graph } from '../src/graph/ir.js';
import { importOnnx, OnnxImportError } from '../src/io/onnx/index.js';
import { DataType } from '../src/io/onnx/schema.js';
import { testEngine } from './support/engine.js';
import { compare } from './support/compare.js';
import { freshSeed, makeRng } from './support/random.js';
import { nchwToNhwc, ONNX_CASES, OnnxBuilder, runOrt, tensorProto, uniform } from './support/onnx-builder.js';

const TOLERANCE = 1e-4;

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
const worst: { what: string; relErr: number }[] = [];
afterAll(() => {
  engine?.destroy();
  if (worst.length > 0)
    console.log(`largest relative error, engine vs onnxruntime: ${Math.max(...worst.map((w) => w.relErr)).toExponential(2)} over ${worst.length} comparisons`);
});

const seed = freshSeed();

/** Runs the graph on the engine for an NCHW input; returns [N, F]. */
export async function runEngine(e: Engine, graph: Graph, nchw: Float32Array, dims: number[]): Promise<Float32Array> {
  const model = compileGraph(e, graph);
  try {
    const [n, c, h, w] = dims as [number, number, number, number];
    return await e.scope(async () => {
      const x = e.tensor(nchwToNhwc(nchw, dims), [n, h, w, c]);
      return (await model.run(x).read()) as Float32Array;
    });
  } finally {
    model.dispose();
  }
}

describe(`importOnnx against onnxruntime (seed ${seed})`, () => {
  ONNX_CASES.forEach((testCase, k) => {
    it(`${testCase.name}: batches 1 and 3 match (relative error ≤ ${TOLERANCE})`, async () => {
      const rng = makeRng(seed + 1000 * k);
      const bytes = testCase.build(rng);
      const graph = importOnnx(bytes, `case${k}.onnx`);
      expect(graph.source).toBe(`case${k}.onnx`);
      const [c, h, w] = testCase.chw;
      expect(graph.input.shape).toEqual([h, w, c]);
      for (const n of [1, 3]) {
        const dims = [n, c, h, w];
        const x = uniform(rng, n * c * h * w, -2, 2);
        // An NHWC file takes the same pixels in NHWC order; the engine always does.
        const nhwc = testCase.inputLayout === 'nhwc';
        const ref = nhwc ? await runOrt(bytes, nchwToNhwc(x, dims), [n, h, w, c]) : await runOrt(bytes, x, dims);
        const got = await runEngine(engine, graph, x, dims);
        expect(got.length).toBe(ref.data.length);
        const cmp = compare(got, ref.data);
        worst.push({ what: `${testCase.name} batch ${n}`, relErr: cmp.relErr });
        expect(cmp.nonFinite, 'non-finite output').toBe(-1);
        expect(cmp.relErr, `batch ${n}: worst at ${cmp.worstIndex}: ${got[cmp.worstIndex]} vs ${ref.data[cmp.worstIndex]}`).toBeLessThanOrEqual(TOLERANCE);
      }
    });
  });

  it('converts layouts: OIHW → HWIO, Gemm transB and alpha into [in, out], Add of a constant into the bias, Flatten as chw', () => {
    const rng = makeRng(seed + 7);
    const b = new OnnxBuilder(13).input('x', ['batch', 2, 3, 1]);
    const w = b.initializer('w', [4, 2, 3, 1], uniform(rng, 24));
    let y = b.node('Conv', ['x', w], {}, { name: 'conv' });
    y = b.node('Add', [y, b.initializer('shift', [4, 1, 1], [1, 2, 3, 4])], {}, { name: 'shift' });
    y = b.node('Flatten', [y], {}, { name: 'flat' });
    b.node(
      'Gemm',
      [y, b.initializer('fc', [3, 4], uniform(rng, 12)), b.initializer('fc.b', [3], [1, 1, 1])],
      { transB: 1, alpha: { f: 2 }, beta: { f: 0.5 } },
      { name: 'gemm', outputs: ['y'] },
    );
    const graph = importOnnx(b.output('y').build());
    const src = b.initializers;
    const oihw = src.find((t) => t.name === 'w')!;
    const view = new DataView(oihw.raw_data!.buffer, oihw.raw_data!.byteOffset);
    const hwio = graph.weights.get('w')!;
    expect(hwio.shape).toEqual([3, 1, 2, 4]);
    for (let o = 0; o < 4; o++)
      for (let i = 0; i < 2; i++)
        for (let ky = 0; ky < 3; ky++) expect(hwio.data[(ky * 2 + i) * 4 + o]).toBe(view.getFloat32(((o * 2 + i) * 3 + ky) * 4, true));
    const conv = graph.nodes.find((n) => n.name === 'conv')!;
    expect(conv).toMatchObject({ op: 'conv2d', stride: [1, 1], padding: [0, 0, 0, 0], output: 'shift_out' });
    expect(Array.from(graph.weights.get((conv as { bias: string }).bias)!.data)).toEqual([1, 2, 3, 4]);
    expect(graph.nodes.find((n) => n.name === 'flat')).toMatchObject({ op: 'flatten', order: 'chw' });
    const dense = graph.nodes.find((n) => n.name === 'gemm')!;
    expect(dense.op).toBe('dense');
    const fc = graph.weights.get('fc')!;
    const fcSource = src.find((t) => t.name === 'fc')!;
    const fcView = new DataView(fcSource.raw_data!.buffer, fcSource.raw_data!.byteOffset);
    expect(fc.shape).toEqual([4, 3]);
    for (let i = 0; i < 4; i++) for (let o = 0; o < 3; o++) expect(fc.data[i * 3 + o]).toBe(Math.fround(2 * fcView.getFloat32((o * 4 + i) * 4, true)));
    expect(Array.from(graph.weights.get('fc.b')!.data)).toEqual([0.5, 0.5, 0.5]);
    expect(graph.nodes.map((n) => n.op)).toEqual(['conv2d', 'flatten', 'dense']);
    expect(graph.output).toBe('y');
    expect(graph.outputIsProbabilities).toBe(false);
  });

  it('reads FLOAT16, DOUBLE and INT32 initializers and Constant value_floats / value_ints', () => {
    const b = new OnnxBuilder(13).input('x', ['batch', 2, 1, 1]);
    b.initializers.push({ name: 'w', dims: [3, 2, 1, 1], data_type: DataType.FLOAT16, int32_data: [0x3c00, 0x4000, 0xbc00, 0x3800, 0, 0x4200] }); // 1, 2, -1, 0.5, 0, 3
    b.initializers.push({ name: 'bias', dims: [3], data_type: DataType.DOUBLE, double_data: [0.25, -0.5, 1] });
    let y = b.node('Conv', ['x', 'w', 'bias'], {}, { name: 'conv' });
    const shape = b.node('Constant', [], { value_ints: [0, -1] }, { name: 'shape' });
    y = b.node('Reshape', [y, shape], {}, { name: 'reshape' });
    const add = b.node('Constant', [], { value_floats: { floats: [1, 2, 3] } }, { name: 'shift' });
    y = b.node('MatMul', [y, b.initializer('fc', [3, 3], [1, 0, 0, 0, 1, 0, 0, 0, 1])], {}, { name: 'fc' });
    b.node('Add', [add, y], {}, { name: 'fc_bias', outputs: ['y'] });
    const graph = importOnnx(b.output('y').build());
    expect(Array.from(graph.weights.get('w')!.data)).toEqual([1, -1, 0, 2, 0.5, 3]); // HWIO [1, 1, 2, 3]
    expect(Array.from(graph.weights.get('bias')!.data)).toEqual([0.25, -0.5, 1]);
    expect(Array.from(graph.weights.get(graph.nodes.find((n) => n.op === 'dense')!.bias!)!.data)).toEqual([1, 2, 3]);
  });
});

describe(`importOnnx errors name the node and the problem (seed ${seed})`, () => {
  const rng = makeRng(seed + 99);
  /** A valid small model: x [N, 3, 5, 5] → Conv 3×3 → Relu → GAP → Flatten → Gemm. */
  const base = (opset = 13): OnnxBuilder => {
    const b = new OnnxBuilder(opset).input('x', ['batch', 3, 5, 5]);
    b.initializer('w', [4, 3, 3, 3], uniform(rng, 108));
    b.initializer('fc', [4, 2], uniform(rng, 8));
    return b;
  };
  const finish = (b: OnnxBuilder, y: string): Uint8Array => {
    y = b.node('GlobalAveragePool', [y], {}, { name: 'gap' });
    y = b.node('Flatten', [y], {}, { name: 'flatten' });
    b.node('Gemm', [y, 'fc'], {}, { name: 'fc', outputs: ['y'] });
    return b.output('y').build();
  };
  const expectError = (bytes: Uint8Array, pattern: RegExp): void => {
    let error: unknown;
    try {
      importOnnx(bytes, 'bad.onnx');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OnnxImportError);
    expect(error).toBeInstanceOf(GraphError);
    expect((error as Error).message).toMatch(/^bad\.onnx: /);
    expect((error as Error).message).toMatch(pattern);
  };

  it('the base model imports', () => {
    const b = base();
    expect(importOnnx(finish(b, b.node('Conv', ['x', 'w'], {}, { name: 'conv' }))).nodes.map((n) => n.op)).toEqual(['conv2d', 'globalAvgPool', 'dense']);
  });

  it('an unsupported op, and an op of another domain', () => {
    let b = base();
    let y = b.node('Conv', ['x', 'w'], {}, { name: 'conv' });
    expectError(finish(b, b.node('Sigmoid', [y], {}, { name: 'gate' })), /node #1 'gate' \(Sigmoid\): op 'Sigmoid' is not supported; supported ops: Conv, /);
    b = base();
    y = b.node('Conv', ['x', 'w'], {}, { name: 'conv' });
    expectError(
      finish(b, b.node('FusedConv', [y], {}, { name: 'fused', domain: 'com.microsoft' })),
      /node #1 'fused' \(FusedConv\): op 'FusedConv' of domain 'com\.microsoft' is not supported/,
    );
  });

  it('unsupported attribute values and names', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ group: 3 }, /node #0 'conv' \(Conv\): group 3 \(a grouped or depthwise convolution\) is not supported/],
      [{ dilations: [2, 2] }, /node #0 'conv' \(Conv\): dilations \[2, 2\] are not supported/],
      [{ auto_pad: 'SAME' }, /node #0 'conv' \(Conv\): auto_pad 'SAME' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER/],
      [{ pads: [1, 1] }, /node #0 'conv' \(Conv\): pads must be 4 non-negative integers/],
      [{ kernel_shape: [5, 5] }, /node #0 'conv' \(Conv\): kernel_shape \[5, 5\] does not match the weight's 3×3/],
      [{ bogus: 1 }, /node #0 'conv' \(Conv\): attribute 'bogus' is not supported for this op \(supported: auto_pad, /],
    ];
    for (const [attrs, pattern] of cases) {
      const b = base();
      expectError(finish(b, b.node('Conv', ['x', 'w'], attrs as Record<string, number>, { name: 'conv' })), pattern);
    }
    let b = base();
    let y: string;
    y = b.node('Conv', ['x', 'w'], { pads: [1, 1, 1, 1] }, { name: 'conv' });
    expectError(
      finish(b, b.node('AveragePool', [y], { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1, count_include_pad: 1 }, { name: 'pool' })),
      /node #1 'pool' \(AveragePool\): ceil_mode 1 with count_include_pad 1 gives partial windows .* 1 row\(s\) and 1 column\(s\) of overhang/,
    );
    b = base();
    y = b.node('Conv', ['x', 'w'], {}, { name: 'conv' });
    y = b.node('GlobalAveragePool', [y], {}, { name: 'gap' });
    y = b.node('Flatten', [y], { axis: 2 }, { name: 'flatten' });
    b.node('Gemm', [y, 'fc'], { transA: 1 }, { name: 'fc', outputs: ['y'] });
    expectError(b.output('y').build(), /node #2 'flatten' \(Flatten\): axis 2 is not supported; only axis 1/);
    b = base();
    y = b.node('Conv', ['x', 'w'], {}, { name: 'conv' });
    y = b.node('GlobalAveragePool', [y], {}, { name: 'gap' });
    y = b.node('Flatten', [y], {}, { name: 'flatten' });
    b.node('Gemm', [y, 'fc'], { transA: 1 }, { name: 'fc', outputs: ['y'] });
    expectError(b.output('y').build(), /node #3 'fc' \(Gemm\): transA 1 is not supported/);
    b = base();
    y = b.node('Conv', ['x', 'w'], {}, { name: 'conv' });
    y = b.node('Concat', [y, y], { axis: 2 }, { name: 'cat' });
    expectError(finish(b, y), /node #1 'cat' \(Concat\): axis 2 is not supported on 4-D inputs; only the channel axis/);
    b = base();
    y = b.node('Conv', ['x', 'w'], {}, { name: 'conv' });
    y = b.node('Softmax', [y], { axis: 1 }, { name: 'sm' });
    expectError(
      finish(b, y),
      /node #1 'sm' \(Softmax\): input 0 \(input\) 'conv_out' has shape \[N, 4, 3, 3\]; this op needs an \[N, F\] matrix or an \[N, C, 1, 1\] pooled value/,
    );
    b = base();
    y = b.node('Conv', ['x', 'w'], {}, { name: 'conv' });
    y = b.node('Reshape', [y, b.initializer('shape', [3], [0, 4, -1], { type: 'int64' })], {}, { name: 'reshape' });
    expectError(finish(b, y), /node #1 'reshape' \(Reshape\): reshaping \[N, 4, 3, 3\] to \[0, 4, -1\] is not supported; only a flatten to \[N, 36\]/);
    b = base();
    y = b.node('Conv', ['x', 'w'], {}, { name: 'conv' });
    y = b.node('BatchNormalization', [y, ...['s', 'b', 'm', 'v'].map((n) => b.initializer(n, [4], [1, 1, 1, 1]))], { training_mode: 1 }, { name: 'bn' });
    expectError(finish(b, y), /node #1 'bn' \(BatchNormalization\): training_mode 1 is not supported/);
  });

  it('extra outputs that are read, and an Add of a constant that cannot become a bias', () => {
    let b = base();
    let y = b.node('Conv', ['x', 'w'], {}, { name: 'conv' });
    y = b.node('Dropout', [y], {}, { name: 'drop', outputs: ['d', 'mask'] });
    b.node('Identity', ['mask'], {}, { name: 'use_mask' });
    expectError(finish(b, y), /node #1 'drop' \(Dropout\): its output 'mask' \(output 1\) is read, but only the first output is supported/);
    b = base();
    y = b.node('Conv', ['x', 'w'], {}, { name: 'conv' });
    y = b.node('Relu', [y], {}, { name: 'relu' });
    y = b.node('Add', [y, b.initializer('shift', [4, 1, 1], [1, 2, 3, 4])], {}, { name: 'shift_add' });
    expectError(
      finish(b, y),
      /node #2 'shift_add' \(Add\): adding the constant 'shift' is only supported right after a Conv, Gemm, MatMul or BatchNormalization/,
    );
    b = base();
    const conv = b.node('Conv', ['x', 'w'], {}, { name: 'conv' });
    y = b.node('Add', [conv, b.initializer('shift', [4, 1, 1], [1, 2, 3, 4])], {}, { name: 'shift_add' });
    y = b.node('Add', [y, conv], {}, { name: 'residual' });
    expectError(finish(b, y), /node #1 'shift_add' \(Add\): adding the constant 'shift' is only supported right after .* whose result nothing else reads/);
    b = base();
    y = b.node('Conv', ['x', 'w'], {}, { name: 'conv' });
    y = b.node('Add', [y, b.initializer('shift', [1, 1, 3, 3], uniform(rng, 9))], {}, { name: 'pixel_add' });
    expectError(finish(b, y), /node #1 'pixel_add' \(Add\): the constant 'shift' has shape \[1, 1, 3, 3\]; only a scalar or one value per channel/);
  });

  it('the transform_input ops anywhere else: Mul of two activations, a gathered channel fed to a conv, channels concatenated out of order', () => {
    let b = base();
    let y = b.node('Conv', ['x', 'w'], {}, { name: 'conv' });
    expectError(
      finish(b, b.node('Mul', [y, y], {}, { name: 'square' })),
      /node #1 'square' \(Mul\): Mul is supported only between one channel taken out with Gather and a scalar constant/,
    );
    const gather = (bb: OnnxBuilder, c: number, name: string): string => {
      const g = bb.node('Gather', ['x', bb.initializer(`i${c}`, [], [c], { type: 'int64' })], { axis: 1 }, { name });
      return bb.node('Unsqueeze', [g, bb.initializer(`a${c}`, [1], [1], { type: 'int64' })], {}, { name: `${name}_u` });
    };
    b = base();
    b.initializer('w1', [4, 1, 3, 3], uniform(rng, 36));
    expectError(
      finish(b, b.node('Conv', [gather(b, 0, 'g0'), 'w1'], {}, { name: 'conv1ch' })),
      /node #2 'conv1ch' \(Conv\): input 0 \(X\) 'g0_u_out' is channel 0 of 'x' taken apart \(Gather node #0 'g0'\); a channel taken out with Gather may only be rescaled/,
    );
    b = base();
    y = b.node('Concat', [gather(b, 1, 'g1'), gather(b, 0, 'g0'), gather(b, 2, 'g2')], { axis: 1 }, { name: 'swap' });
    expectError(
      finish(b, b.node('Conv', [y, 'w'], {}, { name: 'conv' })),
      /node #6 'swap' \(Concat\): a Concat of gathered channels must take all 3 channels of 'x' in order.*got channel 1, channel 0, channel 2 on axis 1/,
    );
    b = base();
    y = b.node('Mul', [gather(b, 0, 'g0'), b.initializer('k', [3], [1, 2, 3])], {}, { name: 'vector_mul' });
    expectError(finish(b, y), /node #2 'vector_mul' \(Mul\): the constant 'k' must be one floating-point number, got \[3\]/);
    b = base();
    y = b.node('Conv', ['x', 'w'], {}, { name: 'conv' });
    expectError(
      finish(b, b.node('Transpose', [y], { perm: [0, 2, 3, 1] }, { name: 'to_nhwc' })),
      /node #1 'to_nhwc' \(Transpose\): Transpose is supported only as the NHWC → NCHW transpose \(perm \[0, 3, 1, 2\]\) of the graph input/,
    );
  });

  it('several inputs or outputs', () => {
    let b = base().input('y', ['batch', 3, 5, 5]);
    expectError(
      finish(b, b.node('Conv', ['x', 'w'], {}, { name: 'conv' })),
      /the graph has 2 inputs \('x', 'y'\); importOnnx takes graphs with exactly one input/,
    );
    b = base();
    const y = b.node('Conv', ['x', 'w'], {}, { name: 'conv' });
    b.output(y);
    expectError(finish(b, y), /the graph has 2 outputs \('conv_out', 'y'\); importOnnx takes graphs with exactly one output/);
    b = new OnnxBuilder(13).input('x', ['batch', 12]);
    b.node('Relu', ['x'], {}, { name: 'r', outputs: ['y'] });
    expectError(b.output('y').build(), /the graph input 'x' has shape \[batch, 12\]; importOnnx takes an NCHW image batch \[N, C, H, W\]/);
    b = new OnnxBuilder(13).input('x', ['batch', 3, 'h', 'w']);
    b.node('Relu', ['x'], {}, { name: 'r', outputs: ['y'] });
    expectError(b.output('y').build(), /the graph input 'x' has shape \[batch, 3, h, w\]; its channels, height and width must be fixed numbers/);
  });

  it('a missing initializer, external data, an unsupported opset', () => {
    let b = base();
    expectError(
      finish(b, b.node('Conv', ['x', 'w_missing'], {}, { name: 'conv' })),
      /node #0 'conv' \(Conv\): input 1 \(W\) 'w_missing' is not the graph input, an initializer or the output of an earlier node \(a missing initializer/,
    );
    b = base();
    b.initializers.push({
      name: 'w_ext',
      dims: [4, 3, 3, 3],
      data_type: DataType.FLOAT,
      data_location: 1,
      external_data: [
        { key: 'location', value: 'weights.bin' },
        { key: 'offset', value: '0' },
      ],
    });
    expectError(
      finish(b, b.node('Conv', ['x', 'w_ext'], {}, { name: 'conv' })),
      /node #0 'conv' \(Conv\): input 1 \(W\), initializer 'w_ext', keeps its data in an external file \('weights\.bin'\), which importOnnx does not read/,
    );
    b = base();
    b.initializers.push(tensorProto('w_short', [4, 3, 3, 3], uniform(rng, 100)));
    expectError(
      finish(b, b.node('Conv', ['x', 'w_short'], {}, { name: 'conv' })),
      /node #0 'conv' \(Conv\): input 1 \(W\), initializer 'w_short', \(FLOAT \[4, 3, 3, 3\]\) needs 432 bytes of raw_data, found 400/,
    );
    for (const opset of [6, 22]) {
      b = base(opset);
      expectError(
        finish(b, b.node('Conv', ['x', 'w'], {}, { name: 'conv' })),
        new RegExp(`opset ${opset} of the default domain is not supported; importOnnx reads opsets 7–21`),
      );
    }
  });

  it('truncated and non-ONNX files', () => {
    const b = base();
    const good = finish(b, b.node('Conv', ['x', 'w'], {}, { name: 'conv' }));
    expectError(
      good.subarray(0, good.length - 37),
      /not a readable ONNX model: the protobuf decoder stopped with ".*" \(\d+ bytes\); the file is truncated, damaged or not ONNX/,
    );
    expectError(good.subarray(0, 3), /not (a readable|an) ONNX model/);
    expectError(new TextEncoder().encode('{"format": "layers-model", "modelTopology": {}}'), /not (a readable|an) ONNX model/);
    expectError(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]), /not (a readable|an) ONNX model/);
    expectError(new Uint8Array(0), /the file is empty/);
  });
});
