/** Float64 references for pooling over NHWC arrays, written for clarity, not speed. */

export interface PoolGeometryRef {
  kh: number;
  kw: number;
  strideH: number;
  strideW: number;
  pad: [number, number, number, number]; // top, bottom, left, right
}

export interface PoolRefResult {
  out: Float64Array;
  shape: [number, number, number, number];
  /** Max pooling: flat index into x of each output's maximum (the first on ties). */
  argmax: Int32Array;
}

/**
 * Max or average pooling. Windows cover (oh·sH − top … + KH − 1) × (ow·sW − left … + KW − 1);
 * positions outside the input are padding: never the max, and in the average counted in the
 * divisor only when `countIncludePad`.
 */
export function pool2dRef(
  x: ArrayLike<number>,
  shape: readonly [number, number, number, number],
  kind: 'max' | 'avg',
  g: PoolGeometryRef,
  countIncludePad = true,
): PoolRefResult {
  const [n, h, w, c] = shape;
  const [top, bottom, left, right] = g.pad;
  const oh = Math.floor((h + top + bottom - g.kh) / g.strideH) + 1;
  const ow = Math.floor((w + left + right - g.kw) / g.strideW) + 1;
  const out = new Float64Array(n * oh * ow * c);
  const argmax = new Int32Array(n * oh * ow * c).fill(-1);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      for (let xo = 0; xo < ow; xo++) {
        for (let ch = 0; ch < c; ch++) {
          let best = -Infinity;
          let arg = -1;
          let sum = 0;
          let count = 0;
          for (let i = 0; i < g.kh; i++) {
            const iy = y * g.strideH + i - top;
            if (iy < 0 || iy >= h) continue;
            for (let j = 0; j < g.kw; j++) {
              const ix = xo * g.strideW + j - left;
              if (ix < 0 || ix >= w) continue;
              const at = ((b * h + iy) * w + ix) * c + ch;
              const v = x[at]!;
              if (arg < 0 || v > best) {
                best = v;
                arg = at;
              }
              sum += v;
              count++;
            }
          }
          const o = ((b * oh + y) * ow + xo) * c + ch;
          if (kind === 'max') {
            out[o] = best;
            argmax[o] = arg;
          } else {
            out[o] = sum / (countIncludePad ? g.kh * g.kw : count);
          }
        }
      }
    }
  }
  return { out, shape: [n, oh, ow, c], argmax };
}

/** Mean over H and W per image and channel: [N, H, W, C] → [N, C]. */
export function globalAvgPoolRef(x: ArrayLike<number>, shape: readonly [number, number, number, number]): Float64Array {
  const [n, h, w, c] = shape;
  const out = new Float64Array(n * c);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      let sum = 0;
      for (let p = 0; p < h * w; p++) sum += x[(b * h * w + p) * c + ch]!;
      out[b * c + ch] = sum / (h * w);
    }
  }
  return out;
}
