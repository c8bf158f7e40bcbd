/**
 * The benchmark's correctness check: a convolution's GPU output compared with float64 sums at
 * sampled output elements, given the input the GPU conv actually read. A full float64
 * reference of every benchmark conv would take minutes in JavaScript at batch 8; a few hundred
 * samples per conv cost milliseconds and still catch a wrong or unwritten kernel (outputs are
 * poisoned with NaN before the run, and a NaN sample fails).
 */
import type { ConvGeometry } from '../../ops/conv2d-geometry.js';

export interface SampledEpilogue {
  scale?: Float32Array;
  shift?: Float32Array;
  relu?: boolean;
}

/**
 * max |y − ref| / max |ref| over `samples` random outputs (Infinity if a sample is not finite).
 * x is NHWC, w HWIO, y NHWC, all as the GPU saw or wrote them.
 */
export function sampledConvError(
  x: Float32Array,
  w: Float32Array,
  y: Float32Array,
  g: ConvGeometry,
  epi: SampledEpilogue | undefined,
  samples: number,
  random: () => number,
): number {
  let maxErr = 0;
  let maxRef = 0;
  const outputs = g.n * g.oh * g.ow * g.cout;
  for (let s = 0; s < samples; s++) {
    const idx = Math.floor(random() * outputs);
    const co = idx % g.cout;
    const pixel = Math.floor(idx / g.cout);
    const ow = pixel % g.ow;
    const oh = Math.floor(pixel / g.ow) % g.oh;
    const n = Math.floor(pixel / (g.ow * g.oh));
    let sum = 0;
    for (let kh = 0; kh < g.kh; kh++) {
      const ih = oh * g.strideH + kh - g.padTop;
      if (ih < 0 || ih >= g.h) continue;
      for (let kw = 0; kw < g.kw; kw++) {
        const iw = ow * g.strideW + kw - g.padLeft;
        if (iw < 0 || iw >= g.w) continue;
        const xBase = ((n * g.h + ih) * g.w + iw) * g.cin;
        const wBase = (kh * g.kw + kw) * g.cin * g.cout + co;
        for (let ci = 0; ci < g.cin; ci++) sum += x[xBase + ci]! * w[wBase + ci * g.cout]!;
      }
    }
    if (epi?.scale) sum *= epi.scale[co]!;
    if (epi?.shift) sum += epi.shift[co]!;
    if (epi?.relu) sum = Math.max(sum, 0);
    const got = y[idx]!;
    if (!Number.isFinite(got)) return Infinity;
    maxErr = Math.max(maxErr, Math.abs(got - sum));
    maxRef = Math.max(maxRef, Math.abs(sum));
  }
  return maxRef > 0 ? maxErr / maxRef : maxErr;
}
