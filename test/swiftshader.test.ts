/**
 * Kernels must be correct on every adapter, and the software drivers differ (lavapipe runs the
 * other Node tests by default). Every kernel case runs again here on SwiftShader in Node.
 */
import { afterAll, beforeAll } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { testEngine } from './support/engine.js';
import { describeKernelCases } from './support/kernel-suite.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine({ driver: 'swiftshader' });
});
afterAll(() => engine?.destroy());

describeKernelCases('elementwise', () => engine, 'SwiftShader');
describeKernelCases('matmul', () => engine, 'SwiftShader');
describeKernelCases('conv2d', () => engine, 'SwiftShader');
describeKernelCases('layers', () => engine, 'SwiftShader');
