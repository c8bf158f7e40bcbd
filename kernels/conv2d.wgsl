// General 2-D convolution, forward, as an implicit matrix product.
//   x: NHWC activations [N, H, W, Cin]; w: HWIO weights [KH, KW, Cin, Cout]; y: NHWC [N, OH, OW, Cout].
// Seen as a matrix product, y is the M×Cout matrix (M = N·OH·OW output pixels), w is the
// K×Cout matrix (K = KH·KW·Cin, rows in (kh, kw, ci) order), and row m of the virtual left
// matrix is output pixel m's receptive field, gathered on the fly (zero outside the image).
// HWIO is chosen because it *is* that K×Cout matrix: a row of weights is Cout contiguous
// values, read as vec4s by neighbouring lanes, and a 1×1 conv is a plain matmul on it.
//
// Variants (src/ops/conv2d.ts picks one per adapter and shape; the tuner can measure them):
//   tile8x8       8 pixels × 8 channels per invocation, no workgroup memory or subgroups; the
//                 receptive-field offsets of its 8 pixels are computed once per (kh, kw), so the
//                 inner loop over input channels is plain loads. Needs Cout % 4 == 0.
//   shared64      64 pixels × 64 channels per workgroup, both operands staged through workgroup
//                 memory in 16-deep slices (the classic GPU kernel). Any Cout.
//   subgroup16x8  the matmul kernel of the same name with a gathering left operand (lanes of a
//                 subgroup share pixels and fetch one k each, shuffles hand the values round).
//                 Needs Cout % 4 == 0 and `subgroups`.
//   subgroup32x8  likewise, blocks of four k shared by constant-lane broadcasts (suits 4-lane
//                 subgroups, as on SwiftShader). Same needs.
// shared64's and subgroup16x8's bodies are matmul.wgsl's, in kernels/common/gemm-*.wgsl; this
// file defines the operand loads they call (hooks: the gather, the tap walk, w's reads).
// Measured (GFLOP/s, batch 1, GPU timestamps, scratch runs on a loaded 2-core Zen 5 machine,
// so ±50% between runs; the tuner measures on the machine at hand instead of trusting these):
//                                    subgroup16x8  subgroup32x8  tile8x8  shared64
//   lavapipe  73²×80 3×3→192              6.5–6.9       5.0–5.5   4.7–9.0   2.2–2.3
//   lavapipe  35²×288 3×3/2→384           4.7–4.8       2.8–3.7   3.6–6.6   1.6–1.8
//   lavapipe  17²×128 1×7→128             5.4–10        3.1–5.2   3.4–6.8   1.4–2.3
//   SwiftShader 17²×128 1×7→128           0.74          0.52      0.90      —
// Workgroup memory with barriers is slow on both CPU drivers; on a GPU it is the classic win.
//
// Epilogue, chosen by overrides so a plain conv pays nothing for it: y = relu(acc·scale + shift)
// per output channel; a bias is a shift, and BatchNorm folded for inference is scale and shift.

// #include "common/epilogue.wgsl"
// #include "common/grid-index.wgsl"
// #include "common/outer-product.wgsl"
// #include "common/tile8x8.wgsl"

