/**
 * Progress of the benchmark commands: each step says where it is in the whole command (n/N)
 * and, once a step is done, the elapsed time and an ETA (elapsed / done × remaining). The
 * shared helper is tested with an injected clock; the runners are checked to number their steps
 * over the whole run (not an inner loop), counting steps, never timing them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { benchProgress, etaMs, formatDuration, stepLine, type ProgressStep } from '../src/cli/progress.js';
import { runOpBench } from '../src/bench/ops/run.js';
import { testEngine } from './support/engine.js';

describe('benchProgress (injected clock)', () => {
  it('formats durations and estimates the time left from the steps done', () => {
    expect(formatDuration(9_400)).toBe('9s');
    expect(formatDuration(75_000)).toBe('1m 15s');
    expect(formatDuration(3_720_000)).toBe('1h 02m');
    expect(etaMs(10_000, 0, 4)).toBeUndefined(); // no measured basis yet
    expect(etaMs(10_000, 1, 4)).toBe(30_000);
    expect(etaMs(30_000, 3, 4)).toBe(10_000);
    expect(stepLine('Mixed_6b 7×7, batch 1', { n: 1, total: 12 }, 0)).toBe('[1/12] Mixed_6b 7×7, batch 1');
    expect(stepLine('Mixed_6b 7×7, batch 8', { n: 3, total: 12 }, 100_000)).toBe('[3/12] Mixed_6b 7×7, batch 8 · 1m 40s elapsed, ETA 8m 20s');
  });

  it('numbers steps, adds the ETA from the second step on, and prints notes as they are', () => {
    let clock = 5_000;
    const lines: string[] = [];
    const p = benchProgress('factorization benchmark', { now: () => clock, write: (l) => lines.push(l) });
    p.update('measuring the matmul peak');
    clock += 60_000; // setup before the first step does not count
    p.update('Mixed_5b 5×5, batch 1', { n: 1, total: 4 });
    clock += 20_000;
    p.update('tuning conv2d …');
    clock += 10_000;
    p.update('Mixed_6b 7×7, batch 1', { n: 2, total: 4 });
    clock += 30_000;
    p.update('Mixed_7b 3×3, batch 1', { n: 3, total: 4 });
    p.done();
    expect(lines).toEqual([
      'factorization benchmark…',
      '  measuring the matmul peak',
      '  [1/4] Mixed_5b 5×5, batch 1',
      '  tuning conv2d …',
      '  [2/4] Mixed_6b 7×7, batch 1 · 30s elapsed, ETA 1m 30s',
      '  [3/4] Mixed_7b 3×3, batch 1 · 1m 00s elapsed, ETA 1m 00s',
    ]);
  });
});

describe('runners number their steps over the whole command', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await testEngine();
  });
  afterAll(() => engine?.destroy());

  it('bench ops: one step per op, n/N of the ops run; the yardstick before them is a note', async () => {
    const events: { message: string; step?: ProgressStep }[] = [];
    const r = await runOpBench(engine, {
      batch: 1,
      repeats: 1,
      filter: 'globalAvgPool',
      onProgress: (message, step) => events.push({ message, ...(step ? { step } : {}) }),
    });
    const steps = events.filter((e) => e.step);
    expect(steps.map((e) => e.step)).toEqual(r.rows.map((_, i) => ({ n: i + 1, total: r.rows.length })));
    expect(steps.map((e) => e.message)).toEqual(r.rows.map((row) => row.name));
    expect(events[0]!.step).toBeUndefined();
  });
});
