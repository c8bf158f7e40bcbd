/**
 * `incept profile`: one Inception-v3 forward (or one training step: forward, loss, backward,
 * SGD update) profiled dispatch by dispatch. Every dispatch the profiler recorded becomes one
 * row: its pass, layer, kernel variant, op, start time, GPU time, FLOPs, achieved GFLOP/s and
 * its fraction of the adapter's matmul peak, bytes moved and GB/s; the same summed by layer, by
 * kernel and by op; and the idle gaps between dispatches.
 *
 * The model and the training step are bench/model/run.ts's (benchModelFor, forwardOnce,
 * trainStepRunner): `--warmup` runs first (pipelines compile on the first), then one profiled
 * run. collectProfile gathers the raw records, buildProfile turns them into the report's data
 * (a pure function), runProfile does both and measures the matmul peak in the same process.
 */
import { availableParallelism, loadavg } from 'node:os';
import type { Engine } from '../../runtime/engine.js';
import type { DispatchRecord, TimingSource } from '../../runtime/profiler.js';
import { measureMatmulPeak, type VariantTiming } from '../matmul-peak.js';
import { totals } from '../../models/inception-v3-spec.js';
import { benchModelFor, forwardOnce, profiled, splitPasses, trainStepRunner, type ModelArch, type TrainPass } from '../model/run.js';

export type ProfilePass = TrainPass;

export interface ProfileOptions {
  /** One training step instead of an inference forward. */
  train?: boolean;
  /** Images per run (default 1 for a forward, 2 for a training step). */
  batch?: number;
  variant?: 'imagenet' | 'cifar10';
  /** Default 299 (32 for the CIFAR-10 variant). */
  inputSize?: number;
  width?: number;
  /** Unprofiled-for-the-report runs before the profiled one (default 1). */
  warmup?: number;
  /** The matmul peak in GFLOP/s; measured when not given. */
  peakGflops?: number;
  /** How long the peak measurement grows its problems (ms per run, default 150) and repeats (5). */
  peakTargetMs?: number;
  peakRepeats?: number;
  onProgress?: (message: string) => void;
}

/** What one profiled run left behind, before any summing. */
export interface CollectedProfile {
  arch: ModelArch;
  mode: 'forward' | 'train';
  batch: number;
  warmup: number;
  /** Multiply-adds per image of the network as built (aux head not counted), and its parameters. */
  macs: number;
  params: number;
  /** The profiler's records of the profiled run, in recording order. */
  records: DispatchRecord[];
  /** The pass of each record (same order and length as records). */
  passes: ProfilePass[];
  /** Wall time of the profiled run, the result read back included. */
  wallMs: number;
  peakBytes: number;
  /** The training step's loss. */
  loss?: number;
}

export interface PeakInfo {
  gflops: number;
  source: 'measured' | 'given';
  /** How the figure was obtained, in a sentence. */
  how: string;
  variant?: string;
  size?: number;
  variants?: VariantTiming[];
}

export interface ProfileDispatch {
  /** Position in the profile (0-based, recording order). */
  index: number;
  /** The engine's dispatch sequence number. */
  seq: number;
  pass: ProfilePass;
  layer: string;
  /** The kernel variant, 'file.wgsl:entry'. */
  kernel: string;
  /** The kernel family (the WGSL file without .wgsl): the timeline's colour. */
  family: string;
  op: string;
  /** Start in ms from the first dispatch's start (GPU clock; the CPU clock under cpu-wall timing). */
  startMs: number;
  ms: number;
  flops: number;
  bytes: number;
  gflops: number;
  /** gflops / the matmul peak. */
  peakFraction: number;
  gbps: number;
  submission: number;
  workgroups: [number, number, number];
}

export interface ProfileGroup {
  key: string;
  calls: number;
  ms: number;
  /** ms / the profile's GPU total. */
  share: number;
  flops: number;
  bytes: number;
  gflops: number;
  peakFraction: number;
  gbps: number;
  /** GPU ms per pass (only the passes this group ran in). */
  passMs: Partial<Record<ProfilePass, number>>;
  /** Layers: the kernels that ran; kernels: the ops that used it; ops: the kernels. */
  members: string[];
}

