/**
 * The ONNX converters by op_type: the ops importOnnx runs, in the order its messages list them.
 * The ops after Identity and Constant are accepted only inside the patterns of patterns.ts.
 */
import type { Converter } from './context.js';
import { ONNX_IMPORT_OPS, type OnnxImportOp } from './op-names.js';
import { add, constant, dropout, identity, relu, softmax } from './ops/basic.js';
import { batchNormalization, conv } from './ops/conv.js';
import { gemm } from './ops/dense.js';
import { globalAveragePool, pool } from './ops/pool.js';
import { concat, flatten, reshape } from './ops/shape.js';
import { PATTERN_ONLY_CONVERTERS } from './patterns.js';

/** Every op of ONNX_IMPORT_OPS has its converter (the Record type refuses a missing or an extra one). */
export const ONNX_CONVERTERS: Readonly<Record<OnnxImportOp, Converter>> = {
  Conv: conv,
  BatchNormalization: batchNormalization,
  Relu: relu,
  MaxPool: pool,
  AveragePool: pool,
  GlobalAveragePool: globalAveragePool,
  Concat: concat,
  Flatten: flatten,
  Reshape: reshape,
  Gemm: gemm,
  MatMul: gemm,
  Add: add,
  Dropout: dropout,
  Softmax: softmax,
  Identity: identity,
  Constant: constant,
  // PyTorch's Inception-v3 `transform_input` preamble, on single input channels only.
  Gather: PATTERN_ONLY_CONVERTERS.Gather,
  Unsqueeze: PATTERN_ONLY_CONVERTERS.Unsqueeze,
  Mul: PATTERN_ONLY_CONVERTERS.Mul,
  Sub: PATTERN_ONLY_CONVERTERS.Sub,
  Div: PATTERN_ONLY_CONVERTERS.Div,
  // Only as the NHWC → NCHW transpose of the graph input (tf2onnx's converted Keras models).
  Transpose: PATTERN_ONLY_CONVERTERS.Transpose,
};

export { ONNX_IMPORT_OPS, type OnnxImportOp };

export function converterFor(opType: string): Converter | undefined {
  return Object.hasOwn(ONNX_CONVERTERS, opType) ? ONNX_CONVERTERS[opType as OnnxImportOp] : undefined;
}
