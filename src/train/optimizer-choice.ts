/** The trainer's optimizer and learning-rate schedule, chosen by name from its configuration. */
import type { Engine } from '../runtime/engine.js';
import type { Tensor } from '../runtime/tensor.js';
import { RMSProp, SGD, isBiasOrNorm, type Optimizer } from '../optim/index.js';
import { cosineDecay, constantLr, exponentialDecay, stepDecay, type LearningRateSchedule } from '../optim/schedule.js';

export const OPTIMIZER_CHOICES = ['sgd', 'rmsprop'] as const;
export type OptimizerChoice = (typeof OPTIMIZER_CHOICES)[number];
export const SCHEDULE_CHOICES = ['cosine', 'exponential', 'step', 'constant'] as const;
export type ScheduleChoice = (typeof SCHEDULE_CHOICES)[number];

export type TrainOptimizer = Optimizer;

interface OptimizerConfig {
  optimizer: OptimizerChoice;
  lr: number;
  momentum: number;
  weightDecay: number;
  clip: number;
}

/**
 * SGD with (PyTorch-style) momentum, or RMSProp in TensorFlow's form as the paper used it
 * (ρ 0.9, momentum, ε = 1 inside the root, mean square starting at ones). Weight decay skips
 * BatchNorm's γ and β and the biases.
 */
export function createOptimizer(engine: Engine, params: ReadonlyMap<string, Tensor>, c: OptimizerConfig): Optimizer {
  const common = { lr: c.lr, weightDecay: c.weightDecay, excludeFromWeightDecay: isBiasOrNorm, clipNorm: c.clip };
  return c.optimizer === 'rmsprop'
    ? new RMSProp(engine, params, { ...common, momentum: c.momentum })
    : new SGD(engine, params, { ...common, momentum: c.momentum });
}

interface ScheduleConfig {
  schedule: ScheduleChoice;
  lr: number;
  warmupSteps: number;
  epochs: number;
}

/** The schedule over a run of `epochs`: the paper's 0.94 every two epochs (staircase), step ×0.1 every 30% of the run, cosine to 0, or constant; each after a linear warm-up. */
export function scheduleFor(c: ScheduleConfig, stepsPerEpoch: number): LearningRateSchedule {
  const warmupSteps = c.warmupSteps;
  switch (c.schedule) {
    case 'exponential':
      return exponentialDecay({ lr: c.lr, stepsPerEpoch, warmupSteps });
    case 'step':
      return stepDecay({ lr: c.lr, stepsPerEpoch, everyEpochs: Math.max(1, Math.round(0.3 * c.epochs)), warmupSteps });
    case 'cosine':
      return cosineDecay({ lr: c.lr, totalSteps: Math.max(warmupSteps + 1, c.epochs * stepsPerEpoch), warmupSteps });
    case 'constant':
      return constantLr(c.lr, { warmupSteps });
  }
}
