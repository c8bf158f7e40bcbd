/** What defines a training run (saved in run.json and each checkpoint) and the state a checkpoint
 * holds besides its tensors: shared by the trainer, its checkpoints and the run folder, apart
 * from all three so none of them imports another for its types. */
import type { LoaderState } from '../data/loader.js';
import type { OptimizerChoice, ScheduleChoice } from './optimizer-choice.js';

export interface TrainConfig {
  width: number;
  epochs: number;
  batchSize: number;
  /** Peak learning rate (after warm-up). */
  lr: number;
  optimizer: OptimizerChoice;
  schedule: ScheduleChoice;
  /** Linear warm-up, in steps. */
  warmupSteps: number;
  momentum: number;
  weightDecay: number;
  labelSmoothing: number;
  auxWeight: number;
  /** Global-norm clipping threshold; 0 turns clipping off. */
  clip: number;
  seed: number;
  /** Decay of an exponential moving average of the weights used for evaluation (the paper's
   * running average; TF's num_updates warm-up); 0 (default) evaluates the weights as they are. */
  ema?: number;
  /** Use the first N training / test images only (quick runs and tests). */
  trainLimit?: number;
  testLimit?: number;
}

export const DEFAULT_TRAIN_CONFIG: TrainConfig = {
  width: 0.25,
  epochs: 10,
  batchSize: 64,
  lr: 0.05,
  optimizer: 'sgd',
  schedule: 'cosine',
  warmupSteps: 100,
  momentum: 0.9,
  weightDecay: 5e-4,
  labelSmoothing: 0.1,
  auxWeight: 0.4,
  clip: 2,
  seed: 1,
};

/** The state a checkpoint's JSON holds besides the tensors. */
export interface TrainState {
  config: TrainConfig;
  step: number;
  loader: LoaderState;
  seconds: number;
  /** Sum and count of training losses in the current epoch (the epoch's mean at its end). */
  epochLossSum: number;
  epochLossCount: number;
  /** Images of the data the run trains and evaluates on (checked when resuming; absent in
   * checkpoints written before they were recorded). */
  trainImages?: number;
  testImages?: number;
}
