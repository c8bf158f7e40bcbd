/**
 * The browser half of the peer benchmark: Inception-v3 inference at 299×299 in headless Chromium,
 * the engine against TensorFlow.js (WebGPU backend) and ONNX Runtime Web (WebGPU execution
 * provider), all three in one page on the one adapter Chromium gives it, with the same weights
 * and the same inputs.
 *
 * Node side (this file): builds the engine's Inception-v3 with random weights on the Node engine,
 * calibrates its BatchNorm statistics on a random batch and exports it as ONNX; bundles
 * page/main.ts with esbuild (the project's `common` settings and `browserStubs` plugin, as
 * test/browser/harness.ts does); serves the page, the ONNX bytes and ONNX Runtime Web's own
 * files over http://127.0.0.1 on an ephemeral port with cross-origin-isolation headers (ORT's
 * wasm threads need SharedArrayBuffer); launches Debian's Chromium with puppeteer-core and
 * collects what the page reports. In the page every library imports the same ONNX bytes: the
 * engine and TF.js through the engine's importer (graph IR → compileGraph / tfjsInferenceModel),
 * ORT directly.
 *
 * Timing is wall-clock latency of one inference, from the input on the host to the logits back
 * on the host (ORT offers no GPU timestamps, so the same definition holds for all three). Per
 * batch: one untimed warm-up per library, then `repeats` rounds in which each library runs once
 * in turn. maxRelErr = max |peer − engine| / max |engine| over the logits, the worst round.
 *
 * esbuild and puppeteer-core are imported at run time by computed names: the Node bundle
 * (build.mjs) then leaves them alone whatever its `external` list says, and Node finds them in
 * the project's node_modules. Paths are found by walking up to the project root, so this works
 * from the sources and from the bundle in bench/peers/node_modules/.cache alike.
 */