struct ConvParams {
  // #include "common/conv-geometry.wgsl"
  M: u32,
  K: u32,
  // Where y's channels sit in each output pixel's row (a channel view of a concat buffer, or
  // 0 and Cout for a plain output); the vec4 kernels need both to be multiples of 4.
  outOffset: u32,
  outStride: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<uniform> params: ConvParams;

// Where output pixel m's receptive field starts: (offset of its image in x, top row, left
// column, 1 if m is a real pixel). Rows and columns may be negative (padding).
fn pixel_origin(m: u32) -> vec4i {
  let perImage = params.OH * params.OW;
  let mc = min(m, params.M - 1u);
  let n = mc / perImage;
  let r = mc % perImage;
  let oh = r / params.OW;
  let ow = r % params.OW;
  return vec4i(
    i32(n * params.H * params.W * params.Cin),
    i32(oh * params.strideH) - i32(params.padTop),
    i32(ow * params.strideW) - i32(params.padLeft),
    select(0, 1, m < params.M),
  );
}

// Consecutive output pixels from m on, without dividing per pixel: (image, row, column) of
// the current pixel and its index.
struct PixelWalk {
  at: vec3u,
  m: u32,
}

fn pixel_walk(m: u32) -> PixelWalk {
  let perImage = params.OH * params.OW;
  let r = m % perImage;
  return PixelWalk(vec3u(m / perImage, r / params.OW, r % params.OW), m);
}

// The current pixel's origin, as pixel_origin gives it, then a step to the next pixel.
fn walk_origin(walk: ptr<function, PixelWalk>) -> vec4i {
  let p = (*walk).at;
  let o = vec4i(
    i32(p.x * params.H * params.W * params.Cin),
    i32(p.y * params.strideH) - i32(params.padTop),
    i32(p.z * params.strideW) - i32(params.padLeft),
    select(0, 1, (*walk).m < params.M),
  );
  var q = vec3u(p.x, p.y, p.z + 1u);
  if (q.z == params.OW) {
    q.z = 0u;
    q.y += 1u;
    if (q.y == params.OH) {
      q.y = 0u;
      q.x += 1u;
    }
  }
  (*walk).at = q;
  (*walk).m += 1u;
  return o;
}

// Row k of w as (kh, kw, ci); k past K gets a row far below the image, so it reads zero.
fn tap_of(k: u32) -> vec3i {
  let ci = k % params.Cin;
  let t = k / params.Cin;
  let kh = select(i32(t / params.KW), 1 << 20, k >= params.K);
  return vec3i(kh, i32(t % params.KW), i32(ci));
}

// Row k of w as (kh, kw, ci), by division: once per invocation. Vector integer division is
// scalarised on the CPU drivers (a few dozen cycles a lane), so the subgroup kernels walk
// their rows with tap_advance instead of calling tap_of in the k loop.
fn tap_start(k: u32) -> vec3u {
  let t = k / params.Cin;
  return vec3u(t / params.KW, t % params.KW, k % params.Cin);
}

// The tap `step` rows further on. Rows past K come out with kh >= KH.
fn tap_advance(t: vec3u, step: u32) -> vec3u {
  var kh = t.x;
  var kw = t.y;
  var ci = t.z + step;
  while (ci >= params.Cin) {
    ci -= params.Cin;
    kw += 1u;
    if (kw == params.KW) {
      kw = 0u;
      kh += 1u;
    }
  }
  return vec3u(kh, kw, ci);
}

// A walked tap in gather's form (rows past K placed far below the image, so they read zero).
fn tap_signed(t: vec3u) -> vec3i {
  return vec3i(select(i32(t.x), 1 << 20, t.x >= params.KH), i32(t.y), i32(t.z));
}

// x at the receptive-field element `tap` of the pixel whose origin is o, or 0 in the padding.
fn gather(o: vec4i, tap: vec3i) -> f32 {
  let ih = o.y + tap.x;
  let iw = o.z + tap.y;
  let inside = o.w == 1 && ih >= 0 && ih < i32(params.H) && iw >= 0 && iw < i32(params.W);
  // Branch-free: outside the image read x[0] and discard it. (An early return here made
  // SwiftShader hang in subgroup16x8, whose shuffles follow the gathers.)
  let at = select(0u, u32(o.x) + (u32(ih) * params.W + u32(iw)) * params.Cin + u32(tap.z), inside);
  return select(0.0, x[at], inside);
}

// The origins of pixels m..m+3.
struct Origins4 {
  p0: vec4i, p1: vec4i, p2: vec4i, p3: vec4i,
}

// Pixels m..m+3 at tap, as a vector (component i is pixel m+i).
fn gather4(o: Origins4, tap: vec3i) -> vec4f {
  return vec4f(gather(o.p0, tap), gather(o.p1, tap), gather(o.p2, tap), gather(o.p3, tap));
}

// ---------------------------------------------------------------- epilogue and stores

@group(0) @binding(2) var<storage, read_write> y: array<f32>;

// Pixel m, channels c0..c0+3 (those below Cout).
fn store_pixel(m: u32, c0: u32, v: vec4f) {
  if (m >= params.M) {
    return;
  }
  let at = m * params.outStride + params.outOffset + c0;
  let cols = params.Cout - min(c0, params.Cout);
  if (cols > 0u) { y[at] = epilogue1(v.x, c0); }
  if (cols > 1u) { y[at + 1u] = epilogue1(v.y, c0 + 1u); }
  if (cols > 2u) { y[at + 2u] = epilogue1(v.z, c0 + 2u); }
  if (cols > 3u) { y[at + 3u] = epilogue1(v.w, c0 + 3u); }
}

// ---------------------------------------------------------------- BatchNorm statistics
// #include "common/conv-statistics.wgsl"

// ---------------------------------------------------------------- shared64

// #include "common/gemm-shared64.wgsl"

@group(0) @binding(1) var<storage, read> w: array<f32>;

fn w_or_zero(k: u32, c: u32) -> f32 {
  let inside = k < params.K && c < params.Cout;
  return select(0.0, w[min(k, params.K - 1u) * params.Cout + min(c, params.Cout - 1u)], inside);
}

// shared64's operands (common/gemm-shared64.wgsl): pixels m..m+3 gathered through their
// origins, and channels c..c+3 of w. There is one matrix (matrixIndex 0).
fn shared64_left(matrixIndex: u32, m: u32) -> Origins4 {
  return Origins4(pixel_origin(m), pixel_origin(m + 1u), pixel_origin(m + 2u), pixel_origin(m + 3u));
}

fn shared64_left_at(o: Origins4, k: u32) -> vec4f {
  return gather4(o, tap_of(k));
}

fn shared64_right(matrixIndex: u32, c: u32) -> u32 {
  return c;
}

fn shared64_right_at(c: u32, k: u32) -> vec4f {
  return vec4f(w_or_zero(k, c), w_or_zero(k, c + 1u), w_or_zero(k, c + 2u), w_or_zero(k, c + 3u));
}

@compute @workgroup_size(16, 16)
fn shared64(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(local_invocation_index) li: u32,
) {
  let pixelBase = row_block(wid, nwg) * TILE;
  let colBase = wid.x * TILE;
  let t = shared64_tile(0u, pixelBase, colBase, lid, li);
  let m = pixelBase + lid.y * 4u;
  let c = colBase + lid.x * 4u;
  store_pixel(m, c, t[0]);
  store_pixel(m + 1u, c, t[1]);
  store_pixel(m + 2u, c, t[2]);
  store_pixel(m + 3u, c, t[3]);
}

// ---------------------------------------------------------------- vec4 channel kernels

@group(0) @binding(1) var<storage, read> w4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> y4: array<vec4f>;

// Pixels m..m+3, channel group c4, from a tile whose column i is pixel m+i.
fn store_pixels4(m: u32, c4: u32, acc: mat4x4f) {
  let C4 = params.Cout / 4u;
  if (c4 >= C4) {
    return;
  }
  let stride4 = params.outStride / 4u;
  let at = params.outOffset / 4u + c4;
  for (var i = 0u; i < 4u; i++) {
    if (m + i < params.M) {
      y4[(m + i) * stride4 + at] = epilogue4(acc[i], c4);
    }
  }
}

override TILE_WG_X: u32 = 8;
override TILE_WG_Y: u32 = 8;

// Offset of tap (kh, kw)'s channel 0 for the pixel with origin o, and 1 where it is inside.
fn tap_base(o: vec4i, kh: u32, kw: u32) -> vec2u {
  let ih = o.y + i32(kh);
  let iw = o.z + i32(kw);
  let inside = o.w == 1 && ih >= 0 && ih < i32(params.H) && iw >= 0 && iw < i32(params.W);
  let at = u32(o.x) + (u32(max(ih, 0)) * params.W + u32(max(iw, 0))) * params.Cin;
  return vec2u(select(0u, at, inside), select(0u, 1u, inside));
}

// 8 pixels (m0..m0+7) × 8 channels (groups col0, col0+1): a00/a01 hold pixels m0..m0+3,
// a10/a11 pixels m0+4..m0+7; column i of a tile is one pixel.
fn tile8x8_compute(m0: u32, col0: u32) -> Tile8x8 {
  let C4 = params.Cout / 4u;
  let c0 = col0;
  let c1 = min(col0 + 1u, C4 - 1u);
  var org: array<vec4i, 8>;
  for (var i = 0u; i < 8u; i++) {
    org[i] = pixel_origin(m0 + i);
  }
  var acc00 = mat4x4f(); var acc01 = mat4x4f();
  var acc10 = mat4x4f(); var acc11 = mat4x4f();
  let Cin = params.Cin;
  for (var kh = 0u; kh < params.KH; kh++) {
    for (var kw = 0u; kw < params.KW; kw++) {
      // Outside the image a pixel reads x[0] and multiplies it by 0.
      var base: array<u32, 8>;
      var live0 = vec4f(0.0);
      var live1 = vec4f(0.0);
      for (var i = 0u; i < 8u; i++) {
        let t = tap_base(org[i], kh, kw);
        base[i] = t.x;
        if (i < 4u) { live0[i] = f32(t.y); } else { live1[i - 4u] = f32(t.y); }
      }
      let wRow = (kh * params.KW + kw) * Cin;
      for (var ci = 0u; ci < Cin; ci++) {
        let wk = (wRow + ci) * C4;
        let b0 = w4[wk + c0];
        let b1 = w4[wk + c1];
        let a0 = live0 * vec4f(x[base[0] + ci], x[base[1] + ci], x[base[2] + ci], x[base[3] + ci]);
        let a1 = live1 * vec4f(x[base[4] + ci], x[base[5] + ci], x[base[6] + ci], x[base[7] + ci]);
        acc00 += outer4(b0, a0); acc01 += outer4(b1, a0);
        acc10 += outer4(b0, a1); acc11 += outer4(b1, a1);
      }
    }
  }
  return Tile8x8(acc00, acc01, acc10, acc11);
}

fn store_tile8x8(m0: u32, col0: u32, t: Tile8x8) {
  store_pixels4(m0, col0, t.a00); store_pixels4(m0, col0 + 1u, t.a01);
  store_pixels4(m0 + 4u, col0, t.a10); store_pixels4(m0 + 4u, col0 + 1u, t.a11);
}

@compute @workgroup_size(TILE_WG_X, TILE_WG_Y)
fn tile8x8(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
) {
  let col0 = gid.x * 2u;
  let m0 = (row_block(wid, nwg) * TILE_WG_Y + lid.y) * 8u;
  if (col0 >= params.Cout / 4u || m0 >= params.M) {
    return;
  }
  store_tile8x8(m0, col0, tile8x8_compute(m0, col0));
}

// tile8x8 plus the block's BatchNorm statistics (chunk = m0 / 8, 8 pixels).
@compute @workgroup_size(TILE_WG_X, TILE_WG_Y)
fn tile8x8_stats(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
) {
  let col0 = gid.x * 2u;
  let chunk = row_block(wid, nwg) * TILE_WG_Y + lid.y;
  let m0 = chunk * 8u;
  if (col0 >= params.Cout / 4u || m0 >= params.M) {
    return;
  }
  let t = tile8x8_compute(m0, col0);
  store_tile8x8(m0, col0, t);
  var s0 = Welford4();
  welford_tile(&s0, m0, t.a00);
  welford_tile(&s0, m0 + 4u, t.a10);
  store_stats(chunk, col0, s0);
  var s1 = Welford4();
  welford_tile(&s1, m0, t.a01);
  welford_tile(&s1, m0 + 4u, t.a11);
  store_stats(chunk, col0 + 1u, s1);
}

// ================================================================ subgroup variants
// Compiled only on devices with `subgroups` (src/ops/conv2d.ts adds `enable subgroups;`).
// @subgroups-only

// #include "common/subgroups.wgsl"

// The next four pixels of a walk.
fn origins4(walk: ptr<function, PixelWalk>) -> Origins4 {
  let p0 = walk_origin(walk);
  let p1 = walk_origin(walk);
  let p2 = walk_origin(walk);
  let p3 = walk_origin(walk);
  return Origins4(p0, p1, p2, p3);
}

// Invocations per pixel block: LANE_GROUP when set (a power of two below the subgroup size,
// for Cout ≤ 8·LANE_GROUP, so a narrow conv does not leave lanes without channels), else the
// whole workgroup (its subgroups share the block and split the channels).
override LANE_GROUP: u32 = 0;

fn block_width() -> u32 {
  return select(SUBGROUP_WG_X, LANE_GROUP, LANE_GROUP > 0u);
}

// Lanes of one subgroup that gather for the same pixel block and shuffle among themselves.
fn lane_group(subgroupSize: u32) -> u32 {
  return min(min(subgroupSize, SUBGROUP_WG_X), block_width());
}

// (first pixel, first channel group) of invocation li of the workgroup at column wx and row
// block wy: the workgroup holds SUBGROUP_WG_X / block_width() pixel blocks of 16; each
// invocation owns two channel groups.
fn block16x8(wx: u32, wy: u32, li: u32, subgroupSize: u32) -> vec2u {
  let width = block_width();
  let m0 = (wy * (SUBGROUP_WG_X / width) + li / width) * 16u;
  let col0 = (wx * width + li % width) * 2u;
  return vec2u(m0, col0);
}

// subgroup16x8's operands (common/gemm-subgroup16x8.wgsl): 16 pixels gathered through their
// origins, the lanes walking k as taps (tap_start, tap_advance: no division in the loop); w as
// vec4s. The tile's rows are pixels m0..m0+15, its columns channel groups col0 and col0+1.
// #include "common/gemm-subgroup16x8.wgsl" { left_k_start: tap_start, left_k_advance: tap_advance }

alias Subgroup16x8Left = array<Origins4, 4>;

fn subgroup16x8_left_at(org: ptr<function, array<Origins4, 4>>, walk: vec3u) -> array<vec4f, 4> {
  let tap = tap_signed(walk);
  // A rolled loop: with the sixteen gathers written out in a row SwiftShader never finished
  // (compiling or running) even a 5×5 problem.
  var gathered: array<vec4f, 4>;
  for (var g = 0u; g < 4u; g++) {
    gathered[g] = gather4((*org)[g], tap);
  }
  return gathered;
}

fn right_vec4(at: u32) -> vec4f {
  return w4[at];
}

fn subgroup16x8_compute(m0: u32, col0: u32, lane: u32, subgroupSize: u32) -> Tile16x8 {
  var org: array<Origins4, 4>;
  var pixels = pixel_walk(m0);
  for (var g = 0u; g < 4u; g++) {
    org[g] = origins4(&pixels);
  }
  // The lanes sharing this invocation's 16 pixels: the whole subgroup, or a group of
  // LANE_GROUP lanes when Cout is too narrow to give every lane of the subgroup channels.
  let lanes = lane_group(subgroupSize);
  return subgroup16x8_tile(&org, lane, lane - lane % lanes, lanes, 0u, params.Cout / 4u, col0);
}

fn store_tile16x8(m0: u32, col0: u32, t: Tile16x8) {
  store_pixels4(m0, col0, t.a00); store_pixels4(m0, col0 + 1u, t.a01);
  store_pixels4(m0 + 4u, col0, t.a10); store_pixels4(m0 + 4u, col0 + 1u, t.a11);
  store_pixels4(m0 + 8u, col0, t.a20); store_pixels4(m0 + 8u, col0 + 1u, t.a21);
  store_pixels4(m0 + 12u, col0, t.a30); store_pixels4(m0 + 12u, col0 + 1u, t.a31);
}

@compute @workgroup_size(SUBGROUP_WG_X)
fn subgroup16x8(
  @builtin(local_invocation_index) li: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_size) subgroupSize: u32,
) {
  let at = block16x8(wid.x, row_block(wid, nwg), li, subgroupSize);
  store_tile16x8(at.x, at.y, subgroup16x8_compute(at.x, at.y, lane, subgroupSize));
}

