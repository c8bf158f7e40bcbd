/**
 * What every optimizer here shares: parameters held by name and updated in place, gradients
 * matched to them, weight decay with exclusions, global-norm clipping whose scale is applied
 * inside the update kernel (the norm stays on the GPU), the step count, and the state for
 * checkpoints. RMSProp (rmsprop.ts) and SGD (sgd.ts) add their accumulators and their kernel.
 *
 * A step is recorded, not run: it adds one globalNorm reduction (⌈T/7⌉ + 1 dispatches for T
 * gradients, only when clipping and no norm is passed in) and one fused update dispatch per
 * parameter tensor to the engine's open batch, and reads nothing back.
 */
import type { Engine } from '../runtime/engine.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import { formatShape, Tensor } from '../runtime/tensor.js';
import { globalNorm } from '../ops/reduce.js';
import { copyValues } from './kernel.js';

/** Parameters by name, or a list (named "0", "1", … in the order given). */
export type ParamSource = ReadonlyMap<string, Tensor> | readonly Tensor[];

/** Gradients by parameter name, a list parallel to the parameter list, or a lookup. */
export type GradSource = ReadonlyMap<string, Tensor> | readonly Tensor[] | ((param: Tensor, name: string) => Tensor | undefined);

/** A state entry to load: a tensor (copied on the GPU) or host values (a checkpoint's arrays). */
export type StateValue = Tensor | ArrayLike<number>;

export interface StepOptions {
  /** This step's learning rate (from a schedule: it is a uniform of the dispatch, so changing it
   * every step costs nothing). Defaults to the optimizer's `lr` option. */
  lr?: number;
  /** The global gradient norm as an f32 [1] tensor, when the caller already computed it (to log
   * it, say); otherwise, when clipping, the optimizer computes it with globalNorm. */
  gradNorm?: Tensor;
  /** This step's clipping threshold, overriding the `clipNorm` option; 0 turns clipping off. */
  clip?: number;
}

export interface OptimizerOptions {
  /** Learning rate used when `step` is given none. */
  lr?: number;
  /**
   * L2 weight decay, added to the gradient: g ← g + weightDecay·w (after clipping, so the norm
   * and the clipping see the loss gradient only, as torch.nn.utils.clip_grad_norm_ followed by
   * a PyTorch optimizer's weight_decay). Same update as adding (weightDecay/2)·‖w‖² to the loss.
   * Default 0.
   */
  weightDecay?: number;
  /** Parameters that get no weight decay, e.g. `isBiasOrNorm` (BatchNorm γ/β and biases). */
  excludeFromWeightDecay?: (name: string, param: Tensor) => boolean;
  /**
   * Clip by global norm: every gradient is scaled by min(1, clipNorm / (‖G‖ + 1e-6)), ‖G‖ the
   * norm of all gradients together, computed on the GPU in one pass; the scale is formed inside
   * the update kernel from the norm's buffer, so nothing is read back. Default 2; 0 turns it off.
   */
  clipNorm?: number;
}

/** The interface the trainer programs against. */
export interface Optimizer {
  /** 'rmsprop' or 'sgd': the middle part of the state names. */
  readonly kind: string;
  /** Steps taken (restored by loadState). */
  readonly steps: number;
  /** The parameters, by name, updated in place. */
  readonly params: ReadonlyMap<string, Tensor>;
  /** The global gradient norm of the last step (f32 [1] on the GPU), for logging; undefined when
   * that step did not clip. Owned by the optimizer (valid until the next step or dispose) unless
   * the caller passed it in. */
  readonly gradNorm: Tensor | undefined;
  /** Records one update of every parameter. Checks everything before recording anything. */
  step(grads: GradSource, options?: StepOptions): void;
  /** Named state tensors for a checkpoint (the optimizer's own, not copies): `${param}.${kind}.*`
   * per parameter, and `${kind}.step` (the step count, as an f32 [1] tensor, exact to 2^24). */
  state(): Map<string, Tensor>;
  /** Restores what state() gave, from tensors or host arrays. Every entry must be present. */
  loadState(state: ReadonlyMap<string, StateValue>): void;
  dispose(): void;
}

/** BatchNorm γ/β and biases: every rank-1 parameter, or a name ending in `bias` (torchvision
 * names: `*.bn.weight`, `*.bn.bias`, `*.conv.bias`, `fc.bias`). For `excludeFromWeightDecay`. */
export function isBiasOrNorm(name: string, param: Tensor): boolean {
  return param.rank <= 1 || name.endsWith('bias') || /(^|\.)(bn|norm|batchnorm)\d*\.weight$/i.test(name);
}

