// The dx register tile of kernels/conv2d-backward.wgsl, one body for its vec4 and scalar forms.
// The forms differ only in how they read the weights (vec4s of the transposed copy, or scalars
// of w as it is) and store dx, so the kernel includes this file once per form, renaming the
// entry, its compute function and these hooks to the form's own:
//   input_weights(tile): where the weights of the tile's 8 input channels are (a struct of the
//     form's own);
//   input_weights_at(ws, kh, kw): the same at tap (kh, kw), once per tap;
//   load_input_weights(ws, co): their weights for output channel co, channels 0..3 and 4..7 of
//     the tile as the columns of a mat2x4f (the inner loop's only form-specific loads);
//   store_input(px, valid, tile, quad, v): channels 4·quad .. 4·quad + 3 of the tile at pixel px.
// The hooks are a few lines each and inline, so each form's inner loop keeps its own loads; the
// phase walk, the dy loads and the accumulators are written once. The rest (Phase, phase_pixel,
// tap_rows, input_work, ip, dy, WG) is the kernel's, shared by both forms.
// #include "outer-product.wgsl"
// #include "tile8x8.wgsl"

// Rows of the tile: the tile's channels 0..3 and 4..7 (b side); columns: the 8 pixels (a00:
// pixels 0..3 × channels 0..3, a01: pixels 0..3 × channels 4..7, a10 / a11: pixels 4..7).
fn input_tile_compute(p: Phase, j0: u32, tile: u32) -> Tile8x8 {
  let ws = input_weights(tile);
  var px: array<vec4u, 8>;
  for (var i = 0u; i < 8u; i++) {
    px[i] = phase_pixel(p, j0 + i);
  }
  var acc00 = mat4x4f(); var acc01 = mat4x4f();
  var acc10 = mat4x4f(); var acc11 = mat4x4f();
  let zero = vec4f(0.0);
  for (var kh = first_tap(p.ph, ip.padTop, ip.strideH); kh < ip.KH; kh += ip.strideH) {
    let dh = tap_offset(p.ph, ip.padTop, kh, ip.strideH);
    for (var kw = first_tap(p.pw, ip.padLeft, ip.strideW); kw < ip.KW; kw += ip.strideW) {
      let t = tap_rows(&px, j0, p.pixels, dh, tap_offset(p.pw, ip.padLeft, kw, ip.strideW));
      if (!any(t.live0) && !any(t.live1)) {
        continue;
      }
      let b = t.base;
      let tw = input_weights_at(ws, kh, kw);
      for (var co = 0u; co < ip.Cout; co++) {
        let bw = load_input_weights(tw, co);
        let b0 = bw[0];
        let b1 = bw[1];
        let a0 = select(zero, vec4f(dy[b[0] + co], dy[b[1] + co], dy[b[2] + co], dy[b[3] + co]), t.live0);
        let a1 = select(zero, vec4f(dy[b[4] + co], dy[b[5] + co], dy[b[6] + co], dy[b[7] + co]), t.live1);
        acc00 += outer4(b0, a0); acc01 += outer4(b1, a0);
        acc10 += outer4(b0, a1); acc11 += outer4(b1, a1);
      }
    }
  }
  return Tile8x8(acc00, acc01, acc10, acc11);
}

@compute @workgroup_size(WG)
fn input_tile(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let work = input_work(gid, groups);
  if (!work.busy) {
    return;
  }
  let p = work.phase;
  let t = input_tile_compute(p, work.j0, work.tile);
  for (var i = 0u; i < 4u; i++) {
    let q0 = phase_pixel(p, work.j0 + i);
    let q1 = phase_pixel(p, work.j0 + 4u + i);
    let v0 = work.j0 + i < p.pixels;
    let v1 = work.j0 + 4u + i < p.pixels;
    store_input(q0, v0, work.tile, 0u, t.a00[i]);
    store_input(q0, v0, work.tile, 1u, t.a01[i]);
    store_input(q1, v1, work.tile, 0u, t.a10[i]);
    store_input(q1, v1, work.tile, 1u, t.a11[i]);
  }
}
