/**
 * Runs in headless Chromium (bundled and served by ../browser.ts): Inception-v3 inference on the
 * engine, TensorFlow.js (WebGPU backend) and ONNX Runtime Web (WebGPU EP), all from the same ONNX
 * bytes (/model.onnx) with the same seeded inputs, reporting to Node through the exposed
 * function `window.__peerReport`. Any failure is reported as an error naming the library.
 *
 * ONNX Runtime Web is not bundled: its ESM build is imported from /ort/ at run time (it loads its
 * own wasm and worker files from there), so this bundle only holds the engine and TF.js.
 */
import type * as OrtTypes from 'onnxruntime-web';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgpu';
import { version as version_webgpu } from '@tensorflow/tfjs-backend-webgpu/dist/version.js';
import { createEngine, type Engine } from '../../../src/runtime/engine.js';
import { importOnnx } from '../../../src/io/onnx/import.js';
import { compileGraph, type GraphModel } from '../../../src/graph/execute.js';
import { tfjsInferenceModel, type TfjsInferenceModel } from '../tfjs-graph.js';
import { maxRelErr, normals } from '../compare.js';
import type { PageConfig, PageMessage, PageRow, PeerName } from './protocol.js';

type Ort = typeof OrtTypes;

declare global {
  interface Window {
    __peerReport?: (m: PageMessage) => Promise<void>;
  }
}

const SIZE = 299;

function report(m: PageMessage): Promise<void> {
  if (!window.__peerReport) throw new Error('window.__peerReport is missing: open this page through bench/peers/browser.ts');
  return window.__peerReport(m);
}

const progress = (message: string) => report({ type: 'progress', message });

class LibraryError extends Error {
  constructor(
    readonly library: string,
    message: string,
  ) {
    super(message);
  }
}

const describe = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

/** Runs fn; any error becomes a LibraryError naming the library and the step. */
async function step<T>(library: string, what: string, fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof LibraryError) throw e;
    throw new LibraryError(library, `${what} failed: ${describe(e)}`);
  }
}

function nhwcToNchw(x: Float32Array, n: number, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let xx = 0; xx < w; xx++) for (let k = 0; k < c; k++) out[((b * c + k) * h + y) * w + xx] = x[((b * h + y) * w + xx) * c + k]!;
  return out;
}

/** One inference: host input → logits on the host, and its wall time. */
interface Runner {
  library: string;
  run(batch: number): Promise<{ ms: number; logits: Float32Array }>;
}

function checkLogits(library: string, logits: ArrayLike<number>, batch: number, classes: number): void {
  if (logits.length !== batch * classes) throw new LibraryError(library, `returned ${logits.length} logits, expected ${batch}×${classes}`);
  for (let i = 0; i < logits.length; i++) {
    if (!Number.isFinite(logits[i]!)) throw new LibraryError(library, `logit ${i} is ${logits[i]} (not finite)`);
  }
}

