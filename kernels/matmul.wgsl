// Batched matrix product C[b] = A[b] · B[b], row-major: A is M×K, B is K×N, C is M×N.
// Five variants of one contract; src/ops/matmul.ts picks one per adapter and shape.
//   subgroup16x8  16 rows × 8 columns of C per invocation. The lanes of a subgroup own
//                 neighbouring columns and the same rows, so each lane fetches the 16 rows of A
//                 for one k and subgroupShuffle hands them round; B is read as vec4. Needs
//                 N % 4 == 0 and the `subgroups` feature. Default on lavapipe.
//   subgroup32x8  32 rows × 8 columns; lanes 0..3 fetch A for a block of four k, constant-lane
//                 subgroupBroadcast shares it, and each block is one 4×4 matrix product per
//                 accumulator. Same needs. Default where subgroups have 4 lanes (SwiftShader).
//   tile4x4_vec4  4×4 per invocation, A and B as vec4, no subgroups or workgroup memory. Needs
//                 K % 4 == 0 and N % 4 == 0. CPU-rasteriser default when subgroups are missing.
//   tile4x4       the same blocking with scalar loads, for any M, N, K.
//   shared64      64×64 tiles of C per workgroup, A and B staged through workgroup memory in
//                 16-deep slices as vec4s; each of 256 invocations owns 4×4. The classic GPU
//                 kernel and the GPU default (not measured on a GPU here; last on both CPUs).
// Out-of-range rows and columns are clamped or zeroed on load (no branch in the inner loops)
// and masked on store. shared64's and subgroup16x8's bodies live in kernels/common/gemm-*.wgsl,
// shared with conv2d.wgsl, which gathers its left operand where this file loads A: each kernel
// defines the operand loads those bodies call (hooks, named in the common files).
//
// Why the CPU drivers want these shapes (Node + Dawn, 2 Zen 5 cores):
// - lavapipe (llvmpipe, 8-lane SIMD) runs every storage-buffer load whose address is not a
//   compile-time uniform as a loop over lanes with a bounds check: tens of cycles per lane,
//   even when all lanes read the same A element. Loads, not arithmetic, set the speed: with
//   B's loads replaced by constants subgroup16x8 ran 1.7× faster. The 4×4 tiles issue 8 vec4
//   loads per 64 multiply-adds; subgroup16x8 issues 2 vec4 and 2 scalar loads per 128, since
//   shuffles cost next to nothing and sharing A over the subgroup cuts its loads 8×. Loads
//   also get dearer the more of them share a loop body: unrolling the inner loop by the
//   subgroup size (8-16 loads per body) made it 2-3× slower, hence a rolled loop with two.
//   16 rows balance B loads against accumulator spills (24 and 32 rows were slower).
// - SwiftShader (4-lane SIMD) is slow at arithmetic itself (~4.5 GFLOP/s with no loads at
//   all) and at subgroupShuffle in a rolled loop (subgroup16x8 here runs at tile4x4_vec4's
//   speed), while constant broadcasts are cheap: the unrolled four-k block with 32 rows wins
//   (16 rows, or 12 and 16 columns, were slower; 48 rows no faster).
// - Workgroup memory and barriers are expensive on both.
//
// GFLOP/s from bench/matmul-variants.ts, two runs (run 1 / run 2), each cell the median of 5
// with the variants interleaved. The machine was shared with other jobs (load average 1-3 on
// 2 cores), so numbers move up to 2× between runs; the default for each driver (subgroup16x8
// on lavapipe, subgroup32x8 on SwiftShader) led every row of every run.
//
//   lavapipe (Mesa 25.0.7)  subgroup16x8  subgroup32x8  tile4x4_vec4  tile4x4    shared64
//   256³                     5.6 / 5.8     4.8 / 4.5     2.0 / 2.0     1.8 / 1.9  1.6 / 1.5
//   512³                     6.9 / 6.1     4.2 / 5.5     2.2 / 2.0     2.7 / 2.7  1.6 / 1.7
//   1024³                    6.5 / 8.6     5.2 / 6.3     2.4 / 3.1     2.8 / 3.0  2.0 / 2.2
//   1225×64×288 (M×N×K)     11.1 / 5.2     7.1 / 4.2     3.6 / 2.0     1.9 / 1.7  2.1 / 1.5
//   289×192×768              5.1 / 6.8     3.6 / 4.2     2.1 / 4.0     2.5 / 2.3  1.6 / 1.3
//
//   SwiftShader 5.0.0       subgroup16x8  subgroup32x8  tile4x4_vec4  tile4x4    shared64
//   256³                     1.0 / 0.7     1.6 / 1.9     0.8 / 1.0     0.6 / 0.8  0.3 / 0.3
//   512³                     0.8 / 0.9     2.6 / 1.7     1.0 / 0.9     0.7 / 0.7  0.4 / 0.4
//   1024³                    1.0 / 0.9     2.1 / 2.2     1.0 / 0.9     0.7 / 0.7  0.5 / 0.5
//   1225×64×288              1.2 / 0.8     2.6 / 1.8     1.1 / 0.8     0.8 / 0.6  0.3 / 0.3
//   289×192×768              0.7 / 0.9     1.9 / 1.1     1.1 / 0.9     0.8 / 0.7  0.5 / 0.4

