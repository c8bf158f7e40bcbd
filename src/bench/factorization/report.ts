/**
 * The outputs of `incept bench factorization`: an aligned plain-text table for stdout and one
 * self-contained HTML report with charts.
 *
 * The HTML file needs no network when opened: Chart.js's UMD build is read from node_modules
 * at render time and inlined in a <script>, and the result travels as JSON in a
 * <script type="application/json"> block that the page script reads. All text from the result
 * (adapter, names, variants, …) is escaped where it enters HTML; in the JSON block every '<' is
 * written as \u003c so nothing in it can close the script element.
 *
 * The page sets `window.__chartsDrawn` (and `data-charts-drawn` on <body>) to the number of
 * charts once every chart has rendered, or `window.__chartError` (and `data-chart-error`) to the
 * message if drawing failed, so tests and scripts can tell a drawn report from a broken one.
 */
import { CHART_PAGE_PRELUDE, escapeHtml, loadChartJs, chartPageScripts, pageHead } from '../../io/html-report.js';
export { escapeHtml, loadChartJs, type ChartJsSource } from '../../io/html-report.js';
import type { FactorizationResult, FactorizationRow, FusedResult, SideResult, TimingSource } from './result.js';
import { csvNumber, csvTable, droppedNote, markdownTable, textTable, type TableColumn, type TableFormat } from './table.js';

// ---------------------------------------------------------------------------------------------
// Number formatting (shared by the table and the HTML). Values may come from JSON, where NaN
// became null, so every formatter takes null/undefined too and shows '—'.

type Num = number | null | undefined;
const DASH = '—';

