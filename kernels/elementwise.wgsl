// Elementwise ops over flat float32 buffers. `b`, `scale` and `shift` repeat with period
// params.period, so a per-channel vector broadcasts over NHWC activations (channel innermost)
// and a same-shape operand has period == n.

// #include "common/grid-index.wgsl"
// #include "common/channel-view.wgsl"

struct ElementwiseParams {
  n: u32,
  period: u32,
  // The output may be a channel view: element i (row i / channels, channel i % channels) goes
  // to row · outStride + outOffset + channel. Plain outputs skip that arithmetic (OUT_VIEW).
  channels: u32,
  outOffset: u32,
  outStride: u32,
}

override WORKGROUP_SIZE: u32 = 256;
// scale_shift: apply max(0, ·) after the affine map (conv + folded BatchNorm + ReLU epilogues).
override APPLY_RELU: bool = false;

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: ElementwiseParams;
@group(0) @binding(4) var<storage, read> scale: array<f32>;
@group(0) @binding(5) var<storage, read> shift: array<f32>;

override OUT_VIEW: bool = false;

fn out_index(i: u32) -> u32 {
  if (!OUT_VIEW) {
    return i;
  }
  return channel_view_index(i);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn add(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(gid, groups, WORKGROUP_SIZE);
  if (i < params.n) {
    out[out_index(i)] = a[i] + b[i % params.period];
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn mul(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(gid, groups, WORKGROUP_SIZE);
  if (i < params.n) {
    out[out_index(i)] = a[i] * b[i % params.period];
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn scale_shift(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(gid, groups, WORKGROUP_SIZE);
  if (i < params.n) {
    let c = i % params.period;
    let y = fma(a[i], scale[c], shift[c]);
    out[out_index(i)] = select(y, max(y, 0.0), APPLY_RELU);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn relu(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(gid, groups, WORKGROUP_SIZE);
  if (i < params.n) {
    out[out_index(i)] = max(a[i], 0.0);
  }
}

// ReLU's backward: out = b where a > 0, else 0 (a is the forward output or input: both have
// the same sign pattern), so the mask is never stored.
@compute @workgroup_size(WORKGROUP_SIZE)
fn relu_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(gid, groups, WORKGROUP_SIZE);
  if (i < params.n) {
    out[out_index(i)] = select(0.0, b[i], a[i] > 0.0);
  }
}
