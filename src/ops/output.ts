/**
 * The tensor an op writes its result to. By default a fresh one; with `out` the caller's own
 * tensor, plain or a channel view (Tensor.channelView), which is how an Inception module's
 * branches fill one concatenated buffer without a copy. Kernels that write activations take
 * the view's channel offset and row stride as uniforms (`outOffset`, `outStride`, in
 * elements) and list the output binding in the dispatch's `views`.
 */
import type { Engine } from '../runtime/engine.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import { formatShape, type DType, type Shape, type Tensor } from '../runtime/tensor.js';

export interface OutputOption {
  /** Write the result here instead of a new tensor: same shape and dtype as the result; may be
   * a channel view of a larger tensor. The op returns this tensor. */
  out?: Tensor;
}

export interface ResolvedOutput<D extends DType = 'f32'> {
  y: Tensor<D>;
  /** Channel offset of the result in each row of y's buffer, in elements. */
  outOffset: number;
  /** Elements between consecutive rows (pixels) of y's buffer. */
  outStride: number;
}

export function resolveOutput<D extends DType = 'f32'>(
  engine: Engine,
  op: string,
  shape: Shape,
  out: Tensor | undefined,
  dtype: D = 'f32' as D,
): ResolvedOutput<D> {
  if (out === undefined) {
    const y = engine.empty(shape, dtype, op);
    return { y, outOffset: 0, outStride: shape[shape.length - 1] ?? 1 };
  }
  checkOutput(engine, op, shape, out, dtype);
  const { offset, stride } = out.channelLayout;
  return { y: out as Tensor<D>, outOffset: offset, outStride: stride };
}

/** Throws unless `out` can take a result of this shape and dtype (see resolveOutput). */
export function checkOutput(engine: Engine, op: string, shape: Shape, out: Tensor, dtype: DType = 'f32'): void {
  if (out.owner !== (engine as unknown)) throw new InvalidArgumentError(`${op}: out belongs to a different engine`);
  if (out.isDisposed) throw new InvalidArgumentError(`${op}: out (${out.describe()}) was disposed`);
  if (out.dtype !== dtype) throw new InvalidArgumentError(`${op}: out must be ${dtype}, got ${out.describe()}`);
  if (out.shape.length !== shape.length || out.shape.some((d, i) => d !== shape[i])) {
    throw new InvalidArgumentError(`${op}: out must have the result's shape ${formatShape(shape)}, got ${out.describe()}`);
  }
}

/** Why a vec4-storing kernel cannot write this output (offset and stride must be multiples of
 * 4 so a vec4 store stays aligned), or undefined if it can. */
export function vec4OutputRefusal(variant: string, out: Tensor | undefined): string | undefined {
  if (!out?.slice) return undefined;
  const { offset, stride } = out.slice;
  return offset % 4 === 0 && stride % 4 === 0
    ? undefined
    : `${variant} stores vec4s and needs an output view whose channel offset and row stride are multiples of 4 (got offset ${offset}, stride ${stride})`;
}
