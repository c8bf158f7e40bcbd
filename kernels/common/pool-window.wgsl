// The window arithmetic of pooling, shared by pool2d.wgsl and pool2d-backward.wgsl (whose
// backward divides by what the forward divided by). The including kernel's `params` uniform
// holds the geometry: H and W (input), KH and KW, strideH and strideW, padTop and padLeft.

// avg_pool: divide by KH·KW (padding counted, PyTorch's count_include_pad=True) or by the
// number of real elements in the window (Keras, TF-slim).
override COUNT_INCLUDE_PAD: bool = true;

// Output pixel (oh, ow)'s window in the input: its top row and left column, negative in the
// padding.
fn window_corner(oh: u32, ow: u32) -> vec2i {
  return vec2i(i32(oh * params.strideH) - i32(params.padTop), i32(ow * params.strideW) - i32(params.padLeft));
}

// The window's rows and columns inside the input, as half-open ranges [start, end): loops run
// over real elements only, and their count is the product of the lengths.
fn window_rows(top: i32) -> vec2u {
  return vec2u(u32(max(top, 0)), u32(clamp(top + i32(params.KH), 0, i32(params.H))));
}

fn window_cols(left: i32) -> vec2u {
  return vec2u(u32(max(left, 0)), u32(clamp(left + i32(params.KW), 0, i32(params.W))));
}

// KH·KW with the padding counted, else the real elements (never 0: the host refuses windows
// that lie entirely in the padding).
fn avg_divisor(rows: vec2u, cols: vec2u) -> f32 {
  return select(f32((rows.y - rows.x) * (cols.y - cols.x)), f32(params.KH * params.KW), COUNT_INCLUDE_PAD);
}
