/**
 * The classifier's end (kernels/softmax.wgsl): softmax, cross-entropy with label smoothing
 * fused with it, and top-k for inference. Rows are examples, columns classes.
 */
import softmaxWgsl from '../../kernels/softmax.wgsl';
import { InvalidArgumentError } from '../runtime/errors.js';
import { KernelFamily } from '../runtime/kernel.js';
import { Tensor } from '../runtime/tensor.js';
import { engineOf, expectDType } from './util.js';
import { guardOp } from '../runtime/op-guard.js';

export const softmaxKernel = new KernelFamily('softmax.wgsl', softmaxWgsl);
const WORKGROUP_SIZE = 64;
/** Bits of the NaN written as the loss of an example whose GPU label is out of range (a quiet
 * NaN with a payload; drivers keep it on the CPU adapters here, but any NaN means the same). */
export const LABEL_NAN_BITS = 0x7fc0bad1;
/** The most entries top-k returns per row. */
export const MAX_TOP_K = 32;

function rowsOf(op: string, name: string, t: Tensor): [number, number] {
  expectDType(op, name, t, 'f32');
  if (t.rank !== 2) throw new InvalidArgumentError(`${op}: ${name} must be rank 2 [batch, classes], got ${t.describe()}`);
  if (t.slice) throw new InvalidArgumentError(`${op}: ${name} is ${t.describe()}, a channel view; pass a plain tensor`);
  const [b, k] = t.shape as [number, number];
  if (b < 1 || k < 1) throw new InvalidArgumentError(`${op}: ${name} needs at least one row and one class, got ${t.describe()}`);
  return [b, k];
}

/** Probabilities per row: exp(l − max) / Σ exp(l − max). */
export const softmax = guardOp('softmax', function softmax(logits: Tensor): Tensor<'f32'> {
  const op = 'softmax';
  const engine = engineOf(op, logits);
  const [rows, classes] = rowsOf(op, 'logits', logits);
  const probabilities = engine.empty([rows, classes], 'f32', op);
  engine.dispatch({
    op,
    kernel: softmaxKernel,
    entry: 'softmax',
    bindings: { logits, params: { rows, classes, smoothing: 0, k: 0, zero: 0 }, probabilities },
    workgroups: engine.grid1d(rows, WORKGROUP_SIZE),
    cost: { flops: 5 * rows * classes, bytes: 4 * (3 * rows * classes) },
  });
  return probabilities;
});

export interface SoftmaxCrossEntropyOptions {
  /** ε in [0, 1): targets become (1 − ε)·q + ε/K. Default 0; the paper and TF-slim use 0.1. */
  labelSmoothing?: number;
}

export interface SoftmaxCrossEntropyResult {
  /** Per example: −Σ_k q'_k log softmax(l)_k, [B]. */
  losses: Tensor<'f32'>;
  /** Mean of losses, [1]. */
  meanLoss: Tensor<'f32'>;
  /** softmax(l), [B, K]: the backward pass is (probabilities − q') / B. */
  probabilities: Tensor<'f32'>;
}

/**
 * Softmax cross-entropy with label smoothing in one kernel per row plus a tiny mean.
 * `targets` are integer class labels (an i32 tensor [B], or host numbers, checked here: every
 * label must be in 0..K−1) or soft targets (f32 [B, K], each row a distribution). Labels on
 * the GPU cannot be checked before the run: an out-of-range one makes that example's loss
 * (and so the mean) NaN.
 */