/** One parameter and what the update needs to know about it. */
export interface ParamEntry {
  name: string;
  param: Tensor<'f32'>;
  weightDecay: number;
}

const F32_ONE_BITS = 0x3f800000;

export function checkNumber(op: string, name: string, v: unknown, lo: number, hi: number, loOpen = false, hiOpen = false): number {
  const ok = typeof v === 'number' && Number.isFinite(v) && (loOpen ? v > lo : v >= lo) && (hiOpen ? v < hi : v <= hi);
  if (!ok) {
    const range = `${loOpen ? '(' : '['}${lo}, ${hi === Infinity ? '∞' : hi}${hiOpen || hi === Infinity ? ')' : ']'}`;
    throw new InvalidArgumentError(`${op}: ${name} must be a finite number in ${range}, got ${String(v)}`);
  }
  return v;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Checks a parameter collection and names it. */
export function resolveParams(op: string, engine: Engine, params: ParamSource): Map<string, Tensor<'f32'>> {
  const entries: [string, unknown][] = params instanceof Map ? [...params.entries()] : Array.isArray(params) ? params.map((p, i) => [String(i), p]) : [];
  if (!(params instanceof Map) && !Array.isArray(params)) {
    throw new InvalidArgumentError(`${op}: params must be a Map<string, Tensor> or a Tensor[], got ${String(params)}`);
  }
  if (entries.length === 0) throw new InvalidArgumentError(`${op}: params is empty; give at least one parameter tensor`);
  const out = new Map<string, Tensor<'f32'>>();
  const buffers = new Map<GPUBuffer, string>();
  for (const [name, p] of entries) {
    if (!(p instanceof Tensor)) throw new InvalidArgumentError(`${op}: params '${name}' is not a tensor`);
    if (p.isDisposed) throw new InvalidArgumentError(`${op}: params '${name}' (${p.describe()}) was disposed`);
    if ((p.owner as unknown) !== engine) throw new InvalidArgumentError(`${op}: params '${name}' belongs to another engine`);
    if (p.dtype !== 'f32') throw new InvalidArgumentError(`${op}: params '${name}' must be f32, got ${p.describe()}`);
    if (p.slice) throw new InvalidArgumentError(`${op}: params '${name}' is ${p.describe()}, a channel view; parameters must be plain tensors`);
    const other = buffers.get(p.buffer);
    if (other !== undefined)
      throw new InvalidArgumentError(`${op}: params '${name}' and '${other}' share one buffer; each parameter is updated in place and must have its own`);
    buffers.set(p.buffer, name);
    out.set(name, p as Tensor<'f32'>);
  }
  return out;
}

export abstract class BaseOptimizer implements Optimizer {
  abstract readonly kind: string;
  readonly params: ReadonlyMap<string, Tensor>;
  readonly lr: number | undefined;
  readonly clipNorm: number;
  protected readonly entries: ParamEntry[];
  private stepCount = 0;
  private stepTensor: Tensor<'f32'>;
  /** Bound in place of the norm when a step does not clip (the kernel does not read it then). */
  private noNorm: Tensor<'f32'>;
  private ownedNorm: Tensor | undefined;
  private lastNorm: Tensor | undefined;
  private disposed = false;
  /** Every tensor this optimizer allocated. */
  private readonly owned: Tensor[] = [];

  protected constructor(
    readonly engine: Engine,
    protected readonly op: string,
    params: ParamSource,
    options: OptimizerOptions,
  ) {
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`${op}: options must be an object, got ${String(options)}`);
    this.params = resolveParams(op, engine, params);
    this.lr = options.lr === undefined ? undefined : checkNumber(op, 'lr', options.lr, 0, Infinity);
    const weightDecay = checkNumber(op, 'weightDecay', options.weightDecay ?? 0, 0, Infinity);
    this.clipNorm = checkNumber(op, 'clipNorm', options.clipNorm ?? 2, 0, Infinity);
    const exclude = options.excludeFromWeightDecay;
    if (exclude !== undefined && typeof exclude !== 'function') {
      throw new InvalidArgumentError(`${op}: excludeFromWeightDecay must be a function (name, param) => boolean, got ${String(exclude)}`);
    }
    this.entries = [...this.params].map(([name, param]) => ({
      name,
      param: param as Tensor<'f32'>,
      weightDecay: exclude?.(name, param) ? 0 : weightDecay,
    }));
    this.stepTensor = this.allocate([1], 0);
    this.noNorm = this.allocate([1], 0);
  }

  get steps(): number {
    return this.stepCount;
  }

  get gradNorm(): Tensor | undefined {
    return this.lastNorm;
  }

  /** The weight decay each parameter gets (0 for the excluded ones). */
  weightDecayOf(name: string): number {
    const e = this.entries.find((x) => x.name === name);
    if (!e) throw new InvalidArgumentError(`${this.op}.weightDecayOf: no parameter named '${name}'`);
    return e.weightDecay;
  }

  /** A state tensor owned by the optimizer, out of every open scope, filled with `fill`. */
  protected allocate(shape: readonly number[], fill: 0 | 1): Tensor<'f32'> {
    const t = this.engine.keep(this.engine.zeros([...shape], 'f32'));
    if (fill === 1 && t.size > 0) this.engine.fillBits(t, F32_ONE_BITS);
    this.owned.push(t);
    return t;
  }

  /** This optimizer's state tensors of one parameter, by full state name. */
  protected abstract stateOf(entry: ParamEntry): [string, Tensor<'f32'>][];

  /** Records the fused update of one parameter. */
  protected abstract update(entry: ParamEntry, grad: Tensor, lr: number, norm: Tensor, clip: number): void;

  private checkLive(what: string): void {
    if (this.disposed) throw new InvalidArgumentError(`${this.op}.${what}: the optimizer was disposed`);
  }

  step(grads: GradSource, options: StepOptions = {}): void {
    const op = `${this.op}.step`;
    this.checkLive('step');
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`${op}: options must be an object, got ${String(options)}`);
    const lrGiven = options.lr ?? this.lr;
    if (lrGiven === undefined) throw new InvalidArgumentError(`${op}: lr is required (pass { lr } to step, or an lr option to the constructor)`);
    const lr = checkNumber(op, 'lr', lrGiven, 0, Infinity);
    const clip = checkNumber(op, 'clip', options.clip ?? this.clipNorm, 0, Infinity);
    const list = this.resolveGrads(op, grads);
    if (options.gradNorm !== undefined) {
      const g = options.gradNorm;
      if (!(g instanceof Tensor) || g.isDisposed || g.dtype !== 'f32' || g.size !== 1 || g.slice) {
        throw new InvalidArgumentError(
          `${op}: gradNorm must be a live f32 tensor of one element (globalNorm's result), got ${g instanceof Tensor ? g.describe() : String(g)}`,
        );
      }
      if ((g.owner as unknown) !== this.engine) throw new InvalidArgumentError(`${op}: gradNorm belongs to another engine`);
    }

    let norm: Tensor = this.noNorm;
    if (clip > 0) {
      if (options.gradNorm) {
        norm = options.gradNorm;
      } else {
        norm = this.engine.keep(globalNorm(list));
        this.ownedNorm?.dispose();
        this.ownedNorm = norm;
      }
    }
    this.entries.forEach((e, i) => this.update(e, list[i]!, lr, norm, clip));
    this.lastNorm = clip > 0 ? norm : undefined;
    if (this.ownedNorm && this.lastNorm !== this.ownedNorm) {
      this.ownedNorm.dispose();
      this.ownedNorm = undefined;
    }
    this.stepCount++;
  }

  /** The gradient of every parameter, in parameter order, checked. */
  private resolveGrads(op: string, grads: GradSource): Tensor[] {
    let lookup: (e: ParamEntry, i: number) => unknown;
    if (grads instanceof Map) {
      for (const name of grads.keys()) {
        if (!this.params.has(name)) throw new InvalidArgumentError(`${op}: grads has '${name}', which is not a parameter of this optimizer`);
      }
      lookup = (e) => grads.get(e.name);
    } else if (Array.isArray(grads)) {
      if (grads.length !== this.entries.length) {
        throw new InvalidArgumentError(`${op}: grads has ${grads.length} tensors for ${this.entries.length} parameters`);
      }
      lookup = (_e, i) => grads[i];
    } else if (typeof grads === 'function') {
      lookup = (e) => grads(e.param, e.name);
    } else {
      throw new InvalidArgumentError(`${op}: grads must be a Map<string, Tensor>, a Tensor[] or a function (param, name) => Tensor, got ${String(grads)}`);
    }
    return this.entries.map((e, i) => {
      const g = lookup(e, i);
      const what = `grads['${e.name}']`;
      if (g === undefined || g === null) throw new InvalidArgumentError(`${op}: ${what} is missing; every parameter needs a gradient`);
      if (!(g instanceof Tensor)) throw new InvalidArgumentError(`${op}: ${what} is not a tensor`);
      if (g.isDisposed) throw new InvalidArgumentError(`${op}: ${what} (${g.describe()}) was disposed`);
      if ((g.owner as unknown) !== this.engine) throw new InvalidArgumentError(`${op}: ${what} belongs to another engine`);
      if (g.dtype !== 'f32') throw new InvalidArgumentError(`${op}: ${what} must be f32, got ${g.describe()}`);
      if (g.slice) throw new InvalidArgumentError(`${op}: ${what} is ${g.describe()}, a channel view; pass a plain tensor`);
      if (!sameShape(g.shape, e.param.shape)) {
        throw new InvalidArgumentError(`${op}: ${what} has shape ${formatShape(g.shape)} but the parameter has ${formatShape(e.param.shape)}`);
      }
      if (g.buffer === e.param.buffer) throw new InvalidArgumentError(`${op}: ${what} shares the parameter's buffer`);
      return g;
    });
  }

  private stepName(): string {
    return `${this.kind}.step`;
  }

  state(): Map<string, Tensor> {
    this.checkLive('state');
    const out = new Map<string, Tensor>();
    for (const e of this.entries) for (const [name, t] of this.stateOf(e)) out.set(name, t);
    this.engine.write(this.stepTensor, [this.stepCount]);
    out.set(this.stepName(), this.stepTensor);
    return out;
  }

  loadState(state: ReadonlyMap<string, StateValue>): void {
    const op = `${this.op}.loadState`;
    this.checkLive('loadState');
    if (!(state instanceof Map)) throw new InvalidArgumentError(`${op}: state must be a Map from state names to tensors or arrays, got ${String(state)}`);
    const targets = new Map<string, Tensor<'f32'>>();
    for (const e of this.entries) for (const [name, t] of this.stateOf(e)) targets.set(name, t);
    for (const name of state.keys()) {
      if (!targets.has(name) && name !== this.stepName())
        throw new InvalidArgumentError(`${op}: '${name}' is not a state entry of this ${this.kind} optimizer`);
    }
    // Everything is checked before anything is written.
    for (const [name, target] of targets) checkStateValue(op, name, state.get(name), target.size, this.engine);
    const steps = state.get(this.stepName());
    if (steps === undefined) throw new InvalidArgumentError(`${op}: '${this.stepName()}' (the step count) is missing`);
    if (steps instanceof Tensor)
      throw new InvalidArgumentError(`${op}: '${this.stepName()}' must be host values (read the tensor first): the step count is kept on the CPU`);
    const count = steps.length === 1 ? steps[0] : undefined;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) {
      throw new InvalidArgumentError(
        `${op}: '${this.stepName()}' must hold one non-negative integer, got ${Array.from(steps).slice(0, 4).join(', ')}${steps.length > 4 ? ', …' : ''}`,
      );
    }
    for (const [name, target] of targets) writeState(this.engine, op, state.get(name)!, target);
    this.stepCount = count;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.ownedNorm?.dispose();
    this.ownedNorm = undefined;
    this.lastNorm = undefined;
    for (const t of this.owned) t.dispose();
  }
}

