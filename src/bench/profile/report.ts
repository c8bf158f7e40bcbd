/**
 * The outputs of `incept profile`: a compact text summary for the terminal (the 15 slowest
 * layers and the kernels) and one self-contained HTML report (Chart.js inlined): a summary at
 * the top (GPU and wall time, dispatches, adapter, the matmul peak used, the top 5 layers and
 * kernels), a timeline of every dispatch (one bar at its start time, coloured by kernel family,
 * a row per pass), GPU time by layer and by kernel, the longest idle gaps, and tables by layer,
 * by kernel, by op and of every dispatch (click a column header to sort).
 *
 * The page sets `window.__chartsDrawn` (and `data-charts-drawn` on <body>) to the number of
 * charts once all are drawn, or `window.__chartError` (`data-chart-error`) if drawing failed.
 * Every dispatch row carries `data-seq` (the engine's dispatch number); the embedded JSON
 * (`<script id="profile-data">`) is the whole ProfileResult.
 */
import { CHART_PAGE_PRELUDE, escapeHtml, loadChartJs, chartPageScripts, pageHead, REPORT_STYLE } from '../../io/html-report.js';
import { f1, table } from '../model/report.js';
import { kernelFamily, type ProfileGroup, type ProfilePass, type ProfileResult } from './run.js';

const MiB = 2 ** 20;

/** A share (0–1) as a percentage, with more decimals for small ones. */
export function pct(v: number): string {
  const p = 100 * v;
  return `${Math.abs(p) >= 1 ? p.toFixed(1) : p.toFixed(2)}%`;
}

const ms3 = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(1) : v.toFixed(3));

function networkLine(r: ProfileResult): string {
  const net = `Inception-v3${r.variant === 'cifar10' ? ' (CIFAR-10 variant)' : ''}${r.width !== 1 ? ` at width ${r.width}` : ''}, ${r.inputSize}×${r.inputSize}`;
  const what = r.mode === 'train' ? `one training step (forward, loss, backward, SGD update) at batch ${r.batch}` : `one inference forward at batch ${r.batch}`;
  return `${net}: ${what}`;
}

/** A warning when other work loaded the CPU during the run (software adapters run on it). */
export function busyMachine(r: ProfileResult): string | undefined {
  if (!r.load) return undefined;
  const load = Math.max(r.load.before, r.load.after);
  if (load < 0.75 * r.load.cpus + 0.5) return undefined;
  return `the machine's load average was ${r.load.before.toFixed(1)} → ${r.load.after.toFixed(1)} on ${r.load.cpus} CPUs: other work shared the CPU this adapter runs on, so times and the peak are noisy (rates can exceed the peak).`;
}

function passLine(r: ProfileResult): string {
  return r.passes.map((p) => `${p.pass} ${f1(p.ms)} ms (${p.dispatches})`).join(', ');
}

/** Kernels as their families when there are several ('conv2d, batchnorm, batchnorm-backward'). */
function families(kernels: readonly string[]): string {
  if (kernels.length <= 2) return kernels.join(', ');
  return [...new Set(kernels.map(kernelFamily))].join(', ');
}

export function formatProfile(r: ProfileResult, layerRows = 15): string {
  const train = r.mode === 'train';
  const passes = r.passes.map((p) => p.pass);
  const lines = [
    `${networkLine(r)}, on ${r.adapter} · timing: ${r.timing} · ${r.date}`,
    `GPU ${f1(r.gpuMs)} ms in ${r.dispatches.length} dispatches · wall ${f1(r.wallMs)} ms · GPU span ${f1(r.spanMs)} ms (busy ${pct(r.busyFraction)}) · ${f1(r.gflops)} GFLOP/s = ${pct(r.gflops / r.peak.gflops)} of the matmul peak`,
    `Matmul peak ${f1(r.peak.gflops)} GFLOP/s, ${r.peak.how}`,
    `Passes: ${passLine(r)}${r.loss !== undefined ? ` · loss ${r.loss.toFixed(3)}` : ''}`,
    ...(busyMachine(r) ? [`Note: ${busyMachine(r)}`] : []),
    '',
    `The ${Math.min(layerRows, r.layers.length)} slowest of ${r.layers.length} layers:`,
    ...table(
      ['layer', 'calls', 'GPU ms', 'share', ...(train ? passes : []), 'GFLOP/s', '% peak', 'GB/s', 'kernels'],
      r.layers
        .slice(0, layerRows)
        .map((l) => [
          l.key,
          String(l.calls),
          f1(l.ms),
          pct(l.share),
          ...(train ? passes.map((p) => f1(l.passMs[p] ?? 0)) : []),
          f1(l.gflops),
          pct(l.peakFraction),
          f1(l.gbps),
          families(l.members),
        ]),
      1,
      1,
    ),
    '',
    'By kernel:',
    ...table(
      ['kernel', 'calls', 'GPU ms', 'share', 'GFLOP/s', '% peak', 'GB/s', 'ops'],
      r.kernels.map((k) => [k.key, String(k.calls), f1(k.ms), pct(k.share), f1(k.gflops), pct(k.peakFraction), f1(k.gbps), k.members.join(', ')]),
      1,
      1,
    ),
  ];
  return lines.join('\n');
}

