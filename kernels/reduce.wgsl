// Reductions for training: sums, means, sums over rows (bias gradients), the global norm of
// many tensors (gradient clipping) and y + α·x (optimizer updates).
//
// Accuracy: no sum runs sequentially over more than a few dozen float32 terms. Flat sums are
// blocked (64 terms per invocation), then a tree across the workgroup, then the same again over
// the per-workgroup partials; row sums are blocked 64 rows at a time, level after level. The
// rounding error then grows with log(n) rather than with n.

// #include "common/grid-index.wgsl"

const WG: u32 = 64u;
// Elements one invocation adds before the workgroup tree: a workgroup covers WG · PER_THREAD.
const PER_THREAD: u32 = 64u;
const CHUNK: u32 = WG * PER_THREAD;
const SLOTS: u32 = 7u;

struct PartialParams {
  // Elements of input slot j (j < 7; unused slots hold 0).
  sizes: array<vec4u, 2>,
  // First workgroup of slot j in this dispatch, j ≤ 7; entry 7 is the dispatch's workgroup total.
  firstGroup: array<vec4u, 2>,
  // Where this dispatch's first partial goes in partialsOut.
  partialBase: u32,
}

struct FinalParams {
  count: u32,
  scale: f32,
}

struct RowsParams {
  rows: u32,
  channels: u32,
  // Output row r sums input rows r·ROWS_PER_BLOCK … (r+1)·ROWS_PER_BLOCK − 1.
  outRows: u32,
}

struct AxpyParams {
  n: u32,
  alpha: f32,
}

// partial_sums: square each element first (sum of squares for norms).
override SQUARE: bool = false;
// reduce_final: write sqrt(total · scale) instead of total · scale.
override TAKE_SQRT: bool = false;

// Seven inputs and one output fill the eight storage buffers per stage that every WebGPU
// device guarantees (maxStorageBuffersPerShaderStage ≥ 8).
@group(0) @binding(0) var<storage, read> t0: array<f32>;
@group(0) @binding(1) var<storage, read> t1: array<f32>;
@group(0) @binding(2) var<storage, read> t2: array<f32>;
@group(0) @binding(3) var<storage, read> t3: array<f32>;
@group(0) @binding(4) var<storage, read> t4: array<f32>;
@group(0) @binding(5) var<storage, read> t5: array<f32>;
@group(0) @binding(6) var<storage, read> t6: array<f32>;
@group(0) @binding(7) var<storage, read_write> partialsOut: array<f32>;
@group(0) @binding(8) var<uniform> partialParams: PartialParams;

@group(0) @binding(9) var<storage, read> partialsIn: array<f32>;
@group(0) @binding(10) var<storage, read_write> result: array<f32>;
@group(0) @binding(11) var<uniform> finalParams: FinalParams;

@group(0) @binding(12) var<storage, read> rowsIn: array<f32>;
@group(0) @binding(13) var<storage, read_write> rowsOut: array<f32>;
@group(0) @binding(14) var<uniform> rowsParams: RowsParams;

@group(0) @binding(15) var<storage, read> x: array<f32>;
@group(0) @binding(16) var<storage, read> y: array<f32>;
@group(0) @binding(17) var<storage, read_write> out: array<f32>;
@group(0) @binding(18) var<storage, read_write> yInOut: array<f32>;
@group(0) @binding(19) var<uniform> axpyParams: AxpyParams;

var<workgroup> scratch: array<f32, WG>;

fn slot_size(j: u32) -> u32 {
  return partialParams.sizes[j / 4u][j % 4u];
}

fn slot_first_group(j: u32) -> u32 {
  return partialParams.firstGroup[j / 4u][j % 4u];
}

fn term(v: f32) -> f32 {
  return select(v, v * v, SQUARE);
}

