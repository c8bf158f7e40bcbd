import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { add, scaleShift } from '../src/ops/elementwise.js';
import { InvalidArgumentError } from '../src/runtime/errors.js';
import { testEngine } from './support/engine.js';
import { describeKernelCases } from './support/kernel-suite.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

describeKernelCases('elementwise', () => engine);

describe('elementwise argument checks', () => {
  it('rejects shapes that do not broadcast, naming both', () => {
    engine.scope(() => {
      const a = engine.zeros([2, 3]);
      const b = engine.zeros([2]);
      expect(() => add(a, b)).toThrow(/add: shapes \[2, 3\] and \[2\] do not broadcast/);
    });
  });
  it('rejects integer tensors for float ops', () => {
    engine.scope(() => {
      const a = engine.tensor(new Int32Array([1, 2]));
      expect(() => add(a, a)).toThrow(InvalidArgumentError);
    });
  });
  it('rejects scale/shift of the wrong length', () => {
    engine.scope(() => {
      const x = engine.zeros([4, 3]);
      expect(() => scaleShift(x, engine.zeros([4]), engine.zeros([4]))).toThrow(/need 3 elements/);
    });
  });
});
