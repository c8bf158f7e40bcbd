/**
 * Engines created and destroyed over and over (a service reloading its model, a test suite)
 * give their memory back: after the first cycles have warmed the allocator and the driver's
 * caches, the process's resident memory stays flat. Run in a child process so that the
 * measurement sees one process doing only this, with a full GC before each reading.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

describe('engine create/destroy cycles', () => {
  it('ten more cycles of createEngine → load a classifier → classify → destroy keep resident memory within 8 MiB', async () => {
    const cycles = 24;
    const { stdout } = await run(process.execPath, ['--expose-gc', 'test/support/engine-cycles.mjs', String(cycles)], { maxBuffer: 1 << 20 });
    const { rssMiB } = JSON.parse(stdout.trim().split('\n').pop()!) as { rssMiB: number[] };
    expect(rssMiB).toHaveLength(cycles);
    // Cycles 10–14 against the last five: ten cycles apart. Before the Dawn instance was shared,
    // each cycle kept about 2.3 MiB (≈ 23 MiB over ten).
    const warm = median(rssMiB.slice(9, 14));
    const late = median(rssMiB.slice(-5));
    expect(late - warm, `resident MiB per cycle: ${rssMiB.map((v) => v.toFixed(1)).join(' ')}`).toBeLessThan(8);
  });
});
