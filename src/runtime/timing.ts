/**
 * GPU time of a piece of recorded work, as benchmarks and the tuner need it: the work is
 * recorded `warmup + repeats` times, each run alone in its own batch, and a run's time is the
 * sum of its dispatches' profiler times (timestamp queries, or the marked CPU-wall fallback).
 */
import { InceptError } from './errors.js';
import type { Profiler, TimingSource } from './profiler.js';

/** What GPU timing needs of an engine. Declared here rather than importing Engine, whose tuner
 * uses this module: the runtime's modules import in one direction only. */
export interface TimedEngine {
  readonly profiler: Profiler;
  scope<T>(fn: () => T): T;
  sync(): Promise<void>;
}

export interface GpuTimeStats {
  /** Median over the timed runs, milliseconds. */
  ms: number;
  msMin: number;
  msMax: number;
  runs: number;
  /** Dispatches in one run. */
  dispatches: number;
  /** The kernels of one run's dispatches, in order (file:entry). */
  kernels: string[];
  /** FLOPs and bytes of one run, as its dispatches declared them (for GFLOP/s and GB/s). */
  flops: number;
  bytes: number;
  timing: TimingSource;
}

export interface GpuTimeOptions {
  warmup?: number;
  repeats?: number;
  /** Stop repeating (after at least `minRepeats`) once this much wall time has passed. */
  budgetMs?: number;
  minRepeats?: number;
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Times `record` (which records dispatches and may return tensors; whatever it creates is
 * disposed after each run). Throws if a run recorded no dispatch, so a no-op cannot look fast.
 */
export async function measureGpuTime(engine: TimedEngine, label: string, record: () => unknown, options: GpuTimeOptions = {}): Promise<GpuTimeStats> {
  const warmup = options.warmup ?? 1;
  const repeats = options.repeats ?? 10;
  const minRepeats = Math.min(options.minRepeats ?? 3, repeats);
  const budgetMs = options.budgetMs ?? Infinity;
  const times: number[] = [];
  let kernels: string[] = [];
  let flops = 0;
  let bytes = 0;
  const wasEnabled = engine.profiler.enabled;
  await engine.sync();
  const started = performance.now();
  try {
    for (let run = 0; run < warmup + repeats; run++) {
      const before = engine.profiler.records.length;
      engine.profiler.enabled = true;
      engine.scope(() => {
        record();
      });
      await engine.sync();
      engine.profiler.enabled = wasEnabled;
      const recs = engine.profiler.records.splice(before);
      if (recs.length === 0) throw new InceptError(`${label}: the timed work recorded no dispatch`);
      kernels = recs.map((r) => r.kernel);
      flops = recs.reduce((s, r) => s + r.flops, 0);
      bytes = recs.reduce((s, r) => s + r.bytes, 0);
      if (run >= warmup) times.push(recs.reduce((s, r) => s + r.ms, 0));
      if (run >= warmup + minRepeats - 1 && performance.now() - started > budgetMs) break;
    }
  } finally {
    engine.profiler.enabled = wasEnabled;
  }
  return {
    ms: median(times),
    msMin: Math.min(...times),
    msMax: Math.max(...times),
    runs: times.length,
    dispatches: kernels.length,
    kernels,
    flops,
    bytes,
    timing: engine.profiler.timing,
  };
}

/**
 * Times several pieces of work side by side: each round runs every piece once, in turn, so
 * load from other processes (noisy machines drift by ±50% over seconds) falls on all of them
 * alike and their ratios stay meaningful. `warmup` untimed rounds come first; timing stops
 * after `repeats` rounds, or earlier once `budgetMs` of wall time is spent (after at least
 * `minRepeats` rounds).
 */
export async function measureSideBySide<K extends string>(
  engine: TimedEngine,
  label: string,
  work: Record<K, () => unknown>,
  options: GpuTimeOptions = {},
): Promise<Record<K, GpuTimeStats>> {
  const warmup = options.warmup ?? 1;
  const repeats = options.repeats ?? 10;
  const minRepeats = Math.min(options.minRepeats ?? 3, repeats);
  const budgetMs = options.budgetMs ?? Infinity;
  const keys = Object.keys(work) as K[];
  const times = new Map<K, number[]>(keys.map((k) => [k, []]));
  const kernels = new Map<K, string[]>();
  const costs = new Map<K, { flops: number; bytes: number }>();
  const started = performance.now();
  for (let round = 0; round < warmup + repeats; round++) {
    for (const k of keys) {
      const one = await measureGpuTime(engine, `${label}: ${k}`, work[k], { warmup: 0, repeats: 1 });
      kernels.set(k, one.kernels);
      costs.set(k, { flops: one.flops, bytes: one.bytes });
      if (round >= warmup) times.get(k)!.push(one.ms);
    }
    if (round >= warmup + minRepeats - 1 && performance.now() - started >= budgetMs) break;
  }
  const out = {} as Record<K, GpuTimeStats>;
  for (const k of keys) {
    const t = times.get(k)!;
    const ks = kernels.get(k) ?? [];
    out[k] = {
      ms: median(t),
      msMin: Math.min(...t),
      msMax: Math.max(...t),
      runs: t.length,
      dispatches: ks.length,
      kernels: ks,
      ...(costs.get(k) ?? { flops: 0, bytes: 0 }),
      timing: engine.profiler.timing,
    };
  }
  return out;
}
