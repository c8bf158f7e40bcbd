/**
 * An op that throws releases what it allocated. Ops allocate their outputs (and temporaries)
 * before the dispatch that can still refuse them (a binding over a device limit, a workgroup
 * count too large); called outside any `engine.scope`, nothing else holds those tensors, so
 * every failing call would leak its output's GPU memory. Every public op is wrapped by `guardOp`:
 * while it runs, each tensor created is noted, and if it throws they are all disposed.
 *
 * Ops record work synchronously, so one stack of frames serves every engine.
 */

/** A tensor as the frames see it. */
interface Disposable {
  dispose(): void;
}

const frames: Disposable[][] = [];

/** @internal Called for every tensor created (tensor.ts). */
export function noteCreated(t: Disposable): void {
  frames[frames.length - 1]?.push(t);
}

/** Runs `fn`; if it throws, disposes every tensor created while it ran. An op nested in another
 * hands its tensors to the outer frame, so the outer op's failure releases them too. */
export function releaseOnThrow<T>(fn: () => T): T {
  const frame: Disposable[] = [];
  frames.push(frame);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    frames.pop();
    for (const t of frame) t.dispose();
    throw e;
  }
  frames.pop();
  const outer = frames[frames.length - 1];
  if (outer) for (const t of frame) outer.push(t);
  return result;
}
