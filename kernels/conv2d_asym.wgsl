// Asymmetric convolution, forward: a 1×n or n×1 kernel, stride 1, padding only along its axis.
//   x: NHWC [N, H, W, Cin]; w: HWIO [1, n, Cin, Cout] or [n, 1, Cin, Cout]; y: NHWC.
// Both orientations are one kernel: the "sliding" axis (W for 1×n, H for n×1) and the other
// axis are described by strides in the uniforms, so a row of outputs along the sliding axis
// is a 1-D convolution whose input pixels overlap. An invocation computes 8 neighbouring
// outputs along that axis × 8 channels: each input value of its window of 8 + n − 1 pixels is
// loaded once and used by up to n taps, where the general kernel would load it once per tap.
// Weight row (t, ci) is [Cout] contiguous, read as vec4s; Cout % 4 == 0 is required.
//
// Variants (src/ops/conv2d.ts picks; the tuner can measure):
//   window8x8           register tiles, no subgroups or workgroup memory.
//   subgroup_window8x8  lanes own neighbouring channels and share windows: lane j loads the
//                       window of input channel k0 + j and shuffles hand it round, so each
//                       window is loaded once per subgroup instead of once per lane. Needs
//                       `subgroups`.
// The epilogue (scale, shift, ReLU per output channel) is the one of conv2d.wgsl.

