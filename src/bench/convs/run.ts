/**
 * `incept bench convs`: every distinct convolution shape of Inception-v3 (299×299 input) at one
 * batch size, as the dispatcher runs it on the current adapter: the kernel variant it picks
 * (after tuning, within a budget), GPU time (timestamp median), achieved GFLOP/s and its
 * share of the adapter's matmul peak measured in the same run. With `allVariants`, every
 * variant that can run a shape is timed too, side by side, so a kernel researcher sees what
 * the dispatcher chose among. Each conv's output is checked against float64 sums at sampled
 * elements first, so a kernel that skipped work cannot look fast.
 */
import type { Engine } from '../../runtime/engine.js';
import { InceptError } from '../../runtime/errors.js';
import { measureSideBySide } from '../../runtime/timing.js';
import { asymmetricAxis, conv2d, conv2dCandidates, isPointwise, type Conv2dVariant } from '../../ops/conv2d.js';
import { convGeometry, convMacs, type ConvGeometry } from '../../ops/conv2d-geometry.js';
import { measureMatmulPeak } from '../matmul-peak.js';
import { INCEPTION_CONV_SHAPES } from '../../../test/cases/inception-conv-shapes.js';
import { sampledConvError } from '../factorization/check.js';
import { matchesFilter } from '../../cli/args.js';
import { csvNumber, csvTable, droppedNote, markdownTable, textTable, type TableColumn, type TableFormat } from '../factorization/table.js';
import type { BenchProgressCallback } from '../../cli/progress.js';

/** How a shape is served: the families of kernels/conv2d*.wgsl and the 1×1 matmul path. */
export type ConvKind = 'general' | 'asymmetric' | 'pointwise';

export interface ConvVariantTime {
  variant: string;
  ms: number;
  gflops: number;
}

export interface ConvBenchRow {
  /** e.g. '3×3/2 35²×288→384'. */
  shape: string;
  layers: string[];
  kind: ConvKind;
  kh: number;
  kw: number;
  batch: number;
  macs: number;
  /** The variant the dispatcher ran (tuned choice, stored choice or heuristic). */
  variant: string;
  ms: number;
  msMin: number;
  msMax: number;
  gflops: number;
  /** gflops / the run's matmul peak. */
  shareOfPeak: number;
  maxRelErr: number;
  /** Every applicable variant, timed side by side (allVariants only). */
  variants?: ConvVariantTime[];
}

export interface ConvBenchResult {
  adapter: string;
  date: string;
  timing: string;
  batch: number;
  peakGflops: number;
  peakKernel: string;
  tuning?: { ms: number; budgetMs: number; problems: number };
  rows: ConvBenchRow[];
}

export interface ConvBenchOptions {
  batch?: number;
  repeats?: number;
  /** Only shapes whose description or layer names contain this text. */
  filter?: string;
  allVariants?: boolean;
  tuningBudgetMs?: number;
  /** Each shape is a step of the whole run; the peak and tuning before them are notes. */
  onProgress?: BenchProgressCallback;
}

export function convKind(g: ConvGeometry): ConvKind {
  if (isPointwise(g)) return 'pointwise';
  return asymmetricAxis(g) ? 'asymmetric' : 'general';
}

export function describe(g: ConvGeometry): string {
  const stride = g.strideH === 1 && g.strideW === 1 ? '' : g.strideH === g.strideW ? `/${g.strideH}` : `/${g.strideH}×${g.strideW}`;
  return `${g.kh}×${g.kw}${stride} ${g.h === g.w ? `${g.h}²` : `${g.h}×${g.w}`}×${g.cin}→${g.cout}`;
}

function variantName(kernels: string[]): string {
  return kernels.map((k) => k.replace(/^conv2d(_asym)?\.wgsl:/, '').replace(/^matmul\.wgsl:/, 'pointwise ')).join(' + ');
}

