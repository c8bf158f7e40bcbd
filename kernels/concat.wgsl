// Copies a tensor into its channel slice of a larger one: the general concat, for producers
// that cannot write into a channel view themselves (most do: see src/ops/output.ts).
// x is [rows, C] contiguous; y's rows hold outStride channels, this input's at outOffset.

// #include "common/grid-index.wgsl"
// #include "common/channel-view.wgsl"

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
  let i = flat_index(gid, groups, WORKGROUP_SIZE);
  if (i < params.n) {
    y[channel_view_index(i)] = x[i];
  }
}

// The reverse: channel slice outOffset..outOffset+channels of each row of a wider tensor
// (here `x` is the wide one, rows of outStride channels) into a contiguous y. The backward of
// a concat hands each branch its slice of the gradient this way.
@group(0) @binding(3) var<storage, read> wide: array<f32>;
@group(0) @binding(4) var<storage, read_write> narrow: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn copy_from_slice(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(gid, groups, WORKGROUP_SIZE);
  if (i < params.n) {
    narrow[i] = wide[channel_view_index(i)];
  }
}
