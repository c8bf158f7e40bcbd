/**
 * `incept profile` at a tiny size (the CIFAR-10 variant at width 0.125, 32×32, batch 2: seconds
 * here): every dispatch the profiler recorded is in the profile once, the sums by layer, kernel
 * and op account for the total, the rates follow from FLOPs, bytes, time and the peak, start
 * times are there and ordered, a training step has its passes, the HTML report carries the
 * timeline and the tables (and draws in headless Chromium), options are checked, and the built
 * command writes both files. The timings themselves are not the test's business.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import type { DispatchRecord } from '../src/runtime/profiler.js';
import { add } from '../src/ops/elementwise.js';
import { matmul } from '../src/ops/matmul.js';
import {
  buildProfile,
  collectProfile,
  kernelFamily,
  type CollectedProfile,
  type PeakInfo,
  type ProfileOptions,
  type ProfileResult,
} from '../src/bench/profile/run.js';
import { formatProfile, profileChartCount, renderProfileHtml } from '../src/bench/profile/report.js';
import { parseProfileOptions } from '../src/cli/profile.js';
import { testEngine } from './support/engine.js';
import { launchChromium, type LaunchedChromium } from './browser/harness.js';
import { drawReport } from './support/report-page.js';
import { HANG_GUARD_MS } from './support/hang-guard.js';

const TINY: ProfileOptions = { variant: 'cifar10', width: 0.125, inputSize: 32, batch: 2 };
const PEAK: PeakInfo = { gflops: 8, source: 'given', how: 'given by the test' };

let engine: Engine;
/** What the profiler pushed since its last clear(): the profiled run's records, seen independently. */
let seen: DispatchRecord[] = [];

async function profile(options: ProfileOptions): Promise<{ collected: CollectedProfile; result: ProfileResult; recorded: DispatchRecord[] }> {
  const collected = await collectProfile(engine, options);
  const recorded = seen.slice();
  const result = buildProfile(collected, { adapter: engine.adapterName, timing: engine.profiler.timing, peak: PEAK });
  return { collected, result, recorded };
}

let fwd: Awaited<ReturnType<typeof profile>>;
let train: Awaited<ReturnType<typeof profile>>;
beforeAll(async () => {
  engine = await testEngine();
  const records = engine.profiler.records;
  const push = records.push.bind(records);
  records.push = (...items: DispatchRecord[]) => {
    seen.push(...items);
    return push(...items);
  };
  const clear = engine.profiler.clear.bind(engine.profiler);
  engine.profiler.clear = () => {
    seen = [];
    clear();
  };
  fwd = await profile(TINY);
  train = await profile({ ...TINY, train: true });
});
afterAll(() => engine?.destroy());

const close = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(b)));

