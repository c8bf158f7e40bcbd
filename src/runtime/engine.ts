/**
 * The engine: one GPUDevice, its buffer pool, kernels and the batch being recorded.
 *
 * How a dispatch travels: an op calls `engine.dispatch(spec)` → the spec's bindings are checked
 * against the kernel's reflected WGSL (binding-check.ts) → the pipeline is taken from the cache or
 * created (pipeline-cache.ts) → uniforms are packed into the batch's uniform arena
 * (uniform-arena.ts) → a compute pass is recorded into the batch's command encoder, inside error
 * scopes tagged with the op and kernel (gpu-errors.ts). Nothing is submitted until a readback
 * (readback.ts) or `flush()`, which submits the whole batch once (batch-recorder.ts) and turns
 * any WebGPU error into a thrown GpuError. Tensor ownership and scopes are tensor-scopes.ts.
 */
import { BatchRecorder } from './batch-recorder.js';
import { openEncoder, type TimedDispatch } from './batch.js';
import { bindDispatch, checkWorkgroups } from './binding-check.js';
import { align4 } from './byte-size.js';
import { borrowGpuDevice, isSoftwareAdapter, requestGpuDevice, type AcquiredDevice, type BorrowedDevice, type DeviceOptions } from './device.js';
import type { DispatchSpec } from './dispatch-spec.js';
import { DeviceLostError, GpuError, InvalidArgumentError, type DispatchContext } from './errors.js';
import { fillBits, fillRandom, POISON_F32, POISON_INT } from './fill-kernels.js';
import { errorKind } from './gpu-errors.js';
import { PipelineCache } from './pipeline-cache.js';
import { BufferPool, sizeClass, type MemoryStats, type PooledBuffer } from './pool.js';
import { MAX_TIMED_DISPATCHES, Profiler } from './profiler.js';
import { Readback } from './readback.js';
import type { ScopeStack } from './scope-stack.js';
import { TensorScopes } from './tensor-scopes.js';
import { checkShape, formatShape, shapeSize, Tensor, type DType, type Shape, type TensorOwner } from './tensor.js';
import { describeValue, dtypeOf, flattenTensorLike, isTensorLike, type TensorLike } from './tensor-like.js';
import { MemoryTuningStore, Tuner, type TuningMode, type TuningStore } from './tuner.js';
import { adapterKey, defaultTuningStore, tuningModeFromEnv } from './tuning-defaults.js';