/** Charts the page draws: the timeline, GPU time by layer, GPU time by kernel. */
export function profileChartCount(): number {
  return 3;
}

const EXTRA_STYLE = `
  main { max-width: 1280px; }
  .cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 8px 0 16px; }
  .card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; min-width: 120px; }
  .card .v { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
  .card .k { color: var(--muted); font-size: 12px; }
  .tops { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
  @media (max-width: 900px) { .tops { grid-template-columns: 1fr; } }
  .timeline-box { position: relative; height: 260px; }
  th[data-sort] { cursor: pointer; user-select: none; }
  th[data-sort]:hover { text-decoration: underline; }
  td.mono, code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
  table.compact td, table.compact th { padding: 2px 6px; }
`;

interface Column<T> {
  head: string;
  num?: boolean;
  mono?: boolean;
  text: (row: T) => string;
  /** Sort value (numbers sort numerically). */
  value?: (row: T) => number | string;
}

function htmlTable<T>(id: string, columns: Column<T>[], rows: readonly T[], rowAttrs?: (row: T) => string, cls = ''): string {
  const head = columns.map((c, i) => `<th data-sort="${i}"${c.num ? ' class="num"' : ''}>${escapeHtml(c.head)}</th>`).join('');
  const body = rows
    .map(
      (row) =>
        `<tr${rowAttrs ? ` ${rowAttrs(row)}` : ''}>${columns
          .map((c) => {
            const classes = [c.num ? 'num' : '', c.mono ? 'mono' : ''].filter(Boolean).join(' ');
            const v = c.value ? c.value(row) : undefined;
            return `<td${classes ? ` class="${classes}"` : ''}${v !== undefined ? ` data-v="${escapeHtml(v)}"` : ''}>${escapeHtml(c.text(row))}</td>`;
          })
          .join('')}</tr>`,
    )
    .join('\n');
  return `<div class="table-wrap"><table id="${escapeHtml(id)}"${cls ? ` class="${cls}"` : ''}><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div>`;
}

function groupColumns(keyHead: string, membersHead: string, passes: ProfilePass[], keyMono: boolean): Column<ProfileGroup>[] {
  return [
    { head: keyHead, mono: keyMono, text: (g) => g.key, value: (g) => g.key },
    { head: 'calls', num: true, text: (g) => String(g.calls), value: (g) => g.calls },
    { head: 'GPU ms', num: true, text: (g) => ms3(g.ms), value: (g) => g.ms },
    { head: 'share', num: true, text: (g) => pct(g.share), value: (g) => g.share },
    ...(passes.length > 1
      ? passes.map((p) => ({ head: `${p} ms`, num: true, text: (g: ProfileGroup) => ms3(g.passMs[p] ?? 0), value: (g: ProfileGroup) => g.passMs[p] ?? 0 }))
      : []),
    { head: 'GFLOP', num: true, text: (g) => (g.flops / 1e9).toFixed(4), value: (g) => g.flops },
    { head: 'GFLOP/s', num: true, text: (g) => f1(g.gflops), value: (g) => g.gflops },
    { head: '% of peak', num: true, text: (g) => pct(g.peakFraction), value: (g) => g.peakFraction },
    { head: 'MB moved', num: true, text: (g) => (g.bytes / 1e6).toFixed(3), value: (g) => g.bytes },
    { head: 'GB/s', num: true, text: (g) => f1(g.gbps), value: (g) => g.gbps },
    { head: membersHead, mono: true, text: (g) => g.members.join(', ') },
  ];
}

