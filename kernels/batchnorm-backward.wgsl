// Backward of training-mode BatchNorm, with ReLU's backward fused in, over channel-innermost
// activations [rows, C] (rows = N·H·W, M = rows). With x̂ = (x − μ)·invStd and g = dy masked by
// ReLU (y > 0) when the forward applied it:
//   dβ = Σ g,  dγ = Σ g·x̂,  dx = γ·invStd/M · (M·g − dβ − x̂·dγ)   (sums over rows, per channel).
// Three dispatches: partial sums per (chunk of rows, channel), the same layout and reasoning
// as the forward statistics in batchnorm.wgsl (neighbouring invocations take neighbouring
// channels of the same rows); a merge per channel in chunk order (deterministic, no atomics);
// and one elementwise pass for dx.

// #include "common/grid-index.wgsl"

struct SumParams {
  rows: u32,
  channels: u32,
  rowsPerChunk: u32,
  chunks: u32,
  // dy, x and y may be channel views (a branch's slice of a concat, as the forward may read x
  // from and write y into one): element (row, c) is at row · stride + offset + c. The
  // per-channel vectors and the outputs are plain.
  dyOffset: u32,
  dyStride: u32,
  xOffset: u32,
  xStride: u32,
  yOffset: u32,
  yStride: u32,
}

override WORKGROUP_SIZE: u32 = 64;
override RELU: bool = false;
override HAS_GAMMA: bool = true;

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> invStd: array<f32>;
@group(0) @binding(5) var<uniform> params: SumParams;
@group(0) @binding(6) var<storage, read_write> partialsOut: array<vec2f>;
@group(0) @binding(7) var<storage, read> partials: array<vec2f>;
@group(0) @binding(8) var<storage, read_write> dgammaOut: array<f32>;
@group(0) @binding(9) var<storage, read_write> dbetaOut: array<f32>;
@group(0) @binding(10) var<storage, read> gamma: array<f32>;
@group(0) @binding(11) var<storage, read> dgamma: array<f32>;
@group(0) @binding(12) var<storage, read> dbeta: array<f32>;
@group(0) @binding(13) var<storage, read_write> dx: array<f32>;

fn x_at(row: u32, c: u32) -> f32 {
  return x[row * params.xStride + params.xOffset + c];
}

// dy at (row, c), masked where the forward's ReLU was off.
fn masked(row: u32, c: u32) -> f32 {
  let g = dy[row * params.dyStride + params.dyOffset + c];
  if (RELU) {
    return select(0.0, g, y[row * params.yStride + params.yOffset + c] > 0.0);
  }
  return g;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn partial_sums(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let idx = flat_index(gid, groups, WORKGROUP_SIZE);
  let C = params.channels;
  if (idx >= params.chunks * C) {
    return;
  }
  let k = idx / C;
  let c = idx - k * C;
  let first = k * params.rowsPerChunk;
  let last = min(first + params.rowsPerChunk, params.rows);
  let mu = mean[c];
  let s = invStd[c];
  var sumG = 0.0;
  var sumGX = 0.0;
  for (var r = first; r < last; r++) {
    let g = masked(r, c);
    sumG += g;
    sumGX = fma(g, (x_at(r, c) - mu) * s, sumGX);
  }
  partialsOut[idx] = vec2f(sumG, sumGX);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn merge_sums(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let c = flat_index(gid, groups, WORKGROUP_SIZE);
  let C = params.channels;
  if (c >= C) {
    return;
  }
  var total = vec2f(0.0);
  for (var k = 0u; k < params.chunks; k++) {
    total += partials[k * C + c];
  }
  dbetaOut[c] = total.x;
  dgammaOut[c] = total.y;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn input_gradient(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(gid, groups, WORKGROUP_SIZE);
  let C = params.channels;
  if (i >= params.rows * C) {
    return;
  }
  let row = i / C;
  let c = i - row * C;
  let s = invStd[c];
  let m = f32(params.rows);
  let xhat = (x_at(row, c) - mean[c]) * s;
  var scale = s / m;
  if (HAS_GAMMA) {
    scale *= gamma[c];
  }
  dx[i] = scale * (m * masked(row, c) - dbeta[c] - xhat * dgamma[c]);
}
