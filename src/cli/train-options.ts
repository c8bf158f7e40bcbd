/**
 * The flags of `incept train`, checked before anything starts: each bad value is refused with
 * its flag, the value and the allowed range. Two kinds: the settings that define a run (saved in
 * its folder; `--resume` restores them and refuses a flag that contradicts them) and the ones
 * that steer one invocation (time budget, checkpoint interval, logging).
 */
import { InceptError } from '../runtime/errors.js';
import type { DriverChoice } from '../runtime/gpu-node.js';
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from '../train/trainer.js';
import { OPTIMIZER_CHOICES, SCHEDULE_CHOICES, type OptimizerChoice, type ScheduleChoice } from '../train/optimizer-choice.js';
import { RUN_SETTINGS, settingValue, type RunSetting } from '../train/run-config.js';

export interface TrainCliOptions {
  driver?: DriverChoice;
  data?: string;
  out?: string;
  width?: string;
  epochs?: string;
  batchSize?: string;
  lr?: string;
  optimizer?: string;
  schedule?: string;
  warmup?: string;
  momentum?: string;
  weightDecay?: string;
  labelSmoothing?: string;
  auxWeight?: string;
  clip?: string;
  minutes?: string;
  seed?: string;
  metrics?: string;
  resume?: boolean;
  overwrite?: boolean;
  ema?: string;
  trainLimit?: string;
  testLimit?: string;
  maxSteps?: string;
  checkpointEvery?: string;
  logEvery?: string;
  preset?: string;
}

/** Counts (steps, epochs, images) stay exact integers: at most 2^53 − 1. */
const MAX_COUNT = Number.MAX_SAFE_INTEGER;
/** Seeds are 32-bit: the weight initialisation reduces the seed to 32 bits, so larger ones would
 * repeat smaller ones. */
const MAX_SEED = 2 ** 32 - 1;
/** Minutes between mid-epoch checkpoints by default: a crash loses about this much work. */
export const DEFAULT_CHECKPOINT_MINUTES = 10;
const DEFAULT_LOG_EVERY = 10;

function num(flag: string, text: string | undefined, fallback: number, check: (v: number) => boolean, what: string): number {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || !check(v)) throw new InceptError(`${flag} needs ${what}, got '${text}'`);
  return v;
}
function int(flag: string, text: string | undefined, fallback: number, min: number, max = MAX_COUNT): number {
  return num(flag, text, fallback, (v) => Number.isInteger(v) && v >= min && v <= max, `an integer from ${min} to ${max}`);
}
const positive = (v: number) => v > 0;
const nonNegative = (v: number) => v >= 0;

/** Each run-defining setting's flag and the option commander gives it under. */
export const SETTING_FLAGS: Record<RunSetting, { flag: string; option: keyof TrainCliOptions }> = {
  width: { flag: '--width', option: 'width' },
  epochs: { flag: '--epochs', option: 'epochs' },
  batchSize: { flag: '--batch-size', option: 'batchSize' },
  lr: { flag: '--lr', option: 'lr' },
  optimizer: { flag: '--optimizer', option: 'optimizer' },
  schedule: { flag: '--schedule', option: 'schedule' },
  warmupSteps: { flag: '--warmup', option: 'warmup' },
  momentum: { flag: '--momentum', option: 'momentum' },
  weightDecay: { flag: '--weight-decay', option: 'weightDecay' },
  labelSmoothing: { flag: '--label-smoothing', option: 'labelSmoothing' },
  auxWeight: { flag: '--aux-weight', option: 'auxWeight' },
  clip: { flag: '--clip', option: 'clip' },
  seed: { flag: '--seed', option: 'seed' },
  ema: { flag: '--ema', option: 'ema' },
  trainLimit: { flag: '--train-limit', option: 'trainLimit' },
  testLimit: { flag: '--test-limit', option: 'testLimit' },
};

