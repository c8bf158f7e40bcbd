/**
 * What the engine records between two submissions: command encoders, the uniform arenas their
 * dispatches read, upload staging buffers and the error scopes to check at flush.
 */
import type { DispatchContext } from './errors.js';
import type { ErrorCheck } from './gpu-errors.js';
import type { DispatchRecord, TimestampSlot } from './profiler.js';
import type { Arena } from './uniform-arena.js';

/** A dispatch as the profiler records it, before its time is known. */
export type TimedDispatch = Omit<DispatchRecord, 'ms' | 'timing'>;

export interface Batch {
  id: number;
  /** Command encoders in order; more than one only when timing without timestamp-query. */
  segments: { encoder: GPUCommandEncoder; timed?: TimedDispatch }[];
  arenas: Arena[];
  /** Upload staging buffers, destroyed once the batch is submitted (WebGPU frees them after use). */
  staging: GPUBuffer[];
  checks: ErrorCheck[];
  /** Dispatch contexts by sequence number, to name the kernel in encoder-level errors. */
  contexts: Map<number, DispatchContext>;
  timestamps?: { slot: TimestampSlot; pending: TimedDispatch[] };
  dispatches: number;
}

export function newBatch(device: GPUDevice, id: number): Batch {
  return {
    id,
    segments: [{ encoder: device.createCommandEncoder() }],
    arenas: [],
    staging: [],
    checks: [],
    contexts: new Map(),
    dispatches: 0,
  };
}

/** The last encoder of the batch: where the next command is recorded. */
export function openEncoder(batch: Batch): GPUCommandEncoder {
  return batch.segments[batch.segments.length - 1]!.encoder;
}
