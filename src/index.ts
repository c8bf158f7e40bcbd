/**
 * incept-gpu: hand-written WebGPU kernels and the runtime that runs them, in Node and browsers.
 */
export { Engine, createEngine, type EngineOptions, type DispatchSpec, type UniformValues } from './runtime/engine.js';
export { Tensor, type DType, type Shape, type ChannelSlice, shapeSize } from './runtime/tensor.js';
export { type TensorLike, type NestedArray, type TypedArrayLike } from './runtime/tensor-like.js';
export { KernelFamily, type EntryInfo, type BindingInfo, type OverrideInfo } from './runtime/kernel.js';
export {
  defineKernel,
  defineVariants,
  CustomKernel,
  KernelVariants,
  type KernelDefinition,
  type KernelDispatch,
  type VariantsDefinition,
} from './runtime/custom-kernel.js';
export { anchor, type TuningKey } from './runtime/tuning-key.js';
export { requestGpuDevice, selectAdapter, isSoftwareAdapter, type DeviceOptions, type AdapterSelection } from './runtime/device.js';
export { deviceDescriptorFor, missingRequirements, REQUIRED_LIMITS, DeviceRequirementsError, type AcquiredDevice } from './runtime/device.js';
export { Profiler, type DispatchRecord, type KernelSummary, type LayerSummary } from './runtime/profiler.js';
export type { MemoryStats } from './runtime/pool.js';
export * from './runtime/errors.js';
export { add, mul, scaleShift, relu } from './ops/elementwise.js';
export { reluBackward } from './ops/elementwise-backward.js';
export { matmul, MATMUL_VARIANTS, type MatmulVariant } from './ops/matmul.js';
export { measureMatmulPeak, type PeakResult } from './bench/matmul-peak.js';
export { conv2d, conv2dWithStatistics, CONV2D_VARIANTS, defaultConv2dVariant, conv2dCandidates, type Conv2dOptions, type Conv2dVariant } from './ops/conv2d.js';
export { channelSlices, concatChannels, sliceChannels } from './ops/concat.js';
export { transpose } from './ops/transpose.js';
export type { OutputOption } from './ops/output.js';
export {
  batchNormStatistics,
  batchNormPartialStatistics,
  batchNormTrain,
  batchNormInference,
  DEFAULT_BATCHNORM_EPS,
  type BatchNormTrainOptions,
  type BatchNormInferenceOptions,
  type BatchNormTrainResult,
  type MomentumConvention,
  type PartialStatistics,
  foldBatchNormInference,
} from './ops/batchnorm.js';
export { dropout } from './ops/dropout.js';
export { dropoutBackward } from './ops/dropout-backward.js';
export { softmax, softmaxCrossEntropy, topK, MAX_TOP_K, type SoftmaxCrossEntropyOptions, type SoftmaxCrossEntropyResult } from './ops/softmax.js';
export { linear, type LinearOptions } from './ops/linear.js';
export { softmaxCrossEntropyBackward } from './ops/softmax-backward.js';
export { conv2dBackward, conv2dBackwardInput, conv2dBackwardWeights, conv2dBackwardBias } from './ops/conv2d-backward.js';
export { maxPool2dBackward, avgPool2dBackward, globalAvgPoolBackward } from './ops/pool2d-backward.js';
export { batchNormTrainBackward } from './ops/batchnorm-backward.js';
export { maxPool2d, avgPool2d, globalAvgPool, type Pool2dOptions, type MaxPool2dOptions, type AvgPool2dOptions } from './ops/pool2d.js';
export { sum, mean, sumChannels, globalNorm, scaledAdd, scaledAddInPlace } from './ops/reduce.js';
export { convGeometry, convMacs, type ConvGeometry, type Padding } from './ops/conv2d-geometry.js';
export { foldBatchNorm, type Epilogue, type BatchNormParams } from './ops/epilogue.js';
export { Tuner, MemoryTuningStore, LocalStorageTuningStore, type TuningMode, type TuningRecord, type TuningStore, type TuningReport } from './runtime/tuner.js';
export { measureGpuTime, type GpuTimeStats, type GpuTimeOptions } from './runtime/timing.js';
export { Tape, type BackwardRule } from './autograd/tape.js';
export * as autograd from './autograd/functions.js';
export { InceptionV3, BATCHNORM_EPS, DROPOUT_RATE, type ConvParams, type ForwardTrainOptions, type ForwardTrainResult } from './models/inception-v3.js';
export {
  inceptionV3Spec,
  totals as inceptionV3Totals,
  scaledChannels,
  MIN_INPUT_SIZE,
  MIN_INPUT_SIZE_WITH_AUX,
  CIFAR10_MIN_INPUT_SIZE,
  type InceptionV3Options,
  type LayerSpec,
} from './models/inception-v3-spec.js';
export { loadTorchvisionWeights, torchvisionStateDict, oihwToHwio, hwioToOihw, type LoadWeightsReport } from './models/inception-v3-weights.js';
export { inceptionLoss, DEFAULT_AUX_WEIGHT, DEFAULT_LABEL_SMOOTHING, type InceptionLoss, type InceptionLossOptions } from './nn/loss.js';
export {
  augmentImages,
  augmentBatch,
  augmentDraws,
  augmentDrawsGpu,
  normalizationTable,
  packImageBytes,
  CIFAR10_MEAN,
  CIFAR10_STD,
  type AugmentOptions,
  type AugmentDrawOptions,
  type AugmentDraws,
  type AugmentBatchResult,
} from './ops/augment.js';
export { CIFAR10_CLASSES, DatasetError, channelStatistics, decodeRecords, type ImageDataset, type ChannelStatistics } from './data/dataset.js';
export { BatchLoader, type BatchLoaderOptions, type LoaderState, type ImageBatch, type BatchPosition } from './data/loader.js';
export { shuffledIndices } from './data/random.js';
export { loadCifar10, DEFAULT_CIFAR10_DIRECTORY, type LoadCifar10Options, type Cifar10Dataset, type Cifar10Split } from './data/cifar10.js';
export {
  encodeSafetensors,
  decodeSafetensors,
  saveSafetensors,
  loadSafetensors,
  readTensorsToHost,
  uploadTensors,
  SafetensorsError,
  type SafetensorsDType,
  type SafetensorsInput,
  type SafetensorsTensor,
  type DecodedSafetensors,
} from './io/safetensors.js';
export * from './optim/index.js';
export { writeCheckpoint, readCheckpoint, checkpointPaths, type Checkpoint, type CheckpointInput, type CheckpointPaths } from './io/checkpoint-file.js';
export {
  decodeImage,
  readImageFile,
  decodeImageAsync,
  detectImageFormat,
  imageHeaderSize,
  DEFAULT_MAX_MEGAPIXELS,
  ImageDecodeError,
  type ImageFormat,
  type ImageHeaderSize,
  type DecodedImage,
  type DecodeImageOptions,
  type ImageDecoderName,
} from './io/image.js';
export {
  resizeRgb,
  resizeImage,
  packRgbBytes,
  MAX_RESIZE_SIDE,
  MAX_IMAGE_SIDE,
  DEFAULT_MAX_CHUNK_BYTES,
  type ResizeOptions,
  type ResizeFilter,
  type ImageSize,
  type Rect,
} from './ops/resize.js';
export {
  preprocess,
  resolvePreprocess,
  preprocessGeometry,
  PREPROCESS_PRESETS,
  TORCHVISION_PRESET,
  KERAS_PRESET,
  TF_SLIM_PRESET,
  TIMM_PRESET,
  IMAGENET_MEAN,
  IMAGENET_STD,
  INPUT_CONVENTIONS,
  inputConventionOf,
  type InputConvention,
  type PreprocessPreset,
  type PreprocessSteps,
  type PreprocessOptions,
  type PreprocessGeometry,
  type UploadOptions,
} from './io/preprocess.js';
export {
  loadClassifier,
  detectModelFormat,
  parseLabels,
  labelsForClasses,
  ClassifierError,
  MODEL_FORMATS,
  type ModelFormat,
  type Classifier,
  type Classification,
  type ClassifyOptions,
  type ClassifyRun,
  type TopClass,
  type LoadClassifierOptions,
  type WeightsSource,
  type NamedBytes,
  type TfjsModelSource,
} from './api/classifier.js';
export {
  GraphError,
  inferShapes,
  nodeWeights,
  GRAPH_OPS,
  type Graph,
  type GraphNode,
  type GraphOpName,
  type GraphWeight,
  type GraphInput,
  type GraphPadding,
} from './graph/ir.js';
export { compileGraph, type CompileGraphOptions, type GraphModel } from './graph/execute.js';
export { inceptionV3Graph, INCEPTION_V3_SOURCE } from './graph/from-inception-v3.js';
export {
  importOnnx,
  exportOnnx,
  exportInceptionV3Onnx,
  OnnxImportError,
  ONNX_IMPORT_OPS,
  ONNX_MIN_OPSET,
  ONNX_MAX_OPSET,
  DEFAULT_ONNX_OPSET,
  type OnnxExportOptions,
} from './io/onnx/index.js';
export { importTfjsLayers, readTfjsLayersModel, TfjsLayersError, TFJS_SUPPORTED_LAYERS } from './io/tfjs-layers.js';
