/**
 * A tensor is a shape, a dtype and a pooled GPU buffer. Reshapes share the buffer (reference
 * counted); the buffer returns to the pool when the last tensor on it is disposed.
 */
import { InvalidArgumentError } from './errors.js';
import { noteCreated } from './op-frames.js';
import type { PooledBuffer } from './pool.js';
import { nestArray, type NestedArray } from './nested-array.js';

export type DType = 'f32' | 'i32' | 'u32';
export type Shape = readonly number[];
export type TypedArrayFor<D extends DType> = D extends 'f32' ? Float32Array : D extends 'i32' ? Int32Array : Uint32Array;

export const DTYPES: readonly DType[] = ['f32', 'i32', 'u32'];

export function typedArrayFor(dtype: DType, length: number): Float32Array | Int32Array | Uint32Array {
  return dtype === 'f32' ? new Float32Array(length) : dtype === 'i32' ? new Int32Array(length) : new Uint32Array(length);
}

export function shapeSize(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** Throws unless every dimension is a non-negative integer. */
export function checkShape(shape: Shape, what: string): void {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new InvalidArgumentError(`${what}: shape ${JSON.stringify(shape)} must be an array of non-negative integers`);
  }
}

/** The engine side a tensor needs; kept narrow so tensor.ts does not import the engine. */
export interface TensorOwner {
  /** True once the engine was destroyed: its tensors can no longer be used. */
  readonly isDestroyed: boolean;
  readTensor(t: Tensor): Promise<Float32Array | Int32Array | Uint32Array>;
  /** Submits all recorded work to the device's queue. */
  flush(): Promise<void>;
  releaseStorage(pb: PooledBuffer): void;
  track(t: Tensor): void;
  untrack(t: Tensor): void;
}

interface Storage {
  pb: PooledBuffer;
  refs: number;
}

/**
 * Where a channel view's elements live: the innermost dimension of the buffer holds `stride`
 * channels per row and this view owns channels offset..offset+C of each row. This is how a
 * concat costs nothing: each branch writes straight into its channel slice of the output.
 */
export interface ChannelSlice {
  offset: number;
  stride: number;
}

let nextId = 1;

export class Tensor<D extends DType = DType> {
  readonly id = nextId++;
  readonly size: number;
  private disposedFlag = false;

  /** @internal use engine.tensor / engine.zeros / ops to create tensors. */
  constructor(
    /** @internal the engine that owns the buffer */
    readonly owner: TensorOwner,
    private readonly storage: Storage,
    readonly shape: Shape,
    readonly dtype: D,
    /** Optional name, shown in error messages and profiles. */
    public label?: string,
    /** Set on a channel view (see channelView); undefined for a plain, contiguous tensor. */
    readonly slice?: ChannelSlice,
  ) {
    this.size = shapeSize(shape);
    owner.track(this);
    noteCreated(this);
  }

  /** @internal */
  static create<D extends DType>(owner: TensorOwner, pb: PooledBuffer, shape: Shape, dtype: D, label?: string): Tensor<D> {
    return new Tensor(owner, { pb, refs: 1 }, shape, dtype, label);
  }

  get rank(): number {
    return this.shape.length;
  }

  get byteLength(): number {
    return this.size * 4;
  }

  /** Channels (innermost dimension) of this tensor. */
  get channels(): number {
    return this.shape[this.shape.length - 1] ?? 1;
  }

  /** Elements of the buffer this tensor spans: its size, or for a view every row's full stride. */
  get spanElements(): number {
    if (!this.slice) return this.size;
    const c = this.channels;
    return c === 0 ? 0 : (this.size / c) * this.slice.stride;
  }

  /** Channel offset and row stride (in elements) a kernel writing this tensor uses. */
  get channelLayout(): ChannelSlice {
    return this.slice ?? { offset: 0, stride: this.channels };
  }

  get isDisposed(): boolean {
    return this.disposedFlag;
  }

  /** The pooled buffer; throws if the tensor was disposed. @internal */
  get pooled(): PooledBuffer {
    if (this.disposedFlag) throw new InvalidArgumentError(`${this.describe()} was used after dispose()`);
    if (this.owner.isDestroyed)
      throw new InvalidArgumentError(
        `${this.describe()} was used after its engine was destroyed (engine.destroy()); tensors live only as long as their engine`,
      );
    return this.storage.pb;
  }

  /**
   * The GPUBuffer holding this tensor's elements, at offset 0 (row-major, 4 bytes each; the
   * buffer may be larger than byteLength: pooled buffers come in size classes). Work the engine
   * recorded on it may not be submitted yet: to use it in another library, take it from
   * `await gpuBuffer()`, which submits first.
   */
  get buffer(): GPUBuffer {
    return this.pooled.buffer;
  }

  /** True when the buffer was wrapped with engine.wrapGpuBuffer: its owner keeps and frees it. */
  get isExternal(): boolean {
    return this.storage.pb.external === true;
  }

