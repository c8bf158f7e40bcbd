/** Registers one test per data-driven kernel case of a family (test/cases/kernel-cases.ts). */
import { describe, expect, it } from 'vitest';
import type { Engine } from '../../src/runtime/engine.js';
import { kernelCases, type KernelCase } from '../cases/kernel-cases.js';
import { freshSeed, makeRng } from './random.js';

export function describeKernelCases(family: KernelCase['family'], engine: () => Engine, adapterLabel?: string): void {
  describe(`${family} kernels against the float64 reference${adapterLabel ? ` on ${adapterLabel}` : ''}`, () => {
    const seed = freshSeed();
    for (const c of kernelCases().filter((k) => k.family === family)) {
      it(`${c.name} (seed ${seed})`, async () => {
        const result = await c.run(engine(), makeRng(seed));
        if ('refused' in result) {
          // The device lacks the feature this variant needs: the op must say so (checked in run).
          expect(engine().features.has(c.requires!)).toBe(false);
          expect(result.refused).toContain(c.requires!);
        } else {
          expect(result.relErr).toBeLessThanOrEqual(c.tolerance);
        }
      });
    }
  });
}
