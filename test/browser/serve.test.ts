/**
 * `incept serve` end to end: the command is started on a free port, its page is opened in
 * headless Chromium (the same launch as the other browser tests; WebGPU on SwiftShader), an
 * image and a model file are picked through the page's file inputs, and the page must show the
 * top 5 and draw the per-layer chart, with the same classes Node computes from the same file.
 * A truncated model file must show an error instead. Ctrl-C must stop the server cleanly.
 * Before an image is chosen the preview is not shown (no broken-image placeholder), and without
 * --weights the page says how to get a model. Started with --weights, the page loads that model
 * as it opens and classifies the first image picked; the CIFAR-10 variant gets CIFAR-10's names.
 *
 * The model is the CIFAR-10 variant of Inception-v3 at width 0.25 (32×32 input): the full
 * 299×299 network is ~90× the work and takes minutes on SwiftShader, the same code paths
 * otherwise. Needs `npm run build` (npm test's pretest does it): the page loads dist/browser/incept.js.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ElementHandle, Page } from 'puppeteer-core';
import type { Engine } from '../../src/runtime/engine.js';
import { InceptionV3 } from '../../src/models/inception-v3.js';
import { torchvisionStateDict } from '../../src/models/inception-v3-weights.js';
import { encodeSafetensors } from '../../src/io/safetensors.js';
import { readImageFile } from '../../src/io/image.js';
import { loadClassifier } from '../../src/api/classifier.js';
import { CIFAR10_CLASSES } from '../../src/data/dataset.js';
import { testEngine } from '../support/engine.js';
import { freshSeed } from '../support/random.js';
import { launchChromium, type LaunchedChromium } from './harness.js';
import { HANG_GUARD_MS } from '../support/hang-guard.js';

const SAMPLES = new URL('../../../shared/data/imagenet-sample/', import.meta.url).pathname;
const TABBY = join(SAMPLES, 'n02123045_tabby.JPEG');
const seed = freshSeed();
const replay = `(seed ${seed}; replay with TEST_SEED=${seed})`;
const dir = mkdtempSync(join(tmpdir(), 'incept-serve-'));
const WEIGHTS = join(dir, 'cifar.safetensors');
const TRUNCATED = join(dir, 'truncated.safetensors');

interface ServeState {
  state: string;
  adapter?: string;
  error?: string;
  top?: { index: number; label: string; probability: number }[];
  layers?: { layer: string; ms: number; calls: number }[];
  model?: { description?: string; classes: number; inputShape: number[]; format: string };
}

let engine: Engine;
let server: ChildProcess | undefined;
let serverOut = '';
let url = '';
/** A second server, started with --weights WEIGHTS. */
let modelServer: ChildProcess | undefined;
let modelServerOut = '';
let modelUrl = '';
let chromium: LaunchedChromium | undefined;
const pageErrors: string[] = [];
const failedRequests: string[] = [];

beforeAll(async () => {
  engine = await testEngine();
  const model = new InceptionV3(engine, { seed, variant: 'cifar10', width: 0.25 });
  await model.calibrate(engine.randomNormal([4, 32, 32, 3], { seed: seed + 1 }));
  const bytes = encodeSafetensors(await torchvisionStateDict(model));
  model.dispose();
  writeFileSync(WEIGHTS, bytes);
  writeFileSync(TRUNCATED, bytes.subarray(0, bytes.length >> 1));

  ({ child: server, url } = await startServe([], (d) => (serverOut += d)));
  ({ child: modelServer, url: modelUrl } = await startServe(['--weights', WEIGHTS], (d) => (modelServerOut += d)));
  chromium = await launchChromium();
});

/** `incept serve --port 0 …args` in a child process; resolves with its URL once it prints it. */
async function startServe(args: string[], out: (text: string) => void): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['bin/incept.js', 'serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const take = (d: Buffer) => {
    text += d.toString();
    out(d.toString());
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  const found = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`incept serve printed no URL (hung):\n${text}`)), HANG_GUARD_MS);
    const look = () => {
      const m = /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', look);
    child.once('exit', (code) => reject(new Error(`incept serve exited with ${code}:\n${text}`)));
  });
  return { child, url: found };
}

