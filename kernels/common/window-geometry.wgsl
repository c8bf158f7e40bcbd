// The window fields that conv-geometry.wgsl and pool-geometry.wgsl end with: a KH×KW window with
// its strides and the padding before the first row and column (a fragment of struct members).
// #fragment
  KH: u32,
  KW: u32,
  strideH: u32,
  strideW: u32,
  padTop: u32,
  padLeft: u32,
