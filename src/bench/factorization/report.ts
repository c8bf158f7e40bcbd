/**
 * The outputs of `incept bench factorization`: an aligned plain-text table for stdout
 * (result-table.ts) and one self-contained HTML report with charts (this file: the page; its
 * table is html-table.ts, its chart script page-script.ts, the number formats format.ts).
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
import { chartPageScripts, escapeHtml, loadChartJs, pageHead } from '../../io/html-report.js';
import { batchesOf, DASH, finite, formatGflops, hasFused, hasTarget, timingText, tuningText } from './format.js';
import { tableHtml } from './html-table.js';
import { PAGE_SCRIPT } from './page-script.js';
import type { FactorizationResult } from './result.js';
export { escapeHtml, loadChartJs, type ChartJsSource } from '../../io/html-report.js';
export { formatCount, formatGflops, formatMs, formatRatio, formatRelErr, formatTarget, meetsTarget } from './format.js';
export { formatFactorizationTable, type FactorizationTableOptions } from './result-table.js';

/** How many charts renderFactorizationHtml draws for `r`: one time chart per batch size, the
 * ratio chart and the GFLOP/s chart. */
export function factorizationChartCount(r: FactorizationResult): number {
  return batchesOf(r).length + 2;
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
