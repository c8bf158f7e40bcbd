/**
 * The open batch and its submission. Everything an engine records goes into one batch, which is
 * submitted whole at a readback or flush(); this module keeps the ordering rules that make that
 * safe: uploads never overtake recorded work, uniform arenas are reused only after submission,
 * and flushes report their errors and profiles in the order they were called.
 */
import { newBatch, openEncoder, type Batch } from './batch.js';
import type { DispatchContext, GpuError, GpuErrorKind } from './errors.js';
import { batchErrors, firstOf, withErrorScopes } from './gpu-errors.js';
import { align4 } from './byte-size.js';
import type { PooledBuffer } from './pool.js';
import type { Profiler } from './profiler.js';
import { UniformArenas } from './uniform-arena.js';

export class BatchRecorder {
  /** The batch being recorded; replaced by a fresh one at each flush. */
  batch: Batch;
  /** WebGPU errors that no error scope caught; reported by the next flush. */
  readonly uncaptured: GpuError[] = [];
  /** Errors of batches that were flushed internally; reported by the next flush. */
  readonly deferredErrors: GpuError[] = [];
  private readonly arenas: UniformArenas;
  private nextBatchId = 1;
  private lastSubmission: Promise<void> = Promise.resolve();
  /** Batches flushed but not yet handed to the queue (only while a profiled flush without
   * timestamp queries submits its dispatches one by one); uploads to their buffers are staged. */
  private unsubmitted = new Set<number>();
  /** Resolves when every flushed batch has been handed to the queue. */
  private submitChain: Promise<void> | undefined;
  /** Copies or clears recorded outside dispatches (uploads, zeros, readbacks) in the open batch. */
  private pendingEncoderWork = false;

  constructor(
    private readonly device: GPUDevice,
    private readonly profiler: Profiler,
  ) {
    this.arenas = new UniformArenas(device);
    this.batch = newBatch(device, this.nextBatchId++);
  }

  /** The open batch's encoder, marking the buffer as used by this batch. */
  encoderFor(pb: PooledBuffer): GPUCommandEncoder {
    pb.lastBatch = this.batch.id;
    this.pendingEncoderWork = true;
    return openEncoder(this.batch);
  }

