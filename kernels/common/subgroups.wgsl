// What the subgroup kernels share. Uses subgroup builtins: include it below a kernel's
// `// @subgroups-only` line (src/ops/subgroups.ts compiles what follows that line only behind
// `enable subgroups;`).

// Invocations along x: a multiple of the subgroup size (src/ops/subgroups.ts,
// subgroupWorkgroupX), so subgroups are full.
override SUBGROUP_WG_X: u32 = 32;

// A 4×4 block of the left operand from the four lanes that fetched it: lane s holds rows
// (pixels) m..m+3 at k0 + s, and column i of the result is row m+i over k0..k0+3. Constant-lane
// broadcasts are cheap on the drivers where shuffles in a rolled loop are not (SwiftShader; see
// matmul.wgsl's subgroup32x8); the other lanes' values are not used.
fn broadcast_panel(v: vec4f) -> mat4x4f {
  return transpose(mat4x4f(subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u), subgroupBroadcast(v, 2u), subgroupBroadcast(v, 3u)));
}
