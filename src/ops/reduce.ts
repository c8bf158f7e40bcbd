/**
 * Reductions training needs: sum, mean, sumChannels (bias gradients), globalNorm (gradient
 * clipping) and y + α·x (optimizer updates). Sums are blocked and tree-shaped (see
 * kernels/reduce.wgsl), so float32 error grows with log(n), not n.
 */
import reduceWgsl from '../../kernels/reduce.wgsl';
import type { Engine } from '../runtime/engine.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import { KernelFamily } from '../runtime/kernel.js';
import { formatShape, type Tensor } from '../runtime/tensor.js';
import { describeShapes, engineOf, expectDType } from './util.js';
import { guardOp } from '../runtime/op-guard.js';

export const reduceKernel = new KernelFamily('reduce.wgsl', reduceWgsl);

/** Must match kernels/reduce.wgsl. */
const WG = 64;
const CHUNK = 64 * 64;
const SLOTS = 7;
const ROWS_PER_BLOCK = 64;
const ELEMENTWISE_WG = 256;

function expectPlain(op: string, name: string, t: Tensor): void {
  if (t.slice) throw new InvalidArgumentError(`${op}: ${name} is ${t.describe()}, a channel view; pass a plain tensor (copy the view first)`);
}

function expectFloatInput(op: string, name: string, t: Tensor): void {
  expectDType(op, name, t, 'f32');
  expectPlain(op, name, t);
}

/**
 * Σ f(x) over every element of every tensor, times `scale`, optionally square-rooted, as a [1]
 * tensor; f is the identity or the square.
 *
 * Tensors go seven to a dispatch of `partial_sums` (seven inputs and the partials buffer are the
 * eight storage bindings every WebGPU device allows), each workgroup summing 4096 elements of one
 * tensor into its own slot of one shared partials buffer; then one `reduce_final` dispatch adds
 * the partials. Dispatches: ⌈T/7⌉ + 1 for T non-empty tensors, e.g. 44 for Inception-v3's ~300
 * parameter tensors, against 2T for a reduction per tensor; each element is read once.
 */
function reduceAll(engine: Engine, op: string, tensors: readonly Tensor[], square: boolean, scale: number, takeSqrt: boolean): Tensor<'f32'> {
  const nonEmpty = tensors.filter((t) => t.size > 0);
  const groupsOf = (t: Tensor) => Math.ceil(t.size / CHUNK);
  const totalPartials = nonEmpty.reduce((s, t) => s + groupsOf(t), 0);
  const partials = engine.empty([Math.max(1, totalPartials)], 'f32', `${op} partials`);
  const result = engine.empty([1], 'f32', op);
  try {
    let partialBase = 0;
    for (let first = 0; first < nonEmpty.length; first += SLOTS) {
      const batch = nonEmpty.slice(first, first + SLOTS);
      const sizes = new Array<number>(8).fill(0);
      const firstGroup = new Array<number>(8).fill(0);
      const inputs: Record<string, Tensor> = {};
      let groups = 0;
      let elements = 0;
      for (let j = 0; j < SLOTS; j++) {
        const t = batch[j];
        firstGroup[j] = groups;
        // Unused slots repeat the first tensor (read-only bindings may alias) with size 0.
        inputs[`t${j}`] = t ?? batch[0]!;
        if (t) {
          sizes[j] = t.size;
          groups += groupsOf(t);
          elements += t.size;
        }
      }
      firstGroup[SLOTS] = groups;
      engine.dispatch({
        op,
        kernel: reduceKernel,
        entry: 'partial_sums',
        overrides: { SQUARE: square ? 1 : 0 },
        bindings: { ...inputs, partialsOut: partials, partialParams: { sizes, firstGroup, partialBase } },
        workgroups: engine.grid1d(groups, 1),
        cost: { flops: (square ? 2 : 1) * elements, bytes: 4 * (elements + groups) },
      });
      partialBase += groups;
    }
    engine.dispatch({
      op,
      kernel: reduceKernel,
      entry: 'reduce_final',
      overrides: { TAKE_SQRT: takeSqrt ? 1 : 0 },
      bindings: { partialsIn: partials, result, finalParams: { count: totalPartials, scale } },
      workgroups: [1],
      cost: { flops: totalPartials + 2, bytes: 4 * (totalPartials + 1) },
    });
  } catch (e) {
    result.dispose();
    throw e;
  } finally {
    partials.dispose();
  }
  return result;
}

/** Σ x over all elements, as a [1] tensor (0 for an empty tensor). */
export const sum = guardOp('sum', function sum(x: Tensor): Tensor<'f32'> {
  const engine = engineOf('sum', x);
  expectFloatInput('sum', 'x', x);
  return reduceAll(engine, 'sum', [x], false, 1, false);
});

/** The mean of all elements, as a [1] tensor. */
export const mean = guardOp('mean', function mean(x: Tensor): Tensor<'f32'> {
  const engine = engineOf('mean', x);
  expectFloatInput('mean', 'x', x);
  if (x.size === 0) throw new InvalidArgumentError(`mean: x (${x.describe()}) is empty; its mean is undefined`);
  return reduceAll(engine, 'mean', [x], false, 1 / x.size, false);
});