// subgroup16x8 plus the block's BatchNorm statistics (16 pixels from m0: chunk m0 / 16).
@compute @workgroup_size(SUBGROUP_WG_X)
fn subgroup16x8_stats(
  @builtin(local_invocation_index) li: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_size) subgroupSize: u32,
) {
  let at = block16x8(wid.x, row_block(wid, nwg), li, subgroupSize);
  let m0 = at.x;
  let col0 = at.y;
  let t = subgroup16x8_compute(m0, col0, lane, subgroupSize);
  store_tile16x8(m0, col0, t);
  if (m0 >= params.M) {
    return;
  }
  var s0 = Welford4();
  welford_tile(&s0, m0, t.a00);
  welford_tile(&s0, m0 + 4u, t.a10);
  welford_tile(&s0, m0 + 8u, t.a20);
  welford_tile(&s0, m0 + 12u, t.a30);
  store_stats(m0 / 16u, col0, s0);
  var s1 = Welford4();
  welford_tile(&s1, m0, t.a01);
  welford_tile(&s1, m0 + 4u, t.a11);
  welford_tile(&s1, m0 + 8u, t.a21);
  welford_tile(&s1, m0 + 12u, t.a31);
  store_stats(m0 / 16u, col0 + 1u, s1);
}

// Weight rows k0..k0+3 at a channel group: right_panel, reading w4 through right_vec4 (above).
// #include "common/gemm-subgroup32x8.wgsl"