  /**
   * Writes host data into a pooled buffer. queue.writeBuffer takes effect at once, ahead of
   * anything not yet submitted, so it is only used on a buffer that no unsubmitted batch touches
   * (the open one, or one whose submission is still queued behind a timed flush). Any other
   * buffer — for instance one just freed by recorded work and handed out again by the pool — is
   * written through a staging copy recorded in the open batch, in order after that work.
   */
  upload(pb: PooledBuffer, data: Float32Array | Int32Array | Uint32Array): void {
    if (data.byteLength === 0) return;
    if (pb.lastBatch !== this.batch.id && !this.unsubmitted.has(pb.lastBatch)) {
      this.device.queue.writeBuffer(pb.buffer, 0, data.buffer, data.byteOffset, align4(data.byteLength));
      return;
    }
    const staging = this.device.createBuffer({ size: align4(data.byteLength), usage: GPUBufferUsage.COPY_SRC, mappedAtCreation: true });
    new Uint8Array(staging.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    staging.unmap();
    this.encoderFor(pb).copyBufferToBuffer(staging, 0, pb.buffer, 0, align4(data.byteLength));
    this.batch.staging.push(staging);
  }

  /** Runs `fn` inside error scopes checked when the open batch is flushed. */
  withErrorScopes<T>(context: DispatchContext, kinds: GpuErrorKind[], fn: () => T): T {
    return withErrorScopes(this.device, (check) => this.batch.checks.push(check), context, kinds, fn);
  }

  /** A place for one dispatch's packed uniforms in the open batch's arenas. */
  uniformSlot(bytes: Uint8Array): GPUBufferBinding {
    return this.arenas.slot(this.batch.arenas, bytes);
  }

  /** Submits everything recorded so far as one submission. Resolves when WebGPU has reported
   * on it; rejects with a GpuError naming the kernel if anything in it failed.
   *
   * The batch is finished and handed to the queue synchronously, before this returns. That is
   * what keeps uploads in order: `queue.writeBuffer` takes effect ahead of anything not yet
   * submitted, so if submission waited (for instance on the encoder's error scope) an upload
   * issued meanwhile into a buffer this batch reads or frees would overtake it. Errors are
   * collected by error scopes and reported when the returned promise settles; an encoder that
   * failed to finish yields an invalid command buffer, which WebGPU refuses to run. */
  flush(): Promise<void> {
    const batch = this.batch;
    const empty = batch.checks.length === 0 && batch.dispatches === 0 && batch.segments.length === 1 && !batch.timestamps;
    if (empty && !this.pendingEncoderWork) return this.lastSubmission;
    this.pendingEncoderWork = false;
    this.batch = newBatch(this.device, this.nextBatchId++);

    const finishContext: DispatchContext = { op: 'submit', kernel: `batch of ${batch.dispatches} dispatch(es)` };
    if (batch.timestamps) {
      const { slot, pending } = batch.timestamps;
      const last = openEncoder(batch);
      last.resolveQuerySet(slot.querySet, 0, 2 * pending.length, slot.resolve, 0);
      last.copyBufferToBuffer(slot.resolve, 0, slot.readback, 0, 16 * pending.length);
    }
    this.device.pushErrorScope('validation');
    const commandBuffers = batch.segments.map((s) => s.encoder.finish());
    const finishError = this.device.popErrorScope();

    let submitError: Promise<GPUError | null>;
    if (!this.submitChain && !batch.segments.some((s) => s.timed)) {
      submitError = this.submitNow(batch, commandBuffers);
    } else {
      // Profiling without timestamp queries: each dispatch is submitted alone and timed by the
      // wall clock, so this batch reaches the queue over several turns. Until it has, uploads
      // into its buffers are staged (see upload) and later batches queue behind it.
      this.unsubmitted.add(batch.id);
      const previous = this.submitChain ?? Promise.resolve();
      const done = previous.then(() => this.submitSegments(batch, commandBuffers)).finally(() => this.unsubmitted.delete(batch.id));
      const chain = done.then(
        () => undefined,
        () => undefined,
      );
      this.submitChain = chain;
      void chain.then(() => {
        if (this.submitChain === chain) this.submitChain = undefined;
      });
      submitError = done;
    }

    const checked = (async () => {
      const errors = await batchErrors(batch.checks, finishError, submitError, batch.contexts, finishContext);
      errors.push(...this.deferredErrors.splice(0), ...this.uncaptured.splice(0));
      const first = firstOf(errors);
      if (first) throw first;
      if (batch.timestamps) await this.profiler.collect(batch.timestamps.slot, batch.timestamps.pending);
    })();
    // Later flushes report after earlier ones so profiles and errors come in order.
    const chained = this.lastSubmission.catch(() => undefined).then(() => checked);
    this.lastSubmission = chained;
    return chained;
  }

  /** Writes the batch's uniforms and submits it in one call; returns the submit's error scope. */
  private submitNow(batch: Batch, commandBuffers: GPUCommandBuffer[]): Promise<GPUError | null> {
    this.arenas.write(batch.arenas);
    this.device.pushErrorScope('validation');
    this.device.queue.submit(commandBuffers);
    const error = this.device.popErrorScope();
    this.retire(batch);
    return error;
  }

  /** Submits a batch one command buffer at a time, timing each profiled dispatch by the wall
   * clock from its submit to the queue's report that the work is done. */
  private async submitSegments(batch: Batch, commandBuffers: GPUCommandBuffer[]): Promise<GPUError | null> {
    this.arenas.write(batch.arenas);
    let first: GPUError | null = null;
    try {
      for (let i = 0; i < batch.segments.length; i++) {
        const t0 = performance.now();
        this.device.pushErrorScope('validation');
        this.device.queue.submit([commandBuffers[i]!]);
        const error = this.device.popErrorScope();
        await this.device.queue.onSubmittedWorkDone();
        first ??= await error;
        const timed = batch.segments[i]!.timed;
        if (timed) this.profiler.addWallRecord(timed, performance.now() - t0);
      }
    } finally {
      this.retire(batch);
    }
    return first;
  }

  /** After submission: arenas go back for reuse (their next write is queued after this
   * submission), staging buffers are destroyed (WebGPU keeps them until the work has run). */
  private retire(batch: Batch): void {
    this.arenas.recycle(batch.arenas);
    for (const b of batch.staging) b.destroy();
  }

  /** Frees the arenas kept for reuse (the engine is being destroyed). */
  destroy(): void {
    this.arenas.destroy();
  }
}
