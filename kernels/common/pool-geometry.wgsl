// The geometry both pooling kernels' uniform structs start with (pool2d.wgsl's forward and
// pool2d-backward.wgsl's), a fragment of struct members like conv-geometry.wgsl: x is NHWC
// [N, H, W, C] and the output [N, OH, OW, C]; the window is KH×KW with its strides, padding
// before the first row and column.
// #fragment
  N: u32,
  H: u32,
  W: u32,
  C: u32,
  OH: u32,
  OW: u32,
  // #include "window-geometry.wgsl"