describe.each([
  ['forward', () => fwd],
  ['training step', () => train],
])('the profile of a %s', (_, get) => {
  it('has every dispatch the profiler recorded, exactly once and in order', () => {
    const { result, recorded } = get();
    expect(recorded.length).toBeGreaterThan(50);
    expect(result.dispatches.length).toBe(recorded.length);
    expect(result.dispatches.map((d) => d.seq)).toEqual(recorded.map((r) => r.seq));
    expect(new Set(result.dispatches.map((d) => d.seq)).size).toBe(recorded.length);
    result.dispatches.forEach((d, i) => {
      const r = recorded[i]!;
      expect([d.index, d.kernel, d.op, d.ms, d.flops, d.bytes, d.layer]).toEqual([i, r.kernel, r.op, r.ms, r.flops, r.bytes, r.layer ?? '(other)']);
      expect(d.family).toBe(kernelFamily(r.kernel));
    });
    expect(result.gpuMs).toBeGreaterThan(0);
    expect(result.wallMs).toBeGreaterThan(0);
    close(
      result.gpuMs,
      recorded.reduce((s, r) => s + r.ms, 0),
    );
  });

  it('sums by layer, kernel, op and pass to the dispatch total', () => {
    const { result } = get();
    for (const groups of [result.layers, result.kernels, result.ops]) {
      expect(groups.length).toBeGreaterThan(0);
      close(
        groups.reduce((s, g) => s + g.ms, 0),
        result.gpuMs,
      );
      expect(groups.reduce((s, g) => s + g.calls, 0)).toBe(result.dispatches.length);
      close(
        groups.reduce((s, g) => s + g.flops, 0),
        result.dispatches.reduce((s, d) => s + d.flops, 0),
      );
      for (const g of groups)
        close(
          Object.values(g.passMs).reduce((s, v) => s + v, 0),
          g.ms,
        );
      expect(groups.map((g) => g.ms)).toEqual([...groups.map((g) => g.ms)].sort((a, b) => b - a));
    }
    for (const k of result.kernels)
      close(
        k.ms,
        result.dispatches.filter((d) => d.kernel === k.key).reduce((s, d) => s + d.ms, 0),
      );
    close(
      result.passes.reduce((s, p) => s + p.ms, 0),
      result.gpuMs,
    );
    expect(result.passes.reduce((s, p) => s + p.dispatches, 0)).toBe(result.dispatches.length);
  });

  it('derives GFLOP/s, the fraction of peak and GB/s from FLOPs, bytes and time', () => {
    const { result } = get();
    expect(result.peak.gflops).toBe(PEAK.gflops);
    const conv = result.dispatches.filter((d) => d.flops > 0 && d.ms > 0);
    expect(conv.length).toBeGreaterThan(10);
    for (const d of result.dispatches) {
      const gflops = d.ms > 0 ? d.flops / d.ms / 1e6 : 0;
      close(d.gflops, gflops);
      close(d.peakFraction, gflops / PEAK.gflops);
      close(d.gbps, d.ms > 0 ? d.bytes / d.ms / 1e6 : 0);
    }
    for (const g of [...result.layers, ...result.kernels, ...result.ops]) {
      close(g.gflops, g.ms > 0 ? g.flops / g.ms / 1e6 : 0);
      close(g.peakFraction, g.gflops / PEAK.gflops);
      close(g.share, g.ms / result.gpuMs);
    }
    close(result.gflops, result.dispatches.reduce((s, d) => s + d.flops, 0) / result.gpuMs / 1e6);
  });

  it('gives every dispatch a start time, non-decreasing within a submission', () => {
    const { result, recorded } = get();
    expect(engine.profiler.timing).toBe('timestamp');
    expect(recorded.every((r) => r.startMs !== undefined && r.submission !== undefined)).toBe(true);
    const d = result.dispatches;
    expect(d.every((x) => Number.isFinite(x.startMs) && x.startMs >= 0 && x.submission >= 0)).toBe(true);
    expect(Math.min(...d.map((x) => x.startMs))).toBe(0);
    for (let i = 1; i < d.length; i++) {
      if (d[i]!.submission === d[i - 1]!.submission) expect(d[i]!.startMs, `dispatch ${i}`).toBeGreaterThanOrEqual(d[i - 1]!.startMs);
      else expect(d[i]!.submission).toBeGreaterThan(d[i - 1]!.submission);
    }
    expect(result.spanMs).toBeGreaterThan(0);
    for (const x of d) expect(x.startMs + x.ms).toBeLessThanOrEqual(result.spanMs + 1e-6);
    // The GPU cannot be busy for longer than the span (kernels run one after another here).
    expect(result.gpuMs).toBeLessThanOrEqual(result.spanMs * 1.001 + 1e-6);
    for (const g of result.gaps) expect(g.ms).toBeGreaterThan(0);
  });
});

