// 2-D transpose, y[j][i] = x[i][j] for x [rows, cols] (batched over gid.z), one invocation per
// 4×4 block: four vec4-free rows of reads, four rows of writes, so both sides touch memory in
// short contiguous runs without workgroup memory (slow on the CPU drivers).

struct TransposeParams {
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: TransposeParams;

@compute @workgroup_size(8, 8)
fn transpose(@builtin(global_invocation_id) gid: vec3u) {
  let r0 = gid.y * 4u;
  let c0 = gid.x * 4u;
  let R = params.rows;
  let C = params.cols;
  if (r0 >= R || c0 >= C) {
    return;
  }
  let base = gid.z * R * C;
  for (var i = 0u; i < 4u; i++) {
    let r = r0 + i;
    if (r >= R) {
      break;
    }
    for (var j = 0u; j < 4u; j++) {
      let c = c0 + j;
      if (c >= C) {
        break;
      }
      y[base + c * R + r] = x[base + r * C + c];
    }
  }
}
