/**
 * The kernel-variant tuner on the real engine (src/runtime/tuner.ts, tuning-file.ts): conv2d
 * runs the heuristic default and queues the problem until `tuner.tune()` has measured every
 * candidate; the fastest is stored, used by later calls and persisted (JSON file in Node,
 * localStorage in browsers, here a Map-backed stub); modes 'off' / 'cached' / 'auto'; pins;
 * the time budget; clear(). Problems are small 3×3 and 1×3 convs so tuning takes little time.
 * Every engine here gets an explicit store: the default one is the user's ~/.cache file.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { conv2d, conv2dCandidates, conv2dShapeClass, conv2dTunables, defaultConv2dVariant, type Conv2dVariant } from '../src/ops/conv2d.js';
import { convGeometry, type ConvGeometry, type Padding } from '../src/ops/conv2d-geometry.js';
import { createEngine, type Engine, type EngineOptions } from '../src/runtime/engine.js';
import { InvalidArgumentError } from '../src/runtime/errors.js';
import { LocalStorageTuningStore, MemoryTuningStore, validTuningRecords, type TuningRecord } from '../src/runtime/tuner.js';
import { FileTuningStore } from '../src/runtime/tuning-file.js';
import { conv2dRef } from './reference/conv2d.js';
import { assertClose } from './support/compare.js';
import { testEngine } from './support/engine.js';
import { freshSeed, makeRng, randomArray } from './support/random.js';

const CONV_TOLERANCE = 1e-4;
const seed = freshSeed();
const rng = makeRng(seed);

type Shape4 = [number, number, number, number];
interface Problem {
  x: Shape4;
  w: Shape4;
  padding: Padding;
}

/** General (implicit-GEMM) problems: 3×3 'same', Cout 8 (so every general variant applies). */
const P9: Problem = { x: [1, 9, 9, 8], w: [3, 3, 8, 8], padding: 'same' };
const P7: Problem = { x: [1, 7, 7, 8], w: [3, 3, 8, 8], padding: 'same' };
/** Its own size bucket (4), as P7's is 8 and P9's 16. */
const P5: Problem = { x: [1, 4, 4, 8], w: [3, 3, 8, 8], padding: 'same' };
/** A 1×3 'same' conv: the asymmetric window kernels apply, the general ones too. */
const P1x3: Problem = { x: [1, 9, 9, 8], w: [1, 3, 8, 8], padding: 'same' };

function geometry(p: Problem): ConvGeometry {
  return convGeometry('conv2d', p.x, p.w, undefined, p.padding);
}

function shapeClass(p: Problem): string {
  return conv2dShapeClass(geometry(p), undefined);
}

function kernelFile(variant: string): string {
  return variant.endsWith('window8x8') ? 'conv2d-asym.wgsl' : 'conv2d.wgsl';
}

/** The profiler's name of the dispatch a variant records (DispatchRecord.kernel is file:entry). */
function kernelOf(variant: string): string {
  return `${kernelFile(variant)}:${variant}`;
}

/**
 * Runs conv2d (no forced variant: the tuner decides) on fresh random data, checks the result
 * against the float64 reference and returns the kernel of the conv2d dispatch, read from the
 * profiler's records.
 */
async function runConv(engine: Engine, p: Problem): Promise<string> {
  const g = geometry(p);
  const x = randomArray(
    rng,
    p.x.reduce((a, b) => a * b),
  );
  const w = randomArray(
    rng,
    p.w.reduce((a, b) => a * b),
  );
  const ref = conv2dRef(x, p.x, w, p.w, g);
  const before = engine.profiler.records.length;
  engine.profiler.enabled = true;
  try {
    const out = await engine.scope(async () => {
      const y = conv2d(engine.tensor(x, p.x), engine.tensor(w, p.w), { padding: p.padding });
      expect(y.shape).toEqual(ref.shape);
      return y.read();
    });
    assertClose(out, ref.out, CONV_TOLERANCE, `conv2d ${shapeClass(p)} (seed ${seed})`);
  } finally {
    engine.profiler.enabled = false;
  }
  const convs = engine.profiler.records.splice(before).filter((r) => r.op === 'conv2d');
  expect(convs).toHaveLength(1);
  return convs[0]!.kernel;
}

/** A store that counts saves, to prove that nothing was written. */
class CountingStore extends MemoryTuningStore {
  saves = 0;
  override save(records: Record<string, TuningRecord>): void {
    this.saves++;
    super.save(records);
  }
}

