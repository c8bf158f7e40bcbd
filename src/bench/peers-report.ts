/**
 * The peer benchmark's report: every row the harnesses produced (factorization convs, Inception-v3
 * inference and training, in Node and in Chromium), the goals the project set against the peers,
 * a terminal table, and one self-contained HTML page (Chart.js inlined) with the ratios drawn.
 * ONNX Runtime for Node on the CPU (ORT_NODE) is a column like the others, but no goal: it is
 * there to show, measured, where a server without a GPU is better served by a native runtime.
 *
 * ratio = peer time / engine time, per round, median over rounds (> 1: the engine is faster);
 * min–max over the rounds. The page sets `window.__chartsDrawn` once its charts are drawn.
 */
import { CHART_PAGE_PRELUDE, escapeHtml, loadChartJs, chartPageScripts, pageHead, REPORT_STYLE } from '../io/html-report.js';

/** Said wherever the CPU runtime's column appears: its ratio means something else. */
/** The library key of ONNX Runtime for Node on the CPU (bench/peers/ort-node.ts). */
export const ORT_NODE = 'ort-node-cpu';

export interface PairedTimes {
  ms: number;
  msMin: number;
  msMax: number;
  /** Median over rounds of peer / engine of the same round (> 1: the engine is faster). */
  ratio: number;
  ratioMin: number;
  ratioMax: number;
}

const CPU_PEER_NOTE = `${ORT_NODE} runs on the CPU with native kernels, not on the adapter: a ratio below 1 means a machine without a GPU serves this model faster with it`;

/** A peer's times on one row, paired round by round with the engine's (see PairedTimes). */
export interface PeerTiming extends PairedTimes {
  /** max |peer − engine| / max |engine| over the output (see compared). */
  maxRelErr: number;
  /** What maxRelErr compared, when not the whole output. */
  compared?: string;
  gflops?: number;
}

export interface PeerReportRow {
  group: 'factorization' | 'inference' | 'training';
  /** Where both sides ran: in Node (Dawn) or in one headless Chromium page. */
  environment: 'node' | 'chromium';
  /** 'gpu': summed GPU timestamps of the kernels; 'wall': input upload to result on the CPU. */
  timing: 'gpu' | 'wall';
  name: string;
  batch: number;
  engineMs: number;
  engineMsMin: number;
  engineMsMax: number;
  /** Factorization rows: 'full' or 'factorized', the convs and the engine's kernel variant. */
  side?: string;
  convs?: string;
  engineVariant?: string;
  peers: Record<string, PeerTiming>;
}

export interface PeerGoal {
  goal: string;
  /** The row group and library it is judged on. */
  library: string;
  group: PeerReportRow['group'];
  /** The engine must be at least this much faster (peer / engine ≥ target). */
  target: number;
  /** The worst (lowest) median ratio over the rows it covers; undefined when none ran. */
  worst?: number;
  met?: boolean;
  rows: number;
}

export interface PeerReport {
  /** The Node adapter (the rows with environment 'node'). */
  adapter: string;
  /** Per environment, the adapter it ran on. */
  adapters: Partial<Record<PeerReportRow['environment'], string>>;
  date: string;
  command: string;
  quick: boolean;
  seconds: number;
  /** Library key → name and version (with the environment where it matters). */
  libraries: Record<string, string>;
  rows: PeerReportRow[];
  goals: PeerGoal[];
}

/** The project's targets (issue 9): 2× TF.js at inference and training, at least ORT Web's speed at inference. */
const GOALS: Omit<PeerGoal, 'worst' | 'met' | 'rows'>[] = [
  { goal: 'Inception-v3 inference at least 2× faster than TensorFlow.js (WebGPU)', library: 'tfjs-webgpu', group: 'inference', target: 2 },
  { goal: 'Inception-v3 inference at least as fast as ONNX Runtime Web (WebGPU)', library: 'ort-web-webgpu', group: 'inference', target: 1 },
  { goal: 'Inception-v3 training step at least 2× faster than TensorFlow.js (WebGPU)', library: 'tfjs-webgpu', group: 'training', target: 2 },
];

/**
 * The largest max-relative-error a peer may show before the run counts as a disagreement (a bug
 * on one side): a conv row sums the same products in the same order as TF.js (seen: 0); a whole
 * network's logits go through 94 layers of float32 rounding (seen: 4e-5 to 6e-5); the training
 * row judges the loss and the classifier's gradient (seen: 2e-4 to 4e-4).
 */
export const AGREEMENT_TOLERANCE: Record<PeerReportRow['group'], number> = { factorization: 1e-4, inference: 1e-3, training: 1e-2 };

/** Every (row, peer) whose output disagrees with the engine's beyond the tolerance, described. */
export function disagreements(rows: readonly PeerReportRow[]): string[] {
  return rows.flatMap((r) =>
    Object.entries(r.peers)
      .filter(([, p]) => !(p.maxRelErr <= AGREEMENT_TOLERANCE[r.group]))
      .map(
        ([lib, p]) =>
          `${rowLabel(r)}: ${lib} differs from the engine by ${p.maxRelErr.toExponential(2)} (tolerance ${AGREEMENT_TOLERANCE[r.group].toExponential(0)})`,
      ),
  );
}

