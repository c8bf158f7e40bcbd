/**
 * Training the CIFAR-10 variant of Inception-v3: the loop behind `incept train`.
 *
 * Each step: a batch from the seeded loader (crop and flip on the GPU), the training forward on
 * the tape (BatchNorm on batch statistics, dropout, aux head), Inception's loss (label smoothing,
 * aux weight 0.4), backward, the global gradient norm in one pass, and the optimizer's update
 * with clipping applied inside its kernel. At each epoch end: the test set in inference mode,
 * a metrics record, a checkpoint and the HTML report. Between epoch ends a checkpoint every few
 * minutes (`checkpointEverySeconds`), so a crash loses minutes, not an epoch. A time budget or
 * Ctrl-C ends the run after the step in flight: the budget evaluates first, both write a
 * checkpoint, and `resume` continues from the newest one (src/train/checkpoint.ts: a checkpoint
 * is published only once complete, so a crash never leaves a half-written one to resume from).
 *
 * Every random choice is a counter-based function of (seed, step): the shuffle per epoch, the
 * augmentation draws, the dropout masks. So the RNG state is the step count, and a resumed run
 * repeats an uninterrupted one exactly when the kernels are deterministic (they are: fixed
 * summation orders, no atomics).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Engine } from '../runtime/engine.js';
import { InceptError } from '../runtime/errors.js';
import type { Tensor } from '../runtime/tensor.js';
import { Tape } from '../autograd/tape.js';
import { InceptionV3 } from '../models/inception-v3.js';
import { inceptionLoss } from '../nn/loss.js';
import { globalNorm } from '../ops/reduce.js';
import { BatchLoader } from '../data/loader.js';
import type { ImageDataset } from '../data/dataset.js';
import { evaluate, type Evaluation } from './evaluate.js';
import { MetricsLog, readMetrics, renderTrainReport, type MetricRecord } from './metrics.js';
import { createOptimizer, scheduleFor, type TrainOptimizer } from './optimizer-choice.js';
import type { LearningRateSchedule } from '../optim/schedule.js';
import { ExponentialMovingAverage } from '../optim/ema.js';
import { readTrainCheckpoint, removeUnpublishedCheckpoints, writeTrainCheckpoint } from './checkpoint.js';
import { configDifferences, settingValue } from './run-config.js';
import { imagesPerBuffer } from './buffer-limits.js';
import { writeReport } from '../cli/args.js';
import type { TrainConfig, TrainState } from './train-config.js';

export { DEFAULT_TRAIN_CONFIG, type TrainConfig, type TrainState } from './train-config.js';

export interface RunControl {
  /** Stop after this many seconds of training (the step in flight finishes, then evaluate, checkpoint). */
  seconds?: number;
  /** Stop after this step (tests; checkpoint, no extra evaluation). */
  maxSteps?: number;
  /** Log a step record every N steps (default 10). */
  logEvery?: number;
  /** Set to true (e.g. by SIGINT) to stop after the step in flight and checkpoint. */
  interrupted?: () => boolean;
  /** Also checkpoint mid-epoch once this many seconds have passed since the last checkpoint (or
   * the start); 0: after every step. Default: only at epoch ends and when stopping. */
  checkpointEverySeconds?: number;
  onCheckpoint?: (c: { step: number; path: string }) => void;
  onStep?: (s: { step: number; epoch: number; loss: number; lr: number; imagesPerSecond: number; stepsPerEpoch: number; totalSteps: number }) => void;
  onEval?: (e: Evaluation & { epoch: number }) => void;
  onMessage?: (m: string) => void;
}

export interface TrainOutcome {
  steps: number;
  epochs: number;
  /** Loss of every step run in this call, in order. */
  losses: number[];
  lastEval?: Evaluation;
  stopped: 'done' | 'time' | 'interrupted' | 'max-steps';
  /** The folder of the newest checkpoint. */
  checkpoint: string;
}

