/**
 * Which `engine.scope` calls are open for the code running now. Tensors are tracked by the
 * innermost open scope of the *calling* code; with async scopes several calls can be open at
 * once (a service classifying two requests), and a single global stack would hand one call's
 * tensors to another's scope.
 *
 * In Node (and any runtime with `node:async_hooks`), the stack follows the async context with
 * AsyncLocalStorage: each scope call runs with its own stack, which its awaits carry along, so
 * interleaved scopes are independent. Browsers have no such context yet, so there the stack is
 * one list and async scopes must not overlap; the engine detects an overlap when a scope ends
 * and throws (see Engine.scope).
 */
import type { Tensor } from './tensor.js';

export type ScopeFrame = Set<Tensor>;

export interface ScopeStack {
  /** True where overlapping async scopes are tracked apart (Node). */
  readonly followsAsyncContext: boolean;
  /** The open scopes of the calling code, outermost first. */
  current(): readonly ScopeFrame[];
  /** Runs `fn` with `frame` opened on top of the caller's scopes; `close` ends it. */
  open<T>(frame: ScopeFrame, fn: () => T): T;
  /** Removes a frame from the stack it was opened on; returns false if it was not the innermost
   * frame there (only possible without async context tracking: scopes overlapped). */
  close(frame: ScopeFrame): boolean;
  clear(): void;
}

interface AsyncLocalStorageLike<S> {
  getStore(): S | undefined;
  run<R>(store: S, fn: () => R): R;
}

/** AsyncLocalStorage when the runtime has it (Node ≥ 20.16 has process.getBuiltinModule, so the
 * browser bundle needs no stub), else undefined. */
function asyncLocalStorage<S>(): AsyncLocalStorageLike<S> | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const hooks = proc?.getBuiltinModule?.('node:async_hooks') as { AsyncLocalStorage?: new () => AsyncLocalStorageLike<S> } | undefined;
  return hooks?.AsyncLocalStorage ? new hooks.AsyncLocalStorage() : undefined;
}

class AsyncContextScopeStack implements ScopeStack {
  readonly followsAsyncContext = true;
  constructor(private readonly storage: AsyncLocalStorageLike<readonly ScopeFrame[]>) {}
  current(): readonly ScopeFrame[] {
    return this.storage.getStore() ?? [];
  }
  open<T>(frame: ScopeFrame, fn: () => T): T {
    return this.storage.run([...this.current(), frame], fn);
  }
  close(): boolean {
    return true; // the frame lives in the context of its own call and ends with it
  }
  clear(): void {}
}

class GlobalScopeStack implements ScopeStack {
  readonly followsAsyncContext = false;
  private frames: ScopeFrame[] = [];
  current(): readonly ScopeFrame[] {
    return this.frames;
  }
  open<T>(frame: ScopeFrame, fn: () => T): T {
    this.frames.push(frame);
    return fn();
  }
  close(frame: ScopeFrame): boolean {
    const i = this.frames.lastIndexOf(frame);
    const innermost = i === this.frames.length - 1;
    if (i >= 0) this.frames.splice(i, 1);
    return innermost;
  }
  clear(): void {
    this.frames = [];
  }
}

/** The stack for this runtime: per async context where it can be, else one global list.
 * `asyncContext: false` forces the global list (what a browser gets), for tests. */
export function createScopeStack(options: { asyncContext?: boolean } = {}): ScopeStack {
  const storage = options.asyncContext === false ? undefined : asyncLocalStorage<readonly ScopeFrame[]>();
  return storage ? new AsyncContextScopeStack(storage) : new GlobalScopeStack();
}