struct MatmulParams {
  M: u32,
  N: u32,
  K: u32,
  batch: u32,
  // Where C's columns sit in each of its rows: a channel view (a 1×1 conv writing its slice of
  // a concat buffer) has cOffset > 0 and ldc > N; a plain C has 0 and N. The vec4 kernels need
  // both to be multiples of 4.
  cOffset: u32,
  ldc: u32,
}

@group(0) @binding(3) var<uniform> params: MatmulParams;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;

// The optional epilogue per output column j (a linear layer's bias, a 1×1 conv's folded BatchNorm).
// #include "common/epilogue.wgsl"

// ---------------------------------------------------------------- tile4x4 (scalar loads)

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;

override TILE_WG_X: u32 = 8;
override TILE_WG_Y: u32 = 8;

// A grid taller than maxComputeWorkgroupsPerDimension comes folded into z when there is one
// matrix (Engine.foldRows, matmul.ts): the row block is row_block's and the matrix index 0.
// Blocks past the end start at row ≥ M and store nothing.
override FOLDED_ROWS: bool = false;

// #include "common/grid-index.wgsl"

fn grid_row_block(wid: vec3u, nwg: vec3u) -> u32 {
  return select(wid.y, row_block(wid, nwg), FOLDED_ROWS);
}

fn grid_matrix(wid: vec3u) -> u32 {
  return select(wid.z, 0u, FOLDED_ROWS);
}

fn store_row(base: u32, row: u32, col0: u32, v: vec4f) {
  if (row >= params.M) {
    return;
  }
  let at = base + row * params.ldc + params.cOffset + col0;
  let cols = params.N - min(col0, params.N);
  if (cols > 0u) { c[at] = epilogue1(v.x, col0); }
  if (cols > 1u) { c[at + 1u] = epilogue1(v.y, col0 + 1u); }
  if (cols > 2u) { c[at + 2u] = epilogue1(v.z, col0 + 2u); }
  if (cols > 3u) { c[at + 3u] = epilogue1(v.w, col0 + 3u); }
}

