// CIFAR-10 augmentation and normalisation in one pass: uint8 images [B, 3, 32, 32] (the bytes
// of the binary files, packed four to a u32 word, little-endian: byte i of the batch is bits
// 8·(i mod 4) .. 8·(i mod 4) + 7 of word ⌊i/4⌋) in, f32 NHWC [B, 32, 32, 3] out.
//
// Training (TRAINING = true), as torchvision's RandomCrop(32, padding=P) then
// RandomHorizontalFlip(0.5) on the uint8 image, then ToTensor + Normalize:
//   the image is padded by P zero pixels on each side (zero in the uint8 domain, so a padded
//   pixel becomes table[c][0] = (0 − mean_c) / std_c), a 32×32 window at (top dy, left dx),
//   dx, dy ∈ [0, 2P], is cut out and mirrored left-right when flip = 1:
//     out(y, x) = padded(y + dy, xc + dx), xc = flip ? 31 − x : x,
//     padded(r, s) = image(r − P, s − P) inside the image, 0 outside.
// Evaluation (TRAINING = false): out(y, x) = image(y, x), normalised.
//
// Per-image draws from Philox4x32-10 (kernels/common/philox.wgsl, included below),
// one call per image b on counter (first + b, step mod 2^32, ⌊step / 2^32⌋,
// AUGMENT_STREAM) and key (seed mod 2^32, ⌊seed / 2^32⌋), output words (w0, w1, w2, w3):
//   dx = w0 mod (2P + 1), dy = w1 mod (2P + 1), flip = w2 >> 31 (when flipping is on).
// (2^32 mod 9 = 4: the modulo's bias is 4 in 2^32 per value, far below anything measurable.)
// src/ops/augment.ts computes the same draws on the host (augmentDraws) bit for bit.
//
// Normalisation is a lookup: table[256·c + v] = f32((v / 255 − mean_c) / std_c), computed in
// float64 on the host and rounded once, so the output is the correctly rounded value exactly,
// whatever the adapter's float arithmetic.

// #include "common/grid-index.wgsl"
// #include "common/philox.wgsl"

struct AugmentParams {
  // Images in the batch.
  count: u32,
  // Counter word 0 of image b is first + b.
  first: u32,
  keyLo: u32,
  keyHi: u32,
  stepLo: u32,
  stepHi: u32,
  // P: zero padding on each side; offsets are drawn in [0, 2P].
  padding: u32,
  // 1: mirror with probability 1/2; 0: never.
  flip: u32,
}

override TRAINING: bool = true;

const IMAGE_SIDE: u32 = 32u;
const PLANE: u32 = 1024u;            // 32 · 32 bytes per channel plane
const IMAGE_WORDS: u32 = 768u;       // 3 · 1024 bytes / 4
const GROUPS_PER_IMAGE: u32 = 16u;   // 1024 pixels / 64 invocations
// Counter word 3 of the augmentation draws (ASCII 'AUGM'): a stream apart from dropout's (0).
const AUGMENT_STREAM: u32 = 0x4155474du;

@group(0) @binding(0) var<storage, read> images: array<u32>;
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> params: AugmentParams;
@group(0) @binding(4) var<storage, read_write> draws: array<u32>;

// (dx, dy, flip) of image b of the batch.
fn draw(b: u32) -> vec3u {
  let w = philox4x32_10(vec4u(params.first + b, params.stepLo, params.stepHi, AUGMENT_STREAM), vec2u(params.keyLo, params.keyHi));
  let span = 2u * params.padding + 1u;
  return vec3u(w.x % span, w.y % span, select(0u, w.z >> 31u, params.flip != 0u));
}

// The byte of channel c at (row, col) of image b, as a table row offset.
fn pixel(b: u32, c: u32, row: u32, col: u32) -> u32 {
  let at = row * IMAGE_SIDE + col;
  let word = images[b * IMAGE_WORDS + c * (PLANE / 4u) + (at >> 2u)];
  return (word >> (8u * (at & 3u))) & 0xffu;
}

var<workgroup> shared_draw: vec3u;

// One invocation per output pixel, 64 per workgroup, so a workgroup lies inside one image and
// its draw is made once (by invocation 0) and shared.
@compute @workgroup_size(64)
fn augment(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lane: u32) {
  let group = flat_group(wg, groups);
  // Uniform per workgroup (workgroup id and uniforms only), so the barrier below is legal.
  if (group >= params.count * GROUPS_PER_IMAGE) {
    return;
  }
  let b = group / GROUPS_PER_IMAGE;
  let p = (group % GROUPS_PER_IMAGE) * 64u + lane;
  let row = p / IMAGE_SIDE;
  let col = p % IMAGE_SIDE;

  // Source pixel in image coordinates, as i32 (negative or ≥ 32: padding).
  var sy = i32(row);
  var sx = i32(col);
  if (TRAINING) {
    if (lane == 0u) {
      shared_draw = draw(b);
    }
    workgroupBarrier();
    let d = shared_draw;
    let xc = select(col, IMAGE_SIDE - 1u - col, d.z == 1u);
    sy = i32(row + d.y) - i32(params.padding);
    sx = i32(xc + d.x) - i32(params.padding);
  }
  let inside = sy >= 0 && sy < i32(IMAGE_SIDE) && sx >= 0 && sx < i32(IMAGE_SIDE);
  let out = 3u * (b * PLANE + p);
  for (var c = 0u; c < 3u; c++) {
    var v = 0u;
    if (inside) {
      v = pixel(b, c, u32(sy), u32(sx));
    }
    y[out + c] = table[256u * c + v];
  }
}

// The draws alone, draws[3b .. 3b + 2] = (dx, dy, flip): for checking the host's copy.
@compute @workgroup_size(64)
fn augment_draws(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let b = flat_index(gid, groups, 64u);
  if (b >= params.count) {
    return;
  }
  let d = draw(b);
  draws[3u * b] = d.x;
  draws[3u * b + 1u] = d.y;
  draws[3u * b + 2u] = d.z;
}
