import { defineConfig } from 'vitest/config';
import { HANG_GUARD_MS } from './test/support/hang-guard.js';

export default defineConfig({
  plugins: [
    {
      name: 'wgsl-as-text',
      transform(code: string, id: string) {
        if (id.endsWith('.wgsl')) return { code: `export default ${JSON.stringify(code)};`, map: null };
        return undefined;
      },
    },
  ],
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    include: ['test/**/*.test.ts'],
    // One GPU device per file; software drivers are slow, so files run one at a time.
    fileParallelism: false,
    // Only a guard against hangs (see test/support/hang-guard.ts): no test is judged by speed.
    testTimeout: HANG_GUARD_MS,
    hookTimeout: HANG_GUARD_MS,
  },
});
