// Copies a tensor into its channel slice of a larger one: the general concat, for producers
// that cannot write into a channel view themselves (most do: see src/ops/output.ts).
// x is [rows, C] contiguous; y's rows hold outStride channels, this input's at outOffset.

struct CopyParams {
  n: u32,          // elements of x
  channels: u32,   // C
  outOffset: u32,
  outStride: u32,
}

override WORKGROUP_SIZE: u32 = 256;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: CopyParams;

@compute @workgroup_size(WORKGROUP_SIZE)
fn copy_into_slice(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (i < params.n) {
    let row = i / params.channels;
    let c = i % params.channels;
    y[row * params.outStride + params.outOffset + c] = x[i];
  }
}
