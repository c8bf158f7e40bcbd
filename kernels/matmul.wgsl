// Batched matrix product C[b] = A[b] · B[b], row-major: A is M×K, B is K×N, C is M×N.
// Three variants of one contract, chosen per adapter (src/ops/matmul.ts):
//   tile4x4_vec4  one invocation owns a 4×4 block of C in registers, loads A and B as vec4,
//                 no workgroup memory. Needs K % 4 == 0 and N % 4 == 0. Fastest on CPU drivers
//                 (SwiftShader, lavapipe), where barriers and workgroup memory are expensive.
//   tile4x4       the same blocking with scalar loads, for any M, N, K.
//   shared64      64×64 tiles of C per workgroup, A and B staged through workgroup memory in
//                 16-deep slices; each of 256 invocations owns 4×4. The classic GPU kernel.
// Out-of-range rows and columns are clamped on load (so no branch in the inner loop) and
// masked on store.

struct MatmulParams {
  M: u32,
  N: u32,
  K: u32,
  batch: u32,
}

@group(0) @binding(3) var<uniform> params: MatmulParams;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;

// ---------------------------------------------------------------- tile4x4 (scalar loads)

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;

override TILE_WG_X: u32 = 8;
override TILE_WG_Y: u32 = 8;

fn store_row(base: u32, row: u32, col0: u32, v: vec4f) {
  if (row >= params.M) {
    return;
  }
  let at = base + row * params.N + col0;
  let cols = params.N - min(col0, params.N);
  if (cols > 0u) { c[at] = v.x; }
  if (cols > 1u) { c[at + 1u] = v.y; }
  if (cols > 2u) { c[at + 2u] = v.z; }
  if (cols > 3u) { c[at + 3u] = v.w; }
}

@compute @workgroup_size(TILE_WG_X, TILE_WG_Y)
fn tile4x4(@builtin(global_invocation_id) gid: vec3u) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let col0 = gid.x * 4u;
  let row0 = gid.y * 4u;
  if (col0 >= N || row0 >= M) {
    return;
  }
  let aBase = gid.z * M * K;
  let bBase = gid.z * K * N;
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
  let cBase = gid.z * M * N;
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
fn tile4x4_vec4(@builtin(global_invocation_id) gid: vec3u) {
  let M = params.M;
  let N4 = params.N / 4u;
  let K4 = params.K / 4u;
  let col = gid.x;
  let row0 = gid.y * 4u;
  if (col >= N4 || row0 >= M) {
    return;
  }
  let aBase = gid.z * M * K4;
  let bBase = gid.z * params.K * N4;
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
  let cBase = gid.z * M * N4 + col;
  c4[cBase + row0 * N4] = acc0;
  if (row0 + 1u < M) { c4[cBase + (row0 + 1u) * N4] = acc1; }
  if (row0 + 2u < M) { c4[cBase + (row0 + 2u) * N4] = acc2; }
  if (row0 + 3u < M) { c4[cBase + (row0 + 3u) * N4] = acc3; }
}

// ---------------------------------------------------------------- shared64

const TILE = 64u;
const DEPTH = 16u;

var<workgroup> tileA: array<array<f32, 64>, 16>; // [k][row]
var<workgroup> tileB: array<array<f32, 64>, 16>; // [k][col]

@compute @workgroup_size(16, 16)
fn shared64(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(local_invocation_index) li: u32,
) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let rowBase = wid.y * TILE;
  let colBase = wid.x * TILE;
  let aBase = wid.z * M * K;
  let bBase = wid.z * K * N;
  var acc: array<vec4f, 4>;
  for (var i = 0u; i < 4u; i++) {
    acc[i] = vec4f(0.0);
  }
  for (var k0 = 0u; k0 < K; k0 += DEPTH) {
    // 256 invocations load 64×16 of A and 16×64 of B, four elements each; zeros past the edge.
    for (var j = 0u; j < 4u; j++) {
      let e = li + j * 256u;
      let ar = e / DEPTH;
      let ak = e % DEPTH;
      let row = rowBase + ar;
      let ka = k0 + ak;
      tileA[ak][ar] = select(0.0, a[aBase + min(row, M - 1u) * K + min(ka, K - 1u)], row < M && ka < K);
      let bk = e / TILE;
      let bc = e % TILE;
      let col = colBase + bc;
      let kb = k0 + bk;
      tileB[bk][bc] = select(0.0, b[bBase + min(kb, K - 1u) * N + min(col, N - 1u)], col < N && kb < K);
    }
    workgroupBarrier();
    for (var k = 0u; k < DEPTH; k++) {
      let bv = vec4f(tileB[k][lid.x * 4u], tileB[k][lid.x * 4u + 1u], tileB[k][lid.x * 4u + 2u], tileB[k][lid.x * 4u + 3u]);
      for (var i = 0u; i < 4u; i++) {
        acc[i] = fma(vec4f(tileA[k][lid.y * 4u + i]), bv, acc[i]);
      }
    }
    workgroupBarrier();
  }
  let cBase = wid.z * M * N;
  for (var i = 0u; i < 4u; i++) {
    store_row(cBase, rowBase + lid.y * 4u + i, colBase + lid.x * 4u, acc[i]);
  }
}