afterAll(async () => {
  await chromium?.close();
  if (server && server.exitCode === null) server.kill('SIGKILL');
  if (modelServer && modelServer.exitCode === null) modelServer.kill('SIGKILL');
  engine?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

async function openPage(at = url): Promise<Page> {
  const page = await chromium!.browser.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('requestfailed', (r) => failedRequests.push(`${r.url()}: ${r.failure()?.errorText ?? 'failed'}`));
  page.on('response', (r) => {
    if (r.status() >= 400) failedRequests.push(`${r.url()}: HTTP ${r.status()}`);
  });
  await page.goto(at, { waitUntil: 'load' });
  await page.waitForFunction(() => document.body.dataset.state !== 'loading-page', { timeout: HANG_GUARD_MS });
  return page;
}

async function pick(page: Page, input: string, file: string): Promise<void> {
  const handle = (await page.$(input)) as ElementHandle<HTMLInputElement> | null;
  if (!handle) throw new Error(`the page has no ${input}`);
  await handle.uploadFile(file);
}

/** A page of the server started without --weights: it builds the demo model and says so. */
async function waitForDemoModel(page: Page): Promise<void> {
  await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset.state ?? ''), { timeout: HANG_GUARD_MS, polling: 250 });
  const ready = await serveState(page);
  expect(ready.error, 'the page reported an error').toBeUndefined();
  expect(ready.model).toEqual({
    description: 'Inception-v3 (CIFAR-10 variant), width 0.125, torchvision layout',
    format: 'torchvision',
    classes: 10,
    inputShape: [32, 32, 3],
  });
  expect(await page.$eval('#model-help', (e) => e.textContent)).toMatch(
    /^Demo model: Inception-v3 \(CIFAR-10 variant\), width 0\.125[\s\S]*random weights[\s\S]*incept serve --weights FILE/,
  );
}

const serveState = (page: Page) => page.evaluate(() => (window as unknown as { __inceptServe: ServeState }).__inceptServe);

