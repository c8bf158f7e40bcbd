/**
 * Float64 references for convolution and inference BatchNorm, written for clarity, not speed.
 * Layouts: activations NHWC, conv weights HWIO (w[((kh·KW + kw)·Cin + ci)·Cout + co]).
 * ReLU: use reluRef from ./elementwise.js (already float64).
 */

/** Stride and zero padding per side; output size is floor((H + top + bottom − KH) / strideH) + 1. */
export interface ConvGeometryRef {
  strideH: number;
  strideW: number;
  padTop: number;
  padBottom: number;
  padLeft: number;
  padRight: number;
}

/** Output spatial size of one axis; throws where the (padded) input is smaller than the kernel. */
function outSize(size: number, before: number, after: number, k: number, stride: number, axis: string): number {
  const padded = size + before + after;
  if (padded < k) throw new Error(`conv2dRef: padded ${axis} ${padded} is smaller than the kernel (${k})`);
  return Math.floor((padded - k) / stride) + 1;
}

/**
 * Direct convolution (cross-correlation, as in every framework):
 * out[n][oh][ow][co] = bias[co] + Σ_{kh,kw,ci} x[n][oh·sH + kh − top][ow·sW + kw − left][ci] · w[kh][kw][ci][co],
 * with x read as 0 outside the input (zero padding).
 */
export function conv2dRef(
  x: ArrayLike<number>,
  xShape: readonly [number, number, number, number],
  w: ArrayLike<number>,
  wShape: readonly [number, number, number, number],
  g: ConvGeometryRef,
  bias?: ArrayLike<number>,
): { out: Float64Array; shape: [number, number, number, number] } {
  const [n, h, wd, cin] = xShape;
  const [kh, kw, wcin, cout] = wShape;
  if (wcin !== cin) throw new Error(`conv2dRef: weight Cin ${wcin} differs from input channels ${cin}`);
  if (x.length !== n * h * wd * cin) throw new Error(`conv2dRef: x has ${x.length} values, shape needs ${n * h * wd * cin}`);
  if (w.length !== kh * kw * cin * cout) throw new Error(`conv2dRef: w has ${w.length} values, shape needs ${kh * kw * cin * cout}`);
  if (bias !== undefined && bias.length !== cout) throw new Error(`conv2dRef: bias has ${bias.length} values, Cout is ${cout}`);
  const oh = outSize(h, g.padTop, g.padBottom, kh, g.strideH, 'height');
  const ow = outSize(wd, g.padLeft, g.padRight, kw, g.strideW, 'width');

  const out = new Float64Array(n * oh * ow * cout);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      for (let xo = 0; xo < ow; xo++) {
        for (let co = 0; co < cout; co++) {
          let sum = bias === undefined ? 0 : bias[co]!;
          for (let i = 0; i < kh; i++) {
            const iy = y * g.strideH + i - g.padTop;
            if (iy < 0 || iy >= h) continue; // zero padding contributes nothing
            for (let j = 0; j < kw; j++) {
              const ix = xo * g.strideW + j - g.padLeft;
              if (ix < 0 || ix >= wd) continue;
              for (let ci = 0; ci < cin; ci++) {
                sum += x[((b * h + iy) * wd + ix) * cin + ci]! * w[((i * kw + j) * cin + ci) * cout + co]!;
              }
            }
          }
          out[((b * oh + y) * ow + xo) * cout + co] = sum;
        }
      }
    }
  }
  return { out, shape: [n, oh, ow, cout] };
}

/**
 * Inference BatchNorm over the last axis (channel c = i mod channels):
 * y = γ[c] · (x − mean[c]) / sqrt(var[c] + eps) + β[c]. Computed in this textbook form rather than
 * folded into scale/shift, so it also checks any folding done on the device side.
 */
export function batchNormRef(
  x: ArrayLike<number>,
  channels: number,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  mean: ArrayLike<number>,
  variance: ArrayLike<number>,
  eps: number,
): Float64Array {
  for (const [name, v] of [
    ['gamma', gamma],
    ['beta', beta],
    ['mean', mean],
    ['variance', variance],
  ] as const) {
    if (v.length !== channels) throw new Error(`batchNormRef: ${name} has ${v.length} values, expected ${channels}`);
  }
  if (x.length % channels !== 0) throw new Error(`batchNormRef: ${x.length} values is not a multiple of ${channels} channels`);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = i % channels;
    out[i] = (gamma[c]! * (x[i]! - mean[c]!)) / Math.sqrt(variance[c]! + eps) + beta[c]!;
  }
  return out;
}
