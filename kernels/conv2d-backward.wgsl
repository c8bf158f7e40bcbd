// 2-D convolution, backward: the gradients of y = conv2d(x, w) (kernels/conv2d.wgsl) with
// respect to its input (dx) and its weights (dw). Layouts as in the forward: x and dx NHWC
// [N, H, W, Cin]; w and dw HWIO [KH, KW, Cin, Cout]; dy NHWC [N, OH, OW, Cout], possibly a
// channel view of a wider buffer (row stride dyStride, first channel dyOffset), which is how
// the gradient of a concatenated Inception block reaches each branch without a copy.
// All kernels are register tiles like the forward's tile8x8: no workgroup memory, no
// subgroups, no atomics (the CPU drivers here run that style best; see conv2d.wgsl).
//
// dx, a gather: dx[n, ih, iw, ci] = Σ dy[n, oh, ow, co] · w[kh, kw, ci, co] over the taps with
//   oh·sH + kh − padTop = ih and ow·sW + kw − padLeft = iw. Input pixels are split into the
//   sH·sW phases (ih mod sH, iw mod sW); within a phase every pixel is reached by the same
//   taps (kh ≡ ih + padTop mod sH), each at a fixed output offset (oh = ih / sH + dh), so a
//   phase is a stride-1 correlation of dy and no multiply-add is spent on taps that miss.
//   An invocation owns 8 consecutive pixels of one phase × 8 input channels and loops over
//   the phase's taps and all Cout, as tile8x8 loops over taps and Cin.
//   input_tile8x8 (Cin % 4 == 0) reads the weights transposed to [KH, KW, Cout, Cin]
//   (transpose_weights, a small pass over w) so a weight load is a vec4 over Cin and dx is
//   stored as vec4s; input_tile8x8_scalar reads w as it is (stride Cout) and stores scalars.
//   Both are one body, common/conv-input-tile.wgsl, included once per form with the weight
//   loads and the dx stores as hooks, so a change to the tiling reaches both.
//
// dw, a reduction over the N·OH·OW output pixels: for one tap (kh, kw), dw[kh, kw] is the
//   Cin×Cout matrix Xᵀ·dY (X: the input pixels the tap reads, dY: the output gradients). An
//   invocation owns 8 input channels × 8 output channels of one tap over one chunk of output
//   pixels and writes their partial sums; sum_chunks adds the chunks in order (deterministic,
//   no atomics). The pixel loop walks output rows, clipped to the columns whose tap lands
//   inside the image, so padding costs no multiply-add. weight_tile8x8 (Cin and Cout % 4 == 0,
//   dy's view 4-aligned) loads vec4s; weight_tile8x8_scalar takes any channel counts. Both
//   are one body, common/conv-weight-tile.wgsl, with the loads and stores as hooks.
//
// Invocations are numbered on a 1-D grid (folded into 2-D past 65535 workgroups, as
// engine.grid1d does), channel tile innermost, so neighbouring lanes share pixels (and
// their loads of dy or x) and read neighbouring channels.
//
// Measured on lavapipe (GFLOP/s counting 2·MACs of the forward, median of 10 engine-profiler
// timestamp runs via measureSideBySide, three sessions on the loaded 2-core machine, so the
// ranges are mostly noise); dx includes transpose_weights, dw includes sum_chunks:
//                                      forward                 dx                    dw
//                                subgroup16x8 tile8x8   tile8x8 _scalar      tile8x8 _scalar
//   35²×64 3×3 same →96, batch 2    6.1–8.1    6.0–6.4   6.4–7.9  5.0–6.6    6.7–8.2  4.7–5.2
//   17²×128 1×7 same →128, batch 2  9.0–10.7   4.7–7.9   5.1–7.3  5.1–6.3    3.9–7.2  4.6–5.6
// So each backward kernel runs about as fast as the forward's tile8x8 and a little slower
// than its subgroup kernel, and dx + dw take about twice the forward's time, as their
// multiply-adds predict. The dw chunking (src/ops/conv2d-backward.ts) made no measurable
// difference on lavapipe between 1 and 19 chunks at these shapes; it is there for GPUs.

// #include "common/grid-index.wgsl"
// #include "common/outer-product.wgsl"
// #include "common/tile8x8.wgsl"

const WG = 64u;

// Channels c..c+3, each clamped to last (the scalar tiles' channels past the tensor's last).
fn clamped4(c: u32, last: u32) -> vec4u {
  return vec4u(min(c, last), min(c + 1u, last), min(c + 2u, last), min(c + 3u, last));
}

