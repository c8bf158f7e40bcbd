/**
 * `guardOp` wraps every public op: what it allocated is released when it throws (op-frames.ts
 * says why), and data where it expects tensors is converted or refused (tensor-like.ts).
 */
import type { Tensor } from './tensor.js';
import type { TensorLike } from './nested-array.js';
import { convertTensorArguments, refuseForeignTensors, resultHolds, TENSOR_PARAMETERS } from './tensor-like.js';
import { releaseOnThrow } from './op-frames.js';

export { releaseOnThrow } from './op-frames.js';

/** A parameter's type with tensors widened to the data TF.js code passes in their place. */
type AcceptData<T> = T extends Tensor ? T | TensorLike : T extends readonly Tensor[] ? readonly (Tensor | TensorLike)[] : T;

/** An op's signature as callers see it: tensor parameters also take nested arrays, TypedArrays
 * and numbers (converted by guardOp at run time; typed here so TypeScript callers may pass them). */
export type AcceptingData<F> = F extends (...args: infer P) => infer R ? (...args: { [K in keyof P]: AcceptData<P[K]> }) => R : F;

/** Marks a function made by guardOp (tests check every such op is in TENSOR_PARAMETERS). */
export const GUARDED_OP = Symbol.for('incept-gpu.guardedOp');

/**
 * The op `fn`, releasing what it allocated when it throws (see the module comment). Arguments
 * where the op expects a tensor may also be nested arrays, TypedArrays or numbers (as TF.js
 * accepts): they become tensors on the engine of the op's tensor arguments for the call, and
 * anything else is refused naming the op and argument (tensor-like.ts).
 */
export function guardOp<F extends (...args: never[]) => unknown>(name: string, fn: F): AcceptingData<F> {
  // The op's name is passed as a string: a user's minifier renames functions, not strings.
  const params = TENSOR_PARAMETERS[name];
  const guarded = function (this: unknown, ...args: Parameters<F>): ReturnType<F> {
    return releaseOnThrow(() => {
      let made: Tensor[] = [];
      if (params) made = convertTensorArguments(name, params, args as unknown[]);
      else refuseForeignTensors(name, args);
      const result = fn.apply(this, args) as ReturnType<F>;
      // Tensors made from data live for this call only, unless the op hands one back.
      for (const t of made) if (!resultHolds(result, t)) t.dispose();
      return result;
    });
  };
  Object.defineProperty(guarded, 'name', { value: name });
  Object.defineProperty(guarded, GUARDED_OP, { value: true });
  return guarded as unknown as AcceptingData<F>;
}
