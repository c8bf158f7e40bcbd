// shared64's body, the classic GPU matrix product, for matmul.wgsl and conv2d.wgsl: 64×64 tiles
// of the output per workgroup of 16×16 invocations, each owning 4 rows × 4 columns; both operands
// are staged through workgroup memory in 16-deep slices, four rows (left) or four columns
// (right) per vec4, so the inner loop reads two vec4s from workgroup memory per k.
// The including kernel defines how its operands are read (conv gathers its left rows), with
// whatever per-invocation state that needs in types of its own:
//   Shared64Left; shared64_left(matrixIndex, row) -> Shared64Left      rows row..row+3
//   shared64_left_at(rows: Shared64Left, k) -> vec4f                   those rows at k
//   Shared64Right; shared64_right(matrixIndex, col) -> Shared64Right   columns col..col+3
//   shared64_right_at(cols: Shared64Right, k) -> vec4f                 those columns at row k
// The _at hooks give 0 outside the operands (rows past M, columns past N, k past params.K).
// matrixIndex is the matrix of a batched product (conv: 0).

const TILE = 64u;
const DEPTH = 16u;

var<workgroup> tileA: array<array<vec4f, 16>, 16>; // [k][row / 4]
var<workgroup> tileB: array<array<vec4f, 16>, 16>; // [k][col / 4]

// The 4×4 block of invocation (lid, li) of the tile at (rowBase, colBase): column i is row
// rowBase + 4·lid.y + i, columns colBase + 4·lid.x... Every invocation must call it (barriers).
fn shared64_tile(matrixIndex: u32, rowBase: u32, colBase: u32, lid: vec3u, li: u32) -> mat4x4f {
  // Staging: invocation li fetches rows 4·(li/16).. of the left operand at k li%16 (neighbours
  // read neighbouring k, so the loads coalesce), and columns 4·(li%16).. of the right at k li/16.
  let ak = li % DEPTH;
  let rows = shared64_left(matrixIndex, rowBase + (li / DEPTH) * 4u);
  let bk = li / DEPTH;
  let cols = shared64_right(matrixIndex, colBase + (li % DEPTH) * 4u);
  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);
  for (var k0 = 0u; k0 < params.K; k0 += DEPTH) {
    tileA[ak][li / DEPTH] = shared64_left_at(rows, k0 + ak);
    tileB[bk][li % DEPTH] = shared64_right_at(cols, k0 + bk);
    workgroupBarrier();
    for (var k = 0u; k < DEPTH; k++) {
      let av = tileA[k][lid.y];
      let bv = tileB[k][lid.x];
      acc0 = fma(vec4f(av.x), bv, acc0);
      acc1 = fma(vec4f(av.y), bv, acc1);
      acc2 = fma(vec4f(av.z), bv, acc2);
      acc3 = fma(vec4f(av.w), bv, acc3);
    }
    workgroupBarrier();
  }
  return mat4x4f(acc0, acc1, acc2, acc3);
}
