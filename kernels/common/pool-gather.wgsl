// The body of pool2d-backward.wgsl's gathers, max and average alike: dx at input element i is
// the sum, over the output windows that contain it, of what each window hands back to it. The
// kernel includes it once per entry, renaming `gather` and the hook `window_share` (that
// entry's share of output pixel `pixel`, window (oh, ow)), so each entry binds only what its
// share reads.
fn gather(i: u32) -> f32 {
  let at = position(i);
  let rows = covering(at.ih, params.padTop, params.KH, params.strideH, params.OH);
  let cols = covering(at.iw, params.padLeft, params.KW, params.strideW, params.OW);
  var total = 0.0;
  for (var oh = rows.x; oh <= rows.y; oh++) {
    for (var ow = cols.x; ow <= cols.y; ow++) {
      total += window_share(i, at, out_pixel(at, oh, ow), oh, ow);
    }
  }
  return total;
}