export function judgeGoals(rows: readonly PeerReportRow[]): PeerGoal[] {
  return GOALS.map((g) => {
    const ratios = rows.filter((r) => r.group === g.group && r.peers[g.library]).map((r) => r.peers[g.library]!.ratio);
    if (ratios.length === 0) return { ...g, rows: 0 };
    const worst = Math.min(...ratios);
    return { ...g, rows: ratios.length, worst, met: worst >= g.target };
  });
}

const f1 = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
const range = (lo: number, hi: number) => `${f1(lo)}–${f1(hi)}`;
const ratioText = (p: PeerTiming) => `${p.ratio.toFixed(2)}× (${p.ratioMin.toFixed(2)}–${p.ratioMax.toFixed(2)})`;
const rowLabel = (r: PeerReportRow) => `${r.name}${r.side ? `, ${r.side}` : ''}, batch ${r.batch}${r.environment === 'chromium' ? ' (Chromium)' : ''}`;

function tableCells(report: PeerReport): { head: string[]; body: string[][] } {
  const libs = Object.keys(report.libraries);
  const head = ['row', 'where', 'timing', 'engine ms (min–max)', ...libs.flatMap((l) => [`${l} ms`, `${l} / engine`, `${l} max rel err`])];
  const body = report.rows.map((r) => [
    `${r.name}${r.side ? ` · ${r.side}` : ''} · batch ${r.batch}`,
    r.environment,
    r.timing,
    `${f1(r.engineMs)} (${range(r.engineMsMin, r.engineMsMax)})`,
    ...libs.flatMap((l) => {
      const p = r.peers[l];
      return p ? [`${f1(p.ms)} (${range(p.msMin, p.msMax)})`, ratioText(p), p.maxRelErr.toExponential(1)] : ['', '', ''];
    }),
  ]);
  return { head, body };
}

export function formatPeerReport(report: PeerReport): string {
  const { head, body } = tableCells(report);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const adapters = Object.entries(report.adapters).map(([env, a]) => `${env}: ${a}`);
  const goals = report.goals.map(
    (g) =>
      `  ${g.met === undefined ? '–' : g.met ? '✓' : '✗'} ${g.goal}: ${g.worst === undefined ? 'not run' : `worst ratio ${g.worst.toFixed(2)}× over ${g.rows} row(s)`}`,
  );
  return [
    `The engine vs ${Object.values(report.libraries).join(', ')} · ${report.date}`,
    ...adapters.map((a) => `adapter ${a}`),
    'ratio: peer time / engine time, per round, median (min–max) over rounds (> 1: the engine is faster)',
    ...(report.libraries[ORT_NODE] ? [CPU_PEER_NOTE] : []),
    '',
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...body.map(line),
    '',
    'Goals:',
    ...goals,
  ].join('\n');
}

/** How many charts the page draws (it sets window.__chartsDrawn to this when done). */
export function peerReportChartCount(report: PeerReport): number {
  return report.rows.some((r) => r.group !== 'factorization') ? 2 : 1;
}

