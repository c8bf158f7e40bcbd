/**
 * The engine: one GPUDevice, its buffer pool, kernels and the batch being recorded.
 *
 * How a dispatch travels (all in this file): an op calls `engine.dispatch(spec)` →
 * the spec's bindings are checked against the kernel's reflected WGSL (`bindDispatch`) →
 * the pipeline is taken from the cache or created → uniforms are packed into the batch's
 * uniform arena → a compute pass is recorded into the batch's command encoder, inside error
 * scopes tagged with the op and kernel. Nothing is submitted until a readback or `flush()`,
 * which submits the whole batch once and turns any WebGPU error into a thrown GpuError.
 */
import fillWgsl from '../../kernels/fill.wgsl';
import randomWgsl from '../../kernels/random.wgsl';
import { isBrowser, isSoftwareAdapter, requestGpuDevice, type AcquiredDevice, type DeviceOptions } from './device.js';
import { DeviceLimitError, DeviceLostError, GpuError, InvalidArgumentError, KernelBindingError, type DispatchContext, type GpuErrorKind } from './errors.js';
import { KernelFamily, packUniform, type BindingInfo, type EntryInfo } from './kernel.js';
import { BufferPool, sizeClass, type MemoryStats, type PooledBuffer } from './pool.js';
import { LocalStorageTuningStore, MemoryTuningStore, Tuner, type TuningMode, type TuningStore } from './tuner.js';
import { createScopeStack, type ScopeFrame, type ScopeStack } from './scope-stack.js';
import { MAX_TIMED_DISPATCHES, Profiler, type DispatchRecord, type TimestampSlot } from './profiler.js';
import { checkShape, formatShape, shapeSize, Tensor, typedArrayFor, type DType, type Shape, type TensorOwner } from './tensor.js';

export type UniformValues = Record<string, number | readonly number[]>;
export type BindingValue = Tensor | UniformValues;

export interface DispatchSpec {
  /** The op asking for the dispatch (shown in errors and profiles), e.g. 'add'. */
  op: string;
  kernel: KernelFamily;
  entry: string;
  /** Values for the WGSL `override` constants; part of the pipeline cache key. */
  overrides?: Record<string, number>;
  /** Every binding the entry point uses, by its WGSL variable name. */
  bindings: Record<string, BindingValue>;
  /** Workgroup counts; see `grid1d` for 1-D problems larger than one dimension allows. */
  workgroups: readonly [number, number?, number?];
  /** Declared cost, for GFLOP/s and GB/s in profiles. */
  cost?: { flops?: number; bytes?: number };
  /** Storage bindings that may be channel views (Tensor.channelView): the kernel honours the
   * view's offset and stride (passed in its uniforms). Any other binding refuses a view. */
  views?: readonly string[];
}

export interface EngineOptions extends DeviceOptions {
  /** Fill every op output with NaN (or 0xDEADBEEF for integers) before the op writes it, so a
   * kernel that skips an element is caught. Tests turn this on. */
  poisonOutputs?: boolean;
  /** Record GPU time per dispatch from the start. */
  profile?: boolean;
  /** Check workgroup counts and buffer sizes against device limits in JavaScript before WebGPU
   * sees them (clearer messages). Only tests turn this off, to prove WebGPU's own errors surface. */
  precheck?: boolean;
  /** Kernel-variant tuning: 'auto' (default; env INCEPT_TUNING overrides), 'cached' or 'off'. */
  tuning?: TuningMode;
  /** Where tuning results persist; default a JSON file in Node, localStorage in browsers. */
  tuningStore?: TuningStore;
  /** Wall-time budget of one `tuner.tune()` call, ms (default 60 s). */
  tuningBudgetMs?: number;
}

/** Bits used to poison outputs: a quiet NaN for f32, an unlikely pattern for integers. */
const POISON_F32 = 0x7fc00000;
const POISON_INT = 0xdeadbeef;

const UNIFORM_ARENA_BYTES = 64 * 1024;

interface ErrorCheck {
  context: DispatchContext;
  scopes: Promise<GPUError | null>[];
  kinds: GpuErrorKind[];
}

type TimedDispatch = Omit<DispatchRecord, 'ms' | 'timing'>;

/** Everything recorded since the last submission. */
interface Batch {
  id: number;
  /** Command encoders in order; more than one only when timing without timestamp-query. */
  segments: { encoder: GPUCommandEncoder; timed?: TimedDispatch }[];
  arenas: { buffer: GPUBuffer; data: Uint8Array; used: number }[];
  /** Upload staging buffers, destroyed once the batch is submitted (WebGPU frees them after use). */
  staging: GPUBuffer[];
  checks: ErrorCheck[];
  /** Dispatch contexts by sequence number, to name the kernel in encoder-level errors. */
  contexts: Map<number, DispatchContext>;
  timestamps?: { slot: TimestampSlot; pending: TimedDispatch[] };
  dispatches: number;
}

interface CachedPipeline {
  pipeline: GPUComputePipeline;
  module: GPUShaderModule;
}

let dispatchSeq = 0;

export class Engine implements TensorOwner {
  readonly device: GPUDevice;
  readonly adapterInfo: GPUAdapterInfo;
  /** Features enabled on the device (the subset of the adapter's that the kernels use). */
  readonly features: ReadonlySet<string>;
  /** Everything the adapter offers. */
  readonly adapterFeatures: ReadonlySet<string>;
  readonly adapterLimits: GPUSupportedLimits;
  readonly limits: GPUSupportedLimits;
  /** How the adapter was found: driver name and the reason, for `incept device`. */
  readonly driver: string;
  readonly driverReason: string;
  readonly profiler: Profiler;
  /** Measured kernel-variant choices for this adapter (see tuner.ts). */
  readonly tuner: Tuner;
  readonly pool: BufferPool;
  poisonOutputs: boolean;
  precheck: boolean;

