/**
 * `incept serve`: a local HTTP server (node:http) for the in-browser classifier page
 * (src/serve/page.ts). It serves the page, the browser bundle (dist/browser/incept.js, read on
 * each request so a rebuild shows on reload), Chart.js, and with `--weights FILE` that model
 * file (and a TF.js model's shards) under /model/N, which the page loads as it opens. Text is
 * sent gzip- or brotli-compressed when the request's Accept-Encoding allows. Images stay in the
 * browser. It prints the URL and the bundle's size; Ctrl-C (or SIGTERM) closes it and the
 * command returns.
 */
import { existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { basename, dirname, join, resolve as resolvePath, sep } from 'node:path';
import { brotliCompressSync, constants as zlibConstants, gzipSync } from 'node:zlib';
import type { Command } from 'commander';
import pkg from '../../package.json' with { type: 'json' };
import { InceptError } from '../runtime/errors.js';
import { readUserFile, UserFileError } from '../io/read-user-file.js';
import { loadChartJs } from '../io/html-report.js';
import { parseLabels } from '../api/labels.js';
import { detectModelFormat, type ModelFormat } from '../api/format.js';
import { servePageHtml, type ServedModelInfo } from '../serve/page.js';
import { defaultLabelsPath, packageRoot } from './package-root.js';

export interface ServeOptions {
  port?: number | string;
  host?: string;
  /** The browser bundle to serve (default dist/browser/incept.js in the package). */
  bundle?: string;
  /** A model file the page loads as it opens: .safetensors, .onnx or a TF.js model.json (its
   * shards beside it), as `incept infer --weights` takes. Without it the page asks for one. */
  weights?: string;
}

/** The model `--weights` names: its file(s), served as /model/0, /model/1, … */
export interface ServedModel {
  path: string;
  format: ModelFormat;
  /** The model file first, then a TF.js model's shards; `name` is what the page calls it. */
  files: { name: string; path: string; bytes: number }[];
}

/** Checks `--weights` before the server starts: readable, a format the page loads, and for a
 * TF.js model.json every shard it lists present beside it. */
export async function servedModel(path: string): Promise<ServedModel> {
  let bytes: Uint8Array;
  try {
    bytes = await readUserFile(path, { what: 'model file', directoryHint: 'give the model file (for TF.js, its model.json)' });
  } catch (e) {
    throw new InceptError(`--weights ${path}: ${e instanceof UserFileError ? e.problem : (e as Error).message}`);
  }
  let format: ModelFormat;
  try {
    format = detectModelFormat(bytes, basename(path));
  } catch (e) {
    throw new InceptError(`--weights ${path}: ${(e as Error).message}`);
  }
  const files = [{ name: basename(path), path, bytes: bytes.length }];
  if (format === 'tfjs') {
    let manifest: unknown;
    try {
      manifest = (JSON.parse(new TextDecoder().decode(bytes)) as { weightsManifest?: unknown }).weightsManifest;
    } catch (e) {
      throw new InceptError(`--weights ${path}: not valid JSON: ${(e as Error).message}`);
    }
    const dir = resolvePath(dirname(path));
    const shards = Array.isArray(manifest) ? manifest.flatMap((g: { paths?: unknown }) => (Array.isArray(g?.paths) ? g.paths : [])) : [];
    for (const shard of shards) {
      const full = typeof shard === 'string' ? resolvePath(dir, shard) : '';
      if (typeof shard !== 'string' || !full.startsWith(dir + sep))
        throw new InceptError(`--weights ${path}: the weight shard ${JSON.stringify(shard)} is not a file beside model.json`);
      if (!existsSync(full)) throw new InceptError(`--weights ${path} lists the weight shard '${shard}', which is not at ${full}`);
      files.push({ name: shard, path: full, bytes: statSync(full).size });
    }
  }
  return { path, format, files };
}

/** The encodings a request accepts, best first: br, then gzip (q=0 refuses one; * allows both). */
export function acceptedEncoding(header: string | string[] | undefined): 'br' | 'gzip' | undefined {
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  const q = new Map<string, number>();
  for (const part of text.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (!name) continue;
    const qp = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const value = qp ? Number(qp.slice(2)) : 1;
    q.set(name, Number.isFinite(value) ? value : 0);
  }
  const ok = (name: string) => (q.has(name) ? q.get(name)! : (q.get('*') ?? 0)) > 0;
  if (ok('br')) return 'br';
  if (ok('gzip')) return 'gzip';
  return undefined;
}

/** Compressed copies of the text the server sends, kept while the content is the same. */
const compressedCache = new Map<string, { source: Uint8Array; body: Uint8Array }>();

function compressed(body: Uint8Array, encoding: 'br' | 'gzip', key: string): Uint8Array {
  const cacheKey = `${encoding}:${key}`;
  const hit = compressedCache.get(cacheKey);
  if (hit && hit.source.length === body.length && Buffer.compare(hit.source, body) === 0) return hit.body;
  const out =
    encoding === 'br'
      ? brotliCompressSync(body, {
          params: {
            [zlibConstants.BROTLI_PARAM_QUALITY]: 9,
            [zlibConstants.BROTLI_PARAM_MODE]: zlibConstants.BROTLI_MODE_TEXT,
            [zlibConstants.BROTLI_PARAM_SIZE_HINT]: body.length,
          },
        })
      : gzipSync(body, { level: 9 });
  compressedCache.set(cacheKey, { source: body, body: out });
  return out;
}

export interface BundleSize {
  path: string;
  bytes: number;
  gzipBytes: number;
}

/** The browser bundle's size as shipped and gzip-compressed (level 9, as servers and CDNs send it). */
export async function browserBundleSize(path: string = join(packageRoot(), 'dist', 'browser', 'incept.js')): Promise<BundleSize> {
  if (!existsSync(path)) throw new InceptError(`${path} does not exist: build the browser bundle first (npm run build)`);
  const bytes = await readUserFile(path, { what: 'browser bundle' });
  return { path, bytes: bytes.length, gzipBytes: gzipSync(bytes, { level: 9 }).length };
}

export function formatBundleSize(s: BundleSize): string {
  const kb = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
  return `${kb(s.bytes)} (${kb(s.gzipBytes)} gzip)`;
}

export interface RunningServer {
  server: Server;
  url: string;
  bundle: BundleSize;
  /** What `--weights` named, when given. */
  model?: ServedModel;
  close(): Promise<void>;
}

function parsePort(v: number | string | undefined): number {
  if (v === undefined) return 8080;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535 || (typeof v === 'string' && v.trim() === ''))
    throw new InceptError(`--port needs a port number 0–65535 (0: any free port), got '${String(v)}'`);
  return n;
}

