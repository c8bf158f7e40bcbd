/**
 * Custom kernels: WGSL of the user's own, compiled when defined and dispatched on engine tensors
 * with the same reflected checks as the built-in ops (binding-check.ts). A kernel is compiled
 * eagerly so its compiler errors throw at `defineKernel` with line, column and the source line,
 * instead of surfacing at some later flush; its pipelines are built then too (inside WebGPU's
 * validation), and the engine's pipeline cache adopts them at the first dispatch.
 *
 * `defineVariants` lets the tuner choose between several kernels (or override settings) for a
 * problem by measuring them, stored per adapter and problem key like the built-in ops' choices.
 */
import type { BindingValue } from './dispatch-spec.js';
import type { Engine } from './engine.js';
import { InceptError, InvalidArgumentError, KernelCompileError, type KernelCompileMessage } from './errors.js';
import { KernelFamily, pipelineKey, type EntryInfo, type OverrideInfo } from './kernel.js';
import { Tensor } from './tensor.js';
import { measureGpuTime, type GpuTimeOptions, type GpuTimeStats } from './timing.js';
import type { TuningRecord } from './tuner.js';
import { kernelChecksum, tuningKeyString, type TuningKey } from './tuning-key.js';

/** What `defineKernel` needs: a name and WGSL. */
export interface KernelDefinition {
  /** Names the kernel in errors, profiles (the op) and tuning records: a letter, then letters,
   * digits, `_`, `-` or `.`. */
  name: string;
  /** The WGSL source: storage buffers, uniform structs, `override` constants, @compute entries. */
  code: string;
  /** The compute entry points to compile and allow (default: every @compute function). */
  entries?: readonly string[];
  /** Values of `override` constants for every dispatch; a dispatch's own overrides win. */
  overrides?: Readonly<Record<string, number>>;
}

/** One dispatch of a custom kernel. */
export interface KernelDispatch {
  /** The entry point; may be left out when the kernel has one. */
  entry?: string;
  /** Every binding the entry uses, by its WGSL name: a tensor for a storage buffer, an object of
   * numbers (by member name) for a uniform struct. */
  bindings: Record<string, BindingValue>;
  /** Workgroup counts [x, y?, z?]; `engine.grid1d(n, workgroupSize)` folds a long 1-D grid. */
  workgroups: readonly [number, number?, number?];
  /** Override values for this dispatch (on top of the definition's). */
  overrides?: Readonly<Record<string, number>>;
  /** Work done, for GFLOP/s and GB/s in profiles and measurements. */
  cost?: { flops?: number; bytes?: number };
}

const NAME = /^[A-Za-z][A-Za-z0-9_.-]*$/;

/** A compiled kernel bound to one engine; made by `defineKernel`. */
export class CustomKernel {
  /** @internal The reflected kernel the engine dispatches. */
  readonly family: KernelFamily;

  /** @internal */
  constructor(
    readonly engine: Engine,
    readonly name: string,
    readonly code: string,
    family: KernelFamily,
    /** The entry points this kernel allows, with their bindings and workgroup sizes. */
    readonly entries: readonly EntryInfo[],
    private readonly defaultOverrides: Readonly<Record<string, number>>,
    /** The compiler's warnings and notes (errors throw at definition). */
    readonly warnings: readonly KernelCompileMessage[],
  ) {
    this.family = family;
  }

  /** The `override` constants the WGSL declares. */
  get overrides(): readonly OverrideInfo[] {
    return this.family.overrides;
  }

  /** An entry point's reflected bindings and workgroup size (with default override values). */
  entry(name?: string): EntryInfo {
    const entry = this.entryName(name);
    return this.entries.find((e) => e.name === entry)!;
  }

  /** What a dispatch of `entry` must pass, one binding a line (the text binding errors show). */
  describe(entry?: string): string {
    return this.family.describeEntry(this.entryName(entry));
  }

