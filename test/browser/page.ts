/**
 * Runs inside Chromium (bundled by harness.ts): every kernel case from kernel-cases.ts on the
 * browser's WebGPU adapter, plus two checks that the runtime's errors are not silent there.
 * Everything, including a fatal failure, ends up in `window.__inceptResults` with `done: true`,
 * which the Node side (browser.test.ts) waits for and asserts on.
 */
import { createEngine, type Engine } from '../../src/runtime/engine.js';
import { DeviceLimitError, GpuError } from '../../src/runtime/errors.js';
import { KernelFamily } from '../../src/runtime/kernel.js';
import { conv2d } from '../../src/ops/conv2d.js';
import { kernelCases } from '../cases/kernel-cases.js';
import { freshSeed, makeRng } from '../support/random.js';
import { runCustomKernelChecks } from './custom-kernel-checks.js';
import { runSharedDeviceChecks } from './shared-device-checks.js';
import { runImageDecodeChecks } from './image-decode-checks.js';

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
  | 'error check: workgroup count over the device limit throws DeviceLimitError'
  | 'error check: kernel over maxComputeWorkgroupStorageSize rejects flush with GpuError naming it'
  | 'tuning: a conv2d choice is measured and kept in localStorage for the next engine';

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
    if (!(thrown instanceof DeviceLimitError)) throw new Error(`expected a DeviceLimitError, got ${thrown === undefined ? 'no error' : message(thrown)}`);
    if (!/^pageCopy \(kernel page_copy\.wgsl:copy\).*maxComputeWorkgroupsPerDimension/s.test(thrown.message))
      throw new Error(`the error does not name the op, kernel and limit: ${thrown.message}`);
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
    if (!(rejected instanceof GpuError))
      throw new Error(`expected flush() to reject with a GpuError, got ${rejected === undefined ? 'no error' : message(rejected)}`);
    if (!/page_greedy\.wgsl:greedy \(op pageGreedy\)/.test(rejected.message)) throw new Error(`the error does not name the kernel: ${rejected.message}`);
  });
}

/** The browser's default tuning store is localStorage: a measured choice lands there and a new
 * engine on the page starts with it. */
async function checkTuningInLocalStorage(): Promise<void> {
  const key = 'incept-gpu:tuning';
  localStorage.removeItem(key);
  const first = await createEngine({ poisonOutputs: true });
  let variant: string;
  let shapeClass: string;
  try {
    if (first.tuner.store.description !== `localStorage['${key}']`) throw new Error(`the default store is ${first.tuner.store.description}, not localStorage`);
    first.scope(() => conv2d(first.zeros([1, 6, 6, 4]), first.zeros([3, 3, 4, 8]), { padding: 'same' }));
    if (first.tuner.pendingCount !== 1) throw new Error(`expected one pending problem, got ${first.tuner.pendingCount}`);
    const report = await first.tuner.tune({ budgetMs: 60_000, repeats: 1 });
    if (report.tuned.length !== 1) throw new Error(`tune() measured ${report.tuned.length} problems, expected 1`);
    ({ variant, shapeClass } = report.tuned[0]!);
  } finally {
    first.destroy();
  }
  const stored = JSON.parse(localStorage.getItem(key) ?? '{}') as Record<string, { variant: string }>;
  if (!Object.values(stored).some((r) => r.variant === variant)) throw new Error(`localStorage lacks the measured choice: ${JSON.stringify(stored)}`);
  const second = await createEngine();
  try {
    if (second.tuner.record('conv2d', shapeClass)?.variant !== variant) throw new Error('a new engine did not load the stored choice');
    second.scope(() => conv2d(second.zeros([1, 6, 6, 4]), second.zeros([3, 3, 4, 8]), { padding: 'same' }));
    if (second.tuner.pendingCount !== 0) throw new Error('a new engine queued a problem it had a stored choice for');
  } finally {
    second.destroy();
    localStorage.removeItem(key);
  }
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
    out.results.push(...(await runCustomKernelChecks(engine, rng)));
    out.results.push(...(await runSharedDeviceChecks(rng)));
    out.results.push(...(await runImageDecodeChecks()));
    // After the kernel cases, so a batch left failed by these cannot affect them.
    const checks: [ErrorCheckName, (e: Engine) => Promise<void>][] = [
      ['tuning: a conv2d choice is measured and kept in localStorage for the next engine', checkTuningInLocalStorage],
      ['error check: workgroup count over the device limit throws DeviceLimitError', checkWorkgroupLimit],
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