describe('passes', () => {
  it('a forward is one forward pass', () => {
    expect(fwd.result.mode).toBe('forward');
    expect(fwd.result.passes.map((p) => p.pass)).toEqual(['forward']);
    expect(fwd.result.layers.some((l) => l.key === 'Conv2d_1a_3x3')).toBe(true);
  });

  it('a training step has forward, loss, backward and update passes, in order, each with dispatches', () => {
    const r = train.result;
    expect(r.mode).toBe('train');
    expect(r.batch).toBe(2);
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(r.passes.map((p) => p.pass)).toEqual(['forward', 'loss', 'backward', 'update']);
    for (const p of r.passes) expect(p.dispatches, p.pass).toBeGreaterThan(0);
    // Contiguous: the pass changes only forward → loss → backward → update.
    const order = ['forward', 'loss', 'backward', 'update'];
    for (let i = 1; i < r.dispatches.length; i++) expect(order.indexOf(r.dispatches[i]!.pass)).toBeGreaterThanOrEqual(order.indexOf(r.dispatches[i - 1]!.pass));
    // Passes follow each other on the timeline.
    for (let i = 1; i < r.passes.length; i++) expect(r.passes[i]!.startMs).toBeGreaterThanOrEqual(r.passes[i - 1]!.endMs - 1e-6);
    expect(r.dispatches.filter((d) => d.pass === 'backward').some((d) => d.kernel.startsWith('conv2d-backward.wgsl:'))).toBe(true);
    expect(r.dispatches.filter((d) => d.pass === 'update').every((d) => d.layer === '(update)')).toBe(true);
    const conv = r.layers.find((l) => l.key === 'Mixed_6b.branch7x7_2')!;
    expect(conv.passMs.forward).toBeGreaterThan(0);
    expect(conv.passMs.backward).toBeGreaterThan(0);
  });
});

describe('buildProfile on made-up records', () => {
  it('measures start times from the first dispatch and finds the idle gaps', () => {
    const rec = (seq: number, startMs: number, ms: number, submission: number): DispatchRecord => ({
      seq,
      op: 'conv2d',
      kernel: 'conv2d.wgsl:tile8x8',
      workgroups: [1, 1, 1],
      ms,
      flops: 2e6,
      bytes: 1e6,
      timing: 'timestamp',
      layer: `L${seq}`,
      startMs,
      submission,
    });
    const records = [rec(1, 1000, 1, 0), rec(2, 1001, 2, 0), rec(3, 1010, 1, 1), rec(4, 1011.5, 0.5, 1)];
    const r = buildProfile(
      {
        arch: { variant: 'cifar10', width: 1, inputSize: 32 },
        mode: 'forward',
        batch: 1,
        warmup: 0,
        macs: 1,
        params: 1,
        records,
        passes: records.map(() => 'forward'),
        wallMs: 20,
        peakBytes: 0,
      },
      { adapter: 'test', timing: 'timestamp', peak: { gflops: 4, source: 'given', how: 'test' } },
    );
    expect(r.dispatches.map((d) => d.startMs)).toEqual([0, 1, 10, 11.5]);
    expect(r.spanMs).toBe(12);
    expect(r.gpuMs).toBe(4.5);
    expect(r.busyFraction).toBe(4.5 / 12);
    expect(r.gaps.map((g) => [g.after, g.before, g.ms])).toEqual([
      [1, 2, 7],
      [2, 3, 0.5],
    ]);
    expect(r.dispatches[0]!.gflops).toBe(2);
    expect(r.dispatches[0]!.peakFraction).toBe(0.5);
    expect(r.layers.map((l) => l.key)).toEqual(['L2', 'L1', 'L3', 'L4']);
  });
});

describe('start times without timestamp-query (cpu-wall)', () => {
  it('each record gets its CPU submission time and its own submission', async () => {
    const e = await testEngine({ poisonOutputs: false, profile: true, disableFeatures: ['timestamp-query'] });
    try {
      await e.scope(async () => {
        const a = e.randomNormal([64, 32], { seed: 1 });
        const b = e.randomNormal([32, 48], { seed: 2 });
        await e.sync();
        e.profiler.clear();
        const before = performance.now();
        await add(matmul(a, b), matmul(a, b)).read();
        const after = performance.now();
        const recs = e.profiler.records;
        expect(recs.map((r) => r.op)).toEqual(['matmul', 'matmul', 'add']);
        for (const r of recs) {
          expect(r.timing).toBe('cpu-wall');
          expect(r.startMs!).toBeGreaterThanOrEqual(before);
          expect(r.startMs! + r.ms).toBeLessThanOrEqual(after + 1);
        }
        for (let i = 1; i < recs.length; i++) {
          expect(recs[i]!.startMs!).toBeGreaterThanOrEqual(recs[i - 1]!.startMs! + recs[i - 1]!.ms - 1e-6);
          expect(recs[i]!.submission!).toBeGreaterThan(recs[i - 1]!.submission!);
        }
      });
    } finally {
      e.destroy();
    }
  });
});

