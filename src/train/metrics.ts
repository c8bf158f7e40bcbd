/**
 * What a training run logs: one JSON object per line, a step record every few steps and an
 * evaluation record at each epoch end, and the HTML report drawn from them (loss and accuracy
 * curves, Chart.js inlined so the file opens with no network).
 *
 * A crash can leave the log ahead of the checkpoint a resume starts from (records of steps the
 * resumed run will do again) and can cut the last line in half. Opening the log to continue a
 * run repairs both first (`repairMetrics`), so no step is logged twice and no torn line makes
 * the report unreadable later.
 */
import { appendFileSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { CHART_PAGE_PRELUDE, escapeHtml, loadChartJs, chartPageScripts } from '../io/html-report.js';
import { crashNow, crashRequested } from './crash-points.js';

export interface StepRecord {
  kind: 'step';
  step: number;
  /** Fractional epoch: completed epochs + the share of this one done. */
  epoch: number;
  loss: number;
  lr: number;
  imagesPerSecond: number;
  /** Global gradient norm before clipping, when it was read back. */
  gradNorm?: number;
  /** Seconds since the run started (resumed runs continue the count). */
  seconds: number;
}

export interface EvalRecord {
  kind: 'eval';
  step: number;
  epoch: number;
  testAcc: number;
  testLoss: number;
  /** Training loss averaged over the epoch that just ended. */
  trainLoss?: number;
  seconds: number;
}

export type MetricRecord = StepRecord | EvalRecord;

/** What `repairMetrics` did: bytes of a torn last line cut, records dropped for being past the
 * step, whole lines dropped for not being JSON, records kept. */
export interface MetricsRepair {
  tornBytes: number;
  dropped: number;
  unreadable: number;
  kept: number;
}

/**
 * Makes a metrics file fit to continue: cuts a last line that has no newline (a crash in the
 * middle of an append), drops whole lines that are not JSON and, with `afterStep`, the records
 * of later steps (logged after the checkpoint a resume starts from; the resumed run logs them
 * again). Rewrites the file atomically, only when something changed. A missing file is empty.
 */
export function repairMetrics(path: string, options: { afterStep?: number } = {}): MetricsRepair {
  const repair: MetricsRepair = { tornBytes: 0, dropped: 0, unreadable: 0, kept: 0 };
  if (!existsSync(path)) return repair;
  const text = readFileSync(path, 'utf8');
  const end = text.lastIndexOf('\n') + 1;
  repair.tornBytes = Buffer.byteLength(text.slice(end));
  const kept: string[] = [];
  for (const line of text.slice(0, end).split('\n')) {
    if (!line.trim()) continue;
    let record: Partial<MetricRecord> | undefined;
    try {
      record = JSON.parse(line) as Partial<MetricRecord>;
    } catch {
      repair.unreadable++;
      continue;
    }
    if (options.afterStep !== undefined && typeof record?.step === 'number' && record.step > options.afterStep) {
      repair.dropped++;
      continue;
    }
    kept.push(line);
  }
  repair.kept = kept.length;
  if (repair.tornBytes || repair.dropped || repair.unreadable) {
    const tmp = `${path}.${globalThis.crypto.randomUUID()}.tmp`;
    try {
      const fd = openSync(tmp, 'wx');
      try {
        writeSync(fd, kept.map((l) => `${l}\n`).join(''));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
    } finally {
      rmSync(tmp, { force: true });
    }
  }
  return repair;
}

/** In words, for the training log: what a repair changed, or undefined when nothing. */
export function describeRepair(path: string, repair: MetricsRepair, afterStep?: number): string | undefined {
  const parts: string[] = [];
  if (repair.tornBytes) parts.push(`cut a torn last line (${repair.tornBytes} bytes, written when a run stopped mid-append)`);
  if (repair.unreadable)
    parts.push(`dropped ${repair.unreadable} line${repair.unreadable === 1 ? '' : 's'} that ${repair.unreadable === 1 ? 'is' : 'are'} not JSON`);
  if (repair.dropped)
    parts.push(
      `dropped ${repair.dropped} record${repair.dropped === 1 ? '' : 's'} past the checkpoint's step ${afterStep ?? '?'} (the resumed run logs those steps again)`,
    );
  return parts.length ? `${path}: ${parts.join('; ')}` : undefined;
}

export interface MetricsLogOptions {
  /** Keep the records already there and add to them (a torn last line is cut first). */
  append?: boolean;
  /** Continue a run resumed at this step: as `append`, and records of later steps are dropped. */
  resumeAtStep?: number;
}

/** Appends records to a JSON-lines file (created with its folder on first use). */
export class MetricsLog {
  readonly path: string;
  /** What opening the log repaired (appending or resuming), else undefined. */
  readonly repair: MetricsRepair | undefined;
  constructor(path: string, options: MetricsLogOptions = {}) {
    this.path = resolve(path);
    mkdirSync(dirname(this.path), { recursive: true });
    if (options.resumeAtStep !== undefined) this.repair = repairMetrics(this.path, { afterStep: options.resumeAtStep });
    else if (options.append) this.repair = repairMetrics(this.path);
    else writeFileSync(this.path, '');
  }

  /** One line per record, appended in a single write. */
  write(record: MetricRecord): void {
    const line = `${JSON.stringify(record)}\n`;
    if (crashRequested('metrics-torn', record.step)) {
      appendFileSync(this.path, line.slice(0, Math.floor(line.length / 2)));
      crashNow();
    }
    appendFileSync(this.path, line);
  }
}

/** Reads a JSON-lines metrics file, naming the line that does not parse. */
export function readMetrics(path: string): MetricRecord[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: MetricRecord[] = [];
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    try {
      out.push(JSON.parse(line) as MetricRecord);
    } catch (e) {
      throw new Error(`${path}, line ${i + 1}: not JSON (${e instanceof Error ? e.message : String(e)})`);
    }
  });
  return out;
}