// ================================================================ dx

struct InputParams {
  // #include "common/conv-geometry.wgsl"
  dyOffset: u32,
  dyStride: u32,
  // Blocks of 8 pixels in the largest phase; every phase gets that many (the rest idle).
  phaseBlocks: u32,
  // Groups of 8 input channels.
  channelTiles: u32,
  invocations: u32,
}

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<uniform> ip: InputParams;

// One phase of the input: pixels with ih ≡ ph (mod sH) and iw ≡ pw (mod sW), an Hp × Wp grid
// per image.
struct Phase {
  ph: u32,
  pw: u32,
  Hp: u32,
  Wp: u32,
  pixels: u32,
}

fn phase_of(f: u32) -> Phase {
  let ph = f / ip.strideW;
  let pw = f % ip.strideW;
  // ph < sH, so this never wraps; a phase past the image's edge (H < sH) is empty.
  let Hp = (ip.H + ip.strideH - 1u - ph) / ip.strideH;
  let Wp = (ip.W + ip.strideW - 1u - pw) / ip.strideW;
  return Phase(ph, pw, Hp, Wp, ip.N * Hp * Wp);
}

// Pixel j of a phase (clamped to the last one): (its pixel index in dx, its image's first
// pixel in dy, its row and column in the phase grid).
fn phase_pixel(p: Phase, j: u32) -> vec4u {
  let jc = min(j, p.pixels - 1u);
  let perImage = p.Hp * p.Wp;
  let n = jc / perImage;
  let r = jc % perImage;
  let i = r / p.Wp;
  let k = r % p.Wp;
  let ih = i * ip.strideH + p.ph;
  let iw = k * ip.strideW + p.pw;
  return vec4u((n * ip.H + ih) * ip.W + iw, n * ip.OH * ip.OW, i, k);
}

// The first tap along an axis that reaches phase `ph`, and the output offset of tap k there:
// o = i + (ph + pad − k) / stride, exact because k ≡ ph + pad (mod stride).
fn first_tap(ph: u32, pad: u32, stride: u32) -> u32 {
  return (ph + pad) % stride;
}

fn tap_offset(ph: u32, pad: u32, k: u32, stride: u32) -> i32 {
  return (i32(ph + pad) - i32(k)) / i32(stride);
}

// Where in dy the 8 pixels read tap (dh, dw): element offsets of their channel 0 (0 where
// the tap misses), and which of them it reaches.
struct TapRows {
  base: array<u32, 8>,
  live0: vec4<bool>,
  live1: vec4<bool>,
}

fn tap_rows(px: ptr<function, array<vec4u, 8>>, j0: u32, pixels: u32, dh: i32, dwo: i32) -> TapRows {
  var r: TapRows;
  for (var i = 0u; i < 8u; i++) {
    let p = (*px)[i];
    let oh = i32(p.z) + dh;
    let ow = i32(p.w) + dwo;
    let inside = j0 + i < pixels && oh >= 0 && oh < i32(ip.OH) && ow >= 0 && ow < i32(ip.OW);
    r.base[i] = select(0u, (p.y + u32(oh) * ip.OW + u32(ow)) * ip.dyStride + ip.dyOffset, inside);
    if (i < 4u) { r.live0[i] = inside; } else { r.live1[i - 4u] = inside; }
  }
  return r;
}

// The invocation's (phase, first pixel in it, channel tile), or the phase's pixel count 0
// where it has nothing to do.
struct InputWork {
  phase: Phase,
  j0: u32,
  tile: u32,
  busy: bool,
}

fn input_work(gid: vec3u, groups: vec3u) -> InputWork {
  let id = flat_index(gid, groups, WG);
  let tile = id % ip.channelTiles;
  let rest = id / ip.channelTiles;
  let p = phase_of(min(rest / ip.phaseBlocks, ip.strideH * ip.strideW - 1u));
  let j0 = (rest % ip.phaseBlocks) * 8u;
  return InputWork(p, j0, tile, id < ip.invocations && j0 < p.pixels);
}

// The dx tile's two forms: common/conv-input-tile.wgsl is the body, these are its hooks.

@group(0) @binding(1) var<storage, read> wT4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> dx4: array<vec4f>;

// input_tile8x8: the tile's channels as vec4 groups g0 = 2·tile and g1 (clamped below Cin / 4)
// of the transposed weights; at a tap, row is the tap's first row (tap · Cout) of Cin4 vec4s.
struct WeightGroups { g0: u32, g1: u32, Cin4: u32, row: u32 }

