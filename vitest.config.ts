import { defineConfig } from 'vitest/config';
import { HANG_GUARD_MS } from './test/support/hang-guard.js';
import { expandWgsl } from './scripts/wgsl-include.mjs';

export default defineConfig({
  plugins: [
    {
      // Kernels as the builds inline them: text, include directives expanded (scripts/wgsl-include.mjs).
      name: 'wgsl-as-text',
      transform(_code: string, id: string) {
        if (!id.endsWith('.wgsl')) return undefined;
        const { code, files } = expandWgsl(id);
        for (const included of files.slice(1)) this.addWatchFile(included);
        return { code: `export default ${JSON.stringify(code)};`, map: null };
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