@compute @workgroup_size(TILE_WG_X, TILE_WG_Y)
fn tile4x4(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let col0 = gid.x * 4u;
  let row0 = (grid_row_block(wid, nwg) * TILE_WG_Y + lid.y) * 4u;
  if (col0 >= N || row0 >= M) {
    return;
  }
  let matrixIndex = grid_matrix(wid);
  let aBase = matrixIndex * M * K;
  let bBase = matrixIndex * K * N;
  // Clamped indices: lanes past the edge compute garbage that store_row never writes.
  let r0 = aBase + min(row0, M - 1u) * K;
  let r1 = aBase + min(row0 + 1u, M - 1u) * K;
  let r2 = aBase + min(row0 + 2u, M - 1u) * K;
  let r3 = aBase + min(row0 + 3u, M - 1u) * K;
  let c0 = min(col0, N - 1u);
  let c1 = min(col0 + 1u, N - 1u);
  let c2 = min(col0 + 2u, N - 1u);
  let c3 = min(col0 + 3u, N - 1u);
  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);
  for (var k = 0u; k < K; k++) {
    let bk = bBase + k * N;
    let bv = vec4f(b[bk + c0], b[bk + c1], b[bk + c2], b[bk + c3]);
    acc0 = fma(vec4f(a[r0 + k]), bv, acc0);
    acc1 = fma(vec4f(a[r1 + k]), bv, acc1);
    acc2 = fma(vec4f(a[r2 + k]), bv, acc2);
    acc3 = fma(vec4f(a[r3 + k]), bv, acc3);
  }
  let cBase = matrixIndex * M * params.ldc;
  store_row(cBase, row0, col0, acc0);
  store_row(cBase, row0 + 1u, col0, acc1);
  store_row(cBase, row0 + 2u, col0, acc2);
  store_row(cBase, row0 + 3u, col0, acc3);
}

// ---------------------------------------------------------------- tile4x4_vec4

@group(0) @binding(0) var<storage, read> a4: array<vec4f>;
@group(0) @binding(1) var<storage, read> b4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> c4: array<vec4f>;

@compute @workgroup_size(TILE_WG_X, TILE_WG_Y)
fn tile4x4_vec4(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
) {
  let M = params.M;
  let N4 = params.N / 4u;
  let K4 = params.K / 4u;
  let col = gid.x;
  let row0 = (grid_row_block(wid, nwg) * TILE_WG_Y + lid.y) * 4u;
  if (col >= N4 || row0 >= M) {
    return;
  }
  let matrixIndex = grid_matrix(wid);
  let aBase = matrixIndex * M * K4;
  let bBase = matrixIndex * params.K * N4;
  let r0 = aBase + row0 * K4;
  let r1 = aBase + min(row0 + 1u, M - 1u) * K4;
  let r2 = aBase + min(row0 + 2u, M - 1u) * K4;
  let r3 = aBase + min(row0 + 3u, M - 1u) * K4;
  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);
  for (var k4 = 0u; k4 < K4; k4++) {
    let bk = bBase + 4u * k4 * N4 + col;
    let b0 = b4[bk];
    let b1 = b4[bk + N4];
    let b2 = b4[bk + 2u * N4];
    let b3 = b4[bk + 3u * N4];
    let a0 = a4[r0 + k4];
    let a1 = a4[r1 + k4];
    let a2 = a4[r2 + k4];
    let a3 = a4[r3 + k4];
    acc0 = fma(vec4f(a0.x), b0, fma(vec4f(a0.y), b1, fma(vec4f(a0.z), b2, fma(vec4f(a0.w), b3, acc0))));
    acc1 = fma(vec4f(a1.x), b0, fma(vec4f(a1.y), b1, fma(vec4f(a1.z), b2, fma(vec4f(a1.w), b3, acc1))));
    acc2 = fma(vec4f(a2.x), b0, fma(vec4f(a2.y), b1, fma(vec4f(a2.z), b2, fma(vec4f(a2.w), b3, acc2))));
    acc3 = fma(vec4f(a3.x), b0, fma(vec4f(a3.y), b1, fma(vec4f(a3.z), b2, fma(vec4f(a3.w), b3, acc3))));
  }
  let ldc4 = params.ldc / 4u;
  let cBase = matrixIndex * M * ldc4 + params.cOffset / 4u + col;
  c4[cBase + row0 * ldc4] = epilogue4(acc0, col);
  if (row0 + 1u < M) { c4[cBase + (row0 + 1u) * ldc4] = epilogue4(acc1, col); }
  if (row0 + 2u < M) { c4[cBase + (row0 + 2u) * ldc4] = epilogue4(acc2, col); }
  if (row0 + 3u < M) { c4[cBase + (row0 + 3u) * ldc4] = epilogue4(acc3, col); }
}

