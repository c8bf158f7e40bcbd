// Dropout with Philox4x32-10 (Salmon et al., SC'11), the counter-based generator of Random123
// and cuRAND. random.wgsl's hash is fine for initialisation; a mask that training depends on
// gets a generator with published known-answer vectors, so a JavaScript reference can check
// it bit for bit and the backward pass can regenerate the mask from the seed alone.
//
// Counter layout: invocation q makes one Philox call on counter
//   (q, offset mod 2^32, ⌊offset / 2^32⌋, 0), key (seed mod 2^32, ⌊seed / 2^32⌋)
// and its four output words go to elements 4q, 4q+1, 4q+2, 4q+3 in that order. Element i keeps
// its value when (word >> 8) / 2^24 ≥ rate, i.e. (word >> 8) ≥ ceil(rate · 2^24) = threshold,
// an integer compare so the mask never depends on an adapter's float rounding. `offset` lets
// each layer and each training step draw an independent mask from one seed.

// #include "common/grid-index.wgsl"
// #include "common/philox.wgsl"
// #include "common/channel-view.wgsl"

struct DropoutParams {
  n: u32,
  // x's innermost dimension: the output index of element i is
  // (i / channels) * outStride + outOffset + i % channels (a channel view of a larger tensor).
  channels: u32,
  outOffset: u32,
  outStride: u32,
  keyLo: u32,
  keyHi: u32,
  offsetLo: u32,
  offsetHi: u32,
  threshold: u32,
  // 1 / (1 - rate) rounded to f32: kept elements are x · scale, one rounding.
  scale: f32,
}

struct PhiloxParams {
  n: u32,
}

// false: y = x (rate 0 or inference); the generator is not run.
override APPLY_MASK: bool = true;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: DropoutParams;

@group(0) @binding(3) var<storage, read> counters: array<vec4u>;
@group(0) @binding(4) var<storage, read> keys: array<vec2u>;
@group(0) @binding(5) var<storage, read_write> words: array<vec4u>;
@group(0) @binding(6) var<uniform> philoxParams: PhiloxParams;

fn write_element(i: u32, word: u32) {
  if (i >= params.n) {
    return;
  }
  let at = channel_view_index(i);
  if (!APPLY_MASK) {
    y[at] = x[i];
    return;
  }
  // A dropped element is exactly 0 (not x · 0, which would keep a NaN or infinity).
  y[at] = select(0.0, x[i] * params.scale, (word >> 8u) >= params.threshold);
}

@compute @workgroup_size(64)
fn dropout(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let q = flat_index(gid, groups, 64u);
  if (4u * q >= params.n) {
    return;
  }
  var bits = vec4u(0u);
  if (APPLY_MASK) {
    bits = philox4x32_10(vec4u(q, params.offsetLo, params.offsetHi, 0u), vec2u(params.keyLo, params.keyHi));
  }
  // Unrolled: dynamic indexing into a vector in a loop is slow on the CPU drivers.
  write_element(4u * q, bits.x);
  write_element(4u * q + 1u, bits.y);
  write_element(4u * q + 2u, bits.z);
  write_element(4u * q + 3u, bits.w);
}

// Raw generator output, one counter and key per invocation: for checking against the reference.
@compute @workgroup_size(64)
fn philox(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(gid, groups, 64u);
  if (i < philoxParams.n) {
    words[i] = philox4x32_10(counters[i], keys[i]);
  }
}
