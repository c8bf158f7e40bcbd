/**
 * The tuner's budget is a bound on tune()'s wall time, compilation and warm-up runs included:
 * the clock is read before every candidate run and none starts once the budget is spent. Tested
 * with an injected clock that each (fake) measurement advances, so nothing here depends on a
 * GPU or on the machine's speed.
 */
import { describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { MemoryTuningStore, Tuner } from '../src/runtime/tuner.js';
import { tuningKeyString, type TunableSet } from '../src/runtime/tuning-key.js';

/** Only what tune() uses of an engine: scope() around a problem's setup. */
const fakeEngine = { scope: <T>(fn: () => T): T => fn() } as unknown as Engine;

interface Harness {
  tuner: Tuner;
  /** Clock reading at the start of every measurement, and which candidate it ran. */
  starts: { at: number; label: string }[];
}

/** A tuner whose every measurement advances a fake clock by `cost(label, index)` ms. */
function harness(budgetMs: number, cost: (label: string, index: number) => number): Harness {
  let clock = 1_000; // any origin: only differences count
  const starts: Harness['starts'] = [];
  const tuner = new Tuner(fakeEngine, 'fake-adapter', new MemoryTuningStore(), {
    budgetMs,
    now: () => clock,
    measure: async (label, run) => {
      starts.push({ at: clock, label });
      run();
      const ms = cost(label, starts.length - 1);
      clock += ms;
      // The GPU time: a fixed fraction of the wall time, smaller for variant 'b'.
      return label.endsWith(': b') ? ms / 4 : ms / 2;
    },
  });
  return { tuner, starts };
}

/** A set whose problems are numbers, each its own key; its runs record nothing. */
const fakeSet: TunableSet<number> = {
  op: 'conv2d',
  checksum: '0badf00d',
  variants: [{ name: 'a' }, { name: 'b' }, { name: 'c' }],
  key: (i) => ({ problem: i }),
  makeInputs: () => ({ inputs: [], run: () => undefined }),
};

function queue(tuner: Tuner, problems: number, candidates = ['a', 'b']): void {
  for (let i = 0; i < problems; i++) tuner.choose(fakeSet, i, candidates, 'a');
}

describe('Tuner budget (injected clock)', () => {
  it('stops at the budget: no measurement starts once it is spent, and the report says so', async () => {
    // 3 problems × 2 candidates × (1 warm-up + 2 timed rounds) = 18 runs of 1 s: 18 s unbounded.
    const h = harness(10_000, () => 1_000);
    queue(h.tuner, 3);
    const messages: string[] = [];
    const report = await h.tuner.tune({ repeats: 2, onProgress: (m) => messages.push(m) });

    const origin = h.starts[0]!.at;
    for (const s of h.starts) expect(s.at - origin, s.label).toBeLessThan(10_000);
    expect(h.starts).toHaveLength(10);
    expect(report.runs).toBe(10);
    expect(report.ms).toBe(10_000);
    // The first problem finished; the second got its warm-up and one timed round before the
    // budget ran out (enough to decide); the third never started.
    expect(report.tuned.map((r) => r.shapeClass)).toEqual([tuningKeyString(fakeSet, 0), tuningKeyString(fakeSet, 1)]);
    expect(report.tuned.every((r) => r.variant === 'b')).toBe(true);
    expect(report.skipped).toBe(1);
    expect(report.budgetSpent).toBe(true);
    expect(h.tuner.pendingCount).toBe(1);
    expect(messages.at(-1)).toMatch(/budget of 10\.0 s spent after 10\.0 s: 1 problem left untuned/);
  });

  it('counts compilation and warm-up: a slow first run spends the budget and the problem stays pending', async () => {
    // The first run compiles for 8 s; the budget is 5 s, so nothing else may start.
    const h = harness(5_000, (_label, i) => (i === 0 ? 8_000 : 100));
    queue(h.tuner, 2);
    const report = await h.tuner.tune({ repeats: 3 });
    expect(h.starts).toHaveLength(1);
    expect(report.runs).toBe(1);
    expect(report.tuned).toEqual([]);
    expect(report.skipped).toBe(2);
    expect(report.budgetSpent).toBe(true);
    expect(report.ms).toBe(8_000);
    // The cut-short problem is measured by a later call, with a budget of its own.
    const later = await h.tuner.tune({ budgetMs: 60_000, repeats: 1 });
    expect(later.tuned).toHaveLength(2);
    expect(later.skipped).toBe(0);
    expect(later.budgetSpent).toBe(false);
  });

  it('a budget of 0 starts nothing; an ample one runs every round and reports no overrun', async () => {
    const none = harness(0, () => 1_000);
    queue(none.tuner, 2);
    const r0 = await none.tuner.tune({ repeats: 2 });
    expect(none.starts).toHaveLength(0);
    expect(r0.skipped).toBe(2);

    const ample = harness(1_000_000, () => 1_000);
    queue(ample.tuner, 2, ['a', 'b', 'c']);
    const r = await ample.tuner.tune({ repeats: 2 });
    expect(ample.starts).toHaveLength(2 * 3 * 3);
    expect(r.tuned).toHaveLength(2);
    expect(r.budgetSpent).toBe(false);
    expect(r.ms).toBe(18_000);
  });
});
