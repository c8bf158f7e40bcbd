/**
 * An exponential moving average of the weights, for evaluation (Inception-v3 is evaluated with
 * a running average of the parameters): TensorFlow's tf.train.ExponentialMovingAverage.
 *
 *   avg ← avg − (1 − d)·(avg − w)    (= d·avg + (1 − d)·w), one dispatch per tensor
 *   d   = decay, or with `numUpdates`: min(decay, (1 + n) / (10 + n)), n the update count
 *         before this update (or the number passed to update), so early averages follow the
 *         weights closely instead of remembering the initialisation for ~10^4 steps.
 *
 * The averages start as copies of the parameters. 1 − d is formed in float64 and passed to the
 * kernel as a uniform (1 − f32(0.9999) would be 1e-4 off relative). `swap()` exchanges weights
 * and averages in place (the model keeps its tensors), so evaluating with the averages is
 * `ema.swap(); evaluate(); ema.swap();` or `await ema.withAverages(() => evaluate())`.
 */
import type { Engine } from '../runtime/engine.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import { Tensor } from '../runtime/tensor.js';
import { OPTIMIZER_WG, copyValues, optimizerKernel, swapValues } from './kernel.js';
import { checkNumber, checkStateValue, resolveParams, writeState, type ParamSource, type StateValue } from './optimizer.js';

export interface EMAOptions {
  /** d: default 0.9999, in [0, 1]. */
  decay?: number;
  /** TensorFlow's num_updates warm-up, d = min(decay, (1 + n)/(10 + n)), n counted by the EMA
   * itself (update(n) overrides it, e.g. with the global step). Default false. */
  numUpdates?: boolean;
}

export const EMA_DEFAULT_DECAY = 0.9999;

export class ExponentialMovingAverage {
  readonly decay: number;
  readonly useNumUpdates: boolean;
  readonly params: ReadonlyMap<string, Tensor>;
  private readonly avg = new Map<string, Tensor<'f32'>>();
  private count = 0;
  private countTensor: Tensor<'f32'>;
  private isSwapped = false;
  private disposed = false;

