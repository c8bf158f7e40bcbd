/** The training run's metrics log (JSON lines) and its HTML report, drawn in headless Chromium. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MetricsLog, readMetrics, renderTrainReport, repairMetrics, type MetricRecord } from '../src/train/metrics.js';
import { launchChromium, type LaunchedChromium } from './browser/harness.js';
import { drawReport } from './support/report-page.js';

const records: MetricRecord[] = [
  { kind: 'step', step: 10, epoch: 0.5, loss: 2.2, lr: 0.01, imagesPerSecond: 30, seconds: 5 },
  { kind: 'step', step: 20, epoch: 1, loss: 1.9, lr: 0.01, imagesPerSecond: 31, gradNorm: 1.5, seconds: 10 },
  { kind: 'eval', step: 20, epoch: 1, testAcc: 0.41, testLoss: 1.7, trainLoss: 2.0, seconds: 12 },
  { kind: 'step', step: 30, epoch: 1.5, loss: 1.6, lr: 0.0094, imagesPerSecond: 30, seconds: 17 },
  { kind: 'eval', step: 40, epoch: 2, testAcc: 0.53, testLoss: 1.4, seconds: 24 },
];

describe('metrics log', () => {
  it('writes JSON lines, appends on resume, and reads them back; a bad line is named', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'incept-metrics-'));
    try {
      const path = join(dir, 'sub', 'metrics.jsonl');
      const log = new MetricsLog(path);
      records.slice(0, 3).forEach((r) => log.write(r));
      const resumed = new MetricsLog(path, { append: true });
      records.slice(3).forEach((r) => resumed.write(r));
      expect(readMetrics(path)).toEqual(records);
      await writeFile(path, `${JSON.stringify(records[0])}\n{oops\n`);
      expect(() => readMetrics(path)).toThrow(/line 2: not JSON/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('metrics log after a crash', () => {
  it('resuming at a step cuts a torn last line and drops the records past that step, so no step is logged twice', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'incept-metrics-'));
    try {
      const path = join(dir, 'metrics.jsonl');
      const lines = records.map((r) => `${JSON.stringify(r)}\n`).join('');
      const torn = `${JSON.stringify({ kind: 'step', step: 50, epoch: 2.5, loss: 1.5, lr: 0.009, imagesPerSecond: 30, seconds: 30 })}`.slice(0, 23);
      await writeFile(path, lines + torn);
      // The checkpoint is at step 20: the records of steps 30 and 40 were logged after it.
      const log = new MetricsLog(path, { resumeAtStep: 20 });
      expect(log.repair).toEqual({ tornBytes: torn.length, dropped: 2, unreadable: 0, kept: 3 });
      log.write(records[3]!);
      expect(readMetrics(path)).toEqual([...records.slice(0, 4)]);
      // Appending (no step given) still cuts a torn line, so the next record starts a line of its own.
      await writeFile(path, lines + torn);
      const appended = new MetricsLog(path, { append: true });
      expect(appended.repair).toEqual({ tornBytes: torn.length, dropped: 0, unreadable: 0, kept: 5 });
      appended.write(records[0]!);
      expect(readMetrics(path)).toEqual([...records, records[0]]);
      // A whole line that is not JSON (e.g. an old torn line something was appended to) is dropped and counted.
      await writeFile(path, `${JSON.stringify(records[0])}\n{"kind":"step","st${JSON.stringify(records[1])}\n${JSON.stringify(records[2])}\n`);
      expect(repairMetrics(path, { afterStep: 20 })).toEqual({ tornBytes: 0, dropped: 0, unreadable: 1, kept: 2 });
      expect(readMetrics(path)).toEqual([records[0], records[2]]);
      // A missing file is nothing to repair.
      expect(repairMetrics(join(dir, 'none.jsonl'), { afterStep: 0 })).toEqual({ tornBytes: 0, dropped: 0, unreadable: 0, kept: 0 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('training report in headless Chromium', () => {
  let chromium: LaunchedChromium | undefined;
  afterAll(async () => chromium?.close());

  it('shows the best accuracy and draws the loss and accuracy curves', async () => {
    const html = renderTrainReport(records, { title: 'CIFAR-10 <run>', facts: [['command', 'incept train --epochs 2']] });
    expect(html).toContain('CIFAR-10 &lt;run&gt;');
    expect(html).toContain('53.00% at epoch 2.00');
    expect(html).not.toMatch(/<script[^>]*\ssrc=/i);
    chromium = await launchChromium();
    const state = await drawReport(chromium.browser, html);
    expect(state.error).toBeUndefined();
    expect(state.pageErrors).toEqual([]);
    expect(state.drawn).toBe(2);
    expect(state.tableRows).toBe(2);
  });
});
