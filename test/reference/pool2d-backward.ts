/**
 * Float64 analytic backward of the pooling references (./pool2d.ts), written for clarity, not
 * speed. Each takes what the GPU op takes: the output gradient dy and what the forward saved.
 */
import type { PoolGeometryRef } from './pool2d.js';

/** Max pooling: every output sends its gradient to the input element that was its maximum
 * (`argmax`, the forward's flat indices into x). */
export function maxPool2dBackwardRef(dy: ArrayLike<number>, argmax: ArrayLike<number>, inputSize: number): Float64Array {
  const dx = new Float64Array(inputSize);
  for (let o = 0; o < dy.length; o++) dx[argmax[o]!]! += dy[o]!;
  return dx;
}

/** Average pooling: every output spreads dy/divisor over the real input elements of its window
 * (divisor KH·KW when `countIncludePad`, else the number of those elements). */
export function avgPool2dBackwardRef(
  dy: ArrayLike<number>,
  xShape: readonly [number, number, number, number],
  g: PoolGeometryRef,
  countIncludePad: boolean,
): Float64Array {
  const [n, h, w, c] = xShape;
  const [top, bottom, left, right] = g.pad;
  const oh = Math.floor((h + top + bottom - g.kh) / g.strideH) + 1;
  const ow = Math.floor((w + left + right - g.kw) / g.strideW) + 1;
  const dx = new Float64Array(n * h * w * c);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      for (let xo = 0; xo < ow; xo++) {
        const rows: number[] = [];
        const cols: number[] = [];
        for (let i = 0; i < g.kh; i++) {
          const iy = y * g.strideH + i - top;
          if (iy >= 0 && iy < h) rows.push(iy);
        }
        for (let j = 0; j < g.kw; j++) {
          const ix = xo * g.strideW + j - left;
          if (ix >= 0 && ix < w) cols.push(ix);
        }
        const divisor = countIncludePad ? g.kh * g.kw : rows.length * cols.length;
        for (let ch = 0; ch < c; ch++) {
          const share = dy[((b * oh + y) * ow + xo) * c + ch]! / divisor;
          for (const iy of rows) for (const ix of cols) dx[((b * h + iy) * w + ix) * c + ch]! += share;
        }
      }
    }
  }
  return dx;
}

/** Global average pooling: dy [N, C] (or [N, 1, 1, C]) spread evenly over each image's H·W. */
export function globalAvgPoolBackwardRef(dy: ArrayLike<number>, xShape: readonly [number, number, number, number]): Float64Array {
  const [n, h, w, c] = xShape;
  const dx = new Float64Array(n * h * w * c);
  for (let i = 0; i < dx.length; i++) {
    const ch = i % c;
    const b = Math.floor(i / (h * w * c));
    dx[i] = dy[b * c + ch]! / (h * w);
  }
  return dx;
}
