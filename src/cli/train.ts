/**
 * `incept train`: trains the CIFAR-10 variant of Inception-v3 with a progress bar, evaluation
 * at each epoch end, JSON-lines metrics, an HTML report, checkpoints at epoch ends, at the end
 * of the time budget and on Ctrl-C, and `--resume`.
 */
import { join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { createEngine } from '../runtime/engine.js';
import { InceptError } from '../runtime/errors.js';
import type { DriverChoice } from '../runtime/gpu-node.js';
import { DEFAULT_CIFAR10_DIRECTORY, loadCifar10 } from '../data/cifar10.js';
import { DEFAULT_TRAIN_CONFIG, Trainer, type TrainConfig } from '../train/trainer.js';
import { MetricsLog } from '../train/metrics.js';
import { OPTIMIZER_CHOICES, SCHEDULE_CHOICES, type OptimizerChoice, type ScheduleChoice } from '../train/optimizer-choice.js';

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
  ema?: string;
  trainLimit?: string;
  testLimit?: string;
  maxSteps?: string;
}

function num(flag: string, text: string | undefined, fallback: number, check: (v: number) => boolean, what: string): number {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || !check(v)) throw new InceptError(`${flag} needs ${what}, got '${text}'`);
  return v;
}
const positive = (v: number) => v > 0;
const nonNegative = (v: number) => v >= 0;
const positiveInt = (v: number) => Number.isInteger(v) && v > 0;
const nonNegativeInt = (v: number) => Number.isInteger(v) && v >= 0;

export function trainConfigFrom(opts: TrainCliOptions): TrainConfig {
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
    epochs: num('--epochs', opts.epochs, d.epochs, positiveInt, 'a positive integer'),
    batchSize: num('--batch-size', opts.batchSize, d.batchSize, positiveInt, 'a positive integer'),
    lr: num('--lr', opts.lr, optimizer === 'rmsprop' ? 0.045 : d.lr, positive, 'a learning rate > 0'),
    optimizer,
    schedule: (opts.schedule as ScheduleChoice | undefined) ?? (optimizer === 'rmsprop' ? 'exponential' : d.schedule),
    warmupSteps: num('--warmup', opts.warmup, d.warmupSteps, nonNegativeInt, 'a number of steps ≥ 0'),
    momentum: num('--momentum', opts.momentum, d.momentum, (v) => v >= 0 && v < 1, 'a number in [0, 1)'),
    weightDecay: num('--weight-decay', opts.weightDecay, d.weightDecay, nonNegative, 'a number ≥ 0'),
    labelSmoothing: num('--label-smoothing', opts.labelSmoothing, d.labelSmoothing, (v) => v >= 0 && v < 1, 'a number in [0, 1)'),
    auxWeight: num('--aux-weight', opts.auxWeight, d.auxWeight, nonNegative, 'a number ≥ 0'),
    clip: num('--clip', opts.clip, d.clip, nonNegative, 'a threshold ≥ 0 (0: no clipping)'),
    seed: num('--seed', opts.seed, d.seed, nonNegativeInt, 'an integer ≥ 0'),
    ...(opts.ema !== undefined ? { ema: num('--ema', opts.ema, 0, (v) => v >= 0 && v < 1, 'a decay in [0, 1) (0: off)') } : {}),
    ...(opts.trainLimit !== undefined ? { trainLimit: num('--train-limit', opts.trainLimit, 0, positiveInt, 'a positive integer') } : {}),
    ...(opts.testLimit !== undefined ? { testLimit: num('--test-limit', opts.testLimit, 0, positiveInt, 'a positive integer') } : {}),
  };
}

