/**
 * `incept serve` over HTTP, without a browser: `--weights FILE` is checked before the server
 * starts and served to the page (a TF.js model.json with its shards), the page says how to get a
 * model when none is given, keeps the image preview hidden until it has a source, and text is
 * sent gzip- or brotli-compressed (with Content-Encoding and Vary) only when the request's
 * Accept-Encoding allows. test/browser/serve.test.ts runs the page itself in Chromium.
 */
import { request } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptedEncoding, servedModel, startServer, type RunningServer } from '../src/cli/serve.js';
import { encodeSafetensors } from '../src/io/safetensors.js';
import { packageRoot } from '../src/cli/package-root.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A GET with exactly the headers given (fetch would add its own Accept-Encoding). */
function get(url: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const decoded = (r: Reply): Buffer => {
  const enc = r.headers['content-encoding'];
  return enc === 'br' ? brotliDecompressSync(r.body) : enc === 'gzip' ? gunzipSync(r.body) : r.body;
};

let dir: string;
let weights: string;
let withModel: RunningServer;
let without: RunningServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'incept-serve-weights-'));
  weights = join(dir, 'small.safetensors');
  writeFileSync(weights, encodeSafetensors({ 'fc.weight': { shape: [10, 4], data: new Float32Array(40).map((_, i) => i) } }));
  withModel = await startServer({ port: 0, weights });
  without = await startServer({ port: 0 });
});
afterAll(async () => {
  await withModel?.close();
  await without?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('incept serve --weights', () => {
  it('serves the model file under /model/0 and names it in the page', async () => {
    const page = decoded(await get(withModel.url)).toString('utf8');
    const served = JSON.parse(/<script type="application\/json" id="served-model">(.*?)<\/script>/s.exec(page)![1]!) as {
      format: string;
      files: { name: string; url: string; bytes: number }[];
    };
    expect(served).toEqual({ format: 'torchvision', files: [{ name: 'small.safetensors', url: '/model/0', bytes: readFileSync(weights).length }] });
    expect(page).toMatch(/Loading the model the server was started with/);
    const file = await get(new URL('/model/0', withModel.url).href, { 'accept-encoding': 'gzip, br' });
    expect(file.status).toBe(200);
    expect(file.headers['content-encoding']).toBeUndefined(); // weights are sent as they are
    expect(Buffer.compare(file.body, readFileSync(weights))).toBe(0);
    expect((await get(new URL('/model/1', withModel.url).href)).status).toBe(404);
    expect((await get(new URL('/model/0', without.url).href)).status).toBe(404);
  });

  it('without --weights the page says how to get a model and names none', async () => {
    const page = decoded(await get(without.url)).toString('utf8');
    expect(page).toMatch(/<script type="application\/json" id="served-model">null<\/script>/);
    expect(page).toMatch(/Building a demo model/);
    expect(page).toContain('incept serve --weights');
    expect(page).toContain('incept export --cifar10 --width 0.125 --out cifar10.safetensors');
    expect(page).toMatch(/random weights/);
  });

  it('the image preview is hidden until it has a source, and [hidden] wins over the layout CSS', async () => {
    const page = decoded(await get(without.url)).toString('utf8');
    expect(page).toMatch(/<img id="preview"[^>]* hidden>/);
    expect(page).toMatch(/\[hidden\] \{ display: none !important; \}/);
  });

  it('refuses a missing, foreign or incomplete model before the server starts', async () => {
    await expect(servedModel(join(dir, 'nope.onnx'))).rejects.toThrow(/--weights .*nope\.onnx/);
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'hello, not a model');
    await expect(startServer({ port: 0, weights: text })).rejects.toThrow(/--weights .*notes\.txt: .*cannot tell the model format/);
    const tfjs = join(dir, 'model.json');
    writeFileSync(tfjs, JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'], weights: [] }] }));
    writeFileSync(join(dir, 'group1-shard1of2.bin'), new Uint8Array(8));
    await expect(servedModel(tfjs)).rejects.toThrow(/group1-shard2of2\.bin/);
    writeFileSync(join(dir, 'group1-shard2of2.bin'), new Uint8Array(4));
    const m = await servedModel(tfjs);
    expect(m.format).toBe('tfjs');
    expect(m.files.map((f) => [f.name, f.bytes])).toEqual([
      ['model.json', readFileSync(tfjs).length],
      ['group1-shard1of2.bin', 8],
      ['group1-shard2of2.bin', 4],
    ]);
    writeFileSync(tfjs, JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ['../escape.bin'], weights: [] }] }));
    await expect(servedModel(tfjs)).rejects.toThrow(/not a file beside model\.json/);
  });
});

describe('incept serve compression', () => {
  const bundle = () => readFileSync(join(packageRoot(), 'dist', 'browser', 'incept.js'));

  it('sends the bundle as it is without Accept-Encoding, and says it varies', async () => {
    const r = await get(new URL('/incept.js', without.url).href);
    expect(r.status).toBe(200);
    expect(r.headers['content-encoding']).toBeUndefined();
    expect(r.headers.vary).toBe('Accept-Encoding');
    expect(Buffer.compare(r.body, bundle())).toBe(0);
  });

  it('gzip when only gzip is accepted, br when br is, and nothing when both are refused', async () => {
    const url = new URL('/incept.js', without.url).href;
    const gz = await get(url, { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers.vary).toBe('Accept-Encoding');
    expect(Number(gz.headers['content-length'])).toBe(gz.body.length);
    expect(gz.body.length).toBeLessThan(bundle().length / 2);
    expect(Buffer.compare(gunzipSync(gz.body), bundle())).toBe(0);

    const br = await get(url, { 'accept-encoding': 'gzip, deflate, br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(Buffer.compare(brotliDecompressSync(br.body), bundle())).toBe(0);

    const none = await get(url, { 'accept-encoding': 'br;q=0, gzip;q=0' });
    expect(none.headers['content-encoding']).toBeUndefined();
    expect(Buffer.compare(none.body, bundle())).toBe(0);
  });

  it('compresses the page and Chart.js too', async () => {
    for (const path of ['/', '/chart.js']) {
      const plain = await get(new URL(path, without.url).href);
      const gz = await get(new URL(path, without.url).href, { 'accept-encoding': 'gzip' });
      expect(gz.headers['content-encoding'], path).toBe('gzip');
      expect(plain.headers.vary, path).toBe('Accept-Encoding');
      expect(Buffer.compare(gunzipSync(gz.body), plain.body), path).toBe(0);
    }
  });

  it('reads Accept-Encoding as HTTP defines it', () => {
    expect(acceptedEncoding(undefined)).toBeUndefined();
    expect(acceptedEncoding('')).toBeUndefined();
    expect(acceptedEncoding('identity')).toBeUndefined();
    expect(acceptedEncoding('gzip')).toBe('gzip');
    expect(acceptedEncoding('GZIP, deflate')).toBe('gzip');
    expect(acceptedEncoding('gzip, deflate, br, zstd')).toBe('br');
    expect(acceptedEncoding('br;q=0, gzip;q=0.5')).toBe('gzip');
    expect(acceptedEncoding('*')).toBe('br');
    expect(acceptedEncoding('*;q=0, gzip')).toBe('gzip');
    expect(acceptedEncoding('br;q=0, *')).toBe('gzip');
  });
});
