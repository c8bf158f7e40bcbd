// 8 × 8 accumulators of a register tile as four 4×4 blocks: aRC holds row group R × column group
// C (each a matrix whose column i is one pixel or row of the group); each kernel says what its
// rows and columns are.
struct Tile8x8 {
  a00: mat4x4f, a01: mat4x4f,
  a10: mat4x4f, a11: mat4x4f,
}