export function renderPeerReportHtml(report: PeerReport): string {
  const chartJs = loadChartJs();
  const { head, body } = tableCells(report);
  const meta: [string, string][] = [
    ...Object.entries(report.adapters).map(([env, a]) => [`Adapter (${env})`, a] as [string, string]),
    ['Libraries', Object.values(report.libraries).join('; ')],
    ['Date', report.date],
    ['Command', report.command],
    ['Duration', `${report.seconds.toFixed(0)} s${report.quick ? ' (quick mode)' : ''}`],
    ['Ratio', 'peer time / engine time for the same round, median over rounds (min–max); > 1 means the engine is faster'],
    ['Timing', "'gpu': the kernels' GPU timestamps summed (convolution rows); 'wall': from input upload to the result read on the CPU (whole-model rows)"],
    ...(report.libraries[ORT_NODE] ? [['CPU runtime', CPU_PEER_NOTE] as [string, string]] : []),
  ];
  const goalRows = report.goals
    .map(
      (g) =>
        `<tr><td>${g.met === undefined ? '–' : g.met ? '✓' : '✗'}</td><td>${escapeHtml(g.goal)}</td><td class="num">${escapeHtml(g.worst === undefined ? 'not run' : `${g.worst.toFixed(2)}×`)}</td><td class="num">${g.rows}</td></tr>`,
    )
    .join('');
  const chartData = {
    libraries: Object.keys(report.libraries),
    rows: report.rows.map((r) => ({
      label: rowLabel(r),
      group: r.group,
      engineMs: r.engineMs,
      ms: Object.fromEntries(Object.entries(r.peers).map(([l, p]) => [l, p.ms])),
      ratios: Object.fromEntries(Object.entries(r.peers).map(([l, p]) => [l, [p.ratio, p.ratioMin, p.ratioMax]])),
    })),
  };
  const wholeModel = report.rows.some((r) => r.group !== 'factorization');
  return `${pageHead('incept-gpu vs peers', `${REPORT_STYLE} .chart-box.tall { height: ${Math.max(380, 26 * report.rows.length + 80)}px; } td.num { white-space: nowrap; }`)}
<body>
<main>
<h1>The engine side by side with TensorFlow.js and ONNX Runtime</h1>
<dl class="meta">
${meta.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('\n')}
</dl>
<p id="chart-error" hidden></p>
<h2>Goals</h2>
<table><thead><tr><th></th><th>goal</th><th class="num">worst ratio</th><th class="num">rows</th></tr></thead><tbody>${goalRows}</tbody></table>
<h2>Peer time / engine time</h2>
<p class="note">Each bar is the median ratio over rounds; the whiskers in the tooltip give min–max. Right of the 1× line the engine is faster (log scale).</p>
<figure><div class="chart-box tall"><canvas id="chart-ratios" role="img" aria-label="Peer time over engine time per row"></canvas></div></figure>
${
  wholeModel
    ? `<h2>Whole network: time per run</h2>
<p class="note">Median wall time of one run (inference: input upload to logits read; training: one step to the loss read after the update), log scale.</p>
<figure><div class="chart-box"><canvas id="chart-model-ms" role="img" aria-label="Whole-network time per library"></canvas></div></figure>`
    : ''
}
<h2>Every row</h2>
<div class="table-wrap"><table><thead><tr>${head.map((h, i) => `<th${i > 2 ? ' class="num"' : ''}>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${body
    .map((cells) => `<tr>${cells.map((c, i) => `<td${i > 2 ? ' class="num"' : ''}>${escapeHtml(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table></div>
${report.rows.some((r) => r.peers['tfjs-webgpu']?.compared) ? `<p class="note">Training rows compare: ${escapeHtml(report.rows.find((r) => r.group === 'training')?.peers['tfjs-webgpu']?.compared ?? '')}.</p>` : ''}
<footer>Generated by <code>npm run bench:peers</code>. Charts drawn with Chart.js ${escapeHtml(chartJs.version)} (MIT), inlined.</footer>
</main>
${chartPageScripts('peer-data', chartData, chartJs, PAGE_SCRIPT)}
</body>
</html>
`;
}

/** Plain ES2019 (no backticks or `${` in the raw part), run after the inlined Chart.js. */
const PAGE_SCRIPT =
  "(function () {\n  'use strict';\n" +
  CHART_PAGE_PRELUDE +
  String.raw`
  try {
    var data = JSON.parse(document.getElementById('peer-data').textContent);
    var PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948'];
    if (typeof Chart === 'undefined') throw new Error('Chart.js did not load');
    var datasets = data.libraries.map(function (lib, i) {
      return {
        label: lib,
        backgroundColor: PALETTE[i % PALETTE.length],
        data: data.rows.map(function (r) { return r.ratios[lib] ? r.ratios[lib][0] : null; }),
        ranges: data.rows.map(function (r) { return r.ratios[lib] || null; }),
      };
    });
    var oneLine = {
      id: 'oneLine',
      afterDatasetsDraw: function (chart) {
        var x = chart.scales.x.getPixelForValue(1);
        var ctx = chart.ctx;
        ctx.save();
        ctx.strokeStyle = '#222';
        ctx.setLineDash([4, 3]);
        ctx.beginPath();
        ctx.moveTo(x, chart.chartArea.top);
        ctx.lineTo(x, chart.chartArea.bottom);
        ctx.stroke();
        ctx.restore();
      },
    };
    var counter = chartCounter(data.rows.some(function (r) { return r.group !== 'factorization'; }) ? 2 : 1);
    var canvas = document.getElementById('chart-ratios');
    new Chart(canvas, {
      type: 'bar',
      data: { labels: data.rows.map(function (r) { return r.label; }), datasets: datasets },
      options: {
        indexAxis: 'y',
        scales: { x: { type: 'logarithmic', title: { display: true, text: 'peer time / engine time (log)' } } },
        plugins: { tooltip: { callbacks: { label: function (c) {
          var r = c.dataset.ranges[c.dataIndex];
          return c.dataset.label + ': ' + r[0].toFixed(2) + '× (' + r[1].toFixed(2) + '–' + r[2].toFixed(2) + ')';
        } } } },
      },
      plugins: [oneLine, counter],
    });
    var model = data.rows.filter(function (r) { return r.group !== 'factorization'; });
    if (model.length > 0) {
      var libs = ['engine'].concat(data.libraries);
      new Chart(document.getElementById('chart-model-ms'), {
        type: 'bar',
        data: { labels: model.map(function (r) { return r.label; }), datasets: libs.map(function (lib, i) {
          return { label: lib, backgroundColor: i === 0 ? '#222' : PALETTE[(i - 1) % PALETTE.length],
            data: model.map(function (r) { return lib === 'engine' ? r.engineMs : (r.ms[lib] === undefined ? null : r.ms[lib]); }) };
        }) },
        options: { scales: { y: { type: 'logarithmic', title: { display: true, text: 'ms per run (log)' } } } },
        plugins: [counter],
      });
    }
  } catch (e) {
    fail(e);
  }
})();
`;
