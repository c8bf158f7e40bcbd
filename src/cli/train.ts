/**
 * `incept train`: trains the CIFAR-10 variant of Inception-v3 with a progress bar, evaluation
 * at each epoch end, JSON-lines metrics, an HTML report, checkpoints (epoch ends, every few
 * minutes, at the end of the time budget and on Ctrl-C) and `--resume`.
 *
 * The run folder (--out) is the run: `run.json` (what defines it), `checkpoints/`, the metrics
 * and the report, and `run.lock` while a process trains in it. Nothing there is lost to a
 * mistake or a crash: a new run does not start over an existing one (unless --overwrite);
 * --resume restores the saved settings and refuses flags that contradict them; the metrics are
 * repaired to match the checkpoint resumed from; a checkpoint replaces the previous one only once
 * complete. Every flag is checked before the model is built, the adapter-dependent ones (how wide
 * a network, how large a batch) against the adapter's limits.
 */
import { existsSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { createEngine } from '../runtime/engine.js';
import { InceptError } from '../runtime/errors.js';
import { DEFAULT_CIFAR10_DIRECTORY, loadCifar10 } from '../data/cifar10.js';
import { Trainer, type TrainConfig } from '../train/trainer.js';
import { MetricsLog, describeRepair } from '../train/metrics.js';
import { latestCheckpointInfo } from '../train/checkpoint.js';
import { readRunRecord, RUN_SETTINGS, writeRunRecord, type RunRecord } from '../train/run-config.js';
import { deleteRun, describeRun } from '../train/run-folder.js';
import { acquireRunLock } from '../train/run-lock.js';
import { checkTrainingBuffers } from '../train/buffer-limits.js';
import {
  restoreConfig,
  SETTING_FLAGS,
  TRAIN_PRESETS,
  trainConfigFrom,
  trainRunOptionsFrom,
  type TrainCliOptions,
  type TrainRunOptions,
} from './train-options.js';

export { trainConfigFrom, trainRunOptionsFrom, type TrainCliOptions } from './train-options.js';

function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s).padStart(2, '0')}s`;
}

const say = (m: string) => process.stderr.write(`${m}\n`);

/** What the bar shows besides the step count. */
export interface TrainBarFields {
  epochs: string;
  ips: string;
  loss: string;
  lr: string;
  etaText: string;
}

const BAR_FORMAT = 'epoch {epochs} [{bar}] {value}/{total} steps | {ips} img/s | loss {loss} | lr {lr} | ETA {etaText}';

/**
 * The training progress bar on a terminal. It keeps the last fields it was given, so when it
 * stops for a line (an evaluation's result) and starts again, it shows them rather than the
 * format's `{placeholders}`.
 */
export class TrainProgressBar {
  private readonly bar: cliProgress.SingleBar;
  private fields: TrainBarFields;

  constructor(
    stream: NodeJS.WritableStream,
    private readonly totalSteps: number,
    step: number,
    stepsPerEpoch: number,
  ) {
    this.bar = new cliProgress.SingleBar({ format: BAR_FORMAT, stream, hideCursor: true }, cliProgress.Presets.shades_classic);
    this.fields = { epochs: (step / stepsPerEpoch).toFixed(2), ips: '-', loss: '-', lr: '-', etaText: '?' };
    this.bar.start(totalSteps, step, { ...this.fields });
  }

  update(step: number, fields: TrainBarFields): void {
    this.fields = { ...fields };
    this.bar.update(step, { ...fields });
  }

  /** Stops the bar (its last state stays on screen) so that `print` writes on a line of its own,
   * then starts it again at `step` with the last fields. */
  interrupt(step: number, print: () => void): void {
    this.bar.stop();
    print();
    this.bar.start(this.totalSteps, step, { ...this.fields });
  }

  stop(): void {
    this.bar.stop();
  }
}

const count = (n: number) => n.toLocaleString('en-US');

/** What a run will do from `step` on: steps, images, epochs and evaluations. */
export interface RunWork {
  /** Steps left to run (to the end, or to --max-steps). */
  steps: number;
  batchSize: number;
  stepsPerEpoch: number;
  trainImages: number;
  testImages: number;
  /** Test-set evaluations (one per epoch end reached, plus one where a time budget stops). */
  evaluations: number;
  epochs: number;
  /** The time budget, when there is one (--minutes). */
  minutes?: number;
}

export function runWork(
  c: { epochs: number; batchSize: number },
  stepsPerEpoch: number,
  step: number,
  trainImages: number,
  testImages: number,
  run: { minutes?: number; maxSteps?: number },
): RunWork {
  const total = c.epochs * stepsPerEpoch;
  const end = run.maxSteps !== undefined ? Math.min(total, Math.max(step, run.maxSteps)) : total;
  const epochEnds = Math.floor(end / stepsPerEpoch) - Math.floor(step / stepsPerEpoch);
  return {
    steps: end - step,
    batchSize: c.batchSize,
    stepsPerEpoch,
    trainImages,
    testImages,
    evaluations: epochEnds,
    epochs: (end - step) / stepsPerEpoch,
    ...(run.minutes !== undefined ? { minutes: run.minutes } : {}),
  };
}

/** The run's first line: the work it will do, before any of it starts. */
export function describeWork(w: RunWork): string {
  const images = w.steps * w.batchSize;
  const evals = w.evaluations ? ` and ${w.evaluations} evaluation${w.evaluations === 1 ? '' : 's'} of ${count(w.testImages)} test images` : '';
  const budget = w.minutes !== undefined ? `, or less: it stops at the --minutes ${w.minutes} budget (then evaluates once more)` : '';
  return `This run: ${count(w.steps)} step${w.steps === 1 ? '' : 's'} of ${w.batchSize} images = ${count(images)} training images (${w.epochs.toFixed(2)} epochs of ${count(w.trainImages)})${evals}${budget}; the time it takes is estimated after its first steps`;
}

/**
 * Estimated seconds for the work, from a measured training rate (images per second). An
 * evaluation image costs an inference forward with BatchNorm folded, taken as a third of a
 * training image (forward and backward); a time budget caps the estimate (plus one evaluation).
 */
export function estimateSeconds(w: RunWork, imagesPerSecond: number): number {
  const evalSeconds = w.testImages / (3 * imagesPerSecond);
  const full = (w.steps * w.batchSize) / imagesPerSecond + w.evaluations * evalSeconds;
  return w.minutes !== undefined ? Math.min(full, w.minutes * 60 + evalSeconds) : full;
}

/** The estimate line: the time in all (`elapsedSeconds` already spent, plus what is `left`). */
export function describeEstimate(left: RunWork, imagesPerSecond: number, measured: string, elapsedSeconds = 0): string {
  const seconds = elapsedSeconds + estimateSeconds(left, imagesPerSecond);
  const stepsInBudget = left.minutes !== undefined ? Math.floor((left.minutes * 60 * imagesPerSecond) / left.batchSize) : Infinity;
  const cut = stepsInBudget < left.steps ? `; the --minutes budget stops it about ${count(left.steps - stepsInBudget)} steps before its end` : '';
  return `Estimated time: ${formatEta(seconds)} in all, at ${imagesPerSecond.toFixed(1)} img/s (measured on ${measured}; an evaluation image counted as a third of a training image)${cut}`;
}

/** What this invocation trains: the configuration, where the metrics go, and where it starts. */
interface RunPlan {
  config: TrainConfig;
  metricsPath: string;
  /** The run's saved record (resuming a run that has one). */
  record?: RunRecord;
  /** 'new': a new run; 'checkpoint': resume from the newest checkpoint; 'restart': resume a run
   * that stopped before its first checkpoint, from step 0. */
  start: 'new' | 'checkpoint' | 'restart';
  /** Metrics files to delete before starting (--overwrite). */
  overwrite?: string[];
}

/** Decides, from the flags and what the folder holds, what to train; refuses what would lose data. */
function planRun(opts: TrainCliOptions, run: TrainRunOptions, outDir: string): RunPlan {
  const defaultMetrics = resolve(opts.metrics ?? join(outDir, 'metrics.jsonl'));
  if (!run.resume) {
    const record = readRunRecordQuietly(outDir);
    const existing = describeRun(outDir, defaultMetrics);
    if (existing && !run.overwrite) {
      throw new InceptError(
        `${outDir} already holds a training run (${existing}). To continue it: incept train --resume --out ${outDir}${opts.data ? ` --data ${opts.data}` : ''}; to start a new run, choose another --out folder, or add --overwrite to delete this run's checkpoints, metrics and report first`,
      );
    }
    return {
      config: trainConfigFrom(opts),
      metricsPath: defaultMetrics,
      start: 'new',
      ...(existing ? { overwrite: [defaultMetrics, ...(record ? [record.metrics] : [])] } : {}),
    };
  }
  const record = readRunRecord(outDir);
  const latest = latestCheckpointInfo(outDir);
  const saved = record?.config ?? latest?.config;
  if (!saved) {
    throw new InceptError(
      latest
        ? `incept train --resume: the checkpoint in ${latest.path} has no configuration to restore (damaged?), and ${outDir} has no run.json`
        : `incept train --resume: nothing to resume in ${outDir}: it has no run (no run.json, no checkpoint). Start the run without --resume`,
    );
  }
  const config = restoreConfig(saved, opts, outDir);
  const metricsPath = opts.metrics !== undefined ? defaultMetrics : (record?.metrics ?? defaultMetrics);
  return { config, metricsPath, ...(record ? { record } : {}), start: latest ? 'checkpoint' : 'restart' };
}

