/**
 * Inception-v3 on the engine, from the layer table of inception-v3-spec.ts. Weights are
 * initialised as torchvision does (truncated normal, std 0.1 in ±2, 0.01 for AuxLogits.conv1
 * and 0.001 for AuxLogits.fc; BatchNorm γ = 1, β = 0, running mean 0 and variance 1), seeded.
 * Every parameter and running statistic lives on the GPU, named as torchvision names it.
 *
 * Three ways to run it:
 * - `forward(x)`: inference with BatchNorm folded into each conv's write-out (one kernel per
 *   conv), the folded scale and shift formed on the GPU;
 * - `forward(x, 'unfolded')`: inference as the training graph has it (conv, then BatchNorm from
 *   running statistics, then ReLU), the reference the folded path is tested against;
 * - `forwardTrain(tape, x)`: training on the tape, BatchNorm on batch statistics (fused into
 *   the conv's write-out) updating the running statistics, dropout, and the aux head.
 * Both inferences are the graph compiler's plans (graph/execute.ts) of the model's inference
 * graph (graph/inception-v3-graph.ts), whose weights are the model's own tensors; the folded
 * plan is kept until the parameters change. Concatenations cost nothing in all three: the last
 * op of each branch writes into its channel slice of the module output. Every dispatch is filed
 * under its layer's name in the profiler.
 */
import type { Engine } from '../runtime/engine.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import type { Tensor } from '../runtime/tensor.js';
import { Tape } from '../autograd/tape.js';
import * as ag from '../autograd/functions.js';
import type { MomentumConvention } from '../ops/batchnorm.js';
import { compileGraph, type GraphModel } from '../graph/execute.js';
import type { GraphTensorWeight } from '../graph/ir.js';
import { inceptionV3TensorGraph } from '../graph/inception-v3-graph.js';
import { inceptionV3Spec, type InceptionV3Options, type LayerSpec } from './inception-v3-spec.js';

export const BATCHNORM_EPS = 1e-3;
/** torchvision's (and TF-slim's keep probability 0.8) dropout before the classifier. */
export const DROPOUT_RATE = 0.2;

/** A conv's parameters: weights [KH, KW, Cin, Cout] and BatchNorm, or a bias without it. */
export interface ConvParams {
  w: Tensor;
  gamma?: Tensor;
  beta?: Tensor;
  runningMean?: Tensor;
  runningVar?: Tensor;
  bias?: Tensor;
}

export interface ForwardTrainOptions {
  /** Seed of the dropout mask (Philox; the backward pass regenerates it). Default 0. */
  dropoutSeed?: number;
  /** Dropout rate before the classifier; default 0.2. */
  dropoutRate?: number;
  /** Running-statistics momentum and its convention (default PyTorch's 0.1). */
  momentum?: number;
  momentumConvention?: MomentumConvention;
}

export interface ForwardTrainResult {
  logits: Tensor;
  /** The aux head's logits (present when the model has the aux head). */
  auxLogits?: Tensor;
}

/** Normal samples (Box–Muller on a seeded mulberry32) with std, redrawn outside ±bound. */
function truncatedNormal(count: number, std: number, bound: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    let v: number;
    do v = std * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
    while (Math.abs(v) > bound);
    out[i] = v;
  }
  return out;
}

/** The input size a spec is built for (the spec's own defaults). */
function inputSizeOf(options: InceptionV3Options): number {
  return options.inputSize ?? options.lowResolution ?? (options.variant === 'cifar10' ? 32 : 299);
}

/** Where each layer that feeds a concat writes: its channel slice of the concat's output. */
function concatSlots(layers: readonly LayerSpec[]): Map<string, { concat: string; offset: number }> {
  const byName = new Map(layers.map((l) => [l.name, l]));
  const slots = new Map<string, { concat: string; offset: number }>();
  for (const l of layers) {
    if (l.kind !== 'concat') continue;
    let offset = 0;
    for (const i of l.inputs) {
      slots.set(i, { concat: l.name, offset });
      offset += byName.get(i)!.outputShape[0];
    }
  }
  return slots;
}