/** Plain ES2019 (no backticks or `${` in the raw part), run after the inlined Chart.js. */
const PAGE_SCRIPT =
  "(function () {\n  'use strict';\n" +
  CHART_PAGE_PRELUDE +
  String.raw`
  // Sortable tables: click a header; numeric cells sort by their data-v.
  Array.prototype.forEach.call(document.querySelectorAll('th[data-sort]'), function (th) {
    th.addEventListener('click', function () {
      var col = Number(th.getAttribute('data-sort'));
      var tbody = th.closest('table').tBodies[0];
      var rows = Array.prototype.slice.call(tbody.rows);
      var dir = th.getAttribute('data-dir') === 'desc' ? 1 : -1;
      th.setAttribute('data-dir', dir === 1 ? 'asc' : 'desc');
      function key(r) { var c = r.cells[col]; var v = c.getAttribute('data-v'); if (v === null) v = c.textContent; var n = Number(v); return v !== '' && !isNaN(n) ? n : v; }
      rows.sort(function (a, b) { var x = key(a), y = key(b); return (x < y ? -1 : x > y ? 1 : 0) * dir; });
      rows.forEach(function (r) { tbody.appendChild(r); });
    });
  });
  try {
    var data = JSON.parse(document.getElementById('profile-data').textContent);
    if (typeof Chart === 'undefined') throw new Error('Chart.js did not load');
    var PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac', '#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#8c564b', '#17becf'];
    var d = data.dispatches;
    var passes = data.passes.map(function (p) { return p.pass; });
    // Kernel families by GPU time, most first: the timeline's colours and legend order.
    var famMs = {};
    d.forEach(function (x) { famMs[x.family] = (famMs[x.family] || 0) + x.ms; });
    var families = Object.keys(famMs).sort(function (a, b) { return famMs[b] - famMs[a]; });
    var colour = {};
    families.forEach(function (f, i) { colour[f] = PALETTE[i % PALETTE.length]; });
    function fmt(v, n) { return Number(v).toFixed(n); }
    function pctText(v) { var p = 100 * v; return (p >= 1 ? p.toFixed(1) : p.toFixed(2)) + '%'; }
    var charts = [];
    var timelineData = families.map(function (f) {
      return d.filter(function (x) { return x.family === f && x.startMs !== null; })
        .map(function (x) { return { x: [x.startMs, x.startMs + x.ms], y: x.pass, i: x.index }; });
    });
    charts.push(['chart-timeline', {
      type: 'bar',
      data: {
        labels: passes,
        datasets: families.map(function (f, i) {
          return {
            label: f,
            backgroundColor: colour[f],
            grouped: false,
            minBarLength: 1,
            borderWidth: 0,
            barPercentage: 1,
            categoryPercentage: 0.8,
            data: timelineData[i].slice(),
          };
        }),
      },
      options: {
        indexAxis: 'y',
        scales: {
          x: { type: 'linear', min: 0, title: { display: true, text: 'ms from the first dispatch (' + (data.timing === 'timestamp' ? 'GPU clock' : 'CPU clock, cpu-wall timing') + ')' } },
          y: { type: 'category', labels: passes },
        },
        plugins: {
          legend: { position: 'bottom', labels: { boxWidth: 12 } },
          tooltip: { callbacks: {
            title: function (items) { var x = d[items[0].raw.i]; return x.layer; },
            label: function (ctx) {
              var x = d[ctx.raw.i];
              return [x.kernel + '  (' + x.op + ', ' + x.pass + ')',
                fmt(x.ms, 3) + ' ms, starting at ' + fmt(x.startMs, 3) + ' ms',
                fmt(x.gflops, 2) + ' GFLOP/s (' + pctText(x.peakFraction) + ' of peak), ' + fmt(x.gbps, 2) + ' GB/s',
                'dispatch #' + x.index + ' (seq ' + x.seq + ')'];
            },
          } },
        },
      },
    }]);
    // GPU time of the 25 slowest layers, stacked by pass.
    var topLayers = data.layers.slice(0, 25);
    charts.push(['chart-layers', {
      type: 'bar',
      data: {
        labels: topLayers.map(function (l) { return l.key; }),
        datasets: passes.map(function (p, i) {
          return { label: p, backgroundColor: PALETTE[i % PALETTE.length], data: topLayers.map(function (l) { return l.passMs[p] || 0; }) };
        }),
      },
      options: {
        indexAxis: 'y',
        scales: { x: { stacked: true, beginAtZero: true, title: { display: true, text: 'GPU ms' } }, y: { stacked: true, ticks: { autoSkip: false, font: { size: 11 } } } },
        plugins: { tooltip: { callbacks: { footer: function (items) {
          var l = topLayers[items[0].dataIndex];
          return fmt(l.ms, 3) + ' ms in all, ' + pctText(l.share) + ' of the total; ' + fmt(l.gflops, 2) + ' GFLOP/s (' + pctText(l.peakFraction) + ' of peak)';
        } } } },
      },
    }]);
    // GPU time by kernel variant, coloured by family, with the fraction of peak on hover.
    var topKernels = data.kernels.slice(0, 25);
    charts.push(['chart-kernels', {
      type: 'bar',
      data: {
        labels: topKernels.map(function (k) { return k.key; }),
        datasets: [{ label: 'GPU ms', data: topKernels.map(function (k) { return k.ms; }),
          backgroundColor: topKernels.map(function (k) { return colour[k.key.split(':')[0].replace(/\.wgsl$/, '')] || PALETTE[0]; }) }],
      },
      options: {
        indexAxis: 'y',
        scales: { x: { beginAtZero: true, title: { display: true, text: 'GPU ms' } }, y: { ticks: { autoSkip: false, font: { size: 11 } } } },
        plugins: { legend: { display: false }, tooltip: { callbacks: { footer: function (items) {
          var k = topKernels[items[0].dataIndex];
          return k.calls + ' calls, ' + pctText(k.share) + ' of the total; ' + fmt(k.gflops, 2) + ' GFLOP/s = ' + pctText(k.peakFraction) + ' of peak; ' + fmt(k.gbps, 2) + ' GB/s';
        } } } },
      },
    }]);
    var countPlugin = chartCounter(charts.length);
    var made = {};
    charts.forEach(function (c) {
      var canvas = document.getElementById(c[0]);
      if (!canvas) throw new Error('no canvas #' + c[0]);
      c[1].plugins = [countPlugin];
      made[c[0]] = new Chart(canvas, c[1]);
    });
    // The timeline's range: the whole run or one pass.
    var range = document.getElementById('timeline-range');
    if (range) range.addEventListener('change', function () {
      var t = made['chart-timeline'];
      var p = data.passes.filter(function (x) { return x.pass === range.value; })[0];
      var pad = p ? Math.max(0.01, 0.01 * (p.endMs - p.startMs)) : 0;
      var lo = p ? Math.max(0, p.startMs - pad) : 0;
      var hi = p ? p.endMs + pad : Infinity;
      t.options.scales.x.min = lo;
      t.options.scales.x.max = p ? hi : undefined;
      // Only the bars in range: the others would be drawn as slivers at the edges.
      t.data.datasets.forEach(function (ds, i) {
        ds.data = timelineData[i].filter(function (pt) { return pt.x[1] >= lo && pt.x[0] <= hi; });
      });
      t.update();
    });
  } catch (e) {
    fail(e);
  }
})();
`;