  private batch: Batch;
  private nextBatchId = 1;
  private lastSubmission: Promise<void> = Promise.resolve();
  /** Batches flushed but not yet handed to the queue (only while a profiled flush without
   * timestamp queries submits its dispatches one by one); uploads to their buffers are staged. */
  private unsubmitted = new Set<number>();
  /** Resolves when every flushed batch has been handed to the queue. */
  private submitChain: Promise<void> | undefined;
  private destroyed = false;
  private freeArenas: GPUBuffer[] = [];
  private readbackPool = new Map<number, GPUBuffer[]>();
  private modules = new Map<KernelFamily, GPUShaderModule>();
  private pipelines = new Map<string, CachedPipeline>();
  /** The open engine.scope calls of the running code (per async context in Node). */
  private scopeStack: ScopeStack = createScopeStack();
  /** The scope frame each tracked tensor belongs to (one at most). */
  private scopeOf = new Map<Tensor, ScopeFrame>();
  private live = new Set<Tensor>();
  private uncaptured: GpuError[] = [];
  /** Errors of batches that were flushed internally; reported by the next flush. */
  private deferredErrors: GpuError[] = [];
  private lost?: DeviceLostError;
  /** Copies or clears recorded outside dispatches (uploads, zeros, readbacks) in the open batch. */
  private pendingEncoderWork = false;
  private readonly fill = new KernelFamily('fill.wgsl', fillWgsl);
  private readonly random = new KernelFamily('random.wgsl', randomWgsl);

  /** Finds an adapter (see device.ts), requests a device and builds an engine on it. */
  static async create(options: EngineOptions = {}): Promise<Engine> {
    // Checked before a device exists, so a bad INCEPT_TUNING leaks nothing.
    const tuning = options.tuning ?? tuningModeFromEnv() ?? 'auto';
    const store = options.tuningStore ?? (await defaultTuningStore());
    const acquired = await requestGpuDevice(options);
    return new Engine(acquired, { ...options, tuning, tuningStore: store });
  }

  /** Held so it is not garbage-collected: Dawn's Node binding stops processing the device's
   * events (popErrorScope, mapAsync, onSubmittedWorkDone) once its GPU object is collected. */
  private readonly gpu: GPU;

