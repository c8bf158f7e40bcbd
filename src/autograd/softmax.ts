/** Softmax cross-entropy (src/ops/softmax.ts) on the tape, with src/ops/softmax-backward.ts as its backward. */
import type { Tensor } from '../runtime/tensor.js';
import { mul as mulOp } from '../ops/elementwise.js';
import { softmaxCrossEntropy as crossEntropyOp, type SoftmaxCrossEntropyOptions } from '../ops/softmax.js';
import { softmaxCrossEntropyBackward } from '../ops/softmax-backward.js';
import type { Tape } from './tape.js';

/**
 * Mean softmax cross-entropy with label smoothing over the batch, as a [1] tensor; backward is
 * one kernel, (p − q')/B, from the probabilities the forward saved.
 */
export function softmaxCrossEntropy(
  tape: Tape,
  logits: Tensor,
  targets: Tensor | Int32Array | readonly number[],
  options: SoftmaxCrossEntropyOptions = {},
): Tensor {
  const { losses, meanLoss, probabilities } = crossEntropyOp(logits, targets, options);
  losses.dispose();
  const engine = tape.engine;
  const targetTensor = isTensorLike(targets) ? targets : engine.tensor(Int32Array.from(targets), [targets.length], 'i32');
  tape.record('softmaxCrossEntropy', [logits], meanLoss, [probabilities, targetTensor], (dy, [p, t]) => {
    const g = softmaxCrossEntropyBackward(p!, t!, { labelSmoothing: options.labelSmoothing ?? 0 });
    return [mulOp(g, dy.reshape([1]))];
  });
  probabilities.dispose();
  if (targetTensor !== targets) targetTensor.dispose();
  return meanLoss;
}

function isTensorLike(t: unknown): t is Tensor {
  return typeof t === 'object' && t !== null && 'owner' in t && 'dtype' in t;
}