export class InceptionV3 {
  readonly layers: LayerSpec[];
  readonly convs = new Map<string, ConvParams>();
  readonly linears = new Map<string, { w: Tensor; b: Tensor }>();
  readonly hasAux: boolean;
  /** The input height and width the model was built for. */
  readonly inputSize: number;
  /** The compiled inference plans; the folded one holds constants made from the parameters. */
  private plans: { folded?: GraphModel<GraphTensorWeight>; unfolded?: GraphModel<GraphTensorWeight> } = {};
  private disposed = false;

  constructor(
    readonly engine: Engine,
    options: InceptionV3Options & { seed?: number } = {},
  ) {
    this.layers = inceptionV3Spec(options);
    this.hasAux = this.layers.some((l) => l.aux);
    this.inputSize = inputSizeOf(options);
    let seed = options.seed ?? 0;
    const keep = (t: Tensor) => engine.keep(t);
    for (const l of this.layers) {
      const cout = l.outputShape[0];
      if (l.kind === 'conv') {
        const [kh, kw] = l.kernel!;
        const bn = l.batchNorm !== false;
        const cin = (l.params - (bn ? 2 : 1) * cout) / (kh * kw * cout); // params = KH·KW·Cin·Cout + γ, β (or a bias)
        const std = l.name === 'AuxLogits.conv1' ? 0.01 : 0.1;
        const w = keep(engine.tensor(truncatedNormal(kh * kw * cin * cout, std, 2, (seed += 7919)), [kh, kw, cin, cout]));
        this.convs.set(
          l.name,
          bn
            ? {
                w,
                gamma: keep(engine.tensor(new Float32Array(cout).fill(1))),
                beta: keep(engine.zeros([cout])),
                runningMean: keep(engine.zeros([cout])),
                runningVar: keep(engine.tensor(new Float32Array(cout).fill(1))),
              }
            : { w, bias: keep(engine.zeros([cout])) },
        );
      } else if (l.kind === 'linear') {
        const inF = l.params / cout - 1;
        const std = l.name === 'AuxLogits.fc' ? 0.001 : 0.1;
        const w = keep(engine.tensor(truncatedNormal(inF * cout, std, 2, (seed += 7919)), [inF, cout]));
        this.linears.set(l.name, { w, b: keep(engine.zeros([cout])) });
      }
    }
  }

