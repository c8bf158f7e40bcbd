/**
 * The adapter's matmul peak: every matmul variant that applies, on square float32 problems
 * grown until one run takes long enough to time well, GPU time per run from the profiler,
 * median of repeats. Each result is spot-checked against a CPU dot product, so a kernel that
 * silently did nothing cannot report a peak.
 */
import type { Engine } from '../runtime/engine.js';
import { InceptError } from '../runtime/errors.js';
import type { TimingSource } from '../runtime/profiler.js';
import { MATMUL_VARIANTS, matmul, matmulVariantApplies, type MatmulVariant } from '../ops/matmul.js';

export interface VariantTiming {
  variant: MatmulVariant;
  size: number;
  /** Median GPU milliseconds of one run. */
  ms: number;
  gflops: number;
  runs: number;
}

export interface PeakResult {
  gflops: number;
  variant: MatmulVariant;
  size: number;
  timing: TimingSource;
  variants: VariantTiming[];
}

export interface PeakOptions {
  /** Stop growing the problem once one run takes this long (ms). */
  targetMs?: number;
  maxSize?: number;
  repeats?: number;
  variants?: readonly MatmulVariant[];
  onProgress?: (message: string) => void;
}

async function timeOnce(engine: Engine, n: number, variant: MatmulVariant, seed: number): Promise<number> {
  return engine.scope(async () => {
    const a = engine.randomNormal([n, n], { seed });
    const b = engine.randomNormal([n, n], { seed: seed + 1 });
    await engine.sync();
    const wasEnabled = engine.profiler.enabled;
    engine.profiler.enabled = true;
    const before = engine.profiler.records.length;
    const c = matmul(a, b, { variant });
    await engine.sync();
    engine.profiler.enabled = wasEnabled;
    const rec = engine.profiler.records.slice(before).find((r) => r.op === 'matmul');
    engine.profiler.records.splice(before);
    if (!rec) throw new InceptError(`matmul peak: no timing recorded for ${variant}`);
    await spotCheck(a.read(), b.read(), c.read(), n, variant);
    return rec.ms;
  });
}

/** Compares 16 entries of C with float64 dot products. */
async function spotCheck(
  ap: Promise<Float32Array | Int32Array | Uint32Array>,
  bp: Promise<Float32Array | Int32Array | Uint32Array>,
  cp: Promise<Float32Array | Int32Array | Uint32Array>,
  n: number,
  variant: string,
): Promise<void> {
  const [a, b, c] = await Promise.all([ap, bp, cp]);
  for (let s = 0; s < 16; s++) {
    const i = (s * 7919) % n;
    const j = (s * 104729 + 13) % n;
    let ref = 0;
    let mag = 0;
    for (let k = 0; k < n; k++) {
      ref += a[i * n + k]! * b[k * n + j]!;
      mag += Math.abs(a[i * n + k]! * b[k * n + j]!);
    }
    const got = c[i * n + j]!;
    if (!(Math.abs(got - ref) <= 1e-4 * mag + 1e-6)) {
      throw new InceptError(`matmul peak: variant ${variant} at ${n}×${n} computed C[${i}][${j}] = ${got}, expected ${ref}; refusing to report a peak`);
    }
  }
}

export async function measureMatmulPeak(engine: Engine, options: PeakOptions = {}): Promise<PeakResult> {
  const targetMs = options.targetMs ?? 150;
  const maxSize = options.maxSize ?? (engine.isSoftwareAdapter ? 1024 : 4096);
  const repeats = options.repeats ?? 5;
  const variants = options.variants ?? MATMUL_VARIANTS;
  const results: VariantTiming[] = [];
  let seed = 1000;
  for (const variant of variants) {
    // Every size tried is a power of two, so only the device's features can rule a variant out.
    if (!matmulVariantApplies(variant, 128, 128, 128, engine)) continue;
    let n = 128;
    let ms = await timeOnce(engine, n, variant, seed++);
    while (ms < targetMs && n < maxSize) {
      n *= 2;
      ms = await timeOnce(engine, n, variant, seed++);
    }
    const times = [ms];
    for (let r = 1; r < repeats; r++) times.push(await timeOnce(engine, n, variant, seed++));
    times.sort((x, y) => x - y);
    const median = times[Math.floor(times.length / 2)]!;
    const gflops = (2 * n ** 3) / median / 1e6;
    results.push({ variant, size: n, ms: median, gflops, runs: times.length });
    options.onProgress?.(`${variant}: ${n}×${n}×${n} in ${median.toFixed(2)} ms → ${gflops.toFixed(2)} GFLOP/s`);
  }
  const best = results.reduce((x, y) => (y.gflops > x.gflops ? y : x));
  return { gflops: best.gflops, variant: best.variant, size: best.size, timing: engine.profiler.timing, variants: results };
}
