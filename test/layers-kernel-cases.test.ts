/** The data-driven cases of Inception-v3's other layers (test/cases/kernel-cases.ts, family
 * 'layers'), which the browser page runs too. Each op's thorough tests are in its own file. */
import { afterAll, beforeAll } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { testEngine } from './support/engine.js';
import { describeKernelCases } from './support/kernel-suite.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

describeKernelCases('layers', () => engine);
