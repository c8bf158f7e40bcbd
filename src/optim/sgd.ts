/**
 * SGD with momentum in PyTorch's form (torch.optim.SGD, dampening 0):
 *
 *   g   ← s·g + wd·w                      s = min(1, clip / (‖G‖ + 1e-6)), see OptimizerOptions
 *   buf ← μ·buf + g                       buf starts at 0, so the first step sets buf = g exactly
 *   w   ← w − lr·buf                      Nesterov: w ← w − lr·(g + μ·buf)
 *
 * With μ = 0 it is plain SGD, w ← w − lr·g, and keeps no buffer. One fused kernel per
 * parameter tensor (kernels/optimizer.wgsl sgd_momentum / sgd_plain).
 */
import type { Engine } from '../runtime/engine.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import type { Tensor } from '../runtime/tensor.js';
import { OPTIMIZER_WG, optimizerKernel } from './kernel.js';
import { BaseOptimizer, checkNumber, type OptimizerOptions, type ParamEntry, type ParamSource } from './optimizer.js';

export interface SGDOptions extends OptimizerOptions {
  /** μ: default 0 (plain SGD), in [0, 1]. */
  momentum?: number;
  /** Nesterov momentum (needs momentum > 0). Default false. */
  nesterov?: boolean;
}

export class SGD extends BaseOptimizer {
  readonly kind = 'sgd';
  readonly momentum: number;
  readonly nesterov: boolean;
  private readonly buffers = new Map<string, Tensor<'f32'>>();

  constructor(engine: Engine, params: ParamSource, options: SGDOptions = {}) {
    super(engine, 'sgd', params, options);
    try {
      this.momentum = checkNumber('sgd', 'momentum', options.momentum ?? 0, 0, 1);
      const nesterov = options.nesterov ?? false;
      if (typeof nesterov !== 'boolean') throw new InvalidArgumentError(`sgd: nesterov must be a boolean, got ${String(nesterov)}`);
      if (nesterov && this.momentum === 0) throw new InvalidArgumentError('sgd: nesterov needs momentum > 0');
      this.nesterov = nesterov;
      if (this.momentum > 0) for (const e of this.entries) this.buffers.set(e.name, this.allocate(e.param.shape, 0));
    } catch (err) {
      this.dispose();
      throw err;
    }
  }

  protected stateOf(e: ParamEntry): [string, Tensor<'f32'>][] {
    const b = this.buffers.get(e.name);
    return b ? [[`${e.name}.sgd.momentum_buffer`, b]] : [];
  }

  protected update(e: ParamEntry, grad: Tensor, lr: number, norm: Tensor, clip: number): void {
    const n = e.param.size;
    const buf = this.buffers.get(e.name);
    const sgd = { n, lr, momentum: this.momentum, weightDecay: e.weightDecay, clip };
    if (buf) {
      this.engine.dispatch({
        op: 'sgd',
        kernel: optimizerKernel,
        entry: 'sgd_momentum',
        overrides: { NESTEROV: this.nesterov ? 1 : 0 },
        bindings: { weights: e.param, grad, gradNorm: norm, momentumBuffer: buf, sgd },
        workgroups: this.engine.grid1d(n, OPTIMIZER_WG),
        // Clip scale and decay 3, buffer 2, (Nesterov 2), weight 2; reads w, g, buf, writes w, buf.
        cost: { flops: (this.nesterov ? 9 : 7) * n, bytes: 20 * n + 4 },
      });
    } else {
      this.engine.dispatch({
        op: 'sgd',
        kernel: optimizerKernel,
        entry: 'sgd_plain',
        bindings: { weights: e.param, grad, gradNorm: norm, sgd },
        workgroups: this.engine.grid1d(n, OPTIMIZER_WG),
        cost: { flops: 5 * n, bytes: 12 * n + 4 },
      });
    }
  }
}
