/**
 * The importers as tables (src/io/onnx/converters.ts, src/io/tfjs/layers.ts): the lists of what
 * they accept are the tables' keys, in the order their error messages have always listed them,
 * and the ONNX pattern pass picks out the nodes its patterns take.
 */
import { describe, expect, it } from 'vitest';
import { converterFor, ONNX_CONVERTERS, ONNX_IMPORT_OPS } from '../src/io/onnx/converters.js';
import { detectNhwcInput, findPatterns } from '../src/io/onnx/patterns.js';
import type { NodeProto, TensorProto } from '../src/io/onnx/schema.js';
import { CLASS_ALIASES, LAYER_CONVERTERS, layerConverter, TFJS_SUPPORTED_LAYERS } from '../src/io/tfjs/layers.js';

describe('the ONNX converter table', () => {
  it('ONNX_IMPORT_OPS is the table’s keys, in the order of the messages', () => {
    expect(ONNX_IMPORT_OPS).toEqual(Object.keys(ONNX_CONVERTERS));
    expect(ONNX_IMPORT_OPS).toEqual([
      'Conv',
      'BatchNormalization',
      'Relu',
      'MaxPool',
      'AveragePool',
      'GlobalAveragePool',
      'Concat',
      'Flatten',
      'Reshape',
      'Gemm',
      'MatMul',
      'Add',
      'Dropout',
      'Softmax',
      'Identity',
      'Constant',
      'Gather',
      'Unsqueeze',
      'Mul',
      'Sub',
      'Div',
      'Transpose',
    ]);
    for (const op of ONNX_IMPORT_OPS) expect(converterFor(op)).toBeTypeOf('function');
    // Names an object inherits are no ops.
    expect(converterFor('toString')).toBeUndefined();
    expect(converterFor('constructor')).toBeUndefined();
  });

  it('the pattern pass takes bias Adds, Adds and Concats of gathered channels, and notes an NHWC input', () => {
    const node = (op_type: string, input: string[], output: string): NodeProto => ({ op_type, input, output: [output] });
    const tensor: TensorProto = { data_type: 1, dims: [] };
    const initializers = new Map<string, TensorProto>([
      ['w', tensor],
      ['b', tensor],
      ['i0', tensor],
      ['i1', tensor],
      ['k', tensor],
    ]);
    const nodes = [
      node('Gather', ['x', 'i0'], 'g0'),
      node('Add', ['k', 'g0'], 'a0'),
      node('Gather', ['x', 'i1'], 'g1'),
      node('Concat', ['a0', 'g1'], 'cat'),
      node('Conv', ['cat', 'w'], 'conv'),
      node('Add', ['conv', 'b'], 'biased'),
      node('Add', ['biased', 'conv'], 'residual'),
      node('Add', ['k', 'b'], 'constants'),
    ];
    expect([...findPatterns(nodes, initializers, 'x').keys()]).toEqual([1, 3, 5]);
    expect(detectNhwcInput(nodes, 'x')).toBe(false);
    const transpose: NodeProto = { op_type: 'Transpose', input: ['x'], output: ['t'], attribute: [{ name: 'perm', ints: [0, 3, 1, 2] }] };
    expect(detectNhwcInput([transpose, node('Relu', ['t'], 'r')], 'x')).toBe(true);
  });
});

describe('the TF.js layer table', () => {
  it('TFJS_SUPPORTED_LAYERS is the input layer and the table’s keys, in the order of the messages', () => {
    expect(TFJS_SUPPORTED_LAYERS).toEqual(['InputLayer', ...Object.keys(LAYER_CONVERTERS)]);
    expect(TFJS_SUPPORTED_LAYERS).toEqual([
      'InputLayer',
      'Conv2D',
      'DepthwiseConv2D',
      'BatchNormalization',
      'Activation',
      'ReLU',
      'ZeroPadding2D',
      'Softmax',
      'MaxPooling2D',
      'AveragePooling2D',
      'GlobalAveragePooling2D',
      'GlobalMaxPooling2D',
      'Concatenate',
      'Add',
      'Flatten',
      'Dense',
      'Dropout',
      'SpatialDropout2D',
    ]);
    for (const target of Object.values(CLASS_ALIASES)) expect(layerConverter(target)).toBeTypeOf('function');
    expect(layerConverter('InputLayer')).toBeUndefined();
    expect(layerConverter('constructor')).toBeUndefined();
  });
});
