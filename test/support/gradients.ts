/**
 * What the backward tests (pool2d-, batchnorm-, softmax- and conv2d-epilogue-backward) share:
 * central finite differences, the checks of argument errors, and channel views to feed the
 * kernels a gradient that lives inside a concat's.
 */
import { expect } from 'vitest';
import type { Engine } from '../../src/runtime/engine.js';
import { InvalidArgumentError } from '../../src/runtime/errors.js';
import type { Tensor } from '../../src/runtime/tensor.js';
import { randomArray, type Rng } from './random.js';

/** Central differences of f with respect to every element of v (changed and restored in place),
 * with a step of 1e-6 relative to the element (absolute near zero). */
export function fdGrad(v: Float64Array, f: () => number): Float64Array {
  return v.map((keep, i) => {
    const step = 1e-6 * Math.max(1, Math.abs(keep));
    v[i] = keep + step;
    const up = f();
    v[i] = keep - step;
    const down = f();
    v[i] = keep;
    return (up - down) / (2 * step);
  });
}

export const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

export const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export function expectInvalid(f: () => unknown, message: RegExp): void {
  let thrown: unknown;
  try {
    f();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(InvalidArgumentError);
  expect((thrown as Error).message).toMatch(message);
}

/** A [.., cTotal] tensor whose channels offset..offset+c−1 hold `data` ([.., c]) and the others
 * random values, with the view of those channels. */
export function embedded(
  engine: Engine,
  rng: Rng,
  data: ArrayLike<number>,
  shape: readonly number[],
  offset: number,
  cTotal: number,
): { big: Tensor; view: Tensor } {
  const c = shape[shape.length - 1]!;
  const rows = data.length / c;
  const all = randomArray(rng, rows * cTotal, -9, 9);
  for (let r = 0; r < rows; r++) for (let k = 0; k < c; k++) all[r * cTotal + offset + k] = data[r * c + k]!;
  const big = engine.tensor(all, [...shape.slice(0, -1), cTotal]);
  return { big, view: big.channelView(offset, c) };
}