export type { BindingValue, DispatchSpec, UniformValues } from './dispatch-spec.js';

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
  /**
   * Run on this device instead of requesting one: share a GPUDevice with TensorFlow.js, ONNX
   * Runtime Web or a renderer. The engine checks it meets the kernels' limits (else a
   * DeviceRequirementsError lists what is missing; create it with deviceDescriptorFor(adapter)),
   * uses the optional features it has, and never destroys it nor replaces its error handler:
   * `engine.destroy()` frees only the engine's own buffers; destroy the engine before the device.
   * In Node, keep the GPU object that made the device referenced (Dawn stops delivering the
   * device's events once it is collected).
   */
  device?: GPUDevice;
  /** With `device`: its adapter's info, where the device lacks `adapterInfo` (older browsers). */
  adapterInfo?: GPUAdapterInfo;
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
  /** True when the device came from `createEngine({ device })`: its owner destroys it. */
  readonly sharedDevice: boolean;
  readonly profiler: Profiler;
  /** Measured kernel-variant choices for this adapter (see tuner.ts). */
  readonly tuner: Tuner;
  readonly pool: BufferPool;
  poisonOutputs: boolean;
  precheck: boolean;

  private readonly recorder: BatchRecorder;
  private readonly readback: Readback;
  private readonly pipelines: PipelineCache;
  private readonly scopes = new TensorScopes(() => this.destroyed);
  private destroyed = false;
  private lost?: DeviceLostError;

  /** Finds an adapter (see device.ts), requests a device and builds an engine on it. */
  static async create(options: EngineOptions = {}): Promise<Engine> {
    // Checked before a device exists, so a bad INCEPT_TUNING leaks nothing.
    const tuning = options.tuning ?? tuningModeFromEnv() ?? 'auto';
    const store = options.tuningStore ?? (await defaultTuningStore());
    const acquired = options.device ? borrowGpuDevice(options.device, options) : await requestGpuDevice(options);
    return new Engine(acquired, { ...options, tuning, tuningStore: store });
  }

  /** Held so it is not garbage-collected: Dawn's Node binding stops processing the device's
   * events (popErrorScope, mapAsync, onSubmittedWorkDone) once its GPU object is collected. */
  private readonly gpu?: GPU;
  private readonly onUncapturedError: (ev: Event) => void;

  constructor(acquired: AcquiredDevice | BorrowedDevice, options: EngineOptions = {}) {
    const borrowed = 'borrowed' in acquired;
    this.sharedDevice = borrowed;
    this.gpu = borrowed ? undefined : acquired.gpu;
    this.device = acquired.device;
    this.adapterInfo = acquired.info;
    this.features = acquired.features;
    // A shared device comes without its adapter: what the device has is all that is known.
    this.adapterFeatures = new Set((borrowed ? acquired.device : acquired.adapter).features as unknown as Iterable<string>);
    this.adapterLimits = borrowed ? acquired.device.limits : acquired.adapter.limits;
    this.limits = acquired.device.limits;
    this.driver = acquired.driver;
    this.driverReason = acquired.reason;
    this.poisonOutputs = options.poisonOutputs ?? false;
    this.precheck = options.precheck ?? true;
    this.gridLimit = this.limits.maxComputeWorkgroupsPerDimension;
    this.profiler = new Profiler(this.device, this.features.has('timestamp-query') ? 'timestamp' : 'cpu-wall');
    this.profiler.enabled = options.profile ?? false;
    this.recorder = new BatchRecorder(this.device, this.profiler);
    this.readback = new Readback(
      this.device,
      (pb) => this.recorder.encoderFor(pb),
      () => this.flush(),
    );
    this.pipelines = new PipelineCache(this.device);
    this.pool = new BufferPool((size) => this.createStorageBuffer(size));
    // A listener, not onuncapturederror, so the device's owner keeps its own handler. On a shared
    // device other libraries' errors arrive here too; the engine reports only those naming one
    // of its objects (every engine label starts with 'incept' or names an incept kernel; the
    // device's own label, which WebGPU puts in every message, does not count).
    this.onUncapturedError = (ev: Event) => {
      const error = (ev as GPUUncapturedErrorEvent).error;
      if (borrowed && !/incept|kernels\/|\.wgsl/i.test(error.message.replace(/\[Device "[^"]*"\]/g, ''))) return;
      this.recorder.uncaptured.push(new GpuError(errorKind(error), undefined, error.message));
    };
    this.device.addEventListener('uncapturederror', this.onUncapturedError);
    void this.device.lost.then((info) => {
      if (info.reason !== 'destroyed') this.lost = new DeviceLostError(`the GPU device was lost (${info.reason}): ${info.message}`);
    });
    this.tuner = new Tuner(this, adapterKey(acquired as AcquiredDevice), options.tuningStore ?? new MemoryTuningStore(), {
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

  /**
   * A tensor from data: a flat array or TypedArray (shape defaults to [length]), or nested
   * arrays as TF.js's `tf.tensor` takes them (shape inferred; a given shape must hold as many
   * elements). `dtype` defaults to the typed array's (Int32Array → i32, Uint32Array → u32), else f32.
   */
  tensor(data: ArrayLike<number> | TensorLike, shape?: Shape, dtype?: DType): Tensor {
    if (!isTensorLike(data) && !(typeof data === 'object' && data !== null && typeof (data as ArrayLike<number>).length === 'number'))
      throw new InvalidArgumentError(`tensor: data must be an array of numbers, nested arrays or a TypedArray, got ${describeValue(data)}`);
    const flat = isTensorLike(data) ? flattenTensorLike(data, 'tensor: data') : undefined;
    if (flat) data = flat.values;
    const values = data as ArrayLike<number>;
    const dt: DType = dtype ?? dtypeOf(data);
    const shp = shape ?? flat?.shape ?? [values.length];
    checkShape(shp, 'tensor');
    if (shapeSize(shp) !== values.length) {
      throw new InvalidArgumentError(`tensor: data has ${values.length} elements but shape ${formatShape(shp)} holds ${shapeSize(shp)}`);
    }
    const Ctor = dt === 'f32' ? Float32Array : dt === 'i32' ? Int32Array : Uint32Array;
    const typed = values instanceof Ctor ? values : Ctor.from(values);
    const t = this.allocate(shp, dt, 'tensor');
    this.recorder.upload(t.pooled, typed);
    return t;
  }

  /**
   * Overwrites a tensor's contents with host data, in order with the work recorded before it
   * (a later dispatch sees the new values, an earlier one the old). Views cannot be written.
   */
  write(t: Tensor, data: ArrayLike<number>): void {
    if (t.owner !== this) throw new InvalidArgumentError(`write: ${t.describe()} belongs to another engine`);
    if (t.isExternal && !(t.buffer.usage & GPUBufferUsage.COPY_DST))
      throw new InvalidArgumentError(`write: ${t.describe()} wraps a GPUBuffer without GPUBufferUsage.COPY_DST; the engine cannot write into it`);
    if (t.slice) throw new InvalidArgumentError(`write: ${t.describe()} is a channel view; write the whole tensor`);
    if (data.length !== t.size) throw new InvalidArgumentError(`write: ${t.describe()} holds ${t.size} elements, got ${data.length} values`);
    const Ctor = t.dtype === 'f32' ? Float32Array : t.dtype === 'i32' ? Int32Array : Uint32Array;
    this.recorder.upload(t.pooled, data instanceof Ctor ? data : Ctor.from(data));
  }

  /**
   * A tensor on a GPUBuffer made elsewhere on this engine's device (TF.js's
   * `t.dataToGPU().buffer`, a renderer's buffer), without a copy. The buffer needs
   * GPUBufferUsage.STORAGE (COPY_SRC too for read(), COPY_DST for write()) and at least
   * shapeSize(shape) × 4 bytes, elements row-major from offset 0. It stays its owner's: disposing
   * the tensor or destroying the engine neither pools nor destroys it, and it must outlive the
   * tensor. Commands that filled it must be submitted to the queue before the engine's next
   * flush (or read) — TF.js's dataToGPU() submits its own.
   */
  wrapGpuBuffer<D extends DType = 'f32'>(buffer: GPUBuffer, shape: Shape, dtype: D = 'f32' as D, label?: string): Tensor<D> {
    if (this.destroyed) throw this.destroyedError('wrapGpuBuffer');
    const b = buffer as Partial<GPUBuffer> | null;
    if (typeof b !== 'object' || b === null || typeof b.usage !== 'number' || typeof b.size !== 'number' || typeof b.destroy !== 'function')
      throw new InvalidArgumentError(
        `wrapGpuBuffer: expected a GPUBuffer, got ${b === null ? 'null' : typeof b === 'object' ? 'an object that is not one' : typeof b}`,
      );
    checkShape(shape, 'wrapGpuBuffer');
    if (dtype !== 'f32' && dtype !== 'i32' && dtype !== 'u32')
      throw new InvalidArgumentError(`wrapGpuBuffer: dtype must be f32, i32 or u32, got ${String(dtype)}`);
    const what = `wrapGpuBuffer of ${buffer.label ? `'${buffer.label}'` : 'a GPUBuffer'} (${buffer.size} bytes)`;
    if (!(buffer.usage & GPUBufferUsage.STORAGE))
      throw new InvalidArgumentError(`${what}: its usage lacks GPUBufferUsage.STORAGE, which every kernel binding needs; create it with STORAGE | COPY_SRC`);
    const bytes = shapeSize(shape) * 4;
    if (buffer.size < bytes) throw new InvalidArgumentError(`${what}: a ${dtype}${formatShape(shape)} tensor needs ${bytes} bytes`);
    if (buffer.mapState !== undefined && buffer.mapState !== 'unmapped')
      throw new InvalidArgumentError(`${what}: it is ${buffer.mapState}; unmap it before the engine uses it`);
    const pb: PooledBuffer = { buffer, capacity: buffer.size, lastBatch: -1, external: true };
    return Tensor.create(this, pb, [...shape], dtype, label);
  }

  zeros<D extends DType = 'f32'>(shape: Shape, dtype: D = 'f32' as D): Tensor<D> {
    const t = this.allocate(shape, dtype, 'zeros');
    this.recorder.encoderFor(t.pooled).clearBuffer(t.buffer, 0, align4(t.byteLength));
    return t;
  }

  /** Uniform random numbers in [low, high), from a counter-based generator: same seed, same numbers. */
  randomUniform(shape: Shape, options: { seed: number; low?: number; high?: number }): Tensor<'f32'> {
    const t = this.allocate(shape, 'f32', 'randomUniform');
    const { low = 0, high = 1 } = options;
    fillRandom(this, 'uniform', t, options.seed, low, high - low);
    return t;
  }

  /** Normal random numbers (Box–Muller on the counter-based generator), reproducible per seed. */
  randomNormal(shape: Shape, options: { seed: number; mean?: number; std?: number }): Tensor<'f32'> {
    const t = this.allocate(shape, 'f32', 'randomNormal');
    const { mean = 0, std = 1 } = options;
    fillRandom(this, 'normal', t, options.seed, mean, std);
    return t;
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
    fillBits(this, t, bits);
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
    const buffer = this.recorder.withErrorScopes(context, ['validation', 'out-of-memory'], () =>
      this.device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, label: `incept storage ${size}B` }),
    );
    return buffer;
  }

  /** Takes a tensor out of its scope, so it outlives every open scope (the caller disposes it).
   * The autograd tape keeps what backward needs this way. */
  keep<T extends Tensor>(t: T): T {
    return this.scopes.keep(t);
  }

  /** @internal (TensorOwner) */
  track(t: Tensor): void {
    this.scopes.track(t);
  }

  /** @internal (TensorOwner) */
  untrack(t: Tensor): void {
    this.scopes.untrack(t);
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
    return this.scopes.liveCount;
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
    return this.scopes.scope(fn);
  }

  /** The open-scope stack; tests swap in the one a browser gets (no async context). */
  private get scopeStack(): ScopeStack {
    return this.scopes.stack;
  }
  private set scopeStack(stack: ScopeStack) {
    this.scopes.stack = stack;
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
    const workgroups = checkWorkgroups(spec, context, this.limits, this.precheck);
    if (workgroups[0] * workgroups[1] * workgroups[2] === 0) return; // empty problem: nothing to run
    if (this.profiler.enabled && this.profiler.timing === 'timestamp' && this.recorder.batch.dispatches >= MAX_TIMED_DISPATCHES) {
      // The query set is full. Flush before binding: binding writes this dispatch's uniforms into
      // the open batch's arena, and a flushed batch's arenas are reused by the next one, so a
      // dispatch bound before the flush and recorded after it would read another's uniforms.
      // Nobody awaits this flush, so its errors wait for the next one.
      this.flush().catch((e: unknown) => this.recorder.deferredErrors.push(e as GpuError));
    }
    const recorder = this.recorder;
    const bound = bindDispatch(spec, entry, context, {
      limits: this.limits,
      precheck: this.precheck,
      batchId: recorder.batch.id,
      uniformSlot: (bytes) => recorder.uniformSlot(bytes),
    });
    const batch = recorder.batch;
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

    recorder.withErrorScopes(context, ['validation', 'out-of-memory', 'internal'], () => {
      const { pipeline } = this.pipelines.get(spec.kernel, spec.entry, spec.overrides ?? {});
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
      const pass = openEncoder(batch).beginComputePass(passDesc);
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

  // ---------------------------------------------------------------- submission and readback

  /** Submits everything recorded so far as one submission. Resolves when WebGPU has reported
   * on it; rejects with a GpuError naming the kernel if anything in it failed. The batch reaches
   * the queue before this returns (see BatchRecorder.flush for why that keeps uploads in order). */
  flush(): Promise<void> {
    if (this.destroyed) return Promise.reject(this.destroyedError('flush'));
    if (this.lost) return Promise.reject(this.lost);
    return this.recorder.flush();
  }

  /** Waits until the GPU has finished all submitted work. */
  async sync(): Promise<void> {
    await this.flush();
    await this.device.queue.onSubmittedWorkDone();
  }

  /** @internal (TensorOwner) Copies a tensor to a mappable buffer, submits, maps, copies out. */
  readTensor(t: Tensor): Promise<Float32Array | Int32Array | Uint32Array> {
    if (t.isExternal && !(t.buffer.usage & GPUBufferUsage.COPY_SRC))
      return Promise.reject(
        new InvalidArgumentError(
          `read: ${t.describe()} wraps a GPUBuffer without GPUBufferUsage.COPY_SRC, so it cannot be copied back; run an op on it and read the result`,
        ),
      );
    return this.readback.read(t);
  }

  /** Frees the device and everything on it (on a shared device, only the engine's own buffers;
   * wrapped external buffers stay with their owner). Tensors of this engine are dead afterwards: using
   * one throws an error naming it; disposing one does nothing. Calling destroy again does nothing. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.pool.trim();
    this.readback.destroy();
    this.recorder.destroy();
    this.scopes.clear();
    this.pipelines.clear();
    this.device.removeEventListener('uncapturederror', this.onUncapturedError);
    if (!this.sharedDevice) this.device.destroy();
  }

  /** True once destroy() was called. */
  get isDestroyed(): boolean {
    return this.destroyed;
  }

  private destroyedError(what: string): InvalidArgumentError {
    return new InvalidArgumentError(`${what}: this engine was destroyed (engine.destroy()); create a new engine with createEngine()`);
  }
}

/** Convenience: the engine in one call, e.g. `const engine = await createEngine()`. */
export function createEngine(options: EngineOptions = {}): Promise<Engine> {
  return Engine.create(options);
}
