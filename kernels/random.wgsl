// Counter-based random numbers: element i is a pure function of (seed, i), so a seed gives the
// same tensor on every run and every adapter (up to the last bit of log/cos in `normal`), and a
// backward pass can regenerate a mask instead of storing it.

// #include "common/grid-index.wgsl"

struct RandomParams {
  n: u32,
  seedLo: u32,
  seedHi: u32,
  // uniform: low and (high - low); normal: mean and standard deviation.
  a: f32,
  b: f32,
}

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<uniform> params: RandomParams;

// A 32-bit integer hash with full avalanche (the "triple32" constants of C. Wellons' hash prospector).
fn hash32(x: u32) -> u32 {
  var v = x;
  v ^= v >> 17u;
  v *= 0xed5ad4bbu;
  v ^= v >> 11u;
  v *= 0xac4c1b51u;
  v ^= v >> 15u;
  v *= 0x31848babu;
  v ^= v >> 14u;
  return v;
}

fn random_bits(i: u32) -> u32 {
  let key = hash32(params.seedLo ^ hash32(params.seedHi + 0x9e3779b9u));
  return hash32(hash32(i + 0x632be5abu) ^ key);
}

// 24 random bits → [0, 1), exactly representable in f32.
fn unit_float(bits: u32) -> f32 {
  return f32(bits >> 8u) * (1.0 / 16777216.0);
}

@compute @workgroup_size(64)
fn random_uniform(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(gid, groups, 64u);
  if (i < params.n) {
    out[i] = params.a + params.b * unit_float(random_bits(i));
  }
}

// Box–Muller: invocation i turns counters 2i and 2i+1 into two independent normals.
@compute @workgroup_size(64)
fn random_normal(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let pair = flat_index(gid, groups, 64u);
  let i = 2u * pair;
  if (i >= params.n) {
    return;
  }
  let u1 = 1.0 - unit_float(random_bits(i));       // (0, 1]: log stays finite
  let u2 = unit_float(random_bits(i + 1u));
  let radius = sqrt(-2.0 * log(u1));
  let angle = 6.283185307179586 * u2;
  out[i] = params.a + params.b * radius * cos(angle);
  if (i + 1u < params.n) {
    out[i + 1u] = params.a + params.b * radius * sin(angle);
  }
}