import { createReadStream, existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as Esbuild from 'esbuild';
import type * as Puppeteer from 'puppeteer-core';
import type { Engine } from '../../src/runtime/engine.js';
import { median } from '../../src/runtime/timing.js';
import { randomInceptionV3 } from './inception.js';
import { exportInceptionV3Onnx } from '../../src/io/onnx/export.js';
import type { PageConfig, PageMessage, PageRow, PeerName } from './page/protocol.js';
import { pairTimes } from './compare.js';
import type { PeerReportRow, PeerTiming } from '../../src/bench/peers-report.js';
import { closeServer, listenOnLoopback } from '../../src/serve/loopback.js';
import { CHROMIUM_ARGS } from '../../src/serve/chromium.js';

export type { PeerName } from './page/protocol.js';

/** Which adapter Chromium's WebGPU should use. 'swiftshader' (default) is what Chromium here
 * gives. 'lavapipe' asks for ANGLE on Vulkan with Mesa's lavapipe visible; Chromium 156 still
 * hands WebGPU SwiftShader (or no adapter) then, so the run fails with a clear error instead of
 * silently measuring SwiftShader. */
export type BrowserAdapterChoice = 'swiftshader' | 'lavapipe';

/** Which ONNX Runtime Web build: 'webgpu' = ort.webgpu.min.mjs, the C++ WebGPU EP (default);
 * 'jsep' = ort.min.mjs, the older JavaScript WebGPU EP. */
export type OrtBuild = 'webgpu' | 'jsep';

export interface BrowserPeerOptions {
  batches: number[];
  repeats: number;
  /** Seeds the weights, the calibration batch and the inputs (default 1). */
  seed?: number;
  /** The longest the page may take over one step (loading the libraries, one inference of one
   * library) before the run fails naming that step, ms. Default 10 minutes. The page must also
   * start reporting within a minute of opening. */
  timeoutMs?: number;
  onProgress?: (m: string) => void;
  /** Default 'swiftshader' (see BrowserAdapterChoice). */
  adapter?: BrowserAdapterChoice;
  /** Default 'webgpu' (see OrtBuild). */
  ortBuild?: OrtBuild;
  /** Default env CHROMIUM_PATH, else /usr/bin/chromium. */
  executablePath?: string;
}

export type BrowserPeerTiming = PeerTiming;

/** A row measured in the page: the engine and both peers, wall time. */
export type BrowserPeerRow = PeerReportRow & { group: 'inference'; environment: 'chromium'; timing: 'wall'; peers: Record<PeerName, PeerTiming> };

export interface BrowserPeerResult {
  adapter: string;
  libraries: Record<string, string>;
  rows: BrowserPeerRow[];
}

export const DEFAULT_BROWSER_TIMEOUT_MS = 10 * 60_000;

/** From opening the page to its first message (the bundle loaded and ran). */
const PAGE_START_TIMEOUT_MS = 60_000;

/** The project's Chromium flags, plus the adapter's description in adapter.info. */
const PAGE_CHROMIUM_ARGS = [...CHROMIUM_ARGS, '--enable-webgpu-developer-features'];

/** ANGLE on Vulkan makes Chromium's GPU process load the system's Vulkan drivers (lavapipe among
 * them, from /usr/share/vulkan/icd.d); WebGPU still picks its own adapter. */
const LAVAPIPE_ARGS = ['--use-gl=angle', '--use-angle=vulkan', '--enable-features=Vulkan', '--ignore-gpu-blocklist', '--disable-vulkan-surface'];

const PAGE_HTML = `<!doctype html>
<html>
<head>
  <meta charset="utf-8">
  <title>incept-gpu vs peers: Inception-v3 in Chromium</title>
  <link rel="icon" href="data:,">
</head>
<body>
  <script type="module" src="/page.js"></script>
</body>
</html>
`;

/** The project root: the first folder above this module holding esbuild.config.mjs and src/. */
function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'esbuild.config.mjs')) && existsSync(join(dir, 'src'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`browser peers: cannot find the project root (esbuild.config.mjs) above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** A module by a name esbuild does not see (so a bundle keeps it external). */
async function importAtRunTime<M>(name: string): Promise<M> {
  const spec = [name][0]!;
  return (await import(/* @vite-ignore */ spec)) as M;
}

interface EsbuildConfig {
  common: Esbuild.BuildOptions;
  browserStubs: Esbuild.Plugin;
}

async function bundlePage(root: string): Promise<Map<string, Uint8Array>> {
  const esbuild = await importAtRunTime<typeof Esbuild>('esbuild');
  const { common, browserStubs } = (await import(/* @vite-ignore */ pathToFileURL(join(root, 'esbuild.config.mjs')).href)) as EsbuildConfig;
  const result = await esbuild.build({
    ...common,
    absWorkingDir: root,
    entryPoints: [join(root, 'bench/peers/page/main.ts')],
    entryNames: 'page',
    outdir: join(tmpdir(), 'incept-peers-bundle'),
    write: false,
    platform: 'browser',
    target: 'chrome120',
    plugins: [browserStubs],
    logLevel: 'error',
  });
  return new Map(result.outputFiles.map((f) => [basename(f.path), f.contents]));
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.map': 'application/json',
  '.onnx': 'application/octet-stream',
};
const typeOf = (name: string) => TYPES[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream';

/** Everything the page loads, same-origin, with the headers that make it cross-origin isolated
 * (SharedArrayBuffer, so ONNX Runtime's wasm threads). /ort/NAME serves a file of ORT's dist
 * folder (plain names only). */
function serve(files: Map<string, Uint8Array>, ortDist: string): Promise<Server> {
  const isolation = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp', 'cache-control': 'no-store' };
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (path === '/') {
      res.writeHead(200, { ...isolation, 'content-type': 'text/html; charset=utf-8' }).end(PAGE_HTML);
      return;
    }
    const ort = /^\/ort\/([A-Za-z0-9._-]+)$/.exec(path);
    if (ort) {
      const file = join(ortDist, ort[1]!);
      stat(file).then(
        (s) => {
          res.writeHead(200, { ...isolation, 'content-type': typeOf(file), 'content-length': s.size });
          createReadStream(file).pipe(res);
        },
        () => res.writeHead(404, { ...isolation, 'content-type': 'text/plain' }).end('not found'),
      );
      return;
    }
    const body = files.get(path.slice(1));
    if (!body) {
      res.writeHead(404, { ...isolation, 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { ...isolation, 'content-type': typeOf(path), 'content-length': body.byteLength }).end(body);
  });
  return listenOnLoopback(server);
}

/** The engine's Inception-v3 with random weights (seeded) and BatchNorm statistics calibrated on
 * a random batch, as ONNX (NCHW input [N, 3, 299, 299], logits out; no aux head). */
export async function inceptionV3OnnxBytes(engine: Engine, seed: number): Promise<Uint8Array> {
  const model = await randomInceptionV3(engine, seed);
  try {
    return await exportInceptionV3Onnx(model);
  } finally {
    model.dispose();
  }
}

/** A page row (times of every round) → the summary row the report uses. */
export function summarizeRow(row: PageRow): BrowserPeerRow {
  const e = row.engineMs;
  if (e.length === 0) throw new Error(`browser peers: batch ${row.batch} has no timed rounds`);
  const peer = (name: PeerName): BrowserPeerTiming => {
    const p = row.peers[name];
    if (p.ms.length !== e.length) throw new Error(`browser peers: ${name} ran ${p.ms.length} rounds at batch ${row.batch}, the engine ${e.length}`);
    return { ...pairTimes(p.ms, e), maxRelErr: p.maxRelErr };
  };
  return {
    group: 'inference',
    environment: 'chromium',
    timing: 'wall',
    name: 'Inception-v3 inference 299×299',
    batch: row.batch,
    engineMs: median(e),
    engineMsMin: Math.min(...e),
    engineMsMax: Math.max(...e),
    peers: { 'tfjs-webgpu': peer('tfjs-webgpu'), 'ort-web-webgpu': peer('ort-web-webgpu') },
  };
}

/** Runs the comparison; throws an Error naming the library and step for anything that goes
 * wrong in the page (a library failing to load, no WebGPU, a crash, a timeout). */
export async function runBrowserPeers(engine: Engine, options: BrowserPeerOptions): Promise<BrowserPeerResult> {
  const { batches, repeats } = options;
  if (batches.length === 0 || batches.some((b) => !Number.isInteger(b) || b < 1))
    throw new Error(`browser peers: batches must be positive integers, got [${batches.join(', ')}]`);
  if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`browser peers: repeats must be a positive integer, got ${repeats}`);
  const seed = options.seed ?? 1;
  const timeoutMs = options.timeoutMs ?? DEFAULT_BROWSER_TIMEOUT_MS;
  const adapterChoice = options.adapter ?? 'swiftshader';
  const ortBuild = options.ortBuild ?? 'webgpu';
  const progress = options.onProgress ?? (() => undefined);
  const executablePath = options.executablePath ?? (process.env.CHROMIUM_PATH || '/usr/bin/chromium');
  if (!existsSync(executablePath)) throw new Error(`browser peers: Chromium not found at ${executablePath} (set CHROMIUM_PATH, or run \`npm run setup\`)`);

  const root = projectRoot();
  const ortDist = join(root, 'bench/peers/node_modules/onnxruntime-web/dist');
  if (!existsSync(ortDist)) throw new Error(`browser peers: ONNX Runtime Web not installed (${ortDist} missing): run \`npm --prefix bench/peers ci\``);

  progress('browser: building Inception-v3 (random weights, calibrated BatchNorm) and exporting ONNX');
  const onnx = await inceptionV3OnnxBytes(engine, seed);
  progress(`browser: bundling the page (ONNX ${(onnx.byteLength / 1e6).toFixed(1)} MB)`);
  const files = await bundlePage(root);
  const config: PageConfig = { batches, repeats, seed, ortBuild, expectLavapipe: adapterChoice === 'lavapipe' };
  files.set('model.onnx', onnx);
  files.set('config.json', new TextEncoder().encode(JSON.stringify(config)));

  const puppeteer = (await importAtRunTime<{ default: typeof Puppeteer.default }>('puppeteer-core')).default;
  const userDataDir = await mkdtemp(join(tmpdir(), 'incept-peers-chromium-'));
  let server: Server | undefined;
  let browser: Puppeteer.Browser | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    server = await serve(files, ortDist);
    const { port } = server.address() as AddressInfo;
    progress(`browser: starting Chromium (${adapterChoice})`);
    browser = await puppeteer.launch({
      executablePath,
      headless: true,
      args: [...PAGE_CHROMIUM_ARGS, ...(adapterChoice === 'lavapipe' ? LAVAPIPE_ARGS : []), `--user-data-dir=${userDataDir}`],
      // The protocol timeout must outlast the longest step.
      protocolTimeout: Math.max(timeoutMs, PAGE_START_TIMEOUT_MS) + 60_000,
    });
    const chromiumVersion = await browser.version();
    const page = await browser.newPage();

    let lastStep = 'loading the page';
    const consoleErrors: string[] = [];
    const outcome = new Promise<Extract<PageMessage, { type: 'done' }>>((resolve, reject) => {
      const fail = (what: string) =>
        reject(
          new Error(`browser peers: ${what} (while ${lastStep})${consoleErrors.length ? `; console errors: ${consoleErrors.slice(-5).join(' | ')}` : ''}`),
        );
      const arm = (ms: number) => {
        clearTimeout(timer);
        timer = setTimeout(() => fail(`no progress for ${(ms / 1000).toFixed(0)} s`), ms);
      };
      arm(PAGE_START_TIMEOUT_MS);
      page.on('pageerror', (err) => fail(`uncaught error in the page: ${err instanceof Error ? err.message : String(err)}`));
      page.on('error', (err) => fail(`the page crashed: ${err.message}`));
      page.on('console', (msg) => {
        if (msg.type() === 'error') consoleErrors.push(msg.text().slice(0, 500));
      });
      page.on('response', (res) => {
        if (res.status() >= 400) consoleErrors.push(`${res.url()}: HTTP ${res.status()}`);
      });
      void page
        .exposeFunction('__peerReport', (m: PageMessage) => {
          if (m.type === 'progress') {
            arm(timeoutMs);
            lastStep = m.message;
            progress(`browser: ${m.message}`);
          } else if (m.type === 'error') {
            fail(`${m.library}: ${m.message}`);
          } else {
            resolve(m);
          }
        })
        .then(() => page.goto(`http://127.0.0.1:${port}/`, { waitUntil: 'load' }))
        .catch((e: unknown) => fail(`could not open the page: ${e instanceof Error ? e.message : String(e)}`));
    });
    const done = await outcome;
    return {
      adapter: `${done.adapter} (Chromium ${chromiumVersion.replace(/^[^/]*\//, '')})`,
      libraries: {
        'tfjs-webgpu': `@tensorflow/tfjs-backend-webgpu ${done.versions.tfjs} (Chromium)`,
        'ort-web-webgpu': `onnxruntime-web ${done.versions.ort} (${ortBuild === 'webgpu' ? 'WebGPU EP, C++' : 'WebGPU EP, JS (JSEP)'}; Chromium)`,
      },
      rows: done.rows.map(summarizeRow),
    };
  } finally {
    if (timer) clearTimeout(timer);
    await browser?.close().catch(() => undefined);
    if (server) await closeServer(server);
    await rm(userDataDir, { recursive: true, force: true });
  }
}
