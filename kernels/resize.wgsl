// Image resizing for inference, with a crop on either side of it and per-channel normalisation
// fused in: an 8-bit RGB image in, f32 NHWC out (one image into its slot of a batch).
//
// Input: the image's bytes, H × W × 3, row-major, R G B interleaved (as decoded), packed four to
// a u32 word, little-endian: byte k is bits 8·(k mod 4) .. 8·(k mod 4) + 7 of word ⌊k/4⌋.
//
// Geometry (all integers, checked on the host):
//   the source window (srcTop, srcLeft, srcHeight × srcWidth) of the stored image (row stride
//   imageWidth pixels) is resized to resizedHeight × resizedWidth; the output is the window
//   (cropTop, cropLeft, outHeight × outWidth) of that resized grid: output pixel (y, x) is
//   resized pixel (y + cropTop, x + cropLeft), written at
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
// fraction with integer arithmetic (u32 products stay below 2^32 for sides up to 32768), so
// no position error grows with the image size; only the fraction (< 1) is rounded to f32.

struct ResizeParams {
  // Row stride of the stored image, in pixels.
  imageWidth: u32,
  srcTop: u32,
  srcLeft: u32,
  srcHeight: u32,
  srcWidth: u32,
  resizedHeight: u32,
  resizedWidth: u32,
  cropTop: u32,
  cropLeft: u32,
  outHeight: u32,
  outWidth: u32,
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

// R, G, B of source-window pixel (row, col), in [0, 255].
fn pixel(row: u32, col: u32) -> vec3f {
  let k = 3u * ((params.srcTop + row) * params.imageWidth + params.srcLeft + col);
  return vec3f(byte_at(k), byte_at(k + 1u), byte_at(k + 2u));
}

// Bilinear (MODES 0 and 1): the two taps and the weight of the second.
struct Lerp {
  i0: u32,
  i1: u32,
  t: f32,
}

fn lerp_axis(o: u32, in_size: u32, out_size: u32) -> Lerp {
  var num: u32;
  var den: u32;
  if (MODE == MODE_HALF_PIXEL) {
    // src = (o + 0.5)·in/out − 0.5 = (in·(2o + 1) − out) / (2·out), 0 where that is negative.
    let p = in_size * (2u * o + 1u);
    num = select(0u, p - out_size, p > out_size);
    den = 2u * out_size;
  } else {
    num = in_size * o;
    den = out_size;
  }
  let i0 = num / den;
  return Lerp(i0, min(i0 + 1u, in_size - 1u), f32(num % den) / f32(den));
}

// Antialiased (MODE 2): the taps [first, end) and the centre, split as whole + fraction.
struct Window {
  first: u32,
  end: u32,
  whole: i32,
  frac: f32,
}

fn aa_axis(o: u32, in_size: u32, out_size: u32, support: f32) -> Window {
  let p = in_size * (2u * o + 1u);
  let den = 2u * out_size;
  let whole = i32(p / den);
  let frac = f32(p % den) / f32(den);
  // trunc and floor agree wherever the bound is not clamped to 0.
  let lo = whole + i32(floor(frac - support + 0.5));
  let hi = whole + i32(floor(frac + support + 0.5));
  return Window(u32(max(lo, 0)), u32(min(hi, i32(in_size))), whole, frac);
}

fn aa_weight(p: u32, w: Window, inv_support: f32) -> f32 {
  let d = (f32(i32(p) - w.whole) + 0.5 - w.frac) * inv_support;
  return max(0.0, 1.0 - abs(d));
}

// One invocation per output pixel (all three channels), 8 × 8 pixels per workgroup.
@compute @workgroup_size(8, 8)
fn resize(@builtin(global_invocation_id) gid: vec3u) {
  let x = gid.x;
  let y = gid.y;
  if (x >= params.outWidth || y >= params.outHeight) {
    return;
  }
  let ry = y + params.cropTop;
  let rx = x + params.cropLeft;
  var v: vec3f;
  if (MODE == MODE_ANTIALIAS) {
    let wy = aa_axis(ry, params.srcHeight, params.resizedHeight, params.supportY);
    let wx = aa_axis(rx, params.srcWidth, params.resizedWidth, params.supportX);
    var sum_x = 0.0;
    for (var j = wx.first; j < wx.end; j++) {
      sum_x += aa_weight(j, wx, params.invSupportX);
    }
    var acc = vec3f(0.0);
    var sum_y = 0.0;
    for (var i = wy.first; i < wy.end; i++) {
      let a = aa_weight(i, wy, params.invSupportY);
      var row = vec3f(0.0);
      for (var j = wx.first; j < wx.end; j++) {
        row += aa_weight(j, wx, params.invSupportX) * pixel(i, j);
      }
      acc += a * row;
      sum_y += a;
    }
    v = acc / (sum_y * sum_x);
  } else {
    let ly = lerp_axis(ry, params.srcHeight, params.resizedHeight);
    let lx = lerp_axis(rx, params.srcWidth, params.resizedWidth);
    let top = mix(pixel(ly.i0, lx.i0), pixel(ly.i0, lx.i1), lx.t);
    let bottom = mix(pixel(ly.i1, lx.i0), pixel(ly.i1, lx.i1), lx.t);
    v = mix(top, bottom, ly.t);
  }
  let at = params.outBase + 3u * (y * params.outWidth + x);
  output[at] = v.x * params.scale.x + params.bias.x;
  output[at + 1u] = v.y * params.scale.y + params.bias.y;
  output[at + 2u] = v.z * params.scale.z + params.bias.z;
}
