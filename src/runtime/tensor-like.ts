/**
 * What TensorFlow.js users pass where a tensor is expected: nested arrays, TypedArrays and
 * numbers. guardOp (op-guard.ts) turns them into tensors on the engine of the op's tensor
 * arguments, and refuses anything else with an InvalidArgumentError naming the op and argument
 * (instead of a TypeError from deep inside the op).
 */
import { InvalidArgumentError } from './errors.js';
import { describeValue, flattenTensorLike, isTensorLike, isTfjsTensor, dtypeOf, type TensorLike } from './nested-array.js';
import { Tensor, type DType, type Shape } from './tensor.js';

export { describeValue, dtypeOf, flattenTensorLike, isTensorLike, nestArray, type NestedArray, type TensorLike, type TypedArrayLike } from './nested-array.js';

/** The engine as this module needs it (an Engine; not imported, to keep the import graph flat). */
interface TensorFactory {
  tensor(data: ArrayLike<number>, shape?: Shape, dtype?: DType): Tensor;
}

/**
 * Each guarded op's leading tensor parameters, by name: `name?` may be null/undefined, `name[]`
 * is a list of tensors. Ops take an engine from their tensors, so data passed in their place
 * goes onto the engine of the op's first tensor argument. Parameters after these are not
 * tensors (shapes, counts, options) and pass through unchanged. test/tensor-like.test.ts checks
 * that every exported op is listed.
 */
export const TENSOR_PARAMETERS: Readonly<Record<string, readonly string[]>> = {
  add: ['a', 'b'],
  mul: ['a', 'b'],
  scaleShift: ['x', 'scale', 'shift'],
  relu: ['x'],
  reluBackward: ['dy', 'y'],
  matmul: ['a', 'b'],
  linear: ['x', 'weight', 'bias?'],
  conv2d: ['x', 'w'],
  conv2dWithStatistics: ['x', 'w'],
  conv2dBackward: ['dy', 'x', 'w'],
  conv2dBackwardInput: ['dy', 'w'],
  conv2dBackwardWeights: ['x', 'dy'],
  conv2dBackwardBias: ['dy'],
  channelSlices: ['out'],
  concatChannels: ['inputs[]'],
  sliceChannels: ['x'],
  transpose: ['x'],
  softmax: ['logits'],
  softmaxCrossEntropy: ['logits'],
  softmaxCrossEntropyBackward: ['probabilities', 'targets'],
  topK: ['values'],
  avgPool2d: ['x'],
  maxPool2d: ['x'],
  globalAvgPool: ['x'],
  maxPool2dBackward: ['dy', 'indices'],
  avgPool2dBackward: ['dy'],
  globalAvgPoolBackward: ['dy'],
  dropout: ['x'],
  dropoutBackward: ['dy'],
  sum: ['x'],
  mean: ['x'],
  sumChannels: ['x'],
  globalNorm: ['tensors[]'],
  scaledAdd: ['y', 'x'],
  scaledAddInPlace: ['y', 'x'],
  batchNormStatistics: ['x'],
  batchNormPartialStatistics: ['x'],
  batchNormTrain: ['x', 'gamma?', 'beta?'],
  batchNormInference: ['x', 'gamma?', 'beta?', 'runningMean', 'runningVar'],
  batchNormTrainBackward: ['dy', 'x', 'gamma?', 'mean', 'invStd'],
  resizeRgb: ['words'],
  augmentImages: ['words'],
  // These take the engine itself first and no tensors.
  augmentDrawsGpu: [],
  augmentBatch: [],
};

const ORDINALS = ['1st', '2nd', '3rd'];
const ordinal = (i: number): string => ORDINALS[i] ?? `${i + 1}th`;

function foreignMessage(op: string, param: string, index: number, value: unknown): string {
  const tf = isTfjsTensor(value)
    ? '; to bring a TF.js tensor over, wrap its GPU buffer (engine.wrapGpuBuffer(t.dataToGPU().buffer, t.shape)) or copy it (engine.tensor(await t.data(), t.shape))'
    : '';
  return `${op}: argument '${param}' (${ordinal(index)}) is ${describeValue(value)}; expected an incept-gpu Tensor, a nested array of numbers, a TypedArray or a number${tf}`;
}

/**
 * Replaces tensor-like arguments of `op` in `args` (in place) by tensors on the engine of its
 * first tensor argument, and returns the tensors it made (the caller disposes them after the op).
 * Throws an InvalidArgumentError naming the op and argument for anything that is neither.
 */
export function convertTensorArguments(op: string, params: readonly string[], args: unknown[]): Tensor[] {
  let engine: TensorFactory | undefined;
  const pending: { set: (t: Tensor) => void; data: TensorLike; what: string }[] = [];
  const visit = (value: unknown, what: string, index: number, param: string, set: (t: Tensor) => void): void => {
    if (value instanceof Tensor) {
      engine ??= value.owner as unknown as TensorFactory;
    } else if (isTensorLike(value)) {
      pending.push({ set, data: value, what });
    } else {
      throw new InvalidArgumentError(foreignMessage(op, param, index, value));
    }
  };
  params.forEach((spec, index) => {
    const list = spec.endsWith('[]');
    const optional = spec.endsWith('?');
    const param = spec.replace(/(\[\]|\?)$/, '');
    const value = args[index];
    if (optional && (value === null || value === undefined)) return;
    if (list) {
      if (!Array.isArray(value)) {
        if (value === undefined || value === null || !isTensorLike(value))
          throw new InvalidArgumentError(`${op}: argument '${param}' (${ordinal(index)}) is ${describeValue(value)}; expected an array of tensors`);
        throw new InvalidArgumentError(`${op}: argument '${param}' (${ordinal(index)}) must be an array of tensors, got a TypedArray`);
      }
      // The caller's array is left as it was; the op gets a copy with tensors in it.
      const copy = [...(value as unknown[])];
      copy.forEach((item, i) => visit(item, `${op}: argument '${param}[${i}]'`, index, `${param}[${i}]`, (t) => (copy[i] = t)));
      args[index] = copy;
      return;
    }
    visit(value, `${op}: argument '${param}' (${ordinal(index)})`, index, param, (t) => (args[index] = t));
  });
  if (pending.length === 0) return [];
  if (!engine) {
    throw new InvalidArgumentError(
      `${op}: no argument is an incept-gpu Tensor, so there is no engine to put ${pending[0]!.what.replace(`${op}: `, '')} on; create it with engine.tensor(data) first`,
    );
  }
  const made: Tensor[] = [];
  for (const p of pending) {
    const { shape, values } = flattenTensorLike(p.data, p.what);
    const t = engine.tensor(values, shape, dtypeOf(p.data));
    made.push(t);
    p.set(t);
  }
  return made;
}

/** Ops without an entry in TENSOR_PARAMETERS still refuse a TF.js tensor with a clear message. */
export function refuseForeignTensors(op: string, args: readonly unknown[]): void {
  args.forEach((value, index) => {
    if (isTfjsTensor(value) && !(value instanceof Tensor)) throw new InvalidArgumentError(foreignMessage(op, `#${index + 1}`, index, value));
  });
}

/** True when `result` is `t` or holds it (in an array or as a property), so it must live on. */
export function resultHolds(result: unknown, t: Tensor): boolean {
  if (result === t) return true;
  if (Array.isArray(result)) return result.includes(t);
  if (typeof result === 'object' && result !== null && !(result instanceof Tensor)) return Object.values(result).includes(t);
  return false;
}
