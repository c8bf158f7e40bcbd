/**
 * Inception-v3's 35×35 module A (Mixed_5b) and 17×17 module C (Mixed_6b), built on the tape with
 * torchvision's widths, in training mode: every conv is conv → BatchNorm (batch statistics,
 * fused into the conv's write-out) → ReLU, and the branches write straight into their channel
 * slices of the module output.
 */
import type { Engine } from '../../runtime/engine.js';
import type { Tensor } from '../../runtime/tensor.js';
import type { Tape } from '../../autograd/tape.js';
import * as ag from '../../autograd/functions.js';
import { channelSlices } from '../../ops/concat.js';

export interface ConvBnSpec {
  name: string;
  kh: number;
  kw: number;
  cin: number;
  cout: number;
}

interface ConvBnParams {
  w: Tensor;
  gamma: Tensor;
  beta: Tensor;
}

export class ConvBnRelu {
  readonly params: ConvBnParams;
  constructor(
    engine: Engine,
    tape: Tape,
    readonly spec: ConvBnSpec,
    seed: number,
  ) {
    const std = Math.sqrt(2 / (spec.kh * spec.kw * spec.cin));
    this.params = {
      w: tape.param(engine.keep(engine.randomNormal([spec.kh, spec.kw, spec.cin, spec.cout], { seed, std }))),
      gamma: tape.param(engine.keep(engine.randomUniform([spec.cout], { seed: seed + 1, low: 0.8, high: 1.2 }))),
      beta: tape.param(engine.keep(engine.randomUniform([spec.cout], { seed: seed + 2, low: -0.1, high: 0.1 }))),
    };
  }

  forward(tape: Tape, x: Tensor, out?: Tensor): Tensor {
    const { kh, kw } = this.spec;
    const { y, statistics } = ag.conv2dWithStatistics(tape, x, this.params.w, { padding: [(kh - 1) / 2, (kw - 1) / 2] });
    return ag.batchNormTrain(tape, y, this.params.gamma, this.params.beta, { relu: true, partials: statistics, ...(out ? { out } : {}) });
  }

  dispose(): void {
    for (const t of Object.values(this.params)) t.dispose();
  }
}

/** A module: branches of ConvBnRelu chains (a branch may start with a 3×3 average pool). */
export interface ModuleSpec {
  name: string;
  size: number;
  cin: number;
  branches: { pool?: boolean; convs: ConvBnSpec[] }[];
}

const c = (name: string, kh: number, kw: number, cin: number, cout: number): ConvBnSpec => ({ name, kh, kw, cin, cout });

export const MIXED_5B: ModuleSpec = {
  name: 'Mixed_5b (module A, 35×35, 192 → 256)',
  size: 35,
  cin: 192,
  branches: [
    { convs: [c('branch1x1', 1, 1, 192, 64)] },
    { convs: [c('branch5x5_1', 1, 1, 192, 48), c('branch5x5_2', 5, 5, 48, 64)] },
    { convs: [c('branch3x3dbl_1', 1, 1, 192, 64), c('branch3x3dbl_2', 3, 3, 64, 96), c('branch3x3dbl_3', 3, 3, 96, 96)] },
    { pool: true, convs: [c('branch_pool', 1, 1, 192, 32)] },
  ],
};

export const MIXED_6B: ModuleSpec = {
  name: 'Mixed_6b (module C, 17×17, 768 → 768, c7 = 128)',
  size: 17,
  cin: 768,
  branches: [
    { convs: [c('branch1x1', 1, 1, 768, 192)] },
    { convs: [c('branch7x7_1', 1, 1, 768, 128), c('branch7x7_2', 1, 7, 128, 128), c('branch7x7_3', 7, 1, 128, 192)] },
    {
      convs: [
        c('branch7x7dbl_1', 1, 1, 768, 128),
        c('branch7x7dbl_2', 7, 1, 128, 128),
        c('branch7x7dbl_3', 1, 7, 128, 128),
        c('branch7x7dbl_4', 7, 1, 128, 128),
        c('branch7x7dbl_5', 1, 7, 128, 192),
      ],
    },
    { pool: true, convs: [c('branch_pool', 1, 1, 768, 192)] },
  ],
};

export class InceptionModule {
  readonly branches: { pool: boolean; layers: ConvBnRelu[] }[];

  constructor(
    engine: Engine,
    tape: Tape,
    readonly spec: ModuleSpec,
    seed: number,
  ) {
    let s = seed;
    this.branches = spec.branches.map((b) => ({ pool: b.pool ?? false, layers: b.convs.map((cv) => new ConvBnRelu(engine, tape, cv, (s += 10))) }));
  }

  get cout(): number {
    return this.branches.reduce((sum, b) => sum + b.layers[b.layers.length - 1]!.spec.cout, 0);
  }

  forward(tape: Tape, x: Tensor): Tensor {
    const engine = tape.engine;
    const [n, h, w] = x.shape as [number, number, number, number];
    const out = engine.empty([n, h, w, this.cout], 'f32', this.spec.name);
    const views = channelSlices(
      out,
      this.branches.map((b) => b.layers[b.layers.length - 1]!.spec.cout),
    );
    this.branches.forEach((b, i) => {
      let t = b.pool ? ag.avgPool2d(tape, x, { kernel: 3, stride: 1, padding: 1 }) : x;
      b.layers.forEach((layer, j) => {
        t = layer.forward(tape, t, j === b.layers.length - 1 ? views[i] : undefined);
      });
    });
    return ag.concatViews(tape, out, views);
  }

  dispose(): void {
    for (const b of this.branches) for (const l of b.layers) l.dispose();
  }
}