const engines: Engine[] = [];
/** Every engine of this file: explicit store and mode (neither the user's cache nor $INCEPT_TUNING). */
async function makeEngine(options: EngineOptions = {}): Promise<Engine> {
  const e = await testEngine({ tuning: 'auto', tuningStore: new MemoryTuningStore(), ...options });
  engines.push(e);
  return e;
}
function destroy(e: Engine): void {
  const i = engines.indexOf(e);
  if (i >= 0) engines.splice(i, 1);
  e.destroy();
}

let adapterKey: string;
/** A candidate of `p` that is not the heuristic default: stored records that name it prove the
 * engine used the record, not the heuristic. */
let nonDefault: (p: Problem) => Conv2dVariant;
let defaultOf: (p: Problem) => Conv2dVariant;
let candidatesOf: (p: Problem) => Conv2dVariant[];

function plantedRecord(p: Problem, variant: string): TuningRecord {
  return { op: 'conv2d', shapeClass: shapeClass(p), variant, ms: { [variant]: 1 }, measuredAt: new Date(0).toISOString() };
}
function keyOf(p: Problem): string {
  return `${adapterKey}|conv2d|${shapeClass(p)}`;
}

const tmpRoot = mkdtempSync(join(tmpdir(), 'incept-tuner-test-'));

beforeAll(async () => {
  const e = await makeEngine();
  adapterKey = e.tuner.adapterKey;
  const cands = new Map<Problem, Conv2dVariant[]>();
  const defs = new Map<Problem, Conv2dVariant>();
  for (const p of [P9, P7, P5, P1x3]) {
    cands.set(p, conv2dCandidates(geometry(p), e));
    defs.set(p, defaultConv2dVariant(geometry(p), e));
  }
  candidatesOf = (p) => cands.get(p)!;
  defaultOf = (p) => defs.get(p)!;
  nonDefault = (p) => cands.get(p)!.find((v) => v !== defs.get(p))!;
  destroy(e);
});

afterEach(() => {
  vi.restoreAllMocks();
});

afterAll(() => {
  for (const e of engines.splice(0)) e.destroy();
  rmSync(tmpRoot, { recursive: true, force: true });
});