describe(`incept serve ${replay}`, () => {
  it('prints the URL and the browser bundle size', () => {
    expect(serverOut).toMatch(/^incept serve: open http:\/\/127\.0\.0\.1:\d+\/ in a browser/m);
    expect(serverOut).toMatch(/^browser bundle .*dist\/browser\/incept\.js: \d+ bytes, \d+ gzip \(\d+ KiB \(\d+ KiB gzip\)\)$/m);
  });

  it('without --weights the page builds a demo model and is ready at once; a picked model file replaces it: the top 5, the per-layer chart, the classes Node computes', async () => {
    const page = await openPage();
    try {
      await waitForDemoModel(page);
      // Nothing chosen yet: no image placeholder.
      expect(await page.$eval('#preview', (e) => ({ hidden: (e as HTMLElement).hidden, shown: (e as HTMLElement).getClientRects().length > 0 }))).toEqual({
        hidden: true,
        shown: false,
      });
      expect(await page.$eval('#result', (e) => getComputedStyle(e).display)).toBe('none');
      const t0 = performance.now();
      // The model first: with an image already there, the demo model would classify it first.
      await pick(page, '#weights', WEIGHTS);
      await pick(page, '#image', TABBY);
      await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state ?? ''), { timeout: HANG_GUARD_MS, polling: 250 });
      const state = await serveState(page);
      expect(state.error, 'the page reported an error').toBeUndefined();
      await page.waitForFunction(() => document.body.dataset.chartsDrawn === '1', { timeout: HANG_GUARD_MS });
      console.info(`serve page: ${((performance.now() - t0) / 1000).toFixed(1)} s from picking the files to the drawn chart, adapter '${state.adapter}'`);

      expect(state.model).toEqual({
        description: 'Inception-v3 (CIFAR-10 variant), width 0.25, torchvision layout',
        format: 'torchvision',
        classes: 10,
        inputShape: [32, 32, 3],
      });
      const top = state.top!;
      expect(top).toHaveLength(5);
      for (let i = 1; i < 5; i++) expect(top[i]!.probability).toBeLessThanOrEqual(top[i - 1]!.probability);
      // The CIFAR-10 variant with 10 classes: CIFAR-10's names.
      expect(top.map((t) => t.label)).toEqual(top.map((t) => CIFAR10_CLASSES[t.index]));
      expect(await page.$eval('#preview', (e) => ({ hidden: (e as HTMLImageElement).hidden, src: (e as HTMLImageElement).src.startsWith('blob:') }))).toEqual({
        hidden: false,
        src: true,
      });
      const rows = await page.$$eval('#top tbody tr', (trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent)));
      expect(rows).toHaveLength(5);
      expect(rows[0]![0]).toBe(top[0]!.label);
      expect(rows[0]![2]).toBe(`${(100 * top[0]!.probability).toFixed(2)}%`);
      // Every conv, pool and the classifier of the network has a bar.
      expect(state.layers!.length).toBeGreaterThan(90);
      expect(state.layers!.map((l) => l.layer)).toEqual(expect.arrayContaining(['Conv2d_1a_3x3', 'Mixed_7c.branch_pool', 'fc']));
      expect(state.layers!.reduce((s, l) => s + l.ms, 0)).toBeGreaterThan(0);

      const c = await loadClassifier(engine, { weights: { name: 'cifar.safetensors', bytes: readFileSync(WEIGHTS) } });
      try {
        const node = await c.classify(await readImageFile(TABBY), { topk: 5 });
        expect(top.map((t) => t.index)).toEqual(node.top.map((t) => t.index));
        top.forEach((t, i) => expect(Math.abs(t.probability - node.top[i]!.probability)).toBeLessThan(1e-3));
      } finally {
        c.dispose();
      }
    } finally {
      await page.close();
    }
  });

  it('the demo model classifies an image picked alone, with CIFAR-10 names', async () => {
    const page = await openPage();
    try {
      await waitForDemoModel(page);
      await pick(page, '#image', TABBY);
      await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state ?? ''), { timeout: HANG_GUARD_MS, polling: 250 });
      const done = await serveState(page);
      expect(done.error, 'the page reported an error').toBeUndefined();
      expect(done.model?.description).toBe('Inception-v3 (CIFAR-10 variant), width 0.125, torchvision layout');
      expect(done.top).toHaveLength(5);
      expect(done.top!.map((t) => t.label)).toEqual(done.top!.map((t) => CIFAR10_CLASSES[t.index]));
    } finally {
      await page.close();
    }
  });

  it('a truncated model file shows an error naming it', async () => {
    const page = await openPage();
    try {
      await waitForDemoModel(page);
      await pick(page, '#weights', TRUNCATED);
      await pick(page, '#image', TABBY);
      await page.waitForFunction(() => document.body.dataset.state === 'error', { timeout: HANG_GUARD_MS, polling: 250 });
      const shown = await page.$eval('#error', (e) => ({ text: e.textContent, hidden: (e as HTMLElement).hidden }));
      expect(shown.hidden).toBe(false);
      expect(shown.text).toMatch(/^truncated\.safetensors: /);
      expect((await serveState(page)).error).toBe(shown.text);
    } finally {
      await page.close();
    }
  });

  it('started with --weights: the page loads the model as it opens and classifies the first image picked', async () => {
    expect(modelServerOut).toMatch(/model .*cifar\.safetensors \(torchvision\): the page loads it as it opens/);
    const page = await openPage(modelUrl);
    try {
      await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset.state ?? ''), { timeout: HANG_GUARD_MS, polling: 250 });
      const ready = await serveState(page);
      expect(ready.error, 'the page reported an error').toBeUndefined();
      expect(ready.state).toBe('ready');
      expect(ready.model).toEqual({
        description: 'Inception-v3 (CIFAR-10 variant), width 0.25, torchvision layout',
        format: 'torchvision',
        classes: 10,
        inputShape: [32, 32, 3],
      });
      expect(await page.$eval('#preview', (e) => (e as HTMLElement).hidden)).toBe(true);
      expect(await page.$eval('#model-help', (e) => e.textContent)).toMatch(/Model from the server: cifar\.safetensors/);
      await pick(page, '#image', TABBY);
      await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state ?? ''), { timeout: HANG_GUARD_MS, polling: 250 });
      const state = await serveState(page);
      expect(state.error, 'the page reported an error').toBeUndefined();
      const c = await loadClassifier(engine, { weights: { name: 'cifar.safetensors', bytes: readFileSync(WEIGHTS) } });
      try {
        const node = await c.classify(await readImageFile(TABBY), { topk: 5 });
        expect(state.top!.map((t) => t.index)).toEqual(node.top.map((t) => t.index));
        expect(state.top!.map((t) => t.label)).toEqual(node.top.map((t) => CIFAR10_CLASSES[t.index]));
      } finally {
        c.dispose();
      }
    } finally {
      await page.close();
    }
  });

  it('no uncaught page errors and no failed requests', () => {
    expect(pageErrors).toEqual([]);
    expect(failedRequests).toEqual([]);
  });

  it('Ctrl-C stops the server cleanly', async () => {
    const exited = new Promise<number | null>((resolve) => server!.once('exit', (code) => resolve(code)));
    server!.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(serverOut).toMatch(/Ctrl-C: stopping the server/);
  });
});
