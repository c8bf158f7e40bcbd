/**
 * Custom kernels the custom-kernel tests (Node and Chromium) share: a depthwise 3×3 convolution
 * ('same' padding, stride 1, NHWC) in a scalar and a four-channel form, its float64 reference,
 * and WGSL with a known compile error.
 */
import { defineKernel, type CustomKernel } from '../../src/runtime/custom-kernel.js';
import type { Engine } from '../../src/runtime/engine.js';
import type { Tensor } from '../../src/runtime/tensor.js';

export const DEPTHWISE_WGSL = /* wgsl */ `
struct Shape { n: u32, h: u32, w: u32, c: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weights: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> shape: Shape;
override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * WG;
  if (i >= shape.n * shape.h * shape.w * shape.c) { return; }
  let ch = i % shape.c;
  let px = (i / shape.c) % shape.w;
  let py = (i / (shape.c * shape.w)) % shape.h;
  let b = i / (shape.c * shape.w * shape.h);
  var acc = 0.0;
  for (var ky = 0u; ky < 3u; ky++) {
    let sy = i32(py + ky) - 1;
    if (sy < 0 || sy >= i32(shape.h)) { continue; }
    for (var kx = 0u; kx < 3u; kx++) {
      let sx = i32(px + kx) - 1;
      if (sx < 0 || sx >= i32(shape.w)) { continue; }
      acc += x[((b * shape.h + u32(sy)) * shape.w + u32(sx)) * shape.c + ch] * weights[(ky * 3u + kx) * shape.c + ch];
    }
  }
  y[i] = acc;
}`;

/** The same with four channels per invocation (C a multiple of 4; shape.c counts vec4s). */
export const DEPTHWISE_VEC4_WGSL = DEPTHWISE_WGSL.replace(/array<f32>/g, 'array<vec4<f32>>').replace('var acc = 0.0;', 'var acc = vec4<f32>(0.0);');

export interface DepthwiseProblem {
  x: Tensor;
  weights: Tensor;
  y: Tensor;
}

export async function defineDepthwise(engine: Engine): Promise<{ scalar: CustomKernel; vec4: CustomKernel }> {
  return {
    scalar: await defineKernel(engine, { name: 'depthwise3x3', code: DEPTHWISE_WGSL }),
    vec4: await defineKernel(engine, { name: 'depthwise3x3_vec4', code: DEPTHWISE_VEC4_WGSL }),
  };
}

/** Records the scalar kernel on the problem (workgroup width `wg`, an override). */
export function dispatchDepthwise(kernel: CustomKernel, p: DepthwiseProblem, wg = 64): void {
  const [n, h, w, c] = p.x.shape as [number, number, number, number];
  kernel.dispatch({
    bindings: { x: p.x, weights: p.weights, y: p.y, shape: { n, h, w, c } },
    workgroups: kernel.engine.grid1d(n * h * w * c, wg),
    overrides: { WG: wg },
    cost: { flops: 18 * n * h * w * c, bytes: 4 * (2 * n * h * w * c + 9 * c) },
  });
}

/** Records the four-channel kernel on the problem. */
export function dispatchDepthwiseVec4(kernel: CustomKernel, p: DepthwiseProblem): void {
  const [n, h, w, c] = p.x.shape as [number, number, number, number];
  kernel.dispatch({
    bindings: { x: p.x, weights: p.weights, y: p.y, shape: { n, h, w, c: c / 4 } },
    workgroups: kernel.engine.grid1d((n * h * w * c) / 4, 64),
    cost: { flops: 18 * n * h * w * c, bytes: 4 * (2 * n * h * w * c + 9 * c) },
  });
}

/** Float64 depthwise 3×3 'same' convolution, NHWC, weights [3, 3, C]. */
export function depthwiseReference(x: ArrayLike<number>, w: ArrayLike<number>, [n, h, wd, c]: readonly number[]): Float64Array {
  const y = new Float64Array(n! * h! * wd! * c!);
  for (let b = 0; b < n!; b++)
    for (let py = 0; py < h!; py++)
      for (let px = 0; px < wd!; px++)
        for (let ch = 0; ch < c!; ch++) {
          let acc = 0;
          for (let ky = 0; ky < 3; ky++)
            for (let kx = 0; kx < 3; kx++) {
              const sy = py + ky - 1;
              const sx = px + kx - 1;
              if (sy < 0 || sy >= h! || sx < 0 || sx >= wd!) continue;
              acc += x[((b * h! + sy) * wd! + sx) * c! + ch]! * w[(ky * 3 + kx) * c! + ch]!;
            }
          y[((b * h! + py) * wd! + px) * c! + ch] = acc;
        }
  return y;
}

/** WGSL whose line 5, column 7 holds a type error (an f32 `let` given a u32). */
export const BROKEN_WGSL = [
  '@group(0) @binding(0) var<storage, read_write> y: array<f32>;',
  '@compute @workgroup_size(64)',
  'fn main(@builtin(global_invocation_id) gid: vec3u) {',
  '  let i = gid.x;',
  '  let v: f32 = i * 2u;',
  '  y[i] = v;',
  '}',
].join('\n');
export const BROKEN_LINE = 5;
export const BROKEN_COLUMN = 7;