// Invocation lid's share of one chunk: elements start + k·WG + lid (a workgroup reads
// contiguous runs). WGSL cannot index bindings dynamically, so one loop per slot; `slot` is the
// same for the whole workgroup, and switching outside the loop rather than per element halves
// the time on lavapipe (measured: 4·10^6 elements, 44 → 19 ms).
fn slot_sum(slot: u32, start: u32, lid: u32, n: u32) -> f32 {
  var acc = 0.0;
  switch slot {
    case 0u: { for (var k = 0u; k < PER_THREAD; k++) { let i = start + k * WG + lid; if (i < n) { acc += term(t0[i]); } } }
    case 1u: { for (var k = 0u; k < PER_THREAD; k++) { let i = start + k * WG + lid; if (i < n) { acc += term(t1[i]); } } }
    case 2u: { for (var k = 0u; k < PER_THREAD; k++) { let i = start + k * WG + lid; if (i < n) { acc += term(t2[i]); } } }
    case 3u: { for (var k = 0u; k < PER_THREAD; k++) { let i = start + k * WG + lid; if (i < n) { acc += term(t3[i]); } } }
    case 4u: { for (var k = 0u; k < PER_THREAD; k++) { let i = start + k * WG + lid; if (i < n) { acc += term(t4[i]); } } }
    case 5u: { for (var k = 0u; k < PER_THREAD; k++) { let i = start + k * WG + lid; if (i < n) { acc += term(t5[i]); } } }
    default: { for (var k = 0u; k < PER_THREAD; k++) { let i = start + k * WG + lid; if (i < n) { acc += term(t6[i]); } } }
  }
  return acc;
}

// Leaves the workgroup's total in scratch[0]; every invocation must call it.
fn workgroup_tree(lid: u32, value: f32) {
  scratch[lid] = value;
  workgroupBarrier();
  for (var width = WG / 2u; width > 0u; width >>= 1u) {
    if (lid < width) {
      scratch[lid] += scratch[lid + width];
    }
    workgroupBarrier();
  }
}

// One workgroup per CHUNK elements of one input slot; workgroups of the slots follow one
// another (slot j owns groups firstGroup[j] .. firstGroup[j+1] − 1). Each writes one partial.
@compute @workgroup_size(WG)
fn partial_sums(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let group = flat_group(wid, groups);
  if (group >= slot_first_group(SLOTS)) {
    return;
  }
  // The last slot whose first group is ≤ group; an empty slot shares its first group with the
  // next one, which therefore wins.
  var slot = 0u;
  for (var j = 1u; j < SLOTS; j++) {
    if (slot_first_group(j) <= group) {
      slot = j;
    }
  }
  let n = slot_size(slot);
  let start = (group - slot_first_group(slot)) * CHUNK;
  let acc = slot_sum(slot, start, lid, n);
  workgroup_tree(lid, acc);
  if (lid == 0u) {
    partialsOut[partialParams.partialBase + group] = scratch[0];
  }
}

// One workgroup: the total of all partials, scaled, optionally square-rooted, into result[0].
@compute @workgroup_size(WG)
fn reduce_final(@builtin(local_invocation_index) lid: u32) {
  // Blocked like partial_sums: each run of PER_THREAD contiguous partials is summed on its own
  // before joining the invocation's total, so no running sum grows long.
  var acc = 0.0;
  let count = finalParams.count;
  for (var runStart = lid * PER_THREAD; runStart < count; runStart += WG * PER_THREAD) {
    var blockSum = 0.0;
    for (var k = 0u; k < PER_THREAD; k++) {
      if (runStart + k < count) {
        blockSum += partialsIn[runStart + k];
      }
    }
    acc += blockSum;
  }
  workgroup_tree(lid, acc);
  if (lid == 0u) {
    let total = scratch[0] * finalParams.scale;
    result[0] = select(total, sqrt(total), TAKE_SQRT);
  }
}

const ROWS_PER_BLOCK: u32 = 64u;

// rowsOut[r, c] = Σ rowsIn[r·64 + k, c] over k < 64 (rows that exist). Applied level after
// level until one row is left. Consecutive invocations take consecutive channels, so a
// workgroup reads whole rows.
@compute @workgroup_size(WG)
fn sum_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let idx = flat_index(gid, groups, WG);
  let channels = rowsParams.channels;
  if (idx >= rowsParams.outRows * channels) {
    return;
  }
  let r = idx / channels;
  let c = idx - r * channels;
  let first = r * ROWS_PER_BLOCK;
  let last = min(first + ROWS_PER_BLOCK, rowsParams.rows);
  var acc = 0.0;
  for (var row = first; row < last; row++) {
    acc += rowsIn[row * channels + c];
  }
  rowsOut[idx] = acc;
}

@compute @workgroup_size(256)
fn scaled_add(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(gid, groups, 256u);
  if (i < axpyParams.n) {
    out[i] = fma(axpyParams.alpha, x[i], y[i]);
  }
}

@compute @workgroup_size(256)
fn scaled_add_in_place(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(gid, groups, 256u);
  if (i < axpyParams.n) {
    yInOut[i] = fma(axpyParams.alpha, x[i], yInOut[i]);
  }
}