/** Rows of the HTML table with this id, as their cells' text. */
function tableRows(html: string, id: string): string[][] {
  const m = new RegExp(`<table id="${id}"[^>]*>[\\s\\S]*?<tbody>([\\s\\S]*?)</tbody>`).exec(html);
  expect(m, `table #${id}`).not.toBeNull();
  return [...m![1]!.matchAll(/<tr[^>]*>([\s\S]*?)<\/tr>/g)].map((row) => [...row[1]!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((c) => c[1]!));
}

describe('the report', () => {
  it('prints the totals, the 15 slowest layers and the kernels', () => {
    const text = formatProfile(train.result);
    expect(text).toContain('32×32: one training step');
    expect(text).toMatch(new RegExp(`GPU [\\d.]+ ms in ${train.result.dispatches.length} dispatches · wall [\\d.]+ ms`));
    expect(text).toMatch(/Matmul peak 8\.00 GFLOP\/s, given by the test/);
    expect(text).toMatch(/Passes: forward [\d.]+ ms \(\d+\), loss .*, backward .*, update /);
    const slowest = text.split('\n').findIndex((l) => l.startsWith('The 15 slowest'));
    expect(text.split('\n')[slowest + 3]!.startsWith(train.result.layers[0]!.key)).toBe(true);
    const byKernel = text.split('\n').findIndex((l) => l === 'By kernel:');
    expect(byKernel).toBeGreaterThan(slowest);
    for (const k of train.result.kernels) expect(text).toContain(k.key);
  });

  it('embeds the timeline, the summary and every table; each dispatch has one row', () => {
    for (const { result } of [fwd, train]) {
      const html = renderProfileHtml(result);
      expect(html).not.toMatch(/<script[^>]*\ssrc=/i);
      expect(html).toContain('<canvas id="chart-timeline"');
      const data = JSON.parse(/<script type="application\/json" id="profile-data">([\s\S]*?)<\/script>/.exec(html)![1]!) as ProfileResult;
      expect(data.dispatches.length).toBe(result.dispatches.length);
      expect(data.dispatches.map((d) => d.startMs)).toEqual(result.dispatches.map((d) => d.startMs));
      const rows = tableRows(html, 'dispatches');
      expect(rows.length).toBe(result.dispatches.length);
      for (const d of result.dispatches) expect(html.split(`data-seq="${d.seq}"`).length - 1, `seq ${d.seq}`).toBe(1);
      expect(tableRows(html, 'by-layer').length).toBe(result.layers.length);
      expect(tableRows(html, 'by-kernel').map((r) => r[0])).toEqual(result.kernels.map((k) => k.key));
      expect(tableRows(html, 'by-op').length).toBe(result.ops.length);
      expect(tableRows(html, 'top-layers').map((r) => r[0])).toEqual(result.layers.slice(0, 5).map((l) => l.key));
      expect(tableRows(html, 'top-kernels').map((r) => r[0])).toEqual(result.kernels.slice(0, 5).map((k) => k.key));
      expect(html).toContain(`<div class="v">${result.dispatches.length}</div><div class="k">dispatches</div>`);
      expect(html).toContain('8.00 GFLOP/s (given)');
    }
  });

  describe('in headless Chromium', () => {
    let chromium: LaunchedChromium | undefined;
    afterAll(async () => chromium?.close());

    it('draws the timeline and the charts without errors', async () => {
      chromium = await launchChromium();
      const state = await drawReport(chromium.browser, renderProfileHtml(train.result));
      expect(state.error).toBeUndefined();
      expect(state.pageErrors).toEqual([]);
      expect(state.drawn).toBe(profileChartCount());
      expect(state.tableRows).toBeGreaterThan(train.result.dispatches.length);
    });
  });
});

describe('options', () => {
  it('defaults: batch 1 for a forward, 2 for a training step; 299×299 or 32×32; the report paths', () => {
    const f = parseProfileOptions({});
    expect(f.run).toMatchObject({ train: false, batch: 1, inputSize: 299, variant: 'imagenet', width: 1, warmup: 1 });
    expect(f.run.peakGflops).toBeUndefined();
    expect(f.html).toBe('reports/profile.html');
    const t = parseProfileOptions({ train: true, cifar10: true, width: '0.125', peak: '12.5', json: 'p.json', warmup: '0' });
    expect(t.run).toMatchObject({ train: true, batch: 2, inputSize: 32, variant: 'cifar10', width: 0.125, warmup: 0, peakGflops: 12.5 });
    expect(t.html).toBe('reports/profile-train.html');
    expect(t.json).toBe('p.json');
  });

  it('refuses bad values, naming the option', () => {
    expect(() => parseProfileOptions({ batch: '0' })).toThrow(/--batch needs positive integers.*'0'/);
    expect(() => parseProfileOptions({ batch: '2,4' })).toThrow(/--batch needs one positive integer/);
    expect(() => parseProfileOptions({ input: '10' })).toThrow(/--input must be at least 75 .*got 10/);
    expect(() => parseProfileOptions({ input: '4', cifar10: true })).toThrow(/--input must be at least 8/);
    expect(() => parseProfileOptions({ peak: '-1' })).toThrow(/--peak needs a matmul peak in GFLOP\/s > 0, got '-1'/);
    expect(() => parseProfileOptions({ peak: 'fast' })).toThrow(/--peak/);
    expect(() => parseProfileOptions({ warmup: '-1' })).toThrow(/--warmup needs a number of runs ≥ 0/);
    expect(() => parseProfileOptions({ width: '0' })).toThrow(/--width needs a width multiplier > 0/);
  });
});

describe('incept profile (the built command)', () => {
  const run = promisify(execFile);
  const incept = (args: string[]) => run(process.execPath, ['bin/incept.js', ...args], { timeout: HANG_GUARD_MS, maxBuffer: 64 << 20 });
  let dir: string;
  beforeAll(async () => {
    // The command runs from dist/: rebuild it if it predates this command's sources.
    const built = existsSync('dist/incept.js') ? statSync('dist/incept.js').mtimeMs : 0;
    const sources = ['src/cli/profile.ts', 'src/bench/profile/run.ts', 'src/bench/profile/report.ts', 'src/runtime/profiler.ts', 'src/cli/main.ts'];
    if (sources.some((s) => statSync(s).mtimeMs > built)) await run(process.execPath, ['esbuild.config.mjs']);
    dir = mkdtempSync(join(tmpdir(), 'incept-profile-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the HTML and the JSON and prints the summary, with the peak measured in the same run', async () => {
    const html = join(dir, 'p.html');
    const json = join(dir, 'p.json');
    const { stdout, stderr } = await incept(['profile', '--cifar10', '--width', '0.125', '--batch', '2', '--html', html, '--json', json]);
    expect(stderr).toMatch(/profiling Inception-v3 on /);
    expect(stderr).toMatch(/measuring the matmul peak/);
    const data = JSON.parse(readFileSync(json, 'utf8')) as ProfileResult;
    expect(data.mode).toBe('forward');
    expect(data.batch).toBe(2);
    expect(data.dispatches.length).toBeGreaterThan(50);
    expect(data.gpuMs).toBeGreaterThan(0);
    expect(data.peak.source).toBe('measured');
    expect(data.peak.gflops).toBeGreaterThan(0);
    expect(data.peak.how).toMatch(/matmul variant/);
    expect(data.layers.length).toBeGreaterThan(0);
    expect(stdout).toMatch(new RegExp(`GPU [\\d.]+ ms in ${data.dispatches.length} dispatches`));
    expect(stdout).toMatch(/The 15 slowest of \d+ layers:/);
    expect(stdout).toMatch(/^By kernel:$/m);
    expect(stdout).toContain(`HTML report: ${html}`);
    expect(stdout).toContain(`JSON: ${json}`);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('<canvas id="chart-timeline"');
    expect(tableRows(page, 'dispatches').length).toBe(data.dispatches.length);
  });

  it('exits 1 naming a bad option', async () => {
    const err = (await incept(['profile', '--batch', '0']).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/incept: --batch needs positive integers/);
  });
});