async function main(): Promise<void> {
  await progress('page started');
  const config = (await (await fetch('/config.json')).json()) as PageConfig;
  if (!('gpu' in navigator) || !navigator.gpu) throw new LibraryError('WebGPU', 'navigator.gpu is undefined (WebGPU disabled, or not a secure context)');
  if (!crossOriginIsolated)
    throw new LibraryError('page', 'the page is not cross-origin isolated (COOP/COEP headers missing); ONNX Runtime Web needs it for wasm threads');

  const bytes = await step('page', 'fetching /model.onnx', async () => {
    const res = await fetch('/model.onnx');
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  });

  // --- engine
  const engine: Engine = await step('engine', 'createEngine', () => createEngine());
  const adapter = engine.adapterName;
  if (config.expectLavapipe && !/llvmpipe|lavapipe/i.test(adapter)) {
    throw new LibraryError('WebGPU', `lavapipe was asked for, but Chromium's WebGPU adapter is '${adapter}' (run with the default adapter, SwiftShader)`);
  }
  const graph = await step('engine', 'importOnnx', () => importOnnx(bytes, 'inception-v3.onnx'));
  const [h, w, c] = graph.input.shape as [number, number, number];
  if (h !== SIZE || w !== SIZE || c !== 3) throw new LibraryError('engine', `the ONNX input is ${h}×${w}×${c}, expected ${SIZE}×${SIZE}×3`);
  const engineModel: GraphModel = await step('engine', 'compileGraph', () => compileGraph(engine, graph));
  const classes = engineModel.outputSize;
  await progress(`engine loaded on ${adapter} (${graph.nodes.length} nodes, ${classes} classes)`);

  // --- TensorFlow.js
  const tfModel: TfjsInferenceModel = await step('tfjs-webgpu', 'starting the WebGPU backend', async () => {
    if (!(await tf.setBackend('webgpu'))) throw new Error("tf.setBackend('webgpu') returned false");
    await tf.ready();
    return tfjsInferenceModel(tf, graph);
  });
  await progress(`TensorFlow.js ${version_webgpu} loaded (backend ${tf.getBackend()})`);

  // --- ONNX Runtime Web
  const ortFile = config.ortBuild === 'webgpu' ? 'ort.webgpu.min.mjs' : 'ort.min.mjs';
  const { ort, session } = await step('ort-web-webgpu', `loading /ort/${ortFile} and creating the session`, async () => {
    const url = `/ort/${ortFile}`;
    const ort = (await import(/* @vite-ignore */ url)) as Ort;
    ort.env.wasm.wasmPaths = '/ort/';
    ort.env.logLevel = 'warning';
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ['webgpu'], graphOptimizationLevel: 'all' });
    return { ort, session };
  });
  const ortIn = session.inputNames[0]!;
  const ortOut = session.outputNames[0]!;
  await progress(`ONNX Runtime Web ${ort.env.versions.web} loaded (${ortFile}, WebGPU EP, ${ort.env.wasm.numThreads ?? '?'} wasm threads)`);

  const rows: PageRow[] = [];
  for (const batch of config.batches) {
    const nhwc = normals(batch * SIZE * SIZE * 3, config.seed + batch, 1);
    const nchw = nhwcToNchw(nhwc, batch, SIZE, SIZE, 3);
    const shape: [number, number, number, number] = [batch, SIZE, SIZE, 3];

    const runners: Runner[] = [
      {
        library: 'engine',
        async run() {
          const t0 = performance.now();
          const x = engine.tensor(nhwc, shape);
          const y = engineModel.run(x);
          x.dispose();
          const logits = (await y.read()) as Float32Array;
          const ms = performance.now() - t0;
          y.dispose();
          return { ms, logits };
        },
      },
      {
        library: 'tfjs-webgpu',
        async run() {
          const t0 = performance.now();
          const x = tf.tensor4d(nhwc, shape);
          const y = tfModel.run(x);
          x.dispose();
          const logits = (await y.data()) as Float32Array;
          const ms = performance.now() - t0;
          y.dispose();
          return { ms, logits };
        },
      },
      {
        library: 'ort-web-webgpu',
        async run() {
          const t0 = performance.now();
          const x = new ort.Tensor('float32', nchw, [batch, 3, SIZE, SIZE]);
          const out = await session.run({ [ortIn]: x });
          const y = out[ortOut]!;
          const logits = (await y.getData()) as Float32Array;
          const ms = performance.now() - t0;
          y.dispose();
          return { ms, logits };
        },
      },
    ];

    // Warm-up: compiles every pipeline once; its outputs are checked too.
    for (const r of runners) {
      await progress(`batch ${batch}: warm-up ${r.library}`);
      const { ms, logits } = await step(r.library, `warm-up at batch ${batch}`, () => r.run(batch));
      checkLogits(r.library, logits, batch, classes);
      await progress(`batch ${batch}: warm-up ${r.library} took ${(ms / 1000).toFixed(1)} s`);
    }

    const row: PageRow = { batch, engineMs: [], peers: { 'tfjs-webgpu': { ms: [], maxRelErr: 0 }, 'ort-web-webgpu': { ms: [], maxRelErr: 0 } } };
    for (let round = 1; round <= config.repeats; round++) {
      await progress(`batch ${batch}: round ${round}/${config.repeats}`);
      let ref: Float32Array | undefined;
      const outputs: Float32Array[] = [];
      const times: string[] = [];
      for (const r of runners) {
        if (r.library !== 'engine') await progress(`batch ${batch}: round ${round}/${config.repeats}: ${r.library}`);
        const { ms, logits } = await step(r.library, `round ${round} at batch ${batch}`, () => r.run(batch));
        checkLogits(r.library, logits, batch, classes);
        outputs.push(logits);
        times.push(`${r.library} ${(ms / 1000).toFixed(2)} s`);
        if (r.library === 'engine') {
          ref = logits;
          row.engineMs.push(ms);
        } else {
          const p = row.peers[r.library as PeerName];
          p.ms.push(ms);
          p.maxRelErr = Math.max(p.maxRelErr, maxRelErr(logits, ref!));
        }
      }
      // The peers against each other too: tells which side a difference comes from.
      const peerVsPeer = maxRelErr(outputs[2]!, outputs[1]!);
      await progress(
        `batch ${batch}: round ${round}/${config.repeats}: ${times.join(', ')}; max rel err vs engine: ${row.peers['tfjs-webgpu'].maxRelErr.toExponential(1)} / ${row.peers['ort-web-webgpu'].maxRelErr.toExponential(1)}, ORT vs TF.js ${peerVsPeer.toExponential(1)}`,
      );
    }
    rows.push(row);
  }

  await session.release();
  tfModel.dispose();
  engineModel.dispose();
  engine.destroy();
  await report({ type: 'done', adapter, versions: { tfjs: version_webgpu, ort: ort.env.versions.web ?? 'unknown' }, rows });
}

main().catch((e: unknown) => {
  const library = e instanceof LibraryError ? e.library : 'page';
  void report({ type: 'error', library, message: e instanceof LibraryError ? e.message : describe(e) }).catch(() => undefined);
});