  /**
   * Records one dispatch into the engine's open batch, like a built-in op: the bindings are
   * checked against the reflected WGSL first (names, dtypes, sizes, aliasing, uniform members),
   * and a mistake throws a KernelBindingError naming `name:entry` and listing what the entry
   * expects. The profiler files it under op `name`, kernel `name:entry`.
   */
  dispatch(d: KernelDispatch): void {
    const entry = this.entryName(d.entry);
    for (const [binding, value] of Object.entries(d.bindings)) {
      if (value instanceof Tensor && value.owner !== this.engine) {
        throw new InvalidArgumentError(`kernel '${this.name}': binding '${binding}' is ${value.describe()}, a tensor of another engine than the kernel's`);
      }
    }
    const overrides = { ...this.defaultOverrides, ...d.overrides };
    this.engine.dispatch({
      op: this.name,
      kernel: this.family,
      entry,
      bindings: d.bindings,
      workgroups: d.workgroups,
      ...(Object.keys(overrides).length ? { overrides } : {}),
      ...(d.cost ? { cost: d.cost } : {}),
    });
  }

  /**
   * GPU time of a dispatch (or of any work recording dispatches), by measureGpuTime: the work is
   * run `warmup + repeats` times, each alone, and timed by the profiler (timestamp queries where
   * the adapter has them). Declare `cost` on the dispatch to get GFLOP/s from the stats.
   */
  measure(work: KernelDispatch | (() => unknown), options: GpuTimeOptions = {}): Promise<GpuTimeStats> {
    const record = typeof work === 'function' ? work : () => this.dispatch(work);
    return measureGpuTime(this.engine, this.name, record, options);
  }

  private entryName(entry: string | undefined): string {
    if (entry === undefined) {
      if (this.entries.length === 1) return this.entries[0]!.name;
      throw new InvalidArgumentError(`kernel '${this.name}' has ${this.entries.length} entry points (${this.entryList()}); name one as entry`);
    }
    if (!this.entries.some((e) => e.name === entry)) {
      throw new InvalidArgumentError(`kernel '${this.name}' has no entry point '${entry}'; it has: ${this.entryList()}`);
    }
    return entry;
  }

  private entryList(): string {
    return this.entries.map((e) => e.name).join(', ');
  }
}

/** `override` constants declared without a value: a pipeline needs them from the caller. */
function overridesWithoutDefault(code: string): string[] {
  const stripped = code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  return [...stripped.matchAll(/\boverride\s+([A-Za-z_][A-Za-z0-9_]*)\s*(?::\s*[A-Za-z0-9_<>]+\s*)?(=)?/g)].filter((m) => !m[2]).map((m) => m[1]!);
}

function compilerMessage(m: GPUCompilationMessage): KernelCompileMessage {
  return { type: m.type, line: m.lineNum, column: m.linePos, length: Math.max(1, m.length), message: m.message };
}

/**
 * Compiles a WGSL kernel on the engine's device and reflects its bindings. Throws a
 * KernelCompileError (each compiler error with line, column, the source line and a caret) if the
 * WGSL does not compile or a pipeline of it fails WebGPU's validation (too much workgroup
 * memory, too large a workgroup), and InvalidArgumentError for a bad name, entry or override.
 *
 * ```ts
 * const scale = await defineKernel(engine, { name: 'scale', code: wgsl });
 * scale.dispatch({ bindings: { x, y, params: { factor: 2 } }, workgroups: engine.grid1d(n, 64) });
 * ```
 */
