/**
 * The autograd tape. Ops run through the tape's functions (src/autograd/functions.ts) compute
 * their forward result as usual and, when an input requires a gradient, record a node: the
 * inputs, the output, the tensors the backward pass needs (kept outside engine scopes until
 * backward is done with them) and the backward rule, which calls the op's backward kernels.
 *
 * `backward(loss)` walks the nodes once in reverse recording order (recording order is a
 * topological order: an op's inputs exist before it runs). Gradients of tensors used by several
 * ops (an Inception module fans its input out to four branches) are summed in place; each
 * node's saved tensors and the gradient of its output are freed as soon as the node has run,
 * so memory falls as the walk proceeds. Parameters (`param`) keep their gradients, summed over
 * backward calls until `zeroGrad()`, for optimizers to read with `grad(p)`.
 */
import type { Engine } from '../runtime/engine.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import type { Tensor } from '../runtime/tensor.js';
import { scaledAddInPlace } from '../ops/reduce.js';
import { sliceChannels } from '../ops/concat.js';

/**
 * A handle on t's data for a backward rule: t itself (a new handle on its buffer) or, for a
 * channel view (an op that wrote into its slice of a concat buffer), a contiguous copy of the
 * slice, since backward kernels read plain tensors.
 */
function contiguousHandle(t: Tensor): Tensor {
  if (!t.slice) return t.reshape(t.shape);
  const span = t.spanTensor();
  const wide = span.reshape([t.size / Math.max(1, t.channels), t.slice.stride]);
  span.dispose();
  const part = sliceChannels(wide, t.slice.offset, t.channels);
  wide.dispose();
  const shaped = part.reshape(t.shape);
  part.dispose();
  return shaped;
}

/** Given the gradient of a node's output and the tensors it saved (handles the tape keeps
 * alive, in the order given to record: use these, not the originals, which the caller may
 * have disposed), the gradients of its inputs (undefined: none). */
export type BackwardRule = (dy: Tensor, saved: readonly Tensor[]) => (Tensor | undefined)[];

interface TapeNode {
  op: string;
  inputs: Tensor[];
  output: Tensor;
  saved: Tensor[];
  backward: BackwardRule;
  /** The rule's kernels read a channel-view gradient in place (else it gets a plain copy). */
  viewGradient: boolean;
  /** The profiler's layer when the op ran; its backward dispatches are filed under it too. */
  layer: string | undefined;
}

export class Tape {
  private nodes: TapeNode[] = [];
  /** Ids of tensors whose gradient is wanted: parameters and what was computed from them. */
  private tracked = new Set<number>();
  private params = new Map<number, Tensor>();
  private paramGrads = new Map<number, Tensor>();
  private paused = 0;

  constructor(readonly engine: Engine) {}

  /** Marks a tensor as a parameter: its gradient is kept after backward. Returns it. */
  param<T extends Tensor>(t: T): T {
    this.params.set(t.id, t);
    this.tracked.add(t.id);
    return t;
  }

  /** Whether a gradient will flow to this tensor. */
  requiresGrad(t: Tensor): boolean {
    return this.tracked.has(t.id);
  }

  get recording(): boolean {
    return this.paused === 0;
  }

  /** Runs fn without recording anything (evaluation, optimizer updates). */
  noGrad<T>(fn: () => T): T {
    this.paused++;
    try {
      return fn();
    } finally {
      this.paused--;
    }
  }

  /** Nodes recorded and not yet consumed by backward. */
  get size(): number {
    return this.nodes.length;
  }

  /**
   * Records an op if any input requires a gradient (and recording is on). `saved` are the
   * tensors the backward rule reads; the tape takes handles on them that outlive engine
   * scopes and frees them after the node's backward has run. Returns whether it recorded.
   */
  record(
    op: string,
    inputs: readonly Tensor[],
    output: Tensor,
    saved: readonly Tensor[],
    backward: BackwardRule,
    options: { savedViews?: boolean; viewGradient?: boolean } = {},
  ): boolean {
    if (!this.recording || !inputs.some((t) => this.tracked.has(t.id))) return false;
    this.tracked.add(output.id);
    // A rule whose kernels read channel views (savedViews) keeps them as they are; for the
    // others a saved view is copied to a plain tensor.
    const handles = saved.map((t) => this.engine.keep(options.savedViews ? t.reshape(t.shape) : contiguousHandle(t)));
    this.nodes.push({
      op,
      inputs: [...inputs],
      output,
      saved: handles,
      backward,
      viewGradient: options.viewGradient ?? false,
      layer: this.engine.profiler.layer,
    });
    return true;
  }