export class Trainer {
  readonly model: InceptionV3;
  readonly optimizer: TrainOptimizer;
  readonly loader: BatchLoader;
  readonly schedule: LearningRateSchedule;
  readonly ema: ExponentialMovingAverage | undefined;
  private readonly tape: Tape;
  private state: TrainState;
  /** The newest checkpoint on disk and whether the state has moved on since it was written. */
  private saved: { path: string; step: number } | undefined;
  private changedSinceSave = true;

  private constructor(
    readonly engine: Engine,
    readonly config: TrainConfig,
    readonly train: ImageDataset,
    readonly test: ImageDataset,
    readonly outDir: string,
    state?: TrainState,
  ) {
    this.model = new InceptionV3(engine, { variant: 'cifar10', width: config.width, seed: config.seed });
    this.tape = new Tape(engine);
    this.optimizer = createOptimizer(engine, this.model.parameters(), config);
    this.loader = new BatchLoader(engine, train, {
      batchSize: config.batchSize,
      seed: config.seed,
      training: true,
      dropLast: true,
      ...(state ? { state: state.loader } : {}),
    });
    this.schedule = scheduleFor(config, this.loader.batchesPerEpoch);
    this.ema = config.ema ? new ExponentialMovingAverage(engine, this.model.parameters(), { decay: config.ema, numUpdates: true }) : undefined;
    this.state = {
      ...(state ?? { config, step: 0, loader: this.loader.state, seconds: 0, epochLossSum: 0, epochLossCount: 0 }),
      trainImages: train.count,
      testImages: test.count,
    };
  }

  /**
   * A fresh run, or (resume) the one whose newest checkpoint is in outDir; `config` must then be
   * the checkpoint's (the CLI restores it from the run folder) and the data the same size.
   * Checkpoint folders a crash left unpublished are cleared first: the caller holds the folder.
   */
  static async create(
    engine: Engine,
    config: TrainConfig,
    data: { train: ImageDataset; test: ImageDataset },
    outDir: string,
    resume = false,
    options: { onMessage?: (m: string) => void } = {},
  ): Promise<Trainer> {
    const dir = resolve(outDir);
    if (data.train.count < config.batchSize)
      throw new InceptError(`incept train: the batch size ${config.batchSize} is larger than the ${data.train.count} training images`);
    for (const path of removeUnpublishedCheckpoints(dir))
      options.onMessage?.(`removed ${path}: a checkpoint whose writing was cut short (it was never the one to resume from)`);
    if (!resume) return new Trainer(engine, config, data.train, data.test, dir);
    const saved = await readTrainCheckpoint(dir, options);
    const differ = configDifferences(saved.state.config, config);
    if (differ.length) {
      const what = differ
        .map(
          (k) => `${k} (${String(settingValue(saved.state.config, k) ?? 'not set')} in the checkpoint, ${String(settingValue(config, k) ?? 'not set')} given)`,
        )
        .join(', ');
      throw new InceptError(
        `Trainer.create: resuming ${dir} with a configuration that differs from its checkpoint's: ${what}. A resumed run keeps its configuration`,
      );
    }
    for (const [split, was, now] of [
      ['training', saved.state.trainImages, data.train.count],
      ['test', saved.state.testImages, data.test.count],
    ] as const) {
      if (was !== undefined && was !== now)
        throw new InceptError(
          `Trainer.create: the run in ${dir} was trained on ${was} ${split} images; the data given has ${now} (another data folder or limit?)`,
        );
    }
    const t = new Trainer(engine, saved.state.config, data.train, data.test, dir, saved.state);
    t.loadTensors(saved.tensors);
    t.saved = { path: saved.path, step: saved.state.step };
    t.changedSinceSave = false;
    return t;
  }

  get step(): number {
    return this.state.step;
  }

  get stepsPerEpoch(): number {
    return this.loader.batchesPerEpoch;
  }

