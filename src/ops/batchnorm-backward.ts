/** Backward of batchNormTrain, with ReLU's backward fused (kernels/batchnorm-backward.wgsl). */
import batchnormBackwardWgsl from '../../kernels/batchnorm-backward.wgsl';
import { InvalidArgumentError } from '../runtime/errors.js';
import { KernelFamily } from '../runtime/kernel.js';
import type { Tensor } from '../runtime/tensor.js';
import { batchNormChunking } from './batchnorm.js';
import { engineOf, expectDType } from './util.js';
import { guardOp } from '../runtime/op-guard.js';

export const batchnormBackwardKernel = new KernelFamily('batchnorm-backward.wgsl', batchnormBackwardWgsl);
const WORKGROUP_SIZE = 64;

export interface BatchNormBackwardOptions {
  /** The forward applied ReLU: pass its output y, whose sign masks dy. */
  relu?: boolean;
  y?: Tensor;
}

/**
 * Gradients of y = γ·(x − μ)·invStd + β (then ReLU) in training mode: { dx, dgamma, dbeta }.
 * Needs the forward's input x, γ (null if it had none), and the batch statistics
 * batchNormTrain returned, `mean` and `invStd` ([C] each); with `relu`, also its output y,
 * whose sign is the ReLU mask. dy, x and y may be channel views (as the forward's x and y may
 * be); dx [x's shape], dgamma and dbeta [C] are plain. dgamma is computed even without γ (then
 * γ = 1 and dgamma is the gradient a γ would get); dbeta is β's gradient whether or not the
 * forward had a β.
 */
export const batchNormTrainBackward = guardOp(
  'batchNormTrainBackward',
  function batchNormTrainBackward(
    dy: Tensor,
    x: Tensor,
    gamma: Tensor | null,
    mean: Tensor,
    invStd: Tensor,
    options: BatchNormBackwardOptions = {},
  ): { dx: Tensor<'f32'>; dgamma: Tensor<'f32'>; dbeta: Tensor<'f32'> } {
    const op = 'batchNormTrainBackward';
    if (options.relu !== undefined && typeof options.relu !== 'boolean')
      throw new InvalidArgumentError(`${op}: relu must be a boolean, got ${String(options.relu)}`);
    const relu = options.relu ?? false;
    if (relu && !options.y) throw new InvalidArgumentError(`${op}: relu needs the forward output y (its sign is the ReLU mask)`);
    const engine = engineOf(op, dy, x, mean, invStd, ...(gamma ? [gamma] : []), ...(options.y ? [options.y] : []));
    // dy, x and y may be channel views (a branch's slice of a concat and its gradient); the rest not.
    for (const [name, t] of [
      ['dy', dy],
      ['x', x],
      ['mean', mean],
      ['invStd', invStd],
      ...(gamma ? [['gamma', gamma]] : []),
      ...(options.y ? [['y', options.y]] : []),
    ] as [string, Tensor][]) {
      expectDType(op, name, t, 'f32');
      if (t.slice && name !== 'dy' && name !== 'x' && name !== 'y')
        throw new InvalidArgumentError(`${op}: ${name} is ${t.describe()}, a channel view; pass a plain tensor`);
    }
    if (x.rank < 1) throw new InvalidArgumentError(`${op}: x needs a channel dimension, got ${x.describe()}`);
    const channels = x.channels;
    const rows = channels === 0 ? 0 : x.size / channels;
    const same = (t: Tensor) => t.shape.length === x.shape.length && t.shape.every((d, i) => d === x.shape[i]);
    if (!same(dy)) throw new InvalidArgumentError(`${op}: dy must have x's shape [${x.shape.join(', ')}], got ${dy.describe()}`);
    if (options.y && !same(options.y)) throw new InvalidArgumentError(`${op}: y must have x's shape [${x.shape.join(', ')}], got ${options.y.describe()}`);
    for (const [name, t] of [['mean', mean], ['invStd', invStd], ...(gamma ? [['gamma', gamma]] : [])] as [string, Tensor][]) {
      if (t.size !== channels) throw new InvalidArgumentError(`${op}: ${name} must have ${channels} elements (one per channel), got ${t.describe()}`);
    }
    if (rows === 0) throw new InvalidArgumentError(`${op}: x has no rows (${x.describe()})`);
    const { chunks, rowsPerChunk } = batchNormChunking(rows);
    const yMask = options.y ?? dy; // never read without relu
    const params = {
      rows,
      channels,
      rowsPerChunk,
      chunks,
      dyOffset: dy.channelLayout.offset,
      dyStride: dy.channelLayout.stride,
      xOffset: x.channelLayout.offset,
      xStride: x.channelLayout.stride,
      yOffset: yMask.channelLayout.offset,
      yStride: yMask.channelLayout.stride,
    };
    const overrides = { RELU: relu ? 1 : 0, HAS_GAMMA: gamma ? 1 : 0 };
    const n = rows * channels;
    const partials = engine.empty([chunks * channels, 2], 'f32', `${op} partials`);
    const dgamma = engine.empty([channels], 'f32', `${op} dgamma`);
    const dbeta = engine.empty([channels], 'f32', `${op} dbeta`);
    const dx = engine.empty(x.shape, 'f32', `${op} dx`);
    try {
      engine.dispatch({
        op,
        kernel: batchnormBackwardKernel,
        entry: 'partial_sums',
        overrides,
        bindings: { dy, x, y: yMask, mean, invStd, params, partialsOut: partials },
        views: ['dy', 'x', 'y'],
        workgroups: engine.grid1d(chunks * channels, WORKGROUP_SIZE),
        cost: { flops: 5 * n, bytes: 4 * (relu ? 3 : 2) * n + 8 * chunks * channels },
      });
      engine.dispatch({
        op,
        kernel: batchnormBackwardKernel,
        entry: 'merge_sums',
        bindings: { params, partials, dgammaOut: dgamma, dbetaOut: dbeta },
        workgroups: engine.grid1d(channels, WORKGROUP_SIZE),
        cost: { flops: 2 * chunks * channels, bytes: 8 * chunks * channels + 8 * channels },
      });
      engine.dispatch({
        op,
        kernel: batchnormBackwardKernel,
        entry: 'input_gradient',
        overrides,
        bindings: { dy, x, y: yMask, mean, invStd, params, gamma: gamma ?? mean, dgamma, dbeta, dx },
        views: ['dy', 'x', 'y'],
        workgroups: engine.grid1d(n, WORKGROUP_SIZE),
        cost: { flops: 8 * n, bytes: 4 * (relu ? 4 : 3) * n },
      });
    } finally {
      partials.dispose();
    }
    return { dx, dgamma, dbeta };
  },
);