function finite(v: Num): v is number {
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
function fusedRatio(row: FactorizationRow): number {
  return row.fused && finite(row.fused.ms) && finite(row.full.ms) && row.full.ms > 0 ? row.fused.ms / row.full.ms : Number.NaN;
}

export function formatGflops(v: Num): string {
  return finite(v) ? sig3(v) : DASH;
}

export function formatRelErr(v: Num): string {
  if (!finite(v)) return DASH;
  return v === 0 ? '0' : v.toExponential(1);
}

function formatMsRange(min: Num, max: Num): string {
  return `${formatMs(min)}–${formatMs(max)}`;
}

const TIMING_TEXT: Record<TimingSource, string> = {
  timestamp: 'GPU timestamp queries',
  'cpu-wall': 'CPU wall clock (no timestamp-query on this device)',
};

function timingText(t: TimingSource): string {
  return TIMING_TEXT[t] ?? String(t);
}

function hasFused(r: FactorizationResult): boolean {
  return r.rows.some((row) => row.fused !== undefined && row.fused !== null);
}

function hasTarget(r: FactorizationResult): boolean {
  return r.rows.some((row) => finite(row.targetRatio));
}

/** Batch sizes in order of first appearance. */
function batchesOf(r: FactorizationResult): number[] {
  return [...new Set(r.rows.map((row) => row.batch))];
}

/** How many charts renderFactorizationHtml draws for `r`: one time chart per batch size, the
 * ratio chart and the GFLOP/s chart. */
export function factorizationChartCount(r: FactorizationResult): number {
  return batchesOf(r).length + 2;
}

// ---------------------------------------------------------------------------------------------
// Plain-text table

function msCell(s: { ms: Num; msMin: Num; msMax: Num }): string {
  return `${formatMs(s.ms)} (${formatMsRange(s.msMin, s.msMax)})`;
}

/**
 * An aligned plain-text table, one line per row (conv × batch), under a header line with the
 * adapter, its matmul peak and the timing source. Ratios are factorized / full (< 1: the
 * factorized version is cheaper or faster; 'meas. fused' is fused / full); ms is the median
 * with min–max in parentheses. When some row has a target ratio, a 'target' column shows it
 * with ✓ if the measured ratio is at most the target and ✗ if not.
 */
function tuningText(t: NonNullable<FactorizationResult['tuning']>): string {
  return `tuning: ${t.problems} conv problems in ${(t.ms / 1000).toFixed(1)} s (budget ${(t.budgetMs / 1000).toFixed(0)} s), kept in ${t.store}`;
}

export interface FactorizationTableOptions {
  /** 'text' (default): aligned plain text; 'md': a markdown table; 'csv': CSV of raw values. */
  format?: TableFormat;
  /** For text: fit lines to this width (a terminal's) by leaving out less important columns. */
  width?: number;
}

export function formatFactorizationTable(r: FactorizationResult, options: FactorizationTableOptions = {}): string {
  const format = options.format ?? 'text';
  if (format === 'csv') return csvTable(factorizationCsvColumns(r), r.rows).join('\n') + '\n';
  const fused = hasFused(r);
  const target = hasTarget(r);
  type Col = TableColumn<FactorizationRow>;
  // Priorities: what a narrow terminal loses first (lowest first); conv, batch and the
  // predicted and measured ratios always stay.
  const cols: Col[] = [
    { head: 'conv', cell: (row) => row.name },
    { head: 'batch', right: true, cell: (row) => String(row.batch) },
    { head: 'MACs full', right: true, priority: 4, cell: (row) => formatCount(row.full.macs) },
    { head: 'MACs fact', right: true, priority: 4, cell: (row) => formatCount(row.factorized.macs) },
    { head: 'params full', right: true, priority: 1, cell: (row) => formatCount(row.full.params) },
    { head: 'params fact', right: true, priority: 1, cell: (row) => formatCount(row.factorized.params) },
    ...(r.rows.some((row) => row.paperRatio !== undefined)
      ? [{ head: 'paper', right: true, priority: 5, cell: (row: FactorizationRow) => (row.paperRatio !== undefined ? formatRatio(row.paperRatio) : DASH) }]
      : []),
    { head: 'predicted', right: true, cell: (row) => formatRatio(row.predictedRatio) },
    { head: 'measured', right: true, cell: (row) => formatRatio(row.measuredRatio) },
    ...(target ? [{ head: 'target', right: true, priority: 9, cell: (row: FactorizationRow) => formatTarget(row) }] : []),
    ...(fused ? [{ head: 'meas. fused', right: true, priority: 8, cell: (row: FactorizationRow) => formatRatio(fusedRatio(row)) }] : []),
    { head: 'ms full (min–max)', right: true, priority: 7, cell: (row) => msCell(row.full) },
    { head: 'ms fact (min–max)', right: true, priority: 7, cell: (row) => msCell(row.factorized) },
    ...(fused ? [{ head: 'ms fused (min–max)', right: true, priority: 6, cell: (row: FactorizationRow) => (row.fused ? msCell(row.fused) : DASH) }] : []),
    {
      head: fused ? 'GFLOP/s full/fact/fused' : 'GFLOP/s full/fact',
      right: true,
      priority: 3,
      cell: (row) => [row.full.gflops, row.factorized.gflops, ...(fused ? [row.fused?.gflops] : [])].map(formatGflops).join(' / '),
    },
    {
      head: fused ? 'variants full | fact | fused' : 'variants full | fact',
      priority: 0,
      cell: (row) => [row.full.variant, row.factorized.variant, ...(fused ? [row.fused?.variant ?? DASH] : [])].join(' | '),
    },
    {
      head: 'max rel err',
      priority: 2,
      cell: (row) => [row.full.maxRelErr, row.factorized.maxRelErr, ...(fused ? [row.fused?.maxRelErr] : [])].map(formatRelErr).join(' / '),
    },
  ];

  const header = [
    `Factorization on ${r.adapter}${r.driver ? ` (${r.driver})` : ''}`,
    `matmul peak ${finite(r.peakGflops) ? `${formatGflops(r.peakGflops)} GFLOP/s` : 'not measured'}`,
    `timing: ${timingText(r.timing)}`,
    ...(r.quick ? ['quick run (rough numbers)'] : []),
    ...(r.tuning ? [tuningText(r.tuning)] : []),
  ].join(' · ');
  const legend = `ratios are factorized / full (< 1: factorized is cheaper or faster${target ? '; target: ✓ when measured is at most it' : ''}); ms: median of runs (min–max); ${r.date}, incept-gpu ${r.engineVersion}`;
  if (format === 'md') return [header, '', legend, '', ...markdownTable(cols, r.rows)].join('\n') + '\n';
  const table = textTable(cols, r.rows, { width: options.width });
  return [header, legend, '', ...table.lines, ...droppedNote(table.dropped, options.width)].join('\n') + '\n';
}

/** Every value of a row as its own CSV column, numbers at full precision. */
function factorizationCsvColumns(r: FactorizationResult): TableColumn<FactorizationRow>[] {
  type Col = TableColumn<FactorizationRow>;
  const side = (name: string, get: (row: FactorizationRow) => SideResult | FusedResult | undefined | null, withCosts: boolean): Col[] => [
    ...(withCosts
      ? [
          { head: `${name}_macs`, cell: (row: FactorizationRow) => csvNumber((get(row) as SideResult | undefined)?.macs) },
          { head: `${name}_params`, cell: (row: FactorizationRow) => csvNumber((get(row) as SideResult | undefined)?.params) },
          { head: `${name}_convs`, cell: (row: FactorizationRow) => (get(row) as SideResult | undefined)?.convs ?? '' },
        ]
      : []),
    { head: `${name}_ms`, cell: (row) => csvNumber(get(row)?.ms) },
    { head: `${name}_ms_min`, cell: (row) => csvNumber(get(row)?.msMin) },
    { head: `${name}_ms_max`, cell: (row) => csvNumber(get(row)?.msMax) },
    { head: `${name}_runs`, cell: (row) => csvNumber(get(row)?.runs) },
    { head: `${name}_gflops`, cell: (row) => csvNumber(get(row)?.gflops) },
    { head: `${name}_variant`, cell: (row) => get(row)?.variant ?? '' },
    { head: `${name}_max_rel_err`, cell: (row) => csvNumber(get(row)?.maxRelErr) },
  ];
  return [
    { head: 'conv', cell: (row) => row.name },
    { head: 'group', cell: (row) => String(row.group ?? '') },
    { head: 'shape', cell: (row) => row.shape },
    { head: 'batch', cell: (row) => String(row.batch) },
    { head: 'paper_ratio', cell: (row) => csvNumber(row.paperRatio) },
    { head: 'predicted_ratio', cell: (row) => csvNumber(row.predictedRatio) },
    { head: 'measured_ratio', cell: (row) => csvNumber(row.measuredRatio) },
    { head: 'target_ratio', cell: (row) => csvNumber(row.targetRatio) },
    { head: 'target_met', cell: (row) => String(meetsTarget(row) ?? '') },
    { head: 'fused_ratio', cell: (row) => csvNumber(fusedRatio(row)) },
    ...side('full', (row) => row.full, true),
    ...side('factorized', (row) => row.factorized, true),
    ...side('fused', (row) => row.fused, false),
    { head: 'adapter', cell: () => r.adapter },
    { head: 'timing', cell: () => r.timing },
    { head: 'peak_gflops', cell: () => csvNumber(r.peakGflops) },
    { head: 'date', cell: () => r.date },
  ];
}

// ---------------------------------------------------------------------------------------------
// HTML

function percentOfPeak(gflops: Num, peak: Num): string {
  return finite(gflops) && finite(peak) && peak > 0 ? `${((100 * gflops) / peak).toFixed(0)}%` : DASH;
}

function tableHtml(r: FactorizationResult): string {
  const target = hasTarget(r);
  const head = [
    'Conv',
    'Batch',
    'Predicted',
    ...(target ? ['Target'] : []),
    'Side',
    'Convs',
    'MACs',
    'Params',
    'ms (median)',
    'ms min–max',
    'Time ratio (side / full)',
    'GFLOP/s',
    '% of peak',
    'Variant',
    'Max rel err',
    'Runs',
  ];
  const body: string[] = [];
  r.rows.forEach((row, i) => {
    type Side = { label: string; cls: string; side: SideResult | FusedResult; convs: string; macs: Num; params: Num; timeRatio: string };
    const sides: Side[] = [
      { label: 'full', cls: 'full', side: row.full, convs: row.full.convs, macs: row.full.macs, params: row.full.params, timeRatio: DASH },
      {
        label: 'factorized',
        cls: 'fact',
        side: row.factorized,
        convs: row.factorized.convs,
        macs: row.factorized.macs,
        params: row.factorized.params,
        timeRatio: formatRatio(row.measuredRatio),
      },
    ];
    if (row.fused) {
      sides.push({
        label: 'fused BN+ReLU',
        cls: 'fused',
        side: row.fused,
        convs: row.factorized.convs,
        macs: row.factorized.macs,
        params: row.factorized.params,
        timeRatio: formatRatio(fusedRatio(row)),
      });
    }
    sides.forEach((s, j) => {
      const cells: string[] = [];
      if (j === 0) {
        const span = `rowspan="${sides.length}"`;
        cells.push(
          `<th scope="rowgroup" ${span} class="conv"><span class="name">${escapeHtml(row.name)}</span>` +
            `<span class="sub">${escapeHtml(row.group ?? '')}</span><span class="sub">${escapeHtml(row.shape ?? '')}</span></th>`,
          `<td ${span} class="num">${escapeHtml(row.batch)}</td>`,
          `<td ${span} class="num">${escapeHtml(formatRatio(row.predictedRatio))}${row.paperRatio !== undefined ? `<span class="sub">paper ${escapeHtml(formatRatio(row.paperRatio))}</span>` : ''}</td>`,
          ...(target ? [`<td ${span} class="num">${escapeHtml(formatTarget(row))}</td>`] : []),
        );
      }
      cells.push(
        `<td class="side ${s.cls}">${escapeHtml(s.label)}</td>`,
        `<td class="convs">${escapeHtml(s.convs ?? DASH)}</td>`,
        `<td class="num">${escapeHtml(formatCount(s.macs))}</td>`,
        `<td class="num">${escapeHtml(formatCount(s.params))}</td>`,
        `<td class="num">${escapeHtml(formatMs(s.side.ms))}</td>`,
        `<td class="num">${escapeHtml(formatMsRange(s.side.msMin, s.side.msMax))}</td>`,
        `<td class="num">${escapeHtml(s.timeRatio)}</td>`,
        `<td class="num">${escapeHtml(formatGflops(s.side.gflops))}</td>`,
        `<td class="num">${escapeHtml(percentOfPeak(s.side.gflops, r.peakGflops))}</td>`,
        `<td>${escapeHtml(s.side.variant ?? DASH)}</td>`,
        `<td class="num">${escapeHtml(formatRelErr(s.side.maxRelErr))}</td>`,
        `<td class="num">${escapeHtml(finite(s.side.runs) ? String(s.side.runs) : DASH)}</td>`,
      );
      body.push(`<tr class="${i % 2 ? 'odd' : 'even'}${j === 0 ? ' first' : ''}">${cells.join('')}</tr>`);
    });
  });
  return (
    `<table id="results">\n<thead><tr>${head.map((h) => `<th scope="col">${escapeHtml(h)}</th>`).join('')}</tr></thead>\n` +
    `<tbody>\n${body.join('\n')}\n</tbody>\n</table>`
  );
}

const STYLE = `
  :root { color-scheme: light; --full: #4e79a7; --fact: #f28e2b; --fused: #59a14f; --muted: #666; }
  * { box-sizing: border-box; }
  body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; margin: 0; color: #1d1d1f; background: #fff; }
  main { max-width: 1200px; margin: 0 auto; padding: 24px 20px 48px; }
  h1 { font-size: 22px; margin: 0 0 12px; }
  h2 { font-size: 17px; margin: 32px 0 4px; }
  p.note, figcaption { color: var(--muted); margin: 4px 0 10px; }
  dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0 0 8px; }
  dl.meta dt { color: var(--muted); }
  dl.meta dd { margin: 0; }
  .warn { background: #fff4e5; border: 1px solid #f5c27a; padding: 6px 10px; border-radius: 4px; }
  #chart-error { background: #fdecea; border: 1px solid #e57373; padding: 8px 12px; border-radius: 4px; }
  .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 16px 24px; }
  figure { margin: 0; }
  .chart-box { position: relative; height: 340px; }
  .table-wrap { overflow-x: auto; }
  table { border-collapse: collapse; font-size: 13px; white-space: nowrap; }
  th, td { padding: 3px 8px; border-bottom: 1px solid #e4e4e4; text-align: left; vertical-align: top; }
  thead th { border-bottom: 2px solid #bbb; position: sticky; top: 0; background: #fff; }
  tr.first > * { border-top: 1px solid #bbb; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  th.conv .name { display: block; }
  th.conv .sub { display: block; font-weight: normal; color: var(--muted); font-size: 12px; }
  td.side::before { content: ''; display: inline-block; width: 10px; height: 10px; margin-right: 6px; border-radius: 2px; }
  td.side.full::before { background: var(--full); }
  td.side.fact::before { background: var(--fact); }
  td.side.fused::before { background: var(--fused); }
  footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
  @media print { .chart-box { break-inside: avoid; } }
`;

/**
 * The page script (plain ES2019, run after the inlined Chart.js). Kept free of backticks and
 * `${` so it can live in this template literal as is.
 */
const PAGE_SCRIPT =
  "(function () {\n  'use strict';\n" +
  CHART_PAGE_PRELUDE +
  String.raw`
  var COLORS = { full: '#4e79a7', fact: '#f28e2b', fused: '#59a14f', predicted: '#a0a0a0', target: '#8e44ad', ref: '#c0392b' };
  function finite(v) { return typeof v === 'number' && isFinite(v); }
  function num(v) { return finite(v) ? v : null; }
  function fmt(v, unit) {
    if (!finite(v)) return '—';
    var a = Math.abs(v);
    var s = a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toPrecision(3);
    return unit ? s + ' ' + unit : s;
  }
  function ratio(a, b) { return finite(a) && finite(b) && b > 0 ? a / b : null; }

  // Whiskers from dataset.errorBars[i] = [min, max] (null: none) over each bar.
  var errorBarsPlugin = {
    id: 'errorBars',
    afterDatasetsDraw: function (chart) {
      var ctx = chart.ctx;
      var y = chart.scales.y;
      ctx.save();
      ctx.strokeStyle = '#222';
      ctx.lineWidth = 1.25;
      chart.data.datasets.forEach(function (ds, i) {
        if (!ds.errorBars || !chart.isDatasetVisible(i)) return;
        chart.getDatasetMeta(i).data.forEach(function (bar, j) {
          var eb = ds.errorBars[j];
          if (!eb || !finite(eb[0]) || !finite(eb[1])) return;
          var x = bar.x;
          var half = Math.max(2, Math.min(6, (bar.width || 8) / 4));
          var top = y.getPixelForValue(eb[1]);
          var bottom = y.getPixelForValue(eb[0]);
          ctx.beginPath();
          ctx.moveTo(x, top); ctx.lineTo(x, bottom);
          ctx.moveTo(x - half, top); ctx.lineTo(x + half, top);
          ctx.moveTo(x - half, bottom); ctx.lineTo(x + half, bottom);
          ctx.stroke();
        });
      });
      ctx.restore();
    },
  };

  // A dashed horizontal line at options.plugins.refLine.value, with a label.
  var refLinePlugin = {
    id: 'refLine',
    afterDatasetsDraw: function (chart, args, opts) {
      if (!opts || !finite(opts.value)) return;
      var area = chart.chartArea;
      var yPix = chart.scales.y.getPixelForValue(opts.value);
      if (yPix < area.top - 0.5 || yPix > area.bottom + 0.5) return;
      var ctx = chart.ctx;
      ctx.save();
      ctx.strokeStyle = opts.color || COLORS.ref;
      ctx.fillStyle = opts.color || COLORS.ref;
      ctx.lineWidth = 1.5;
      ctx.setLineDash([6, 4]);
      ctx.beginPath();
      ctx.moveTo(area.left, yPix);
      ctx.lineTo(area.right, yPix);
      ctx.stroke();
      if (opts.label) {
        ctx.setLineDash([]);
        ctx.font = '12px system-ui, sans-serif';
        ctx.textAlign = 'right';
        ctx.textBaseline = 'bottom';
        ctx.fillText(opts.label, area.right - 4, yPix - 3);
      }
      ctx.restore();
    },
  };

  try {
    if (typeof Chart === 'undefined') throw new Error('Chart.js did not load');
    var data = JSON.parse(document.getElementById('factorization-data').textContent);
    var rows = data.rows || [];
    var anyFused = rows.some(function (r) { return !!r.fused; });
    var batches = [];
    rows.forEach(function (r) { if (batches.indexOf(r.batch) < 0) batches.push(r.batch); });
    var countPlugin = chartCounter(batches.length + 2);

    function barDataset(label, color, values, extra) {
      var ds = { label: label, data: values, backgroundColor: color, borderColor: color, borderWidth: 0 };
      for (var k in extra) ds[k] = extra[k];
      return ds;
    }
    function make(id, config) {
      var canvas = document.getElementById(id);
      if (!canvas) throw new Error('no canvas #' + id);
      config.plugins = (config.plugins || []).concat([countPlugin]);
      return new Chart(canvas, config);
    }
    function rowLabel(r) { return r.name + ' · b' + r.batch; }
    function sideLines(side, unit) {
      if (!side) return [];
      return [
        'min–max: ' + fmt(side.msMin) + '–' + fmt(side.msMax) + ' ms (' + side.runs + ' runs)',
        'variant: ' + side.variant,
        unit === 'ms' ? fmt(side.gflops, 'GFLOP/s') : fmt(side.ms, 'ms'),
      ];
    }

    // (a) time per conv, one chart per batch size.
    batches.forEach(function (b, bi) {
      var rs = rows.filter(function (r) { return r.batch === b; });
      var sides = [
        { key: 'full', label: 'full', color: COLORS.full },
        { key: 'factorized', label: 'factorized', color: COLORS.fact },
      ];
      if (anyFused) sides.push({ key: 'fused', label: 'factorized, BN+ReLU fused', color: COLORS.fused });
      var top = 0;
      var datasets = sides.map(function (s) {
        return barDataset(s.label, s.color, rs.map(function (r) { var v = r[s.key]; return v ? num(v.ms) : null; }), {
          errorBars: rs.map(function (r) {
            var v = r[s.key];
            if (!v) return null;
            if (finite(v.msMax)) top = Math.max(top, v.msMax);
            if (finite(v.ms)) top = Math.max(top, v.ms);
            return [v.msMin, v.msMax];
          }),
          sideKey: s.key,
        });
      });
      make('chart-time-' + bi, {
        type: 'bar',
        data: { labels: rs.map(function (r) { return r.name; }), datasets: datasets },
        options: {
          scales: {
            y: { beginAtZero: true, suggestedMax: top > 0 ? top * 1.05 : undefined, title: { display: true, text: 'ms per run (median; whiskers: min–max)' } },
          },
          plugins: {
            title: { display: true, text: 'Batch ' + b },
            tooltip: {
              callbacks: {
                title: function (items) { var r = rs[items[0].dataIndex]; return r.name + ' (batch ' + r.batch + ', ' + r.shape + ')'; },
                label: function (item) { return item.dataset.label + ': ' + fmt(item.raw, 'ms'); },
                afterLabel: function (item) { return sideLines(rs[item.dataIndex][item.dataset.sideKey], 'ms'); },
              },
            },
          },
        },
        plugins: [errorBarsPlugin],
      });
    });

    // (b) predicted vs measured ratio, factorized / full (below the line at 1: a saving), with
    // each row's target, if any, as a horizontal tick across the row.
    var ratioSets = [
      barDataset('predicted (MACs factorized / full)', COLORS.predicted, rows.map(function (r) { return num(r.predictedRatio); })),
      barDataset('measured (ms factorized / full)', COLORS.fact, rows.map(function (r) { return num(r.measuredRatio); })),
    ];
    if (anyFused) {
      ratioSets.push(barDataset('meas. fused (ms fused / full)', COLORS.fused, rows.map(function (r) {
        return r.fused ? ratio(r.fused.ms, r.full.ms) : null;
      })));
    }
    if (rows.some(function (r) { return finite(r.targetRatio); })) {
      ratioSets.push({
        type: 'line',
        label: 'target (measured should be at most)',
        data: rows.map(function (r) { return num(r.targetRatio); }),
        showLine: false,
        pointStyle: 'line',
        pointRadius: 16,
        pointHoverRadius: 18,
        pointBorderWidth: 3,
        pointHoverBorderWidth: 4,
        borderColor: COLORS.target,
        backgroundColor: COLORS.target,
        order: -1,
      });
    }
    make('chart-ratio', {
      type: 'bar',
      data: { labels: rows.map(rowLabel), datasets: ratioSets },
      options: {
        scales: { y: { beginAtZero: true, suggestedMax: 1.2, title: { display: true, text: 'factorized / full (< 1: factorized wins)' } } },
        plugins: {
          refLine: { value: 1, label: '1× (no change; below: saving)', color: COLORS.ref },
          tooltip: { callbacks: { label: function (item) { return item.dataset.label + ': ' + (finite(item.raw) ? item.raw.toFixed(2) + '×' : '—'); } } },
        },
      },
      plugins: [refLinePlugin],
    });

    // (c) achieved GFLOP/s against the adapter's matmul peak.
    var peak = finite(data.peakGflops) && data.peakGflops > 0 ? data.peakGflops : null;
    var gSets = [
      barDataset('full', COLORS.full, rows.map(function (r) { return num(r.full.gflops); })),
      barDataset('factorized', COLORS.fact, rows.map(function (r) { return num(r.factorized.gflops); })),
    ];
    if (anyFused) gSets.push(barDataset('factorized, BN+ReLU fused', COLORS.fused, rows.map(function (r) { return r.fused ? num(r.fused.gflops) : null; })));
    var gTop = peak || 0;
    gSets.forEach(function (ds) { ds.data.forEach(function (v) { if (finite(v)) gTop = Math.max(gTop, v); }); });
    make('chart-gflops', {
      type: 'bar',
      data: { labels: rows.map(rowLabel), datasets: gSets },
      options: {
        scales: { y: { beginAtZero: true, suggestedMax: gTop > 0 ? gTop * 1.1 : undefined, title: { display: true, text: 'GFLOP/s (2 FLOPs per MAC)' } } },
        plugins: {
          refLine: { value: peak, label: peak ? 'matmul peak ' + fmt(peak, 'GFLOP/s') : '', color: COLORS.ref },
          tooltip: { callbacks: { label: function (item) { return item.dataset.label + ': ' + fmt(item.raw, 'GFLOP/s'); } } },
        },
      },
      plugins: [refLinePlugin],
    });
  } catch (e) {
    fail(e);
  }
})();
`;

/**
 * One self-contained HTML report: header (adapter, driver, peak, timing, date), charts of time
 * per conv (one per batch size, min–max whiskers), predicted vs measured ratio factorized / full
 * (line at 1×, below it a saving; each row's target ratio, if any, as a tick) and
 * achieved GFLOP/s (line at the adapter's matmul peak), and the full table. Chart.js is inlined;
 * throws a clear error if the chart.js package is not installed.
 */
export function renderFactorizationHtml(r: FactorizationResult): string {
  const chartJs = loadChartJs();
  const batches = batchesOf(r);
  const fused = hasFused(r);
  const peak = finite(r.peakGflops) && r.peakGflops > 0 ? `${formatGflops(r.peakGflops)} GFLOP/s` : 'not measured';
  const title = `Inception-v3 factorization · ${r.adapter}`;

  const meta: [string, string][] = [
    ['Adapter', r.adapter],
    ...(r.driver ? ([['Driver', r.driver]] as [string, string][]) : []),
    ['Matmul peak', peak],
    ['Timing', timingText(r.timing)],
    ['Date', r.date],
    ['Engine', `incept-gpu ${r.engineVersion}`],
    ...(r.tuning ? ([['Tuning', tuningText(r.tuning)]] as [string, string][]) : []),
    ['Comparisons', `${new Set(r.rows.map((row) => row.name)).size} convs × batch ${batches.join(', ') || DASH}${fused ? ', with BN+ReLU fused variant' : ''}`],
  ];

  const timeFigures = batches
    .map(
      (b, i) =>
        `<figure><div class="chart-box"><canvas id="chart-time-${i}" role="img" aria-label="${escapeHtml(`Time per conv at batch ${b}`)}"></canvas></div></figure>`,
    )
    .join('\n');

  return `${pageHead(title, STYLE)}
<body>
<main>
<h1>Inception-v3 factorization: full vs factorized convolutions</h1>
<dl class="meta">
${meta.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd${k === 'Adapter' ? ' id="adapter"' : ''}>${escapeHtml(v)}</dd>`).join('\n')}
</dl>
${r.quick ? '<p class="warn">Quick run: fewer repeats, so times are rough.</p>' : ''}
<p class="note">Ratios are factorized / full: below 1 the factorized version is cheaper (predicted, from multiply-accumulates) or faster (measured, from median times); the fused ratio is fused / full. Times are per forward run of all convs of a side.</p>
<p id="chart-error" hidden></p>

