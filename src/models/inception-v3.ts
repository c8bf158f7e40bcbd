/**
 * Inception-v3 on the engine, from the layer table of inception-v3-spec.ts. Weights are
 * initialised as torchvision does (truncated normal, std 0.1 in ±2, 0.01 for AuxLogits.conv1
 * and 0.001 for AuxLogits.fc; BatchNorm γ = 1, β = 0, running mean 0 and variance 1), seeded.
 *
 * Inference runs in one of two ways: 'folded', BatchNorm folded into each conv's write-out (one
 * kernel per conv), or 'unfolded', conv then BatchNorm (running statistics) then ReLU as the
 * training graph has them. Concatenations cost nothing in both: the last op of each branch
 * writes into its channel slice of the module output.
 */
import type { Engine } from '../runtime/engine.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import type { Tensor } from '../runtime/tensor.js';
import { conv2d } from '../ops/conv2d.js';
import { batchNormInference, batchNormTrain } from '../ops/batchnorm.js';
import { avgPool2d, globalAvgPool, maxPool2d } from '../ops/pool2d.js';
import { linear } from '../ops/linear.js';
import { concatChannels } from '../ops/concat.js';
import { foldBatchNorm } from '../ops/epilogue.js';
import { inceptionV3Spec, type InceptionV3Options, type LayerSpec } from './inception-v3-spec.js';

export const BATCHNORM_EPS = 1e-3;

interface ConvParams {
  w: Tensor;
  gamma: Float32Array;
  beta: Float32Array;
  runningMean: Float32Array;
  runningVar: Float32Array;
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

export class InceptionV3 {
  readonly layers: LayerSpec[];
  readonly convs = new Map<string, ConvParams>();
  readonly linears = new Map<string, { w: Tensor; b: Tensor }>();
  private folded = new Map<string, { scale: Tensor; shift: Tensor }>();

  constructor(
    readonly engine: Engine,
    options: InceptionV3Options & { seed?: number } = {},
  ) {
    this.layers = inceptionV3Spec(options);
    let seed = options.seed ?? 0;
    for (const l of this.layers) {
      const cout = l.outputShape[0];
      if (l.kind === 'conv') {
        const [kh, kw] = l.kernel!;
        const cin = (l.params - (l.batchNorm === false ? 1 : 2) * cout) / (kh * kw * cout); // params = KH·KW·Cin·Cout + γ, β (or a bias)
        const std = l.name === 'AuxLogits.conv1' ? 0.01 : 0.1;
        const w = engine.keep(engine.tensor(truncatedNormal(kh * kw * cin * cout, std, 2, (seed += 7919)), [kh, kw, cin, cout]));
        this.convs.set(l.name, { w, gamma: new Float32Array(cout).fill(1), beta: new Float32Array(cout), runningMean: new Float32Array(cout), runningVar: new Float32Array(cout).fill(1) });
      } else if (l.kind === 'linear') {
        const inF = l.params / cout - 1;
        const std = l.name === 'AuxLogits.fc' ? 0.001 : 0.1;
        const w = engine.keep(engine.tensor(truncatedNormal(inF * cout, std, 2, (seed += 7919)), [inF, cout]));
        const b = engine.keep(engine.zeros([cout]));
        this.linears.set(l.name, { w, b });
      }
    }
  }

  /** Replaces folded BatchNorm parameters after the statistics or γ/β changed. */
  private foldedOf(name: string): { scale: Tensor; shift: Tensor } {
    let f = this.folded.get(name);
    if (!f) {
      const p = this.convs.get(name)!;
      const { scale, shift } = foldBatchNorm({ gamma: p.gamma, beta: p.beta, mean: p.runningMean, variance: p.runningVar, eps: BATCHNORM_EPS });
      f = { scale: this.engine.keep(this.engine.tensor(scale)), shift: this.engine.keep(this.engine.tensor(shift)) };
      this.folded.set(name, f);
    }
    return f;
  }

  /** Sets BatchNorm parameters of a conv (host arrays of length Cout; any omitted stay). */
  setBatchNorm(name: string, values: Partial<Pick<ConvParams, 'gamma' | 'beta' | 'runningMean' | 'runningVar'>>): void {
    const p = this.convs.get(name);
    if (!p) throw new InvalidArgumentError(`setBatchNorm: no conv named '${name}'`);
    for (const [k, v] of Object.entries(values) as [keyof typeof values, Float32Array][]) {
      if (v.length !== p.gamma.length) throw new InvalidArgumentError(`setBatchNorm: ${name}.${k} needs ${p.gamma.length} values, got ${v.length}`);
      p[k] = Float32Array.from(v);
    }
    const f = this.folded.get(name);
    if (f) {
      f.scale.dispose();
      f.shift.dispose();
      this.folded.delete(name);
    }
  }

