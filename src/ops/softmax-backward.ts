/** Backward of softmaxCrossEntropy (kernels/softmax-backward.wgsl). */
import softmaxBackwardWgsl from '../../kernels/softmax-backward.wgsl';
import { InvalidArgumentError } from '../runtime/errors.js';
import { KernelFamily } from '../runtime/kernel.js';
import type { Tensor } from '../runtime/tensor.js';
import { engineOf, expectDType } from './util.js';
import { guardOp } from '../runtime/op-guard.js';

export const softmaxBackwardKernel = new KernelFamily('softmax-backward.wgsl', softmaxBackwardWgsl);

export interface SoftmaxCrossEntropyBackwardOptions {
  labelSmoothing?: number;
  /** dL/dloss_row for every row: 1/B for the mean loss (default), 1 for the summed loss. */
  scale?: number;
}

/**
 * dlogits = scale · (p − q'), q' = (1 − ε)·q + ε/K, the gradient of scale · Σ_rows loss_row.
 * Needs the forward's `probabilities` [B, K] (softmaxCrossEntropy returns them) and its targets
 * as given to it: i32 labels [B] (q one-hot) or f32 soft targets q [B, K], each row summing to
 * 1 (the formula uses Σ_k q'_k = 1), and the same labelSmoothing ε. All plain tensors.
 */
export const softmaxCrossEntropyBackward = guardOp(
  'softmaxCrossEntropyBackward',
  function softmaxCrossEntropyBackward(probabilities: Tensor, targets: Tensor, options: SoftmaxCrossEntropyBackwardOptions = {}): Tensor<'f32'> {
    const op = 'softmaxCrossEntropyBackward';
    const engine = engineOf(op, probabilities, targets);
    expectDType(op, 'probabilities', probabilities, 'f32');
    for (const [name, t] of [
      ['probabilities', probabilities],
      ['targets', targets],
    ] as const) {
      if (t.slice) throw new InvalidArgumentError(`${op}: ${name} is ${t.describe()}, a channel view; pass a plain tensor`);
    }
    if (probabilities.rank !== 2) throw new InvalidArgumentError(`${op}: probabilities must be [batch, classes], got ${probabilities.describe()}`);
    const [rows, classes] = probabilities.shape as [number, number];
    const eps = options.labelSmoothing ?? 0;
    if (typeof eps !== 'number' || !(eps >= 0 && eps < 1))
      throw new InvalidArgumentError(`${op}: labelSmoothing must be a number in [0, 1), got ${String(eps)}`);
    const scale = options.scale ?? (rows > 0 ? 1 / rows : 0);
    if (!Number.isFinite(scale)) throw new InvalidArgumentError(`${op}: scale must be a finite number, got ${scale}`);
    const hard = targets.dtype === 'i32';
    if (hard && (targets.rank !== 1 || targets.size !== rows)) throw new InvalidArgumentError(`${op}: labels must be i32 [${rows}], got ${targets.describe()}`);
    if (!hard && (targets.dtype !== 'f32' || targets.rank !== 2 || targets.shape[0] !== rows || targets.shape[1] !== classes)) {
      throw new InvalidArgumentError(`${op}: targets must be i32 labels [${rows}] or f32 soft targets [${rows}, ${classes}], got ${targets.describe()}`);
    }
    const dlogits = engine.empty([rows, classes], 'f32', op);
    const n = rows * classes;
    if (n === 0) return dlogits;
    const labelSlot = hard ? targets : probabilities.bitcast('i32');
    engine.dispatch({
      op,
      kernel: softmaxBackwardKernel,
      entry: 'cross_entropy_backward',
      overrides: { HARD_LABELS: hard ? 1 : 0 },
      // The unused target slot gets a read-only tensor of the right element type (never read).
      bindings: { probabilities, labels: labelSlot, targets: hard ? probabilities : targets, dlogits, params: { rows, classes, smoothing: eps, scale } },
      workgroups: engine.grid1d(n, 256),
      // Per element: the smoothed target (a multiply-add), the difference and the scale.
      cost: { flops: 4 * n, bytes: 4 * (hard ? 2 * n + rows : 3 * n) },
    });
    if (!hard) labelSlot.dispose();
    return dlogits;
  },
);
