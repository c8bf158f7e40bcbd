/**
 * Measured choice of kernel variants, per adapter and shape class, cached and persisted.
 *
 * Ops are synchronous (they only record dispatches), so they cannot measure when called. An op
 * asks `choose()` with its tunable set (tuning-key.ts) and the problem: a pinned variant wins,
 * then a measured one from the cache; otherwise it gets the op's heuristic default and the
 * tuner notes the problem as pending, under the set's bucketed key, keeping the set's way to
 * make inputs of the problem. `await engine.tuner.tune()` then times the candidates
 * of every pending problem (bounded by a time budget, reported) and stores the winners, which
 * later calls use. Records persist in a JSON file in Node and in localStorage in a browser,
 * keyed by the adapter, so a second process starts tuned.
 *
 * Modes: 'auto' (cache + measure on tune()), 'cached' (use stored choices, never measure),
 * 'off' (heuristics only: reproducible runs). `pin(op, variant)` forces a variant.
 */
import { measureGpuTime, median, type TimedEngine } from './timing.js';
import { tuningKeyString, type TunableSet, type TuningInputs, type TuningKey } from './tuning-key.js';

export type TuningMode = 'auto' | 'cached' | 'off';

export interface TuningRecord {
  op: string;
  /** The problem's key as tuningKeyString writes it. A record whose key is in an older form
   * is never looked up, so its problem is simply measured again. */
  shapeClass: string;
  variant: string;
  /** Median ms of each candidate measured. */
  ms: Record<string, number>;
  measuredAt: string;
}

/** Where records live between processes. */
export interface TuningStore {
  readonly description: string;
  load(): Record<string, TuningRecord>;
  save(records: Record<string, TuningRecord>): void;
}

export interface TuningReport {
  tuned: TuningRecord[];
  /** Problems left pending because the budget ran out. */
  skipped: number;
  /** Wall time of the call, setup, compilation and warm-up runs included. */
  ms: number;
  budgetMs: number;
  /** The budget ran out with problems still pending (they stay queued for a later call). */
  budgetSpent: boolean;
  /** Candidate runs started (warm-up included); none is started once the budget is spent. */
  runs: number;
}

/** Runs one candidate once and returns its GPU time, ms. Injectable (with the clock) so the
 * budget's accounting can be tested without a GPU or wall-clock speed. */
export type TuningMeasure = (label: string, run: () => unknown) => Promise<number>;

export interface TunerHooks {
  /** Milliseconds from some origin (default performance.now). */
  now?: () => number;
  measure?: TuningMeasure;
}

/** Makes the inputs of one problem (its own, so the caller's tensors may be gone by tune()). */
export type TuningSetup = () => TuningInputs;

interface Pending {
  op: string;
  shapeClass: string;
  candidates: readonly string[];
  setup: TuningSetup;
}

/** The records of a parsed store, dropping anything that is not one (a hand-edited or damaged
 * file must cost a re-measurement, not a crash). */
export function validTuningRecords(parsed: unknown, where: string): Record<string, TuningRecord> {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    if (parsed !== undefined) console.warn(`incept: ignoring tuning records in ${where}: not a JSON object`);
    return {};
  }
  const out: Record<string, TuningRecord> = {};
  for (const [key, r] of Object.entries(parsed as Record<string, unknown>)) {
    const rec = r as Partial<TuningRecord> | null;
    if (rec && typeof rec === 'object' && typeof rec.op === 'string' && typeof rec.shapeClass === 'string' && typeof rec.variant === 'string') {
      out[key] = {
        op: rec.op,
        shapeClass: rec.shapeClass,
        variant: rec.variant,
        ms: typeof rec.ms === 'object' && rec.ms ? rec.ms : {},
        measuredAt: String(rec.measuredAt ?? ''),
      };
    }
  }
  return out;
}

export class MemoryTuningStore implements TuningStore {
  readonly description = 'memory (not persisted)';
  private records: Record<string, TuningRecord> = {};
  load(): Record<string, TuningRecord> {
    return { ...this.records };
  }
  save(records: Record<string, TuningRecord>): void {
    this.records = { ...records };
  }
}

