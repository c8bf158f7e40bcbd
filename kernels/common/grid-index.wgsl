// One index per invocation (or workgroup) on a 1-D grid that the host folds into 2-D when it
// has more workgroups than maxComputeWorkgroupsPerDimension allows along x (engine.grid1d): row
// y of workgroups continues where row y − 1 ended. Invocations past the end get indices ≥ the
// element count and return.

// The invocation's index; `width` is the workgroup size along x.
fn flat_index(gid: vec3u, groups: vec3u, width: u32) -> u32 {
  return gid.x + gid.y * groups.x * width;
}

// The workgroup's index.
fn flat_group(wid: vec3u, groups: vec3u) -> u32 {
  return wid.x + wid.y * groups.x;
}

// The row-block index of a 2-D grid (blocks of output rows or pixels along y) that the host
// folds into z when it is taller than maxComputeWorkgroupsPerDimension (Engine.foldRows). The
// blocks past the end of a folded grid start past the last row and write nothing, like the tail
// of the last block.
fn row_block(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.y + wid.z * nwg.y;
}
