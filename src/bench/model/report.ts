/**
 * The outputs of `incept bench model`: a plain-text summary for the terminal and one
 * self-contained HTML report (Chart.js inlined) with GPU time per block of the network for each
 * forward batch and for the training step, and the per-layer tables.
 *
 * The page sets `window.__chartsDrawn` (and `data-charts-drawn` on <body>) to the number of
 * charts once all are drawn, or `window.__chartError` (`data-chart-error`) if drawing failed.
 */
import { CHART_PAGE_PRELUDE, escapeHtml, loadChartJs, chartPageScripts, pageHead, REPORT_STYLE } from '../../io/html-report.js';
import type { PeerReport } from '../peers-report.js';
import type { ModelBenchResult } from './run.js';

const MiB = 2 ** 20;

/** The block a layer belongs to: 'stem', a module ('Mixed_6b'), 'aux head', 'classifier', or a step phase. */
export function blockOf(layer: string): string {
  if (layer.startsWith('Conv2d_') || layer.startsWith('maxpool')) return 'stem';
  if (layer.startsWith('AuxLogits')) return 'aux head';
  if (layer === 'avgpool' || layer === 'dropout' || layer === 'fc') return 'classifier';
  return layer.split('.')[0]!;
}

/** Sums per-layer values into blocks, in the order blocks first appear. */
export function byBlock<T extends { layer: string }>(rows: readonly T[], value: (row: T) => number): { block: string; value: number }[] {
  const sums = new Map<string, number>();
  for (const r of rows) sums.set(blockOf(r.layer), (sums.get(blockOf(r.layer)) ?? 0) + value(r));
  return [...sums].map(([block, v]) => ({ block, value: v }));
}

/** A number with 2, 1 or 0 decimals by size (for ms, GFLOP/s, MiB). */
export const f1 = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));

/** A plain-text table: the first `leftColumns` and the last `leftTrailing` columns left-aligned, the rest right-aligned. */
export function table(head: string[], body: string[][], leftColumns = 1, leftTrailing = 0): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const left = (i: number) => i < leftColumns || i >= head.length - leftTrailing;
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (left(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)];
}

/** The peer rows as a table: per row and library, the peer's time and peer / engine. */
function peerTable(p: PeerReport): { head: string[]; body: string[][] } {
  const libs = Object.keys(p.libraries);
  return {
    head: ['row', 'engine ms', ...libs.flatMap((l) => [`${l} ms`, `${l} / engine`, 'max rel err'])],
    body: p.rows.map((row) => [
      `${row.name}, batch ${row.batch} (${row.environment === 'node' ? 'Node' : 'Chromium'})`,
      f1(row.engineMs),
      ...libs.flatMap((l) => {
        const t = row.peers[l];
        return t ? [f1(t.ms), `${t.ratio.toFixed(2)}× (${t.ratioMin.toFixed(2)}–${t.ratioMax.toFixed(2)})`, t.maxRelErr.toExponential(1)] : ['', '', ''];
      }),
    ]),
  };
}

function peerLines(p: PeerReport): string[] {
  const { head, body } = peerTable(p);
  return [
    `Against the peers (wall time, input upload to logits read; ratio = peer / engine per round, median (min–max); ${Object.entries(p.adapters)
      .map(([env, a]) => `${env}: ${a}`)
      .join('; ')}):`,
    ...table(head, body),
  ];
}

