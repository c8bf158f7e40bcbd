// Channel views: a [rows, channels] tensor held as a channel slice of a wider one (a producer
// writing its part of a concat in place, see src/ops/output.ts), each row of the wide tensor
// `outStride` elements long with this tensor's channels from `outOffset` on. The including
// kernel's `params` uniform holds channels, outOffset and outStride.

// Where element i (row i / channels, channel i % channels) lies in the wide tensor. The channel
// is formed as i − row · channels rather than i % channels: the CPU drivers scalarise integer
// division per lane, and this way the row's division is the only one.
fn channel_view_index(i: u32) -> u32 {
  let row = i / params.channels;
  return row * params.outStride + params.outOffset + (i - row * params.channels);
}