/** An IP address or a host name (RFC 1123 labels); anything else cannot be listened on. */
function parseHost(v: string | undefined): string {
  if (v === undefined) return '127.0.0.1';
  const hostname = /^(?=.{1,253}\.?$)[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*\.?$/;
  if (isIP(v) === 0 && !hostname.test(v)) throw new InceptError(`--host needs an address to listen on (an IP address or a host name), got '${v}'`);
  return v;
}

/** Both flags, checked before anything starts. */
export function parseServeOptions(options: ServeOptions): { port: number; host: string } {
  return { port: parsePort(options.port), host: parseHost(options.host) };
}

function listenError(e: NodeJS.ErrnoException, host: string, port: number): Error {
  if (e.code === 'EADDRINUSE') return new InceptError(`port ${port} on ${host} is in use; pick another with --port (0: any free port)`);
  if (e.code === 'EACCES') return new InceptError(`no permission to listen on ${host}:${port}; use a port above 1023`);
  if (e.code === 'EADDRNOTAVAIL')
    return new InceptError(`--host '${host}' is not an address of this machine; give one of its addresses (127.0.0.1, 0.0.0.0 for all)`);
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN')
    return new InceptError(`--host '${host}' does not resolve to an address (${e.code}); give an IP address or a known host name`);
  return e;
}

/** Starts the server; resolves once it listens. */
export async function startServer(options: ServeOptions = {}): Promise<RunningServer> {
  const { port, host } = parseServeOptions(options);
  const bundlePath = options.bundle ?? join(packageRoot(), 'dist', 'browser', 'incept.js');
  const bundle = await browserBundleSize(bundlePath);
  const chart = loadChartJs();
  const labelsPath = defaultLabelsPath();
  let labels: string[] | undefined;
  try {
    labels = existsSync(labelsPath) ? parseLabels(new TextDecoder().decode(await readUserFile(labelsPath, { what: 'labels file' })), labelsPath) : undefined;
  } catch {
    labels = undefined; // the page then shows class indices; a broken optional file is no reason to stop
  }
  const model = options.weights !== undefined ? await servedModel(options.weights) : undefined;
  const modelInfo: ServedModelInfo | undefined = model && {
    format: model.format,
    files: model.files.map((f, i) => ({ name: f.name, url: `/model/${i}`, bytes: f.bytes })),
  };
  const page = servePageHtml({
    ...(labels ? { labels } : {}),
    bundleSize: formatBundleSize(bundle),
    version: pkg.version,
    ...(modelInfo ? { model: modelInfo } : {}),
  });

  const send = (req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string | Uint8Array, key?: string) => {
    const headers: Record<string, string> = { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
    let bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
    // Text is compressed when the client accepts it (and worth it); model files are sent as they are.
    if (key !== undefined) {
      headers.vary = 'Accept-Encoding';
      const encoding = bytes.length >= 1024 ? acceptedEncoding(req.headers['accept-encoding']) : undefined;
      if (encoding) {
        bytes = compressed(bytes, encoding, key);
        headers['content-encoding'] = encoding;
      }
    }
    headers['content-length'] = String(bytes.length);
    res.writeHead(status, headers).end(req.method === 'HEAD' ? undefined : bytes);
  };
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(req, res, 405, 'text/plain; charset=utf-8', 'only GET\n');
    try {
      if (path === '/' || path === '/index.html') return send(req, res, 200, 'text/html; charset=utf-8', page, 'page');
      if (path === '/incept.js')
        return send(req, res, 200, 'text/javascript; charset=utf-8', await readUserFile(bundlePath, { what: 'browser bundle' }), 'bundle');
      if (path === '/incept.js.map' && existsSync(`${bundlePath}.map`))
        return send(req, res, 200, 'application/json', await readUserFile(`${bundlePath}.map`, { what: 'source map' }), 'map');
      if (path === '/chart.js') return send(req, res, 200, 'text/javascript; charset=utf-8', chart.source, 'chart');
      const served = /^\/model\/(\d+)$/.exec(path);
      const file = served && model ? model.files[Number(served[1])] : undefined;
      if (file) {
        const json = /\.json$/i.test(file.name);
        return send(
          req,
          res,
          200,
          json ? 'application/json' : 'application/octet-stream',
          await readUserFile(file.path, { what: 'model file' }),
          json ? `model:${file.path}` : undefined,
        );
      }
      return send(req, res, 404, 'text/plain; charset=utf-8', 'not found\n');
    } catch (e) {
      return send(req, res, 500, 'text/plain; charset=utf-8', `${(e as Error).message}\n`);
    }
  };
  const server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(listenError(e, host, port)));
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${shownHost === '0.0.0.0' || shownHost === '[::]' ? 'localhost' : shownHost}:${address.port}/`,
    bundle,
    ...(model ? { model } : {}),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** `incept serve`: runs until Ctrl-C or SIGTERM. */
export async function runServe(options: ServeOptions): Promise<void> {
  parseServeOptions(options);
  const running = await startServer(options);
  console.log(`incept serve: open ${running.url} in a browser with WebGPU (Chrome, Edge; Ctrl-C stops)`);
  console.log(`browser bundle ${running.bundle.path}: ${running.bundle.bytes} bytes, ${running.bundle.gzipBytes} gzip (${formatBundleSize(running.bundle)})`);
  console.log(
    running.model
      ? `model ${running.model.path} (${running.model.format}${running.model.files.length > 1 ? `, ${running.model.files.length - 1} shard(s)` : ''}): the page loads it as it opens`
      : 'no model given (--weights FILE): the page asks for a model file and says how to make one',
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      process.stderr.write(`\n${signal}: stopping the server\n`);
      void running.close().then(resolve);
    };
    const onInt = () => stop('Ctrl-C');
    const onTerm = () => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
}

/** Adds `incept serve` to the program (main.ts calls this once). */
export function registerServeCommand(program: Command): Command {
  return program
    .command('serve')
    .description(
      'Serve a page that classifies an image in the browser with WebGPU: drop an image and a model file (safetensors, ONNX, TF.js), see the top 5 and the GPU time per layer',
    )
    .option('--port <n>', 'port (default 8080; 0: any free port)')
    .option('--host <address>', 'address to listen on (default 127.0.0.1; WebGPU needs localhost or https)')
    .option(
      '--weights <file>',
      'a model the page loads as it opens, as `incept infer` takes: .safetensors, .onnx, or a TF.js model.json with its shards beside it (default: none; the page asks for one and says how to make one)',
    )
    .action(async (opts: ServeOptions) => runServe(opts));
}
