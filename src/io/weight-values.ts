/**
 * Checks on the values of weights read from a file, shared by every loader (torchvision
 * safetensors into InceptionV3, the ONNX and TF.js importers). A NaN or an infinity in any
 * weight, or a BatchNorm running variance below zero (√(var + eps) of it is NaN), makes every
 * output NaN or infinite; the classifier would then report `class -1` or garbage with full
 * confidence. Such files come from a diverged training run, a bad conversion or damage, and are
 * refused at load with the tensor and the first bad element named.
 */

/** Index of the first NaN, +Infinity or -Infinity in `data`, or -1. */
export function firstNonFinite(data: ArrayLike<number>): number {
  for (let i = 0; i < data.length; i++) {
    // v - v is 0 for finite v and NaN for NaN and ±Infinity: one comparison per element.
    const v = data[i]!;
    if (v - v !== 0) return i;
  }
  return -1;
}

const shapeText = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/** A float32 value with the fewest digits that read back as the same float32 (-0.001, not
 * -0.0010000000474974513). */
function float32Text(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  for (let digits = 1; digits < 9; digits++) {
    const short = Number(v.toPrecision(digits));
    if (Math.fround(short) === v) return String(short);
  }
  return String(v);
}

/** "<what> holds NaN at element 5 of [64, 3, 3, 3]; …", or undefined when every value is finite.
 * `what` names the tensor, e.g. "tensor 'fc.bias'". */
export function nonFiniteProblem(what: string, data: ArrayLike<number>, shape: readonly number[]): string | undefined {
  const i = firstNonFinite(data);
  if (i < 0) return undefined;
  return `${what} holds ${float32Text(data[i]!)} at element ${i} of ${shapeText(shape)}; weights must be finite numbers (NaN and infinities come from a diverged training run or a damaged file)`;
}

/** "<what> and holds -0.5 at channel 2; a variance cannot be negative …", or undefined when no
 * value is below 0. `what` says which variance, e.g. "tensor 'x' is a BatchNorm running variance". */
export function negativeVarianceProblem(what: string, data: ArrayLike<number>): string | undefined {
  for (let i = 0; i < data.length; i++) {
    if (data[i]! < 0)
      return `${what} and holds ${float32Text(data[i]!)} at channel ${i}; a variance cannot be negative (the file is damaged, or the statistics were not written by training)`;
  }
  return undefined;
}
