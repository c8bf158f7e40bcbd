/** ONNX import and export: the file format ↔ the engine's graph IR. */
export { importOnnx, OnnxImportError, ONNX_IMPORT_OPS, ONNX_MIN_OPSET, ONNX_MAX_OPSET } from './import.js';
export { exportOnnx, exportInceptionV3Onnx, DEFAULT_ONNX_OPSET, type OnnxExportOptions } from './export.js';