struct AsymParams {
  N: u32,
  lenA: u32,        // input (= output) length along the other axis
  lenB: u32,        // input length along the sliding axis
  Cin: u32,
  Cout: u32,
  padBefore: u32,   // padding before the first input along the sliding axis
  outLenB: u32,     // output length along the sliding axis
  blocksB: u32,     // ceil(outLenB / 8)
  inStrideA: u32,   // pixels between neighbours along the other axis, in x
  inStrideB: u32,   // … along the sliding axis, in x
  outStrideA: u32,  // the same two in y
  outStrideB: u32,
  inPerImage: u32,  // H·W of x
  outPerImage: u32, // OH·OW of y
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> y4: array<vec4f>;
@group(0) @binding(3) var<uniform> params: AsymParams;
@group(0) @binding(4) var<storage, read> scale4: array<vec4f>;
@group(0) @binding(5) var<storage, read> shift4: array<vec4f>;

// The kernel's length n; a specialisation constant so the tap loops unroll.
override TAPS: u32 = 3;
override HAS_SCALE: bool = false;
override HAS_SHIFT: bool = false;
override RELU: bool = false;
override WG_X: u32 = 8;
override WG_Y: u32 = 8;

const OUTS = 8u;

fn epilogue4(v: vec4f, c4: u32) -> vec4f {
  var r = v;
  if (HAS_SCALE) { r = r * scale4[c4]; }
  if (HAS_SHIFT) { r = r + shift4[c4]; }
  if (RELU) { r = max(r, vec4f(0.0)); }
  return r;
}

fn outer4(b: vec4f, a: vec4f) -> mat4x4f {
  return mat4x4f(b * a.x, b * a.y, b * a.z, b * a.w);
}

// Output row (n, a) along the sliding axis, positions b0.. (as many as exist), channel group
// c4, from tiles whose column i is position b0+i (acc0) and b0+4+i (acc1).
fn store_outputs(n: u32, a: u32, b0: u32, c4: u32, acc0: mat4x4f, acc1: mat4x4f) {
  let C4 = params.Cout / 4u;
  if (c4 >= C4) {
    return;
  }
  let row = n * params.outPerImage + a * params.outStrideA;
  for (var i = 0u; i < 4u; i++) {
    if (b0 + i < params.outLenB) {
      y4[(row + (b0 + i) * params.outStrideB) * C4 + c4] = epilogue4(acc0[i], c4);
    }
    if (b0 + 4u + i < params.outLenB) {
      y4[(row + (b0 + 4u + i) * params.outStrideB) * C4 + c4] = epilogue4(acc1[i], c4);
    }
  }
}

// The window: 8 + n − 1 ≤ 14 input pixels along the sliding axis, held as four vec4s (values
// 0..3, 4..7, 8..11, 12..13) so every index below is a constant and the values stay in
// registers (dynamically indexed private arrays spill to memory on the CPU drivers).
// `base` holds each pixel's offset of channel 0 in x, `live` 1.0 for pixels inside the image
// (outside ones read x[0] and multiply it by 0).
struct Window {
  base0: vec4u, base1: vec4u, base2: vec4u, base3: vec4u,
  live0: vec4f, live1: vec4f, live2: vec4f, live3: vec4f,
}

fn window_pixel(row: u32, b0: u32, j: u32) -> vec2u {
  let b = i32(b0 + j) - i32(params.padBefore);
  let inside = b >= 0 && b < i32(params.lenB);
  return vec2u(select(0u, (row + u32(max(b, 0)) * params.inStrideB) * params.Cin, inside), select(0u, 1u, inside));
}

fn window_quad(row: u32, b0: u32, j: u32) -> array<vec4u, 2> {
  let p0 = window_pixel(row, b0, j);
  let p1 = window_pixel(row, b0, j + 1u);
  let p2 = window_pixel(row, b0, j + 2u);
  let p3 = window_pixel(row, b0, j + 3u);
  return array<vec4u, 2>(vec4u(p0.x, p1.x, p2.x, p3.x), vec4u(p0.y, p1.y, p2.y, p3.y));
}

fn window_of(n: u32, a: u32, b0: u32) -> Window {
  let row = n * params.inPerImage + a * params.inStrideA;
  let q0 = window_quad(row, b0, 0u);
  let q1 = window_quad(row, b0, 4u);
  let q2 = window_quad(row, b0, 8u);
  let q3 = window_quad(row, b0, 12u);
  return Window(q0[0], q1[0], q2[0], q3[0], vec4f(q0[1]), vec4f(q1[1]), vec4f(q2[1]), vec4f(q3[1]));
}

fn load4(base: vec4u, live: vec4f, ci: u32) -> vec4f {
  return live * vec4f(x[base.x + ci], x[base.y + ci], x[base.z + ci], x[base.w + ci]);
}

// The window's values at input channel ci; quads past the window's length are not loaded.
struct Values {
  v0: vec4f, v1: vec4f, v2: vec4f, v3: vec4f,
}

fn window_values(win: Window, ci: u32) -> Values {
  var v2 = vec4f(0.0);
  var v3 = vec4f(0.0);
  if (TAPS > 1u) { v2 = load4(win.base2, win.live2, ci); }
  if (TAPS > 5u) { v3 = load4(win.base3, win.live3, ci); }
  return Values(load4(win.base0, win.live0, ci), load4(win.base1, win.live1, ci), v2, v3);
}

// Values 1..4, 2..5 and 3..6 of the eight held in (a, b).
fn shift1(a: vec4f, b: vec4f) -> vec4f { return vec4f(a.yzw, b.x); }
fn shift2(a: vec4f, b: vec4f) -> vec4f { return vec4f(a.zw, b.xy); }
fn shift3(a: vec4f, b: vec4f) -> vec4f { return vec4f(a.w, b.xyz); }

struct Acc {
  a00: mat4x4f, a01: mat4x4f,
  a10: mat4x4f, a11: mat4x4f,
}

// One tap at input channel ci: outputs 0..3 see the window values `lo`, outputs 4..7 `hi`.
fn tap(acc: Acc, lo: vec4f, hi: vec4f, t: u32, ci: u32, c0: u32, c1: u32) -> Acc {
  let C4 = params.Cout / 4u;
  let wk = (t * params.Cin + ci) * C4;
  let q0 = w4[wk + c0];
  let q1 = w4[wk + c1];
  return Acc(acc.a00 + outer4(q0, lo), acc.a01 + outer4(q1, lo), acc.a10 + outer4(q0, hi), acc.a11 + outer4(q1, hi));
}

// Every tap of the kernel at input channel ci, written out so each window slice is a
// constant swizzle (TAPS is a constant per pipeline, so the untaken ones vanish).
fn all_taps(acc0: Acc, v: Values, ci: u32, c0: u32, c1: u32) -> Acc {
  var acc = tap(acc0, v.v0, v.v1, 0u, ci, c0, c1);
  if (TAPS > 1u) { acc = tap(acc, shift1(v.v0, v.v1), shift1(v.v1, v.v2), 1u, ci, c0, c1); }
  if (TAPS > 2u) { acc = tap(acc, shift2(v.v0, v.v1), shift2(v.v1, v.v2), 2u, ci, c0, c1); }
  if (TAPS > 3u) { acc = tap(acc, shift3(v.v0, v.v1), shift3(v.v1, v.v2), 3u, ci, c0, c1); }
  if (TAPS > 4u) { acc = tap(acc, v.v1, v.v2, 4u, ci, c0, c1); }
  if (TAPS > 5u) { acc = tap(acc, shift1(v.v1, v.v2), shift1(v.v2, v.v3), 5u, ci, c0, c1); }
  if (TAPS > 6u) { acc = tap(acc, shift2(v.v1, v.v2), shift2(v.v2, v.v3), 6u, ci, c0, c1); }
  return acc;
}

@compute @workgroup_size(WG_X, WG_Y)
fn window8x8(@builtin(global_invocation_id) gid: vec3u) {
  let C4 = params.Cout / 4u;
  let col0 = gid.x * 2u;
  let a = gid.y / params.blocksB;
  let b0 = (gid.y % params.blocksB) * OUTS;
  let n = gid.z;
  if (col0 >= C4 || a >= params.lenA) {
    return;
  }
  let c1 = min(col0 + 1u, C4 - 1u);
  let win = window_of(n, a, b0);
  var acc: Acc;
  for (var ci = 0u; ci < params.Cin; ci++) {
    acc = all_taps(acc, window_values(win, ci), ci, col0, c1);
  }
  store_outputs(n, a, b0, col0, acc.a00, acc.a10);
  store_outputs(n, a, b0, col0 + 1u, acc.a01, acc.a11);
}

// ================================================================ subgroup variants
// Compiled only on devices with `subgroups` (src/ops/conv2d.ts adds `enable subgroups;`).
// @subgroups-only

override SUBGROUP_WG_X: u32 = 32;

@compute @workgroup_size(SUBGROUP_WG_X)
fn subgroup_window8x8(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_size) subgroupSize: u32,
) {
  let C4 = params.Cout / 4u;
  let col0 = gid.x * 2u;
  // Rows come from workgroup_id, so every lane of a subgroup shares the window.
  let a = wid.y / params.blocksB;
  let b0 = (wid.y % params.blocksB) * OUTS;
  let n = wid.z;
  let c0 = min(col0, C4 - 1u);
  let c1 = min(col0 + 1u, C4 - 1u);
  let win = window_of(n, a, b0);
  let lanes = min(subgroupSize, SUBGROUP_WG_X);
  let Cin = params.Cin;
  var acc: Acc;
  for (var k0 = 0u; k0 < Cin; k0 += lanes) {
    // Lane j loads the window of channel k0 + j; shuffles hand each window to every lane.
    let mine = window_values(win, min(k0 + lane, Cin - 1u));
    let kn = min(lanes, Cin - k0);
    for (var kk = 0u; kk < kn; kk++) {
      let v = Values(subgroupShuffle(mine.v0, kk), subgroupShuffle(mine.v1, kk), subgroupShuffle(mine.v2, kk), subgroupShuffle(mine.v3, kk));
      acc = all_taps(acc, v, k0 + kk, c0, c1);
    }
  }
  store_outputs(n, a, b0, col0, acc.a00, acc.a10);
  store_outputs(n, a, b0, col0 + 1u, acc.a01, acc.a11);
}