function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s).padStart(2, '0')}s`;
}

export async function runTrain(opts: TrainCliOptions): Promise<void> {
  const config = trainConfigFrom(opts);
  const minutes = opts.minutes === undefined ? undefined : num('--minutes', opts.minutes, 0, positive, 'a number of minutes > 0');
  const maxSteps = opts.maxSteps === undefined ? undefined : num('--max-steps', opts.maxSteps, 0, positiveInt, 'a positive integer');
  const outDir = resolve(opts.out ?? 'runs/cifar10');
  const directory = opts.data ?? DEFAULT_CIFAR10_DIRECTORY;
  const metricsPath = resolve(opts.metrics ?? join(outDir, 'metrics.jsonl'));
  const [train, test] = await Promise.all([
    loadCifar10({ directory, split: 'train', ...(config.trainLimit ? { limit: config.trainLimit } : {}) }),
    loadCifar10({ directory, split: 'test', ...(config.testLimit ? { limit: config.testLimit } : {}) }),
  ]);
  const engine = await createEngine({ driver: opts.driver });
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130); // a second Ctrl-C does not wait
    interrupted = true;
    process.stderr.write('\nCtrl-C: finishing the step in flight, then writing a checkpoint (Ctrl-C again to quit at once)\n');
  };
  process.on('SIGINT', onSigint);
  const trainer = await Trainer.create(engine, config, { train, test }, outDir, opts.resume ?? false);
  try {
    const c = trainer.config;
    const metrics = new MetricsLog(metricsPath, { append: opts.resume ?? false });
    const facts: [string, string][] = [
      ['Adapter', engine.adapterName],
      ['Model', `Inception-v3, CIFAR-10 variant, width ${c.width}, aux head weighted ${c.auxWeight}`],
      ['Data', `${train.count} training and ${test.count} test images from ${train.directory}`],
      ['Optimizer', `${c.optimizer}, lr ${c.lr} (${c.schedule}, ${c.warmupSteps} warm-up steps), momentum ${c.momentum}, weight decay ${c.weightDecay}, clip ${c.clip || 'off'}`],
      ['Evaluation', c.ema ? `with an exponential moving average of the weights, decay ${c.ema}` : 'with the weights as trained'],
      ['Batches', `${c.batchSize} images, ${trainer.stepsPerEpoch} steps per epoch, ${c.epochs} epochs, label smoothing ${c.labelSmoothing}, seed ${c.seed}`],
    ];
    console.log(facts.map(([k, v]) => `${k}: ${v}`).join('\n'));
    if (opts.resume) console.log(`Resuming at step ${trainer.step} (epoch ${(trainer.step / trainer.stepsPerEpoch).toFixed(2)}) from ${outDir}`);
    const tty = process.stderr.isTTY;
    const bar = tty
      ? new cliProgress.SingleBar(
          { format: 'epoch {epochs} [{bar}] {value}/{total} steps | {ips} img/s | loss {loss} | lr {lr} | ETA {etaText}', stream: process.stderr, hideCursor: true },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
    const totalSteps = c.epochs * trainer.stepsPerEpoch;
    bar?.start(totalSteps, trainer.step, { epochs: '0', ips: '-', loss: '-', lr: '-', etaText: '?' });
    const outcome = await trainer.run(metrics, {
      ...(minutes !== undefined ? { seconds: minutes * 60 } : {}),
      ...(maxSteps !== undefined ? { maxSteps } : {}),
      interrupted: () => interrupted,
      onStep: (s) => {
        const eta = ((s.totalSteps - s.step) * c.batchSize) / s.imagesPerSecond;
        const fields = { epochs: s.epoch.toFixed(2), ips: s.imagesPerSecond.toFixed(1), loss: s.loss.toFixed(3), lr: s.lr.toPrecision(3), etaText: formatEta(eta) };
        if (bar) bar.update(s.step, fields);
        else if (s.step % 50 === 0 || s.step === 1) process.stderr.write(`step ${s.step}/${s.totalSteps} epoch ${fields.epochs} ${fields.ips} img/s loss ${fields.loss} lr ${fields.lr} ETA ${fields.etaText}\n`);
      },
      onEval: (e) => {
        const line = `epoch ${e.epoch.toFixed(2)}: test top-1 ${(100 * e.accuracy).toFixed(2)}%, test loss ${e.loss.toFixed(4)} (${e.images} images)`;
        if (bar) bar.stop();
        console.log(line);
        trainer.writeReport(metricsPath, facts);
        if (bar) bar.start(totalSteps, trainer.step);
      },
      onMessage: (m) => {
        if (!bar) process.stderr.write(`${m}\n`);
      },
    });
    bar?.stop();
    const report = trainer.writeReport(metricsPath, facts);
    const why = { done: `all ${c.epochs} epochs done`, time: `the ${minutes} minute budget ran out`, interrupted: 'stopped by Ctrl-C', 'max-steps': `--max-steps ${maxSteps} reached` }[outcome.stopped];
    console.log(`${why} at step ${outcome.steps} (epoch ${outcome.epochs.toFixed(2)})${outcome.lastEval ? `; last test top-1 ${(100 * outcome.lastEval.accuracy).toFixed(2)}%` : ''}`);
    console.log(`checkpoint: ${outcome.checkpoint}\nmetrics: ${metricsPath}\nreport: ${report}`);
    if (outcome.stopped !== 'done') console.log(`continue with: incept train --resume --out ${outDir}${opts.data ? ` --data ${opts.data}` : ''}`);
  } finally {
    process.off('SIGINT', onSigint);
    trainer.dispose();
    engine.destroy();
  }
}
