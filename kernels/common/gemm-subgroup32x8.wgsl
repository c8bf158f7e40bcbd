// What matmul.wgsl's and conv2d.wgsl's subgroup32x8 share: the right operand's 4×4 panels. The
// bodies themselves stay in the kernels, since their loops differ on purpose: matmul's writes
// its eight row groups out (16 accumulators in registers), conv's walks them in a rolled loop
// over arrays, as its gathers, written out in a row, made SwiftShader hang (see conv2d.wgsl's
// subgroup16x8).
// The including kernel defines right_vec4(at) -> vec4f, vec4 `at` of its right operand (as for
// common/gemm-subgroup16x8.wgsl).

// Rows k0..k0+3 at column group c4 of the params.K × width4 matrix of vec4s from vec4 `base`
// on, as a matrix whose column s is row k0+s (rows past K clamped; the left side is zero there).
fn right_panel(base: u32, width4: u32, k0: u32, c4: u32) -> mat4x4f {
  let last = params.K - 1u;
  return mat4x4f(
    right_vec4(base + min(k0, last) * width4 + c4),
    right_vec4(base + min(k0 + 1u, last) * width4 + c4),
    right_vec4(base + min(k0 + 2u, last) * width4 + c4),
    right_vec4(base + min(k0 + 3u, last) * width4 + c4),
  );
}
