/**
 * The op types the ONNX importer converts, in the order its messages list them. Kept apart from
 * the converter table (converters.ts, typed against this list, so the two cannot disagree) so the
 * public declaration of the list does not pull in the converters' types.
 */
export const ONNX_IMPORT_OPS = [
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
] as const;

export type OnnxImportOp = (typeof ONNX_IMPORT_OPS)[number];