  /**
   * Every tensor by torchvision's state-dict name (`Mixed_6b.branch7x7_2.conv.weight`,
   * `….bn.running_mean`, `fc.bias`). Conv weights are in the engine's [KH, KW, Cin, Cout]
   * layout and linear weights [in, out] (torchvision's are OIHW and [out, in]).
   */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [name, p] of this.convs) {
      out.set(`${name}.conv.weight`, p.w);
      if (p.bias) out.set(`${name}.conv.bias`, p.bias);
      if (p.gamma) out.set(`${name}.bn.weight`, p.gamma);
      if (p.beta) out.set(`${name}.bn.bias`, p.beta);
      if (p.runningMean) out.set(`${name}.bn.running_mean`, p.runningMean);
      if (p.runningVar) out.set(`${name}.bn.running_var`, p.runningVar);
    }
    for (const [name, p] of this.linears) {
      out.set(`${name}.weight`, p.w);
      out.set(`${name}.bias`, p.b);
    }
    return out;
  }

  /** The trainable tensors (weights, biases, γ, β) by name: what an optimizer updates. */
  parameters(): Map<string, Tensor> {
    return new Map([...this.stateDict()].filter(([name]) => !name.endsWith('.running_mean') && !name.endsWith('.running_var')));
  }

  /**
   * Drops the folded inference plan with its folded BatchNorm constants, so the next folded
   * forward refolds from the current parameters. forwardTrain and setBatchNorm call it; call it
   * after changing γ, β or the running statistics any other way (an optimizer step follows a
   * forwardTrain, so it is covered). The unfolded plan reads the parameters as they are.
   */
  invalidateFolded(): void {
    this.plans.folded?.dispose();
    delete this.plans.folded;
  }

  /** The inference plan of a mode, compiled on first use from the spec and the live tensors. */
  private plan(mode: 'folded' | 'unfolded'): GraphModel<GraphTensorWeight> {
    let plan = this.plans[mode];
    if (!plan) {
      const { graph, layerOf } = inceptionV3TensorGraph(this, { batchNormEps: BATCHNORM_EPS, dropoutRate: DROPOUT_RATE });
      plan = compileGraph(this.engine, graph, { foldBatchNorm: mode === 'folded', layerName: (node) => layerOf.get(node.name) ?? node.name });
      this.plans[mode] = plan;
    }
    return plan;
  }

  /** Sets BatchNorm parameters of a conv from host arrays of length Cout (any omitted stay). */
  setBatchNorm(
    name: string,
    values: { gamma?: ArrayLike<number>; beta?: ArrayLike<number>; runningMean?: ArrayLike<number>; runningVar?: ArrayLike<number> },
  ): void {
    const p = this.convs.get(name);
    if (!p) throw new InvalidArgumentError(`setBatchNorm: no conv named '${name}'`);
    if (!p.gamma) throw new InvalidArgumentError(`setBatchNorm: ${name} has no BatchNorm (it is a conv with a bias)`);
    for (const [k, v] of Object.entries(values) as [keyof typeof values, ArrayLike<number> | undefined][]) {
      if (v === undefined) continue;
      const t = p[k];
      if (!t) throw new InvalidArgumentError(`setBatchNorm: unknown BatchNorm tensor '${k}' (gamma, beta, runningMean, runningVar)`);
      if (v.length !== t.size) throw new InvalidArgumentError(`setBatchNorm: ${name}.${k} needs ${t.size} values, got ${v.length}`);
      this.engine.write(t, v);
    }
    this.invalidateFolded();
  }

  private checkInput(x: Tensor, what: string): number {
    if (this.disposed) throw new InvalidArgumentError(`InceptionV3.${what}: the model was disposed`);
    const size = this.inputSize;
    if (x.rank !== 4 || x.shape[1] !== size || x.shape[2] !== size || x.shape[3] !== 3 || x.dtype !== 'f32') {
      throw new InvalidArgumentError(
        `InceptionV3.${what}: x must be f32 [N, ${size}, ${size}, 3] (NHWC, the size the model was built for), got ${x.describe()}`,
      );
    }
    return x.shape[0]!;
  }

  /**
   * Logits [N, classes] for images x [N, H, W, 3] (NHWC). 'folded' (default): BatchNorm in each
   * conv's epilogue; 'unfolded': conv, then BatchNorm from running statistics, then ReLU.
   */
  forward(x: Tensor, mode: 'folded' | 'unfolded' = 'folded'): Tensor {
    this.checkInput(x, 'forward');
    return this.plan(mode === 'folded' ? 'folded' : 'unfolded').run(x);
  }

  /**
   * The training graph on the tape: every conv is conv → BatchNorm on batch statistics (the
   * conv kernel writes the statistics' partial sums, the normalising pass adds ReLU and writes
   * into the branch's slice of the module output) with the running statistics updated; dropout
   * before the classifier; the aux head on Mixed_6e when the model has one. The model's
   * parameters are marked on the tape. Call inside an engine scope; tape.backward frees what
   * the tape saved.
   */
  forwardTrain(tape: Tape, x: Tensor, options: ForwardTrainOptions = {}): ForwardTrainResult {
    const n = this.checkInput(x, 'forwardTrain');
    if (tape.engine !== this.engine) throw new InvalidArgumentError('InceptionV3.forwardTrain: the tape belongs to another engine');
    const rate = options.dropoutRate ?? DROPOUT_RATE;
    if (!(rate >= 0 && rate < 1)) throw new InvalidArgumentError(`InceptionV3.forwardTrain: dropoutRate must be in [0, 1), got ${String(rate)}`);
    const momentum = options.momentum !== undefined ? { momentum: options.momentum, momentumConvention: options.momentumConvention ?? 'pytorch' } : {};
    for (const t of this.parameters().values()) tape.param(t);
    this.invalidateFolded(); // the running statistics change now, γ and β at the next optimizer step
    const engine = this.engine;
    const slotOf = concatSlots(this.layers);
    const views = new Map<string, Tensor[]>();
    const outputs = new Map<string, Tensor>([['input', x]]);
    const concatView = (concat: string, offset: number, channels: number): Tensor => {
      let whole = outputs.get(concat);
      if (!whole) {
        const [c, h, w] = this.layers.find((l) => l.name === concat)!.outputShape;
        whole = engine.profiler.withLayer(concat, () => engine.empty([n, h, w, c], 'f32', concat));
        outputs.set(concat, whole);
        views.set(concat, []);
      }
      const v = whole.channelView(offset, channels);
      views.get(concat)!.push(v);
      return v;
    };
    for (const l of this.layers) {
      const input = outputs.get(l.inputs[0]!)!;
      const slot = slotOf.get(l.name);
      const out = slot ? { out: concatView(slot.concat, slot.offset, l.outputShape[0]) } : {};
      const y = engine.profiler.withLayer(l.name, (): Tensor => {
        switch (l.kind) {
          case 'conv': {
            const p = this.convs.get(l.name)!;
            const geometry = { stride: l.stride!, padding: l.padding! };
            if (!p.gamma) return ag.conv2d(tape, input, p.w, { ...geometry, bias: p.bias!, relu: true, ...out });
            const { y: raw, statistics } = ag.conv2dWithStatistics(tape, input, p.w, geometry);
            // One value per channel (the aux head's 1×1 map at batch 1) has no unbiased variance;
            // PyTorch refuses that batch, here that layer's running variance takes the biased one.
            const single = raw.size / raw.channels < 2 ? { runningVarianceEstimator: 'biased' as const } : {};
            return ag.batchNormTrain(tape, raw, p.gamma, p.beta!, {
              relu: true,
              eps: BATCHNORM_EPS,
              partials: statistics,
              runningMean: p.runningMean!,
              runningVar: p.runningVar!,
              ...momentum,
              ...single,
              ...out,
            });
          }
          case 'maxpool':
            return ag.maxPool2d(tape, input, { kernel: l.kernel!, stride: l.stride!, padding: l.padding!, ...out });
          case 'avgpool':
            return ag.avgPool2d(tape, input, { kernel: l.kernel!, stride: l.stride!, padding: l.padding!, countIncludePad: true, ...out });
          case 'concat':
            return ag.concatViews(tape, outputs.get(l.name)!, views.get(l.name)!);
          case 'globalavgpool':
            return ag.reshape(tape, ag.globalAvgPool(tape, input), [n, l.outputShape[0]]);
          case 'dropout':
            return rate > 0 ? ag.dropout(tape, input, { rate, seed: options.dropoutSeed ?? 0 }) : input;
          case 'linear': {
            const fc = this.linears.get(l.name)!;
            const flat = input.rank === 2 ? input : ag.reshape(tape, input, [n, input.size / n]);
            return ag.linear(tape, flat, fc.w, fc.b);
          }
        }
      });
      outputs.set(l.name, y);
    }
    const logits = outputs.get('fc')!;
    const auxLogits = outputs.get('AuxLogits.fc');
    return auxLogits ? { logits, auxLogits } : { logits };
  }

  /**
   * Sets every BatchNorm's running statistics to the batch statistics of x (a training-mode
   * pass with momentum 1, recording nothing), as a trained network would have them.
   */
  async calibrate(x: Tensor): Promise<void> {
    const tape = new Tape(this.engine);
    try {
      await this.engine.scope(async () => {
        tape.noGrad(() => this.forwardTrain(tape, x, { momentum: 1, momentumConvention: 'pytorch', dropoutRate: 0 }));
        await this.engine.sync();
      });
    } finally {
      tape.dispose();
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.invalidateFolded();
    this.plans.unfolded?.dispose();
    delete this.plans.unfolded;
    for (const t of this.stateDict().values()) t.dispose();
  }
}