/** localStorage under one key; used in browsers. */
export class LocalStorageTuningStore implements TuningStore {
  constructor(readonly key = 'incept-gpu:tuning') {}
  get description(): string {
    return `localStorage['${this.key}']`;
  }
  load(): Record<string, TuningRecord> {
    try {
      const text = globalThis.localStorage?.getItem(this.key);
      return text ? validTuningRecords(JSON.parse(text), this.description) : {};
    } catch {
      return {};
    }
  }
  save(records: Record<string, TuningRecord>): void {
    try {
      globalThis.localStorage?.setItem(this.key, JSON.stringify(records));
    } catch (e) {
      // Quota or privacy settings: tuning still helps this page, it just is not kept.
      console.warn(`incept: could not save tuning results to ${this.description}: ${(e as Error).message}`);
    }
  }
}

export class Tuner {
  mode: TuningMode;
  /** Wall-time budget of one tune() call, milliseconds. */
  budgetMs: number;
  private readonly pins = new Map<string, string>();
  private records: Record<string, TuningRecord>;
  private readonly pending = new Map<string, Pending>();
  /** What this tuner measured; only these are written back, so records another process
   * measured meanwhile are not overwritten by stale copies loaded at start. */
  private measured: Record<string, TuningRecord> = {};
  private readonly now: () => number;
  private readonly measure: TuningMeasure;

  constructor(
    private readonly engine: TimedEngine,
    readonly adapterKey: string,
    readonly store: TuningStore,
    options: { mode?: TuningMode; budgetMs?: number } & TunerHooks = {},
  ) {
    this.mode = options.mode ?? 'auto';
    this.budgetMs = options.budgetMs ?? 60_000;
    this.now = options.now ?? (() => performance.now());
    this.measure = options.measure ?? (async (label, run) => (await measureGpuTime(this.engine, label, run, { warmup: 0, repeats: 1 })).ms);
    this.records = this.mode === 'off' ? {} : store.load();
  }

  private key(op: string, shapeClass: string): string {
    return `${this.adapterKey}|${op}|${shapeClass}`;
  }

  /** Forces `variant` for every later call of `op` (undefined unpins). */
  pin(op: string, variant: string | undefined): void {
    if (variant === undefined) this.pins.delete(op);
    else this.pins.set(op, variant);
  }

  pinned(op: string): string | undefined {
    return this.pins.get(op);
  }

