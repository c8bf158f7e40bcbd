/**
 * The memory-bound kernels of Inception-v3 at the network's own shapes (299×299 input): what
 * `incept bench ops` times. Each case makes its inputs once and returns the work to time;
 * sizes come from the architecture table in ../shared/docs/inception-v3.md.
 */
import type { Engine } from '../../runtime/engine.js';
import type { Tensor } from '../../runtime/tensor.js';
import { avgPool2d, globalAvgPool, maxPool2d } from '../../ops/pool2d.js';
import { batchNormTrain } from '../../ops/batchnorm.js';
import { concatChannels } from '../../ops/concat.js';
import { dropout } from '../../ops/dropout.js';
import { globalNorm } from '../../ops/reduce.js';
import { softmaxCrossEntropy } from '../../ops/softmax.js';
import { linear } from '../../ops/linear.js';

export interface OpCase {
  /** e.g. 'maxPool2d 3×3/2 147²×64'. */
  name: string;
  /** Kernel family, for grouping. */
  kind: string;
  /** The Inception-v3 layer(s) it stands for. */
  where: string;
  /** Makes the inputs (kept for the whole measurement) and returns the work to time. */
  setup: (engine: Engine, batch: number) => () => unknown;
}

const nhwc = (engine: Engine, n: number, s: number, c: number, seed: number): Tensor => engine.randomNormal([n, s, s, c], { seed });

function pool(kind: 'max' | 'avg', s: number, c: number, stride: number, pad: number, where: string, countIncludePad = true): OpCase {
  const label = kind === 'max' ? 'maxPool2d' : `avgPool2d${countIncludePad ? '' : ' (pad excluded)'}`;
  return {
    name: `${label} 3×3/${stride} ${s}²×${c}`,
    kind: 'pool2d',
    where,
    setup: (engine, n) => {
      const x = nhwc(engine, n, s, c, 1);
      return kind === 'max'
        ? () => maxPool2d(x, { kernel: 3, stride, padding: pad })
        : () => avgPool2d(x, { kernel: 3, stride, padding: pad, countIncludePad });
    },
  };
}

function batchNorm(s: number, c: number, where: string): OpCase {
  return {
    name: `batchNormTrain+ReLU ${s}²×${c}`,
    kind: 'batchnorm',
    where,
    setup: (engine, n) => {
      const x = nhwc(engine, n, s, c, 2);
      const gamma = engine.randomUniform([c], { seed: 3, low: 0.5, high: 1.5 });
      const beta = engine.randomUniform([c], { seed: 4, low: -0.5, high: 0.5 });
      return () => batchNormTrain(x, gamma, beta, { relu: true }).y;
    },
  };
}

export const OP_CASES: readonly OpCase[] = [
  pool('max', 147, 64, 2, 0, 'maxpool after Conv2d_2b'),
  pool('max', 71, 192, 2, 0, 'maxpool after Conv2d_4a'),
  pool('max', 35, 288, 2, 0, 'Mixed_6a.branch_pool'),
  pool('max', 17, 768, 2, 0, 'Mixed_7a.branch_pool'),
  pool('avg', 35, 192, 1, 1, 'Mixed_5b.branch_pool'),
  pool('avg', 35, 288, 1, 1, 'Mixed_5d.branch_pool'),
  pool('avg', 17, 768, 1, 1, 'Mixed_6b–6e.branch_pool'),
  pool('avg', 17, 768, 1, 1, 'Mixed_6b–6e.branch_pool (Keras / TF-slim convention)', false),
  pool('avg', 8, 2048, 1, 1, 'Mixed_7c.branch_pool'),
  {
    name: 'globalAvgPool 8²×2048',
    kind: 'pool2d',
    where: 'avgpool before the classifier',
    setup: (engine, n) => {
      const x = nhwc(engine, n, 8, 2048, 5);
      return () => globalAvgPool(x);
    },
  },
  batchNorm(147, 64, 'Conv2d_2b_3x3.bn'),
  batchNorm(35, 64, 'Mixed_5b.branch1x1.bn'),
  batchNorm(17, 192, 'Mixed_6b.branch1x1.bn'),
  batchNorm(8, 384, 'Mixed_7b.branch3x3_2a.bn'),
  {
    name: 'concatChannels (copy) 35²×(64+64+96+32)',
    kind: 'concat',
    where: 'Mixed_5b output if it were copied (the engine writes branches into channel views: no kernel, no bytes)',
    setup: (engine, n) => {
      const parts = [64, 64, 96, 32].map((c, i) => nhwc(engine, n, 35, c, 10 + i));
      return () => concatChannels(parts);
    },
  },
  {
    name: 'dropout p=0.2 2048',
    kind: 'dropout',
    where: 'dropout before the classifier',
    setup: (engine, n) => {
      const x = engine.randomNormal([n, 2048], { seed: 6 });
      return () => dropout(x, { rate: 0.2, seed: 7 });
    },
  },
  {
    name: 'softmaxCrossEntropy ε=0.1 1000 classes',
    kind: 'softmax',
    where: 'the loss',
    setup: (engine, n) => {
      const logits = engine.randomNormal([n, 1000], { seed: 8, std: 3 });
      const labels = Int32Array.from({ length: n }, (_, i) => (i * 379) % 1000);
      return () => softmaxCrossEntropy(logits, labels, { labelSmoothing: 0.1 });
    },
  },
  {
    name: 'linear 2048→1000 (+bias)',
    kind: 'linear',
    where: 'the classifier',
    setup: (engine, n) => {
      const x = engine.randomNormal([n, 2048], { seed: 9 });
      const w = engine.randomNormal([2048, 1000], { seed: 10, std: 0.02 });
      const b = engine.randomNormal([1000], { seed: 11 });
      return () => linear(x, w, b);
    },
  },
  {
    name: 'globalNorm of 23.8M floats in 300 tensors',
    kind: 'reduce',
    where: 'gradient clipping over every parameter of Inception-v3',
    setup: (engine) => {
      // Sizes spread like Inception-v3's parameters: a few large convs, many small BN vectors.
      const sizes: number[] = [];
      let total = 0;
      for (let i = 0; i < 300; i++) {
        const size = i % 3 === 2 ? 2 * (32 + ((i * 37) % 400)) : Math.round(23_800_000 / 200) + ((i * 7919) % 5000);
        sizes.push(size);
        total += size;
      }
      const scale = 23_834_568 / total;
      const tensors = sizes.map((s, i) => engine.randomNormal([Math.max(1, Math.round(s * scale))], { seed: 100 + i }));
      return () => globalNorm(tensors);
    },
  },
];
