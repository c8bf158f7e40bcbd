/**
 * Dawn prints "maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16
 * to fit dynamic offset allocation limit." (and the same for storage buffers) from native code
 * each time a Dawn instance discovers lavapipe. Creating engines must not repeat it: at most one
 * of each per process, however many engines. Runs in a child process on the built dist/, so the
 * stderr seen is the process's own.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { HANG_GUARD_MS } from './support/hang-guard.js';

const run = promisify(execFile);

const script = `
import { createEngine } from './dist/index.js';
for (let i = 0; i < 2; i++) {
  const engine = await createEngine({ tuning: 'off' });
  const t = engine.randomNormal([4], { seed: i });
  await t.read();
  t.dispose();
  engine.destroy();
}
console.log('ok');
`;

describe('Dawn limit warnings', () => {
  it('two engines in one process print each "artificially reduced" warning at most once', async () => {
    const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', script], { timeout: HANG_GUARD_MS, maxBuffer: 1 << 20 });
    expect(stdout.trim()).toBe('ok');
    for (const limit of ['maxDynamicUniformBuffersPerPipelineLayout', 'maxDynamicStorageBuffersPerPipelineLayout']) {
      const lines = stderr.split('\n').filter((l) => l.includes(limit) && l.includes('artificially reduced'));
      expect(lines.length, `stderr:\n${stderr}`).toBeLessThanOrEqual(1);
    }
  });
});
