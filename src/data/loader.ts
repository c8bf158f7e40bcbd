/**
 * Batches of a 32×32 RGB data set for training: a seeded permutation per epoch (host side,
 * `shuffledIndices`), the batch's bytes gathered on the host, then uploaded and augmented +
 * normalised on the GPU (`augmentImages`). The position (epoch, cursor) and the seed are the
 * whole state: `loader.state` saved with a checkpoint and `restore(state)` continue the run
 * batch for batch as if it had not stopped (same order, same augmentation draws).
 */
import { augmentBatch, IMAGE_BYTES, type ChannelTriple } from '../ops/augment.js';
import type { Engine } from '../runtime/engine.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import type { Tensor } from '../runtime/tensor.js';
import type { ImageDataset } from './dataset.js';
import { shuffledIndices } from './random.js';

/** Where a loader stands: `cursor` images of epoch `epoch` are done (a multiple of the batch size). */
export interface LoaderState {
  epoch: number;
  cursor: number;
  seed: number;
}

export interface BatchLoaderOptions {
  batchSize: number;
  /** Seeds the shuffle (per epoch) and the augmentation draws: an integer in [0, 2^53]. */
  seed: number;
  /** Random crop and flip (default true); false: normalise only. */
  training?: boolean;
  /** A new random order each epoch (default: `training`); false: file order. */
  shuffle?: boolean;
  /** Drop the last, smaller batch of an epoch (default false: keep it). */
  dropLast?: boolean;
  /** Crop padding (default 4) and flipping (default true) of training augmentation. */
  padding?: number;
  flip?: boolean;
  /** Normalisation (default CIFAR10_MEAN and CIFAR10_STD). */
  mean?: ChannelTriple;
  std?: ChannelTriple;
  /** Start here instead of epoch 0, cursor 0 (its seed replaces `seed`). */
  state?: LoaderState;
}

/** Which images a batch holds and where it sits in the run. */
export interface BatchPosition {
  /** Data-set indices of the batch's images, in batch order. */
  indices: Int32Array;
  epoch: number;
  /** Batch index within the epoch. */
  batch: number;
  /** Batches since epoch 0 began: epoch · batchesPerEpoch + batch (the augmentation's step). */
  step: number;
}

export interface ImageBatch extends BatchPosition {
  /** f32[B, 32, 32, 3], normalised (and augmented in training). The caller disposes it. */
  images: Tensor<'f32'>;
  /** i32[B]. The caller disposes it. */
  labels: Tensor<'i32'>;
  /** The same labels on the host. */
  labelValues: Int32Array;
}

const MAX_INTEGER = 2 ** 53;

function checkInteger(name: string, v: unknown, min = 0): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > MAX_INTEGER) {
    throw new InvalidArgumentError(`BatchLoader: ${name} must be an integer in [${min}, 2^53], got ${String(v)}`);
  }
  return v;
}

export class BatchLoader {
  readonly batchSize: number;
  readonly training: boolean;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  /** Images per epoch: all, or whole batches only with dropLast. */
  readonly epochLength: number;
  readonly batchesPerEpoch: number;
  private seedValue: number;
  private epochValue = 0;
  private cursorValue = 0;
  private order?: { epoch: number; seed: number; indices: Int32Array };

  constructor(
    readonly engine: Engine,
    readonly data: ImageDataset,
    private readonly options: BatchLoaderOptions,
  ) {
    const n = data.count;
    if (!Number.isInteger(n) || n < 1 || data.images.length !== n * IMAGE_BYTES || data.labels.length !== n) {
      throw new InvalidArgumentError(
        `BatchLoader: data must hold count ≥ 1 images of ${IMAGE_BYTES} bytes and as many labels, got count ${n}, ${data.images.length} image bytes, ${data.labels.length} labels`,
      );
    }
    this.batchSize = checkInteger('batchSize', options.batchSize, 1);
    this.seedValue = checkInteger('seed', options.seed);
    this.training = options.training ?? true;
    this.shuffle = options.shuffle ?? this.training;
    this.dropLast = options.dropLast ?? false;
    for (const [name, v] of [
      ['training', this.training],
      ['shuffle', this.shuffle],
      ['dropLast', this.dropLast],
    ] as const) {
      if (typeof v !== 'boolean') throw new InvalidArgumentError(`BatchLoader: ${name} must be a boolean, got ${String(v)}`);
    }
    this.epochLength = this.dropLast ? Math.floor(n / this.batchSize) * this.batchSize : n;
    if (this.epochLength === 0) {
      throw new InvalidArgumentError(`BatchLoader: batchSize ${this.batchSize} with dropLast leaves no batch of the ${n} images`);
    }
    this.batchesPerEpoch = Math.ceil(this.epochLength / this.batchSize);
    if (options.state) this.restore(options.state);
  }

