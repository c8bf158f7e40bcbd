/**
 * Size-class buffer pool. Storage buffers are rounded up to a class (quarter steps between
 * powers of two, so at most 25% is wasted) and returned to a free list on release, so a
 * training step that allocates the same shapes every iteration stops calling createBuffer.
 */

export interface MemoryStats {
  /** Bytes held by live tensors (their size classes). */
  liveBytes: number;
  /** The most liveBytes ever reached since the engine started or resetPeak(). */
  peakBytes: number;
  /** Bytes sitting idle in the pool, ready for reuse. */
  pooledBytes: number;
  liveBuffers: number;
  pooledBuffers: number;
  /** How many buffers were created on the device in total (a pool hit creates none). */
  created: number;
  /** How many acquisitions the pool served from its free lists. */
  reused: number;
}

export interface PooledBuffer {
  readonly buffer: GPUBuffer;
  readonly capacity: number;
  /** The batch (submission) that last used this buffer; uploads check it to avoid races. */
  lastBatch: number;
  /** A buffer someone else owns (engine.wrapGpuBuffer): never pooled, never destroyed here. */
  readonly external?: boolean;
}

const MIN_CLASS = 256;

/** The size class for a request: 256 B, then 2^k·{1, 1.25, 1.5, 1.75}. */
export function sizeClass(bytes: number): number {
  if (bytes <= MIN_CLASS) return MIN_CLASS;
  const pow = 2 ** Math.floor(Math.log2(bytes));
  const quarter = pow / 4;
  return Math.ceil(bytes / quarter) * quarter;
}

export class BufferPool {
  private free = new Map<number, PooledBuffer[]>();
  private stats: MemoryStats = { liveBytes: 0, peakBytes: 0, pooledBytes: 0, liveBuffers: 0, pooledBuffers: 0, created: 0, reused: 0 };

  /** Idle bytes above this are destroyed instead of pooled. */
  maxPooledBytes = 2 ** 30;

  constructor(private readonly create: (size: number) => GPUBuffer) {}

  acquire(bytes: number): PooledBuffer {
    const size = sizeClass(bytes);
    const list = this.free.get(size);
    let pb = list?.pop();
    if (pb) {
      this.stats.pooledBytes -= size;
      this.stats.pooledBuffers--;
      this.stats.reused++;
    } else {
      pb = { buffer: this.create(size), capacity: size, lastBatch: -1 };
      this.stats.created++;
    }
    this.stats.liveBytes += size;
    this.stats.liveBuffers++;
    if (this.stats.liveBytes > this.stats.peakBytes) this.stats.peakBytes = this.stats.liveBytes;
    return pb;
  }

  release(pb: PooledBuffer): void {
    if (pb.external) return; // its owner keeps it; it was never counted here
    this.stats.liveBytes -= pb.capacity;
    this.stats.liveBuffers--;
    if (this.stats.pooledBytes + pb.capacity > this.maxPooledBytes) {
      pb.buffer.destroy();
      return;
    }
    let list = this.free.get(pb.capacity);
    if (!list) this.free.set(pb.capacity, (list = []));
    list.push(pb);
    this.stats.pooledBytes += pb.capacity;
    this.stats.pooledBuffers++;
  }

  /** Destroys every idle buffer. */
  trim(): void {
    for (const list of this.free.values()) for (const pb of list) pb.buffer.destroy();
    this.free.clear();
    this.stats.pooledBytes = 0;
    this.stats.pooledBuffers = 0;
  }

  resetPeak(): void {
    this.stats.peakBytes = this.stats.liveBytes;
  }

  snapshot(): MemoryStats {
    return { ...this.stats };
  }
}