export interface PassSummary {
  pass: ProfilePass;
  dispatches: number;
  ms: number;
  /** First start and last end, ms on the timeline. */
  startMs: number;
  endMs: number;
}

export interface Gap {
  /** Index of the dispatch before the gap and after it. */
  after: number;
  before: number;
  ms: number;
}

export interface ProfileResult {
  adapter: string;
  /** The machine's 1-minute load average before and after the run, and its CPU count (software
   * adapters run on the CPU, so other work there slows them and the peak alike). */
  load?: { before: number; after: number; cpus: number };
  date: string;
  timing: TimingSource;
  mode: 'forward' | 'train';
  variant: 'imagenet' | 'cifar10';
  width: number;
  inputSize: number;
  batch: number;
  warmup: number;
  macs: number;
  params: number;
  /** Sum of every dispatch's GPU time. */
  gpuMs: number;
  wallMs: number;
  /** From the first dispatch's start to the last one's end. */
  spanMs: number;
  /** gpuMs / spanMs: how busy the GPU was over the span. */
  busyFraction: number;
  /** The smallest nonzero dispatch time seen (0 if none): about the timer's step (lavapipe's is 65.5 µs). */
  smallestMs: number;
  /** Dispatches that read as 0 ms (shorter than the timer's step). */
  zeroMsDispatches: number;
  /** Declared FLOPs of every dispatch / gpuMs. */
  gflops: number;
  peakBytes: number;
  loss?: number;
  peak: PeakInfo;
  passes: PassSummary[];
  dispatches: ProfileDispatch[];
  /** Sums, most expensive first. */
  layers: ProfileGroup[];
  kernels: ProfileGroup[];
  ops: ProfileGroup[];
  /** The longest idle stretches between consecutive dispatches (at most 10), longest first. */
  gaps: Gap[];
}

const rate = (amount: number, ms: number) => (ms > 0 ? amount / ms / 1e6 : 0);

/** 'conv2d-asym.wgsl:tile8x8' → 'conv2d-asym'. */
export function kernelFamily(kernel: string): string {
  return kernel.split(':')[0]!.replace(/\.wgsl$/, '');
}

/** Runs the warm-up runs and one profiled run; returns its records with their passes. */
export async function collectProfile(engine: Engine, options: ProfileOptions = {}): Promise<CollectedProfile> {
  const mode = options.train ? 'train' : 'forward';
  const variant = options.variant ?? 'imagenet';
  const arch: ModelArch = { variant, width: options.width ?? 1, inputSize: options.inputSize ?? (variant === 'cifar10' ? 32 : 299) };
  const batch = options.batch ?? (options.train ? 2 : 1);
  const warmup = options.warmup ?? 1;
  const progress = options.onProgress ?? (() => undefined);
  const model = benchModelFor(engine, arch, options.train ? 'train' : 'inference');
  const counts = totals(model.layers);
  try {
    let run: () => Promise<{ loss?: number; marks?: number[] }>;
    let dispose = () => undefined as void;
    if (options.train) {
      const runner = trainStepRunner(engine, model, batch);
      run = () => runner.step();
      dispose = () => runner.dispose();
    } else {
      const x = engine.keep(engine.randomNormal([batch, arch.inputSize, arch.inputSize, 3], { seed: 11 + batch }));
      run = async () => {
        await forwardOnce(engine, model, x);
        return {};
      };
      dispose = () => x.dispose();
    }
    try {
      const what = options.train ? `training step, batch ${batch}` : `forward, batch ${batch}`;
      for (let i = 0; i < warmup; i++) {
        progress(`${what}: warm-up ${i + 1}/${warmup}`);
        await profiled(engine, async () => void (await run()));
      }
      progress(`${what}: profiled run`);
      await engine.sync();
      engine.pool.resetPeak();
      let out: { loss?: number; marks?: number[] } = {};
      let wallMs = 0;
      const records = await profiled(engine, async () => {
        const t0 = performance.now();
        out = await run();
        await engine.sync();
        wallMs = performance.now() - t0;
      });
      const peakBytes = engine.memory().peakBytes;
      let passes: ProfilePass[];
      if (out.marks) {
        const split = splitPasses(
          records.map((_, i) => i),
          out.marks,
        );
        passes = new Array<ProfilePass>(records.length);
        for (const [pass, indices] of Object.entries(split) as [ProfilePass, number[]][]) for (const i of indices) passes[i] = pass;
      } else {
        passes = records.map(() => 'forward');
      }
      return {
        arch,
        mode,
        batch,
        warmup,
        macs: counts.macs,
        params: counts.params,
        records,
        passes,
        wallMs,
        peakBytes,
        ...(out.loss !== undefined ? { loss: out.loss } : {}),
      };
    } finally {
      dispose();
    }
  } finally {
    model.dispose();
  }
}