export function checkStateValue(op: string, name: string, v: StateValue | undefined, size: number, engine: Engine): void {
  if (v === undefined) throw new InvalidArgumentError(`${op}: '${name}' is missing`);
  if (v instanceof Tensor) {
    if (v.isDisposed) throw new InvalidArgumentError(`${op}: '${name}' (${v.describe()}) was disposed`);
    if ((v.owner as unknown) !== engine) throw new InvalidArgumentError(`${op}: '${name}' belongs to another engine`);
    if (v.dtype !== 'f32' || v.slice) throw new InvalidArgumentError(`${op}: '${name}' must be a plain f32 tensor, got ${v.describe()}`);
    if (v.size !== size) throw new InvalidArgumentError(`${op}: '${name}' has ${v.size} elements, expected ${size}`);
    return;
  }
  if (v === null || typeof v !== 'object' || typeof (v as ArrayLike<number>).length !== 'number') {
    throw new InvalidArgumentError(`${op}: '${name}' must be a tensor or an array of numbers, got ${String(v)}`);
  }
  if (v.length !== size) throw new InvalidArgumentError(`${op}: '${name}' has ${v.length} values, expected ${size}`);
}

export function writeState(engine: Engine, op: string, v: StateValue, target: Tensor): void {
  if (v instanceof Tensor) {
    if (v.buffer !== target.buffer) copyValues(engine, op, v, target);
  } else {
    engine.write(target, v);
  }
}
