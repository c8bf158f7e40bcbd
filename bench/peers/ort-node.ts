/**
 * ONNX Runtime for Node (onnxruntime-node) on its native CPU execution provider: what a CPU-only
 * server would run Inception-v3 on instead of the engine. It is not a WebGPU peer: it measures
 * where the engine is the wrong tool (no GPU, no browser), in the same run and on the same
 * model and input as the other peers.
 *
 * It runs the bytes of `exportInceptionV3Onnx` with ONNX Runtime's defaults (all graph
 * optimisations, one intra-op thread per physical core), as a user would. The package is the
 * project's own devDependency (the version the ONNX tests use), found in the project's
 * node_modules at run time; build.mjs leaves it out of the bundle, since it is a native addon.
 */
import { InceptError } from '../../src/runtime/errors.js';
import { ORT_NODE } from '../../src/bench/peers-report.js';

type Ort = typeof import('onnxruntime-node');

/** The library key of this peer in the report's rows. */
export { ORT_NODE };

export interface OrtNodeRuntime {
  ort: Ort;
  /** onnxruntime-node's version. */
  version: string;
  /** The report's description of the library. */
  description: string;
}

export interface OrtNodeSession {
  /** One inference: NCHW float32 input in, the model's single output out (on the host). */
  run(input: Float32Array, dims: readonly number[]): Promise<Float32Array>;
  release(): Promise<void>;
}

export async function loadOrtNode(): Promise<OrtNodeRuntime> {
  let mod: Ort & { default?: Ort };
  try {
    mod = (await import('onnxruntime-node')) as Ort & { default?: Ort };
  } catch (e) {
    throw new InceptError(
      `ONNX Runtime (Node) peer: onnxruntime-node did not load (${e instanceof Error ? e.message.split('\n')[0] : String(e)}); it is a devDependency of the project: run \`npm ci\` in the project root`,
    );
  }
  // A CommonJS package: Node's ESM import may give its exports as the default export only.
  const ort = mod.InferenceSession ? mod : mod.default!;
  const version = ort.env.versions.node ?? ort.env.versions.common;
  return { ort, version, description: `onnxruntime-node ${version} (native, CPU execution provider)` };
}

/** A session on the CPU execution provider, with ONNX Runtime's default options otherwise. */
export async function createOrtNodeSession(runtime: OrtNodeRuntime, onnx: Uint8Array): Promise<OrtNodeSession> {
  const { ort } = runtime;
  const session = await ort.InferenceSession.create(onnx, { executionProviders: ['cpu'] });
  if (session.inputNames.length !== 1 || session.outputNames.length !== 1) {
    await session.release();
    throw new InceptError(
      `ONNX Runtime (Node) peer: the model has ${session.inputNames.length} inputs and ${session.outputNames.length} outputs; one of each expected`,
    );
  }
  const [inputName] = session.inputNames as [string];
  const [outputName] = session.outputNames as [string];
  return {
    async run(input, dims) {
      const result = await session.run({ [inputName]: new ort.Tensor('float32', input, dims) });
      const out = result[outputName]!;
      if (out.type !== 'float32') throw new InceptError(`ONNX Runtime (Node) peer: the output is ${out.type}, not float32`);
      return out.data as Float32Array;
    },
    release: () => session.release(),
  };
}

/** [N, H, W, C] → [N, C, H, W]: the engine's inputs in the layout ONNX models take. */
export function nhwcToNchw(x: Float32Array, [n, h, w, c]: readonly [number, number, number, number]): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let xx = 0; xx < w; xx++) for (let ch = 0; ch < c; ch++) out[((b * c + ch) * h + y) * w + xx] = x[((b * h + y) * w + xx) * c + ch]!;
  return out;
}
