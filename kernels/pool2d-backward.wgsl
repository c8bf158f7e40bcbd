// Backward of pooling, as gathers (no atomics, deterministic): one invocation per input element
// visits the few windows that contain it. For output row oh the window covers input rows
// oh·sH − padTop … + KH − 1, so input row ih lies in windows oh ∈ [⌈(ih + padTop − KH + 1)/sH⌉,
// ⌊(ih + padTop)/sH⌋] ∩ [0, OH − 1], and likewise for columns: at most ⌈KH/sH⌉·⌈KW/sW⌉ windows.

// #include "common/grid-index.wgsl"
// #include "common/pool-window.wgsl"
// #include "common/pool-gather.wgsl" { gather: gather_max, window_share: max_share }
// #include "common/pool-gather.wgsl" { gather: gather_avg, window_share: avg_share }

struct PoolParams {
  // #include "common/pool-geometry.wgsl"
  inputs: u32,      // N·H·W·C
  // dy may be a channel view (the forward wrote its output into a concat's slice, so its
  // gradient is that slice of the concat's gradient): output pixel p, channel c is at
  // p · dyStride + dyOffset + c. indices and dx are plain.
  dyOffset: u32,
  dyStride: u32,
}

override WORKGROUP_SIZE: u32 = 256;

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> indices: array<i32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> params: PoolParams;

// The output rows (or columns) whose windows contain input position p: [first, last] as i32.
fn covering(p: u32, pad: u32, k: u32, stride: u32, outLen: u32) -> vec2i {
  let hi = i32(p + pad);
  let first = max((hi - i32(k) + i32(stride)) / i32(stride), 0); // ⌈(hi − k + 1)/stride⌉, hi − k + 1 may be < 0
  let last = min(hi / i32(stride), i32(outLen) - 1);
  return vec2i(select(first, 0, hi - i32(k) + 1 <= 0), last);
}

struct Position {
  n: u32,
  ih: u32,
  iw: u32,
  c: u32,
}

fn position(i: u32) -> Position {
  let c = i % params.C;
  let p = i / params.C;
  let iw = p % params.W;
  let r = p / params.W;
  return Position(r / params.H, r % params.H, iw, c);
}

fn out_pixel(at: Position, oh: i32, ow: i32) -> u32 {
  return (at.n * params.OH + u32(oh)) * params.OW + u32(ow);
}

fn dy_at(pixel: u32, c: u32) -> f32 {
  return dy[pixel * params.dyStride + params.dyOffset + c];
}

// Max: all of dy where the forward picked input element i as the window's maximum.
fn max_share(i: u32, at: Position, pixel: u32, oh: i32, ow: i32) -> f32 {
  if (indices[pixel * params.C + at.c] == i32(i)) {
    return dy_at(pixel, at.c);
  }
  return 0.0;
}

// Average: dy over the divisor the forward used for output (oh, ow), which is never negative here.
fn avg_share(i: u32, at: Position, pixel: u32, oh: i32, ow: i32) -> f32 {
  let corner = window_corner(u32(oh), u32(ow));
  return dy_at(pixel, at.c) / avg_divisor(window_rows(corner.x), window_cols(corner.y));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn max_pool_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(gid, groups, WORKGROUP_SIZE);
  if (i < params.inputs) {
    dx[i] = gather_max(i);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn avg_pool_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(gid, groups, WORKGROUP_SIZE);
  if (i < params.inputs) {
    dx[i] = gather_avg(i);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn global_avg_pool_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(gid, groups, WORKGROUP_SIZE);
  if (i >= params.inputs) {
    return;
  }
  let at = position(i);
  dx[i] = dy_at(at.n, at.c) / f32(params.H * params.W);
}