  private loadTensors(tensors: Map<string, Float32Array>): void {
    const model = this.model.stateDict();
    for (const [name, t] of model) {
      const v = tensors.get(`model.${name}`);
      if (!v) throw new InceptError(`incept train --resume: the checkpoint has no tensor model.${name}; it was written by another model configuration`);
      if (v.length !== t.size)
        throw new InceptError(`incept train --resume: checkpoint tensor model.${name} has ${v.length} values, the model needs ${t.size}`);
      this.engine.write(t, v);
    }
    this.model.invalidateFolded();
    const part = (prefix: string) =>
      new Map([...tensors].filter(([name]) => name.startsWith(prefix)).map(([name, v]) => [name.slice(prefix.length), v] as const));
    this.optimizer.loadState(part('optimizer.'));
    this.ema?.loadState(part('ema.'));
  }

  /** Writes weights, running statistics, optimizer state and the loop's position. */
  async checkpoint(): Promise<string> {
    const tensors = new Map<string, Tensor>();
    for (const [name, t] of this.model.stateDict()) tensors.set(`model.${name}`, t);
    for (const [name, t] of this.optimizer.state()) tensors.set(`optimizer.${name}`, t);
    if (this.ema) for (const [name, t] of this.ema.state()) tensors.set(`ema.${name}`, t);
    this.state.loader = this.loader.state;
    const path = await writeTrainCheckpoint(this.outDir, tensors, this.state);
    this.saved = { path, step: this.state.step };
    this.changedSinceSave = false;
    return path;
  }

  /** Test-set accuracy and loss, with the averaged weights when the run keeps an average. */
  async evaluate(onBatch?: (done: number, total: number) => void): Promise<Evaluation> {
    // 250 images a batch unless the adapter's buffers hold fewer (evaluation results do not
    // depend on the batch: each image is scored alone, and summed in the same order).
    const batchSize = Math.max(1, Math.min(250, imagesPerBuffer(this.engine.limits, this.model.layers)));
    const run = () => evaluate(this.engine, this.model, this.test, { batchSize, ...(onBatch ? { onBatch } : {}) });
    if (!this.ema) return run();
    this.model.invalidateFolded();
    try {
      return await this.ema.withAverages(run);
    } finally {
      this.model.invalidateFolded(); // the folds were made from the averages
    }
  }

  /** Writes the HTML report from the metrics file. */
  writeReport(metricsPath: string, facts: [string, string][]): string {
    const records: MetricRecord[] = existsSync(metricsPath) ? readMetrics(metricsPath) : [];
    return writeReport(
      join(this.outDir, 'report.html'),
      renderTrainReport(records, { title: `Inception-v3 (CIFAR-10 variant, width ${this.config.width}) training`, facts }),
    );
  }

