/**
 * Runs test/browser/page.ts in headless Chromium and returns what it reported.
 *
 * page.ts is bundled in memory with the project's own esbuild settings (`common`, and
 * `browserStubs`, which replaces the Node-only adapter discovery), served with a small HTML page
 * over http://127.0.0.1 on an ephemeral port (navigator.gpu does not exist on about:blank or
 * file://), and opened with puppeteer-core in Debian's Chromium, whose WebGPU adapter here is
 * SwiftShader. Page errors, console errors and failed requests are collected alongside the
 * page's own results. The browser, the server and the profile directory are always cleaned up.
 */
import { access, constants, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import puppeteer, { TimeoutError, type Browser } from 'puppeteer-core';
import type { PageResults } from './page.js';
import { closeServer, listenOnLoopback } from '../../src/serve/loopback.js';
import { CHROMIUM_ARGS } from '../../src/serve/chromium.js';

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

/** SwiftShader runs every kernel on the CPU: the whole page takes minutes on a loaded machine. */
export const DEFAULT_PAGE_TIMEOUT_MS = 5 * 60_000;

export interface HarnessOptions {
  /** Seed for the page's random inputs (passed as `?seed=`). */
  seed: number;
  /** How long to wait for `window.__inceptResults.done`. */
  timeoutMs?: number;
  /** Defaults to env CHROMIUM_PATH, else /usr/bin/chromium. */
  executablePath?: string;
}

export interface HarnessOutcome {
  /** What the page left in window.__inceptResults (partial if it timed out), if anything. */
  results?: PageResults;
  timedOut: boolean;
  /** Uncaught exceptions and unhandled rejections in the page, and renderer crashes. */
  pageErrors: string[];
  /** console.error messages, and Chromium's own error-level console messages. */
  consoleErrors: string[];
  /** Every console message with its type, for diagnostics. */
  consoleLog: string[];
  /** Requests that failed at the network level or answered with a status >= 400. */
  failedRequests: string[];
  browserVersion: string;
  timings: { bundleMs: number; launchMs: number; pageMs: number };
}

export { CHROMIUM_ARGS } from '../../src/serve/chromium.js';

interface EsbuildConfig {
  common: esbuild.BuildOptions;
  browserStubs: esbuild.Plugin;
}

/** esbuild.config.mjs has no type declarations; importing it through a computed URL keeps tsc
 * from resolving it, and the interface above states the two exports used. */
async function loadEsbuildConfig(): Promise<EsbuildConfig> {
  const url = new URL('../../esbuild.config.mjs', import.meta.url).href;
  return (await import(/* @vite-ignore */ url)) as EsbuildConfig;
}

export function chromiumPath(): string {
  return process.env.CHROMIUM_PATH || DEFAULT_CHROMIUM;
}

/** Fails (never skips) when Chromium is absent, saying how to install it. */
export async function assertChromium(path: string): Promise<void> {
  try {
    await access(path, constants.X_OK);
  } catch {
    throw new Error(
      `Chromium not found at ${path} (set CHROMIUM_PATH to use another): run \`npm run setup\` ` +
        '(as root it runs `apt-get install -y chromium`). The browser tests need it; they are not skipped without it.',
    );
  }
}

export interface LaunchedChromium {
  browser: Browser;
  /** Closes the browser and removes its profile directory; safe to call more than once. */
  close(): Promise<void>;
}

/** Launches headless Chromium the way runBrowserPage does (same check, flags and throwaway
 * profile), for tests that open their own pages. Fails (never skips) when Chromium is absent. */
export async function launchChromium(executablePath: string = chromiumPath()): Promise<LaunchedChromium> {
  await assertChromium(executablePath);
  const userDataDir = await mkdtemp(join(tmpdir(), 'incept-chromium-'));
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      executablePath,
      headless: true,
      args: [...CHROMIUM_ARGS, `--user-data-dir=${userDataDir}`],
    });
  } catch (e) {
    await rm(userDataDir, { recursive: true, force: true });
    throw e;
  }
  return {
    browser,
    async close() {
      await browser.close().catch(() => undefined);
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Bundles page.ts in memory: file name → contents (the script and its source map). */
async function bundlePage(): Promise<Map<string, Uint8Array>> {
  const { common, browserStubs } = await loadEsbuildConfig();
  const result = await esbuild.build({
    ...common,
    entryPoints: [fileURLToPath(new URL('./page.ts', import.meta.url))],
    entryNames: 'page',
    // With write: false nothing is written; outdir only names the output files.
    outdir: join(tmpdir(), 'incept-browser-bundle'),
    write: false,
    platform: 'browser',
    target: 'chrome120',
    plugins: [browserStubs],
  });
  return new Map(result.outputFiles.map((f) => [basename(f.path), f.contents]));
}

const PAGE_HTML = `<!doctype html>
<html>
<head>
  <meta charset="utf-8">
  <title>incept-gpu browser test</title>
  <!-- no favicon request, so no 404 in the console -->
  <link rel="icon" href="data:,">
</head>
<body>
  <script type="module" src="/page.js"></script>
</body>
</html>
`;

function serve(files: Map<string, Uint8Array>): Promise<Server> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE_HTML);
      return;
    }
    const body = files.get(path.slice(1));
    if (!body) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const type = path.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'application/json';
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
  });
  return listenOnLoopback(server);
}