/**
 * Named sets of run-defining settings. A preset fills in the flags not given (an explicit flag
 * always wins), and its values pass the same checks as typed flags. It sets only settings that
 * define the run, so they are saved in run.json like any other and `--resume` restores them.
 *
 * `quick`: a run that visibly learns within about five minutes on two CPU cores without a GPU
 * (lavapipe): width 0.0625, batches of 16, 3 epochs of the first 1,440 training images (270
 * steps, 4,320 images; lr 0.05 after 10 warm-up steps, cosine to 0), evaluated on the first 500
 * test images after each epoch. (On lavapipe a batch of 16 trains about as many images a second as
 * one of 32 at this width, and twice as many steps learn more.)
 */
export const TRAIN_PRESETS = {
  quick: { width: '0.0625', batchSize: '16', epochs: '3', trainLimit: '1440', testLimit: '500', warmupSteps: '10', lr: '0.05' },
} as const satisfies Record<string, Partial<Record<RunSetting, string>>>;
export type TrainPreset = keyof typeof TRAIN_PRESETS;
export const PRESET_CHOICES = Object.keys(TRAIN_PRESETS) as TrainPreset[];

/** The settings a preset sets, as its flags' text. */
function presetSettings(preset: string | undefined): Partial<Record<RunSetting, string>> {
  if (preset === undefined) return {};
  if (!PRESET_CHOICES.includes(preset as TrainPreset)) throw new InceptError(`--preset must be one of ${PRESET_CHOICES.join(', ')}, got '${preset}'`);
  return TRAIN_PRESETS[preset as TrainPreset];
}

/** The flags with the preset's values filled in where a flag was not given. */
export function withPreset(opts: TrainCliOptions): TrainCliOptions {
  const out: Record<string, unknown> = { ...opts };
  for (const [key, value] of Object.entries(presetSettings(opts.preset)) as [RunSetting, string][]) {
    const option = SETTING_FLAGS[key].option;
    if (out[option] === undefined) out[option] = value;
  }
  return out as TrainCliOptions;
}

/** The run-defining settings from the flags, defaults for the rest. */
export function trainConfigFrom(given: TrainCliOptions): TrainConfig {
  const opts = withPreset(given);
  const d = DEFAULT_TRAIN_CONFIG;
  if (opts.optimizer !== undefined && !OPTIMIZER_CHOICES.includes(opts.optimizer as OptimizerChoice)) {
    throw new InceptError(`--optimizer must be one of ${OPTIMIZER_CHOICES.join(', ')}, got '${opts.optimizer}'`);
  }
  if (opts.schedule !== undefined && !SCHEDULE_CHOICES.includes(opts.schedule as ScheduleChoice)) {
    throw new InceptError(`--schedule must be one of ${SCHEDULE_CHOICES.join(', ')}, got '${opts.schedule}'`);
  }
  const optimizer = (opts.optimizer as OptimizerChoice | undefined) ?? d.optimizer;
  return {
    width: num('--width', opts.width, d.width, positive, 'a width multiplier > 0'),
    epochs: int('--epochs', opts.epochs, d.epochs, 1),
    batchSize: int('--batch-size', opts.batchSize, d.batchSize, 1),
    lr: num('--lr', opts.lr, optimizer === 'rmsprop' ? 0.045 : d.lr, positive, 'a learning rate > 0'),
    optimizer,
    schedule: (opts.schedule as ScheduleChoice | undefined) ?? (optimizer === 'rmsprop' ? 'exponential' : d.schedule),
    warmupSteps: int('--warmup', opts.warmup, d.warmupSteps, 0),
    momentum: num('--momentum', opts.momentum, d.momentum, (v) => v >= 0 && v < 1, 'a number in [0, 1)'),
    weightDecay: num('--weight-decay', opts.weightDecay, d.weightDecay, nonNegative, 'a number ≥ 0'),
    labelSmoothing: num('--label-smoothing', opts.labelSmoothing, d.labelSmoothing, (v) => v >= 0 && v < 1, 'a number in [0, 1)'),
    auxWeight: num('--aux-weight', opts.auxWeight, d.auxWeight, nonNegative, 'a number ≥ 0'),
    clip: num('--clip', opts.clip, d.clip, nonNegative, 'a threshold ≥ 0 (0: no clipping)'),
    seed: int('--seed', opts.seed, d.seed, 0, MAX_SEED),
    ...(opts.ema !== undefined ? { ema: num('--ema', opts.ema, 0, (v) => v >= 0 && v < 1, 'a decay in [0, 1) (0: off)') } : {}),
    ...(opts.trainLimit !== undefined ? { trainLimit: int('--train-limit', opts.trainLimit, 0, 1) } : {}),
    ...(opts.testLimit !== undefined ? { testLimit: int('--test-limit', opts.testLimit, 0, 1) } : {}),
  };
}

