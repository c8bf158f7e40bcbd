// The geometry every convolution kernel's uniform struct starts with: a fragment of struct
// members, included inside the struct (`struct ConvParams { // #include … M: u32, … }`), since
// the host's uniform writer (src/runtime/kernel.ts) reads flat structs of scalars.
// x: NHWC [N, H, W, Cin]; w: HWIO [KH, KW, Cin, Cout]; y: NHWC [N, OH, OW, Cout]; padding
// before the first row and column (the rest follows from the output size).
// #fragment
  N: u32,
  H: u32,
  W: u32,
  Cin: u32,
  OH: u32,
  OW: u32,
  Cout: u32,
  // #include "window-geometry.wgsl"
