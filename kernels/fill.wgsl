// Fills a buffer with one 32-bit pattern: constants, and the NaN / 0xDEADBEEF poison that tests
// put into outputs before a kernel runs (so an element the kernel forgets stays visibly wrong).
// Float tensors are bound through a u32 bitcast view.

// #include "common/grid-index.wgsl"

struct FillParams {
  n: u32,
  value: u32,
}

@group(0) @binding(0) var<storage, read_write> out: array<u32>;
@group(0) @binding(1) var<uniform> params: FillParams;

@compute @workgroup_size(256)
fn fill_u32(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(gid, groups, 256u);
  if (i < params.n) {
    out[i] = params.value;
  }
}
