/**
 * `incept bench factorization`: each pair of bench/factorization/pairs.ts at each batch size,
 * on the engine's adapter. Per row: the full conv, the factorized pair, and the pair with
 * BatchNorm + ReLU fused into the first conv's write-out (as the network runs it). Each side is
 * first tuned (the engine's tuner measures the kernel variants of every conv, within a budget),
 * then checked against float64 sums at sampled outputs, then timed: GPU time per run from
 * timestamp queries (or the marked CPU-wall fallback), median of `repeats` runs after warm-up,
 * the three sides taking turns run by run so the machine's drift falls on all of them alike.
 */
import pkg from '../../../package.json' with { type: 'json' };
import type { Engine } from '../../runtime/engine.js';
import { InceptError } from '../../runtime/errors.js';
import type { Tensor } from '../../runtime/tensor.js';
import { measureSideBySide, type GpuTimeStats } from '../../runtime/timing.js';
import { conv2d } from '../../ops/conv2d.js';
import { convGeometry, convMacs, type ConvGeometry } from '../../ops/conv2d-geometry.js';
import type { Epilogue } from '../../ops/epilogue.js';
import { measureMatmulPeak } from '../matmul-peak.js';
import { matchesFilter } from '../../cli/args.js';
import type { BenchProgressCallback } from '../../cli/progress.js';
import { sampledConvError, type SampledEpilogue } from './check.js';
import { convParams, describeConv, FACTORIZATION_PAIRS, type ConvSpec, type FactorizationPair } from './pairs.js';
import { gflopsOf, withRatios, type FactorizationResult, type FactorizationRow, type FusedResult, type SideResult } from './result.js';

export interface FactorizationOptions {
  /** Batch sizes (default [1, 8]; quick: [1]). */
  batches?: number[];
  /** Timed runs per side (default 10). */
  repeats?: number;
  /** Untimed runs first (default 2). */
  warmup?: number;
  quick?: boolean;
  /** Wall-time budget for tuning kernel variants, ms, over the whole run (0: no tuning). */
  tuningBudgetMs?: number;
  /** Sampled outputs per conv for the error check (default 256). */
  samples?: number;
  /** Only the pairs whose name contains this text. */
  filter?: string;
  /** Use this matmul peak instead of measuring it. */
  peakGflops?: number;
  /** Each row (pair × batch) is a step of the whole run; tuning and results are notes. */
  onProgress?: BenchProgressCallback;
}

/** The share of the predicted saving the measured time must reach (the project's target). */
export const TARGET_SHARE_OF_SAVING = 0.8;

interface Side {
  convs: { spec: ConvSpec; g: ConvGeometry; w: Tensor }[];
}

/** Runs a side's convs in order; `fused` puts folded BatchNorm + ReLU into every conv but the last. */
function runSide(x: Tensor, side: Side, fused?: Epilogue): Tensor[] {
  const outs: Tensor[] = [];
  let input = x;
  side.convs.forEach((c, i) => {
    const last = i === side.convs.length - 1;
    input = conv2d(input, c.w, { padding: c.spec.padding, ...(fused && !last ? { epilogue: fused } : {}) });
    outs.push(input);
  });
  return outs;
}

/** Each conv of a side against sampled float64 sums, given the input it read; the worst error. */
async function checkSide(
  x: Tensor,
  side: Side,
  fused: { epi: Epilogue; host: SampledEpilogue } | undefined,
  samples: number,
  random: () => number,
): Promise<number> {
  const engine = x.owner as unknown as Engine;
  return engine.scope(async () => {
    const outs = runSide(x, side, fused?.epi);
    let worst = 0;
    let input = await x.read();
    for (let i = 0; i < side.convs.length; i++) {
      const c = side.convs[i]!;
      const y = (await outs[i]!.read()) as Float32Array;
      const last = i === side.convs.length - 1;
      const err = sampledConvError(input as Float32Array, (await c.w.read()) as Float32Array, y, c.g, fused && !last ? fused.host : undefined, samples, random);
      worst = Math.max(worst, err);
      input = y;
    }
    return worst;
  });
}