fn weight_groups(tile: u32) -> WeightGroups {
  let Cin4 = ip.Cin / 4u;
  let g0 = tile * 2u;
  return WeightGroups(g0, min(g0 + 1u, Cin4 - 1u), Cin4, 0u);
}

fn weight_groups_at(ws: WeightGroups, kh: u32, kw: u32) -> WeightGroups {
  return WeightGroups(ws.g0, ws.g1, ws.Cin4, (kh * ip.KW + kw) * ip.Cout);
}

fn load_weight_groups(ws: WeightGroups, co: u32) -> mat2x4f {
  let wk = (ws.row + co) * ws.Cin4;
  return mat2x4f(wT4[wk + ws.g0], wT4[wk + ws.g1]);
}

// Channel group 2·tile + quad of pixel px (if below Cin / 4).
fn store_dx4(px: vec4u, valid: bool, tile: u32, quad: u32, v: vec4f) {
  let g = tile * 2u + quad;
  if (valid && g < ip.Cin / 4u) {
    dx4[px.x * (ip.Cin / 4u) + g] = v;
  }
}

// #include "common/conv-input-tile.wgsl" { input_tile: input_tile8x8, input_tile_compute: input_tile8x8_compute, input_weights: weight_groups, input_weights_at: weight_groups_at, load_input_weights: load_weight_groups, store_input: store_dx4 }

@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

// input_tile8x8_scalar: w read as it is (HWIO, stride Cout between input channels), so the
// tile's channels (clamped below Cin) are 8 rows, r0 / r1 their offsets, at a tap from its
// first element (tap · Cin · Cout).
struct WeightRows { r0: vec4u, r1: vec4u }

fn weight_rows(tile: u32) -> WeightRows {
  let c0 = tile * 8u;
  let last = ip.Cin - 1u;
  return WeightRows(clamped4(c0, last) * ip.Cout, clamped4(c0 + 4u, last) * ip.Cout);
}

fn weight_rows_at(ws: WeightRows, kh: u32, kw: u32) -> WeightRows {
  let tap0 = (kh * ip.KW + kw) * ip.Cin * ip.Cout;
  return WeightRows(ws.r0 + tap0, ws.r1 + tap0);
}

fn load_weight_rows(ws: WeightRows, co: u32) -> mat2x4f {
  let r0 = ws.r0;
  let r1 = ws.r1;
  return mat2x4f(vec4f(w[r0.x + co], w[r0.y + co], w[r0.z + co], w[r0.w + co]),
                 vec4f(w[r1.x + co], w[r1.y + co], w[r1.z + co], w[r1.w + co]));
}

// Channels 8·tile + 4·quad .. + 3 of pixel px (those below Cin).
fn store_dx(px: vec4u, valid: bool, tile: u32, quad: u32, v: vec4f) {
  if (!valid) {
    return;
  }
  let c = tile * 8u + quad * 4u;
  let at = px.x * ip.Cin + c;
  if (c < ip.Cin) { dx[at] = v.x; }
  if (c + 1u < ip.Cin) { dx[at + 1u] = v.y; }
  if (c + 2u < ip.Cin) { dx[at + 2u] = v.z; }
  if (c + 3u < ip.Cin) { dx[at + 3u] = v.w; }
}

// #include "common/conv-input-tile.wgsl" { input_tile: input_tile8x8_scalar, input_tile_compute: input_tile8x8_scalar_compute, input_weights: weight_rows, input_weights_at: weight_rows_at, load_input_weights: load_weight_rows, store_input: store_dx }

// ---------------------------------------------------------------- weights, transposed for dx

struct TransposeParams {
  count: u32,
  Cin: u32,
  Cout: u32,
}

@group(0) @binding(8) var<storage, read_write> wT: array<f32>;
@group(0) @binding(9) var<uniform> tp: TransposeParams;

// wT[tap, co, ci] = w[tap, ci, co], walking wT in order (its writes contiguous).
@compute @workgroup_size(WG)
fn transpose_weights(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(gid, groups, WG);
  if (i >= tp.count) {
    return;
  }
  let plane = tp.Cin * tp.Cout;
  let tap = i / plane;
  let r = i % plane;
  let co = r / tp.Cin;
  let ci = r % tp.Cin;
  wT[i] = w[tap * plane + ci * tp.Cout + co];
}

// ================================================================ dw