  get seed(): number {
    return this.seedValue;
  }
  get epoch(): number {
    return this.epochValue;
  }
  /** Images of the current epoch already handed out. */
  get cursor(): number {
    return this.cursorValue;
  }
  /** Index in the epoch of the next batch. */
  get batchIndex(): number {
    return this.cursorValue / this.batchSize;
  }
  /** Global index of the next batch: epoch · batchesPerEpoch + batchIndex. */
  get step(): number {
    return this.epochValue * this.batchesPerEpoch + this.batchIndex;
  }

  /** The position to save with a checkpoint (a copy). */
  get state(): LoaderState {
    return { epoch: this.epochValue, cursor: this.cursorValue, seed: this.seedValue };
  }

  /** Continue from a saved position: the next batch is the one that would have come next. */
  restore(state: LoaderState): void {
    if (typeof state !== 'object' || state === null) throw new InvalidArgumentError(`BatchLoader: state must be { epoch, cursor, seed }, got ${String(state)}`);
    const epoch = checkInteger('state.epoch', state.epoch);
    const cursor = checkInteger('state.cursor', state.cursor);
    const seed = checkInteger('state.seed', state.seed);
    if (cursor >= this.epochLength || cursor % this.batchSize !== 0) {
      throw new InvalidArgumentError(
        `BatchLoader: state.cursor must be a multiple of the batch size ${this.batchSize} below the epoch's ${this.epochLength} images, got ${cursor} (a state saved with another batch size or data set?)`,
      );
    }
    this.epochValue = epoch;
    this.cursorValue = cursor;
    this.seedValue = seed;
  }

  /** The order of the data set in `epoch` (a permutation when shuffling, else 0..N−1). */
  epochOrder(epoch: number = this.epochValue): Int32Array {
    checkInteger('epoch', epoch);
    if (this.order && this.order.epoch === epoch && this.order.seed === this.seedValue) return this.order.indices;
    let indices: Int32Array;
    if (this.shuffle) indices = shuffledIndices(this.data.count, this.seedValue, epoch);
    else {
      indices = new Int32Array(this.data.count);
      for (let i = 0; i < indices.length; i++) indices[i] = i;
    }
    this.order = { epoch, seed: this.seedValue, indices };
    return indices;
  }

  /** The next batch's position and indices, advancing the loader without touching the GPU. */
  nextIndices(): BatchPosition {
    const order = this.epochOrder();
    const start = this.cursorValue;
    const end = Math.min(start + this.batchSize, this.epochLength);
    const position: BatchPosition = { indices: order.slice(start, end), epoch: this.epochValue, batch: this.batchIndex, step: this.step };
    if (end >= this.epochLength) {
      this.epochValue++;
      this.cursorValue = 0;
    } else {
      this.cursorValue = end;
    }
    return position;
  }

  /** The next batch, on the GPU; rolls over to the next epoch after the last batch. */
  next(): ImageBatch {
    const position = this.nextIndices();
    const { indices } = position;
    const bytes = new Uint8Array(indices.length * IMAGE_BYTES);
    const labelValues = new Int32Array(indices.length);
    for (let b = 0; b < indices.length; b++) {
      const i = indices[b]!;
      bytes.set(this.data.images.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES), b * IMAGE_BYTES);
      labelValues[b] = this.data.labels[i]!;
    }
    const o = this.options;
    const { images, labels } = augmentBatch(this.engine, bytes, labelValues, {
      training: this.training,
      ...(this.training ? { seed: this.seedValue, step: position.step, padding: o.padding, flip: o.flip } : {}),
      mean: o.mean,
      std: o.std,
    });
    return { ...position, images, labels: labels!, labelValues };
  }

  /** The remaining batches of the current epoch (all of them from cursor 0). */
  *epochBatches(): Generator<ImageBatch> {
    const epoch = this.epochValue;
    while (this.epochValue === epoch) yield this.next();
  }

  [Symbol.iterator](): Generator<ImageBatch> {
    return this.epochBatches();
  }
}
