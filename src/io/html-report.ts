/**
 * What every HTML report of the benchmarks shares: escaping, embedding the result as JSON, and
 * Chart.js inlined from node_modules so a report opens with no network.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/** JSON for a <script type="application/json"> block: no '<' (so no '</script>' or '<!--'). */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

export interface ChartJsSource {
  /** The UMD build, ready to inline (source-map comment removed). */
  source: string;
  version: string;
  path: string;
}

let chartJsCache: ChartJsSource | undefined;

/** The start of a report page, up to </head>: title (escaped here) and the page's CSS. */
export function pageHead(title: string, style: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<style>${style}</style>
</head>`;
}

/** The end of a self-contained chart page: its data as JSON (read back by id), Chart.js
 * inlined, then the page's own script (which draws the charts from the data). */
export function chartPageScripts(dataId: string, data: unknown, chartJs: ChartJsSource, pageScript: string): string {
  return `<script type="application/json" id="${dataId}">${jsonForScript(data)}</script>
<script>
${chartJs.source}
</script>
<script>${pageScript}</script>`;
}

/** Reads Chart.js's minified UMD build from node_modules (resolved from this module). */
export function loadChartJs(): ChartJsSource {
  if (chartJsCache) return chartJsCache;
  // Not named `require`: the CLI bundle's banner already declares one at top level.
  const nodeRequire = createRequire(import.meta.url);
  let entry: string;
  try {
    entry = nodeRequire.resolve('chart.js');
  } catch (e) {
    throw new Error(
      `The HTML report needs the 'chart.js' package, which could not be found (${e instanceof Error ? e.message.split('\n')[0] : String(e)}). ` +
        'It is a dependency of incept-gpu: run `npm install` in the project directory.',
    );
  }
  // The package's exports map does not list the UMD build; it sits next to the CommonJS entry.
  const path = join(dirname(entry), 'chart.umd.min.js');
  let source: string;
  try {
    source = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(
      `The HTML report needs Chart.js's UMD build at ${path}, which could not be read (${e instanceof Error ? e.message : String(e)}). ` +
        'Reinstall it with `npm install chart.js@4`.',
    );
  }
  const version = /Chart\.js v(\d+\.\d+\.\d+\S*)/.exec(source.slice(0, 500))?.[1] ?? 'unknown';
  source = source
    .replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, '\n')
    // Never true of the published build; a guard so inlined code cannot end the element early.
    .replace(/<\/(script)/gi, '<\\/$1')
    .replace(/<!--/g, '<\\!--');
  chartJsCache = { source, version, path };
  return chartJsCache;
}

/**
 * The start of every report's page script (plain ES2019, inside the page's function, after the
 * inlined Chart.js): `body`, `fail(e)` (shows the message and sets `window.__chartError` and
 * `data-chart-error`), `chartCounter(expected)` (a Chart.js plugin that sets
 * `window.__chartsDrawn` and `data-charts-drawn` once `expected` charts have rendered, so tests
 * and scripts can tell a drawn report from a broken one) and Chart.js defaults.
 */
export const CHART_PAGE_PRELUDE = String.raw`
  var body = document.body;
  function fail(e) {
    var msg = e && e.message ? String(e.message) : String(e);
    window.__chartError = msg;
    body.setAttribute('data-chart-error', msg);
    var box = document.getElementById('chart-error');
    if (box) { box.textContent = 'The charts could not be drawn: ' + msg; box.hidden = false; }
  }
  function chartCounter(expected) {
    var drawn = [];
    return {
      id: 'drawCount',
      afterRender: function (chart) {
        if (drawn.indexOf(chart) >= 0) return;
        drawn.push(chart);
        if (drawn.length === expected && !window.__chartError) {
          window.__chartsDrawn = expected;
          body.setAttribute('data-charts-drawn', String(expected));
        }
      },
    };
  }
  if (typeof Chart !== 'undefined') {
    Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
    Chart.defaults.animation = false;
    Chart.defaults.maintainAspectRatio = false;
  }
`;

/** The benchmark reports' page style (model, profile and peer reports). */
export const REPORT_STYLE = `
  :root { --muted: #666; --line: #ddd; }
  body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; margin: 0; color: #222; }
  main { max-width: 1100px; margin: 0 auto; padding: 24px; }
  h1 { font-size: 22px; margin: 0 0 12px; }
  h2 { font-size: 17px; margin: 28px 0 8px; }
  dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0 0 12px; }
  dl.meta dt { color: var(--muted); }
  dl.meta dd { margin: 0; }
  .note { color: var(--muted); margin: 4px 0 10px; }
  .chart-box { position: relative; height: 380px; }
  #chart-error { color: #b00020; font-weight: 600; }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { border-bottom: 1px solid var(--line); padding: 3px 8px; text-align: left; }
  td.num, th.num { text-align: right; }
  details { margin: 8px 0; }
  .table-wrap { overflow-x: auto; }
  footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
`;