function group(
  dispatches: readonly ProfileDispatch[],
  keyOf: (d: ProfileDispatch) => string,
  memberOf: (d: ProfileDispatch) => string,
  totalMs: number,
  peak: number,
): ProfileGroup[] {
  const by = new Map<string, ProfileGroup>();
  for (const d of dispatches) {
    const key = keyOf(d);
    const g = by.get(key) ?? { key, calls: 0, ms: 0, share: 0, flops: 0, bytes: 0, gflops: 0, peakFraction: 0, gbps: 0, passMs: {}, members: [] };
    g.calls++;
    g.ms += d.ms;
    g.flops += d.flops;
    g.bytes += d.bytes;
    g.passMs[d.pass] = (g.passMs[d.pass] ?? 0) + d.ms;
    const member = memberOf(d);
    if (!g.members.includes(member)) g.members.push(member);
    by.set(key, g);
  }
  return [...by.values()]
    .map((g) => {
      const gflops = rate(g.flops, g.ms);
      return { ...g, share: totalMs > 0 ? g.ms / totalMs : 0, gflops, peakFraction: peak > 0 ? gflops / peak : 0, gbps: rate(g.bytes, g.ms) };
    })
    .sort((a, b) => b.ms - a.ms);
}

export interface ProfileContext {
  adapter: string;
  load?: ProfileResult['load'];
  timing: TimingSource;
  peak: PeakInfo;
  date?: string;
}