struct WeightParams {
  // #include "common/conv-geometry.wgsl"
  dyOffset: u32,
  dyStride: u32,
  // Groups of 8 output channels, and (input groups) × (output groups).
  coTiles: u32,
  tiles: u32,
  // Output pixels N·OH·OW, split into `chunks` runs of chunkPixels (the last one shorter).
  pixels: u32,
  chunks: u32,
  chunkPixels: u32,
  invocations: u32,
}

@group(0) @binding(7) var<uniform> wp: WeightParams;

// The invocation's tap, chunk and first input and output channel.
struct WeightWork {
  kh: u32,
  kw: u32,
  tap: u32,
  chunk: u32,
  ci0: u32,
  co0: u32,
  busy: bool,
}

fn weight_work(gid: vec3u, groups: vec3u) -> WeightWork {
  let id = flat_index(gid, groups, WG);
  let tile = id % wp.tiles;
  let rest = id / wp.tiles;
  let chunk = rest % wp.chunks;
  let tap = min(rest / wp.chunks, wp.KH * wp.KW - 1u);
  return WeightWork(tap / wp.KW, tap % wp.KW, tap, chunk, (tile / wp.coTiles) * 8u, (tile % wp.coTiles) * 8u, id < wp.invocations);
}

// The output columns [lo, hi) whose tap kw lands inside the image: iw = ow·sW + kw − padLeft
// in [0, W).
fn column_range(kw: u32) -> vec2u {
  let lo = select(0u, (wp.padLeft - kw + wp.strideW - 1u) / wp.strideW, kw < wp.padLeft);
  let reach = wp.W - 1u + wp.padLeft;
  let hi = select(0u, min(wp.OW, (reach - kw) / wp.strideW + 1u), reach >= kw);
  return vec2u(lo, max(lo, hi));
}

// A run of output pixels on one row whose tap is inside the image: the first pixel's element
// offsets in x (channel 0 of the input pixel it reads) and in dy (channel 0), and its length.
struct RowRun {
  xAt: u32,
  dyAt: u32,
  count: u32,
}

// The run that starts at output pixel p of the chunk ending at p1 (none where the tap's row
// is outside the image), and the pixel after this row's part of the chunk.
fn row_run(p: u32, p1: u32, kh: u32, kw: u32, cols: vec2u) -> array<u32, 4> {
  let perImage = wp.OH * wp.OW;
  let n = p / perImage;
  let r = p % perImage;
  let oh = r / wp.OW;
  let ow0 = r % wp.OW;
  let rowStart = p - ow0;
  let rowEnd = min(p1, rowStart + wp.OW);
  let ih = i32(oh * wp.strideH + kh) - i32(wp.padTop);
  let lo = max(ow0, cols.x);
  let hi = min(rowEnd - rowStart, cols.y);
  let count = select(0u, hi - lo, ih >= 0 && ih < i32(wp.H) && lo < hi);
  let iw = lo * wp.strideW + kw - wp.padLeft;
  let xAt = ((n * wp.H + u32(max(ih, 0))) * wp.W + iw) * wp.Cin;
  let dyAt = (rowStart + lo) * wp.dyStride + wp.dyOffset;
  return array<u32, 4>(select(0u, xAt, count > 0u), dyAt, count, rowEnd);
}

// The dw tile's two forms: common/conv-weight-tile.wgsl is the body, these are its hooks.

@group(0) @binding(5) var<storage, read> x4: array<vec4f>;
@group(0) @binding(0) var<storage, read> dy4: array<vec4f>;
@group(0) @binding(6) var<storage, read_write> part4: array<vec4f>;

// weight_tile8x8: the tile's input channels as vec4 groups a0, a1 of x, its output channels
// as groups b0, b1 of dy (the second ones clamped below Cin / 4, Cout / 4), indexed in vec4s.
struct ChannelGroups { a0: u32, a1: u32, b0: u32, b1: u32, unit: u32, xStep: u32, dyStep: u32 }

fn channel_groups(work: WeightWork) -> ChannelGroups {
  let Cin4 = wp.Cin / 4u;
  let Cout4 = wp.Cout / 4u;
  let a0 = work.ci0 / 4u;
  let b0 = work.co0 / 4u;
  return ChannelGroups(a0, min(a0 + 1u, Cin4 - 1u), b0, min(b0 + 1u, Cout4 - 1u), 4u, wp.strideW * Cin4, wp.dyStride / 4u);
}