/** What steers one invocation (not saved with the run; free to change on --resume). */
export interface TrainRunOptions {
  resume: boolean;
  overwrite: boolean;
  minutes?: number;
  maxSteps?: number;
  /** Mid-epoch checkpoint interval; 0: after every step. */
  checkpointEverySeconds: number;
  logEvery: number;
}

export function trainRunOptionsFrom(opts: TrainCliOptions): TrainRunOptions {
  if (opts.resume && opts.overwrite) throw new InceptError('--overwrite deletes the run that --resume continues: give one or the other');
  return {
    resume: opts.resume ?? false,
    overwrite: opts.overwrite ?? false,
    ...(opts.minutes !== undefined ? { minutes: num('--minutes', opts.minutes, 0, positive, 'a number of minutes > 0') } : {}),
    ...(opts.maxSteps !== undefined ? { maxSteps: int('--max-steps', opts.maxSteps, 0, 1) } : {}),
    checkpointEverySeconds:
      60 * num('--checkpoint-every', opts.checkpointEvery, DEFAULT_CHECKPOINT_MINUTES, nonNegative, 'a number of minutes ≥ 0 (0: after every step)'),
    logEvery: int('--log-every', opts.logEvery, DEFAULT_LOG_EVERY, 1),
  };
}

function describeSetting(config: TrainConfig, key: RunSetting): string {
  const v = settingValue(config, key);
  if (v === undefined) return key === 'trainLimit' ? 'all training images' : key === 'testLimit' ? 'all test images' : 'not set';
  if (key === 'ema' && v === 0) return '0 (off)';
  return String(v);
}

/**
 * The saved configuration of a run being resumed, after checking that no flag given contradicts
 * it (a flag that repeats the run's value is fine). Throws naming every contradicting flag.
 */
export function restoreConfig(saved: TrainConfig, opts: TrainCliOptions, dir: string): TrainConfig {
  const given = trainConfigFrom(opts); // each flag's value checked, as for a new run
  const preset = presetSettings(opts.preset);
  const conflicts = RUN_SETTINGS.filter(
    (k) => (opts[SETTING_FLAGS[k].option] !== undefined || preset[k] !== undefined) && settingValue(given, k) !== settingValue(saved, k),
  ).map((k) =>
    opts[SETTING_FLAGS[k].option] !== undefined
      ? `${SETTING_FLAGS[k].flag} ${String(opts[SETTING_FLAGS[k].option])} (the run has ${describeSetting(saved, k)})`
      : `--preset ${opts.preset} (sets ${SETTING_FLAGS[k].flag} ${preset[k]}; the run has ${describeSetting(saved, k)})`,
  );
  if (conflicts.length) {
    throw new InceptError(
      `incept train --resume: the run in ${dir} keeps the settings it was started with, and ${conflicts.length === 1 ? 'this flag contradicts them' : 'these flags contradict them'}: ${conflicts.join(', ')}. Leave ${conflicts.length === 1 ? 'it' : 'them'} out to continue the run as it was, or start a new run in another --out folder`,
    );
  }
  return saved;
}
