/**
 * BatchNorm statistics fused into the conv: conv2dWithStatistics writes per-block partial
 * statistics as it writes y, and batchNormTrain merges them instead of reading y again. Checked
 * against float64 conv, then training BatchNorm, then ReLU, for every variant that can fuse and
 * for the fallback where none can.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { conv2dWithStatistics, type Conv2dVariant } from '../src/ops/conv2d.js';
import { batchNormTrain } from '../src/ops/batchnorm.js';
import { testEngine } from './support/engine.js';
import { assertClose } from './support/compare.js';
import { freshSeed, makeRng, randomArray } from './support/random.js';
import { conv2dRef } from './reference/conv2d.js';
import { batchNormRef, batchNormStatisticsRef } from './reference/batchnorm.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const seed = freshSeed();
const rng = makeRng(seed);

interface Case {
  x: [number, number, number, number];
  k: [number, number];
  cout: number;
  stride: number;
  pad: [number, number, number, number];
}

// Odd pixel counts (blocks of 8 and 16 end part-full), a stride-2 case, a 1×7, and Cout = 6
// (no fused variant: the standalone statistics pass runs).
const CASES: Case[] = [
  { x: [2, 7, 5, 8], k: [3, 3], cout: 12, stride: 1, pad: [1, 1, 1, 1] },
  { x: [1, 11, 11, 5], k: [3, 3], cout: 16, stride: 2, pad: [0, 0, 0, 0] },
  { x: [3, 9, 9, 4], k: [1, 7], cout: 8, stride: 1, pad: [0, 0, 3, 3] },
  { x: [1, 6, 6, 3], k: [3, 3], cout: 6, stride: 1, pad: [1, 1, 1, 1] },
];

describe(`conv with fused BatchNorm statistics (seed ${seed})`, () => {
  for (const c of CASES) {
    const name = `x[${c.x.join('×')}] ${c.k.join('×')}→${c.cout} stride ${c.stride}`;
    it(`${name}: every fusing variant, then batchNormTrain + ReLU, matches float64`, async () => {
      await checkCase(c, name);
    });
  }

  it('with the grid folded into z (a lowered per-dimension limit), the fused statistics still match', async () => {
    const saved = engine.gridLimit;
    engine.gridLimit = 2;
    try {
      await checkCase(CASES[0]!, 'folded grid');
    } finally {
      engine.gridLimit = saved;
    }
  });

  async function checkCase(c: Case, name: string): Promise<void> {
    {
      const [n, h, w, cin] = c.x;
      const xHost = randomArray(rng, n * h * w * cin);
      const wHost = randomArray(rng, c.k[0] * c.k[1] * cin * c.cout);
      const gamma = randomArray(rng, c.cout, 0.5, 1.5);
      const beta = randomArray(rng, c.cout, -0.5, 0.5);
      const conv = conv2dRef(xHost, c.x, wHost, [c.k[0], c.k[1], cin, c.cout], {
        strideH: c.stride,
        strideW: c.stride,
        padTop: c.pad[0],
        padBottom: c.pad[1],
        padLeft: c.pad[2],
        padRight: c.pad[3],
      });
      const stats = batchNormStatisticsRef(conv.out, c.cout);
      const ref = batchNormRef(conv.out, c.cout, gamma, beta, stats.mean, stats.variance, 1e-3, true);
      const variants: (Conv2dVariant | undefined)[] = [undefined, 'tile8x8', ...(engine.features.has('subgroups') ? (['subgroup16x8'] as const) : [])];
      for (const variant of c.cout % 4 === 0 ? variants : [undefined]) {
        await engine.scope(async () => {
          const { y, statistics } = conv2dWithStatistics(engine.tensor(xHost, c.x), engine.tensor(wHost, [c.k[0], c.k[1], cin, c.cout]), {
            stride: c.stride,
            padding: c.pad,
            ...(variant ? { variant } : {}),
          });
          assertClose(await y.read(), conv.out, 1e-4, `${name} ${variant ?? 'dispatched'}: conv output`);
          const bn = batchNormTrain(y, engine.tensor(gamma), engine.tensor(beta), { relu: true, partials: statistics });
          assertClose(await bn.mean.read(), stats.mean, 1e-4, `${name} ${variant ?? 'dispatched'}: batch mean from the conv's partials`);
          assertClose(await bn.y.read(), ref, 1e-4, `${name} ${variant ?? 'dispatched'}: conv → BatchNorm → ReLU`);
        });
      }
    }
  }

  it('the fused path dispatches no standalone statistics pass', async () => {
    await engine.scope(async () => {
      const x = engine.tensor(randomArray(rng, 2 * 9 * 9 * 8), [2, 9, 9, 8]);
      const wt = engine.tensor(randomArray(rng, 9 * 8 * 12), [3, 3, 8, 12]);
      await engine.sync();
      const before = engine.profiler.records.length;
      engine.profiler.enabled = true;
      const { y, statistics } = conv2dWithStatistics(x, wt, { padding: 'same', variant: 'tile8x8' });
      batchNormTrain(y, null, null, { partials: statistics });
      await engine.sync();
      engine.profiler.enabled = false;
      const kernels = engine.profiler.records.slice(before).map((r) => r.kernel);
      expect(kernels).toContain('conv2d.wgsl:tile8x8_stats');
      expect(kernels).not.toContain('batchnorm.wgsl:partial_stats');
      expect(kernels).toContain('batchnorm.wgsl:merge_stats');
    });
  });

  it('refuses an epilogue, and partials of the wrong size', () => {
    engine.scope(() => {
      const x = engine.zeros([1, 4, 4, 4]);
      const wt = engine.zeros([3, 3, 4, 8]);
      expect(() => conv2dWithStatistics(x, wt, { bias: engine.zeros([8]) } as never)).toThrow(/no epilogue or bias/);
      const { y } = conv2dWithStatistics(x, wt, { padding: 'same' });
      expect(() => batchNormTrain(y, null, null, { partials: { partials: engine.zeros([3, 4]), chunks: 3, channels: 4 } })).toThrow(
        /partials must hold 8 channels/,
      );
    });
  });
});