<h2>Time per conv</h2>
<p class="note">Median milliseconds per run; whiskers span the fastest and slowest run.</p>
<div class="charts">
${timeFigures}
</div>

<h2>Predicted vs measured ratio</h2>
<p class="note">Factorized / full, so below the line at 1× the factorized version saves.${hasTarget(r) ? ' A tick marks each row&#39;s target: the measured ratio should be at or below it.' : ''}</p>
<figure><div class="chart-box"><canvas id="chart-ratio" role="img" aria-label="Predicted and measured ratios"></canvas></div></figure>

<h2>Achieved GFLOP/s</h2>
<p class="note">Against the adapter's float32 matmul peak (${escapeHtml(peak)}).</p>
<figure><div class="chart-box"><canvas id="chart-gflops" role="img" aria-label="Achieved GFLOP/s per side"></canvas></div></figure>

<h2>All numbers</h2>
<div class="table-wrap">
${tableHtml(r)}
</div>

<footer>Generated by <code>incept bench factorization</code> (incept-gpu ${escapeHtml(r.engineVersion)}). Charts drawn with Chart.js ${escapeHtml(chartJs.version)} (MIT), inlined.</footer>
</main>
${chartPageScripts('factorization-data', r, chartJs, PAGE_SCRIPT)}
</body>
</html>
`;
}
