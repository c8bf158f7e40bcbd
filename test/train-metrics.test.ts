/** The training run's metrics log (JSON lines) and its HTML report, drawn in headless Chromium. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MetricsLog, readMetrics, renderTrainReport, type MetricRecord } from '../src/train/metrics.js';
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
  }, 120_000);
});