export const softmaxCrossEntropy = guardOp(
  'softmaxCrossEntropy',
  function softmaxCrossEntropy(
    logits: Tensor,
    targets: Tensor | Int32Array | readonly number[],
    options: SoftmaxCrossEntropyOptions = {},
  ): SoftmaxCrossEntropyResult {
    const op = 'softmaxCrossEntropy';
    const engine = engineOf(op, logits, ...(isTensor(targets) ? [targets] : []));
    const [rows, classes] = rowsOf(op, 'logits', logits);
    const eps = options.labelSmoothing ?? 0;
    if (typeof eps !== 'number' || !(eps >= 0 && eps < 1))
      throw new InvalidArgumentError(`${op}: labelSmoothing must be a number in [0, 1), got ${String(eps)}`);
    return engine.scope(() => {
      let labels: Tensor | undefined;
      let soft: Tensor | undefined;
      if (isTensor(targets)) {
        if (targets.dtype === 'i32') {
          if (targets.rank !== 1 || targets.size !== rows)
            throw new InvalidArgumentError(`${op}: labels must be i32 [${rows}] (one per row of logits), got ${targets.describe()}`);
          labels = targets;
        } else if (targets.dtype === 'f32') {
          const [b, k] = rowsOf(op, 'targets', targets);
          if (b !== rows || k !== classes)
            throw new InvalidArgumentError(`${op}: soft targets must be f32 [${rows}, ${classes}] like the logits, got ${targets.describe()}`);
          soft = targets;
        } else {
          throw new InvalidArgumentError(`${op}: targets must be i32 labels [B] or f32 soft targets [B, K], got ${targets.describe()}`);
        }
      } else {
        labels = engine.tensor(checkedLabels(op, targets, rows, classes), [rows], 'i32');
      }
      const losses = engine.empty([rows], 'f32', `${op} losses`);
      const probabilities = engine.empty([rows, classes], 'f32', `${op} probabilities`);
      const meanLoss = engine.empty([1], 'f32', `${op} mean`);
      const params = { rows, classes, smoothing: eps, k: 0, zero: 0 };
      engine.dispatch({
        op,
        kernel: softmaxKernel,
        entry: 'cross_entropy',
        overrides: { HARD_LABELS: labels ? 1 : 0 },
        // Without soft targets the kernel never reads `targets` (and with them never `labels`):
        // the logits fill the unused slot (a read-only binding of the right element type is all
        // it needs), an i32 view of them for labels.
        bindings: labels
          ? { logits, params, probabilities, losses, labels, targets: logits }
          : { logits, params, probabilities, losses, labels: logits.bitcast('i32'), targets: soft! },
        workgroups: engine.grid1d(rows, WORKGROUP_SIZE),
        cost: { flops: 8 * rows * classes, bytes: 4 * ((soft ? 3 : 2) * rows * classes + 2 * rows) },
      });
      engine.dispatch({
        op,
        kernel: softmaxKernel,
        entry: 'mean_loss',
        bindings: { params, rowLosses: losses, meanLoss },
        workgroups: [1],
        cost: { flops: rows, bytes: 4 * (rows + 1) },
      });
      return { losses, meanLoss, probabilities };
    });
  },
);

function isTensor(t: unknown): t is Tensor {
  return t instanceof Tensor;
}

function checkedLabels(op: string, labels: Int32Array | readonly number[], rows: number, classes: number): Int32Array {
  if (labels.length !== rows) throw new InvalidArgumentError(`${op}: ${labels.length} labels given for ${rows} rows of logits`);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (!Number.isInteger(y) || y < 0 || y >= classes)
      throw new InvalidArgumentError(`${op}: label ${y} at index ${i} is not a class index in 0..${classes - 1}`);
  }
  return Int32Array.from(labels);
}

/** The k largest values of each row (descending, ties to the lower index) and their indices. */
export const topK = guardOp('topK', function topK(values: Tensor, k: number): { values: Tensor<'f32'>; indices: Tensor<'i32'> } {
  const op = 'topK';
  const engine = engineOf(op, values);
  const [rows, classes] = rowsOf(op, 'values', values);
  if (!Number.isInteger(k) || k < 1 || k > Math.min(classes, MAX_TOP_K))
    throw new InvalidArgumentError(`${op}: k must be an integer in 1..${Math.min(classes, MAX_TOP_K)} (at most the classes and ${MAX_TOP_K}), got ${k}`);
  const topValues = engine.empty([rows, k], 'f32', `${op} values`);
  const topIndices = engine.empty([rows, k], 'i32', `${op} indices`);
  engine.dispatch({
    op,
    kernel: softmaxKernel,
    entry: 'top_k',
    bindings: { logits: values, params: { rows, classes, smoothing: 0, k, zero: 0 }, topValues, topIndices },
    workgroups: engine.grid1d(rows, WORKGROUP_SIZE),
    cost: { flops: 3 * k * rows * classes, bytes: 4 * (rows * classes + 2 * rows * k) },
  });
  return { values: topValues, indices: topIndices };
});
