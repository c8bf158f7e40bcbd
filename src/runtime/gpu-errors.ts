/**
 * Turning WebGPU's errors into GpuErrors that name the op and kernel. WebGPU reports errors
 * asynchronously and without saying which call caused them, so every recorded step runs inside
 * error scopes tagged with its context, and the scopes are read when the batch is flushed.
 */
import { GpuError, type DispatchContext, type GpuErrorKind } from './errors.js';

/** The error scopes of one recorded step, popped but not yet settled. */
export interface ErrorCheck {
  context: DispatchContext;
  scopes: Promise<GPUError | null>[];
  kinds: GpuErrorKind[];
}

/** Runs `fn` inside error scopes of `kinds`; their outcome goes to `record`, to be read at the next flush. */
export function withErrorScopes<T>(device: GPUDevice, record: (check: ErrorCheck) => void, context: DispatchContext, kinds: GpuErrorKind[], fn: () => T): T {
  for (const k of kinds) device.pushErrorScope(k);
  let result: T;
  try {
    result = fn();
  } finally {
    const scopes = kinds.map(() => device.popErrorScope());
    // Scopes pop in reverse order of pushing.
    record({ context, scopes, kinds: [...kinds].reverse() });
  }
  return result;
}

export function errorKind(e: GPUError): GpuErrorKind {
  const name = e.constructor?.name ?? '';
  if (name.includes('OutOfMemory')) return 'out-of-memory';
  if (name.includes('Internal')) return 'internal';
  return 'validation';
}

/** Encoder errors name the pass by its label, which carries the dispatch's sequence number. */
export function contextFromMessage(message: string, contexts: ReadonlyMap<number, DispatchContext>): DispatchContext | undefined {
  const m = /#(\d+)/.exec(message);
  return m ? contexts.get(Number(m[1])) : undefined;
}

/**
 * The errors of one submitted batch, in the order that explains them best. Errors of allocations
 * and dispatches come first: an encoder error is often only their consequence ("invalid due to a
 * previous error"), and a submit error of a command buffer that failed to finish is only the
 * consequence of that, so it is reported only without a finish error.
 */
export async function batchErrors(
  checks: readonly ErrorCheck[],
  finishError: Promise<GPUError | null>,
  submitError: Promise<GPUError | null>,
  contexts: ReadonlyMap<number, DispatchContext>,
  finishContext: DispatchContext,
): Promise<GpuError[]> {
  const errors: GpuError[] = [];
  for (const check of checks) {
    const results = await Promise.all(check.scopes);
    results.forEach((err, i) => {
      if (err) errors.push(new GpuError(check.kinds[i]!, check.context, err.message));
    });
  }
  const finishErr = await finishError;
  const submitErr = await submitError;
  if (finishErr) errors.push(new GpuError(errorKind(finishErr), contextFromMessage(finishErr.message, contexts) ?? finishContext, finishErr.message));
  else if (submitErr) errors.push(new GpuError(errorKind(submitErr), contextFromMessage(submitErr.message, contexts) ?? finishContext, submitErr.message));
  return errors;
}

/** The first error, its message listing the kernels of the others: one throw reports them all. */
export function firstOf(errors: GpuError[]): GpuError | undefined {
  const first = errors[0];
  if (first && errors.length > 1)
    first.message += `\n(and ${errors.length - 1} more error(s) in the same batch: ${errors
      .slice(1)
      .map((e) => e.context?.kernel ?? 'engine')
      .join(', ')})`;
  return first;
}
