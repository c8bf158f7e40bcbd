/**
 * Float64 analytic backward of conv2dRef (./conv2d.ts), written for clarity, not speed.
 * Each function walks the forward's loops (output pixel, tap, channels) once and sends every
 * product's partial derivative where it belongs:
 *   y[n][oh][ow][co] += x[n][ih][iw][ci] · w[kh][kw][ci][co],  ih = oh·sH + kh − top, iw = ow·sW + kw − left,
 * so ∂L/∂x[n][ih][iw][ci] += dy[n][oh][ow][co] · w[kh][kw][ci][co] and
 *    ∂L/∂w[kh][kw][ci][co] += x[n][ih][iw][ci] · dy[n][oh][ow][co],
 * skipping taps that land in the zero padding (they have no x to differentiate).
 * Layouts: x, dx NHWC; w, dw HWIO; dy NHWC [N, OH, OW, Cout].
 */
import type { ConvGeometryRef } from './conv2d.js';

type Shape4 = readonly [number, number, number, number];

function outputSize(size: number, before: number, after: number, k: number, stride: number): number {
  return Math.floor((size + before + after - k) / stride) + 1;
}

/** Calls visit(xIndex, wIndex, dyIndex) for every product of the forward convolution. */
function forEachProduct(xShape: Shape4, wShape: Shape4, g: ConvGeometryRef, visit: (xi: number, wi: number, yi: number) => void): void {
  const [n, h, wd, cin] = xShape;
  const [kh, kw, wcin, cout] = wShape;
  if (wcin !== cin) throw new Error(`conv2d backward reference: weight Cin ${wcin} differs from input channels ${cin}`);
  const oh = outputSize(h, g.padTop, g.padBottom, kh, g.strideH);
  const ow = outputSize(wd, g.padLeft, g.padRight, kw, g.strideW);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      for (let xo = 0; xo < ow; xo++) {
        for (let i = 0; i < kh; i++) {
          const iy = y * g.strideH + i - g.padTop;
          if (iy < 0 || iy >= h) continue;
          for (let j = 0; j < kw; j++) {
            const ix = xo * g.strideW + j - g.padLeft;
            if (ix < 0 || ix >= wd) continue;
            for (let ci = 0; ci < cin; ci++) {
              for (let co = 0; co < cout; co++) {
                visit(((b * h + iy) * wd + ix) * cin + ci, ((i * kw + j) * cin + ci) * cout + co, ((b * oh + y) * ow + xo) * cout + co);
              }
            }
          }
        }
      }
    }
  }
}

function expectLength(what: string, a: ArrayLike<number>, n: number): void {
  if (a.length !== n) throw new Error(`conv2d backward reference: ${what} has ${a.length} values, its shape needs ${n}`);
}

/** The conv's output shape [N, OH, OW, Cout]. */
export function conv2dOutputShapeRef(xShape: Shape4, wShape: Shape4, g: ConvGeometryRef): [number, number, number, number] {
  return [
    xShape[0],
    outputSize(xShape[1], g.padTop, g.padBottom, wShape[0], g.strideH),
    outputSize(xShape[2], g.padLeft, g.padRight, wShape[1], g.strideW),
    wShape[3],
  ];
}

/** ∂L/∂x given dy = ∂L/∂y, shaped like x. */
export function conv2dBackwardInputRef(dy: ArrayLike<number>, w: ArrayLike<number>, xShape: Shape4, wShape: Shape4, g: ConvGeometryRef): Float64Array {
  expectLength(
    'dy',
    dy,
    conv2dOutputShapeRef(xShape, wShape, g).reduce((a, b) => a * b),
  );
  expectLength(
    'w',
    w,
    wShape.reduce((a, b) => a * b),
  );
  const dx = new Float64Array(xShape.reduce((a, b) => a * b));
  forEachProduct(xShape, wShape, g, (xi, wi, yi) => {
    dx[xi] = dx[xi]! + dy[yi]! * w[wi]!;
  });
  return dx;
}

/** ∂L/∂w given dy = ∂L/∂y, shaped like w (HWIO). */
export function conv2dBackwardWeightsRef(x: ArrayLike<number>, dy: ArrayLike<number>, xShape: Shape4, wShape: Shape4, g: ConvGeometryRef): Float64Array {
  expectLength(
    'dy',
    dy,
    conv2dOutputShapeRef(xShape, wShape, g).reduce((a, b) => a * b),
  );
  expectLength(
    'x',
    x,
    xShape.reduce((a, b) => a * b),
  );
  const dw = new Float64Array(wShape.reduce((a, b) => a * b));
  forEachProduct(xShape, wShape, g, (xi, wi, yi) => {
    dw[wi] = dw[wi]! + x[xi]! * dy[yi]!;
  });
  return dw;
}

/** ∂L/∂bias: dy summed over every pixel of every image, per output channel. */
export function conv2dBackwardBiasRef(dy: ArrayLike<number>, cout: number): Float64Array {
  if (dy.length % cout !== 0) throw new Error(`conv2d backward reference: dy has ${dy.length} values, not a multiple of Cout=${cout}`);
  const db = new Float64Array(cout);
  for (let i = 0; i < dy.length; i++) db[i % cout] = db[i % cout]! + dy[i]!;
  return db;
}