/**
 * sqrt(Σ over tensors of Σ x²), as a [1] tensor: the global gradient norm for clipping, in one
 * pass over the data (see reduceAll for the dispatch count).
 */
export const globalNorm = guardOp('globalNorm', function globalNorm(tensors: readonly Tensor[]): Tensor<'f32'> {
  const op = 'globalNorm';
  if (!Array.isArray(tensors) || tensors.length === 0)
    throw new InvalidArgumentError(
      `${op}: tensors must be a non-empty array of f32 tensors, got ${Array.isArray(tensors) ? 'an empty array' : String(tensors)}`,
    );
  const engine = engineOf(op, ...tensors);
  tensors.forEach((t, i) => expectFloatInput(op, `tensors[${i}]`, t));
  return reduceAll(engine, op, tensors, true, 1, true);
});

/**
 * Σ over all dimensions but the innermost: x of shape [..., C] gives [C] (the bias gradient
 * from an NHWC output gradient). Rows are summed 64 at a time, level after level
 * (⌈log64(rows)⌉ dispatches), so no float32 running sum exceeds 64 terms.
 */
export const sumChannels = guardOp('sumChannels', function sumChannels(x: Tensor): Tensor<'f32'> {
  const op = 'sumChannels';
  const engine = engineOf(op, x);
  expectFloatInput(op, 'x', x);
  const channels = x.channels;
  const rows = channels === 0 ? 0 : x.size / channels;
  if (rows === 0) return engine.zeros([channels]);
  const result = engine.empty([channels], 'f32', op);
  // Recorded work keeps its order, so each intermediate goes back to the pool once the next
  // level is recorded.
  const intermediates: Tensor[] = [];
  try {
    let input: Tensor = x;
    let inputRows = rows;
    for (;;) {
      const outRows = Math.ceil(inputRows / ROWS_PER_BLOCK);
      const output = outRows === 1 ? result : engine.empty([outRows, channels], 'f32', `${op} partial rows`);
      if (output !== result) intermediates.push(output);
      engine.dispatch({
        op,
        kernel: reduceKernel,
        entry: 'sum_rows',
        bindings: { rowsIn: input, rowsOut: output, rowsParams: { rows: inputRows, channels, outRows } },
        workgroups: engine.grid1d(outRows * channels, WG),
        cost: { flops: inputRows * channels, bytes: 4 * (inputRows + outRows) * channels },
      });
      if (output === result) break;
      input = output;
      inputRows = outRows;
    }
  } catch (e) {
    result.dispose();
    throw e;
  } finally {
    for (const t of intermediates) t.dispose();
  }
  return result;
});

function checkAxpy(op: string, y: Tensor, x: Tensor, alpha: number): Engine {
  const engine = engineOf(op, y, x);
  expectFloatInput(op, 'y', y);
  expectFloatInput(op, 'x', x);
  if (y.shape.length !== x.shape.length || y.shape.some((d, i) => d !== x.shape[i])) {
    throw new InvalidArgumentError(`${op}: y and x must have the same shape, got ${describeShapes(y, x)}`);
  }
  if (typeof alpha !== 'number' || !Number.isFinite(alpha)) throw new InvalidArgumentError(`${op}: alpha must be a finite number, got ${String(alpha)}`);
  return engine;
}

/** y + α·x as a new tensor (one fused multiply-add per element). */
export const scaledAdd = guardOp('scaledAdd', function scaledAdd(y: Tensor, x: Tensor, alpha: number): Tensor<'f32'> {
  const op = 'scaledAdd';
  const engine = checkAxpy(op, y, x, alpha);
  const out = engine.empty(y.shape, 'f32', op);
  engine.dispatch({
    op,
    kernel: reduceKernel,
    entry: 'scaled_add',
    bindings: { x, y, out, axpyParams: { n: y.size, alpha } },
    workgroups: engine.grid1d(y.size, ELEMENTWISE_WG),
    cost: { flops: 2 * y.size, bytes: 12 * y.size },
  });
  return out;
});

/** y ← y + α·x in y's own buffer (optimizer updates); returns y. x must not share y's buffer. */
export const scaledAddInPlace = guardOp('scaledAddInPlace', function scaledAddInPlace(y: Tensor, x: Tensor, alpha: number): Tensor<'f32'> {
  const op = 'scaledAddInPlace';
  const engine = checkAxpy(op, y, x, alpha);
  if (x.buffer === y.buffer) {
    throw new InvalidArgumentError(`${op}: x (${x.describe()}) shares y's buffer ${formatShape(y.shape)}; use scaledAdd, or scale y instead`);
  }
  engine.dispatch({
    op,
    kernel: reduceKernel,
    entry: 'scaled_add_in_place',
    bindings: { x, yInOut: y, axpyParams: { n: y.size, alpha } },
    workgroups: engine.grid1d(y.size, ELEMENTWISE_WG),
    cost: { flops: 2 * y.size, bytes: 12 * y.size },
  });
  return y as Tensor<'f32'>;
});
