/** Optimizers, weight averaging and learning-rate schedules (kernels/optimizer.wgsl). */
export {
  BaseOptimizer,
  isBiasOrNorm,
  type Optimizer,
  type OptimizerOptions,
  type StepOptions,
  type ParamSource,
  type GradSource,
  type StateValue,
} from './optimizer.js';
export { RMSProp, RMSPROP_DEFAULTS, type RMSPropOptions } from './rmsprop.js';
export { SGD, type SGDOptions } from './sgd.js';
export { ExponentialMovingAverage, EMA_DEFAULT_DECAY, type EMAOptions } from './ema.js';
export {
  constantLr,
  exponentialDecay,
  stepDecay,
  cosineDecay,
  warmupFactor,
  type LearningRateSchedule,
  type WarmupOptions,
  type ExponentialDecayOptions,
  type StepDecayOptions,
  type CosineDecayOptions,
} from './schedule.js';
export { optimizerKernel } from './kernel.js';
