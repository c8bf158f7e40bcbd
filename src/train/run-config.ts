/**
 * What defines a training run, saved in `<run>/run.json` when the run starts (before its first
 * step): the configuration (every setting that changes what is trained: data limits, width,
 * batch size, optimizer, schedule, seed …), how many training and test images it uses, and
 * where its metrics go. `--resume` takes all of it from there, so a resumed run trains on the
 * same data with the same schedule however it is invoked. Runs older than this file keep the
 * same configuration in their checkpoint, which serves instead.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InceptError } from '../runtime/errors.js';
import { writeFileAtomically } from '../io/checkpoint-file.js';
import type { TrainConfig } from './train-config.js';

export const RUN_CONFIG_FILE = 'run.json';
const FORMAT = 'incept-train-run';

export interface RunRecord {
  config: TrainConfig;
  /** Images the run trains and evaluates on (after the limits). */
  trainImages: number;
  testImages: number;
  /** The metrics file, absolute. */
  metrics: string;
  /** When the run started, ISO 8601. */
  started: string;
}

/** The settings of TrainConfig, every one of which defines a run. */
export const RUN_SETTINGS = [
  'width',
  'epochs',
  'batchSize',
  'lr',
  'optimizer',
  'schedule',
  'warmupSteps',
  'momentum',
  'weightDecay',
  'labelSmoothing',
  'auxWeight',
  'clip',
  'seed',
  'ema',
  'trainLimit',
  'testLimit',
] as const satisfies readonly (keyof TrainConfig)[];
export type RunSetting = (typeof RUN_SETTINGS)[number];

/** A setting's value with "not set" made explicit where it has a meaning: no weight average is
 * decay 0, no data limit is all the images. */
export function settingValue(config: TrainConfig, key: RunSetting): number | string | undefined {
  const v = config[key];
  if (key === 'ema') return v || 0;
  return v;
}

/** The settings on which two configurations differ, in RUN_SETTINGS order. */
export function configDifferences(a: TrainConfig, b: TrainConfig): RunSetting[] {
  return RUN_SETTINGS.filter((k) => settingValue(a, k) !== settingValue(b, k));
}

export async function writeRunRecord(dir: string, record: RunRecord): Promise<void> {
  const text = `${JSON.stringify({ format: FORMAT, version: 1, ...record }, null, 1)}\n`;
  await writeFileAtomically(join(dir, RUN_CONFIG_FILE), new TextEncoder().encode(text), 'incept train');
}

/** The run record in `dir`, or undefined when there is none. */
export function readRunRecord(dir: string): RunRecord | undefined {
  const path = join(dir, RUN_CONFIG_FILE);
  if (!existsSync(path)) return undefined;
  let doc: Partial<RunRecord> & { format?: unknown };
  try {
    doc = JSON.parse(readFileSync(path, 'utf8')) as Partial<RunRecord> & { format?: unknown };
  } catch (e) {
    throw new InceptError(`${path} is not valid JSON (${(e as Error).message})`);
  }
  if (doc.format !== FORMAT || !doc.config || typeof doc.trainImages !== 'number' || typeof doc.testImages !== 'number' || typeof doc.metrics !== 'string') {
    throw new InceptError(
      `${path} is not a run record written by incept train (needs "format": "${FORMAT}", "config", "trainImages", "testImages" and "metrics")`,
    );
  }
  return { config: doc.config, trainImages: doc.trainImages, testImages: doc.testImages, metrics: doc.metrics, started: String(doc.started) };
}
