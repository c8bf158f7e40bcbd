/**
 * RMSProp in TensorFlow's form (tf.compat.v1.train.RMSPropOptimizer), as Inception-v3 was
 * trained (Szegedy et al. 2016, §8: decay 0.9, ε = 1.0, momentum 0.9, learning rate 0.045
 * decayed by 0.94 every two epochs, gradient clipping at 2.0):
 *
 *   g   ← s·g + wd·w                      s = min(1, clip / (‖G‖ + 1e-6)), see OptimizerOptions
 *   ms  ← ρ·ms + (1 − ρ)·g²               ms starts at ONES (TensorFlow's initialiser)
 *   mom ← μ·mom + lr·g / √(ms + ε)        ε inside the square root; mom starts at 0
 *   w   ← w − mom
 *
 * One fused kernel per parameter tensor (kernels/optimizer.wgsl rmsprop_update) reads w, g, ms
 * and mom once and writes w, ms and mom once. Not the centered variant. Keras's and PyTorch's
 * RMSprop differ (ms from 0, ε outside the root, lr outside the momentum); this is TF-slim's.
 */
import type { Engine } from '../runtime/engine.js';
import type { Tensor } from '../runtime/tensor.js';
import { OPTIMIZER_WG, optimizerKernel } from './kernel.js';
import { BaseOptimizer, checkNumber, type OptimizerOptions, type ParamEntry, type ParamSource } from './optimizer.js';

export interface RMSPropOptions extends OptimizerOptions {
  /** ρ, TensorFlow's `decay` of the mean square: default 0.9, in [0, 1). */
  rho?: number;
  /** μ: default 0.9, in [0, 1). */
  momentum?: number;
  /** ε, added to the mean square inside the root: default 1.0, > 0. */
  epsilon?: number;
}

export const RMSPROP_DEFAULTS = { rho: 0.9, momentum: 0.9, epsilon: 1.0, clipNorm: 2 } as const;

interface RmspropSlots {
  ms: Tensor<'f32'>;
  mom: Tensor<'f32'>;
}

export class RMSProp extends BaseOptimizer {
  readonly kind = 'rmsprop';
  readonly rho: number;
  readonly momentum: number;
  readonly epsilon: number;
  private readonly slots = new Map<string, RmspropSlots>();

  constructor(engine: Engine, params: ParamSource, options: RMSPropOptions = {}) {
    super(engine, 'rmsprop', params, options);
    try {
      this.rho = checkNumber('rmsprop', 'rho', options.rho ?? RMSPROP_DEFAULTS.rho, 0, 1, false, true);
      this.momentum = checkNumber('rmsprop', 'momentum', options.momentum ?? RMSPROP_DEFAULTS.momentum, 0, 1, false, true);
      this.epsilon = checkNumber('rmsprop', 'epsilon', options.epsilon ?? RMSPROP_DEFAULTS.epsilon, 0, Infinity, true);
      for (const e of this.entries) {
        this.slots.set(e.name, { ms: this.allocate(e.param.shape, 1), mom: this.allocate(e.param.shape, 0) });
      }
    } catch (err) {
      this.dispose();
      throw err;
    }
  }

  protected stateOf(e: ParamEntry): [string, Tensor<'f32'>][] {
    const s = this.slots.get(e.name)!;
    return [
      [`${e.name}.rmsprop.ms`, s.ms],
      [`${e.name}.rmsprop.mom`, s.mom],
    ];
  }

  protected update(e: ParamEntry, grad: Tensor, lr: number, norm: Tensor, clip: number): void {
    const { ms, mom } = this.slots.get(e.name)!;
    const n = e.param.size;
    this.engine.dispatch({
      op: 'rmsprop',
      kernel: optimizerKernel,
      entry: 'rmsprop_update',
      bindings: {
        weights: e.param,
        grad,
        gradNorm: norm,
        ms,
        mom,
        rmsprop: { n, lr, rho: this.rho, oneMinusRho: 1 - this.rho, momentum: this.momentum, epsilon: this.epsilon, weightDecay: e.weightDecay, clip },
      },
      workgroups: this.engine.grid1d(n, OPTIMIZER_WG),
      // Per element: clip scale and decay 3, mean square 4, momentum 6 (sqrt, divide), weight 1;
      // reads w, g, ms, mom and writes w, ms, mom.
      cost: { flops: 14 * n, bytes: 28 * n + 4 },
    });
  }
}
