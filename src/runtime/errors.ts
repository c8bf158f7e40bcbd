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

/** One message of the WGSL compiler (or of pipeline creation) about a custom kernel. */
export interface KernelCompileMessage {
  type: 'error' | 'warning' | 'info';
  /** 1-based line and column in the kernel's source; 0 when the message names no place. */
  line: number;
  column: number;
  /** Characters the message points at (at least 1 where there is a place). */
  length: number;
  message: string;
  /** The entry point whose pipeline failed, for pipeline-creation errors. */
  entry?: string;
}

/** A custom kernel (defineKernel) that does not compile, thrown when it is defined. The message
 * lists each compiler error with its line and column, the source line and a caret under the
 * place; `messages` holds them as data. */
export class KernelCompileError extends InceptError {
  constructor(
    readonly kernel: string,
    readonly messages: readonly KernelCompileMessage[],
    source: string,
  ) {
    super(formatCompileMessages(kernel, messages, source));
  }
}

function formatCompileMessages(kernel: string, messages: readonly KernelCompileMessage[], source: string): string {
  const lines = source.split('\n');
  const errors = messages.filter((m) => m.type === 'error').length;
  const parts = messages.map((m) => {
    const where = m.line > 0 ? `${kernel}:${m.line}:${m.column}` : m.entry ? `${kernel} (entry ${m.entry})` : kernel;
    const head = `${where}: ${m.type}: ${m.message}`;
    const text = m.line > 0 ? lines[m.line - 1] : undefined;
    if (text === undefined) return head;
    const gutter = String(m.line).length;
    const width = Math.max(1, Math.min(m.length, text.length - m.column + 1));
    const caret = `${' '.repeat(Math.max(0, m.column - 1))}${'^'.repeat(width)}`;
    return `${head}\n  ${m.line} | ${text.replace(/\s+$/, '')}\n  ${' '.repeat(gutter)} | ${caret}`;
  });
  return `kernel '${kernel}' does not compile (${errors} error${errors === 1 ? '' : 's'}):\n${parts.join('\n')}`;
}