export function renderProfileHtml(r: ProfileResult): string {
  const chartJs = loadChartJs();
  const train = r.mode === 'train';
  const passes = r.passes.map((p) => p.pass);
  const title = `Inception-v3 profile${train ? ' (training step)' : ''} · ${r.adapter}`;
  const meta: [string, string][] = [
    ['Adapter', r.adapter],
    ['Run', networkLine(r)],
    ['Network', `${(r.macs / 1e9).toFixed(3)} G multiply-adds per image, ${r.params.toLocaleString('en-US')} parameters`],
    [
      'Timing',
      r.timing === 'timestamp'
        ? 'GPU timestamps at the beginning and end of each dispatch'
        : 'CPU wall time per dispatch, each submitted alone (no timestamp-query; includes submission overhead)',
    ],
    ['Matmul peak', `${f1(r.peak.gflops)} GFLOP/s, ${r.peak.how}`],
    ['Warm-up', `${r.warmup} run(s) before the profiled one (pipelines compile on the first)`],
    ...(r.load
      ? ([
          [
            'CPU load',
            `load average ${r.load.before.toFixed(1)} before, ${r.load.after.toFixed(1)} after, ${r.load.cpus} CPUs${busyMachine(r) ? ' (busy: times and the peak are noisy)' : ''}`,
          ],
        ] as [string, string][])
      : []),
    ['Date', r.date],
  ];
  const cards: [string, string][] = [
    ['GPU time (sum of dispatches)', `${f1(r.gpuMs)} ms`],
    ['wall time of the run', `${f1(r.wallMs)} ms`],
    ['dispatches', String(r.dispatches.length)],
    ['GPU span (first start → last end)', `${f1(r.spanMs)} ms`],
    ['GPU busy over the span', pct(r.busyFraction)],
    ['achieved', `${f1(r.gflops)} GFLOP/s`],
    ['of the matmul peak', pct(r.gflops / r.peak.gflops)],
    ['peak used', `${f1(r.peak.gflops)} GFLOP/s (${r.peak.source})`],
    ['peak memory', `${f1(r.peakBytes / MiB)} MiB`],
    ...(r.loss !== undefined ? ([['loss', r.loss.toFixed(3)]] as [string, string][]) : []),
  ];
  const top5 = (rows: ProfileGroup[], head: string, id: string, mono: boolean) =>
    htmlTable<ProfileGroup>(
      id,
      [
        { head, mono, text: (g) => g.key },
        { head: 'GPU ms', num: true, text: (g) => ms3(g.ms), value: (g) => g.ms },
        { head: 'share', num: true, text: (g) => pct(g.share), value: (g) => g.share },
        { head: '% of peak', num: true, text: (g) => pct(g.peakFraction), value: (g) => g.peakFraction },
      ],
      rows.slice(0, 5),
      undefined,
      'compact',
    );
  const d = r.dispatches;
  const gapRows = r.gaps.map((g) => ({ ...g, a: d[g.after]!, b: d[g.before]! }));
  const html = `${pageHead(title, `${REPORT_STYLE}${EXTRA_STYLE}`)}
<body>
<main>
<h1>${escapeHtml(title)}</h1>
<dl class="meta">
${meta.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('\n')}
</dl>
<p id="chart-error" hidden></p>
<div class="cards" id="summary">
${cards.map(([k, v]) => `<div class="card"><div class="v">${escapeHtml(v)}</div><div class="k">${escapeHtml(k)}</div></div>`).join('\n')}
</div>
<p class="note">Passes: ${escapeHtml(passLine(r))} (GPU ms, dispatches).</p>
<div class="tops">
<div><h2>Top 5 layers</h2>${top5(r.layers, 'layer', 'top-layers', false)}</div>
<div><h2>Top 5 kernels</h2>${top5(r.kernels, 'kernel', 'top-kernels', true)}</div>
</div>
${
  r.smallestMs > 0 && r.smallestMs > 0.01
    ? `<p class="note">Timer step here: about ${escapeHtml(ms3(r.smallestMs))} ms (the shortest nonzero dispatch time); ${r.zeroMsDispatches} dispatch(es) read as 0 ms, and rates of dispatches that short are rough.</p>
`
    : ''
}<h2>Timeline</h2>
<p class="note">One bar per dispatch at its start, as long as its GPU time (at least a pixel), coloured by kernel family, a row per pass; white space is time the GPU was idle. Hover for the layer, kernel and time.</p>
<p><label>Show <select id="timeline-range"><option value="">the whole run</option>${r.passes.map((p) => `<option value="${escapeHtml(p.pass)}">the ${escapeHtml(p.pass)} pass</option>`).join('')}</select></label></p>
<figure><div class="timeline-box"><canvas id="chart-timeline" role="img" aria-label="Timeline of every dispatch"></canvas></div></figure>
<h2>GPU time by layer (the 25 slowest)</h2>
<figure><div class="chart-box" style="height: ${Math.max(240, 22 * Math.min(25, r.layers.length) + 60)}px"><canvas id="chart-layers" role="img" aria-label="GPU time by layer"></canvas></div></figure>
<h2>GPU time by kernel (the 25 slowest)</h2>
<figure><div class="chart-box" style="height: ${Math.max(240, 22 * Math.min(25, r.kernels.length) + 60)}px"><canvas id="chart-kernels" role="img" aria-label="GPU time by kernel"></canvas></div></figure>
<h2>Idle gaps</h2>
<p class="note">GPU span ${escapeHtml(f1(r.spanMs))} ms, of which ${escapeHtml(f1(Math.max(0, r.spanMs - r.gpuMs)))} ms without a dispatch running. The longest gaps between consecutive dispatches:</p>
${htmlTable(
  'gaps',
  [
    { head: 'gap ms', num: true, text: (g) => ms3(g.ms), value: (g) => g.ms },
    { head: 'after', text: (g) => `#${g.a.index} ${g.a.layer} (${g.a.kernel}, ${g.a.pass})` },
    { head: 'before', text: (g) => `#${g.b.index} ${g.b.layer} (${g.b.kernel}, ${g.b.pass})` },
    { head: 'at ms', num: true, text: (g) => ms3(g.b.startMs - g.ms), value: (g) => g.b.startMs - g.ms },
  ],
  gapRows,
  undefined,
  'compact',
)}
<h2>By layer</h2>
<p class="note">Every dispatch summed under the layer it was filed under (the backward pass files its kernels under the forward layer's name; loss and update under (loss) and (update)).</p>
${htmlTable('by-layer', groupColumns('layer', 'kernels', passes, false), r.layers)}
<h2>By kernel</h2>
${htmlTable('by-kernel', groupColumns('kernel', 'ops', passes, true), r.kernels)}
<h2>By op</h2>
${htmlTable('by-op', groupColumns('op', 'kernels', passes, false), r.ops)}
<h2>Every dispatch (${d.length})</h2>
<p class="note">In recording order. GFLOP/s = FLOPs / GPU ms / 10⁶; % of peak = GFLOP/s / ${escapeHtml(f1(r.peak.gflops))}; GB/s = bytes / GPU ms / 10⁶ (FLOPs and bytes as each kernel declares them).
${r.smallestMs > 0 ? `The shortest nonzero time seen is ${escapeHtml(ms3(r.smallestMs))} ms, about the timer's step; ${r.zeroMsDispatches} dispatch(es) read as 0 ms. Dispatches within a step or two of it have rough rates (even above the peak).` : ''}</p>
<details open><summary>Show / hide</summary>
${htmlTable(
  'dispatches',
  [
    { head: '#', num: true, text: (x) => String(x.index), value: (x) => x.index },
    ...(train ? [{ head: 'pass', text: (x: ProfileResult['dispatches'][number]) => x.pass }] : []),
    { head: 'layer', text: (x) => x.layer },
    { head: 'kernel', mono: true, text: (x) => x.kernel },
    { head: 'op', text: (x) => x.op },
    { head: 'start ms', num: true, text: (x) => (Number.isFinite(x.startMs) ? ms3(x.startMs) : '–'), value: (x) => x.startMs },
    { head: 'GPU ms', num: true, text: (x) => ms3(x.ms), value: (x) => x.ms },
    { head: 'FLOPs', num: true, text: (x) => x.flops.toLocaleString('en-US'), value: (x) => x.flops },
    { head: 'GFLOP/s', num: true, text: (x) => f1(x.gflops), value: (x) => x.gflops },
    { head: '% of peak', num: true, text: (x) => pct(x.peakFraction), value: (x) => x.peakFraction },
    { head: 'bytes', num: true, text: (x) => x.bytes.toLocaleString('en-US'), value: (x) => x.bytes },
    { head: 'GB/s', num: true, text: (x) => f1(x.gbps), value: (x) => x.gbps },
    { head: 'workgroups', text: (x) => x.workgroups.join('×') },
  ],
  d,
  (x) => `data-seq="${x.seq}" data-index="${x.index}"`,
  'compact',
)}
</details>
<footer>Generated by <code>incept profile${train ? ' --train' : ''}</code>. Charts drawn with Chart.js ${escapeHtml(chartJs.version)} (MIT), inlined.</footer>
</main>
${chartPageScripts('profile-data', r, chartJs, PAGE_SCRIPT)}
</body>
</html>
`;
  return html;
}
