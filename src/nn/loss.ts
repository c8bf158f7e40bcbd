/**
 * Inception-v3's training loss as the TensorFlow code has it: softmax cross-entropy with label
 * smoothing on the logits, plus the aux head's cross-entropy weighted 0.4 when it is there.
 */
import type { Tensor } from '../runtime/tensor.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import type { Tape } from '../autograd/tape.js';
import * as ag from '../autograd/functions.js';

export const DEFAULT_LABEL_SMOOTHING = 0.1;
export const DEFAULT_AUX_WEIGHT = 0.4;

export interface InceptionLossOptions {
  /** ε of q' = (1 − ε)·one-hot + ε/K; default 0.1. */
  labelSmoothing?: number;
  /** Weight of the aux head's loss; default 0.4. */
  auxWeight?: number;
}

export interface InceptionLoss {
  /** The weighted total, [1]: what backward starts from. */
  total: Tensor;
  /** The main head's mean cross-entropy, [1]. */
  main: Tensor;
  /** The aux head's mean cross-entropy, [1] (unweighted), when there is an aux head. */
  aux?: Tensor;
}

export function inceptionLoss(
  tape: Tape,
  out: { logits: Tensor; auxLogits?: Tensor },
  labels: Tensor | Int32Array | readonly number[],
  options: InceptionLossOptions = {},
): InceptionLoss {
  const labelSmoothing = options.labelSmoothing ?? DEFAULT_LABEL_SMOOTHING;
  const auxWeight = options.auxWeight ?? DEFAULT_AUX_WEIGHT;
  if (!(auxWeight >= 0) || !Number.isFinite(auxWeight))
    throw new InvalidArgumentError(`inceptionLoss: auxWeight must be a finite number ≥ 0, got ${String(auxWeight)}`);
  const main = ag.softmaxCrossEntropy(tape, out.logits, labels, { labelSmoothing });
  if (!out.auxLogits || auxWeight === 0) return { total: main, main };
  const aux = ag.softmaxCrossEntropy(tape, out.auxLogits, labels, { labelSmoothing });
  const total = ag.add(tape, main, ag.mul(tape, aux, tape.engine.tensor(new Float32Array([auxWeight]))));
  return { total, main, aux };
}
