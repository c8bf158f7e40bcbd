// Image resizing for inference, with a crop on either side of it and per-channel normalisation
// fused in: an 8-bit RGB image in, f32 NHWC out (one image into its slot of a batch).
//
// Input: the image's bytes (or a piece of whole rows of it), row-major, R G B interleaved (as
// decoded), packed four to a u32 word, little-endian: byte k is bits 8·(k mod 4) ..
// 8·(k mod 4) + 7 of word ⌊k/4⌋.
//
// Geometry (all integers, checked on the host):
//   the source window (srcHeight × srcWidth pixels of the image; where it lies in the bound
//   words: wordsStride, wordsTop, wordsLeft) is resized to resizedHeight × resizedWidth; the
//   output is the window (cropTop, cropLeft, outHeight × outWidth) of that resized grid: output
//   pixel (y, x) is resized pixel (y + cropTop, x + cropLeft), written at
//   output[outBase + 3·(y·outWidth + x) + c] = v_c · scale_c + bias_c, v_c in [0, 255].
//
// Along each axis, output index o of a resized grid of `out` samples taken from `in` source
// samples (scale = in / out):
//   MODE 0, bilinear with half-pixel centres (PyTorch's align_corners=False, TensorFlow 2's
//     half_pixel_centers=True): src = (o + 0.5)·scale − 0.5, clamped below at 0;
//     i0 = ⌊src⌋, i1 = min(i0 + 1, in − 1), t = src − i0; v = (1 − t)·p[i0] + t·p[i1].
//   MODE 1, bilinear with corner-aligned sample positions (TensorFlow 1's resize_bilinear with
//     align_corners=False and half_pixel_centers=False, as TF-slim uses it): src = o·scale,
//     then as above.
//   MODE 2, antialiased (PIL's BILINEAR, torchvision's antialias=True): a triangle filter whose
//     support grows with the downscale factor: support = max(scale, 1), centre = (o + 0.5)·scale;
//     taps p in [max(trunc(centre − support + 0.5), 0), min(trunc(centre + support + 0.5), in)),
//     weight w(p) = max(0, 1 − |p + 0.5 − centre| / support), normalised to sum 1.
// The two axes are separable: out(y, x) = Σ_i Σ_j wy_i · wx_j · p(i, j) / (Σ wy · Σ wx).
//
// Sample positions are exact: centre = in·(2o + 1) / (2·out) is split into an integer part and a
// fraction with integer arithmetic, so no position error grows with the image size; only the
// fraction (< 1) is rounded to f32. The host splits in = whole·den + rest (den = 2·out, or out
// for MODE 1), so in·(2o + 1) = whole·(2o + 1)·den + rest·(2o + 1) and every u32 product stays
// below 2^32 for resized sides up to 32768, whatever the input size.
//
// Row chunks: an image too large for one storage binding comes in pieces of whole rows of the
// source window; one dispatch per piece covers the output rows whose taps meet it, and sums
// only the taps of the rows it holds (heldFirst .. heldEnd − 1). The piece holding an output
// pixel's first tap row writes v·scale + bias; later pieces (dispatched after it, in row order)
// add their share of v·scale. The filters are linear, so the sum is the whole resize; the
// normalisation (Σ wy · Σ wx) is always over the whole window.

struct ResizeParams {
  // Layout of the bound words: pixels per stored row, the stored row holding source-window row
  // heldFirst, and the stored column holding source-window column 0.
  wordsStride: u32,
  wordsTop: u32,
  wordsLeft: u32,
  // Source-window rows the words hold: heldFirst .. heldEnd − 1.
  heldFirst: u32,
  heldEnd: u32,
  srcHeight: u32,
  srcWidth: u32,
  resizedHeight: u32,
  resizedWidth: u32,
  // srcHeight = yWhole·den + yRest and srcWidth = xWhole·den + xRest (den: see above).
  yWhole: u32,
  yRest: u32,
  xWhole: u32,
  xRest: u32,
  cropTop: u32,
  cropLeft: u32,
  outWidth: u32,
  // Output rows of this dispatch: rowFirst .. rowEnd − 1 (gid.y counts from rowFirst).
  rowFirst: u32,
  rowEnd: u32,
  // Element offset of this image's slot in the output (b · outHeight · outWidth · 3).
  outBase: u32,
  // MODE 2: max(scale, 1) per axis and its reciprocal.
  supportY: f32,
  supportX: f32,
  invSupportY: f32,
  invSupportX: f32,
  // Per channel (x, y, z = R, G, B): out = v · scale + bias.
  scale: vec4f,
  bias: vec4f,
}

const MODE_HALF_PIXEL: u32 = 0u;
const MODE_ASYMMETRIC: u32 = 1u;
const MODE_ANTIALIAS: u32 = 2u;
override MODE: u32 = 0u;

@group(0) @binding(0) var<storage, read> image: array<u32>;
@group(0) @binding(1) var<storage, read_write> output: array<f32>;
@group(0) @binding(2) var<uniform> params: ResizeParams;

fn byte_at(k: u32) -> f32 {
  return f32((image[k >> 2u] >> (8u * (k & 3u))) & 0xffu);
}

// R, G, B of source-window pixel (row, col), in [0, 255]; row is one the words hold.
fn pixel(row: u32, col: u32) -> vec3f {
  let k = 3u * ((row - params.heldFirst + params.wordsTop) * params.wordsStride + params.wordsLeft + col);
  return vec3f(byte_at(k), byte_at(k + 1u), byte_at(k + 2u));
}

// ⌊in·(2o + 1) / (2·out)⌋ and the remainder, for in = whole·2·out + rest.
struct Split {
  q: u32,
  r: u32,
}

