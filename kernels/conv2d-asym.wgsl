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
//   subgroup_line16x8   16 outputs × 8 channels per lane along rows laid end to end (see its
//                       section below). Needs `subgroups` and 'same' padding along the axis.
//   shared_line64       the same line, tiled through workgroup memory for GPUs. Needs 'same'.
// Measured, GFLOP/s at batch 1 (same caveats as conv2d.wgsl's table):
//                                 general best        window8x8  subgroup_window8x8  line16x8
//   SwiftShader 17²×128 1×7→128   0.90 (tile8x8)      1.26       1.00                1.36
//   SwiftShader 17²×128 7×1→192   0.86 (tile8x8)      1.67       1.18                1.08
//   SwiftShader 8²×384 1×3→384    0.99 (tile8x8)      1.25       0.86                1.30
//   lavapipe    17²×128 1×7→128   5.4–10 (subgroup16x8) 1.7–2.8  2.1–2.5             1.7–2.6
// shared_line64 on lavapipe: 1.9, 1.4 and 0.9 GFLOP/s on the three shapes above (workgroup
// memory and barriers are slow on CPU drivers; it is there for GPUs).
// So on SwiftShader the window kernels win by 1.3–1.9×, and on lavapipe the general subgroup
// kernel wins by 2–3×: lavapipe pays per load instruction in a loop body (see matmul.wgsl), and
// written-out taps put 14 of them in one body; the general kernel's rolled loop has two.
// The epilogue (scale, shift, ReLU per output channel) is the one of conv2d.wgsl.

// #include "common/epilogue.wgsl"
// #include "common/outer-product.wgsl"
// #include "common/tile8x8.wgsl"

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
  period: u32,      // subgroup_line16x8: lenB + n − 1, one row plus its zero gap on the line
  lineBlocks: u32,  // subgroup_line16x8: ceil(lenA · period / 16)
  outOffset: u32,   // y's first channel in each output pixel's row (a channel view), elements
  outStride: u32,   // elements per output pixel row in y (Cout for a plain output); both % 4 == 0
}