export interface TrainReportInfo {
  title: string;
  /** Key facts shown above the charts (command, adapter, model, data, time). */
  facts: [string, string][];
}

const PAGE_SCRIPT =
  "(function () {\n  'use strict';\n" +
  CHART_PAGE_PRELUDE +
  String.raw`
  try {
    var records = JSON.parse(document.getElementById('metrics-data').textContent);
    var steps = records.filter(function (r) { return r.kind === 'step'; });
    var evals = records.filter(function (r) { return r.kind === 'eval'; });
    if (typeof Chart === 'undefined') throw new Error('Chart.js did not load');
    var countPlugin = chartCounter(2);
    function xy(rs, key) { return rs.map(function (r) { return { x: r.epoch, y: r[key] }; }); }
    var linear = { type: 'linear', title: { display: true, text: 'epoch' } };
    new Chart(document.getElementById('chart-loss'), {
      type: 'line',
      data: { datasets: [
        { label: 'training loss', data: xy(steps, 'loss'), borderColor: '#4e79a7', backgroundColor: '#4e79a7', pointRadius: 0, borderWidth: 1.5 },
        { label: 'test loss', data: xy(evals, 'testLoss'), borderColor: '#e15759', backgroundColor: '#e15759', pointRadius: 3 },
      ] },
      options: { parsing: false, scales: { x: linear, y: { title: { display: true, text: 'loss' } } } },
      plugins: [countPlugin],
    });
    new Chart(document.getElementById('chart-accuracy'), {
      type: 'line',
      data: { datasets: [
        { label: 'test top-1 accuracy', data: evals.map(function (r) { return { x: r.epoch, y: 100 * r.testAcc }; }), borderColor: '#59a14f', backgroundColor: '#59a14f', pointRadius: 3 },
      ] },
      options: { parsing: false, scales: { x: linear, y: { min: 0, max: 100, title: { display: true, text: 'top-1 accuracy, %' } } } },
      plugins: [countPlugin],
    });
  } catch (e) {
    fail(e);
  }
})();
`;

/** A self-contained HTML page with the loss and accuracy curves of a run. */
export function renderTrainReport(records: readonly MetricRecord[], info: TrainReportInfo): string {
  const chartJs = loadChartJs();
  const evals = records.filter((r): r is EvalRecord => r.kind === 'eval');
  const best = evals.reduce<EvalRecord | undefined>((b, r) => (!b || r.testAcc > b.testAcc ? r : b), undefined);
  const rows = evals
    .map(
      (r) =>
        `<tr><td>${escapeHtml(r.epoch.toFixed(2))}</td><td>${r.step}</td><td>${escapeHtml((100 * r.testAcc).toFixed(2))}%</td><td>${escapeHtml(r.testLoss.toFixed(4))}</td><td>${escapeHtml(r.trainLoss?.toFixed(4) ?? '—')}</td><td>${escapeHtml((r.seconds / 60).toFixed(1))}</td></tr>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(info.title)}</title>
<link rel="icon" href="data:,">
<style>
  body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; margin: 0; color: #222; }
  main { max-width: 1000px; margin: 0 auto; padding: 24px; }
  h1 { font-size: 22px; margin: 0 0 12px; }
  h2 { font-size: 17px; margin: 28px 0 8px; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; }
  dt { color: #666; } dd { margin: 0; }
  .chart-box { position: relative; height: 340px; }
  #chart-error { color: #b00020; font-weight: 600; }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: right; }
</style>
</head>
<body>
<main>
<h1>${escapeHtml(info.title)}</h1>
<dl>
${info.facts.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('\n')}
<dt>Best test accuracy</dt><dd>${best ? `${escapeHtml((100 * best.testAcc).toFixed(2))}% at epoch ${escapeHtml(best.epoch.toFixed(2))}` : 'no evaluation yet'}</dd>
</dl>
<p id="chart-error" hidden></p>
<h2>Loss</h2>
<figure><div class="chart-box"><canvas id="chart-loss" role="img" aria-label="Training and test loss"></canvas></div></figure>
<h2>Test accuracy</h2>
<figure><div class="chart-box"><canvas id="chart-accuracy" role="img" aria-label="Test top-1 accuracy"></canvas></div></figure>
<h2>Evaluations</h2>
<table><thead><tr><th>epoch</th><th>step</th><th>top-1</th><th>test loss</th><th>train loss</th><th>minutes</th></tr></thead><tbody>${rows}</tbody></table>
<footer><p>Generated by <code>incept train</code>. Charts drawn with Chart.js ${escapeHtml(chartJs.version)} (MIT), inlined.</p></footer>
</main>
${chartPageScripts('metrics-data', records, chartJs, PAGE_SCRIPT)}
</body>
</html>
`;
}
