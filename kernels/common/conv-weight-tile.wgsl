// The dw register tile of kernels/conv2d-backward.wgsl, one body for its vec4 and scalar forms.
// The forms differ only in how they read x and dy (vec4s of 4-aligned channels, or scalars of
// clamped ones) and store the partial sums, so the kernel includes this file once per form,
// renaming the entry, its compute function and these hooks to the form's own:
//   tile_channels(work): where the tile's 8 input and 8 output channels are, and the unit the
//     form indexes x and dy in (4 or 1 elements) and its steps to the next pixel, fields unit,
//     xStep and dyStep of a struct of the form's own;
//   load_tile_channels(cs, xAt, dyAt): the tile's channels of x (input channels 0..3, 4..7)
//     and of dy (output channels 0..3, 4..7) at one output pixel, the columns of a mat4x4f in
//     that order (the inner loop's only loads);
//   store_weight(work, ci, quad, v): output channels 4·quad .. 4·quad + 3 of the tile, row ci.
// The hooks are a few lines each and inline, so each form's inner loop keeps its own loads; the
// row walk and the accumulators are written once. The rest (WeightWork, weight_work,
// column_range, row_run, wp, WG) is the kernel's, shared by both forms.
// #include "outer-product.wgsl"
// #include "tile8x8.wgsl"

// Rows: the tile's output channels 0..3 and 4..7 (b side); columns: its input channels (a00:
// input channels 0..3 × output channels 0..3, a01: 0..3 × 4..7, a10 / a11: input channels
// 4..7), which is dw's layout: row ci of a tap is Cout contiguous values.
fn weight_tile_compute(work: WeightWork) -> Tile8x8 {
  let cs = tile_channels(work);
  let cols = column_range(work.kw);
  let p1 = min(wp.pixels, (work.chunk + 1u) * wp.chunkPixels);
  var acc00 = mat4x4f(); var acc01 = mat4x4f();
  var acc10 = mat4x4f(); var acc11 = mat4x4f();
  var p = work.chunk * wp.chunkPixels;
  while (p < p1) {
    let run = row_run(p, p1, work.kh, work.kw, cols);
    var xAt = run[0] / cs.unit;
    var dyAt = run[1] / cs.unit;
    for (var k = 0u; k < run[2]; k++) {
      let ab = load_tile_channels(cs, xAt, dyAt);
      let a0 = ab[0];
      let a1 = ab[1];
      let b0 = ab[2];
      let b1 = ab[3];
      acc00 += outer4(b0, a0); acc01 += outer4(b1, a0);
      acc10 += outer4(b0, a1); acc11 += outer4(b1, a1);
      xAt += cs.xStep;
      dyAt += cs.dyStep;
    }
    p = run[3];
  }
  return Tile8x8(acc00, acc01, acc10, acc11);
}

@compute @workgroup_size(WG)
fn weight_tile(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let work = weight_work(gid, groups);
  if (!work.busy) {
    return;
  }
  let t = weight_tile_compute(work);
  for (var i = 0u; i < 4u; i++) {
    store_weight(work, work.ci0 + i, 0u, t.a00[i]);
    store_weight(work, work.ci0 + i, 1u, t.a01[i]);
    store_weight(work, work.ci0 + 4u + i, 0u, t.a10[i]);
    store_weight(work, work.ci0 + 4u + i, 1u, t.a11[i]);
  }
}