// ---------------------------------------------------------------- shared64

// #include "common/gemm-shared64.wgsl"

// A[row][k] and B[k][col], or 0 outside the matrix.
fn a_or_zero(base: u32, row: u32, k: u32) -> f32 {
  let inside = row < params.M && k < params.K;
  return select(0.0, a[base + min(row, params.M - 1u) * params.K + min(k, params.K - 1u)], inside);
}

fn b_or_zero(base: u32, k: u32, col: u32) -> f32 {
  let inside = k < params.K && col < params.N;
  return select(0.0, b[base + min(k, params.K - 1u) * params.N + min(col, params.N - 1u)], inside);
}

// shared64's operands (common/gemm-shared64.wgsl): rows row..row+3 of A and columns
// col..col+3 of B, in matrix matrixIndex.
struct Shared64Left {
  base: u32,
  row: u32,
}

fn shared64_left(matrixIndex: u32, row: u32) -> Shared64Left {
  return Shared64Left(matrixIndex * params.M * params.K, row);
}

fn shared64_left_at(rows: Shared64Left, k: u32) -> vec4f {
  return vec4f(
    a_or_zero(rows.base, rows.row, k),
    a_or_zero(rows.base, rows.row + 1u, k),
    a_or_zero(rows.base, rows.row + 2u, k),
    a_or_zero(rows.base, rows.row + 3u, k),
  );
}

struct Shared64Right {
  base: u32,
  col: u32,
}

fn shared64_right(matrixIndex: u32, col: u32) -> Shared64Right {
  return Shared64Right(matrixIndex * params.K * params.N, col);
}

fn shared64_right_at(cols: Shared64Right, k: u32) -> vec4f {
  return vec4f(
    b_or_zero(cols.base, k, cols.col),
    b_or_zero(cols.base, k, cols.col + 1u),
    b_or_zero(cols.base, k, cols.col + 2u),
    b_or_zero(cols.base, k, cols.col + 3u),
  );
}

@compute @workgroup_size(16, 16)
fn shared64(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(local_invocation_index) li: u32,
) {
  let rowBase = grid_row_block(wid, nwg) * TILE;
  let colBase = wid.x * TILE;
  let matrixIndex = grid_matrix(wid);
  let t = shared64_tile(matrixIndex, rowBase, colBase, lid, li);
  let cBase = matrixIndex * params.M * params.ldc;
  let row = rowBase + lid.y * 4u;
  let col = colBase + lid.x * 4u;
  store_row(cBase, row, col, t[0]);
  store_row(cBase, row + 1u, col, t[1]);
  store_row(cBase, row + 2u, col, t[2]);
  store_row(cBase, row + 3u, col, t[3]);
}

// ================================================================ subgroup variants
// WGSL rejects subgroup builtins without `enable subgroups;`, and that directive on devices
// without the feature, so matmul.ts compiles the text above this marker for every device and
// the whole file, with the directive in front, only where the feature is present.
// @subgroups-only

// C[rows 4g..4g+3][4 columns] as a matrix whose column i is row i: the tile updates become
// matrix products (outer4, broadcast_panel), which keeps the source short while the compiler
// sees plain registers.
// #include "common/outer-product.wgsl"
// #include "common/subgroups.wgsl"

