/** Channel concatenation (src/ops/concat.ts) on the tape: backward hands each input its slice. */
import type { Tensor } from '../runtime/tensor.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import { concatChannels as concatOp, sliceChannels } from '../ops/concat.js';
import type { Tape } from './tape.js';

/** Inputs side by side along channels (a copy); each gets its slice of the gradient back. */
export function concatChannels(tape: Tape, inputs: readonly Tensor[]): Tensor {
  const y = concatOp(inputs);
  const offsets = channelOffsets(inputs);
  tape.record('concatChannels', inputs, y, [], (dy) => inputs.map((t, i) => (tape.requiresGrad(t) ? sliceChannels(dy, offsets[i]!, t.channels) : undefined)));
  return y;
}

/**
 * Records a concat whose producers already wrote into channel views of `out` (channelSlices):
 * no forward work at all; in backward each view gets its slice of out's gradient.
 */
export function concatViews(tape: Tape, out: Tensor, views: readonly Tensor[]): Tensor {
  for (const v of views) {
    if (!v.slice || v.buffer !== out.buffer) throw new InvalidArgumentError(`concatViews: ${v.describe()} is not a channel view of ${out.describe()}`);
  }
  const base = out.channelLayout.offset;
  // Each branch's gradient is a channel view of out's gradient: no copy (kernels that cannot
  // read a view, and the tape's sums, make a plain copy when they need one).
  tape.record('concatViews', views, out, [], (dy) => views.map((v) => (tape.requiresGrad(v) ? dy.channelView(v.slice!.offset - base, v.channels) : undefined)));
  return out;
}

function channelOffsets(inputs: readonly Tensor[]): number[] {
  let o = 0;
  return inputs.map((t) => {
    const at = o;
    o += t.channels;
    return at;
  });
}
