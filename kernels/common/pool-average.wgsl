// The mean over an output element's pooling window (pool2d.wgsl's avg_pool entries), one body
// for both forms: included as is, and renamed for four channels per invocation
// ({ window_average: window_average4, x_at: x4_at, f32: vec4f }). x_at is the kernel's load of
// one input pixel; `channels` as in its window_of.
fn window_average(win: Window, channels: u32) -> f32 {
  let rows = window_rows(win.top);
  let cols = window_cols(win.left);
  var total = f32(0.0);
  for (var ih = rows.x; ih < rows.y; ih++) {
    for (var iw = cols.x; iw < cols.y; iw++) {
      total += x_at(win, ih, iw, channels);
    }
  }
  return total / avg_divisor(rows, cols);
}