function sideResult(side: Side, stats: GpuTimeStats, maxRelErr: number): SideResult {
  const macs = side.convs.reduce((s, c) => s + convMacs(c.g), 0);
  return {
    macs,
    params: side.convs.reduce((s, c) => s + convParams(c.spec), 0),
    ms: stats.ms,
    msMin: stats.msMin,
    msMax: stats.msMax,
    runs: stats.runs,
    gflops: gflopsOf(macs, stats.ms),
    variant: variantOf(stats),
    maxRelErr,
    convs: side.convs.map((c) => describeConv(c.spec)).join(' → '),
  };
}

/** 'conv2d.wgsl:tile8x8 + matmul.wgsl:subgroup16x8' → 'tile8x8 + pointwise subgroup16x8'. */
function variantOf(stats: GpuTimeStats): string {
  return stats.kernels.map((k) => k.replace(/^conv2d(_asym)?\.wgsl:/, '').replace(/^matmul\.wgsl:/, 'pointwise ')).join(' + ');
}

/** A small deterministic generator for the sampled check (mulberry32). */
function sampler(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function targetRatio(predicted: number): number {
  return 1 - TARGET_SHARE_OF_SAVING * (1 - predicted);
}

export async function runFactorization(engine: Engine, options: FactorizationOptions = {}): Promise<FactorizationResult> {
  const quick = options.quick ?? false;
  const batches = options.batches ?? (quick ? [1] : [1, 8]);
  const repeats = options.repeats ?? 10;
  const warmup = options.warmup ?? 2;
  const samples = options.samples ?? 256;
  const progress = options.onProgress ?? (() => undefined);
  const pairs = FACTORIZATION_PAIRS.filter((p) => matchesFilter(options.filter, p.name));
  if (pairs.length === 0)
    throw new InceptError(`bench factorization: no pair matches '${options.filter}'; pairs: ${FACTORIZATION_PAIRS.map((p) => p.name).join('; ')}`);
  for (const b of batches) if (!Number.isInteger(b) || b < 1) throw new InceptError(`bench factorization: batch sizes must be positive integers, got ${b}`);
  const date = new Date().toISOString();

  let peakGflops = options.peakGflops ?? Number.NaN;
  if (options.peakGflops === undefined) {
    progress('measuring the matmul peak');
    peakGflops = (await measureMatmulPeak(engine, { targetMs: quick ? 40 : 150, repeats: quick ? 3 : 5 })).gflops;
  }

  // Tuning budget shared by all rows; each row's tuning gets an even share of what is left.
  const tuningBudget = options.tuningBudgetMs ?? (quick ? 30_000 : 240_000);
  let tuningLeft = tuningBudget;
  let tunedProblems = 0;
  const rows: FactorizationRow[] = [];
  let seed = 7;
  const total = batches.length * pairs.length;
  for (const batch of batches) {
    for (const pair of pairs) {
      const done = rows.length;
      const label = `${pair.name}, batch ${batch}`;
      progress(label, { n: done + 1, total });
      const row = await engine.scope(async () => {
        const x = engine.randomNormal([batch, pair.h, pair.w, pair.full.cin], { seed: seed++ });
        const make = (spec: ConvSpec, xShape: number[]) => {
          const g = convGeometry('bench factorization', xShape, [spec.kh, spec.kw, spec.cin, spec.cout], 1, spec.padding);
          // He-style scale keeps activations O(1) through the pair.
          const w = engine.randomNormal([spec.kh, spec.kw, spec.cin, spec.cout], { seed: seed++, std: Math.sqrt(2 / (spec.kh * spec.kw * spec.cin)) });
          return { spec, g, w };
        };
        const full: Side = { convs: [make(pair.full, x.shape as number[])] };
        const first = make(pair.factorized[0], x.shape as number[]);
        const second = make(pair.factorized[1], [batch, first.g.oh, first.g.ow, first.spec.cout]);
        const factorized: Side = { convs: [first, second] };
        checkSameOutput(pair, full, factorized);
        const mid = first.spec.cout;
        const host: SampledEpilogue = { scale: new Float32Array(mid), shift: new Float32Array(mid), relu: true };
        for (let i = 0; i < mid; i++) {
          // Folded BatchNorm of plausible statistics: γ/√(σ²+ε) near 1, β − μ·scale near 0.
          host.scale![i] = 0.5 + ((i * 7919) % 100) / 100;
          host.shift![i] = (((i * 104729) % 200) - 100) / 500;
        }
        const epi: Epilogue = { scale: engine.tensor(host.scale!), shift: engine.tensor(host.shift!), relu: true };

        if (tuningLeft > 0) {
          // Queue every conv problem of the row, then let the tuner measure their variants. The
          // queueing runs (pipeline compilation) count against the budget too.
          const queued = performance.now();
          engine.scope(() => {
            runSide(x, full);
            runSide(x, factorized);
            runSide(x, factorized, epi);
          });
          const left = total - done;
          await engine.sync();
          const queueMs = performance.now() - queued;
          const report = await engine.tuner.tune({ budgetMs: Math.max(0, tuningLeft / left - queueMs), onProgress: (m) => progress(`tuning ${m}`) });
          tuningLeft -= queueMs + report.ms;
          tunedProblems += report.tuned.length;
        }

        const random = sampler(seed++);
        const errFull = await checkSide(x, full, undefined, samples, random);
        const errFact = await checkSide(x, factorized, undefined, samples, random);
        const errFused = await checkSide(x, factorized, { epi, host }, samples, random);

        // Side by side, round by round, so the machine's drift falls on all three alike.
        const t = await measureSideBySide(
          engine,
          label,
          { full: () => runSide(x, full), factorized: () => runSide(x, factorized), fused: () => runSide(x, factorized, epi) },
          { warmup, repeats, minRepeats: repeats },
        );
        const [tFull, tFact, tFused] = [t.full, t.factorized, t.fused];
        const fullSide = sideResult(full, tFull, errFull);
        const factSide = sideResult(factorized, tFact, errFact);
        const fused: FusedResult = {
          ms: tFused.ms,
          msMin: tFused.msMin,
          msMax: tFused.msMax,
          gflops: gflopsOf(factSide.macs, tFused.ms),
          variant: variantOf(tFused),
          maxRelErr: errFused,
          runs: tFused.runs,
        };
        const r = withRatios({
          name: pair.name,
          group: pair.group,
          shape: `${pair.h}×${pair.w}, ${pair.full.cin}→${pair.full.cout}`,
          batch,
          full: fullSide,
          factorized: factSide,
          fused,
        });
        return { ...r, paperRatio: pair.paperRatio, targetRatio: targetRatio(r.predictedRatio) };
      });
      rows.push(row);
      progress(
        `${label}: full ${row.full.ms.toFixed(2)} ms, factorized ${row.factorized.ms.toFixed(2)} ms (ratio ${row.measuredRatio.toFixed(2)}, predicted ${row.predictedRatio.toFixed(2)})`,
      );
    }
  }
  return {
    adapter: engine.adapterName,
    driver: engine.driver,
    peakGflops,
    date,
    timing: engine.profiler.timing,
    quick,
    engineVersion: pkg.version,
    ...(tuningBudget > 0
      ? { tuning: { ms: tuningBudget - tuningLeft, budgetMs: tuningBudget, problems: tunedProblems, store: engine.tuner.store.description } }
      : {}),
    rows,
  };
}

/** Both sides must produce the same output grid, or the comparison is meaningless. */
function checkSameOutput(pair: FactorizationPair, full: Side, factorized: Side): void {
  const a = full.convs[0]!.g;
  const b = factorized.convs[1]!.g;
  if (a.oh !== b.oh || a.ow !== b.ow || a.cout !== b.cout) {
    throw new InceptError(`bench factorization: ${pair.name}: the full conv gives ${a.oh}×${a.ow}×${a.cout}, the factorized pair ${b.oh}×${b.ow}×${b.cout}`);
  }
}