export async function defineKernel(engine: Engine, definition: KernelDefinition): Promise<CustomKernel> {
  const { name, code } = definition;
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new InvalidArgumentError(`defineKernel: name ${JSON.stringify(name)} must start with a letter and hold only letters, digits, '_', '-' and '.'`);
  }
  if (typeof code !== 'string' || code.trim() === '') throw new InvalidArgumentError(`defineKernel '${name}': code must be WGSL source text`);
  if (engine.isDestroyed) throw new InvalidArgumentError(`defineKernel '${name}': the engine was destroyed`);
  const device = engine.device;

  // The scope keeps WebGPU's own report of a bad module out of the engine's uncaptured errors
  // (which the next flush would throw): the compiler's messages say it better, here.
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code, label: `kernel '${name}'` });
  const moduleError = await device.popErrorScope();
  const messages = (await module.getCompilationInfo()).messages.map(compilerMessage);
  const errors = messages.filter((m) => m.type === 'error');
  if (errors.length > 0) throw new KernelCompileError(name, errors, code);
  if (moduleError) throw new KernelCompileError(name, [{ type: 'error', line: 0, column: 0, length: 0, message: moduleError.message }], code);

  const family = new KernelFamily(name, code, { describedAs: `kernel '${name}'` });
  let available: string[];
  try {
    available = family.entryNames;
  } catch (e) {
    // WebGPU's compiler took it but the reflector (wgsl_reflect) could not: still a definition error.
    const reason = e instanceof InceptError ? e.message.replace(`${family.source}: `, '') : String(e);
    throw new KernelCompileError(name, [{ type: 'error', line: 0, column: 0, length: 0, message: reason }], code);
  }
  if (available.length === 0) throw new InvalidArgumentError(`defineKernel '${name}': the WGSL declares no @compute entry point`);
  const wanted = definition.entries ?? available;
  const unknown = wanted.filter((e) => !available.includes(e));
  if (unknown.length || wanted.length === 0) {
    throw new InvalidArgumentError(
      `defineKernel '${name}': ${unknown.length ? `no compute entry point ${unknown.map((e) => `'${e}'`).join(', ')}` : 'entries is empty'}; the WGSL has: ${available.join(', ')}`,
    );
  }
  const overrides = { ...definition.overrides };
  for (const [k, v] of Object.entries(overrides)) {
    if (!family.overrides.some((o) => o.name === k)) {
      throw new InvalidArgumentError(
        `defineKernel '${name}': override '${k}' is not declared in the WGSL (declared: ${family.overrides.map((o) => o.name).join(', ') || 'none'})`,
      );
    }
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new InvalidArgumentError(`defineKernel '${name}': override '${k}' must be a finite number, got ${String(v)}`);
  }

  // Pipelines now, where every override has a value; WebGPU's validation of them (workgroup
  // memory and size limits) then fails here rather than at a flush.
  const pipelines = new Map<string, GPUComputePipeline>();
  const unset = overridesWithoutDefault(code).filter((o) => !(o in overrides));
  if (unset.length === 0) {
    const failures: KernelCompileMessage[] = [];
    await Promise.all(
      wanted.map(async (entry) => {
        try {
          const key = pipelineKey(entry, overrides);
          const pipeline = await device.createComputePipelineAsync({
            label: `${name}:${key}`,
            layout: 'auto',
            compute: { module, entryPoint: entry, constants: overrides },
          });
          pipelines.set(key, pipeline);
        } catch (e) {
          failures.push({ type: 'error', line: 0, column: 0, length: 0, message: (e as Error).message, entry });
        }
      }),
    );
    if (failures.length > 0) throw new KernelCompileError(name, failures, code);
  }
  family.precompiled.set(device, { module, pipelines });
  const entries = wanted.map((e) => family.entry(e));
  return new CustomKernel(engine, name, code, family, entries, overrides, messages);
}

/** What `defineVariants` needs: the variants and how problems share a measurement. */
export interface VariantsDefinition<P, R> {
  /** Names the choice in the tuning store (and `engine.tuner.pin(name, variant)` forces one). */
  name: string;
  /** Each variant records the work for a problem (dispatches) and may return its outputs. The
   * first is the default, used where nothing is measured (tuning 'off', or 'cached' without a
   * record). Variants must not modify their inputs: measuring runs each of them. */
  variants: Readonly<Record<string, (problem: P) => R>>;
  /** The kernels the variants run: their sources go into the key, so an edited kernel is
   * measured again instead of trusting a choice made for its old code. */
  kernels: readonly CustomKernel[];
  /** Which problems share one measurement: numbers, booleans or plain words, e.g.
   * `{ channels: p.c, pixels: anchor(p.h * p.w) }` (anchor buckets sizes). Default: all share one. */
  key?: (problem: P) => TuningKey;
  /** Timed rounds per measurement, after one warm-up round (default 3). */
  repeats?: number;
}

/** Variants of a custom kernel, chosen by measurement per problem key; made by defineVariants. */
export class KernelVariants<P, R> {
  /** The variants' names, the default first. */
  readonly names: readonly string[];
  private readonly checksum: string;
  private readonly inFlight = new Map<string, Promise<string>>();

  /** @internal */
  constructor(
    readonly engine: Engine,
    private readonly definition: VariantsDefinition<P, R>,
  ) {
    this.names = Object.keys(definition.variants);
    this.checksum = kernelChecksum(definition.kernels);
  }

  get name(): string {
    return this.definition.name;
  }

  /** The key under which a problem's choice is stored (`kernels=<checksum> …` and the key's fields). */
  shapeClass(problem: P): string {
    try {
      return tuningKeyString({ checksum: this.checksum, key: (p: P) => this.definition.key?.(p) ?? {} }, problem);
    } catch (e) {
      throw new InvalidArgumentError(`variants '${this.name}': ${(e as Error).message}`);
    }
  }

