// BatchNorm forward over channel-innermost activations ([rows, C], rows = N·H·W).
//
// Statistics, in two dispatches:
//   partial_stats  one invocation per (chunk of rows, channel); neighbouring invocations take
//                  neighbouring channels of the same rows, so each row is read as one
//                  contiguous run. Each runs Welford over its chunk on values shifted by the
//                  chunk's first value, and stores (shift, mean of shifted values, M2, count).
//   merge_stats    one invocation per channel merges the chunks in order with Chan et al.'s
//                  pairwise update, then writes mean and biased variance M2 / count.
// Why the shift: a chunk mean stored as one float32 near 1e4 is only known to ±ulp/2 ≈ 5e-4,
// a large error next to a spread of 1e-2, and it enters Welford's squared deviations and the
// merge's δ² term: unshifted, this pair measured 5–7% variance error on 1e4 + N(0, 1e-2²)
// (test/batchnorm.test.ts), against about 1e-7 with the shift. Kept as shift + offset,
// x − shift is exact (Sterbenz) whenever values sit within a factor 2 of each other, Welford
// runs on numbers of the data's own spread, and the merge forms chunk deltas as
// (shift_k − shift_0) + offset_k, again exact in the first term. Only the final
// mean = shift_0 + offset takes one rounding at the mean's own magnitude.
//
// Then affine_params (per channel: invStd = 1/√(var + eps), scale = γ·invStd),
// update_running (running statistics, in place) and normalize
// (y = (x − mean)·scale + β, optional ReLU, one invocation per channel and few rows). It subtracts
// the mean before scaling rather than using x·scale + (β − mean·scale): with a large mean the
// folded form cancels two terms of size |mean·scale| and loses the output's low bits.

// #include "common/grid-index.wgsl"

struct StatsParams {
  rows: u32,
  channels: u32,
  rowsPerChunk: u32,
  chunks: u32,
  // x may be a channel view: element (row, c) is at row * xStride + xOffset + c.
  xOffset: u32,
  xStride: u32,
}

struct MergeParams {
  channels: u32,
  chunks: u32,
}

struct AffineParams {
  channels: u32,
  eps: f32,
}

struct RunningParams {
  channels: u32,
  // running = keep · running + take · batch (both conventions reduce to this).
  keep: f32,
  take: f32,
  // Applied to the batch variance before it enters the running variance: count / (count − 1)
  // for the unbiased estimate, 1 for the biased one.
  varianceFactor: f32,
}

struct FoldParams {
  channels: u32,
  eps: f32,
}

struct NormalizeParams {
  rows: u32,
  channels: u32,
  xOffset: u32,
  xStride: u32,
  outOffset: u32,
  outStride: u32,
}

override WORKGROUP_SIZE: u32 = 64;
// affine_params: false when there is no γ (Keras scale=False): γ = 1, `gamma` is not read.
override HAS_GAMMA: bool = true;
// normalize: false when there is no β (Keras center=False): β = 0, `beta` is not read.
override HAS_BETA: bool = true;
override RELU: bool = false;
// normalize: rows per invocation (the host sets it; see NORMALIZE_ROWS in src/ops/batchnorm.ts).
override NORMALIZE_ROWS: u32 = 8;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> partialsOut: array<vec4f>;
@group(0) @binding(2) var<uniform> statsParams: StatsParams;

@group(0) @binding(3) var<storage, read> partials: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> meanOut: array<f32>;
@group(0) @binding(5) var<storage, read_write> varianceOut: array<f32>;
@group(0) @binding(6) var<uniform> mergeParams: MergeParams;

@group(0) @binding(7) var<storage, read> variance: array<f32>;
@group(0) @binding(8) var<storage, read> gamma: array<f32>;
@group(0) @binding(9) var<storage, read_write> invStdOut: array<f32>;
@group(0) @binding(10) var<storage, read_write> scaleOut: array<f32>;
@group(0) @binding(11) var<uniform> affineParams: AffineParams;

@group(0) @binding(12) var<storage, read> mean: array<f32>;
@group(0) @binding(13) var<storage, read_write> runningMean: array<f32>;
@group(0) @binding(14) var<storage, read_write> runningVar: array<f32>;
@group(0) @binding(15) var<uniform> runningParams: RunningParams;

@group(0) @binding(16) var<storage, read> scale: array<f32>;
@group(0) @binding(17) var<storage, read> beta: array<f32>;
@group(0) @binding(18) var<storage, read_write> y: array<f32>;
@group(0) @binding(19) var<uniform> normalizeParams: NormalizeParams;

@group(0) @binding(20) var<storage, read_write> shiftOut: array<f32>;
@group(0) @binding(21) var<uniform> foldParams: FoldParams;

