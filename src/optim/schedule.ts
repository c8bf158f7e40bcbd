/**
 * Learning-rate schedules as pure functions of the step (0-based: the step about to run).
 * Each factory checks its options once and returns `(step) => lr`; the optimizer takes the
 * value as a uniform of its dispatches, so the rate can change every step for free.
 *
 * Every schedule has an optional linear warm-up over W steps: the rate is multiplied by
 * min(1, (step + 1) / W), so step 0 runs at lr/W and step W − 1 at the full rate. The decay
 * itself runs on the absolute step for the epoch-based schedules (as in the paper, where the
 * decay is tied to epochs) and starts after the warm-up for cosine.
 */
import { InvalidArgumentError } from '../runtime/errors.js';
import { checkNumber } from './optimizer.js';

export type LearningRateSchedule = (step: number) => number;

export interface WarmupOptions {
  /** Linear warm-up length in steps (an integer ≥ 0, default 0). */
  warmupSteps?: number;
}

export interface ExponentialDecayOptions extends WarmupOptions {
  /** The initial rate (Inception-v3: 0.045). */
  lr: number;
  stepsPerEpoch: number;
  /** Factor per period: default 0.94. */
  rate?: number;
  /** Period in epochs: default 2. */
  everyEpochs?: number;
  /** true (default): lr · rate^⌊epoch / everyEpochs⌋, as the paper; false: continuous. */
  staircase?: boolean;
}

export interface StepDecayOptions extends WarmupOptions {
  lr: number;
  stepsPerEpoch: number;
  /** Period in epochs. */
  everyEpochs: number;
  /** Factor per period: default 0.1. */
  factor?: number;
}

export interface CosineDecayOptions extends WarmupOptions {
  /** The peak rate, reached at the end of the warm-up. */
  lr: number;
  /** The step at which the floor is reached (and kept afterwards); > warmupSteps. */
  totalSteps: number;
  /** The final rate: default 0, in [0, lr]. */
  floor?: number;
}

function checkWarmup(op: string, w: unknown): number {
  const v = w ?? 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new InvalidArgumentError(`${op}: warmupSteps must be an integer ≥ 0, got ${String(w)}`);
  return v;
}

function checkStep(op: string, step: unknown): number {
  if (typeof step !== 'number' || !Number.isInteger(step) || step < 0)
    throw new InvalidArgumentError(`${op}: step must be an integer ≥ 0, got ${String(step)}`);
  return step;
}

function checkOptions(op: string, o: unknown): void {
  if (typeof o !== 'object' || o === null) throw new InvalidArgumentError(`${op}: options must be an object, got ${String(o)}`);
}

/** The warm-up factor min(1, (step + 1) / W) (1 when W = 0). */
export function warmupFactor(step: number, warmupSteps: number): number {
  return warmupSteps > 0 && step < warmupSteps ? (step + 1) / warmupSteps : 1;
}

/** A constant rate, with optional warm-up. */
export function constantLr(lr: number, options: WarmupOptions = {}): LearningRateSchedule {
  const op = 'constantLr';
  const peak = checkNumber(op, 'lr', lr, 0, Infinity);
  const w = checkWarmup(op, options.warmupSteps);
  return (step) => peak * warmupFactor(checkStep(op, step), w);
}

/**
 * lr · rate^⌊step / (stepsPerEpoch · everyEpochs)⌋ (staircase), or lr · rate^(step / (stepsPerEpoch ·
 * everyEpochs)); defaults are the paper's 0.94 every two epochs.
 */
export function exponentialDecay(options: ExponentialDecayOptions): LearningRateSchedule {
  const op = 'exponentialDecay';
  checkOptions(op, options);
  const lr = checkNumber(op, 'lr', options.lr, 0, Infinity);
  const spe = checkNumber(op, 'stepsPerEpoch', options.stepsPerEpoch, 0, Infinity, true);
  const rate = checkNumber(op, 'rate', options.rate ?? 0.94, 0, 1, true);
  const every = checkNumber(op, 'everyEpochs', options.everyEpochs ?? 2, 0, Infinity, true);
  const staircase = options.staircase ?? true;
  if (typeof staircase !== 'boolean') throw new InvalidArgumentError(`${op}: staircase must be a boolean, got ${String(staircase)}`);
  const w = checkWarmup(op, options.warmupSteps);
  const period = spe * every;
  return (step) => {
    checkStep(op, step);
    const periods = staircase ? Math.floor(step / period) : step / period;
    return lr * rate ** periods * warmupFactor(step, w);
  };
}

/** lr · factor^⌊epoch / everyEpochs⌋, epoch = step / stepsPerEpoch. */
export function stepDecay(options: StepDecayOptions): LearningRateSchedule {
  const op = 'stepDecay';
  checkOptions(op, options);
  const lr = checkNumber(op, 'lr', options.lr, 0, Infinity);
  const spe = checkNumber(op, 'stepsPerEpoch', options.stepsPerEpoch, 0, Infinity, true);
  const every = checkNumber(op, 'everyEpochs', options.everyEpochs, 0, Infinity, true);
  const factor = checkNumber(op, 'factor', options.factor ?? 0.1, 0, 1, true);
  const w = checkWarmup(op, options.warmupSteps);
  return (step) => lr * factor ** Math.floor(checkStep(op, step) / (spe * every)) * warmupFactor(step, w);
}

/**
 * floor + (lr − floor) · (1 + cos(π·p)) / 2, p = clamp((step − W) / (totalSteps − W), 0, 1): the peak
 * at the end of the warm-up, the floor from totalSteps on.
 */
export function cosineDecay(options: CosineDecayOptions): LearningRateSchedule {
  const op = 'cosineDecay';
  checkOptions(op, options);
  const lr = checkNumber(op, 'lr', options.lr, 0, Infinity);
  const floor = checkNumber(op, 'floor', options.floor ?? 0, 0, lr);
  const w = checkWarmup(op, options.warmupSteps);
  const total = options.totalSteps;
  if (typeof total !== 'number' || !Number.isInteger(total) || total <= w) {
    throw new InvalidArgumentError(`${op}: totalSteps must be an integer > warmupSteps (${w}), got ${String(total)}`);
  }
  return (step) => {
    checkStep(op, step);
    const p = Math.min(1, Math.max(0, (step - w) / (total - w)));
    return (floor + ((lr - floor) * (1 + Math.cos(Math.PI * p))) / 2) * warmupFactor(step, w);
  };
}
