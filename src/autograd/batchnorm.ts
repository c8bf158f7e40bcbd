/** Training-mode BatchNorm (src/ops/batchnorm.ts) on the tape, with src/ops/batchnorm-backward.ts as its backward. */
import type { Tensor } from '../runtime/tensor.js';
import { batchNormTrain as batchNormTrainOp, type BatchNormTrainOptions } from '../ops/batchnorm.js';
import { batchNormTrainBackward } from '../ops/batchnorm-backward.js';
import type { Tape } from './tape.js';

/**
 * Training-mode BatchNorm (then ReLU): y, with the batch statistics saved for backward. Running
 * statistics, if given, are updated in the forward pass as usual. γ and β may be null (Keras's
 * scale=False / center=False).
 */
export function batchNormTrain(tape: Tape, x: Tensor, gamma: Tensor | null, beta: Tensor | null, options: BatchNormTrainOptions = {}): Tensor {
  const relu = options.relu ?? false;
  const { y, mean: mu, invStd } = batchNormTrainOp(x, gamma, beta, options);
  const inputs = [x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])];
  const saved = [x, mu, invStd, ...(gamma ? [gamma] : []), ...(relu ? [y] : [])];
  tape.record(
    'batchNormTrain',
    inputs,
    y,
    saved,
    (dy, s) => {
      const [sx, smean, sinv] = s as [Tensor, Tensor, Tensor];
      const sgamma = gamma ? s[3]! : null;
      const sy = relu ? s[s.length - 1]! : undefined;
      const { dx, dgamma, dbeta } = batchNormTrainBackward(dy, sx, sgamma, smean, sinv, { relu, ...(sy ? { y: sy } : {}) });
      return [dx, ...(gamma ? [dgamma] : []), ...(beta ? [dbeta] : [])];
    },
    { savedViews: true, viewGradient: true },
  ); // y and dy may be a branch's slice of a concat: read in place
  // The statistics are only needed by backward, and the tape keeps its own handles on them.
  mu.dispose();
  invStd.dispose();
  return y;
}