// Invocation k·C + c: chunk k (rows k·rowsPerChunk … min((k+1)·rowsPerChunk, rows) − 1) of
// channel c. Every chunk holds at least one row (the host sizes chunks so).
@compute @workgroup_size(WORKGROUP_SIZE)
fn partial_stats(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let idx = flat_index(gid, groups, WORKGROUP_SIZE);
  let channels = statsParams.channels;
  if (idx >= statsParams.chunks * channels) {
    return;
  }
  let k = idx / channels;
  let c = idx - k * channels;
  let first = k * statsParams.rowsPerChunk;
  let last = min(first + statsParams.rowsPerChunk, statsParams.rows);
  let stride = statsParams.xStride;
  let base = statsParams.xOffset + c;
  let shift = x[first * stride + base];
  var count = 0.0;
  var m = 0.0;
  var m2 = 0.0;
  for (var r = first; r < last; r++) {
    let d = x[r * stride + base] - shift;
    count += 1.0;
    let delta = d - m;
    m += delta / count;
    m2 = fma(delta, d - m, m2);
  }
  partialsOut[idx] = vec4f(shift, m, m2, count);
}

// Chan, Golub & LeVeque's update for joining set B (n_b, mean_b, M2_b) to A (n_a, mean_a, M2_a):
//   δ = mean_b − mean_a,  mean = mean_a + δ·n_b/n,  M2 = M2_a + M2_b + δ²·n_a·n_b/n.
// Means are kept relative to chunk 0's shift (see the top of the file).
@compute @workgroup_size(WORKGROUP_SIZE)
fn merge_stats(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let c = flat_index(gid, groups, WORKGROUP_SIZE);
  let channels = mergeParams.channels;
  if (c >= channels) {
    return;
  }
  let p0 = partials[c];
  let origin = p0.x;
  var m = p0.y;
  var m2 = p0.z;
  var count = p0.w;
  for (var k = 1u; k < mergeParams.chunks; k++) {
    let p = partials[k * channels + c];
    let chunkMean = (p.x - origin) + p.y;
    let total = count + p.w;
    let delta = chunkMean - m;
    let weight = p.w / total;
    m = fma(delta, weight, m);
    m2 += p.z + delta * delta * count * weight;
    count = total;
  }
  meanOut[c] = origin + m;
  varianceOut[c] = max(m2 / count, 0.0);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn affine_params(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let c = flat_index(gid, groups, WORKGROUP_SIZE);
  if (c >= affineParams.channels) {
    return;
  }
  // 1/sqrt rather than inverseSqrt: some drivers map inverseSqrt to a fast approximation.
  let invStd = 1.0 / sqrt(variance[c] + affineParams.eps);
  invStdOut[c] = invStd;
  var g = 1.0;
  if (HAS_GAMMA) {
    g = gamma[c];
  }
  scaleOut[c] = g * invStd;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn update_running(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let c = flat_index(gid, groups, WORKGROUP_SIZE);
  if (c >= runningParams.channels) {
    return;
  }
  let p = runningParams;
  runningMean[c] = p.keep * runningMean[c] + p.take * mean[c];
  runningVar[c] = p.keep * runningVar[c] + p.take * (variance[c] * p.varianceFactor);
}

// One invocation per channel and block of NORMALIZE_ROWS rows: neighbouring invocations take
// neighbouring channels (coalesced), and the channel's mean, scale and β are loaded once per block.
@compute @workgroup_size(WORKGROUP_SIZE)
fn normalize(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let idx = flat_index(gid, groups, WORKGROUP_SIZE);
  let p = normalizeParams;
  let rowBlock = idx / p.channels;
  let c = idx - rowBlock * p.channels;
  let first = rowBlock * NORMALIZE_ROWS;
  if (first >= p.rows) {
    return;
  }
  let last = min(first + NORMALIZE_ROWS, p.rows);
  let m = mean[c];
  let s = scale[c];
  var shift = 0.0;
  if (HAS_BETA) {
    shift = beta[c];
  }
  for (var row = first; row < last; row++) {
    let v = fma(x[row * p.xStride + p.xOffset + c] - m, s, shift);
    y[row * p.outStride + p.outOffset + c] = select(v, max(v, 0.0), RELU);
  }
}

// Inference BatchNorm folded for a conv's epilogue: scale = γ/√(var + eps), shift = β − mean·scale,
// from the running statistics where they live, so a model trained on the GPU folds without a
// readback. `variance` and `mean` are bound to the running statistics here.
@compute @workgroup_size(WORKGROUP_SIZE)
fn fold_inference(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let c = flat_index(gid, groups, WORKGROUP_SIZE);
  if (c >= foldParams.channels) {
    return;
  }
  var g = 1.0;
  if (HAS_GAMMA) {
    g = gamma[c];
  }
  var b = 0.0;
  if (HAS_BETA) {
    b = beta[c];
  }
  let s = g / sqrt(variance[c] + foldParams.eps);
  scaleOut[c] = s;
  shiftOut[c] = b - mean[c] * s;
}
