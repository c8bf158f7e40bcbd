import type { Engine } from '../runtime/engine.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import { formatShape, type DType, type Tensor } from '../runtime/tensor.js';

/** The engine that owns all the given tensors; they must share one. */
export function engineOf(op: string, ...tensors: Tensor[]): Engine {
  const owner = tensors[0]!.owner;
  for (const t of tensors) {
    if (t.owner !== owner) throw new InvalidArgumentError(`${op}: tensors belong to different engines`);
    if (t.isDisposed) throw new InvalidArgumentError(`${op}: ${t.describe()} was disposed`);
    if (t.owner.isDestroyed) throw new InvalidArgumentError(`${op}: ${t.describe()} was used after its engine was destroyed (engine.destroy())`);
  }
  return owner as unknown as Engine;
}

export function expectDType(op: string, name: string, t: Tensor, dtype: DType): void {
  if (t.dtype !== dtype) throw new InvalidArgumentError(`${op}: ${name} must be ${dtype}, got ${t.describe()}`);
}

/** True when `small`'s shape, leading 1s dropped, is a suffix of `big`'s shape. */
export function isSuffixShape(big: readonly number[], small: readonly number[]): boolean {
  let s = [...small];
  while (s.length > 0 && s[0] === 1) s = s.slice(1);
  if (s.length > big.length) return false;
  return s.every((d, i) => d === big[big.length - s.length + i]);
}

export function describeShapes(...ts: Tensor[]): string {
  return ts.map((t) => formatShape(t.shape)).join(' and ');
}
