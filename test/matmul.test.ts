import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { defaultMatmulVariant, matmul, matmulVariantApplies, MATMUL_VARIANTS } from '../src/ops/matmul.js';
import { matmulRef } from './reference/matmul.js';
import { assertClose } from './support/compare.js';
import { testEngine } from './support/engine.js';
import { describeKernelCases } from './support/kernel-suite.js';
import { freshSeed, makeRng, randomArray } from './support/random.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

describeKernelCases('matmul', () => engine);

describe('matmul dispatch', () => {
  it('picks the measured default for this adapter: subgroup tiles on CPU drivers, workgroup tiles on GPUs', () => {
    const v = defaultMatmulVariant(engine, 64, 64, 64);
    if (!engine.isSoftwareAdapter) {
      expect(v).toBe('shared64');
    } else if (engine.features.has('subgroups')) {
      expect(v).toBe((engine.adapterInfo.subgroupMaxSize ?? 0) <= 4 ? 'subgroup32x8' : 'subgroup16x8');
      // N not divisible by 4 rules out every vec4 kernel.
      expect(defaultMatmulVariant(engine, 64, 63, 64)).toBe('tile4x4');
    } else {
      expect(v).toBe('tile4x4_vec4');
      expect(defaultMatmulVariant(engine, 64, 63, 64)).toBe('tile4x4');
    }
  });
  it('rejects mismatched inner dimensions and a vec4 variant on unaligned shapes', () => {
    engine.scope(() => {
      expect(() => matmul(engine.zeros([2, 3]), engine.zeros([4, 5]))).toThrow(/inner dimensions differ \(3 vs 4\)/);
      expect(() => matmul(engine.zeros([2, 3]), engine.zeros([3, 5]), { variant: 'tile4x4_vec4' })).toThrow(/divisible by 4/);
    });
  });
});

describe('matmul on a grid taller than a dimension may hold', () => {
  const seed = freshSeed();
  it(`one matrix: its row blocks fold into z and every variant still matches float64; a batch keeps its index in z (seed ${seed})`, async () => {
    // The device limit (65535) needs millions of rows to pass; a lowered limit makes the kernels
    // meet the folded grid, and its blocks past the end, on a small problem.
    const rng = makeRng(seed);
    const saved = engine.gridLimit;
    engine.gridLimit = 2;
    try {
      for (const [batch, m, k, n] of [
        [1, 301, 13, 24],
        [1, 77, 8, 12],
        [3, 21, 8, 8],
      ] as const) {
        const a = randomArray(rng, batch * m * k);
        const b = randomArray(rng, batch * k * n);
        const ref = matmulRef(a, b, batch, m, k, n);
        const aShape = batch === 1 ? [m, k] : [batch, m, k];
        const bShape = batch === 1 ? [k, n] : [batch, k, n];
        const variants = MATMUL_VARIANTS.filter((v) => matmulVariantApplies(v, m, n, k, engine));
        expect(variants.length).toBeGreaterThan(1);
        await engine.scope(async () => {
          const at = engine.tensor(a, aShape);
          const bt = engine.tensor(b, bShape);
          for (const variant of variants) {
            // A batch of matrices keeps its index in z (not folded).
            assertClose(
              await matmul(at, bt, { variant }).read(),
              ref,
              1e-4,
              `matmul ${variant} ${batch}×[${m}×${k}]·[${k}×${n}]${batch === 1 ? ' folded' : ''}`,
            );
          }
        });
      }
    } finally {
      engine.gridLimit = saved;
    }
  });
});
