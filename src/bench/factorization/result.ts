/**
 * What `incept bench factorization` measures: each of Inception-v3's full convolutions next to
 * its factorized replacement (5×5 vs two 3×3, 3×3 vs 1×3→3×1, 7×7 vs 1×7→7×1, 3×3 vs two 2×2),
 * at several batch sizes, on the current adapter.
 *
 * These types are also the JSON contract (`--json`) that other tools read. The fields
 * `adapter`, `peakGflops`, `rows[].{name, batch, full, factorized, predictedRatio,
 * measuredRatio}` and each side's `{macs, params, ms, gflops, variant, maxRelErr}` keep these
 * exact names; everything else is an addition and may grow, never be renamed.
 *
 * Conventions:
 * - Times are milliseconds of one forward run of the side (all its convs), median of `runs`.
 * - GFLOP/s counts 2 FLOPs per multiply-accumulate: `gflops = 2 · macs / (ms · 1e6)`.
 * - Ratios are factorized / full, so < 1 means the factorized version is cheaper (predicted,
 *   from MACs) or faster (measured, from median times), e.g. the paper's 18/25 = 0.72 for
 *   5×5 → two 3×3, 6/9 for 3×3 → 1×3+3×1, 2/7 for 7×7 → 1×7+7×1 and 8/9 for two 2×2. A speed
 *   target reads "measured ratio at most 0.43". The fused variant's ratio is fused.ms / full.ms.
 * - A number that could not be measured is NaN in memory and null in JSON (JSON.stringify
 *   writes NaN as null); the renderers show both as '—'.
 */
import type { TimingSource } from '../../runtime/profiler.js';

export type { TimingSource };

/** One side of a comparison: the full conv, or the factorized pair run back to back. */
export interface SideResult {
  /** Multiply-accumulates of one run at this batch (all convs of the side). */
  macs: number;
  /** Weights (and biases, if any) of all convs of the side. */
  params: number;
  /** Median milliseconds of one run. */
  ms: number;
  /** Fastest and slowest of the `runs` timed runs. */
  msMin: number;
  msMax: number;
  /** How many timed runs the median is of. */
  runs: number;
  /** Achieved GFLOP/s at the median time: 2 · macs / (ms · 1e6). */
  gflops: number;
  /** The kernel variant(s) used, e.g. 'tile4x4_vec4' or 'subgroup16x8 + subgroup16x8'. */
  variant: string;
  /** Largest relative error of the output against the float64 CPU reference. */
  maxRelErr: number;
  /** The convs, short: '5×5 48→64' or '3×3 48→64 → 3×3 64→64'. */
  convs: string;
}

/** The factorized pair with BatchNorm+ReLU fused into the kernel between its two convs.
 * Same MACs and params as the factorized side, so only the measured quantities are here. */
export interface FusedResult {
  ms: number;
  msMin: number;
  msMax: number;
  gflops: number;
  variant: string;
  maxRelErr: number;
  runs: number;
}

export interface FactorizationRow {
  /** Which Inception-v3 conv, e.g. 'Mixed_5b 5×5' (unique within one batch). */
  name: string;
  /** The kind of replacement, e.g. '5×5 → 3×3+3×3'. */
  group: string;
  /** Input spatial size and channels, e.g. '35×35, 48→64'. */
  shape: string;
  batch: number;
  full: SideResult;
  factorized: SideResult;
  /** Present when the fused variant was measured. */
  fused?: FusedResult;
  /** factorized.macs / full.macs (< 1: the factorized version is cheaper). */
  predictedRatio: number;
  /** factorized.ms / full.ms, of the medians (< 1: the factorized version is faster). */
  measuredRatio: number;
  /**
   * Optional: the ratio the measured one should reach (met when measuredRatio <= targetRatio),
   * e.g. 80% of the predicted saving: 1 − 0.8 · (1 − predictedRatio).
   */
  /** The paper's cost of the replacement (18/25, 6/9, 2/n, 8/9); predictedRatio is from the
   * actual convs' multiply-adds, which match it when the middle width is the harmonic mean. */
  paperRatio?: number;
  targetRatio?: number;
}

export interface FactorizationResult {
  /** Adapter description as the device report shows it, e.g. 'SwiftShader Device (Subzero)'. */
  adapter: string;
  /** Which driver the engine chose, when known (e.g. 'lavapipe', 'swiftshader'). */
  driver?: string;
  /** The adapter's measured float32 matmul peak in GFLOP/s (NaN/null if not measured). */
  peakGflops: number;
  /** When the run started, ISO 8601. */
  date: string;
  /** 'timestamp': GPU timestamp queries; 'cpu-wall': CPU wall clock around a synced submit. */
  timing: TimingSource;
  /** True for a `--quick` run (fewer repeats, rougher numbers). */
  quick: boolean;
  /** The incept-gpu package version that measured. */
  engineVersion: string;
  /** Kernel-variant tuning done during the run: wall time spent, the budget it had, how many
   * conv problems it measured, and where the choices are kept. Absent when tuning was off. */
  tuning?: { ms: number; budgetMs: number; problems: number; store: string };
  rows: FactorizationRow[];
}

/** GFLOP/s of `macs` multiply-accumulates in `ms` milliseconds (2 FLOPs per MAC). */
export function gflopsOf(macs: number, ms: number): number {
  return ms > 0 ? (2 * macs) / (ms * 1e6) : Number.NaN;
}

/** Fills in a row's two ratios from its sides: factorized / full (< 1: factorized is cheaper). */
export function withRatios(row: Omit<FactorizationRow, 'predictedRatio' | 'measuredRatio'>): FactorizationRow {
  return {
    ...row,
    predictedRatio: row.factorized.macs / row.full.macs,
    measuredRatio: row.factorized.ms / row.full.ms,
  };
}