  /**
   * Back-propagates from `loss` (a tensor of one element, seeded with 1, or any tensor with
   * `dLoss` of its shape). Consumes the recorded nodes; parameters' gradients are added to
   * what earlier backward calls left (see zeroGrad).
   */
  backward(loss: Tensor, dLoss?: Tensor): void {
    if (!this.tracked.has(loss.id)) throw new InvalidArgumentError(`backward: ${loss.describe()} does not depend on any parameter through recorded ops`);
    if (!dLoss && loss.size !== 1)
      throw new InvalidArgumentError(
        `backward: the loss ${loss.describe()} has ${loss.size} elements; pass dLoss of its shape or reduce it to one element first`,
      );
    const engine = this.engine;
    const grads = new Map<number, Tensor>();
    const seed = dLoss ? dLoss.reshape(dLoss.shape) : engine.tensor(new Float32Array([1]), loss.shape);
    grads.set(loss.id, engine.keep(seed));
    try {
      for (let i = this.nodes.length - 1; i >= 0; i--) {
        const node = this.nodes[i]!;
        const dy = grads.get(node.output.id);
        if (dy) {
          grads.delete(node.output.id);
          const dxs = engine.profiler.withLayer(node.layer, () =>
            engine.scope(() => node.backward(dy.slice && !node.viewGradient ? contiguousHandle(dy) : dy, node.saved)),
          );
          node.inputs.forEach((input, j) => {
            const dx = dxs[j];
            if (!dx || !this.tracked.has(input.id)) {
              dx?.dispose();
              return;
            }
            // Sums where a tensor fed several ops (every module's input feeds four branches).
            engine.profiler.withLayer('(gradient sums)', () => this.accumulate(grads, input, dx));
          });
          dy.dispose();
        }
        for (const t of node.saved) t.dispose();
        this.nodes.pop();
      }
      // What reached parameters is kept; anything else (inputs that were not parameters) goes.
      for (const [id, g] of grads) {
        const p = this.params.get(id);
        if (p) engine.profiler.withLayer('(gradient sums)', () => this.accumulateParam(p, g));
        else g.dispose();
      }
      this.tracked = new Set(this.params.keys());
    } catch (e) {
      for (const g of grads.values()) g.dispose();
      this.clear();
      throw e;
    }
  }

  private accumulate(grads: Map<number, Tensor>, input: Tensor, dx: Tensor): void {
    const kept = this.engine.keep(dx);
    let prev = grads.get(input.id);
    if (!prev) {
      grads.set(input.id, kept);
      return;
    }
    // A gradient may arrive as a channel view of a concat's gradient; sums need plain tensors.
    if (prev.slice) {
      const plain = this.engine.keep(contiguousHandle(prev));
      prev.dispose();
      prev = plain;
      grads.set(input.id, prev);
    }
    const addend = kept.slice ? contiguousHandle(kept) : kept;
    scaledAddInPlace(prev, addend, 1);
    if (addend !== kept) addend.dispose();
    kept.dispose();
  }

  private accumulateParam(p: Tensor, g: Tensor): void {
    const prev = this.paramGrads.get(p.id);
    if (!prev) {
      this.paramGrads.set(p.id, this.engine.keep(g));
      return;
    }
    scaledAddInPlace(prev, g, 1);
    g.dispose();
  }

  /** The gradient of a parameter from the backward calls since zeroGrad (undefined if none reached it). */
  grad(p: Tensor): Tensor | undefined {
    if (!this.params.has(p.id)) throw new InvalidArgumentError(`grad: ${p.describe()} is not a parameter of this tape (mark it with tape.param)`);
    return this.paramGrads.get(p.id);
  }

  /** Frees every parameter's gradient. */
  zeroGrad(): void {
    for (const g of this.paramGrads.values()) g.dispose();
    this.paramGrads.clear();
  }

  /** Drops recorded nodes without running them (a forward pass whose loss is not needed). */
  clear(): void {
    for (const n of this.nodes) for (const t of n.saved) t.dispose();
    this.nodes = [];
    this.tracked = new Set(this.params.keys());
  }

  /** Frees everything the tape holds: nodes, saved tensors and gradients. */
  dispose(): void {
    this.clear();
    this.zeroGrad();
    this.params.clear();
    this.tracked.clear();
  }
}
