// The BatchNorm statistics of conv2d.wgsl's *_stats entries, which write, per block of output
// pixels and per channel, the partial statistics that BatchNorm's training pass merges
// (kernels/batchnorm.wgsl, merge_stats), so the statistics cost no second read of y: (shift =
// the block's first value, mean of the values minus shift, M2 of them, count), at
// stats[block · Cout + channel]. The values are the raw conv output (the host refuses an
// epilogue with statistics: BatchNorm follows). Uses the including kernel's `params` (M, Cout).
@group(0) @binding(6) var<storage, read_write> stats: array<vec4f>;

// Welford's running mean and M2 of values shifted by the first one, four channels at once.
struct Welford4 {
  shift: vec4f,
  mean: vec4f,
  m2: vec4f,
  count: f32,
}

fn welford_add(s: ptr<function, Welford4>, v: vec4f, valid: bool) {
  if (!valid) {
    return;
  }
  if ((*s).count == 0.0) {
    (*s).shift = v;
  }
  let d = v - (*s).shift;
  (*s).count += 1.0;
  let delta = d - (*s).mean;
  (*s).mean += delta / (*s).count;
  (*s).m2 = fma(delta, d - (*s).mean, (*s).m2);
}

// The four pixels m..m+3 of a tile (column i is pixel m+i), those that exist.
fn welford_tile(s: ptr<function, Welford4>, m: u32, t: mat4x4f) {
  welford_add(s, t[0], m < params.M);
  welford_add(s, t[1], m + 1u < params.M);
  welford_add(s, t[2], m + 2u < params.M);
  welford_add(s, t[3], m + 3u < params.M);
}

// Channels 4·c4 .. 4·c4 + 3 of a block's statistics (those below Cout).
// (`block` is a name wgsl_reflect cannot parse, hence `chunk`.)
fn store_stats(chunk: u32, c4: u32, s: Welford4) {
  let c = 4u * c4;
  let at = chunk * params.Cout + c;
  if (c < params.Cout) { stats[at] = vec4f(s.shift.x, s.mean.x, s.m2.x, s.count); }
  if (c + 1u < params.Cout) { stats[at + 1u] = vec4f(s.shift.y, s.mean.y, s.m2.y, s.count); }
  if (c + 2u < params.Cout) { stats[at + 2u] = vec4f(s.shift.z, s.mean.z, s.m2.z, s.count); }
  if (c + 3u < params.Cout) { stats[at + 3u] = vec4f(s.shift.w, s.mean.w, s.m2.w, s.count); }
}