  constructor(
    readonly engine: Engine,
    params: ParamSource,
    options: EMAOptions = {},
  ) {
    const op = 'ema';
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`${op}: options must be an object, got ${String(options)}`);
    this.decay = checkNumber(op, 'decay', options.decay ?? EMA_DEFAULT_DECAY, 0, 1);
    const nu = options.numUpdates ?? false;
    if (typeof nu !== 'boolean') throw new InvalidArgumentError(`${op}: numUpdates must be a boolean, got ${String(nu)}`);
    this.useNumUpdates = nu;
    this.params = resolveParams(op, engine, params);
    for (const [name, p] of this.params) {
      const a = engine.keep(engine.empty(p.shape, 'f32', `ema ${name}`));
      copyValues(engine, op, p, a);
      this.avg.set(name, a);
    }
    this.countTensor = engine.keep(engine.zeros([1], 'f32'));
  }

  /** The averages, by parameter name (while swapped they hold the weights). */
  get averages(): ReadonlyMap<string, Tensor> {
    return this.avg;
  }

  /** Updates applied so far. */
  get updates(): number {
    return this.count;
  }

  /** True while swap() has put the averages into the parameters. */
  get swapped(): boolean {
    return this.isSwapped;
  }

  /** The decay an update at count n uses: decay, or min(decay, (1 + n)/(10 + n)) with numUpdates. */
  decayAt(n?: number): number {
    const k = n ?? this.count;
    if (n === undefined && !this.useNumUpdates) return this.decay;
    return Math.min(this.decay, (1 + k) / (10 + k));
  }

  private checkUsable(what: string): void {
    if (this.disposed) throw new InvalidArgumentError(`ema.${what}: the EMA was disposed`);
    if (this.isSwapped) throw new InvalidArgumentError(`ema.${what}: the averages are swapped into the parameters; swap() back first`);
  }

  /** Records avg ← avg − (1 − d)·(avg − w) for every tensor. `numUpdates` (an integer ≥ 0, e.g.
   * the global step) applies TensorFlow's warm-up with that n, whatever the option says. */
  update(numUpdates?: number): void {
    const op = 'ema.update';
    this.checkUsable('update');
    if (numUpdates !== undefined && (typeof numUpdates !== 'number' || !Number.isInteger(numUpdates) || numUpdates < 0)) {
      throw new InvalidArgumentError(`${op}: numUpdates must be a non-negative integer, got ${String(numUpdates)}`);
    }
    for (const [name, p] of this.params) {
      if (p.isDisposed) throw new InvalidArgumentError(`${op}: parameter '${name}' was disposed`);
    }
    const d = this.decayAt(numUpdates);
    for (const [name, p] of this.params) {
      const n = p.size;
      this.engine.dispatch({
        op: 'ema',
        kernel: optimizerKernel,
        entry: 'ema_update',
        bindings: { average: this.avg.get(name)!, current: p, ema: { n, oneMinusDecay: 1 - d } },
        workgroups: this.engine.grid1d(n, OPTIMIZER_WG),
        cost: { flops: 3 * n, bytes: 12 * n },
      });
    }
    this.count++;
  }

  /** Exchanges parameters and averages in place; call again to restore. */
  swap(): void {
    if (this.disposed) throw new InvalidArgumentError('ema.swap: the EMA was disposed');
    for (const [name, p] of this.params) swapValues(this.engine, 'ema.swap', p, this.avg.get(name)!);
    this.isSwapped = !this.isSwapped;
  }

  /** Runs fn with the averages in the parameters, then swaps the weights back (also on error). */
  async withAverages<T>(fn: () => T | Promise<T>): Promise<T> {
    this.checkUsable('withAverages');
    this.swap();
    try {
      return await fn();
    } finally {
      this.swap();
    }
  }

  /** Overwrites the parameters with the averages (for exporting the averaged model). */
  copyToParams(): void {
    this.checkUsable('copyToParams');
    for (const [name, p] of this.params) copyValues(this.engine, 'ema.copyToParams', this.avg.get(name)!, p);
  }

  /** `${name}.ema` per parameter and `ema.updates` (the count, f32 [1], exact to 2^24). */
  state(): Map<string, Tensor> {
    this.checkUsable('state');
    const out = new Map<string, Tensor>();
    for (const [name, a] of this.avg) out.set(`${name}.ema`, a);
    this.engine.write(this.countTensor, [this.count]);
    out.set('ema.updates', this.countTensor);
    return out;
  }

  loadState(state: ReadonlyMap<string, StateValue>): void {
    const op = 'ema.loadState';
    this.checkUsable('loadState');
    if (!(state instanceof Map)) throw new InvalidArgumentError(`${op}: state must be a Map from state names to tensors or arrays, got ${String(state)}`);
    const targets = new Map<string, Tensor<'f32'>>();
    for (const [name, a] of this.avg) targets.set(`${name}.ema`, a);
    for (const name of state.keys()) {
      if (!targets.has(name) && name !== 'ema.updates') throw new InvalidArgumentError(`${op}: '${name}' is not a state entry of this EMA`);
    }
    for (const [name, t] of targets) checkStateValue(op, name, state.get(name), t.size, this.engine);
    const c = state.get('ema.updates');
    if (c === undefined) throw new InvalidArgumentError(`${op}: 'ema.updates' (the update count) is missing`);
    if (c instanceof Tensor) throw new InvalidArgumentError(`${op}: 'ema.updates' must be host values (read the tensor first): the count is kept on the CPU`);
    const count = c.length === 1 ? c[0] : undefined;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 0)
      throw new InvalidArgumentError(`${op}: 'ema.updates' must hold one non-negative integer`);
    for (const [name, t] of targets) writeState(this.engine, op, state.get(name)!, t);
    this.count = count;
  }

  /** Frees the averages (swap back first if the weights should be the trained ones). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const a of this.avg.values()) a.dispose();
    this.countTensor.dispose();
  }
}