export function formatModelBench(r: ModelBenchResult): string {
  const lines = [
    `Inception-v3${r.variant === 'cifar10' ? ' (CIFAR-10 variant)' : ''}${r.width !== 1 ? ` at width ${r.width}` : ''}, ${r.inputSize}×${r.inputSize}, on ${r.adapter} · timing: ${r.timing} · ${r.date}`,
    `${(r.macs / 1e9).toFixed(3)} G multiply-adds per image, ${r.params.toLocaleString('en-US')} parameters (${(r.weightsBytes / MiB).toFixed(1)} MiB of weights without the aux head)`,
    '',
    'Inference forward (BatchNorm folded into the convs):',
    ...table(
      ['batch', 'GPU ms', 'min–max', 'ms/image', 'wall ms', 'GFLOP/s', 'peak MiB', 'dispatches'],
      r.forward.map((f) => [
        String(f.batch),
        f1(f.gpuMs),
        `${f1(f.gpuMsMin)}–${f1(f.gpuMsMax)}`,
        f1(f.gpuMs / f.batch),
        f1(f.wallMs),
        f1(f.gflops),
        f1(f.peakBytes / MiB),
        String(f.dispatches),
      ]),
      0,
    ),
  ];
  const last = r.forward[r.forward.length - 1];
  if (last) {
    lines.push('', `GPU time by block, forward at batch ${last.batch}:`);
    const blocks = byBlock(last.layers, (l) => l.ms);
    lines.push(
      ...table(
        ['block', 'GPU ms', 'share'],
        blocks.map((b) => [b.block, f1(b.value), `${((100 * b.value) / last.gpuMs).toFixed(1)}%`]),
      ),
    );
    lines.push('', `The 10 slowest layers, forward at batch ${last.batch}:`);
    const slow = [...last.layers].sort((a, b) => b.ms - a.ms).slice(0, 10);
    lines.push(
      ...table(
        ['layer', 'GPU ms', 'GFLOP/s', 'kernels'],
        slow.map((l) => [l.layer, f1(l.ms), f1(l.gflops), l.kernels.join(', ')]),
        1,
      ),
    );
  }
  const t = r.train;
  if (t) {
    lines.push(
      '',
      `Training step at batch ${t.batch} (forward with aux head, label-smoothed loss, backward, SGD update):`,
      `  GPU ${f1(t.gpuMs)} ms (${f1(t.gpuMsMin)}–${f1(t.gpuMsMax)}): forward ${f1(t.forwardMs)}, loss ${f1(t.lossMs)}, backward ${f1(t.backwardMs)}, update ${f1(t.updateMs)}; backward / forward ${(t.backwardMs / t.forwardMs).toFixed(2)}`,
      `  wall ${f1(t.wallMs)} ms (${f1((1000 * t.batch) / t.wallMs)} images/s), ${f1(t.gflops)} GFLOP/s over the step's declared FLOPs, peak memory ${f1(t.peakBytes / MiB)} MiB, ${t.dispatches} dispatches, loss ${t.loss.toFixed(3)}`,
    );
    const fwd = new Map(byBlock(t.layers, (l) => l.forwardMs).map((b) => [b.block, b.value]));
    const bwd = byBlock(t.layers, (l) => l.backwardMs);
    lines.push(
      ...table(
        ['block', 'forward ms', 'backward ms'],
        bwd.map((b) => [b.block, f1(fwd.get(b.block) ?? 0), f1(b.value)]),
      ),
    );
  }
  if (r.peers) lines.push('', ...peerLines(r.peers));
  return lines.join('\n');
}

/** Plain ES2019 (no backticks or `${` in the raw part), run after the inlined Chart.js. */
const PAGE_SCRIPT =
  "(function () {\n  'use strict';\n" +
  CHART_PAGE_PRELUDE +
  String.raw`
  try {
    var data = JSON.parse(document.getElementById('model-data').textContent);
    var PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948'];
    function blockOf(layer) {
      if (layer.indexOf('Conv2d_') === 0 || layer.indexOf('maxpool') === 0) return 'stem';
      if (layer.indexOf('AuxLogits') === 0) return 'aux head';
      if (layer === 'avgpool' || layer === 'dropout' || layer === 'fc') return 'classifier';
      return layer.split('.')[0];
    }
    function sumBlocks(layers, key, order) {
      var sums = {};
      layers.forEach(function (l) { var b = blockOf(l.layer); sums[b] = (sums[b] || 0) + l[key]; if (order.indexOf(b) < 0) order.push(b); });
      return sums;
    }
    if (typeof Chart === 'undefined') throw new Error('Chart.js did not load');
    var charts = [];
    // (a) forward: GPU ms per image by block, one bar set per batch size.
    var order = [];
    var perBatch = data.forward.map(function (f) { return sumBlocks(f.layers, 'ms', order); });
    charts.push(['chart-forward', {
      type: 'bar',
      data: { labels: order, datasets: data.forward.map(function (f, i) {
        return { label: 'batch ' + f.batch + ' (ms per image)', backgroundColor: PALETTE[i % PALETTE.length],
          data: order.map(function (b) { return (perBatch[i][b] || 0) / f.batch; }) };
      }) },
      options: { scales: { y: { beginAtZero: true, title: { display: true, text: 'GPU ms per image' } } } },
    }]);
    // (b) training step: forward and backward GPU ms by block, stacked.
    if (data.train) {
      var torder = [];
      var fw = sumBlocks(data.train.layers, 'forwardMs', torder);
      var bw = sumBlocks(data.train.layers, 'backwardMs', torder);
      charts.push(['chart-train', {
        type: 'bar',
        data: { labels: torder, datasets: [
          { label: 'forward', backgroundColor: PALETTE[0], data: torder.map(function (b) { return fw[b] || 0; }) },
          { label: 'backward', backgroundColor: PALETTE[1], data: torder.map(function (b) { return bw[b] || 0; }) },
        ] },
        options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, title: { display: true, text: 'GPU ms (batch ' + data.train.batch + ')' } } } },
      }]);
    }
    var countPlugin = chartCounter(charts.length);
    charts.forEach(function (c) {
      var canvas = document.getElementById(c[0]);
      if (!canvas) throw new Error('no canvas #' + c[0]);
      c[1].plugins = [countPlugin];
      new Chart(canvas, c[1]);
    });
  } catch (e) {
    fail(e);
  }
})();
`;