fn load_channel_groups(cs: ChannelGroups, xAt: u32, dyAt: u32) -> mat4x4f {
  return mat4x4f(x4[xAt + cs.a0], x4[xAt + cs.a1], dy4[dyAt + cs.b0], dy4[dyAt + cs.b1]);
}

// Row ci of dw's tap in this chunk of the partial sums, output channel group co0 / 4 + quad.
fn store_part4(work: WeightWork, ci: u32, quad: u32, v: vec4f) {
  let Cout4 = wp.Cout / 4u;
  let g = work.co0 / 4u + quad;
  if (ci < wp.Cin && g < Cout4) {
    part4[((work.chunk * wp.KH * wp.KW + work.tap) * wp.Cin + ci) * Cout4 + g] = v;
  }
}

// #include "common/conv-weight-tile.wgsl" { weight_tile: weight_tile8x8, weight_tile_compute: weight_tile8x8_compute, tile_channels: channel_groups, load_tile_channels: load_channel_groups, store_weight: store_part4 }

@group(0) @binding(5) var<storage, read> x: array<f32>;
@group(0) @binding(6) var<storage, read_write> part: array<f32>;

// weight_tile8x8_scalar: the tile's channels one by one, clamped below Cin and Cout, indexed
// in elements.
struct ChannelLanes { a0: vec4u, a1: vec4u, b0: vec4u, b1: vec4u, unit: u32, xStep: u32, dyStep: u32 }

fn channel_lanes(work: WeightWork) -> ChannelLanes {
  let a0 = clamped4(work.ci0, wp.Cin - 1u);
  let a1 = clamped4(work.ci0 + 4u, wp.Cin - 1u);
  let b0 = clamped4(work.co0, wp.Cout - 1u);
  let b1 = clamped4(work.co0 + 4u, wp.Cout - 1u);
  return ChannelLanes(a0, a1, b0, b1, 1u, wp.strideW * wp.Cin, wp.dyStride);
}

fn load_channel_lanes(cs: ChannelLanes, xAt: u32, dyAt: u32) -> mat4x4f {
  let a0 = cs.a0;
  let a1 = cs.a1;
  let b0 = cs.b0;
  let b1 = cs.b1;
  return mat4x4f(vec4f(x[xAt + a0.x], x[xAt + a0.y], x[xAt + a0.z], x[xAt + a0.w]),
                 vec4f(x[xAt + a1.x], x[xAt + a1.y], x[xAt + a1.z], x[xAt + a1.w]),
                 vec4f(dy[dyAt + b0.x], dy[dyAt + b0.y], dy[dyAt + b0.z], dy[dyAt + b0.w]),
                 vec4f(dy[dyAt + b1.x], dy[dyAt + b1.y], dy[dyAt + b1.z], dy[dyAt + b1.w]));
}

// Output channels co0 + 4·quad .. + 3 (those below Cout) of row ci.
fn store_part(work: WeightWork, ci: u32, quad: u32, v: vec4f) {
  if (ci >= wp.Cin) {
    return;
  }
  let co = work.co0 + quad * 4u;
  let at = ((work.chunk * wp.KH * wp.KW + work.tap) * wp.Cin + ci) * wp.Cout + co;
  if (co < wp.Cout) { part[at] = v.x; }
  if (co + 1u < wp.Cout) { part[at + 1u] = v.y; }
  if (co + 2u < wp.Cout) { part[at + 2u] = v.z; }
  if (co + 3u < wp.Cout) { part[at + 3u] = v.w; }
}

// #include "common/conv-weight-tile.wgsl" { weight_tile: weight_tile8x8_scalar, weight_tile_compute: weight_tile8x8_scalar_compute, tile_channels: channel_lanes, load_tile_channels: load_channel_lanes, store_weight: store_part }

// ---------------------------------------------------------------- chunk sums

struct ChunkParams {
  size: u32,
  chunks: u32,
}

@group(0) @binding(10) var<storage, read> partIn: array<f32>;
@group(0) @binding(11) var<storage, read_write> dwOut: array<f32>;
@group(0) @binding(12) var<uniform> cp: ChunkParams;

// dw[i] = Σ_c partials[c][i], chunks in order, so the result does not depend on scheduling.
@compute @workgroup_size(WG)
fn sum_chunks(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(gid, groups, WG);
  if (i >= cp.size) {
    return;
  }
  var s = 0.0;
  for (var c = 0u; c < cp.chunks; c++) {
    s += partIn[c * cp.size + i];
  }
  dwOut[i] = s;
}
