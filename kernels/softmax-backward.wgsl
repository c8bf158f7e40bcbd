// Backward of softmax cross-entropy with label smoothing, one kernel: for the loss
// L = scale · Σ_rows Σ_k −q'_k log p_k (scale = 1/B for the mean loss),
// dL/dlogit_k = scale · (p_k − q'_k), with q' = (1 − ε)·q + ε/K. p comes saved from the
// forward pass, so nothing is recomputed; one invocation per element.

// #include "common/grid-index.wgsl"

struct GradParams {
  rows: u32,
  classes: u32,
  smoothing: f32,
  scale: f32,
}

override WORKGROUP_SIZE: u32 = 256;
override HARD_LABELS: bool = true;

@group(0) @binding(0) var<storage, read> probabilities: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read> targets: array<f32>;
@group(0) @binding(3) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(4) var<uniform> params: GradParams;

@compute @workgroup_size(WORKGROUP_SIZE)
fn cross_entropy_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(gid, groups, WORKGROUP_SIZE);
  if (i >= params.rows * params.classes) {
    return;
  }
  let r = i / params.classes;
  let k = i - r * params.classes;
  var q = 0.0;
  if (HARD_LABELS) {
    q = select(0.0, 1.0, labels[r] == i32(k));
  } else {
    q = targets[i];
  }
  let smoothed = (1.0 - params.smoothing) * q + params.smoothing / f32(params.classes);
  dlogits[i] = params.scale * (probabilities[i] - smoothed);
}