function readRunRecordQuietly(dir: string): RunRecord | undefined {
  try {
    return readRunRecord(dir);
  } catch {
    return undefined;
  }
}

export async function runTrain(opts: TrainCliOptions): Promise<void> {
  // Every flag first: nothing is read, locked or started with a bad one.
  const run = trainRunOptionsFrom(opts);
  trainConfigFrom(opts);
  const outDir = resolve(opts.out ?? 'runs/cifar10');
  const directory = opts.data ?? DEFAULT_CIFAR10_DIRECTORY;
  if (existsSync(outDir) && !statSync(outDir).isDirectory()) throw new InceptError(`--out ${opts.out}: ${outDir} is a file; a run needs a folder`);
  if (run.resume && !existsSync(outDir)) throw new InceptError(`incept train --resume: nothing to resume in ${outDir}: there is no such folder`);

  const created = !existsSync(outDir);
  const lock = await acquireRunLock(outDir, { onMessage: say, command: `incept ${process.argv.slice(2).join(' ')}` });
  try {
    const plan = planRun(opts, run, outDir);
    const config = plan.config;
    const [train, test] = await Promise.all([
      loadCifar10({ directory, split: 'train', ...(config.trainLimit ? { limit: config.trainLimit } : {}) }),
      loadCifar10({ directory, split: 'test', ...(config.testLimit ? { limit: config.testLimit } : {}) }),
    ]);
    const resumed = plan.start === 'new' ? '' : ' (the run’s setting)';
    if (config.trainLimit && train.count < config.trainLimit)
      throw new InceptError(`--train-limit ${config.trainLimit}${resumed}: ${train.directory} has only ${train.count} training images`);
    if (config.testLimit && test.count < config.testLimit)
      throw new InceptError(`--test-limit ${config.testLimit}${resumed}: ${test.directory} has only ${test.count} test images`);
    if (config.batchSize > train.count)
      throw new InceptError(
        `--batch-size ${config.batchSize}${resumed}: more than the ${train.count} training images${config.trainLimit ? ` (--train-limit ${config.trainLimit})` : ''}; the allowed range is 1 to ${train.count}`,
      );
    if (plan.record && (plan.record.trainImages !== train.count || plan.record.testImages !== test.count)) {
      throw new InceptError(
        `incept train --resume: the run in ${outDir} trains on ${plan.record.trainImages} training and ${plan.record.testImages} test images, but ${train.directory} gives ${train.count} and ${test.count}: point --data at the run's data folder`,
      );
    }

    const engine = await createEngine({ driver: opts.driver });
    let trainer: Trainer | undefined;
    let interrupted = false;
    const onSigint = () => {
      if (interrupted) process.exit(130); // a second Ctrl-C does not wait (the lock is released on exit)
      interrupted = true;
      process.stderr.write('\nCtrl-C: finishing the step in flight, then writing a checkpoint (Ctrl-C again to quit at once)\n');
    };
    try {
      const tooLarge = checkTrainingBuffers(engine.limits, config);
      if (tooLarge) throw new InceptError(`${tooLarge.message}${plan.start === 'new' ? '' : ` (${tooLarge.flag} is the run’s saved setting)`}`);

      if (plan.overwrite) {
        deleteRun(outDir, plan.overwrite);
        say(`--overwrite: deleted the previous run in ${outDir}`);
      }
      // What defines the run is on disk before its first step, so a crash at any point resumes it.
      if (!plan.record)
        await writeRunRecord(outDir, {
          config,
          trainImages: train.count,
          testImages: test.count,
          metrics: plan.metricsPath,
          started: new Date().toISOString(),
        });
      if (plan.start === 'restart') say(`${outDir} has no checkpoint yet: starting its run again from step 0, with its saved settings`);
      process.on('SIGINT', onSigint);
      trainer = await Trainer.create(engine, config, { train, test }, outDir, plan.start === 'checkpoint', { onMessage: say });
      const c = trainer.config;
      const metricsPath = plan.metricsPath;
      const metrics = new MetricsLog(metricsPath, plan.start === 'new' ? {} : { resumeAtStep: trainer.step });
      const repaired = metrics.repair && describeRepair(metricsPath, metrics.repair, trainer.step);
      if (repaired) say(repaired);
      const facts: [string, string][] = [
        ['Adapter', engine.adapterName],
        ['Model', `Inception-v3, CIFAR-10 variant, width ${c.width}, aux head weighted ${c.auxWeight}`],
        ['Data', `${train.count} training and ${test.count} test images from ${train.directory}`],
        [
          'Optimizer',
          `${c.optimizer}, lr ${c.lr} (${c.schedule}, ${c.warmupSteps} warm-up steps), momentum ${c.momentum}, weight decay ${c.weightDecay}, clip ${c.clip || 'off'}`,
        ],
        ['Evaluation', c.ema ? `with an exponential moving average of the weights, decay ${c.ema}` : 'with the weights as trained'],
        ['Batches', `${c.batchSize} images, ${trainer.stepsPerEpoch} steps per epoch, ${c.epochs} epochs, label smoothing ${c.labelSmoothing}, seed ${c.seed}`],
      ];
      // The first line says what the run will cost, before the long work starts.
      const work = runWork(c, trainer.stepsPerEpoch, trainer.step, train.count, test.count, run);
      console.log(describeWork(work));
      // The defaults are sized for a GPU: on a CPU rasteriser, point at the run that fits it.
      const flagsGiven = RUN_SETTINGS.some((k) => opts[SETTING_FLAGS[k].option] !== undefined);
      if (engine.isSoftwareAdapter && plan.start === 'new' && !opts.preset && !flagsGiven) {
        console.log(
          `This adapter is a software rasteriser (no GPU): the default run is sized for a GPU and takes hours here; incept train --preset quick learns visibly in about five minutes`,
        );
      }
      if (opts.preset)
        facts.unshift([
          'Preset',
          `${opts.preset}: ${Object.entries(TRAIN_PRESETS[opts.preset as keyof typeof TRAIN_PRESETS])
            .map(([k, v]) => `${SETTING_FLAGS[k as keyof typeof SETTING_FLAGS].flag} ${v}`)
            .join(' ')} (flags given win)`,
        ]);
      console.log(facts.map(([k, v]) => `${k}: ${v}`).join('\n'));
      if (plan.start === 'checkpoint')
        console.log(`Resuming at step ${trainer.step} (epoch ${(trainer.step / trainer.stepsPerEpoch).toFixed(2)}) from ${outDir}`);
      const t = trainer;
      const writeReport = () => {
        try {
          return t.writeReport(metricsPath, facts);
        } catch (e) {
          // The report is a view of the metrics: failing to draw it must not stop the training.
          say(`could not write the report: ${(e as Error).message}`);
          return join(outDir, 'report.html');
        }
      };
      const totalSteps = c.epochs * trainer.stepsPerEpoch;
      const bar = process.stderr.isTTY ? new TrainProgressBar(process.stderr, totalSteps, trainer.step, trainer.stepsPerEpoch) : undefined;
      /** Prints a line on stdout, below the bar when there is one. */
      const print = (line: string) => (bar ? bar.interrupt(t.step, () => console.log(line)) : console.log(line));
      // The time estimate: from the steps after the first (which also compiles the kernels).
      const startedAt = performance.now();
      const firstStep = trainer.step + 1;
      const measureSteps = 3;
      let firstStepDone: number | undefined;
      let estimated = false;
      const outcome = await trainer.run(metrics, {
        ...(run.minutes !== undefined ? { seconds: run.minutes * 60 } : {}),
        ...(run.maxSteps !== undefined ? { maxSteps: run.maxSteps } : {}),
        checkpointEverySeconds: run.checkpointEverySeconds,
        logEvery: run.logEvery,
        interrupted: () => interrupted,
        onStep: (s) => {
          const now = performance.now();
          if (s.step === firstStep) firstStepDone = now;
          const left = run.minutes !== undefined ? { minutes: Math.max(0, run.minutes - (now - startedAt) / 60_000) } : {};
          const remaining = runWork(c, t.stepsPerEpoch, s.step, train.count, test.count, { ...run, ...left });
          if (!estimated && firstStepDone !== undefined && s.step - firstStep === measureSteps) {
            estimated = true;
            const measured = ((s.step - firstStep) * c.batchSize * 1000) / (now - firstStepDone);
            print(describeEstimate(remaining, measured, `steps ${firstStep + 1}–${s.step}`, (now - startedAt) / 1000));
          }
          const fields = {
            epochs: s.epoch.toFixed(2),
            ips: s.imagesPerSecond.toFixed(1),
            loss: s.loss.toFixed(3),
            lr: s.lr.toPrecision(3),
            etaText: formatEta(estimateSeconds(remaining, s.imagesPerSecond)),
          };
          if (bar) bar.update(s.step, fields);
          else if (s.step % 50 === 0 || s.step === 1)
            process.stderr.write(
              `step ${s.step}/${s.totalSteps} epoch ${fields.epochs} ${fields.ips} img/s loss ${fields.loss} lr ${fields.lr} ETA ${fields.etaText}\n`,
            );
        },
        onEval: (e) => {
          print(`epoch ${e.epoch.toFixed(2)}: test top-1 ${(100 * e.accuracy).toFixed(2)}%, test loss ${e.loss.toFixed(4)} (${e.images} images)`);
          writeReport();
        },
        onMessage: (m) => {
          if (!bar) say(m);
        },
      });
      bar?.stop();
      const report = writeReport();
      const why = {
        done: `all ${c.epochs} epochs done`,
        time: `the ${run.minutes} minute budget ran out`,
        interrupted: 'stopped by Ctrl-C',
        'max-steps': `--max-steps ${run.maxSteps} reached`,
      }[outcome.stopped];
      console.log(
        `${why} at step ${outcome.steps} (epoch ${outcome.epochs.toFixed(2)})${outcome.lastEval ? `; last test top-1 ${(100 * outcome.lastEval.accuracy).toFixed(2)}%` : ''}`,
      );
      console.log(`checkpoint: ${outcome.checkpoint}\nmetrics: ${metricsPath}\nreport: ${report}`);
      if (outcome.stopped !== 'done') console.log(`continue with: incept train --resume --out ${outDir}${opts.data ? ` --data ${opts.data}` : ''}`);
    } finally {
      process.off('SIGINT', onSigint);
      trainer?.dispose();
      engine.destroy();
    }
  } finally {
    lock.release();
    // A run refused before it wrote anything leaves no empty folder behind.
    if (created && readdirSync(outDir).length === 0) rmdirSync(outDir);
  }
}
