/**
 * `incept serve`: a local HTTP server (node:http) for the in-browser classifier page
 * (src/serve/page.ts). It serves the page, the browser bundle (dist/browser/incept.js, read on
 * each request so a rebuild shows on reload), Chart.js, and nothing else: the model and the
 * image stay in the browser. It prints the URL and the bundle's size; Ctrl-C (or SIGTERM) closes
 * it and the command returns.
 */
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Command } from 'commander';
import pkg from '../../package.json' with { type: 'json' };
import { InceptError } from '../runtime/errors.js';
import { readUserFile } from '../io/read-user-file.js';
import { loadChartJs } from '../io/html-report.js';
import { parseLabels } from '../api/labels.js';
import { servePageHtml } from '../serve/page.js';
import { defaultLabelsPath, packageRoot } from './package-root.js';

export interface ServeOptions {
  port?: number | string;
  host?: string;
  /** The browser bundle to serve (default dist/browser/incept.js in the package). */
  bundle?: string;
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
  close(): Promise<void>;
}

function parsePort(v: number | string | undefined): number {
  if (v === undefined) return 8080;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535 || (typeof v === 'string' && v.trim() === '')) throw new InceptError(`--port needs a port number 0–65535 (0: any free port), got '${String(v)}'`);
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
  if (e.code === 'EADDRNOTAVAIL') return new InceptError(`--host '${host}' is not an address of this machine; give one of its addresses (127.0.0.1, 0.0.0.0 for all)`);
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return new InceptError(`--host '${host}' does not resolve to an address (${e.code}); give an IP address or a known host name`);
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
  const page = servePageHtml({ ...(labels ? { labels } : {}), bundleSize: formatBundleSize(bundle), version: pkg.version });

  const send = (res: ServerResponse, status: number, type: string, body: string | Uint8Array) => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' }).end(body);
  };
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain; charset=utf-8', 'only GET\n');
    try {
      if (path === '/' || path === '/index.html') return send(res, 200, 'text/html; charset=utf-8', page);
      if (path === '/incept.js') return send(res, 200, 'text/javascript; charset=utf-8', await readUserFile(bundlePath, { what: 'browser bundle' }));
      if (path === '/incept.js.map' && existsSync(`${bundlePath}.map`)) return send(res, 200, 'application/json', await readUserFile(`${bundlePath}.map`, { what: 'source map' }));
      if (path === '/chart.js') return send(res, 200, 'text/javascript; charset=utf-8', chart.source);
      return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    } catch (e) {
      return send(res, 500, 'text/plain; charset=utf-8', `${(e as Error).message}\n`);
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
    .description('Serve a page that classifies an image in the browser with WebGPU: drop an image and a model file (safetensors, ONNX, TF.js), see the top 5 and the GPU time per layer')
    .option('--port <n>', 'port (default 8080; 0: any free port)')
    .option('--host <address>', 'address to listen on (default 127.0.0.1; WebGPU needs localhost or https)')
    .action(async (opts: ServeOptions) => runServe(opts));
}