export async function runConvBench(engine: Engine, options: ConvBenchOptions = {}): Promise<ConvBenchResult> {
  const batch = options.batch ?? 1;
  const repeats = options.repeats ?? 7;
  const progress = options.onProgress ?? (() => undefined);
  if (!Number.isInteger(batch) || batch < 1) throw new InceptError(`bench convs: batch must be a positive integer, got ${batch}`);
  const shapes = INCEPTION_CONV_SHAPES.map((s) => ({
    s,
    g: convGeometry('bench convs', [batch, s.h, s.w, s.cin], [s.kh, s.kw, s.cin, s.cout], [s.strideH, s.strideW], s.pad),
  })).filter(({ s, g }) => matchesFilter(options.filter, describe(g), ...s.layers));
  if (shapes.length === 0) throw new InceptError(`bench convs: no Inception-v3 conv shape or layer matches '${options.filter}'`);

  progress('measuring the matmul peak');
  const peak = await measureMatmulPeak(engine, { targetMs: 150, repeats: 5 });

  const date = new Date().toISOString();
  const budget = options.tuningBudgetMs ?? 120_000;
  let tuning: ConvBenchResult['tuning'];
  if (budget > 0) {
    // Queue every shape's problem, then let the tuner measure their variants in one go.
    const report = await engine.scope(async () => {
      for (const { g } of shapes) {
        const x = engine.empty([batch, g.h, g.w, g.cin], 'f32', 'bench convs');
        const w = engine.empty([g.kh, g.kw, g.cin, g.cout], 'f32', 'bench convs');
        conv2d(x, w, { stride: [g.strideH, g.strideW], padding: [g.padTop, g.padBottom, g.padLeft, g.padRight] });
      }
      await engine.sync();
      return engine.tuner.tune({ budgetMs: budget, onProgress: (m) => progress(`tuning ${m}`) });
    });
    tuning = { ms: report.ms, budgetMs: budget, problems: report.tuned.length };
  }

  const rows: ConvBenchRow[] = [];
  let seed = 101;
  for (const [i, { s, g }] of shapes.entries()) {
    const shape = describe(g);
    progress(shape, { n: i + 1, total: shapes.length });
    const row = await engine.scope(async () => {
      const x = engine.randomNormal([batch, g.h, g.w, g.cin], { seed: seed++ });
      const w = engine.randomNormal([g.kh, g.kw, g.cin, g.cout], { seed: seed++, std: Math.sqrt(2 / (g.kh * g.kw * g.cin)) });
      const opts = {
        stride: [g.strideH, g.strideW] as [number, number],
        padding: [g.padTop, g.padBottom, g.padLeft, g.padRight] as [number, number, number, number],
      };
      const y = conv2d(x, w, opts);
      let r = 0x9e3779b9;
      const random = () => (r = (Math.imul(r ^ (r >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 4294967296;
      const maxRelErr = sampledConvError(
        (await x.read()) as Float32Array,
        (await w.read()) as Float32Array,
        (await y.read()) as Float32Array,
        g,
        undefined,
        128,
        random,
      );
      const work: Record<string, () => unknown> = { dispatched: () => conv2d(x, w, opts) };
      const candidates: Conv2dVariant[] = options.allVariants ? conv2dCandidates(g, engine) : [];
      for (const v of candidates) work[v] = () => conv2d(x, w, { ...opts, variant: v });
      const t = await measureSideBySide(engine, `bench convs ${shape}`, work, { warmup: 1, repeats, minRepeats: repeats });
      const d = t.dispatched!;
      const macs = convMacs(g);
      const gflops = (2 * macs) / d.ms / 1e6;
      const out: ConvBenchRow = {
        shape,
        layers: s.layers,
        kind: convKind(g),
        kh: g.kh,
        kw: g.kw,
        batch,
        macs,
        variant: variantName(d.kernels),
        ms: d.ms,
        msMin: d.msMin,
        msMax: d.msMax,
        gflops,
        shareOfPeak: gflops / peak.gflops,
        maxRelErr,
      };
      if (candidates.length > 0) out.variants = candidates.map((v) => ({ variant: v, ms: t[v]!.ms, gflops: (2 * macs) / t[v]!.ms / 1e6 }));
      return out;
    });
    rows.push(row);
  }
  return {
    adapter: engine.adapterName,
    date,
    timing: engine.profiler.timing,
    batch,
    peakGflops: peak.gflops,
    peakKernel: peak.variant,
    ...(tuning ? { tuning } : {}),
    rows,
  };
}

export interface ConvBenchTableOptions {
  /** 'text' (default): aligned plain text; 'md': a markdown table; 'csv': CSV of raw values. */
  format?: TableFormat;
  /** For text: fit lines to this width (a terminal's) by leaving out less important columns. */
  width?: number;
}

/** Every value of a row as its own CSV column, numbers at full precision. */
const CONV_CSV_COLUMNS: TableColumn<ConvBenchRow>[] = [
  { head: 'shape', cell: (row) => row.shape },
  { head: 'kind', cell: (row) => row.kind },
  { head: 'kh', cell: (row) => String(row.kh) },
  { head: 'kw', cell: (row) => String(row.kw) },
  { head: 'batch', cell: (row) => String(row.batch) },
  { head: 'macs', cell: (row) => csvNumber(row.macs) },
  { head: 'variant', cell: (row) => row.variant },
  { head: 'ms', cell: (row) => csvNumber(row.ms) },
  { head: 'ms_min', cell: (row) => csvNumber(row.msMin) },
  { head: 'ms_max', cell: (row) => csvNumber(row.msMax) },
  { head: 'gflops', cell: (row) => csvNumber(row.gflops) },
  { head: 'share_of_peak', cell: (row) => csvNumber(row.shareOfPeak) },
  { head: 'max_rel_err', cell: (row) => csvNumber(row.maxRelErr) },
  { head: 'layers', cell: (row) => row.layers.join('; ') },
  { head: 'all_variants_gflops', cell: (row) => (row.variants ?? []).map((v) => `${v.variant}=${v.gflops}`).join('; ') },
];

/** The table on stdout; the share of peak is marked against the 70% the project aims for. */
export function formatConvBenchTable(r: ConvBenchResult, options: ConvBenchTableOptions = {}): string {
  const format = options.format ?? 'text';
  if (format === 'csv') return csvTable(CONV_CSV_COLUMNS, r.rows).join('\n');
  const cols: TableColumn<ConvBenchRow>[] = [
    { head: 'shape', cell: (row) => row.shape },
    { head: 'kind', priority: 2, cell: (row) => row.kind },
    { head: 'variant', priority: 3, cell: (row) => row.variant },
    { head: 'ms (min–max)', priority: 5, cell: (row) => `${row.ms.toFixed(2)} (${row.msMin.toFixed(2)}–${row.msMax.toFixed(2)})` },
    { head: 'GFLOP/s', priority: 4, cell: (row) => row.gflops.toFixed(2) },
    { head: 'of peak', cell: (row) => `${(100 * row.shareOfPeak).toFixed(0)}%` },
    { head: 'max rel err', priority: 1, cell: (row) => row.maxRelErr.toExponential(1) },
    {
      head: 'layers',
      priority: 0,
      cell: (row) => (format === 'md' ? row.layers.join(', ') : row.layers.length > 2 ? `${row.layers[0]} … (${row.layers.length})` : row.layers.join(', ')),
    },
  ];
  const table = format === 'md' ? { lines: markdownTable(cols, r.rows), dropped: [] } : textTable(cols, r.rows, { width: options.width });
  const lines = [
    `Inception-v3 convolutions, batch ${r.batch}, on ${r.adapter} · matmul peak ${r.peakGflops.toFixed(2)} GFLOP/s (${r.peakKernel}) · timing: ${r.timing} · ${r.date}`,
    ...(format === 'md' ? [''] : []),
    r.tuning
      ? `tuning: ${r.tuning.problems} problems in ${(r.tuning.ms / 1000).toFixed(1)} s (budget ${(r.tuning.budgetMs / 1000).toFixed(0)} s)`
      : 'tuning: off (stored or heuristic choices)',
    '',
    ...table.lines,
    ...droppedNote(table.dropped, options.width),
  ];
  const shapeWidth = Math.max(5, ...r.rows.map((row) => [...row.shape].length));
  const all = r.rows.filter((row) => row.variants);
  if (all.length > 0) {
    lines.push('', 'every applicable variant, GFLOP/s (same rounds as the dispatched one):');
    for (const row of all)
      lines.push(
        `${format === 'md' ? '- ' : '  '}${row.shape.padEnd(shapeWidth)}  ${row.variants!.map((v) => `${v.variant} ${v.gflops.toFixed(2)}`).join(' · ')}`,
      );
  }
  const summary = (kind: ConvKind, pick: (row: ConvBenchRow) => boolean, what: string) => {
    const rs = r.rows.filter((row) => row.kind === kind && pick(row));
    if (rs.length === 0) return;
    const worst = rs.reduce((a, b) => (a.shareOfPeak <= b.shareOfPeak ? a : b));
    const below = rs.filter((row) => row.shareOfPeak < 0.7).length;
    lines.push(
      `${what}: ${rs.length} shapes, lowest ${(100 * worst.shareOfPeak).toFixed(0)}% of peak (${worst.shape}); ${below === 0 ? 'all' : `${rs.length - below} of ${rs.length}`} at ≥ 70%`,
    );
  };
  lines.push('');
  summary('general', (row) => row.kh === 3 && row.kw === 3, '3×3 convs');
  summary('asymmetric', (row) => Math.max(row.kh, row.kw) === 7, '1×7 / 7×1 convs');
  return lines.join('\n');
}