// A[row..row+3][k] with rows clamped to the matrix (rows past M compute values never stored).
fn load_a_rows4(aBase: u32, row: u32, k: u32) -> vec4f {
  let last = params.M - 1u;
  let K = params.K;
  return vec4f(
    a[aBase + min(row, last) * K + k],
    a[aBase + min(row + 1u, last) * K + k],
    a[aBase + min(row + 2u, last) * K + k],
    a[aBase + min(row + 3u, last) * K + k],
  );
}

fn store_rows4(cBase: u32, row: u32, col4: u32, acc: mat4x4f) {
  let N4 = params.N / 4u;
  if (col4 >= N4) {
    return;
  }
  let ldc4 = params.ldc / 4u;
  let at = cBase + params.cOffset / 4u + col4;
  for (var i = 0u; i < 4u; i++) {
    if (row + i < params.M) {
      c4[at + (row + i) * ldc4] = epilogue4(acc[i], col4);
    }
  }
}

// #include "common/gemm-subgroup16x8.wgsl"

// subgroup16x8's operands (common/gemm-subgroup16x8.wgsl): 16 rows of A from `row` on, walked
// along k by plain index; B as vec4s.
struct Subgroup16x8Left {
  base: u32,
  row: u32,
}

fn left_k_start(k: u32) -> u32 {
  return k;
}

fn left_k_advance(k: u32, step: u32) -> u32 {
  return k + step;
}

// k past K reads row K - 1 (those lanes are never shuffled from).
fn subgroup16x8_left_at(rows: ptr<function, Subgroup16x8Left>, k: u32) -> array<vec4f, 4> {
  let base = (*rows).base;
  let row = (*rows).row;
  let ka = min(k, params.K - 1u);
  return array<vec4f, 4>(
    load_a_rows4(base, row, ka),
    load_a_rows4(base, row + 4u, ka),
    load_a_rows4(base, row + 8u, ka),
    load_a_rows4(base, row + 12u, ka),
  );
}

fn right_vec4(at: u32) -> vec4f {
  return b4[at];
}

// SUBGROUP_WG_X (common/subgroups.wgsl): matmul.ts picks it. Rows come from workgroup_id, so
// all lanes of a subgroup share them and one lane's fetch of A serves all.

@compute @workgroup_size(SUBGROUP_WG_X)
fn subgroup16x8(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_size) subgroupSize: u32,
) {
  let N4 = params.N / 4u;
  let row0 = grid_row_block(wid, nwg) * 16u;
  let col0 = gid.x * 2u;
  let matrixIndex = grid_matrix(wid);
  var rows = Subgroup16x8Left(matrixIndex * params.M * params.K, row0);
  let lanes = min(subgroupSize, SUBGROUP_WG_X);
  let t = subgroup16x8_tile(&rows, lane, 0u, lanes, matrixIndex * params.K * N4, N4, col0);
  let cBase = matrixIndex * params.M * (params.ldc / 4u);
  store_rows4(cBase, row0, col0, t.a00); store_rows4(cBase, row0, col0 + 1u, t.a01);
  store_rows4(cBase, row0 + 4u, col0, t.a10); store_rows4(cBase, row0 + 4u, col0 + 1u, t.a11);
  store_rows4(cBase, row0 + 8u, col0, t.a20); store_rows4(cBase, row0 + 8u, col0 + 1u, t.a21);
  store_rows4(cBase, row0 + 12u, col0, t.a30); store_rows4(cBase, row0 + 12u, col0 + 1u, t.a31);
}

// A[rows row..row+3][k0 + lane], zero where k0 + lane is past K.
fn load_a_block(aBase: u32, row: u32, k0: u32, lane: u32) -> vec4f {
  let k = k0 + lane;
  return select(vec4f(0.0), load_a_rows4(aBase, row, min(k, params.K - 1u)), k < params.K);
}

// B[k0..k0+3][col4] is right_panel, reading b4 through right_vec4 (above).
// #include "common/gemm-subgroup32x8.wgsl"

