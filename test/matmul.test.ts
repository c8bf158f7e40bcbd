import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { defaultMatmulVariant, matmul } from '../src/ops/matmul.js';
import { testEngine } from './support/engine.js';
import { describeKernelCases } from './support/kernel-suite.js';

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
