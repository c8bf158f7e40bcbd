// Pooling over NHWC activations, one invocation per output element (channel innermost, so
// neighbouring invocations read neighbouring memory), or per four channels (the *4 entries,
// when C and the output view are multiples of 4, as everywhere in Inception-v3): the CPU
// drivers scalarise the integer divisions that locate a window and pay per load, so vec4s cut
// both by four (measured 2–3× faster on lavapipe). Inputs are plain tensors; the output may
// be a channel view (an Inception reduction module's pool branch writes straight into the
// concat buffer): element (pixel, c) of y is at pixel · outStride + outOffset + c.

// #include "common/grid-index.wgsl"
// #include "common/pool-window.wgsl"
// #include "common/pool-average.wgsl"
// #include "common/pool-average.wgsl" { window_average: window_average4, x_at: x4_at, f32: vec4f }

struct PoolParams {
  // #include "common/pool-geometry.wgsl"
  outputs: u32,     // N·OH·OW·C
  outOffset: u32,
  outStride: u32,
}

override WORKGROUP_SIZE: u32 = 256;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: PoolParams;
@group(0) @binding(3) var<storage, read_write> indices: array<i32>;

// Output element i as (output pixel, channel, window's top row, window's left column); in the
// *4 kernels c is the channel group.
struct Window {
  pixel: u32,
  n: u32,
  c: u32,
  top: i32,
  left: i32,
}

// `channels`: C, or C / 4 for the *4 kernels.
fn window_of(i: u32, channels: u32) -> Window {
  let c = i % channels;
  let pixel = i / channels;
  let ow = pixel % params.OW;
  let r = pixel / params.OW;
  let oh = r % params.OH;
  let n = r / params.OH;
  let corner = window_corner(oh, ow);
  return Window(pixel, n, c, corner.x, corner.y);
}

fn x_index(win: Window, ih: u32, iw: u32, channels: u32) -> u32 {
  return ((win.n * params.H + ih) * params.W + iw) * channels + win.c;
}

// The loads of window_average (common/pool-average.wgsl) and of its vec4 form, x4_at.
fn x_at(win: Window, ih: u32, iw: u32, channels: u32) -> f32 {
  return x[x_index(win, ih, iw, channels)];
}

// Max over the window's real elements (padding never wins); the first maximum wins ties.
// Returns (value, flat index into x, bitcast).
fn window_max(win: Window) -> vec2f {
  let rows = window_rows(win.top);
  let cols = window_cols(win.left);
  var best = 0.0;
  var arg = -1;
  for (var ih = rows.x; ih < rows.y; ih++) {
    for (var iw = cols.x; iw < cols.y; iw++) {
      let at = x_index(win, ih, iw, params.C);
      let v = x[at];
      // Larger, or NaN (which then stays): NaN propagates, as in PyTorch.
      if (arg < 0 || (!(v <= best) && best == best)) {
        best = v;
        arg = i32(at);
      }
    }
  }
  return vec2f(best, bitcast<f32>(arg));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn max_pool(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(gid, groups, WORKGROUP_SIZE);
  if (i >= params.outputs) {
    return;
  }
  let win = window_of(i, params.C);
  y[win.pixel * params.outStride + params.outOffset + win.c] = window_max(win).x;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn max_pool_with_indices(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(gid, groups, WORKGROUP_SIZE);
  if (i >= params.outputs) {
    return;
  }
  let win = window_of(i, params.C);
  let r = window_max(win);
  y[win.pixel * params.outStride + params.outOffset + win.c] = r.x;
  indices[i] = bitcast<i32>(r.y);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn avg_pool(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(gid, groups, WORKGROUP_SIZE);
  if (i >= params.outputs) {
    return;
  }
  let win = window_of(i, params.C);
  y[win.pixel * params.outStride + params.outOffset + win.c] = window_average(win, params.C);
}

// One invocation per (image, channel): the mean over H·W (8×8 and 17×17 in Inception-v3), so
// the loop is short and neighbouring invocations read neighbouring channels.
@compute @workgroup_size(WORKGROUP_SIZE)
fn global_avg_pool(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(gid, groups, WORKGROUP_SIZE);
  if (i >= params.outputs) {
    return;
  }
  let c = i % params.C;
  let n = i / params.C;
  let pixels = params.H * params.W;
  var total = 0.0;
  for (var p = 0u; p < pixels; p++) {
    total += x[(n * pixels + p) * params.C + c];
  }
  y[n * params.outStride + params.outOffset + c] = total / f32(pixels);
}

// ---------------------------------------------------------------- four channels per invocation

@group(0) @binding(4) var<storage, read> x4: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> y4: array<vec4f>;

fn x4_at(win: Window, ih: u32, iw: u32, channels: u32) -> vec4f {
  return x4[x_index(win, ih, iw, channels)];
}

fn y4_index(win: Window) -> u32 {
  return win.pixel * (params.outStride / 4u) + params.outOffset / 4u + win.c;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn max_pool4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(gid, groups, WORKGROUP_SIZE);
  if (i >= params.outputs / 4u) {
    return;
  }
  let win = window_of(i, params.C / 4u);
  let rows = window_rows(win.top);
  let cols = window_cols(win.left);
  var best = x4_at(win, rows.x, cols.x, params.C / 4u);
  for (var ih = rows.x; ih < rows.y; ih++) {
    for (var iw = cols.x; iw < cols.y; iw++) {
      let v = x4_at(win, ih, iw, params.C / 4u);
      // As in the scalar kernel: larger, or NaN, which then stays.
      best = select(best, v, !(v <= best) & (best == best));
    }
  }
  y4[y4_index(win)] = best;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn avg_pool4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(gid, groups, WORKGROUP_SIZE);
  if (i >= params.outputs / 4u) {
    return;
  }
  let win = window_of(i, params.C / 4u);
  y4[y4_index(win)] = window_average4(win, params.C / 4u);
}
