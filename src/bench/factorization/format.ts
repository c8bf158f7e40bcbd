/**
 * How the factorization report writes numbers and the run's facts, shared by the text table and
 * the HTML page so both show the same values the same way. Values may come from JSON, where NaN
 * became null, so every formatter takes null/undefined too and shows '—'.
 */
import type { FactorizationResult, FactorizationRow, TimingSource } from './result.js';

export type Num = number | null | undefined;
export const DASH = '—';

export function finite(v: Num): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** 3 significant digits without exponent for values >= 1: 1.23, 12.3, 123. */
function sig3(v: number): string {
  const a = Math.abs(v);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(3);
}

/** 94 080 000 → '94.1M'. */
export function formatCount(v: Num): string {
  if (!finite(v)) return DASH;
  const a = Math.abs(v);
  if (a >= 1e9) return `${sig3(v / 1e9)}G`;
  if (a >= 1e6) return `${sig3(v / 1e6)}M`;
  if (a >= 1e3) return `${sig3(v / 1e3)}k`;
  return String(Math.round(v));
}

export function formatMs(v: Num): string {
  return finite(v) ? sig3(v) : DASH;
}

/** A factorized / full ratio: 0.72 → '0.72×' (of the full conv's cost or time). */
export function formatRatio(v: Num): string {
  return finite(v) ? `${v.toFixed(2)}×` : DASH;
}

/** Whether a row's measured ratio reaches its target (at most the target); undefined when
 * there is no target or the measured ratio is unknown. */
export function meetsTarget(row: Pick<FactorizationRow, 'measuredRatio' | 'targetRatio'>): boolean | undefined {
  if (!finite(row.targetRatio) || !finite(row.measuredRatio)) return undefined;
  return row.measuredRatio <= row.targetRatio;
}

/** The target cell: '0.43× ✓' (measured reaches it), '0.43× ✗' (it does not), '0.43× ?'
 * (measured unknown), or '—' (no target). */
export function formatTarget(row: Pick<FactorizationRow, 'measuredRatio' | 'targetRatio'>): string {
  if (!finite(row.targetRatio)) return DASH;
  const met = meetsTarget(row);
  return `${formatRatio(row.targetRatio)} ${met === undefined ? '?' : met ? '✓' : '✗'}`;
}

/** fused.ms / full.ms, or NaN without a fused variant. */
export function fusedRatio(row: FactorizationRow): number {
  return row.fused && finite(row.fused.ms) && finite(row.full.ms) && row.full.ms > 0 ? row.fused.ms / row.full.ms : Number.NaN;
}

export function formatGflops(v: Num): string {
  return finite(v) ? sig3(v) : DASH;
}

export function formatRelErr(v: Num): string {
  if (!finite(v)) return DASH;
  return v === 0 ? '0' : v.toExponential(1);
}

export function formatMsRange(min: Num, max: Num): string {
  return `${formatMs(min)}–${formatMs(max)}`;
}

const TIMING_TEXT: Record<TimingSource, string> = {
  timestamp: 'GPU timestamp queries',
  'cpu-wall': 'CPU wall clock (no timestamp-query on this device)',
};

export function timingText(t: TimingSource): string {
  return TIMING_TEXT[t] ?? String(t);
}

export function hasFused(r: FactorizationResult): boolean {
  return r.rows.some((row) => row.fused !== undefined && row.fused !== null);
}

export function hasTarget(r: FactorizationResult): boolean {
  return r.rows.some((row) => finite(row.targetRatio));
}

/** Batch sizes in order of first appearance. */
export function batchesOf(r: FactorizationResult): number[] {
  return [...new Set(r.rows.map((row) => row.batch))];
}

/** The tuning line of a run that tuned kernel variants first. */
export function tuningText(t: NonNullable<FactorizationResult['tuning']>): string {
  return `tuning: ${t.problems} conv problems in ${(t.ms / 1000).toFixed(1)} s (budget ${(t.budgetMs / 1000).toFixed(0)} s), kept in ${t.store}`;
}