  constructor(acquired: AcquiredDevice, options: EngineOptions = {}) {
    this.gpu = acquired.gpu;
    this.device = acquired.device;
    this.adapterInfo = acquired.info;
    this.features = acquired.features;
    this.adapterFeatures = new Set(acquired.adapter.features as unknown as Iterable<string>);
    this.adapterLimits = acquired.adapter.limits;
    this.limits = acquired.device.limits;
    this.driver = acquired.driver;
    this.driverReason = acquired.reason;
    this.poisonOutputs = options.poisonOutputs ?? false;
    this.precheck = options.precheck ?? true;
    this.gridLimit = this.limits.maxComputeWorkgroupsPerDimension;
    this.profiler = new Profiler(this.device, this.features.has('timestamp-query') ? 'timestamp' : 'cpu-wall');
    this.profiler.enabled = options.profile ?? false;
    this.pool = new BufferPool((size) => this.createStorageBuffer(size));
    this.device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      this.uncaptured.push(new GpuError(errorKind(ev.error), undefined, ev.error.message));
    };
    void this.device.lost.then((info) => {
      if (info.reason !== 'destroyed') this.lost = new DeviceLostError(`the GPU device was lost (${info.reason}): ${info.message}`);
    });
    this.batch = this.newBatch();
    this.tuner = new Tuner(this, adapterKey(acquired), options.tuningStore ?? new MemoryTuningStore(), {
      mode: options.tuning ?? tuningModeFromEnv() ?? 'auto',
      budgetMs: options.tuningBudgetMs,
    });
  }

  /** True when the adapter is a CPU rasteriser; kernels pick register-tiled variants there. */
  get isSoftwareAdapter(): boolean {
    return isSoftwareAdapter(this.adapterInfo);
  }

  get adapterName(): string {
    const i = this.adapterInfo;
    return [i.vendor, i.architecture, i.description || i.device].filter(Boolean).join(' / ');
  }

  // ---------------------------------------------------------------- tensors and memory

  /** A tensor from data. `dtype` defaults to the typed array's, else f32. */
  tensor(data: ArrayLike<number> | Float32Array | Int32Array | Uint32Array, shape?: Shape, dtype?: DType): Tensor {
    const dt: DType = dtype ?? (data instanceof Int32Array ? 'i32' : data instanceof Uint32Array ? 'u32' : 'f32');
    const shp = shape ?? [data.length];
    checkShape(shp, 'tensor');
    if (shapeSize(shp) !== data.length) {
      throw new InvalidArgumentError(`tensor: data has ${data.length} elements but shape ${formatShape(shp)} holds ${shapeSize(shp)}`);
    }
    const Ctor = dt === 'f32' ? Float32Array : dt === 'i32' ? Int32Array : Uint32Array;
    const typed = data instanceof Ctor ? data : Ctor.from(data as ArrayLike<number>);
    const t = this.allocate(shp, dt, 'tensor');
    this.upload(t.pooled, typed);
    return t;
  }

  /**
   * Overwrites a tensor's contents with host data, in order with the work recorded before it
   * (a later dispatch sees the new values, an earlier one the old). Views cannot be written.
   */
  write(t: Tensor, data: ArrayLike<number>): void {
    if (t.owner !== this) throw new InvalidArgumentError(`write: ${t.describe()} belongs to another engine`);
    if (t.slice) throw new InvalidArgumentError(`write: ${t.describe()} is a channel view; write the whole tensor`);
    if (data.length !== t.size) throw new InvalidArgumentError(`write: ${t.describe()} holds ${t.size} elements, got ${data.length} values`);
    const Ctor = t.dtype === 'f32' ? Float32Array : t.dtype === 'i32' ? Int32Array : Uint32Array;
    this.upload(t.pooled, data instanceof Ctor ? data : Ctor.from(data));
  }

  zeros<D extends DType = 'f32'>(shape: Shape, dtype: D = 'f32' as D): Tensor<D> {
    const t = this.allocate(shape, dtype, 'zeros');
    this.encoderFor(t.pooled).clearBuffer(t.buffer, 0, align4(t.byteLength));
    return t;
  }

  /** Uniform random numbers in [low, high), from a counter-based generator: same seed, same numbers. */
  randomUniform(shape: Shape, options: { seed: number; low?: number; high?: number }): Tensor<'f32'> {
    const t = this.allocate(shape, 'f32', 'randomUniform');
    const { low = 0, high = 1 } = options;
    this.dispatchRandom('uniform', t, options.seed, low, high - low);
    return t;
  }

  /** Normal random numbers (Box–Muller on the counter-based generator), reproducible per seed. */
  randomNormal(shape: Shape, options: { seed: number; mean?: number; std?: number }): Tensor<'f32'> {
    const t = this.allocate(shape, 'f32', 'randomNormal');
    const { mean = 0, std = 1 } = options;
    this.dispatchRandom('normal', t, options.seed, mean, std);
    return t;
  }

  private dispatchRandom(entry: 'uniform' | 'normal', out: Tensor, seed: number, a: number, b: number): void {
    if (!Number.isInteger(seed) || seed < 0 || seed > Number.MAX_SAFE_INTEGER) {
      throw new InvalidArgumentError(`random${entry === 'normal' ? 'Normal' : 'Uniform'}: seed must be a non-negative integer, got ${seed}`);
    }
    const n = out.size;
    this.dispatch({
      op: `random.${entry}`,
      kernel: this.random,
      entry: `random_${entry}`,
      bindings: { out, params: { n, seedLo: seed >>> 0, seedHi: Math.floor(seed / 2 ** 32) >>> 0, a, b } },
      workgroups: this.grid1d(entry === 'normal' ? Math.ceil(n / 2) : n, 64),
      cost: { bytes: n * 4 },
    });
  }

  /**
   * An output tensor for an op. Its contents are undefined (pooled memory) unless the engine
   * poisons outputs, in which case every element starts as NaN / 0xDEADBEEF.
   */
  empty<D extends DType = 'f32'>(shape: Shape, dtype: D = 'f32' as D, label?: string): Tensor<D> {
    const t = this.allocate(shape, dtype, label ?? 'empty');
    // A tensor too large for one binding cannot be poisoned by the fill kernel, and no kernel can
    // write it whole either: the op's own dispatch refuses it, naming the op.
    if (this.poisonOutputs && t.size > 0 && align4(t.byteLength) <= this.limits.maxStorageBufferBindingSize)
      this.fillBits(t, dtype === 'f32' ? POISON_F32 : POISON_INT);
    return t;
  }

  /** Writes a 32-bit pattern into every element (used for poisoning and constant fills). */
  fillBits(t: Tensor, bits: number): void {
    const asBits = t.dtype === 'u32' ? t : t.bitcast('u32');
    try {
      this.dispatch({
        op: 'fill',
        kernel: this.fill,
        entry: 'fill_u32',
        bindings: { out: asBits, params: { n: t.size, value: bits >>> 0 } },
        workgroups: this.grid1d(t.size, 256),
        cost: { bytes: t.byteLength },
      });
    } finally {
      if (asBits !== t) asBits.dispose();
    }
  }

  private allocate<D extends DType>(shape: Shape, dtype: D, what: string): Tensor<D> {
    if (this.destroyed) throw this.destroyedError(what);
    checkShape(shape, what);
    const bytes = shapeSize(shape) * 4;
    if (this.precheck && sizeClass(bytes) > this.limits.maxBufferSize) {
      throw new InvalidArgumentError(
        `${what}: a ${dtype}${formatShape(shape)} tensor needs ${bytes} bytes, more than this device's maxBufferSize (${this.limits.maxBufferSize} bytes)`,
      );
    }
    return Tensor.create(this, this.pool.acquire(bytes), [...shape], dtype);
  }

  private createStorageBuffer(size: number): GPUBuffer {
    const context = { op: 'allocate', kernel: `storage buffer of ${size} bytes` };
    const buffer = this.withErrorScopes(context, ['validation', 'out-of-memory'], () =>
      this.device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, label: `incept storage ${size}B` }),
    );
    return buffer;
  }

  /**
   * Writes host data into a pooled buffer. queue.writeBuffer takes effect at once, ahead of
   * anything not yet submitted, so it is only used on a buffer that no unsubmitted batch touches
   * (the open one, or one whose submission is still queued behind a timed flush). Any other
   * buffer — for instance one just freed by recorded work and handed out again by the pool — is
   * written through a staging copy recorded in the open batch, in order after that work.
   */
  private upload(pb: PooledBuffer, data: Float32Array | Int32Array | Uint32Array): void {
    if (data.byteLength === 0) return;
    if (pb.lastBatch !== this.batch.id && !this.unsubmitted.has(pb.lastBatch)) {
      this.device.queue.writeBuffer(pb.buffer, 0, data.buffer, data.byteOffset, align4(data.byteLength));
      return;
    }
    const staging = this.device.createBuffer({ size: align4(data.byteLength), usage: GPUBufferUsage.COPY_SRC, mappedAtCreation: true });
    new Uint8Array(staging.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    staging.unmap();
    this.encoderFor(pb).copyBufferToBuffer(staging, 0, pb.buffer, 0, align4(data.byteLength));
    this.batch.staging.push(staging);
  }

  /** The open batch's encoder, marking the buffer as used by this batch. */
  private encoderFor(pb: PooledBuffer): GPUCommandEncoder {
    pb.lastBatch = this.batch.id;
    this.pendingEncoderWork = true;
    return this.batch.segments[this.batch.segments.length - 1]!.encoder;
  }

  /** Takes a tensor out of its scope, so it outlives every open scope (the caller disposes it).
   * The autograd tape keeps what backward needs this way. */
  keep<T extends Tensor>(t: T): T {
    this.scopeOf.get(t)?.delete(t);
    this.scopeOf.delete(t);
    return t;
  }

  /** @internal (TensorOwner) */
  track(t: Tensor): void {
    this.live.add(t);
    const open = this.scopeStack.current();
    const frame = open[open.length - 1];
    if (frame) {
      frame.add(t);
      this.scopeOf.set(t, frame);
    }
  }

  /** @internal (TensorOwner) */
  untrack(t: Tensor): void {
    this.live.delete(t);
    this.scopeOf.get(t)?.delete(t);
    this.scopeOf.delete(t);
  }

  /** @internal (TensorOwner) */
  releaseStorage(pb: PooledBuffer): void {
    // Safe to reuse at once: later dispatches on this buffer are recorded after earlier ones,
    // in order, and a later upload into it is staged while the work is unsubmitted (upload).
    if (this.destroyed) return;
    this.pool.release(pb);
  }

  /** Tensors not yet disposed. */
  get liveTensors(): number {
    return this.live.size;
  }

  memory(): MemoryStats {
    return this.pool.snapshot();
  }

  /**
   * Runs `fn` and disposes every tensor it created except those it returns (a tensor, or
   * tensors inside a returned array, Map or object); what it returns moves to the enclosing
   * scope. If `fn` throws, everything it created is disposed.
   *
   * `fn` may be async. In Node each call tracks its own tensors across its awaits (the open
   * scopes follow the async context), so a service may run many scopes at once. Browsers have
   * no async context: there, async scopes must not overlap (await one before starting the
   * next; nesting is fine), and an overlap is detected when a scope ends and thrown as an error.
   */
  scope<T>(fn: () => T): T {
    const frame: ScopeFrame = new Set();
    const open = this.scopeStack.current();
    const parent = open[open.length - 1];
    const finish = (result: T | undefined, failed: boolean): void => {
      const innermost = this.scopeStack.close(frame);
      const keep = new Set<Tensor>();
      if (!failed && innermost) collectTensors(result, keep, 0);
      for (const t of frame) if (!keep.has(t)) t.dispose();
      for (const t of keep) {
        if (t.isDisposed || !frame.has(t)) continue;
        frame.delete(t);
        if (parent && !this.destroyed) {
          parent.add(t);
          this.scopeOf.set(t, parent);
        } else {
          this.scopeOf.delete(t);
        }
      }
      if (!innermost && !failed) {
        throw new InvalidArgumentError(
          'engine.scope: two async scopes overlapped (one ended while a scope started after it was still open). Without async context tracking (browsers) tensors cannot be told apart between overlapping calls, so everything the ending scope created was disposed. Await each async scope before starting the next, or use synchronous scopes.',
        );
      }
    };
    let result: T;
    try {
      result = this.scopeStack.open(frame, fn);
    } catch (e) {
      finish(undefined, true);
      throw e;
    }
    if (result instanceof Promise) {
      return result.then(
        (value: unknown) => {
          finish(value as T, false);
          return value;
        },
        (e: unknown) => {
          finish(undefined, true);
          throw e;
        },
      ) as T;
    }
    finish(result, false);
    return result;
  }

  // ---------------------------------------------------------------- dispatch

  /** Workgroup counts for `n` invocations of a 1-D kernel, folded into y past the x limit.
   * Kernels recover the flat index as gid.x + gid.y * num_workgroups.x * workgroupSize. */
  grid1d(n: number, workgroupSize: number): [number, number, number] {
    const groups = Math.ceil(n / workgroupSize);
    const maxX = this.gridLimit;
    if (groups <= maxX) return [groups, 1, 1];
    const y = Math.ceil(groups / maxX);
    return [Math.ceil(groups / y), y, 1];
  }

  /** @internal The most workgroups a grid puts along one dimension before grid1d and foldRows
   * fold it: the device's limit. Tests lower it to exercise folded grids on small problems. */
  gridLimit: number;

  /** Workgroup counts for an [x, rows] grid whose row count may pass the per-dimension limit:
   * the rows fold into z. Kernels that accept it recover the row as
   * wid.y + wid.z * num_workgroups.y and write nothing for rows past the end. */
  foldRows(x: number, rows: number): [number, number, number] {
    const max = this.gridLimit;
    if (rows <= max) return [x, rows, 1];
    const z = Math.ceil(rows / max);
    return [x, Math.ceil(rows / z), z];
  }

  /** Records one dispatch into the open batch. Throws at once for argument mistakes; WebGPU's
   * own errors surface at the next flush() or readback, naming this op and kernel. */
  dispatch(spec: DispatchSpec): void {
    if (this.destroyed) throw this.destroyedError(spec.op);
    if (this.lost) throw this.lost;
    const context: DispatchContext = { op: spec.op, kernel: `${spec.kernel.file}:${spec.entry}` };
    const entry = spec.kernel.entry(spec.entry);
    const workgroups = this.checkWorkgroups(spec, context);
    if (workgroups[0] * workgroups[1] * workgroups[2] === 0) return; // empty problem: nothing to run
    if (this.profiler.enabled && this.profiler.timing === 'timestamp' && this.batch.dispatches >= MAX_TIMED_DISPATCHES) {
      // The query set is full. Flush before binding: binding writes this dispatch's uniforms into
      // the open batch's arena, and a flushed batch's arenas are reused by the next one, so a
      // dispatch bound before the flush and recorded after it would read another's uniforms.
      // Nobody awaits this flush, so its errors wait for the next one.
      this.flush().catch((e: unknown) => this.deferredErrors.push(e as GpuError));
    }
    const bound = this.bindDispatch(spec, entry, context);
    const batch = this.batch;
    const seq = ++dispatchSeq;
    batch.contexts.set(seq, context);
    batch.dispatches++;
    const timed: TimedDispatch = {
      seq,
      op: spec.op,
      kernel: context.kernel,
      workgroups,
      flops: spec.cost?.flops ?? 0,
      bytes: spec.cost?.bytes ?? 0,
      ...(this.profiler.layer !== undefined ? { layer: this.profiler.layer } : {}),
    };

    this.withErrorScopes(context, ['validation', 'out-of-memory', 'internal'], () => {
      const { pipeline } = this.pipelineFor(spec.kernel, spec.entry, spec.overrides ?? {});
      const groups = new Map<number, GPUBindGroupEntry[]>();
      for (const b of bound) {
        const list = groups.get(b.group) ?? [];
        list.push({ binding: b.binding, resource: b.resource });
        groups.set(b.group, list);
      }
      const passDesc: GPUComputePassDescriptor = { label: `${spec.op} > ${context.kernel} #${seq}` };
      if (this.profiler.enabled && this.profiler.timing === 'timestamp') {
        batch.timestamps ??= { slot: this.profiler.acquireSlot(), pending: [] };
        const i = batch.timestamps.pending.length;
        batch.timestamps.pending.push(timed);
        passDesc.timestampWrites = { querySet: batch.timestamps.slot.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
      } else if (this.profiler.enabled) {
        // No timestamps: this dispatch gets its own command buffer, timed alone at flush.
        batch.segments.push({ encoder: this.device.createCommandEncoder(), timed });
      }
      const encoder = batch.segments[batch.segments.length - 1]!.encoder;
      const pass = encoder.beginComputePass(passDesc);
      pass.setPipeline(pipeline);
      for (const [group, entries] of groups) {
        pass.setBindGroup(
          group,
          this.device.createBindGroup({ label: `${context.kernel} group ${group}`, layout: pipeline.getBindGroupLayout(group), entries }),
        );
      }
      pass.dispatchWorkgroups(workgroups[0], workgroups[1], workgroups[2]);
      pass.end();
      if (this.profiler.enabled && this.profiler.timing === 'cpu-wall') {
        batch.segments.push({ encoder: this.device.createCommandEncoder() });
      }
    });
  }

  private checkWorkgroups(spec: DispatchSpec, context: DispatchContext): [number, number, number] {
    const wg: [number, number, number] = [spec.workgroups[0], spec.workgroups[1] ?? 1, spec.workgroups[2] ?? 1];
    const max = this.limits.maxComputeWorkgroupsPerDimension;
    for (const n of wg) {
      if (!Number.isInteger(n) || n < 0) {
        throw new KernelBindingError(
          context,
          `workgroup counts ${JSON.stringify(spec.workgroups)} must be non-negative integers`,
          spec.kernel.describeEntry(spec.entry),
        );
      }
      if (this.precheck && n > max) {
        const outputs = Object.entries(spec.bindings)
          .filter(([name, v]) => v instanceof Tensor && spec.kernel.entry(spec.entry).bindings.some((b) => b.name === name && b.access === 'read_write'))
          .map(([, v]) => (v as Tensor).describe());
        throw new DeviceLimitError(
          context,
          `the grid [${wg.join(', ')}] has ${n} workgroups along one dimension, more than this device allows (maxComputeWorkgroupsPerDimension ${max})${outputs.length ? ` for output ${outputs.join(', ')}` : ''}. Process it in smaller pieces (a smaller batch or image); a kernel author folds such a grid into two dimensions (engine.grid1d)`,
        );
      }
    }
    return wg;
  }

  /** Checks each binding against the reflected WGSL and turns it into a bind group resource. */
  private bindDispatch(spec: DispatchSpec, entry: EntryInfo, context: DispatchContext): { group: number; binding: number; resource: GPUBufferBinding }[] {
    const expected = () => spec.kernel.describeEntry(spec.entry);
    const fail = (problem: string): never => {
      throw new KernelBindingError(context, problem, expected());
    };
    const given = Object.keys(spec.bindings);
    const names = entry.bindings.map((b) => b.name);
    const missing = names.filter((n) => !(n in spec.bindings));
    const extra = given.filter((n) => !names.includes(n));
    if (missing.length || extra.length) {
      fail(
        `wrong bindings: ${missing.length ? `missing ${missing.join(', ')}` : ''}${missing.length && extra.length ? '; ' : ''}${extra.length ? `not used by the kernel: ${extra.join(', ')}` : ''} (given: ${given.join(', ') || 'none'})`,
      );
    }
    for (const name of Object.keys(spec.overrides ?? {})) {
      if (!spec.kernel.overrides.some((o) => o.name === name)) fail(`override '${name}' is not declared in the kernel`);
    }

    const out: { group: number; binding: number; resource: GPUBufferBinding }[] = [];
    const writers = new Map<GPUBuffer, string>();
    const readers = new Map<GPUBuffer, string>();
    for (const b of entry.bindings) {
      const value = spec.bindings[b.name]!;
      if (b.kind === 'uniform') {
        out.push({ group: b.group, binding: b.binding, resource: this.uniformResource(b, value, fail) });
        continue;
      }
      if (!(value instanceof Tensor)) fail(`binding '${b.name}' is a storage buffer (${b.typeText}) and needs a tensor, got ${describeValue(value)}`);
      const t = value as Tensor;
      if (t.isDisposed) fail(`binding '${b.name}': ${t.describe()} was disposed`);
      if (b.scalar && t.dtype !== b.scalar) fail(`binding '${b.name}' holds ${b.typeText} but ${t.describe()} is ${t.dtype}`);
      if (t.slice && !spec.views?.includes(b.name)) {
        fail(
          `binding '${b.name}' got ${t.describe()}, a channel view, but this kernel does not take views there (its dispatch does not list '${b.name}' in views); pass a plain tensor or copy the view`,
        );
      }
      const elemBytes = 4 * (b.components ?? 1);
      const size = Math.max(elemBytes, Math.ceil((t.spanElements * 4) / elemBytes) * elemBytes);
      if (size > t.pooled.capacity) fail(`binding '${b.name}' (${b.typeText}) needs ${size} bytes; ${t.describe()} has ${t.pooled.capacity}`);
      if (b.minBytes > t.spanElements * 4)
        fail(`binding '${b.name}' is ${b.typeText} (${b.minBytes} bytes) but ${t.describe()} has only ${t.byteLength} bytes`);
      if (this.precheck && size > this.limits.maxStorageBufferBindingSize) {
        const limit = this.limits.maxStorageBufferBindingSize;
        throw new DeviceLimitError(
          context,
          `${t.describe()} (bound as '${b.name}') spans ${size} bytes (${formatBytes(size)}), more than one storage binding may hold on this device: maxStorageBufferBindingSize is ${limit} bytes (${formatBytes(limit)}). Process it in smaller pieces (a smaller batch or image), or use an adapter with a larger limit`,
        );
      }
      const buf = t.buffer;
      const clash = b.access === 'read_write' ? (writers.get(buf) ?? readers.get(buf)) : writers.get(buf);
      if (clash) fail(`bindings '${clash}' and '${b.name}' are the same buffer and one is written: WebGPU forbids that aliasing`);
      (b.access === 'read_write' ? writers : readers).set(buf, b.name);
      t.pooled.lastBatch = this.batch.id;
      out.push({ group: b.group, binding: b.binding, resource: { buffer: buf, offset: 0, size } });
    }
    return out;
  }

  private uniformResource(b: BindingInfo, value: BindingValue, fail: (p: string) => never): GPUBufferBinding {
    if (value instanceof Tensor || typeof value !== 'object' || value === null) {
      fail(`binding '${b.name}' is a uniform ${b.typeText}; pass an object of numbers, got ${describeValue(value)}`);
    }
    const values = value as UniformValues;
    const members = b.uniform!.members;
    const missing = members.filter((m) => !(m.name in values)).map((m) => m.name);
    const extra = Object.keys(values).filter((k) => !members.some((m) => m.name === k));
    if (missing.length || extra.length) {
      fail(
        `uniform '${b.name}' (${b.typeText}): ${missing.length ? `missing ${missing.join(', ')}` : ''}${missing.length && extra.length ? '; ' : ''}${extra.length ? `unknown ${extra.join(', ')}` : ''}`,
      );
    }
    for (const m of members) {
      const v = values[m.name]!;
      const n = typeof v === 'number' ? 1 : v.length;
      if (n !== m.components * m.count || (typeof v !== 'number' && Array.from(v).some((x) => typeof x !== 'number'))) {
        fail(`uniform '${b.name}.${m.name}' needs ${m.components * m.count} number(s), got ${JSON.stringify(v)}`);
      }
    }
    const bytes = new Uint8Array(packUniform(b.uniform!, values));
    return this.arenaSlot(bytes);
  }

  /** Uniform data lives in 64 KiB arenas written once at submission. */
  private arenaSlot(bytes: Uint8Array): GPUBufferBinding {
    const align = this.limits.minUniformBufferOffsetAlignment;
    let arena = this.batch.arenas[this.batch.arenas.length - 1];
    if (!arena || arena.used + bytes.byteLength > UNIFORM_ARENA_BYTES) {
      const buffer =
        this.freeArenas.pop() ??
        this.device.createBuffer({ size: UNIFORM_ARENA_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: 'incept uniform arena' });
      arena = { buffer, data: new Uint8Array(UNIFORM_ARENA_BYTES), used: 0 };
      this.batch.arenas.push(arena);
    }
    const offset = arena.used;
    arena.data.set(bytes, offset);
    arena.used = Math.ceil((offset + bytes.byteLength) / align) * align;
    return { buffer: arena.buffer, offset, size: bytes.byteLength };
  }

  private pipelineFor(kernel: KernelFamily, entry: string, overrides: Record<string, number>): CachedPipeline {
    const key = `${kernel.file}:${entry}:${Object.entries(overrides)
      .sort()
      .map(([k, v]) => `${k}=${v}`)
      .join(',')}`;
    let cached = this.pipelines.get(key);
    if (!cached) {
      let module = this.modules.get(kernel);
      if (!module) {
        module = this.device.createShaderModule({ code: kernel.code, label: `kernels/${kernel.file}` });
        this.modules.set(kernel, module);
      }
      const pipeline = this.device.createComputePipeline({ label: key, layout: 'auto', compute: { module, entryPoint: entry, constants: overrides } });
      cached = { pipeline, module };
      this.pipelines.set(key, cached);
    }
    return cached;
  }

  /** Runs `fn` inside error scopes; their outcome is checked at the next flush. */
  private withErrorScopes<T>(context: DispatchContext, kinds: GpuErrorKind[], fn: () => T): T {
    for (const k of kinds) this.device.pushErrorScope(k);
    let result: T;
    try {
      result = fn();
    } finally {
      const scopes = kinds.map(() => this.device.popErrorScope());
      // Scopes pop in reverse order of pushing.
      this.batch.checks.push({ context, scopes, kinds: [...kinds].reverse() });
    }
    return result;
  }

  // ---------------------------------------------------------------- submission and readback

  private newBatch(): Batch {
    return {
      id: this.nextBatchId++,
      segments: [{ encoder: this.device.createCommandEncoder() }],
      arenas: [],
      staging: [],
      checks: [],
      contexts: new Map(),
      dispatches: 0,
    };
  }

  /** Submits everything recorded so far as one submission. Resolves when WebGPU has reported
   * on it; rejects with a GpuError naming the kernel if anything in it failed.
   *
   * The batch is finished and handed to the queue synchronously, before this returns. That is
   * what keeps uploads in order: `queue.writeBuffer` takes effect ahead of anything not yet
   * submitted, so if submission waited (for instance on the encoder's error scope) an upload
   * issued meanwhile into a buffer this batch reads or frees would overtake it. Errors are
   * collected by error scopes and reported when the returned promise settles; an encoder that
   * failed to finish yields an invalid command buffer, which WebGPU refuses to run. */
  flush(): Promise<void> {
    if (this.destroyed) return Promise.reject(this.destroyedError('flush'));
    if (this.lost) return Promise.reject(this.lost);
    const batch = this.batch;
    const empty = batch.checks.length === 0 && batch.dispatches === 0 && batch.segments.length === 1 && !batch.timestamps;
    if (empty && !this.pendingEncoderWork) return this.lastSubmission;
    this.pendingEncoderWork = false;
    this.batch = this.newBatch();

    const finishContext: DispatchContext = { op: 'submit', kernel: `batch of ${batch.dispatches} dispatch(es)` };
    if (batch.timestamps) {
      const { slot, pending } = batch.timestamps;
      const last = batch.segments[batch.segments.length - 1]!.encoder;
      last.resolveQuerySet(slot.querySet, 0, 2 * pending.length, slot.resolve, 0);
      last.copyBufferToBuffer(slot.resolve, 0, slot.readback, 0, 16 * pending.length);
    }
    this.device.pushErrorScope('validation');
    const commandBuffers = batch.segments.map((s) => s.encoder.finish());
    const finishError = this.device.popErrorScope();

    let submitError: Promise<GPUError | null>;
    if (!this.submitChain && !batch.segments.some((s) => s.timed)) {
      submitError = this.submitNow(batch, commandBuffers);
    } else {
      // Profiling without timestamp queries: each dispatch is submitted alone and timed by the
      // wall clock, so this batch reaches the queue over several turns. Until it has, uploads
      // into its buffers are staged (see upload) and later batches queue behind it.
      this.unsubmitted.add(batch.id);
      const previous = this.submitChain ?? Promise.resolve();
      const done = previous.then(() => this.submitSegments(batch, commandBuffers)).finally(() => this.unsubmitted.delete(batch.id));
      const chain = done.then(
        () => undefined,
        () => undefined,
      );
      this.submitChain = chain;
      void chain.then(() => {
        if (this.submitChain === chain) this.submitChain = undefined;
      });
      submitError = done;
    }

    const checked = (async () => {
      // Errors of allocations and dispatches come first: an encoder error is often only their
      // consequence ("invalid due to a previous error"), and a submit error of a command buffer
      // that failed to finish is only the consequence of that.
      const errors: GpuError[] = [];
      for (const check of batch.checks) {
        const results = await Promise.all(check.scopes);
        results.forEach((err, i) => {
          if (err) errors.push(new GpuError(check.kinds[i]!, check.context, err.message));
        });
      }
      const finishErr = await finishError;
      const submitErr = await submitError;
      if (finishErr) errors.push(new GpuError(errorKind(finishErr), contextFromMessage(finishErr.message, batch) ?? finishContext, finishErr.message));
      else if (submitErr) errors.push(new GpuError(errorKind(submitErr), contextFromMessage(submitErr.message, batch) ?? finishContext, submitErr.message));
      errors.push(...this.deferredErrors.splice(0), ...this.uncaptured.splice(0));
      if (errors.length) {
        const first = errors[0]!;
        if (errors.length > 1)
          first.message += `\n(and ${errors.length - 1} more error(s) in the same batch: ${errors
            .slice(1)
            .map((e) => e.context?.kernel ?? 'engine')
            .join(', ')})`;
        throw first;
      }
      if (batch.timestamps) await this.profiler.collect(batch.timestamps.slot, batch.timestamps.pending);
    })();
    // Later flushes report after earlier ones so profiles and errors come in order.
    const chained = this.lastSubmission.catch(() => undefined).then(() => checked);
    this.lastSubmission = chained;
    return chained;
  }

  /** Writes the batch's uniforms and submits it in one call; returns the submit's error scope. */
  private submitNow(batch: Batch, commandBuffers: GPUCommandBuffer[]): Promise<GPUError | null> {
    for (const a of batch.arenas) this.device.queue.writeBuffer(a.buffer, 0, a.data.buffer, 0, a.used);
    this.device.pushErrorScope('validation');
    this.device.queue.submit(commandBuffers);
    const error = this.device.popErrorScope();
    this.retire(batch);
    return error;
  }

  /** Submits a batch one command buffer at a time, timing each profiled dispatch by the wall
   * clock from its submit to the queue's report that the work is done. */
  private async submitSegments(batch: Batch, commandBuffers: GPUCommandBuffer[]): Promise<GPUError | null> {
    for (const a of batch.arenas) this.device.queue.writeBuffer(a.buffer, 0, a.data.buffer, 0, a.used);
    let first: GPUError | null = null;
    try {
      for (let i = 0; i < batch.segments.length; i++) {
        const t0 = performance.now();
        this.device.pushErrorScope('validation');
        this.device.queue.submit([commandBuffers[i]!]);
        const error = this.device.popErrorScope();
        await this.device.queue.onSubmittedWorkDone();
        first ??= await error;
        const timed = batch.segments[i]!.timed;
        if (timed) this.profiler.addWallRecord(timed, performance.now() - t0);
      }
    } finally {
      this.retire(batch);
    }
    return first;
  }

  /** After submission: arenas go back for reuse (their next write is queued after this
   * submission), staging buffers are destroyed (WebGPU keeps them until the work has run). */
  private retire(batch: Batch): void {
    for (const a of batch.arenas) this.freeArenas.push(a.buffer);
    for (const b of batch.staging) b.destroy();
  }

  /** Waits until the GPU has finished all submitted work. */
  async sync(): Promise<void> {
    await this.flush();
    await this.device.queue.onSubmittedWorkDone();
  }

  /** @internal (TensorOwner) Copies a tensor to a mappable buffer, submits, maps, copies out. */
  async readTensor(t: Tensor): Promise<Float32Array | Int32Array | Uint32Array> {
    void t.pooled; // throws, naming the tensor, if it was disposed or this engine destroyed
    if (t.slice) return this.readChannelView(t);
    const out = typedArrayFor(t.dtype, t.size);
    if (t.size === 0) return out;
    const bytes = align4(t.byteLength);
    const size = sizeClass(bytes);
    const staging =
      this.readbackPool.get(size)?.pop() ??
      this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'incept readback' });
    this.encoderFor(t.pooled).copyBufferToBuffer(t.buffer, 0, staging, 0, bytes);
    try {
      await this.flush();
      await staging.mapAsync(GPUMapMode.READ, 0, bytes);
    } catch (e) {
      staging.destroy();
      throw e;
    }
    new Uint8Array(out.buffer).set(new Uint8Array(staging.getMappedRange(0, bytes), 0, t.byteLength));
    staging.unmap();
    const list = this.readbackPool.get(size) ?? [];
    list.push(staging);
    this.readbackPool.set(size, list);
    return out;
  }

  /** A channel view read back: the rows it spans, then its channels picked out of each. */
  private async readChannelView(t: Tensor): Promise<Float32Array | Int32Array | Uint32Array> {
    const { offset, stride } = t.slice!;
    const whole = t.spanTensor();
    let all: Float32Array | Int32Array | Uint32Array;
    try {
      all = await this.readTensor(whole);
    } finally {
      whole.dispose();
    }
    const c = t.channels;
    const out = typedArrayFor(t.dtype, t.size);
    for (let r = 0, rows = t.size / c; r < rows; r++) out.set(all.subarray(r * stride + offset, r * stride + offset + c), r * c);
    return out;
  }

  /** Frees the device and everything on it. Tensors of this engine are dead afterwards: using
   * one throws an error naming it; disposing one does nothing. Calling destroy again does nothing. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.pool.trim();
    for (const list of this.readbackPool.values()) for (const b of list) b.destroy();
    this.readbackPool.clear();
    for (const b of this.freeArenas) b.destroy();
    this.freeArenas = [];
    this.live.clear();
    this.scopeStack.clear();
    this.pipelines.clear();
    this.modules.clear();
    this.device.destroy();
  }

  /** True once destroy() was called. */
  get isDestroyed(): boolean {
    return this.destroyed;
  }

  private destroyedError(what: string): InvalidArgumentError {
    return new InvalidArgumentError(`${what}: this engine was destroyed (engine.destroy()); create a new engine with createEngine()`);
  }
}