/** Bundles, serves and runs page.ts in headless Chromium; resolves with everything observed. */
export async function runBrowserPage(options: HarnessOptions): Promise<HarnessOutcome> {
  const executablePath = options.executablePath ?? chromiumPath();
  await assertChromium(executablePath);
  const timeoutMs = options.timeoutMs ?? DEFAULT_PAGE_TIMEOUT_MS;

  const t0 = performance.now();
  const files = await bundlePage();
  const bundleMs = performance.now() - t0;

  let server: Server | undefined;
  let browser: Browser | undefined;
  const userDataDir = await mkdtemp(join(tmpdir(), 'incept-chromium-'));
  try {
    server = await serve(files);
    const { port } = server.address() as AddressInfo;

    const t1 = performance.now();
    browser = await puppeteer.launch({
      executablePath,
      headless: true,
      args: [...CHROMIUM_ARGS, `--user-data-dir=${userDataDir}`],
    });
    const browserVersion = await browser.version();
    const page = await browser.newPage();
    const launchMs = performance.now() - t1;

    const outcome: HarnessOutcome = {
      timedOut: false,
      pageErrors: [],
      consoleErrors: [],
      consoleLog: [],
      failedRequests: [],
      browserVersion,
      timings: { bundleMs, launchMs, pageMs: 0 },
    };
    page.on('pageerror', (err) => outcome.pageErrors.push(err instanceof Error ? (err.stack ?? err.message) : String(err)));
    page.on('error', (err) => outcome.pageErrors.push(`page crashed: ${err.message}`));
    page.on('console', (msg) => {
      const loc = msg.location();
      const text = `${msg.text()}${loc.url ? ` (${loc.url}:${loc.lineNumber ?? '?'})` : ''}`;
      outcome.consoleLog.push(`[${msg.type()}] ${text}`);
      if (msg.type() === 'error') outcome.consoleErrors.push(text);
    });
    page.on('requestfailed', (req) => outcome.failedRequests.push(`${req.url()}: ${req.failure()?.errorText ?? 'failed'}`));
    page.on('response', (res) => {
      if (res.status() >= 400) outcome.failedRequests.push(`${res.url()}: HTTP ${res.status()}`);
    });

    const t2 = performance.now();
    await page.goto(`http://127.0.0.1:${port}/?seed=${options.seed}`, { waitUntil: 'load' });
    try {
      await page.waitForFunction(() => window.__inceptResults?.done === true, { timeout: timeoutMs, polling: 250 });
    } catch (e) {
      if (!(e instanceof TimeoutError)) throw e;
      outcome.timedOut = true;
    }
    outcome.timings.pageMs = performance.now() - t2;
    // A plain-data copy of the page's object (partial when timed out, for the report).
    outcome.results = await page.evaluate(() => window.__inceptResults);
    return outcome;
  } finally {
    await browser?.close().catch(() => undefined);
    if (server) await closeServer(server);
    await rm(userDataDir, { recursive: true, force: true });
  }
}