  /** The stored measurement for this problem's key (each variant's median ms and the winner), if any. */
  record(problem: P): TuningRecord | undefined {
    return this.engine.tuner.record(this.name, this.shapeClass(problem));
  }

  /** The variant to run without measuring: pinned, else stored for this problem's key, else undefined. */
  stored(problem: P): string | undefined {
    const tuner = this.engine.tuner;
    const pin = tuner.pinned(this.name);
    if (pin !== undefined && this.names.includes(pin)) return pin;
    if (tuner.mode === 'off') return undefined;
    const rec = this.record(problem);
    return rec && this.names.includes(rec.variant) ? rec.variant : undefined;
  }

  /**
   * The variant for this problem: pinned or stored if there is one; otherwise (tuning 'auto')
   * every variant is measured on the problem now, once per key, and the fastest is stored in
   * the engine's tuning store for this adapter (a later engine starts with it). With tuning
   * 'off', or 'cached' and nothing stored, the default (first) variant.
   */
  async choose(problem: P): Promise<string> {
    const known = this.stored(problem);
    if (known !== undefined) return known;
    const tuner = this.engine.tuner;
    if (tuner.mode !== 'auto' || this.names.length < 2) return this.names[0]!;
    const shapeClass = this.shapeClass(problem);
    let pending = this.inFlight.get(shapeClass);
    if (!pending) {
      pending = tuner
        .measureNow(this.name, shapeClass, this.names, (v) => this.definition.variants[v]!(problem), this.definition.repeats ?? 3)
        .then((rec) => rec.variant)
        .finally(() => this.inFlight.delete(shapeClass));
      this.inFlight.set(shapeClass, pending);
    }
    return pending;
  }

  /** Chooses (see choose) and runs the chosen variant on the problem, returning what it returns. */
  async run(problem: P): Promise<R> {
    const variant = await this.choose(problem);
    return this.definition.variants[variant]!(problem);
  }

  /** Runs the stored or pinned variant (else the default) without measuring: for synchronous code. */
  runStored(problem: P): R {
    return this.definition.variants[this.stored(problem) ?? this.names[0]!]!(problem);
  }
}

/**
 * Several ways to compute the same thing (kernels, or one kernel with different override
 * values), among which the engine's tuner picks the fastest per problem key by measuring them
 * on this adapter, and remembers it like the built-in ops' choices (the engine's tuning store:
 * a JSON file in Node, localStorage in a browser).
 *
 * ```ts
 * const depthwise = defineVariants(engine, {
 *   name: 'depthwise3x3',
 *   variants: { perPixel: (p: Problem) => runA(p), fourChannels: (p: Problem) => runB(p) },
 *   kernels: [kernelA, kernelB],
 *   key: (p) => ({ c: p.c, pixels: anchor(p.h * p.w) }),
 * });
 * const y = await depthwise.run(problem);   // measured once per key, then the stored choice
 * ```
 */
export function defineVariants<P, R>(engine: Engine, definition: VariantsDefinition<P, R>): KernelVariants<P, R> {
  if (typeof definition.name !== 'string' || !NAME.test(definition.name)) {
    throw new InvalidArgumentError(
      `defineVariants: name ${JSON.stringify(definition.name)} must start with a letter and hold only letters, digits, '_', '-' and '.'`,
    );
  }
  const names = Object.keys(definition.variants ?? {});
  if (names.length === 0) throw new InvalidArgumentError(`defineVariants '${definition.name}': variants is empty; give at least one`);
  for (const n of names) {
    if (typeof definition.variants[n] !== 'function') throw new InvalidArgumentError(`defineVariants '${definition.name}': variant '${n}' is not a function`);
  }
  if (!Array.isArray(definition.kernels) || definition.kernels.length === 0 || !definition.kernels.every((k) => k instanceof CustomKernel)) {
    throw new InvalidArgumentError(
      `defineVariants '${definition.name}': kernels must list the CustomKernels the variants run (their code is part of the tuning key)`,
    );
  }
  for (const k of definition.kernels) {
    if (k.engine !== engine) throw new InvalidArgumentError(`defineVariants '${definition.name}': kernel '${k.name}' was defined on another engine`);
  }
  return new KernelVariants(engine, definition);
}