@compute @workgroup_size(SUBGROUP_WG_X)
fn subgroup32x8(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  let M = params.M;
  let N4 = params.N / 4u;
  let K = params.K;
  let row0 = grid_row_block(wid, nwg) * 32u;
  let col0 = gid.x * 2u;
  let c0 = min(col0, N4 - 1u);
  let c1 = min(col0 + 1u, N4 - 1u);
  let matrixIndex = grid_matrix(wid);
  let aBase = matrixIndex * M * K;
  let bBase = matrixIndex * K * N4;
  var acc00 = mat4x4f(); var acc01 = mat4x4f();
  var acc10 = mat4x4f(); var acc11 = mat4x4f();
  var acc20 = mat4x4f(); var acc21 = mat4x4f();
  var acc30 = mat4x4f(); var acc31 = mat4x4f();
  var acc40 = mat4x4f(); var acc41 = mat4x4f();
  var acc50 = mat4x4f(); var acc51 = mat4x4f();
  var acc60 = mat4x4f(); var acc61 = mat4x4f();
  var acc70 = mat4x4f(); var acc71 = mat4x4f();
  // Blocks of four k: lanes 0..3 fetch them (every subgroup has at least four lanes), constant
  // broadcasts share them, and one 4×4 product per accumulator does the block.
  for (var k0 = 0u; k0 < K; k0 += 4u) {
    let p0 = broadcast_panel(load_a_block(aBase, row0, k0, lane));
    let p1 = broadcast_panel(load_a_block(aBase, row0 + 4u, k0, lane));
    let p2 = broadcast_panel(load_a_block(aBase, row0 + 8u, k0, lane));
    let p3 = broadcast_panel(load_a_block(aBase, row0 + 12u, k0, lane));
    let p4 = broadcast_panel(load_a_block(aBase, row0 + 16u, k0, lane));
    let p5 = broadcast_panel(load_a_block(aBase, row0 + 20u, k0, lane));
    let p6 = broadcast_panel(load_a_block(aBase, row0 + 24u, k0, lane));
    let p7 = broadcast_panel(load_a_block(aBase, row0 + 28u, k0, lane));
    let q0 = right_panel(bBase, N4, k0, c0);
    let q1 = right_panel(bBase, N4, k0, c1);
    acc00 += q0 * p0; acc01 += q1 * p0;
    acc10 += q0 * p1; acc11 += q1 * p1;
    acc20 += q0 * p2; acc21 += q1 * p2;
    acc30 += q0 * p3; acc31 += q1 * p3;
    acc40 += q0 * p4; acc41 += q1 * p4;
    acc50 += q0 * p5; acc51 += q1 * p5;
    acc60 += q0 * p6; acc61 += q1 * p6;
    acc70 += q0 * p7; acc71 += q1 * p7;
  }
  let cBase = matrixIndex * M * (params.ldc / 4u);
  store_rows4(cBase, row0, col0, acc00); store_rows4(cBase, row0, col0 + 1u, acc01);
  store_rows4(cBase, row0 + 4u, col0, acc10); store_rows4(cBase, row0 + 4u, col0 + 1u, acc11);
  store_rows4(cBase, row0 + 8u, col0, acc20); store_rows4(cBase, row0 + 8u, col0 + 1u, acc21);
  store_rows4(cBase, row0 + 12u, col0, acc30); store_rows4(cBase, row0 + 12u, col0 + 1u, acc31);
  store_rows4(cBase, row0 + 16u, col0, acc40); store_rows4(cBase, row0 + 16u, col0 + 1u, acc41);
  store_rows4(cBase, row0 + 20u, col0, acc50); store_rows4(cBase, row0 + 20u, col0 + 1u, acc51);
  store_rows4(cBase, row0 + 24u, col0, acc60); store_rows4(cBase, row0 + 24u, col0 + 1u, acc61);
  store_rows4(cBase, row0 + 28u, col0, acc70); store_rows4(cBase, row0 + 28u, col0 + 1u, acc71);
}
