// subgroup16x8's body for matmul.wgsl and conv2d.wgsl: 16 rows × 8 columns of the output per
// invocation. The lanes that share the 16 rows fetch the left operand at one k each, and the
// inner loop hands the values round by subgroupShuffle; the right operand is read as vec4s. Uses
// subgroup builtins: include it below the kernel's `// @subgroups-only` line.
// The including kernel defines how its left operand is walked and read (conv gathers it), with
// state in types of its own:
//   Subgroup16x8Left                 the invocation's 16 rows (conv: their pixel origins)
//   left_k_start(k) -> T; left_k_advance(t: T, step) -> T
//                                    a place along k, of a type the kernel picks (conv: a
//                                    tap, walked without division; matmul: k itself)
//   subgroup16x8_left_at(rows: ptr<function, Subgroup16x8Left>, t: T) -> array<vec4f, 4>
//                                    element g: rows 4g..4g+3 at t (t past K: never used)
//   right_vec4(at) -> vec4f          vec4 `at` of the right operand (common/gemm-subgroup32x8.wgsl
//                                    reads it too)

// 16 rows (r0..r0+15) × 8 columns (vec4 groups col0, col0+1); ag0 and ag1 hold rows
// r0+4g..r0+4g+3 of the two column groups, column i of each being row r0+4g+i.
struct Tile16x8 {
  a00: mat4x4f, a01: mat4x4f,
  a10: mat4x4f, a11: mat4x4f,
  a20: mat4x4f, a21: mat4x4f,
  a30: mat4x4f, a31: mat4x4f,
}

// Lanes first..first+lanes-1 of the subgroup share `rows`; the right operand is the
// params.K × width4 matrix of vec4s from vec4 rightBase on, and the tile takes its column
// groups col0 and col0+1 (clamped: columns past the edge compute values never stored).
fn subgroup16x8_tile(rows: ptr<function, Subgroup16x8Left>, lane: u32, first: u32, lanes: u32, rightBase: u32, width4: u32, col0: u32) -> Tile16x8 {
  let K = params.K;
  let c0 = min(col0, width4 - 1u);
  let c1 = min(col0 + 1u, width4 - 1u);
  var acc00 = mat4x4f(); var acc01 = mat4x4f();
  var acc10 = mat4x4f(); var acc11 = mat4x4f();
  var acc20 = mat4x4f(); var acc21 = mat4x4f();
  var acc30 = mat4x4f(); var acc31 = mat4x4f();
  var walk = left_k_start(lane - first);
  for (var k0 = 0u; k0 < K; k0 += lanes) {
    // Each lane fetches one k of the 16 rows; the inner loop hands them round by shuffles.
    let here = walk;
    walk = left_k_advance(walk, lanes);
    let fetched = subgroup16x8_left_at(rows, here);
    let a0 = fetched[0];
    let a1 = fetched[1];
    let a2 = fetched[2];
    let a3 = fetched[3];
    let kn = min(lanes, K - k0);
    // A rolled loop with two loads in its body: lavapipe's per-lane load sequences get much
    // slower when many sit in one block (unrolled by the subgroup size this ran 2-3× slower).
    for (var kk = 0u; kk < kn; kk++) {
      let bk = rightBase + (k0 + kk) * width4;
      let b0 = right_vec4(bk + c0);
      let b1 = right_vec4(bk + c1);
      let s0 = subgroupShuffle(a0, first + kk);
      let s1 = subgroupShuffle(a1, first + kk);
      let s2 = subgroupShuffle(a2, first + kk);
      let s3 = subgroupShuffle(a3, first + kk);
      acc00 += outer4(b0, s0); acc01 += outer4(b1, s0);
      acc10 += outer4(b0, s1); acc11 += outer4(b1, s1);
      acc20 += outer4(b0, s2); acc21 += outer4(b1, s2);
      acc30 += outer4(b0, s3); acc31 += outer4(b1, s3);
    }
  }
  return Tile16x8(acc00, acc01, acc10, acc11, acc20, acc21, acc30, acc31);
}
