/**
 * Uniform data of a batch. Each dispatch's uniforms are packed into 64 KiB arenas on the CPU and
 * written with one queue.writeBuffer per arena at submission, instead of one small buffer and
 * write per dispatch. An arena's buffer is reused by a later batch once its batch is submitted:
 * that batch's write is queued after the submission that read the old contents.
 */
export const UNIFORM_ARENA_BYTES = 64 * 1024;

export interface Arena {
  buffer: GPUBuffer;
  data: Uint8Array;
  used: number;
}

export class UniformArenas {
  private free: GPUBuffer[] = [];

  constructor(private readonly device: GPUDevice) {}

  /** Places `bytes` in the last of `arenas` (a new one when it is full), aligned as the device
   * requires of uniform binding offsets. */
  slot(arenas: Arena[], bytes: Uint8Array): GPUBufferBinding {
    const align = this.device.limits.minUniformBufferOffsetAlignment;
    let arena = arenas[arenas.length - 1];
    if (!arena || arena.used + bytes.byteLength > UNIFORM_ARENA_BYTES) {
      const buffer =
        this.free.pop() ??
        this.device.createBuffer({ size: UNIFORM_ARENA_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: 'incept uniform arena' });
      arena = { buffer, data: new Uint8Array(UNIFORM_ARENA_BYTES), used: 0 };
      arenas.push(arena);
    }
    const offset = arena.used;
    arena.data.set(bytes, offset);
    arena.used = Math.ceil((offset + bytes.byteLength) / align) * align;
    return { buffer: arena.buffer, offset, size: bytes.byteLength };
  }

  /** Queues the arenas' contents; called just before the batch that reads them is submitted. */
  write(arenas: readonly Arena[]): void {
    for (const a of arenas) this.device.queue.writeBuffer(a.buffer, 0, a.data.buffer, 0, a.used);
  }

  /** Takes back a submitted batch's arenas for later batches. */
  recycle(arenas: readonly Arena[]): void {
    for (const a of arenas) this.free.push(a.buffer);
  }

  destroy(): void {
    for (const b of this.free) b.destroy();
    this.free = [];
  }
}