// The vec4 slot of output pixel `pixel`, channel group c4, honouring a channel view.
fn out_slot(pixel: u32, c4: u32) -> u32 {
  return pixel * (params.outStride / 4u) + params.outOffset / 4u + c4;
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> y4: array<vec4f>;
@group(0) @binding(3) var<uniform> params: AsymParams;

// The kernel's length n; a specialisation constant so the tap loops unroll.
override TAPS: u32 = 3;
override WG_X: u32 = 8;
override WG_Y: u32 = 8;

const OUTS = 8u;

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
      y4[out_slot(row + (b0 + i) * params.outStrideB, c4)] = epilogue4(acc0[i], c4);
    }
    if (b0 + 4u + i < params.outLenB) {
      y4[out_slot(row + (b0 + 4u + i) * params.outStrideB, c4)] = epilogue4(acc1[i], c4);
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

// One tap at input channel ci: outputs 0..3 see the window values `lo`, outputs 4..7 `hi`.
fn tap(acc: Tile8x8, lo: vec4f, hi: vec4f, t: u32, ci: u32, c0: u32, c1: u32) -> Tile8x8 {
  let C4 = params.Cout / 4u;
  let wk = (t * params.Cin + ci) * C4;
  let q0 = w4[wk + c0];
  let q1 = w4[wk + c1];
  return Tile8x8(acc.a00 + outer4(q0, lo), acc.a01 + outer4(q1, lo), acc.a10 + outer4(q0, hi), acc.a11 + outer4(q1, hi));
}

// Every tap of the kernel at input channel ci, written out so each window slice is a
// constant swizzle (TAPS is a constant per pipeline, so the untaken ones vanish).
fn all_taps(acc0: Tile8x8, v: Values, ci: u32, c0: u32, c1: u32) -> Tile8x8 {
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
  var acc: Tile8x8;
  for (var ci = 0u; ci < params.Cin; ci++) {
    acc = all_taps(acc, window_values(win, ci), ci, col0, c1);
  }
  store_outputs(n, a, b0, col0, acc.a00, acc.a10);
  store_outputs(n, a, b0, col0 + 1u, acc.a01, acc.a11);
}

// ---------------------------------------------------------------- shared_line64
// The line layout of subgroup_line16x8 (rows end to end, each followed by n − 1 zeros; see
// there) tiled for GPUs: a 16×16 workgroup owns 64 line positions × 64 channels; per slice of
// four input channels it stages the window (64 + n − 1 positions) and the n taps' weights in
// workgroup memory, and each invocation accumulates 4 positions × 4 channels from there. The
// classic GPU shape; on the CPU drivers workgroup memory and barriers are slow (not measured on
// a GPU yet: the tuner decides). Needs 'same' padding along the axis.

const LINE_TILE = 64u;
const CI_SLICE = 4u;
// 64 + 7 − 1 = 70 positions for the longest kernel, rounded up.
const LINE_WINDOW = 72u;

var<workgroup> lineX: array<array<f32, 4>, 72>;                  // [position][input channel]
var<workgroup> lineW: array<array<array<vec4f, 16>, 4>, 7>;      // [tap][input channel][channel group]

// Window element at line position p (may be negative or past the end: zero).
fn line_pixel(n: u32, p: i32) -> vec2u {
  let P = i32(params.period);
  let a = p / P;
  let b = p % P;
  let inside = p >= 0 && b < i32(params.lenB) && a < i32(params.lenA);
  let at = (n * params.inPerImage + u32(max(a, 0)) * params.inStrideA + u32(max(b, 0)) * params.inStrideB) * params.Cin;
  return vec2u(select(0u, at, inside), select(0u, 1u, inside));
}

// Line outputs p0 + 4g .. p0 + 4g + 3 (those in a row, not a gap), channel group c4.
fn store_line4(n: u32, p0: u32, c4: u32, acc: mat4x4f) {
  let C4 = params.Cout / 4u;
  if (c4 >= C4) {
    return;
  }
  for (var i = 0u; i < 4u; i++) {
    let p = p0 + i;
    let a = p / params.period;
    let b = p % params.period;
    if (b < params.outLenB && a < params.lenA) {
      y4[out_slot(n * params.outPerImage + a * params.outStrideA + b * params.outStrideB, c4)] = epilogue4(acc[i], c4);
    }
  }
}

@compute @workgroup_size(16, 16)
fn shared_line64(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(local_invocation_index) li: u32,
) {
  let C4 = params.Cout / 4u;
  let Cin = params.Cin;
  let n = wid.z;
  let p0 = wid.y * LINE_TILE;
  let group = wid.x * 16u + lid.x;
  let o0 = lid.y * 4u;
  let start = i32(p0) - i32(params.padBefore);
  var acc = mat4x4f();
  for (var k0 = 0u; k0 < Cin; k0 += CI_SLICE) {
    for (var e = li; e < LINE_WINDOW * CI_SLICE; e += 256u) {
      let c = e % CI_SLICE;
      let px = line_pixel(n, start + i32(e / CI_SLICE));
      let ci = k0 + c;
      lineX[e / CI_SLICE][c] = select(0.0, x[px.x + min(ci, Cin - 1u)], px.y == 1u && ci < Cin);
    }
    for (var e = li; e < TAPS * CI_SLICE * 16u; e += 256u) {
      let t = e / (CI_SLICE * 16u);
      let c = (e / 16u) % CI_SLICE;
      let g = e % 16u;
      let ci = k0 + c;
      let cg = wid.x * 16u + g;
      lineW[t][c][g] = select(vec4f(0.0), w4[(t * Cin + min(ci, Cin - 1u)) * C4 + min(cg, C4 - 1u)], ci < Cin && cg < C4);
    }
    workgroupBarrier();
    for (var c = 0u; c < CI_SLICE; c++) {
      for (var t = 0u; t < TAPS; t++) {
        let a = vec4f(lineX[o0 + t][c], lineX[o0 + t + 1u][c], lineX[o0 + t + 2u][c], lineX[o0 + t + 3u][c]);
        acc += outer4(lineW[t][c][lid.x], a);
      }
    }
    workgroupBarrier();
  }
  store_line4(n, p0 + o0, group, acc);
}

// ================================================================ subgroup variants
// Compiled only on devices with `subgroups` (src/ops/conv2d.ts adds `enable subgroups;`).
// @subgroups-only

// #include "common/subgroups.wgsl"

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
  var acc: Tile8x8;
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

// ---------------------------------------------------------------- subgroup_line16x8
// The rows along the sliding axis laid end to end on one line, each followed by n − 1 zeros:
// with 'same' padding every output's receptive field is then a contiguous stretch of the line
// (it runs into the zeros at a row's ends), so 16 consecutive outputs of the line share one
// window of 16 + n − 1 inputs whatever rows they belong to, and outputs landing in a gap are
// computed but not stored (n − 1 of every lenB + n − 1). 16 outputs × 8 channels per lane, as
// in the general subgroup16x8, so each weight load feeds 128 multiply-adds; the window (not 16
// separate receptive fields) is what each lane gathers and the subgroup shares by shuffles.
// Needs outputs as long as inputs along the axis ('same'); src/ops/conv2d.ts checks.

struct Line {
  v0: vec4f, v1: vec4f, v2: vec4f, v3: vec4f, v4: vec4f, v5: vec4f,
}

struct LineWindow {
  base: array<vec4u, 6>,
  live: array<vec4f, 6>,
}

fn line_window(n: u32, p0: i32) -> LineWindow {
  var win: LineWindow;
  for (var q = 0; q < 6; q++) {
    let e0 = line_pixel(n, p0 + 4 * q);
    let e1 = line_pixel(n, p0 + 4 * q + 1);
    let e2 = line_pixel(n, p0 + 4 * q + 2);
    let e3 = line_pixel(n, p0 + 4 * q + 3);
    win.base[q] = vec4u(e0.x, e1.x, e2.x, e3.x);
    win.live[q] = vec4f(f32(e0.y), f32(e1.y), f32(e2.y), f32(e3.y));
  }
  return win;
}

// The window at channel ci; quads past 16 + n − 1 values are not loaded.
fn line_values(win: LineWindow, ci: u32) -> Line {
  var v4 = vec4f(0.0);
  var v5 = vec4f(0.0);
  if (TAPS > 1u) { v4 = load4(win.base[4], win.live[4], ci); }
  if (TAPS > 5u) { v5 = load4(win.base[5], win.live[5], ci); }
  return Line(load4(win.base[0], win.live[0], ci), load4(win.base[1], win.live[1], ci), load4(win.base[2], win.live[2], ci), load4(win.base[3], win.live[3], ci), v4, v5);
}

// Weights of tap t, input channel ci, channel group c (the row (t, ci) of w).
fn tap_weights(t: u32, ci: u32, c: u32) -> vec4f {
  return w4[(t * params.Cin + ci) * (params.Cout / 4u) + c];
}

// The accumulators: quad g of the 16 outputs × channel groups c0 (a), c1 (b).
struct LineAcc {
  a0: mat4x4f, b0: mat4x4f, a1: mat4x4f, b1: mat4x4f,
  a2: mat4x4f, b2: mat4x4f, a3: mat4x4f, b3: mat4x4f,
}

// Tap t at input channel ci: output quad g sees the window slice s_g. Through the pointer the
// accumulators are updated in place, as fast on lavapipe as plain variables in the entry
// (measured); a struct of matrices passed by value and returned was 3× slower.
fn line_tap(acc: ptr<function, LineAcc>, t: u32, ci: u32, c0: u32, c1: u32, s0: vec4f, s1: vec4f, s2: vec4f, s3: vec4f) {
  let q0 = tap_weights(t, ci, c0);
  let q1 = tap_weights(t, ci, c1);
  (*acc).a0 += outer4(q0, s0); (*acc).b0 += outer4(q1, s0); (*acc).a1 += outer4(q0, s1); (*acc).b1 += outer4(q1, s1);
  (*acc).a2 += outer4(q0, s2); (*acc).b2 += outer4(q1, s2); (*acc).a3 += outer4(q0, s3); (*acc).b3 += outer4(q1, s3);
}

@compute @workgroup_size(SUBGROUP_WG_X)
fn subgroup_line16x8(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_size) subgroupSize: u32,
) {
  let C4 = params.Cout / 4u;
  let col0 = gid.x * 2u;
  let c0 = min(col0, C4 - 1u);
  let c1 = min(col0 + 1u, C4 - 1u);
  let n = wid.z;
  let p0 = wid.y * 16u;
  let win = line_window(n, i32(p0) - i32(params.padBefore));
  let lanes = min(subgroupSize, SUBGROUP_WG_X);
  let Cin = params.Cin;
  var acc: LineAcc;
  for (var k0 = 0u; k0 < Cin; k0 += lanes) {
    let mine = line_values(win, min(k0 + lane, Cin - 1u));
    let kn = min(lanes, Cin - k0);
    for (var kk = 0u; kk < kn; kk++) {
      let ci = k0 + kk;
      let v0 = subgroupShuffle(mine.v0, kk);
      let v1 = subgroupShuffle(mine.v1, kk);
      let v2 = subgroupShuffle(mine.v2, kk);
      let v3 = subgroupShuffle(mine.v3, kk);
      let v4 = subgroupShuffle(mine.v4, kk);
      var v5 = vec4f(0.0);
      if (TAPS > 5u) { v5 = subgroupShuffle(mine.v5, kk); }
      // Tap t: output quad g sees window values 4g + t .. 4g + t + 3, a constant swizzle.
      line_tap(&acc, 0u, ci, c0, c1, v0, v1, v2, v3);
      if (TAPS > 1u) { line_tap(&acc, 1u, ci, c0, c1, shift1(v0, v1), shift1(v1, v2), shift1(v2, v3), shift1(v3, v4)); }
      if (TAPS > 2u) { line_tap(&acc, 2u, ci, c0, c1, shift2(v0, v1), shift2(v1, v2), shift2(v2, v3), shift2(v3, v4)); }
      if (TAPS > 3u) { line_tap(&acc, 3u, ci, c0, c1, shift3(v0, v1), shift3(v1, v2), shift3(v2, v3), shift3(v3, v4)); }
      if (TAPS > 4u) { line_tap(&acc, 4u, ci, c0, c1, v1, v2, v3, v4); }
      if (TAPS > 5u) { line_tap(&acc, 5u, ci, c0, c1, shift1(v1, v2), shift1(v2, v3), shift1(v3, v4), shift1(v4, v5)); }
      if (TAPS > 6u) { line_tap(&acc, 6u, ci, c0, c1, shift2(v1, v2), shift2(v2, v3), shift2(v3, v4), shift2(v4, v5)); }
    }
  }
  store_line4(n, p0, col0, acc.a0); store_line4(n, p0, col0 + 1u, acc.b0);
  store_line4(n, p0 + 4u, col0, acc.a1); store_line4(n, p0 + 4u, col0 + 1u, acc.b1);
  store_line4(n, p0 + 8u, col0, acc.a2); store_line4(n, p0 + 8u, col0 + 1u, acc.b2);
  store_line4(n, p0 + 12u, col0, acc.a3); store_line4(n, p0 + 12u, col0 + 1u, acc.b3);
}

