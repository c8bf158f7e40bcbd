/**
 * Runs inside Chromium (bundled by harness.ts): every kernel case from kernel-cases.ts on the
 * browser's WebGPU adapter, plus two checks that the runtime's errors are not silent there.
 * Everything, including a fatal failure, ends up in `window.__inceptResults` with `done: true`,
 * which the Node side (browser.test.ts) waits for and asserts on.
 */
import { createEngine, type Engine } from '../../src/runtime/engine.js';
import { GpuError, KernelBindingError } from '../../src/runtime/errors.js';
import { KernelFamily } from '../../src/runtime/kernel.js';
import { kernelCases } from '../cases/kernel-cases.js';
import { freshSeed, makeRng } from '../support/random.js';

export interface PageResult {
  name: string;
  ok: boolean;
  relErr?: number;
  /** Set instead of relErr when the adapter lacks a feature the case needs and the op refused. */
  refused?: string;
  error?: string;
}

export interface PageResults {
  adapter: string;
  seed: number;
  results: PageResult[];
  done: boolean;
  fatal?: string;
}

/** Names of the in-page error checks, as they appear in `results`; the test names them too. */
export type ErrorCheckName =
  | 'error check: workgroup count over the device limit throws KernelBindingError'
  | 'error check: kernel over maxComputeWorkgroupStorageSize rejects flush with GpuError naming it';

declare global {
  interface Window {
    __inceptResults?: PageResults;
  }
}

/** `?seed=` from the harness (so a failure can be replayed with TEST_SEED), else a fresh one.
 * freshSeed() falls back to Math.random here: there is no `process` in the page. */
function pageSeed(): number {
  const fromQuery = new URLSearchParams(window.location.search).get('seed');
  const n = fromQuery === null ? NaN : Number(fromQuery);
  return Number.isInteger(n) && n >= 0 ? n : freshSeed();
}

function message(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

const COPY_WGSL = /* wgsl */ `
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@compute @workgroup_size(64)
fn copy(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x < arrayLength(&dst)) { dst[gid.x] = src[gid.x]; }
}`;

/** (1) A workgroup count above maxComputeWorkgroupsPerDimension must throw at the call. */
async function checkWorkgroupLimit(engine: Engine): Promise<void> {
  const kernel = new KernelFamily('page_copy.wgsl', COPY_WGSL);
  await engine.scope(async () => {
    const tooMany = engine.limits.maxComputeWorkgroupsPerDimension + 1;
    let thrown: unknown;
    try {
      engine.dispatch({ op: 'pageCopy', kernel, entry: 'copy', bindings: { src: engine.zeros([64]), dst: engine.zeros([64]) }, workgroups: [tooMany] });
    } catch (e) {
      thrown = e;
    }
    if (!(thrown instanceof KernelBindingError)) throw new Error(`expected a KernelBindingError, got ${thrown === undefined ? 'no error' : message(thrown)}`);
    if (!/page_copy\.wgsl:copy/.test(thrown.message)) throw new Error(`the error does not name the kernel: ${thrown.message}`);
    // Nothing was recorded, so the batch must flush cleanly.
    await engine.flush();
  });
}

/** (2) A shader that wants more workgroup memory than the device allows fails WebGPU validation;
 * flush() must reject with a GpuError naming the kernel (WebGPU itself would only log it). */
async function checkWorkgroupMemory(engine: Engine): Promise<void> {
  const words = engine.limits.maxComputeWorkgroupStorageSize / 4 + 1024;
  const greedy = new KernelFamily(
    'page_greedy.wgsl',
    `var<workgroup> big: array<f32, ${words}>;
     @group(0) @binding(0) var<storage, read_write> out: array<f32>;
     @compute @workgroup_size(64) fn greedy(@builtin(local_invocation_index) i: u32) {
       big[i] = f32(i); workgroupBarrier(); out[i] = big[63u - i];
     }`,
  );
  await engine.scope(async () => {
    engine.dispatch({ op: 'pageGreedy', kernel: greedy, entry: 'greedy', bindings: { out: engine.zeros([64]) }, workgroups: [1] });
    let rejected: unknown;
    try {
      await engine.flush();
    } catch (e) {
      rejected = e;
    }
    if (!(rejected instanceof GpuError)) throw new Error(`expected flush() to reject with a GpuError, got ${rejected === undefined ? 'no error' : message(rejected)}`);
    if (!/page_greedy\.wgsl:greedy \(op pageGreedy\)/.test(rejected.message)) throw new Error(`the error does not name the kernel: ${rejected.message}`);
  });
}

async function main(out: PageResults): Promise<void> {
  const engine = await createEngine({ poisonOutputs: true });
  out.adapter = engine.adapterName;
  const rng = makeRng(out.seed);
  try {
    for (const c of kernelCases()) {
      try {
        const cmp = await c.run(engine, rng);
        out.results.push('refused' in cmp ? { name: c.name, ok: true, refused: cmp.refused } : { name: c.name, ok: true, relErr: cmp.relErr });
      } catch (e) {
        out.results.push({ name: c.name, ok: false, error: message(e) });
      }
    }
    // After the kernel cases, so a batch left failed by these cannot affect them.
    const checks: [ErrorCheckName, (e: Engine) => Promise<void>][] = [
      ['error check: workgroup count over the device limit throws KernelBindingError', checkWorkgroupLimit],
      ['error check: kernel over maxComputeWorkgroupStorageSize rejects flush with GpuError naming it', checkWorkgroupMemory],
    ];
    for (const [name, check] of checks) {
      try {
        await check(engine);
        out.results.push({ name, ok: true });
      } catch (e) {
        out.results.push({ name, ok: false, error: message(e) });
      }
    }
  } finally {
    engine.destroy();
  }
}

const state: PageResults = { adapter: '', seed: 0, results: [], done: false };
window.__inceptResults = state;
void (async () => {
  try {
    state.seed = pageSeed();
    await main(state);
  } catch (e) {
    state.fatal = message(e);
  } finally {
    state.done = true;
  }
})();
