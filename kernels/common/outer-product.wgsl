// The register tiles' update: column i of the result is v times component i of s, so a 4×4
// block of accumulators is one matrix (column i: one pixel or row, four channels or columns) and
// the compiler still sees plain registers.
// (Parameter names unlike any kernel's bindings: wgsl_reflect matches names without scopes, and
// an entry that calls this would count a binding named like a parameter as used.)
fn outer4(v: vec4f, s: vec4f) -> mat4x4f {
  return mat4x4f(v * s.x, v * s.y, v * s.z, v * s.w);
}