  /** The stored record for a problem, if any: by op and stored key string, or by set and problem. */
  record(op: string, shapeClass: string): TuningRecord | undefined;
  record<K>(set: { readonly op: string; readonly checksum: string; key(problem: K): TuningKey }, problem: K): TuningRecord | undefined;
  record<K>(
    opOrSet: string | { readonly op: string; readonly checksum: string; key(problem: K): TuningKey },
    shapeClassOrProblem: string | K,
  ): TuningRecord | undefined {
    if (typeof opOrSet === 'string') return this.records[this.key(opOrSet, shapeClassOrProblem as string)];
    return this.records[this.key(opOrSet.op, tuningKeyString(opOrSet, shapeClassOrProblem as K))];
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * The variant of `set` to run for `problem`: pinned, else measured, else `fallback` (and, in
   * 'auto' mode, the problem is queued for tune() when there is a choice to make). `candidates`
   * are the variants that can run this very problem: a record measured on another problem of
   * the same bucket is used only if its variant is among them.
   */
  choose<P extends K, K>(set: TunableSet<P, K>, problem: P, candidates: readonly string[], fallback: string): string {
    const op = set.op;
    const pin = this.pins.get(op);
    if (pin !== undefined && candidates.includes(pin)) return pin;
    if (this.mode === 'off' || candidates.length < 2) return fallback;
    const shapeClass = tuningKeyString(set, problem);
    const key = this.key(op, shapeClass);
    const rec = this.records[key];
    if (rec && candidates.includes(rec.variant)) return rec.variant;
    if (this.mode === 'auto' && !this.pending.has(key)) this.pending.set(key, { op, shapeClass, candidates, setup: () => set.makeInputs(problem) });
    return fallback;
  }

  /**
   * Measures every pending problem's candidates within the budget and stores the winners.
   *
   * The budget is a bound on the call's wall time, setup, pipeline compilation and warm-up
   * included: the clock is read before every candidate run, and none is started once the budget
   * is spent (the last one started may end past it, by at most one run). Candidates take turns
   * round by round (so machine load falls on all alike); the first round warms up (compiles),
   * then up to `repeats` timed rounds. A problem is decided once every candidate has a timed
   * run; one the budget cut short stays pending, for a later call, and is counted as skipped.
   */
  async tune(options: { budgetMs?: number; repeats?: number; onProgress?: (message: string) => void } = {}): Promise<TuningReport> {
    const budgetMs = options.budgetMs ?? this.budgetMs;
    const repeats = Math.max(1, options.repeats ?? 5);
    const started = this.now();
    const spent = () => this.now() - started >= budgetMs;
    const tuned: TuningRecord[] = [];
    let runs = 0;
    let budgetSpent = false;
    for (const [key, p] of [...this.pending]) {
      if (spent()) {
        budgetSpent = true;
        break;
      }
      const times = new Map<string, number[]>(p.candidates.map((v) => [v, []]));
      // A synchronous scope hands the inputs out; they are disposed explicitly below (an async
      // scope would also capture tensors the caller creates while tune() is awaited).
      const { inputs, run } = this.engine.scope(() => p.setup());
      try {
        rounds: for (let round = 0; round <= repeats; round++) {
          for (const v of p.candidates) {
            if (spent()) {
              budgetSpent = true;
              break rounds;
            }
            runs++;
            const ms = await this.measure(`tuning ${p.op}: ${v}`, () => run(v));
            if (round > 0) times.get(v)!.push(ms);
          }
        }
      } finally {
        for (const t of inputs) t.dispose();
      }
      // Every candidate timed at least once, or the problem is left for a later call.
      if ([...times.values()].some((t) => t.length === 0)) break;
      const ms: Record<string, number> = Object.fromEntries([...times].map(([v, t]) => [v, median(t)]));
      const variant = Object.entries(ms).reduce((best, e) => (e[1] < best[1] ? e : best))[0];
      const rec: TuningRecord = { op: p.op, shapeClass: p.shapeClass, variant, ms, measuredAt: new Date().toISOString() };
      this.records[key] = rec;
      this.measured[key] = rec;
      this.pending.delete(key);
      tuned.push(rec);
      options.onProgress?.(
        `${p.op} ${p.shapeClass}: ${variant} (${Object.entries(ms)
          .map(([v, t]) => `${v} ${t.toFixed(2)} ms`)
          .join(', ')})`,
      );
      if (budgetSpent) break;
    }
    if (tuned.length > 0) this.persist();
    const ms = this.now() - started;
    if (budgetSpent && this.pending.size > 0 && budgetMs > 0) {
      options.onProgress?.(
        `budget of ${(budgetMs / 1000).toFixed(1)} s spent after ${(ms / 1000).toFixed(1)} s: ${this.pending.size} problem${this.pending.size === 1 ? '' : 's'} left untuned (heuristic or stored choices)`,
      );
    }
    return { tuned, skipped: this.pending.size, ms, budgetMs, budgetSpent: budgetSpent && this.pending.size > 0, runs };
  }

  /**
   * Measures `candidates` now, on the caller's own work (`run(variant)` records one run), and
   * stores and persists the fastest under (op, shapeClass) like tune() does. Custom kernel
   * variants (defineVariants) decide this way: their caller can await, where a built-in op
   * cannot. Rounds as in tune(): one warm-up round (compiles), then `repeats` timed rounds,
   * candidates taking turns. No budget: the caller asked for exactly this measurement.
   */
  async measureNow(op: string, shapeClass: string, candidates: readonly string[], run: (variant: string) => unknown, repeats = 3): Promise<TuningRecord> {
    const times = new Map<string, number[]>(candidates.map((v) => [v, []]));
    for (let round = 0; round <= Math.max(1, repeats); round++) {
      for (const v of candidates) {
        const ms = await this.measure(`tuning ${op}: ${v}`, () => run(v));
        if (round > 0) times.get(v)!.push(ms);
      }
    }
    const ms: Record<string, number> = Object.fromEntries([...times].map(([v, t]) => [v, median(t)]));
    const variant = Object.entries(ms).reduce((best, e) => (e[1] < best[1] ? e : best))[0];
    const rec: TuningRecord = { op, shapeClass, variant, ms, measuredAt: new Date().toISOString() };
    const key = this.key(op, shapeClass);
    this.records[key] = rec;
    this.measured[key] = rec;
    this.persist();
    return rec;
  }

  /** Forgets every stored choice for this adapter, here and in the store (other adapters' stay). */
  clear(): void {
    const prefix = `${this.adapterKey}|`;
    const keep = Object.fromEntries(Object.entries(this.store.load()).filter(([k]) => !k.startsWith(prefix)));
    this.records = {};
    this.measured = {};
    this.pending.clear();
    this.store.save(keep);
  }

  private persist(): void {
    this.store.save({ ...this.store.load(), ...this.measured });
  }
}