  /**
   * The GPUBuffer, for zero-copy use by other WebGPU code on the same device (TF.js's
   * `tf.tensor({ buffer }, shape)`, a renderer's bind group). Resolves after the engine has
   * submitted every piece of work recorded so far (so another library's commands, submitted
   * later to the same queue, see the results). Valid until this tensor and every tensor sharing
   * its buffer (reshape, bitcast, views) is disposed; after that the engine reuses the buffer.
   * The elements are the first byteLength bytes. A channel view has no buffer of its own
   * (its channels interleave with others): copy it with sliceChannels first.
   */
  async gpuBuffer(): Promise<GPUBuffer> {
    if (this.slice)
      throw new InvalidArgumentError(
        `gpuBuffer of ${this.describe()}: a channel view's elements interleave with other channels in the buffer; copy it with sliceChannels first`,
      );
    const buffer = this.buffer; // throws if disposed
    await this.owner.flush();
    return buffer;
  }

  describe(): string {
    const view = this.slice ? ` (channels ${this.slice.offset}..${this.slice.offset + this.channels - 1} of ${this.slice.stride})` : '';
    return `tensor${this.label ? ` '${this.label}'` : ` #${this.id}`} ${this.dtype}${formatShape(this.shape)}${view}`;
  }

  toString(): string {
    return this.describe();
  }

  /**
   * Channels offset..offset+channels−1 of this tensor as a tensor of their own, sharing its
   * buffer (no copy): kernels that write activations write into the slice, kernels reading it
   * see only its channels. Dispose the view too. Views of views compose.
   */
  channelView(offset: number, channels: number): Tensor<D> {
    const c = this.channels;
    if (this.rank < 1) throw new InvalidArgumentError(`channelView of ${this.describe()}: a scalar has no channels`);
    if (!Number.isInteger(offset) || !Number.isInteger(channels) || offset < 0 || channels < 1 || offset + channels > c) {
      throw new InvalidArgumentError(
        `channelView of ${this.describe()}: channels ${offset}..${offset + channels - 1} are not within its ${c} channels (offset and count must be integers, count ≥ 1)`,
      );
    }
    void this.pooled; // throws if disposed
    this.storage.refs++;
    const base = this.channelLayout;
    return new Tensor(this.owner, this.storage, [...this.shape.slice(0, -1), channels], this.dtype, this.label, {
      offset: base.offset + offset,
      stride: base.stride,
    });
  }

  /** @internal A channel view's whole span (every row, all `stride` channels) as a plain 1-D
   * tensor on the same buffer; dispose it after use. */
  spanTensor(): Tensor<D> {
    void this.pooled; // throws if disposed
    this.storage.refs++;
    return new Tensor(this.owner, this.storage, [this.spanElements], this.dtype, this.label);
  }

  /** Same data, new shape (no copy). Both tensors must be disposed. */
  reshape(shape: Shape): Tensor<D> {
    checkShape(shape, 'reshape');
    if (this.slice && shape[shape.length - 1] !== this.channels) {
      throw new InvalidArgumentError(
        `reshape of ${this.describe()} to ${formatShape(shape)}: a channel view can only regroup its leading dimensions (its channels are not contiguous across rows); copy it first`,
      );
    }
    if (shapeSize(shape) !== this.size) {
      throw new InvalidArgumentError(`reshape of ${this.describe()} to ${formatShape(shape)}: sizes differ (${this.size} vs ${shapeSize(shape)})`);
    }
    void this.pooled; // throws if disposed
    this.storage.refs++;
    return new Tensor(this.owner, this.storage, [...shape], this.dtype, this.label, this.slice);
  }

  /** Same bits viewed as another 32-bit dtype (no copy), like a C union. Dispose both. */
  bitcast<E extends DType>(dtype: E): Tensor<E> {
    void this.pooled; // throws if disposed
    this.storage.refs++;
    return new Tensor(this.owner, this.storage, [...this.shape], dtype, this.label, this.slice);
  }

  /** Copies the data back from the GPU (flushing recorded work first). */
  async read(): Promise<TypedArrayFor<D>> {
    return (await this.owner.readTensor(this)) as TypedArrayFor<D>;
  }

  /** Reads the data as a plain array. */
  async toArray(): Promise<number[]> {
    return Array.from(await this.read());
  }

  /** The same as read(), under TensorFlow.js's name: the elements as a flat TypedArray. */
  data(): Promise<TypedArrayFor<D>> {
    return this.read();
  }

  /** The elements as nested arrays of this tensor's shape (a number for a scalar), like
   * TensorFlow.js's `array()`. */
  async array(): Promise<NestedArray> {
    return nestArray(await this.read(), this.shape);
  }

  dispose(): void {
    if (this.disposedFlag) return;
    this.disposedFlag = true;
    this.owner.untrack(this);
    if (--this.storage.refs === 0) this.owner.releaseStorage(this.storage.pb);
  }
}