function layerTableHtml(rows: { cells: string[] }[], head: string[]): string {
  return `<table><thead><tr>${head.map((h, i) => `<th${i > 0 ? ' class="num"' : ''}>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.cells.map((c, i) => `<td${i > 0 && i < r.cells.length - 1 ? ' class="num"' : ''}>${escapeHtml(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

function peerHtml(p: PeerReport): string {
  const { head, body } = peerTable(p);
  return `<h2>Against the peers</h2>
<p class="note">Inference wall time (input upload to logits read) measured by <code>${escapeHtml(p.command)}</code>, the engine timed again beside each peer, round by round; ratio = peer / engine (> 1: the engine is faster). ${escapeHtml(
    Object.entries(p.adapters)
      .map(([env, a]) => `${env}: ${a}`)
      .join('; '),
  )}. ${escapeHtml(Object.values(p.libraries).join('; '))}.</p>
<div class="table-wrap">${layerTableHtml(
    body.map((cells) => ({ cells: [...cells, ''] })),
    [...head, ''],
  )}</div>`;
}

export function modelBenchChartCount(r: ModelBenchResult): number {
  return 1 + (r.train ? 1 : 0);
}

export function renderModelBenchHtml(r: ModelBenchResult): string {
  const chartJs = loadChartJs();
  const title = `Inception-v3 end to end · ${r.adapter}`;
  const meta: [string, string][] = [
    ['Adapter', r.adapter],
    ['Timing', r.timing === 'timestamp' ? 'GPU timestamps per dispatch' : 'CPU wall time per dispatch (no timestamp-query; includes submission overhead)'],
    ['Date', r.date],
    [
      'Network',
      `${r.variant === 'cifar10' ? 'CIFAR-10 variant' : 'ImageNet network'}, width ${r.width}, input ${r.inputSize}×${r.inputSize}: ${(r.macs / 1e9).toFixed(3)} G multiply-adds per image, ${r.params.toLocaleString('en-US')} parameters`,
    ],
    ['Repeats', `${r.repeats} timed runs after a warm-up; the median run's profile is shown`],
  ];
  const forwardRows = r.forward.map((f) => ({
    cells: [
      `batch ${f.batch}`,
      f1(f.gpuMs),
      `${f1(f.gpuMsMin)}–${f1(f.gpuMsMax)}`,
      f1(f.gpuMs / f.batch),
      f1(f.wallMs),
      f1(f.gflops),
      f1(f.peakBytes / MiB),
      String(f.dispatches),
      '',
    ],
  }));
  const layerDetails = r.forward
    .map(
      (f) =>
        `<details><summary>Every layer, forward at batch ${f.batch}</summary>${layerTableHtml(
          f.layers.map((l) => ({ cells: [l.layer, f1(l.ms), f1(l.gflops), f1(l.gbps), l.kernels.join(', ')] })),
          ['layer', 'GPU ms', 'GFLOP/s', 'GB/s', 'kernels'],
        )}</details>`,
    )
    .join('\n');
  const t = r.train;
  const trainHtml = t
    ? `<h2>Training step, batch ${t.batch}</h2>
<p class="note">Forward with the aux head (BatchNorm on batch statistics), label-smoothed cross-entropy + 0.4 × aux loss, backward, SGD update of every parameter.
GPU ${escapeHtml(f1(t.gpuMs))} ms (${escapeHtml(f1(t.gpuMsMin))}–${escapeHtml(f1(t.gpuMsMax))}): forward ${escapeHtml(f1(t.forwardMs))}, loss ${escapeHtml(f1(t.lossMs))}, backward ${escapeHtml(f1(t.backwardMs))}, update ${escapeHtml(f1(t.updateMs))} ms;
wall ${escapeHtml(f1(t.wallMs))} ms (${escapeHtml(f1((1000 * t.batch) / t.wallMs))} images/s); ${escapeHtml(f1(t.gflops))} GFLOP/s; peak memory ${escapeHtml(f1(t.peakBytes / MiB))} MiB.</p>
<figure><div class="chart-box"><canvas id="chart-train" role="img" aria-label="Training step GPU time by block"></canvas></div></figure>
<details><summary>Every layer, training step</summary>${layerTableHtml(
        t.layers.map((l) => ({ cells: [l.layer, f1(l.forwardMs), f1(l.backwardMs), ''] })),
        ['layer', 'forward ms', 'backward ms', ''],
      )}</details>`
    : '';
  return `${pageHead(title, REPORT_STYLE)}
<body>
<main>
<h1>Inception-v3 end to end</h1>
<dl class="meta">
${meta.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('\n')}
</dl>
<p id="chart-error" hidden></p>
<h2>Inference forward</h2>
<p class="note">BatchNorm folded into each conv; concatenations without copies. GFLOP/s = 2 × multiply-adds × batch / GPU time.</p>
<div class="table-wrap">${layerTableHtml(forwardRows, ['', 'GPU ms', 'min–max', 'ms/image', 'wall ms', 'GFLOP/s', 'peak MiB', 'dispatches', ''])}</div>
<figure><div class="chart-box"><canvas id="chart-forward" role="img" aria-label="Forward GPU time per image by block"></canvas></div></figure>
${layerDetails}
${trainHtml}
${r.peers ? peerHtml(r.peers) : ''}
<footer>Generated by <code>incept bench model</code>. Charts drawn with Chart.js ${escapeHtml(chartJs.version)} (MIT), inlined.</footer>
</main>
${chartPageScripts('model-data', r, chartJs, PAGE_SCRIPT)}
</body>
</html>
`;
}
