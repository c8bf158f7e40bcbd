/**
 * Nested arrays, TypedArrays and numbers as tensor data: their shape and flat values, and back
 * (`array()`). Imports nothing of tensor.ts, which uses it; tensor-like.ts does the conversion
 * of op arguments.
 */
import { InvalidArgumentError } from './errors.js';

/** Nested arrays of numbers, as `array()` returns them and TF.js's `tf.tensor` accepts them. */
export type NestedArray = number | NestedArray[];

export type TypedArrayLike = Float32Array | Float64Array | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array | Uint8ClampedArray;

/** Data an op accepts in place of a tensor, and `engine.tensor` accepts as data. */
export type TensorLike = NestedArray | readonly NestedArray[] | TypedArrayLike;

function isTypedArray(x: unknown): x is TypedArrayLike {
  return ArrayBuffer.isView(x) && !(x instanceof DataView) && !(x instanceof BigInt64Array) && !(x instanceof BigUint64Array);
}

/** True for a number, TypedArray or (possibly nested) array: data, not an object. */
export function isTensorLike(x: unknown): x is TensorLike {
  return typeof x === 'number' || isTypedArray(x) || Array.isArray(x);
}

/** The dtype a TypedArray maps to: i32/u32 for their own arrays, f32 for everything else. */
export function dtypeOf(data: unknown): 'f32' | 'i32' | 'u32' {
  return data instanceof Int32Array ? 'i32' : data instanceof Uint32Array ? 'u32' : 'f32';
}

/** A value in words for an error message: 'the string "x"', 'a TensorFlow.js tensor (float32[2, 2])', 'a Map'… */
export function describeValue(x: unknown): string {
  if (x === null) return 'null';
  if (x === undefined) return 'undefined';
  if (typeof x === 'string') return `the string ${JSON.stringify(x.length > 20 ? `${x.slice(0, 20)}…` : x)}`;
  if (typeof x === 'boolean' || typeof x === 'bigint') return `the ${typeof x} ${String(x)}`;
  if (typeof x === 'function') return 'a function';
  if (isTfjsTensor(x)) return `a TensorFlow.js tensor (${x.dtype}[${x.shape.join(', ')}])`;
  const name = (x as object).constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : 'a plain object';
}

export function isTfjsTensor(x: unknown): x is { dtype: string; shape: number[]; dataId: unknown } {
  return typeof x === 'object' && x !== null && 'dataId' in x && 'shape' in x && Array.isArray((x as { shape: unknown }).shape);
}

/**
 * Shape and flat values of a nested array (or TypedArray, or number). Throws an
 * InvalidArgumentError for a ragged array or a non-number element, naming `what` and the path
 * of the offending element.
 */
export function flattenTensorLike(data: TensorLike, what: string): { shape: number[]; values: ArrayLike<number> } {
  if (typeof data === 'number') return { shape: [], values: [data] };
  if (isTypedArray(data)) return { shape: [data.length], values: data };
  if (!Array.isArray(data)) throw new InvalidArgumentError(`${what} is ${describeValue(data)}, not an array of numbers`);
  const shape: number[] = [];
  for (let level: unknown = data; Array.isArray(level) || isTypedArray(level); level = (level as ArrayLike<unknown>)[0]) {
    shape.push((level as ArrayLike<unknown>).length);
    if ((level as ArrayLike<unknown>).length === 0) break;
  }
  let total = 1;
  for (const d of shape) total *= d;
  const values = new Float64Array(total); // exact for every number; the engine rounds to the dtype
  let n = 0;
  // The path of the element being looked at, turned into text only for an error message.
  const at: number[] = [];
  const path = (): string => at.map((i) => `[${i}]`).join('');
  const walk = (x: unknown, depth: number): void => {
    if (depth === shape.length) {
      if (typeof x !== 'number')
        throw new InvalidArgumentError(
          `${what}: element ${path()} is ${Array.isArray(x) || isTypedArray(x) ? 'an array (the array is ragged: deeper here than at index [0]…)' : describeValue(x)}, expected a number`,
        );
      values[n++] = x;
      return;
    }
    if (!Array.isArray(x) && !isTypedArray(x))
      throw new InvalidArgumentError(`${what}: element ${path()} is ${describeValue(x)}, expected an array of length ${shape[depth]} (ragged or mixed array)`);
    if (x.length !== shape[depth])
      throw new InvalidArgumentError(
        `${what}: ragged array: element ${path()} has length ${x.length}, its first sibling ${shape[depth]} (every row must be as long)`,
      );
    if (depth === shape.length - 1) {
      // The innermost rows hold nearly every element: checked in a loop, not a call each.
      for (let i = 0; i < x.length; i++) {
        const v: unknown = x[i];
        if (typeof v !== 'number') {
          at.push(i);
          walk(v, depth + 1); // throws, naming the element
        }
        values[n++] = v as number;
      }
      return;
    }
    at.push(0);
    for (let i = 0; i < x.length; i++) {
      at[depth] = i;
      walk(x[i], depth + 1);
    }
    at.pop();
  };
  walk(data, 0);
  return { shape, values };
}

/** Flat values → nested arrays of `shape` (a number for rank 0). */
export function nestArray(values: ArrayLike<number>, shape: readonly number[]): NestedArray {
  if (shape.length === 0) return values[0]!;
  let offset = 0;
  const build = (depth: number): NestedArray[] => {
    const n = shape[depth]!;
    const out: NestedArray[] = new Array<NestedArray>(n);
    if (depth === shape.length - 1) {
      for (let i = 0; i < n; i++) out[i] = values[offset++]!;
    } else {
      for (let i = 0; i < n; i++) out[i] = build(depth + 1);
    }
    return out;
  };
  return build(0);
}