fn centre_split(o: u32, out_size: u32, whole: u32, rest: u32) -> Split {
  let m = 2u * o + 1u;
  let den = 2u * out_size;
  let p = rest * m;
  return Split(whole * m + p / den, p % den);
}

// Bilinear (MODES 0 and 1): the two taps and the weight of the second.
struct Lerp {
  i0: u32,
  i1: u32,
  t: f32,
}

fn lerp_axis(o: u32, in_size: u32, out_size: u32, whole: u32, rest: u32) -> Lerp {
  var i0: u32;
  var num: u32;
  var den: u32;
  if (MODE == MODE_HALF_PIXEL) {
    // src = (o + 0.5)·in/out − 0.5 = (in·(2o + 1) − out) / (2·out), 0 where that is negative.
    let c = centre_split(o, out_size, whole, rest);
    den = 2u * out_size;
    if (c.r >= out_size) {
      i0 = c.q;
      num = c.r - out_size;
    } else if (c.q >= 1u) {
      i0 = c.q - 1u;
      num = c.r + out_size;
    } else {
      i0 = 0u;
      num = 0u;
    }
  } else {
    // src = o·in/out, in = whole·out + rest.
    let p = rest * o;
    den = out_size;
    i0 = whole * o + p / den;
    num = p % den;
  }
  return Lerp(i0, min(i0 + 1u, in_size - 1u), f32(num) / f32(den));
}

// Antialiased (MODE 2): the taps [first, end) and the centre, split as whole + fraction.
struct Window {
  first: u32,
  end: u32,
  whole: i32,
  frac: f32,
}

fn aa_axis(o: u32, in_size: u32, out_size: u32, whole: u32, rest: u32, support: f32) -> Window {
  let c = centre_split(o, out_size, whole, rest);
  let centre = i32(c.q);
  let frac = f32(c.r) / f32(2u * out_size);
  // trunc and floor agree wherever the bound is not clamped to 0.
  let lo = centre + i32(floor(frac - support + 0.5));
  let hi = centre + i32(floor(frac + support + 0.5));
  return Window(u32(max(lo, 0)), u32(min(hi, i32(in_size))), centre, frac);
}

fn aa_weight(p: u32, w: Window, inv_support: f32) -> f32 {
  let d = (f32(i32(p) - w.whole) + 0.5 - w.frac) * inv_support;
  return max(0.0, 1.0 - abs(d));
}

// A source row's share of an output pixel: the taps along x of that row.
fn aa_row(i: u32, wx: Window) -> vec3f {
  var row = vec3f(0.0);
  for (var j = wx.first; j < wx.end; j++) {
    row += aa_weight(j, wx, params.invSupportX) * pixel(i, j);
  }
  return row;
}

fn lerp_row(i: u32, lx: Lerp) -> vec3f {
  return mix(pixel(i, lx.i0), pixel(i, lx.i1), lx.t);
}

fn held(i: u32) -> bool {
  return i >= params.heldFirst && i < params.heldEnd;
}

// One invocation per output pixel (all three channels), 8 × 8 pixels per workgroup.
@compute @workgroup_size(8, 8)
fn resize(@builtin(global_invocation_id) gid: vec3u) {
  let x = gid.x;
  let y = gid.y + params.rowFirst;
  if (x >= params.outWidth || y >= params.rowEnd) {
    return;
  }
  let ry = y + params.cropTop;
  let rx = x + params.cropLeft;
  var v = vec3f(0.0);
  var is_first: bool;
  if (MODE == MODE_ANTIALIAS) {
    let wy = aa_axis(ry, params.srcHeight, params.resizedHeight, params.yWhole, params.yRest, params.supportY);
    let wx = aa_axis(rx, params.srcWidth, params.resizedWidth, params.xWhole, params.xRest, params.supportX);
    let row_from = max(wy.first, params.heldFirst);
    let row_to = min(wy.end, params.heldEnd);
    if (row_from >= row_to) {
      return;
    }
    var sum_x = 0.0;
    for (var j = wx.first; j < wx.end; j++) {
      sum_x += aa_weight(j, wx, params.invSupportX);
    }
    var sum_y = 0.0;
    for (var i = wy.first; i < wy.end; i++) {
      sum_y += aa_weight(i, wy, params.invSupportY);
    }
    for (var i = row_from; i < row_to; i++) {
      v += aa_weight(i, wy, params.invSupportY) * aa_row(i, wx);
    }
    v /= sum_y * sum_x;
    is_first = wy.first >= params.heldFirst;
  } else {
    let ly = lerp_axis(ry, params.srcHeight, params.resizedHeight, params.yWhole, params.yRest);
    let lx = lerp_axis(rx, params.srcWidth, params.resizedWidth, params.xWhole, params.xRest);
    let has0 = held(ly.i0);
    let has1 = held(ly.i1);
    if (!has0 && !has1) {
      return;
    }
    if (has0 && has1) {
      v = mix(lerp_row(ly.i0, lx), lerp_row(ly.i1, lx), ly.t);
    } else if (has0) {
      v = (1.0 - ly.t) * lerp_row(ly.i0, lx);
    } else {
      v = ly.t * lerp_row(ly.i1, lx);
    }
    is_first = has0;
  }
  let at = params.outBase + 3u * (y * params.outWidth + x);
  let scaled = v * params.scale.xyz;
  if (is_first) {
    output[at] = scaled.x + params.bias.x;
    output[at + 1u] = scaled.y + params.bias.y;
    output[at + 2u] = scaled.z + params.bias.z;
  } else {
    output[at] += scaled.x;
    output[at + 1u] += scaled.y;
    output[at + 2u] += scaled.z;
  }
}