function align4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

function errorKind(e: GPUError): GpuErrorKind {
  const name = e.constructor?.name ?? '';
  if (name.includes('OutOfMemory')) return 'out-of-memory';
  if (name.includes('Internal')) return 'internal';
  return 'validation';
}

/** Encoder errors name the pass by its label, which carries the dispatch's sequence number. */
function contextFromMessage(message: string, batch: Batch): DispatchContext | undefined {
  const m = /#(\d+)/.exec(message);
  return m ? batch.contexts.get(Number(m[1])) : undefined;
}

function describeValue(v: unknown): string {
  if (v instanceof Tensor) return v.describe();
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

function collectTensors(v: unknown, into: Set<Tensor>, depth: number): void {
  if (depth > 4 || v === null || typeof v !== 'object') return;
  if (v instanceof Tensor) {
    into.add(v);
    return;
  }
  if (v instanceof Map) {
    for (const x of v.values()) collectTensors(x, into, depth + 1);
    return;
  }
  for (const x of Array.isArray(v) ? v : Object.values(v)) collectTensors(x, into, depth + 1);
}

/** Identifies an adapter (and the features that change which variants exist) in tuning records. */
function adapterKey(a: AcquiredDevice): string {
  const i = a.info;
  const parts = [i.vendor, i.architecture, i.device, i.description, a.driver].filter(Boolean);
  return `${parts.join('/')}${a.features.has('subgroups') ? '+subgroups' : ''}`;
}

function tuningModeFromEnv(): TuningMode | undefined {
  const v = typeof process !== 'undefined' ? process.env?.INCEPT_TUNING : undefined;
  if (v === undefined || v === '') return undefined;
  if (v === 'auto' || v === 'cached' || v === 'off') return v;
  throw new InvalidArgumentError(`INCEPT_TUNING must be auto, cached or off, got '${v}'`);
}

async function defaultTuningStore(): Promise<TuningStore> {
  if (isBrowser()) return new LocalStorageTuningStore();
  const { FileTuningStore } = await import('./tuning-file.js');
  return new FileTuningStore();
}

/** Convenience: the engine in one call, e.g. `const engine = await createEngine()`. */
export function createEngine(options: EngineOptions = {}): Promise<Engine> {
  return Engine.create(options);
}

/** Bytes in the unit a person reads: 134217728 → '128 MiB'. */
function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}