@compute @workgroup_size(SUBGROUP_WG_X)
fn subgroup32x8(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  let C4 = params.Cout / 4u;
  let K = params.K;
  let m0 = row_block(wid, nwg) * 32u;
  let col0 = gid.x * 2u;
  let c0 = min(col0, C4 - 1u);
  let c1 = min(col0 + 1u, C4 - 1u);
  var org: array<Origins4, 8>;
  var pixels = pixel_walk(m0);
  for (var g = 0u; g < 8u; g++) {
    org[g] = origins4(&pixels);
  }
  var acc0: array<mat4x4f, 8>;
  var acc1: array<mat4x4f, 8>;
  var walk = tap_start(min(lane, 3u));
  for (var k0 = 0u; k0 < K; k0 += 4u) {
    // Lanes 0..3 gather k0..k0+3 (every subgroup has at least four lanes).
    let tap = tap_signed(walk);
    walk = tap_advance(walk, 4u);
    let q0 = right_panel(0u, C4, k0, c0);
    let q1 = right_panel(0u, C4, k0, c1);
    for (var g = 0u; g < 8u; g++) {
      let p = broadcast_panel(gather4(org[g], tap));
      acc0[g] += q0 * p;
      acc1[g] += q1 * p;
    }
  }
  for (var g = 0u; g < 8u; g++) {
    store_pixels4(m0 + 4u * g, col0, acc0[g]);
    store_pixels4(m0 + 4u * g, col0 + 1u, acc1[g]);
  }
}