  /** Runs until the configured epochs are done or `control` stops it. */
  async run(metrics: MetricsLog, control: RunControl = {}): Promise<TrainOutcome> {
    const engine = this.engine;
    const config = this.config;
    const stepsPerEpoch = this.stepsPerEpoch;
    const totalSteps = config.epochs * stepsPerEpoch;
    const logEvery = control.logEvery ?? 10;
    const started = performance.now();
    const secondsAtStart = this.state.seconds;
    const seconds = () => secondsAtStart + (performance.now() - started) / 1000;
    const losses: number[] = [];
    let lastEval: Evaluation | undefined;
    let evaluatedAt = -1;
    let stopped: TrainOutcome['stopped'] = 'done';
    const params = [...this.model.parameters()];
    let windowStart = performance.now();
    let windowImages = 0;
    let lastCheckpointAt = performance.now();
    const checkpoint = async () => {
      this.state.seconds = seconds();
      const path = await this.checkpoint();
      lastCheckpointAt = performance.now();
      control.onCheckpoint?.({ step: this.state.step, path });
    };

    /** Evaluates (and logs it); at an epoch's end the epoch's loss sums start over, while a time
     * budget that stops mid-epoch keeps them, so the epoch's mean is the same when resumed. */
    const evaluateNow = async (epoch: number) => {
      control.onMessage?.(
        `${epoch > 0 && Number.isInteger(epoch) ? `epoch ${epoch} done` : `stopping at epoch ${epoch.toFixed(2)}`}: evaluating on ${this.test.count} test images`,
      );
      lastEval = await this.evaluate();
      const trainLoss = this.state.epochLossCount ? this.state.epochLossSum / this.state.epochLossCount : undefined;
      metrics.write({
        kind: 'eval',
        step: this.state.step,
        epoch,
        testAcc: lastEval.accuracy,
        testLoss: lastEval.loss,
        ...(trainLoss !== undefined ? { trainLoss } : {}),
        seconds: seconds(),
      });
      evaluatedAt = this.state.step;
      this.changedSinceSave = true;
      control.onEval?.({ ...lastEval, epoch });
      if (this.state.step % stepsPerEpoch === 0) {
        this.state.epochLossSum = 0;
        this.state.epochLossCount = 0;
      }
    };

    while (this.state.step < totalSteps) {
      if (control.interrupted?.()) {
        stopped = 'interrupted';
        break;
      }
      if (control.seconds !== undefined && seconds() - secondsAtStart >= control.seconds) {
        stopped = 'time';
        break;
      }
      if (control.maxSteps !== undefined && this.state.step >= control.maxSteps) {
        stopped = 'max-steps';
        break;
      }
      const step = this.state.step;
      const lr = this.schedule(step);
      const logNow = (step + 1) % logEvery === 0;
      let gradNorm: number | undefined;
      const loss = await engine.scope(async () => {
        const batch = this.loader.next();
        const out = this.model.forwardTrain(this.tape, batch.images, { dropoutSeed: config.seed * 1_000_003 + step });
        const { total } = inceptionLoss(this.tape, out, batch.labels, { labelSmoothing: config.labelSmoothing, auxWeight: config.auxWeight });
        this.tape.backward(total);
        const grads = params.map(([name, p]) => [name, this.tape.grad(p)!] as [string, Tensor]);
        const norm = config.clip > 0 ? globalNorm(grads.map(([, g]) => g)) : undefined;
        this.optimizer.step(new Map(grads), { lr, ...(norm ? { gradNorm: norm, clip: config.clip } : {}) });
        this.ema?.update();
        if (norm && logNow) gradNorm = (await norm.read())[0]!;
        return (await total.read())[0]!;
      });
      this.tape.zeroGrad();
      if (!Number.isFinite(loss))
        throw new InceptError(`incept train: the loss became ${loss} at step ${step} (learning rate ${lr}); lower --lr or keep clipping on`);
      losses.push(loss);
      this.state.step++;
      this.changedSinceSave = true;
      this.state.epochLossSum += loss;
      this.state.epochLossCount++;
      windowImages += config.batchSize;
      const epoch = this.state.step / stepsPerEpoch;
      const now = performance.now();
      const imagesPerSecond = (1000 * windowImages) / Math.max(1, now - windowStart);
      control.onStep?.({ step: this.state.step, epoch, loss, lr, imagesPerSecond, stepsPerEpoch, totalSteps });
      if (this.state.step % logEvery === 0) {
        metrics.write({
          kind: 'step',
          step: this.state.step,
          epoch,
          loss,
          lr,
          imagesPerSecond,
          ...(gradNorm !== undefined ? { gradNorm } : {}),
          seconds: seconds(),
        });
        windowStart = now;
        windowImages = 0;
      }
      if (this.state.step % stepsPerEpoch === 0) {
        await evaluateNow(this.state.step / stepsPerEpoch);
        await checkpoint();
      } else if (control.checkpointEverySeconds !== undefined && (performance.now() - lastCheckpointAt) / 1000 >= control.checkpointEverySeconds) {
        await checkpoint();
      }
    }
    // The time budget ends with an evaluation (unless the epoch end just did one).
    if (stopped === 'time' && evaluatedAt !== this.state.step) await evaluateNow(this.state.step / stepsPerEpoch);
    // A checkpoint unless the newest one already holds this state (e.g. the epoch end just wrote it).
    if (this.changedSinceSave || !this.saved) await checkpoint();
    return {
      steps: this.state.step,
      epochs: this.state.step / stepsPerEpoch,
      losses,
      ...(lastEval ? { lastEval } : {}),
      stopped,
      checkpoint: this.saved!.path,
    };
  }

  dispose(): void {
    this.tape.dispose();
    this.ema?.dispose();
    this.optimizer.dispose();
    this.model.dispose();
  }
}
