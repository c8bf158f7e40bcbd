/**
 * incept-gpu: hand-written WebGPU kernels and the runtime that runs them, in Node and browsers.
 */
export { Engine, createEngine, type EngineOptions, type DispatchSpec, type UniformValues } from './runtime/engine.js';
export { Tensor, type DType, type Shape, type ChannelSlice, shapeSize } from './runtime/tensor.js';
export { KernelFamily, type EntryInfo, type BindingInfo } from './runtime/kernel.js';
export { requestGpuDevice, selectAdapter, isSoftwareAdapter, type DeviceOptions, type AdapterSelection } from './runtime/device.js';
export { Profiler, type DispatchRecord, type KernelSummary } from './runtime/profiler.js';
export type { MemoryStats } from './runtime/pool.js';
export * from './runtime/errors.js';
export { add, mul, scaleShift, relu, reluBackward } from './ops/elementwise.js';
export { matmul, MATMUL_VARIANTS, type MatmulVariant } from './ops/matmul.js';
export { measureMatmulPeak, type PeakResult } from './ops/matmul-peak.js';
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
} from './ops/batchnorm.js';
export { dropout, dropoutBackward } from './ops/dropout.js';
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
export { InceptionV3, BATCHNORM_EPS } from './models/inception-v3.js';
export { inceptionV3Spec, totals as inceptionV3Totals, MIN_INPUT_SIZE, MIN_INPUT_SIZE_WITH_AUX, type InceptionV3Options, type LayerSpec } from './models/inception-v3-spec.js';
