/**
 * A tensor is a shape, a dtype and a pooled GPU buffer. Reshapes share the buffer (reference
 * counted); the buffer returns to the pool when the last tensor on it is disposed.
 */
import { InvalidArgumentError } from './errors.js';
import type { PooledBuffer } from './pool.js';

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
  readTensor(t: Tensor): Promise<Float32Array | Int32Array | Uint32Array>;
  releaseStorage(pb: PooledBuffer): void;
  track(t: Tensor): void;
  untrack(t: Tensor): void;
}

interface Storage {
  pb: PooledBuffer;
  refs: number;
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
  ) {
    this.size = shapeSize(shape);
    owner.track(this);
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

  get isDisposed(): boolean {
    return this.disposedFlag;
  }

  /** The pooled buffer; throws if the tensor was disposed. @internal */
  get pooled(): PooledBuffer {
    if (this.disposedFlag) throw new InvalidArgumentError(`${this.describe()} was used after dispose()`);
    return this.storage.pb;
  }

  get buffer(): GPUBuffer {
    return this.pooled.buffer;
  }

  describe(): string {
    return `tensor${this.label ? ` '${this.label}'` : ` #${this.id}`} ${this.dtype}${formatShape(this.shape)}`;
  }

  toString(): string {
    return this.describe();
  }

  /** Same data, new shape (no copy). Both tensors must be disposed. */
  reshape(shape: Shape): Tensor<D> {
    checkShape(shape, 'reshape');
    if (shapeSize(shape) !== this.size) {
      throw new InvalidArgumentError(`reshape of ${this.describe()} to ${formatShape(shape)}: sizes differ (${this.size} vs ${shapeSize(shape)})`);
    }
    this.pooled; // throws if disposed
    this.storage.refs++;
    return new Tensor(this.owner, this.storage, [...shape], this.dtype, this.label);
  }

  /** Same bits viewed as another 32-bit dtype (no copy), like a C union. Dispose both. */
  bitcast<E extends DType>(dtype: E): Tensor<E> {
    this.pooled; // throws if disposed
    this.storage.refs++;
    return new Tensor(this.owner, this.storage, [...this.shape], dtype, this.label);
  }

  /** Copies the data back from the GPU (flushing recorded work first). */
  async read(): Promise<TypedArrayFor<D>> {
    return (await this.owner.readTensor(this)) as TypedArrayFor<D>;
  }

  /** Reads the data as a plain array. */
  async toArray(): Promise<number[]> {
    return Array.from(await this.read());
  }

  dispose(): void {
    if (this.disposedFlag) return;
    this.disposedFlag = true;
    this.owner.untrack(this);
    if (--this.storage.refs === 0) this.owner.releaseStorage(this.storage.pb);
  }
}