describe(`tuner (seed ${seed})`, () => {
  it('the test problems have a choice to make (at least two candidates, the default among them)', () => {
    for (const p of [P9, P7, P5, P1x3]) {
      expect(candidatesOf(p).length).toBeGreaterThanOrEqual(2);
      expect(candidatesOf(p)).toContain(defaultOf(p));
      expect(nonDefault(p)).toBeDefined();
    }
    expect(candidatesOf(P1x3)).toContain('window8x8');
    expect(candidatesOf(P9)).not.toContain('window8x8');
  });

  it('before tuning, conv2d runs the heuristic default and queues the problem once', async () => {
    const engine = await makeEngine();
    expect(engine.tuner.mode).toBe('auto');
    expect(engine.tuner.pendingCount).toBe(0);
    expect(await runConv(engine, P9)).toBe(kernelOf(defaultOf(P9)));
    expect(engine.tuner.pendingCount).toBe(1);
    // The same problem again (other data): still the default, still queued once.
    expect(await runConv(engine, P9)).toBe(kernelOf(defaultOf(P9)));
    expect(engine.tuner.pendingCount).toBe(1);
    // Another shape class is another problem.
    expect(await runConv(engine, P7)).toBe(kernelOf(defaultOf(P7)));
    expect(engine.tuner.pendingCount).toBe(2);
    expect(engine.tuner.record('conv2d', shapeClass(P9))).toBeUndefined();
    destroy(engine);
  });

  it('tune() measures every candidate, stores the fastest, and later calls run it (still correct)', async () => {
    const store = new CountingStore();
    const engine = await makeEngine({ tuningStore: store, tuningBudgetMs: 30_000 });
    expect(engine.tuner.budgetMs).toBe(30_000);
    await runConv(engine, P9);
    expect(engine.tuner.pendingCount).toBe(1);
    const live = engine.liveTensors;
    const progress: string[] = [];
    const report = await engine.tuner.tune({ onProgress: (m) => progress.push(m) });

    expect(report.tuned).toHaveLength(1);
    expect(report.skipped).toBe(0);
    expect(report.budgetMs).toBe(30_000);
    expect(report.ms).toBeGreaterThan(0);
    expect(Number.isFinite(report.ms)).toBe(true);
    expect(engine.tuner.pendingCount).toBe(0);
    // Tuning inputs are its own and are freed; its timing records do not leak into the profile.
    expect(engine.liveTensors).toBe(live);
    expect(engine.profiler.enabled).toBe(false);
    expect(engine.profiler.records).toHaveLength(0);

    const rec = report.tuned[0]!;
    expect(rec.op).toBe('conv2d');
    expect(rec.shapeClass).toBe(shapeClass(P9));
    expect(Object.keys(rec.ms).sort()).toEqual([...candidatesOf(P9)].sort());
    for (const v of candidatesOf(P9)) {
      expect(Number.isFinite(rec.ms[v]), `${v}: ${rec.ms[v]} ms`).toBe(true);
      expect(rec.ms[v]!, v).toBeGreaterThan(0);
    }
    const fastest = Math.min(...Object.values(rec.ms));
    expect(rec.ms[rec.variant]).toBe(fastest);
    expect(candidatesOf(P9)).toContain(rec.variant);
    expect(Math.abs(Date.parse(rec.measuredAt) - Date.now())).toBeLessThan(10 * 60_000);
    expect(progress).toHaveLength(1);
    expect(progress[0]).toContain(`conv2d ${shapeClass(P9)}: ${rec.variant}`);

    // Stored in the tuner and persisted to the store, once.
    expect(engine.tuner.record('conv2d', shapeClass(P9))).toEqual(rec);
    expect(store.saves).toBe(1);
    expect(store.load()[keyOf(P9)]).toEqual(rec);
    // choose() answers the measured variant whatever the fallback, and queues nothing.
    const sentinel = 'not-a-variant';
    const problem = { engine, g: geometry(P9), epilogue: false, statistics: false, outAligned: true, parts: { scale: false, shift: false, relu: false } };
    expect(engine.tuner.choose(conv2dTunables, problem, candidatesOf(P9), sentinel)).toBe(rec.variant);
    expect(engine.tuner.record(conv2dTunables, problem)).toEqual(rec);
    // A later conv2d of the problem dispatches the chosen kernel and is still correct.
    expect(await runConv(engine, P9)).toBe(kernelOf(rec.variant));
    expect(engine.tuner.pendingCount).toBe(0);

    // Nothing pending: tune() measures nothing and writes nothing.
    const again = await engine.tuner.tune();
    expect(again.tuned).toEqual([]);
    expect(again.skipped).toBe(0);
    expect(store.saves).toBe(1);
    destroy(engine);
  });

  it('records persist in a JSON file: a second engine starts tuned', async () => {
    const file = join(tmpRoot, 'persist', 'nested', 'tuning.json');
    const a = await makeEngine({ tuningStore: new FileTuningStore(file) });
    expect(a.tuner.store.description).toBe(file);
    expect(existsSync(file)).toBe(false);
    await runConv(a, P9);
    // Another process saves meanwhile: tune() merges rather than overwrites.
    const foreign = { ...plantedRecord(P7, 'tile8x8') };
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify({ ['other-adapter|conv2d|x']: foreign }));
    const report = await a.tuner.tune({ repeats: 2 });
    expect(report.tuned).toHaveLength(1);
    const rec = report.tuned[0]!;
    destroy(a);

    const text = readFileSync(file, 'utf8');
    expect(text).toContain(adapterKey);
    expect(text).toContain('"op": "conv2d"');
    const json = JSON.parse(text) as Record<string, TuningRecord>;
    expect(Object.keys(json).sort()).toEqual([keyOf(P9), 'other-adapter|conv2d|x'].sort());
    expect(json[keyOf(P9)]).toEqual(rec);
    expect(json['other-adapter|conv2d|x']).toEqual(foreign);
    // Written by rename: no temporary file is left behind.
    expect(readdirSync(dirname(file))).toEqual(['tuning.json']);

    const b = await makeEngine({ tuningStore: new FileTuningStore(file) });
    expect(b.tuner.record('conv2d', shapeClass(P9))).toEqual(rec);
    expect(await runConv(b, P9)).toBe(kernelOf(rec.variant));
    expect(b.tuner.pendingCount).toBe(0);
    destroy(b);

    // The file, not the heuristic, decides: a stored non-default variant is what runs.
    const planted = nonDefault(P9);
    writeFileSync(file, JSON.stringify({ ...json, [keyOf(P9)]: plantedRecord(P9, planted) }));
    const c = await makeEngine({ tuningStore: new FileTuningStore(file) });
    expect(await runConv(c, P9)).toBe(kernelOf(planted));
    expect(c.tuner.pendingCount).toBe(0);
    // A record whose variant is not a candidate here is not used; the problem is queued.
    writeFileSync(file, JSON.stringify({ [keyOf(P9)]: plantedRecord(P9, 'window8x8') }));
    const d = await makeEngine({ tuningStore: new FileTuningStore(file) });
    expect(await runConv(d, P9)).toBe(kernelOf(defaultOf(P9)));
    expect(d.tuner.pendingCount).toBe(1);
    destroy(c);
    destroy(d);
  });

  it('a damaged tuning file is ignored with a warning, then replaced by the next tune()', async () => {
    const file = join(tmpRoot, 'damaged', 'tuning.json');
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, '{ this is not json ]]');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const engine = await makeEngine({ tuningStore: new FileTuningStore(file) });
    expect(warn).toHaveBeenCalled();
    const messages = warn.mock.calls.map((c) => String(c[0]));
    expect(messages.some((m) => m.includes(file) && m.includes('tuning file'))).toBe(true);
    expect(engine.tuner.record('conv2d', shapeClass(P9))).toBeUndefined();
    expect(await runConv(engine, P9)).toBe(kernelOf(defaultOf(P9)));
    expect(engine.tuner.pendingCount).toBe(1);
    const report = await engine.tuner.tune({ repeats: 1 });
    expect(report.tuned).toHaveLength(1);
    const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, TuningRecord>;
    expect(json[keyOf(P9)]).toEqual(report.tuned[0]);
    destroy(engine);
  });

  it("mode 'off': heuristic only, nothing queued, nothing read or written", async () => {
    const store = new CountingStore();
    store.save({ [keyOf(P9)]: plantedRecord(P9, nonDefault(P9)) });
    store.saves = 0;
    const engine = await makeEngine({ tuning: 'off', tuningStore: store });
    expect(engine.tuner.mode).toBe('off');
    expect(engine.tuner.record('conv2d', shapeClass(P9))).toBeUndefined();
    expect(await runConv(engine, P9)).toBe(kernelOf(defaultOf(P9)));
    expect(await runConv(engine, P7)).toBe(kernelOf(defaultOf(P7)));
    expect(engine.tuner.pendingCount).toBe(0);
    const report = await engine.tuner.tune();
    expect(report.tuned).toEqual([]);
    expect(report.skipped).toBe(0);
    expect(store.saves).toBe(0);
    expect(store.load()).toEqual({ [keyOf(P9)]: plantedRecord(P9, nonDefault(P9)) });
    destroy(engine);
  });

  it("mode 'cached': stored choices are used, nothing is queued or measured", async () => {
    const store = new CountingStore();
    store.save({ [keyOf(P9)]: plantedRecord(P9, nonDefault(P9)) });
    store.saves = 0;
    const engine = await makeEngine({ tuning: 'cached', tuningStore: store });
    expect(engine.tuner.mode).toBe('cached');
    expect(await runConv(engine, P9)).toBe(kernelOf(nonDefault(P9)));
    // Unmeasured problem: the heuristic, and not queued.
    expect(await runConv(engine, P7)).toBe(kernelOf(defaultOf(P7)));
    expect(engine.tuner.pendingCount).toBe(0);
    const report = await engine.tuner.tune();
    expect(report.tuned).toEqual([]);
    expect(report.skipped).toBe(0);
    expect(store.saves).toBe(0);
    expect(engine.tuner.record('conv2d', shapeClass(P7))).toBeUndefined();
    destroy(engine);
  });

  it('INCEPT_TUNING picks the mode when the option does not; a bogus value is refused', async () => {
    const saved = process.env.INCEPT_TUNING;
    try {
      process.env.INCEPT_TUNING = 'bogus';
      const attempt = createEngine({ tuningStore: new MemoryTuningStore() });
      await expect(attempt).rejects.toThrow(InvalidArgumentError);
      await expect(attempt).rejects.toThrow(/INCEPT_TUNING.*bogus/);
      // The explicit option wins over the environment.
      const explicit = await makeEngine({ tuning: 'cached' });
      expect(explicit.tuner.mode).toBe('cached');
      destroy(explicit);

      process.env.INCEPT_TUNING = 'off';
      const fromEnv = await testEngine({ tuningStore: new MemoryTuningStore() });
      engines.push(fromEnv);
      expect(fromEnv.tuner.mode).toBe('off');
      destroy(fromEnv);
    } finally {
      if (saved === undefined) delete process.env.INCEPT_TUNING;
      else process.env.INCEPT_TUNING = saved;
    }
    expect(process.env.INCEPT_TUNING).toBe(saved);
  });

  it('pin() forces a variant where it applies, is ignored where it does not, and unpins', async () => {
    const stored = nonDefault(P9);
    const store = new MemoryTuningStore();
    store.save({ [keyOf(P9)]: plantedRecord(P9, stored) });
    const engine = await makeEngine({ tuningStore: store });
    expect(engine.tuner.pinned('conv2d')).toBeUndefined();

    // A pin beats a stored measurement.
    const pin9 = candidatesOf(P9).find((v) => v !== stored)!;
    engine.tuner.pin('conv2d', pin9);
    expect(engine.tuner.pinned('conv2d')).toBe(pin9);
    expect(await runConv(engine, P9)).toBe(kernelOf(pin9));
    expect(engine.tuner.pendingCount).toBe(0);

    // window8x8 only runs 1×n / n×1 convs: used for the 1×3 problem, ignored for the 3×3 one.
    engine.tuner.pin('conv2d', 'window8x8');
    expect(await runConv(engine, P1x3)).toBe('conv2d-asym.wgsl:window8x8');
    expect(engine.tuner.pendingCount).toBe(0);
    expect(await runConv(engine, P9)).toBe(kernelOf(stored));
    expect(await runConv(engine, P7)).toBe(kernelOf(defaultOf(P7)));
    expect(engine.tuner.pendingCount).toBe(1); // P7 falls back as if unpinned, so it is queued

    engine.tuner.pin('conv2d', undefined);
    expect(engine.tuner.pinned('conv2d')).toBeUndefined();
    expect(await runConv(engine, P1x3)).toBe(kernelOf(defaultOf(P1x3)));
    expect(await runConv(engine, P9)).toBe(kernelOf(stored));
    expect(engine.tuner.pendingCount).toBe(2);
    destroy(engine);
  });

  it('the budget bounds tune(): with 0 ms nothing is measured and every problem stays queued', async () => {
    const store = new CountingStore();
    const engine = await makeEngine({ tuningStore: store, tuningBudgetMs: 0 });
    expect(engine.tuner.budgetMs).toBe(0);
    const order = [P9, P7, P5];
    for (const p of order) await runConv(engine, p);
    expect(engine.tuner.pendingCount).toBe(3);

    // tune() starts a problem only while elapsed < budget, so a 0 ms budget measures nothing.
    const report = await engine.tuner.tune({ budgetMs: 0, repeats: 1 });
    expect(report.budgetMs).toBe(0);
    expect(report.tuned).toEqual([]);
    expect(report.skipped).toBe(3);
    expect(engine.tuner.pendingCount).toBe(3);
    expect(store.saves).toBe(0); // persisted only when something was measured
    for (const p of order) expect(engine.tuner.record('conv2d', shapeClass(p))).toBeUndefined();

    // The engine's budget (0 ms, from tuningBudgetMs) applies when the call gives none.
    const defaulted = await engine.tuner.tune({ repeats: 1 });
    expect(defaulted.budgetMs).toBe(0);
    expect(defaulted.tuned).toEqual([]);

    // A generous budget measures every problem still queued, in queue order.
    const left = engine.tuner.pendingCount;
    const rest = await engine.tuner.tune({ budgetMs: 120_000, repeats: 1 });
    expect(rest.budgetMs).toBe(120_000);
    expect(rest.tuned).toHaveLength(left);
    expect(rest.skipped).toBe(0);
    expect(engine.tuner.pendingCount).toBe(0);
    const measured = [...report.tuned, ...defaulted.tuned, ...rest.tuned].map((r) => r.shapeClass);
    expect(measured).toEqual(order.map(shapeClass));
    for (const p of order) expect(store.load()[keyOf(p)]).toEqual(engine.tuner.record('conv2d', shapeClass(p)));
    destroy(engine);
  });

  it("clear() drops this adapter's records, here and in the store, and keeps other adapters'", async () => {
    const foreignKey = `some-other-adapter/driver|conv2d|${shapeClass(P9)}`;
    const foreign = plantedRecord(P9, 'shared64');
    const store = new MemoryTuningStore();
    store.save({ [foreignKey]: foreign, [keyOf(P9)]: plantedRecord(P9, nonDefault(P9)) });
    const engine = await makeEngine({ tuningStore: store });
    expect(engine.tuner.record('conv2d', shapeClass(P9))).toEqual(plantedRecord(P9, nonDefault(P9)));
    expect(await runConv(engine, P9)).toBe(kernelOf(nonDefault(P9)));
    await runConv(engine, P7);
    expect(engine.tuner.pendingCount).toBe(1);
    // A record of this adapter that another process stored after this engine loaded.
    store.save({ ...store.load(), [keyOf(P5)]: plantedRecord(P5, nonDefault(P5)) });

    engine.tuner.clear();
    expect(store.load()).toEqual({ [foreignKey]: foreign });
    expect(engine.tuner.record('conv2d', shapeClass(P9))).toBeUndefined();
    expect(engine.tuner.pendingCount).toBe(0);
    // Back to the heuristic, and queued again.
    expect(await runConv(engine, P9)).toBe(kernelOf(defaultOf(P9)));
    expect(engine.tuner.pendingCount).toBe(1);
    destroy(engine);
  });

  it('LocalStorageTuningStore round-trips through localStorage', async () => {
    const had = Object.getOwnPropertyDescriptor(globalThis, 'localStorage');
    const backing = new Map<string, string>();
    const stub = {
      getItem: (k: string) => backing.get(k) ?? null,
      setItem: (k: string, v: string) => void backing.set(k, String(v)),
      removeItem: (k: string) => void backing.delete(k),
      clear: () => backing.clear(),
      key: (i: number) => [...backing.keys()][i] ?? null,
      get length() {
        return backing.size;
      },
    };
    Object.defineProperty(globalThis, 'localStorage', { value: stub, configurable: true, writable: true });
    try {
      const key = 'incept-test:tuning';
      expect(new LocalStorageTuningStore().key).toBe('incept-gpu:tuning');
      const store = new LocalStorageTuningStore(key);
      expect(store.description).toBe(`localStorage['${key}']`);
      expect(store.load()).toEqual({});

      const a = await makeEngine({ tuningStore: store });
      await runConv(a, P7);
      const report = await a.tuner.tune({ repeats: 1 });
      expect(report.tuned).toHaveLength(1);
      const rec = report.tuned[0]!;
      destroy(a);
      expect([...backing.keys()]).toEqual([key]);
      const text = backing.get(key)!;
      expect(text).toContain(adapterKey);
      expect(JSON.parse(text)).toEqual({ [keyOf(P7)]: rec });

      // A fresh store object (a new page load) reads it back; an engine on it starts tuned.
      const reread = new LocalStorageTuningStore(key);
      expect(reread.load()).toEqual({ [keyOf(P7)]: rec });
      const b = await makeEngine({ tuningStore: reread });
      expect(b.tuner.record('conv2d', shapeClass(P7))).toEqual(rec);
      expect(await runConv(b, P7)).toBe(kernelOf(rec.variant));
      expect(b.tuner.pendingCount).toBe(0);
      destroy(b);

      // Saved records of any variant are what later engines run (not the heuristic).
      reread.save({ [keyOf(P7)]: plantedRecord(P7, nonDefault(P7)) });
      const c = await makeEngine({ tuningStore: new LocalStorageTuningStore(key) });
      expect(await runConv(c, P7)).toBe(kernelOf(nonDefault(P7)));
      destroy(c);

      // Garbage under the key reads as no records.
      backing.set(key, 'not json {');
      expect(new LocalStorageTuningStore(key).load()).toEqual({});
    } finally {
      if (had) Object.defineProperty(globalThis, 'localStorage', had);
      else delete (globalThis as { localStorage?: unknown }).localStorage;
    }
    expect(Object.getOwnPropertyDescriptor(globalThis, 'localStorage')).toEqual(had);
    // Without localStorage the store is empty and saving is a no-op.
    if (!had) {
      const none = new LocalStorageTuningStore('incept-test:none');
      expect(none.load()).toEqual({});
      expect(() => none.save({})).not.toThrow();
    }
  });

  it('tune() does not capture tensors the caller creates while it is awaited', async () => {
    const engine = await makeEngine({ tuningBudgetMs: 30_000 });
    await runConv(engine, P9);
    expect(engine.tuner.pendingCount).toBe(1);
    const base = engine.liveTensors;
    const g = geometry(P9);
    const xs = randomArray(
      rng,
      P9.x.reduce((a, b) => a * b),
    );
    const ws = randomArray(
      rng,
      P9.w.reduce((a, b) => a * b),
    );
    const ref = conv2dRef(xs, P9.x, ws, P9.w, g);
    const x = engine.tensor(xs, P9.x);
    const w = engine.tensor(ws, P9.w);

    const pending = engine.tuner.tune({ repeats: 2 });
    // Created right after tune() started (it is inside its first await) and again after a
    // macrotask (deeper inside the measurement): neither belongs to the tuner.
    const y = conv2d(x, w, { padding: P9.padding });
    await new Promise((r) => setTimeout(r, 0));
    const y2 = conv2d(x, w, { padding: P9.padding });
    const report = await pending;
    expect(report.tuned).toHaveLength(1);

    expect(y.isDisposed).toBe(false);
    expect(y2.isDisposed).toBe(false);
    expect(x.isDisposed).toBe(false);
    expect(w.isDisposed).toBe(false);
    // The tuner's own inputs are gone; the caller's four tensors are all that was added.
    expect(engine.liveTensors).toBe(base + 4);
    assertClose(await y.read(), ref.out, CONV_TOLERANCE, `conv2d during tune() (seed ${seed})`);
    assertClose(await y2.read(), ref.out, CONV_TOLERANCE, `conv2d during tune(), later (seed ${seed})`);
    for (const t of [x, w, y, y2]) t.dispose();
    expect(engine.liveTensors).toBe(base);
    destroy(engine);
  });

  it('a tuning file of valid JSON that is not an object, or with malformed entries, is ignored, then replaced', async () => {
    // The validator on its own: anything that is not an object warns; bad entries are dropped.
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    for (const bad of [null, 42, [], 'text', true]) {
      warn.mockClear();
      expect(validTuningRecords(bad, 'somewhere')).toEqual({});
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]![0])).toContain('somewhere');
    }
    warn.mockClear();
    const good = plantedRecord(P7, nonDefault(P7));
    expect(validTuningRecords({ k: 5, k2: { op: 1 }, k3: null, k4: { op: 'conv2d', shapeClass: 'x' }, good }, 'w')).toEqual({ good });
    expect(warn).not.toHaveBeenCalled();

    const cases: [string, string][] = [
      ['null', 'null'],
      ['number', '42'],
      ['array', '[]'],
      ['entries', JSON.stringify({ k: 5, k2: { op: 1 }, k3: null, [keyOf(P7)]: good })],
    ];
    for (const [name, text] of cases) {
      const file = join(tmpRoot, `not-object-${name}`, 'tuning.json');
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, text);
      warn.mockClear();
      const engine = await makeEngine({ tuningStore: new FileTuningStore(file) });
      if (name !== 'entries') {
        const messages = warn.mock.calls.map((c) => String(c[0]));
        expect(
          messages.some((m) => m.includes(file) && m.includes('not a JSON object')),
          `${name}: ${messages.join(' / ')}`,
        ).toBe(true);
      } else {
        // The well-formed entry among the malformed ones is still used.
        expect(engine.tuner.record('conv2d', shapeClass(P7))).toEqual(good);
      }
      expect(engine.tuner.record('conv2d', shapeClass(P9))).toBeUndefined();
      expect(await runConv(engine, P9)).toBe(kernelOf(defaultOf(P9)));
      expect(engine.tuner.pendingCount).toBe(1);
      const report = await engine.tuner.tune({ repeats: 1 });
      expect(report.tuned).toHaveLength(1);
      const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, TuningRecord>;
      expect(json, name).toEqual(name === 'entries' ? { [keyOf(P9)]: report.tuned[0], [keyOf(P7)]: good } : { [keyOf(P9)]: report.tuned[0] });
      destroy(engine);
    }
  });

  it('persist() writes back only what this tuner measured, not stale copies of records it loaded', async () => {
    const file = join(tmpRoot, 'stale', 'tuning.json');
    mkdirSync(dirname(file), { recursive: true });
    const v1 = nonDefault(P9);
    const v2 = candidatesOf(P9).find((v) => v !== v1)!;
    const recV1 = plantedRecord(P9, v1);
    const recV2 = { ...plantedRecord(P9, v2), measuredAt: new Date(1000).toISOString() };
    writeFileSync(file, JSON.stringify({ [keyOf(P9)]: recV1 }));
    const store = new FileTuningStore(file);
    const a = await makeEngine({ tuningStore: store });
    expect(a.tuner.record('conv2d', shapeClass(P9))).toEqual(recV1);

    // Another process re-measures P9 meanwhile and stores v2.
    new FileTuningStore(file).save({ [keyOf(P9)]: recV2 });

    // A tunes another problem; its save must not put its stale v1 back.
    await runConv(a, P7);
    expect(a.tuner.pendingCount).toBe(1);
    const report = await a.tuner.tune({ repeats: 1 });
    expect(report.tuned).toHaveLength(1);
    expect(report.tuned[0]!.shapeClass).toBe(shapeClass(P7));
    const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, TuningRecord>;
    expect(json).toEqual({ [keyOf(P9)]: recV2, [keyOf(P7)]: report.tuned[0] });
    expect(store.load()[keyOf(P9)]!.variant).toBe(v2);
    destroy(a);
  });

  it('LocalStorageTuningStore: a failing setItem (quota) warns instead of failing tune()', async () => {
    const had = Object.getOwnPropertyDescriptor(globalThis, 'localStorage');
    const setItem = vi.fn((_k: string, _v: string): void => {
      throw new Error('QuotaExceededError: the quota has been exceeded');
    });
    const stub = { getItem: (_k: string) => null, setItem, removeItem: () => undefined, clear: () => undefined, key: () => null, length: 0 };
    Object.defineProperty(globalThis, 'localStorage', { value: stub, configurable: true, writable: true });
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const store = new LocalStorageTuningStore('incept-test:quota');
      expect(() => store.save({})).not.toThrow();
      warn.mockClear();
      setItem.mockClear();
      const engine = await makeEngine({ tuningStore: store });
      await runConv(engine, P7);
      expect(engine.tuner.pendingCount).toBe(1);
      const report = await engine.tuner.tune({ repeats: 1 });
      expect(report.tuned).toHaveLength(1);
      expect(setItem).toHaveBeenCalledTimes(1);
      const messages = warn.mock.calls.map((c) => String(c[0]));
      expect(
        messages.some((m) => m.includes(store.description) && m.includes('quota')),
        messages.join(' / '),
      ).toBe(true);
      // Not kept, but still used by this engine.
      expect(engine.tuner.record('conv2d', shapeClass(P7))).toEqual(report.tuned[0]);
      expect(await runConv(engine, P7)).toBe(kernelOf(report.tuned[0]!.variant));
      destroy(engine);
    } finally {
      if (had) Object.defineProperty(globalThis, 'localStorage', had);
      else delete (globalThis as { localStorage?: unknown }).localStorage;
    }
    expect(Object.getOwnPropertyDescriptor(globalThis, 'localStorage')).toEqual(had);
  });

  it('a budget of 0 ms (or less) measures nothing: every pending problem is skipped', async () => {
    const store = new CountingStore();
    const engine = await makeEngine({ tuningStore: store });
    for (const p of [P9, P7]) await runConv(engine, p);
    expect(engine.tuner.pendingCount).toBe(2);
    for (const budgetMs of [0, -5]) {
      const report = await engine.tuner.tune({ budgetMs, repeats: 1 });
      expect(report.budgetMs).toBe(budgetMs);
      expect(report.tuned).toEqual([]);
      expect(report.skipped).toBe(2);
      expect(engine.tuner.pendingCount).toBe(2);
    }
    expect(store.saves).toBe(0);
    expect(engine.tuner.record('conv2d', shapeClass(P9))).toBeUndefined();
    expect(engine.tuner.record('conv2d', shapeClass(P7))).toBeUndefined();
    destroy(engine);
  });

  it('a bogus INCEPT_TUNING is refused before a device is acquired', async () => {
    const saved = process.env.INCEPT_TUNING;
    try {
      process.env.INCEPT_TUNING = 'bogus';
      const store = new MemoryTuningStore();
      const load = vi.spyOn(store, 'load');
      // A bogus driver would fail device acquisition with a NoAdapterError: the tuning error
      // comes first, so nothing was acquired (and no tuner, which loads the store, was built).
      const attempt = createEngine({ tuningStore: store, driver: 'not-a-driver' as EngineOptions['driver'] });
      await expect(attempt).rejects.toThrow(InvalidArgumentError);
      await expect(attempt).rejects.toThrow(/INCEPT_TUNING/);
      expect(load).not.toHaveBeenCalled();
    } finally {
      if (saved === undefined) delete process.env.INCEPT_TUNING;
      else process.env.INCEPT_TUNING = saved;
    }
    expect(process.env.INCEPT_TUNING).toBe(saved);
  });
});
