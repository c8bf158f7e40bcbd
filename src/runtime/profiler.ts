/**
 * Per-dispatch GPU timing. With the `timestamp-query` feature each dispatch's compute pass
 * writes a begin and end timestamp; without it the engine submits each dispatch alone and
 * times it on the CPU up to onSubmittedWorkDone, and marks those records 'cpu-wall' (they
 * include submission overhead, so they overstate kernel time).
 */

export type TimingSource = 'timestamp' | 'cpu-wall';

export interface DispatchRecord {
  seq: number;
  op: string;
  kernel: string;
  workgroups: [number, number, number];
  /** GPU time in milliseconds. */
  ms: number;
  flops: number;
  bytes: number;
  timing: TimingSource;
  /** The model layer that was current (Profiler.layer) when the dispatch was recorded. */
  layer?: string;
  /**
   * When the dispatch began, in ms: on the GPU clock (its begin-of-pass timestamp) for
   * 'timestamp' records, on the CPU clock (performance.now() at submission) for 'cpu-wall'
   * ones. Only differences between records of one profile mean anything.
   */
  startMs?: number;
  /** Which submission (flush) the dispatch was in, counted per profiler from 0. */
  submission?: number;
}

export interface KernelSummary {
  kernel: string;
  op: string;
  calls: number;
  ms: number;
  flops: number;
  bytes: number;
  gflops: number;
  gbps: number;
}

/** The most dispatches one batch times; the engine flushes when a batch reaches it. */
export const MAX_TIMED_DISPATCHES = 1024;

/** Query set and buffers for one batch's timestamps (pooled: batches can overlap in flight). */
export interface TimestampSlot {
  querySet: GPUQuerySet;
  resolve: GPUBuffer;
  readback: GPUBuffer;
}

export interface LayerSummary {
  layer: string;
  calls: number;
  ms: number;
  flops: number;
  bytes: number;
  gflops: number;
  gbps: number;
  /** Kernels that ran for this layer, as 'file:entry'. */
  kernels: string[];
}

export class Profiler {
  enabled = false;
  readonly records: DispatchRecord[] = [];
  /**
   * The layer dispatches are attributed to (models set it as they go, the tape restores it for
   * each backward rule), so a profile sums by layer as well as by kernel.
   */
  layer: string | undefined;
  private slots: TimestampSlot[] = [];
  private submissions = 0;

  constructor(
    private readonly device: GPUDevice,
    /** 'timestamp' when the device has timestamp-query, else the honest CPU fallback. */
    readonly timing: TimingSource,
  ) {}

  acquireSlot(): TimestampSlot {
    const slot = this.slots.pop();
    if (slot) return slot;
    const count = 2 * MAX_TIMED_DISPATCHES;
    return {
      querySet: this.device.createQuerySet({ type: 'timestamp', count, label: 'incept-profiler' }),
      resolve: this.device.createBuffer({ size: count * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC }),
      readback: this.device.createBuffer({ size: count * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }),
    };
  }

  /** Reads one batch's timestamps after its submission and files a record per dispatch. */
  async collect(slot: TimestampSlot, pending: Omit<DispatchRecord, 'ms' | 'timing'>[]): Promise<void> {
    await slot.readback.mapAsync(GPUMapMode.READ, 0, pending.length * 16);
    const ticks = new BigUint64Array(slot.readback.getMappedRange(0, pending.length * 16).slice(0));
    slot.readback.unmap();
    this.slots.push(slot);
    const submission = this.submissions++;
    pending.forEach((p, i) => {
      const begin = ticks[2 * i]!;
      const ns = ticks[2 * i + 1]! > begin ? Number(ticks[2 * i + 1]! - begin) : 0;
      // Whole microseconds first: a nanosecond count near 2^63 does not fit a double exactly.
      const startMs = Number(begin / 1000n) / 1e3 + Number(begin % 1000n) / 1e6;
      this.records.push({ ...p, ms: ns / 1e6, timing: 'timestamp', startMs, submission });
    });
  }

  /**
   * A dispatch timed alone on the CPU, from its submission until the queue reported it done.
   * `startMs` is performance.now() at submission; by default the call is taken to come right
   * after the measurement, so the start is now − ms.
   */
  addWallRecord(p: Omit<DispatchRecord, 'ms' | 'timing'>, ms: number, startMs = performance.now() - ms): void {
    this.records.push({ ...p, ms, timing: 'cpu-wall', startMs, submission: this.submissions++ });
  }

  clear(): void {
    this.records.length = 0;
  }

  totalMs(): number {
    return this.records.reduce((s, r) => s + r.ms, 0);
  }

  /** Records summed per kernel, most expensive first. */
  summary(records: readonly DispatchRecord[] = this.records): KernelSummary[] {
    const by = new Map<string, KernelSummary>();
    for (const r of records) {
      const key = `${r.op}|${r.kernel}`;
      const s = by.get(key) ?? { kernel: r.kernel, op: r.op, calls: 0, ms: 0, flops: 0, bytes: 0, gflops: 0, gbps: 0 };
      s.calls++;
      s.ms += r.ms;
      s.flops += r.flops;
      s.bytes += r.bytes;
      by.set(key, s);
    }
    return [...by.values()]
      .map((s) => ({ ...s, gflops: s.ms > 0 ? s.flops / s.ms / 1e6 : 0, gbps: s.ms > 0 ? s.bytes / s.ms / 1e6 : 0 }))
      .sort((a, b) => b.ms - a.ms);
  }

  /** Records summed per layer in the order the layers first ran (unlabelled ones under '(other)'). */
  byLayer(records: readonly DispatchRecord[] = this.records): LayerSummary[] {
    const by = new Map<string, LayerSummary>();
    for (const r of records) {
      const layer = r.layer ?? '(other)';
      const s = by.get(layer) ?? { layer, calls: 0, ms: 0, flops: 0, bytes: 0, gflops: 0, gbps: 0, kernels: [] };
      s.calls++;
      s.ms += r.ms;
      s.flops += r.flops;
      s.bytes += r.bytes;
      if (!s.kernels.includes(r.kernel)) s.kernels.push(r.kernel);
      by.set(layer, s);
    }
    return [...by.values()].map((s) => ({ ...s, gflops: s.ms > 0 ? s.flops / s.ms / 1e6 : 0, gbps: s.ms > 0 ? s.bytes / s.ms / 1e6 : 0 }));
  }

  /** Runs fn with dispatches attributed to `layer`, restoring the previous label after. */
  withLayer<T>(layer: string | undefined, fn: () => T): T {
    const before = this.layer;
    this.layer = layer;
    try {
      return fn();
    } finally {
      this.layer = before;
    }
  }

  /** A plain-text table of summary(), for terminals and logs. */
  format(): string {
    const rows = this.summary();
    const head = ['op', 'kernel', 'calls', 'GPU ms', 'GFLOP/s', 'GB/s'];
    const body = rows.map((r) => [r.op, r.kernel, String(r.calls), r.ms.toFixed(3), r.gflops.toFixed(2), r.gbps.toFixed(2)]);
    const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
    const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
    const note = this.timing === 'cpu-wall' ? '\n(timing: cpu-wall fallback, no timestamp-query on this adapter; includes submit overhead)' : '';
    return [line(head), ...body.map(line)].join('\n') + note;
  }
}
