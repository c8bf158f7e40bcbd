// The optional epilogue of the conv and matmul kernels, per output channel (column) j:
// out = relu(acc·scale[j] + shift[j]). A bias is a shift; BatchNorm folded for inference is scale
// and shift (src/ops/epilogue.ts binds them). Chosen by overrides, so a plain product pays nothing.
// Scalar kernels read scale and shift, vec4 kernels scale4 and shift4 (the same bindings).

override HAS_SCALE: bool = false;
override HAS_SHIFT: bool = false;
override RELU: bool = false;

@group(0) @binding(4) var<storage, read> scale: array<f32>;
@group(0) @binding(5) var<storage, read> shift: array<f32>;
@group(0) @binding(4) var<storage, read> scale4: array<vec4f>;
@group(0) @binding(5) var<storage, read> shift4: array<vec4f>;

fn epilogue1(v: f32, j: u32) -> f32 {
  var r = v;
  if (HAS_SCALE) { r = r * scale[j]; }
  if (HAS_SHIFT) { r = r + shift[j]; }
  if (RELU) { r = max(r, 0.0); }
  return r;
}

// Channels 4·j4 .. 4·j4 + 3.
fn epilogue4(v: vec4f, j4: u32) -> vec4f {
  var r = v;
  if (HAS_SCALE) { r = r * scale4[j4]; }
  if (HAS_SHIFT) { r = r + shift4[j4]; }
  if (RELU) { r = max(r, vec4f(0.0)); }
  return r;
}
