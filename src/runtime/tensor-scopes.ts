/**
 * Which tensors an engine owns and which `engine.scope` call each belongs to, so a scope can
 * dispose what it created and hand what it returns to the scope around it. The stack of open
 * scopes follows the async context where the runtime has one (scope-stack.ts).
 */
import { InvalidArgumentError } from './errors.js';
import { createScopeStack, type ScopeFrame, type ScopeStack } from './scope-stack.js';
import { Tensor } from './tensor.js';

export class TensorScopes {
  /** The open engine.scope calls of the running code (per async context in Node). */
  stack: ScopeStack = createScopeStack();
  /** The scope frame each tracked tensor belongs to (one at most). */
  private scopeOf = new Map<Tensor, ScopeFrame>();
  private live = new Set<Tensor>();

  /** @param destroyed whether the engine was destroyed: returned tensors then join no scope */
  constructor(private readonly destroyed: () => boolean) {}

  /** Tensors not yet disposed. */
  get liveCount(): number {
    return this.live.size;
  }

  /** Takes a tensor out of its scope, so it outlives every open scope. */
  keep<T extends Tensor>(t: T): T {
    this.scopeOf.get(t)?.delete(t);
    this.scopeOf.delete(t);
    return t;
  }

  /** A new tensor: live, and owned by the caller's innermost open scope if any. */
  track(t: Tensor): void {
    this.live.add(t);
    const open = this.stack.current();
    const frame = open[open.length - 1];
    if (frame) {
      frame.add(t);
      this.scopeOf.set(t, frame);
    }
  }

  /** A disposed tensor: no longer live nor in any scope. */
  untrack(t: Tensor): void {
    this.live.delete(t);
    this.scopeOf.get(t)?.delete(t);
    this.scopeOf.delete(t);
  }

  /** Runs `fn` in a new scope (see Engine.scope for the contract). */
  scope<T>(fn: () => T): T {
    const frame: ScopeFrame = new Set();
    const open = this.stack.current();
    const parent = open[open.length - 1];
    const finish = (result: T | undefined, failed: boolean): void => {
      const innermost = this.stack.close(frame);
      const keep = new Set<Tensor>();
      if (!failed && innermost) collectTensors(result, keep, 0);
      for (const t of frame) if (!keep.has(t)) t.dispose();
      for (const t of keep) {
        if (t.isDisposed || !frame.has(t)) continue;
        frame.delete(t);
        if (parent && !this.destroyed()) {
          parent.add(t);
          this.scopeOf.set(t, parent);
        } else {
          this.scopeOf.delete(t);
        }
      }
      if (!innermost && !failed) {
        throw new InvalidArgumentError(
          'engine.scope: two async scopes overlapped (one ended while a scope started after it was still open). Without async context tracking (browsers) tensors cannot be told apart between overlapping calls, so everything the ending scope created was disposed. Await each async scope before starting the next, or use synchronous scopes.',
        );
      }
    };
    let result: T;
    try {
      result = this.stack.open(frame, fn);
    } catch (e) {
      finish(undefined, true);
      throw e;
    }
    if (result instanceof Promise) {
      return result.then(
        (value: unknown) => {
          finish(value as T, false);
          return value;
        },
        (e: unknown) => {
          finish(undefined, true);
          throw e;
        },
      ) as T;
    }
    finish(result, false);
    return result;
  }

  /** Forgets every tensor and open scope (the engine is being destroyed). */
  clear(): void {
    this.live.clear();
    this.stack.clear();
  }
}

/** The tensors a scope returns: the value itself, or inside arrays, Maps and plain objects, a few levels deep. */
function collectTensors(v: unknown, into: Set<Tensor>, depth: number): void {
  if (depth > 4 || v === null || typeof v !== 'object') return;
  if (v instanceof Tensor) {
    into.add(v);
    return;
  }
  if (v instanceof Map) {
    for (const x of v.values()) collectTensors(x, into, depth + 1);
    return;
  }
  for (const x of Array.isArray(v) ? v : Object.values(v)) collectTensors(x, into, depth + 1);
}
