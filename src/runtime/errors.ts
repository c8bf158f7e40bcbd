/**
 * Every failure the engine reports is one of these classes, so callers can tell a WebGPU error
 * (which WebGPU itself only reports asynchronously) from a mistake in how a kernel was called.
 */

/** Which dispatch an error belongs to: the op that asked for it and the kernel it ran. */
export interface DispatchContext {
  op: string;
  kernel: string;
}

function describe(ctx: DispatchContext | undefined): string {
  return ctx ? `kernel ${ctx.kernel} (op ${ctx.op})` : 'engine';
}

/** Base class: everything the engine throws on purpose. */
export class InceptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** An argument was wrong (shape, dtype, count, size): raised before anything reaches the GPU. */
export class InvalidArgumentError extends InceptError {}

/** A dispatch did not match what the kernel's WGSL declares; the message lists what it expects. */
export class KernelBindingError extends InceptError {
  constructor(
    readonly context: DispatchContext,
    problem: string,
    expected: string,
  ) {
    super(`${describe(context)}: ${problem}\n${expected}`);
  }
}

/** A problem too large for one dispatch on this device (a binding over maxStorageBufferBindingSize,
 * a grid over maxComputeWorkgroupsPerDimension). The message names the op, the tensor and the
 * limit and says what to change, without the kernel's WGSL: the call was right, only too big. */
export class DeviceLimitError extends InvalidArgumentError {
  constructor(
    readonly context: DispatchContext,
    problem: string,
  ) {
    super(`${context.op} (kernel ${context.kernel}): ${problem}`);
  }
}

export type GpuErrorKind = 'validation' | 'out-of-memory' | 'internal';

/** A WebGPU error captured by an error scope, tied to the dispatch (or allocation) that caused it. */
export class GpuError extends InceptError {
  constructor(
    readonly kind: GpuErrorKind,
    readonly context: DispatchContext | undefined,
    readonly gpuMessage: string,
  ) {
    super(`WebGPU ${kind} error in ${describe(context)}: ${gpuMessage}`);
  }
}

/** The device was lost (driver reset, destroy()); nothing recorded afterwards can run. */
export class DeviceLostError extends InceptError {}

/** No WebGPU adapter could be found; the message names the cause and the fix. */
export class NoAdapterError extends InceptError {}