  /**
   * Logits [N, classes] for images x [N, H, W, 3] (NHWC). 'folded' (default): BatchNorm in each
   * conv's epilogue; 'unfolded': conv, then BatchNorm from running statistics, then ReLU.
   */
  forward(x: Tensor, mode: 'folded' | 'unfolded' = 'folded'): Tensor {
    const engine = this.engine;
    const main = this.layers.filter((l) => !l.aux);
    // Where each concat input goes (its channel slice), and when each output is last read.
    const slotOf = new Map<string, { concat: string; offset: number }>();
    for (const l of main) {
      if (l.kind !== 'concat') continue;
      let offset = 0;
      for (const i of l.inputs) {
        slotOf.set(i, { concat: l.name, offset });
        offset += main.find((p) => p.name === i)!.outputShape[0];
      }
    }
    const lastUse = new Map<string, number>();
    main.forEach((l, i) => l.inputs.forEach((name) => lastUse.set(name, i)));
    const n = x.shape[0]!;
    return engine.scope(() => {
      const outputs = new Map<string, Tensor>([['input', x]]);
      const concatOut = (name: string): Tensor => {
        let t = outputs.get(name);
        if (!t) {
          const spec = main.find((l) => l.name === name)!;
          const [c, h, w] = spec.outputShape;
          t = engine.empty([n, h, w, c], 'f32', name);
          outputs.set(name, t);
        }
        return t;
      };
      main.forEach((l, i) => {
        const input = outputs.get(l.inputs[0]!)!;
        const slot = slotOf.get(l.name);
        const out = slot ? concatOut(slot.concat).channelView(slot.offset, l.outputShape[0]) : undefined;
        let y: Tensor;
        switch (l.kind) {
          case 'conv': {
            const p = this.convs.get(l.name)!;
            const geometry = { stride: l.stride!, padding: l.padding! };
            if (mode === 'folded') {
              const f = this.foldedOf(l.name);
              y = conv2d(input, p.w, { ...geometry, epilogue: { scale: f.scale, shift: f.shift, relu: true }, ...(out ? { out } : {}) });
            } else {
              const raw = conv2d(input, p.w, geometry);
              y = batchNormInference(raw, engine.tensor(p.gamma), engine.tensor(p.beta), engine.tensor(p.runningMean), engine.tensor(p.runningVar), { eps: BATCHNORM_EPS, relu: true, ...(out ? { out } : {}) });
            }
            break;
          }
          case 'maxpool':
            y = maxPool2d(input, { kernel: l.kernel!, stride: l.stride!, padding: l.padding!, ...(out ? { out } : {}) }).y;
            break;
          case 'avgpool':
            y = avgPool2d(input, { kernel: l.kernel!, stride: l.stride!, padding: l.padding!, countIncludePad: true, ...(out ? { out } : {}) });
            break;
          case 'concat':
            y = concatOut(l.name);
            break;
          case 'globalavgpool':
            y = globalAvgPool(input);
            break;
          case 'dropout':
            y = input; // inference: identity
            break;
          case 'linear': {
            const fc = this.linears.get(l.name)!;
            const flat = input.reshape([n, input.size / n]);
            y = linear(flat, fc.w, fc.b);
            flat.dispose();
            break;
          }
        }
        if (!outputs.has(l.name)) outputs.set(l.name, y);
        // Free what nobody reads any more (the scope frees the rest at the end).
        for (const name of l.inputs) {
          if (lastUse.get(name) === i && name !== 'input' && outputs.get(name) !== y) outputs.get(name)?.dispose();
        }
      });
      return outputs.get(main[main.length - 1]!.name)!;
    });
  }

  /**
   * Sets every conv's running statistics to the batch statistics of x (a calibration pass in
   * training-mode BatchNorm, momentum 1), as a trained network would have them.
   */
  async calibrate(x: Tensor): Promise<void> {
    const engine = this.engine;
    const main = this.layers.filter((l) => !l.aux);
    for (const l of main) if (l.kind === 'conv') this.setBatchNorm(l.name, {});
    await engine.scope(async () => {
      const outputs = new Map<string, Tensor>([['input', x]]);
      const pending: { name: string; mean: Tensor; variance: Tensor }[] = [];
      for (const l of main) {
        const input = outputs.get(l.inputs[0]!)!;
        const n = x.shape[0]!;
        let y: Tensor;
        if (l.kind === 'conv') {
          const p = this.convs.get(l.name)!;
          const raw = conv2d(input, p.w, { stride: l.stride!, padding: l.padding! });
          const rm = engine.tensor(p.runningMean);
          const rv = engine.tensor(p.runningVar);
          y = batchNormTrain(raw, engine.tensor(p.gamma), engine.tensor(p.beta), { relu: true, eps: BATCHNORM_EPS, runningMean: rm, runningVar: rv, momentum: 1, momentumConvention: 'pytorch' }).y;
          pending.push({ name: l.name, mean: rm, variance: rv });
        } else if (l.kind === 'maxpool') y = maxPool2d(input, { kernel: l.kernel!, stride: l.stride!, padding: l.padding! }).y;
        else if (l.kind === 'avgpool') y = avgPool2d(input, { kernel: l.kernel!, stride: l.stride!, padding: l.padding!, countIncludePad: true });
        else if (l.kind === 'concat') y = concatChannels(l.inputs.map((i) => outputs.get(i)!));
        else if (l.kind === 'globalavgpool') y = globalAvgPool(input);
        else if (l.kind === 'dropout') y = input;
        else {
          const fc = this.linears.get(l.name)!;
          y = linear(input.reshape([n, input.size / n]), fc.w, fc.b);
        }
        outputs.set(l.name, y);
      }
      for (const p of pending) this.setBatchNorm(p.name, { runningMean: (await p.mean.read()) as Float32Array, runningVar: (await p.variance.read()) as Float32Array });
    });
  }

  dispose(): void {
    for (const p of this.convs.values()) p.w.dispose();
    for (const l of this.linears.values()) {
      l.w.dispose();
      l.b.dispose();
    }
    for (const f of this.folded.values()) {
      f.scale.dispose();
      f.shift.dispose();
    }
  }
}
