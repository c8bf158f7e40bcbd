// Optimizer updates, one fused pass per parameter tensor (src/optim/): weight decay, the
// global-norm clipping scale, the accumulators and the weight update, each element read once
// and written once. Plus the weight average for evaluation (EMA) and the copy / swap that move
// state in and out.
//
// Per element, with g the incoming gradient, w the weight:
//   s  = min(1, clip / (‖G‖ + 1e-6))  when clip > 0, else 1; ‖G‖ = gradNorm[0], the global
//        norm of all gradients computed on the GPU beforehand (src/ops/reduce.ts globalNorm),
//        so no step reads anything back to the CPU
//   g' = s·g + wd·w                    L2 weight decay added to the (clipped) gradient
// RMSProp (TensorFlow's RMSPropOptimizer, momentum form, epsilon inside the square root):
//   ms  ← ρ·ms + (1 − ρ)·g'²
//   mom ← μ·mom + lr·g' / √(ms + ε)
//   w   ← w − mom
// SGD (PyTorch's torch.optim.SGD, dampening 0; the buffer starts at 0, so step 1 gives buf = g'):
//   buf ← μ·buf + g'
//   w   ← w − lr·buf             or, Nesterov,   w ← w − lr·(g' + μ·buf)
// Plain SGD: w ← w − lr·g'.
// EMA (TensorFlow's ExponentialMovingAverage): avg ← avg − (1 − d)·(avg − w).
//
// Every factor that changes per step (lr, the EMA's 1 − d) is a uniform of the dispatch, so a
// changing learning rate never makes a new pipeline; 1 − ρ and 1 − d come computed in float64
// (1 − f32(0.9999) would be off by 1e-4 relative).

// #include "common/grid-index.wgsl"

const WG: u32 = 256u;

struct RmspropParams {
  n: u32,
  lr: f32,
  rho: f32,
  oneMinusRho: f32,
  momentum: f32,
  epsilon: f32,
  weightDecay: f32,
  // ≤ 0: no clipping (gradNorm is not read).
  clip: f32,
}

struct SgdParams {
  n: u32,
  lr: f32,
  momentum: f32,
  weightDecay: f32,
  clip: f32,
}

struct EmaParams {
  n: u32,
  oneMinusDecay: f32,
}

struct MoveParams {
  n: u32,
}

// sgd_momentum: the Nesterov form of the weight update.
override NESTEROV: bool = false;

@group(0) @binding(0) var<storage, read_write> weights: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read> gradNorm: array<f32>;
@group(0) @binding(3) var<storage, read_write> ms: array<f32>;
@group(0) @binding(4) var<storage, read_write> mom: array<f32>;
@group(0) @binding(5) var<uniform> rmsprop: RmspropParams;
@group(0) @binding(6) var<storage, read_write> momentumBuffer: array<f32>;
@group(0) @binding(7) var<uniform> sgd: SgdParams;

@group(0) @binding(8) var<storage, read_write> average: array<f32>;
@group(0) @binding(9) var<storage, read> current: array<f32>;
@group(0) @binding(10) var<uniform> ema: EmaParams;

@group(0) @binding(11) var<storage, read> source: array<f32>;
@group(0) @binding(12) var<storage, read_write> destination: array<f32>;
@group(0) @binding(13) var<storage, read_write> swapA: array<f32>;
@group(0) @binding(14) var<storage, read_write> swapB: array<f32>;
@group(0) @binding(15) var<uniform> moveParams: MoveParams;

// The clipping scale; every invocation reads the same element (a broadcast load).
fn clip_scale(clip: f32) -> f32 {
  if (clip <= 0.0) {
    return 1.0;
  }
  return min(1.0, clip / (gradNorm[0] + 1e-6));
}

@compute @workgroup_size(WG)
fn rmsprop_update(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(gid, groups, WG);
  if (i >= rmsprop.n) {
    return;
  }
  let w = weights[i];
  let g = fma(rmsprop.weightDecay, w, clip_scale(rmsprop.clip) * grad[i]);
  let m = fma(rmsprop.rho, ms[i], rmsprop.oneMinusRho * (g * g));
  ms[i] = m;
  let v = fma(rmsprop.momentum, mom[i], rmsprop.lr * g / sqrt(m + rmsprop.epsilon));
  mom[i] = v;
  weights[i] = w - v;
}

@compute @workgroup_size(WG)
fn sgd_momentum(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(gid, groups, WG);
  if (i >= sgd.n) {
    return;
  }
  let w = weights[i];
  let g = fma(sgd.weightDecay, w, clip_scale(sgd.clip) * grad[i]);
  let b = fma(sgd.momentum, momentumBuffer[i], g);
  momentumBuffer[i] = b;
  let d = select(b, fma(sgd.momentum, b, g), NESTEROV);
  weights[i] = fma(-sgd.lr, d, w);
}

@compute @workgroup_size(WG)
fn sgd_plain(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(gid, groups, WG);
  if (i >= sgd.n) {
    return;
  }
  let w = weights[i];
  let g = fma(sgd.weightDecay, w, clip_scale(sgd.clip) * grad[i]);
  weights[i] = fma(-sgd.lr, g, w);
}

@compute @workgroup_size(WG)
fn ema_update(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(gid, groups, WG);
  if (i >= ema.n) {
    return;
  }
  let a = average[i];
  average[i] = fma(ema.oneMinusDecay, current[i] - a, a);
}

@compute @workgroup_size(WG)
fn copy_values(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(gid, groups, WG);
  if (i < moveParams.n) {
    destination[i] = source[i];
  }
}

// Exchanges two tensors' contents in place (EMA weights in for evaluation, and back).
@compute @workgroup_size(WG)
fn swap_values(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(gid, groups, WG);
  if (i < moveParams.n) {
    let a = swapA[i];
    swapA[i] = swapB[i];
    swapB[i] = a;
  }
}