/** The report's data from one collected profile: per dispatch, summed, the passes and the gaps. */
export function buildProfile(collected: CollectedProfile, context: ProfileContext): ProfileResult {
  const { records, passes } = collected;
  const peak = context.peak.gflops;
  const origin = records.length ? Math.min(...records.map((r) => r.startMs ?? Infinity)) : 0;
  const dispatches: ProfileDispatch[] = records.map((r, index) => {
    const gflops = rate(r.flops, r.ms);
    return {
      index,
      seq: r.seq,
      pass: passes[index] ?? 'forward',
      layer: r.layer ?? '(other)',
      kernel: r.kernel,
      family: kernelFamily(r.kernel),
      op: r.op,
      startMs: r.startMs !== undefined && Number.isFinite(origin) ? r.startMs - origin : NaN,
      ms: r.ms,
      flops: r.flops,
      bytes: r.bytes,
      gflops,
      peakFraction: peak > 0 ? gflops / peak : 0,
      gbps: rate(r.bytes, r.ms),
      submission: r.submission ?? -1,
      workgroups: r.workgroups,
    };
  });
  const gpuMs = dispatches.reduce((s, d) => s + d.ms, 0);
  const flops = dispatches.reduce((s, d) => s + d.flops, 0);
  const timed = dispatches.filter((d) => Number.isFinite(d.startMs));
  const spanMs = timed.length ? Math.max(...timed.map((d) => d.startMs + d.ms)) - Math.min(...timed.map((d) => d.startMs)) : 0;
  const passSummaries: PassSummary[] = [];
  for (const d of dispatches) {
    let p = passSummaries.find((s) => s.pass === d.pass);
    if (!p) passSummaries.push((p = { pass: d.pass, dispatches: 0, ms: 0, startMs: Infinity, endMs: -Infinity }));
    p.dispatches++;
    p.ms += d.ms;
    if (Number.isFinite(d.startMs)) {
      p.startMs = Math.min(p.startMs, d.startMs);
      p.endMs = Math.max(p.endMs, d.startMs + d.ms);
    }
  }
  const byStart = [...timed].sort((a, b) => a.startMs - b.startMs || a.index - b.index);
  const gaps: Gap[] = [];
  let end = -Infinity;
  let last: ProfileDispatch | undefined;
  for (const d of byStart) {
    // Below a nanosecond is the rounding of the clock's conversion to ms, not idle time.
    if (last && d.startMs - end > 1e-6) gaps.push({ after: last.index, before: d.index, ms: d.startMs - end });
    if (d.startMs + d.ms >= end) {
      end = d.startMs + d.ms;
      last = d;
    }
  }
  gaps.sort((a, b) => b.ms - a.ms);
  return {
    adapter: context.adapter,
    ...(context.load ? { load: context.load } : {}),
    date: context.date ?? new Date().toISOString(),
    timing: context.timing,
    mode: collected.mode,
    variant: collected.arch.variant,
    width: collected.arch.width,
    inputSize: collected.arch.inputSize,
    batch: collected.batch,
    warmup: collected.warmup,
    macs: collected.macs,
    params: collected.params,
    gpuMs,
    wallMs: collected.wallMs,
    spanMs,
    busyFraction: spanMs > 0 ? gpuMs / spanMs : 0,
    smallestMs: dispatches.reduce((m, d) => (d.ms > 0 && (m === 0 || d.ms < m) ? d.ms : m), 0),
    zeroMsDispatches: dispatches.filter((d) => d.ms === 0).length,
    gflops: rate(flops, gpuMs),
    peakBytes: collected.peakBytes,
    ...(collected.loss !== undefined ? { loss: collected.loss } : {}),
    peak: context.peak,
    passes: passSummaries.map((p) => ({ ...p, startMs: Number.isFinite(p.startMs) ? p.startMs : 0, endMs: Number.isFinite(p.endMs) ? p.endMs : 0 })),
    dispatches,
    layers: group(
      dispatches,
      (d) => d.layer,
      (d) => d.kernel,
      gpuMs,
      peak,
    ),
    kernels: group(
      dispatches,
      (d) => d.kernel,
      (d) => d.op,
      gpuMs,
      peak,
    ),
    ops: group(
      dispatches,
      (d) => d.op,
      (d) => d.kernel,
      gpuMs,
      peak,
    ),
    gaps: gaps.slice(0, 10),
  };
}

/** Measures the adapter's matmul peak as `incept device` does, or takes the given figure. */
export async function profilePeak(engine: Engine, options: ProfileOptions): Promise<PeakInfo> {
  if (options.peakGflops !== undefined) {
    return { gflops: options.peakGflops, source: 'given', how: `given on the command line (--peak ${options.peakGflops}), not measured` };
  }
  const targetMs = options.peakTargetMs ?? 150;
  const repeats = options.peakRepeats ?? 5;
  const peak = await measureMatmulPeak(engine, { targetMs, repeats, onProgress: options.onProgress });
  return {
    gflops: peak.gflops,
    source: 'measured',
    how:
      `measured in this run: the fastest of ${peak.variants.length} matmul variant(s) on square float32 problems grown until one run takes ${targetMs} ms ` +
      `(${peak.variant} at ${peak.size}×${peak.size}×${peak.size}, median of ${repeats}, ${peak.timing === 'timestamp' ? 'GPU timestamps' : 'CPU wall time'}, results spot-checked)`,
    variant: peak.variant,
    size: peak.size,
    variants: peak.variants,
  };
}

/** The whole profile: warm-up, the profiled run, the matmul peak (measured after the model is gone). */
export async function runProfile(engine: Engine, options: ProfileOptions = {}): Promise<ProfileResult> {
  const before = loadavg()[0]!;
  const collected = await collectProfile(engine, options);
  if (options.peakGflops === undefined) options.onProgress?.('measuring the matmul peak');
  const peak = await profilePeak(engine, options);
  const load = { before, after: loadavg()[0]!, cpus: availableParallelism() };
  return buildProfile(collected, { adapter: engine.adapterName, timing: engine.profiler.timing, peak, load });
}
