/**
 * Ops that record themselves on a tape: each runs the forward op and, when a gradient is
 * wanted, records the backward rule built from the op's backward kernels. The first argument
 * is the tape; the rest are the op's own.
 *
 * Each op's rule lives in the file of src/autograd/ named like its op's file in src/ops/ (the
 * pooling rules in pool2d.ts, next to src/ops/pool2d.ts); this module only gathers them, as the
 * one import of the taped ops (`import * as ag`) and the public `autograd` namespace.
 */
export { reshape } from './reshape.js';
export { add, mul, relu, scaleShift } from './elementwise.js';
export { dropout } from './dropout.js';
export { sum, mean } from './reduce.js';
export { matmul } from './matmul.js';
export { linear } from './linear.js';
export { concatChannels, concatViews } from './concat.js';
export { batchNormTrain } from './batchnorm.js';
export { softmaxCrossEntropy } from './softmax.js';
export { maxPool2d, avgPool2d, globalAvgPool } from './pool2d.js';
export { conv2d, conv2dWithStatistics, type TapedConv2dOptions } from './conv2d.js';
