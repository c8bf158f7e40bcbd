/**
 * The custom-kernel API (defineKernel, defineVariants) inside Chromium: compile errors at
 * definition, binding errors naming the kernel, a depthwise 3×3 against float64, and variants
 * measured once and kept in localStorage for the next engine. page.ts runs these and
 * browser.test.ts expects each name once.
 */
import { defineKernel, defineVariants } from '../../src/runtime/custom-kernel.js';
import { createEngine, type Engine } from '../../src/runtime/engine.js';
import { KernelBindingError, KernelCompileError } from '../../src/runtime/errors.js';
import { LocalStorageTuningStore } from '../../src/runtime/tuner.js';
import { assertClose } from '../support/compare.js';
import {
  BROKEN_COLUMN,
  BROKEN_LINE,
  BROKEN_WGSL,
  defineDepthwise,
  depthwiseReference,
  dispatchDepthwise,
  dispatchDepthwiseVec4,
  type DepthwiseProblem,
} from '../support/custom-kernels.js';
import { randomArray, type Rng } from '../support/random.js';
import type { PageResult } from './page.js';

export const CUSTOM_KERNEL_CHECKS = [
  'custom kernel: a WGSL compile error throws KernelCompileError at definition with line and column',
  'custom kernel: a binding mismatch throws KernelBindingError naming the kernel',
  'custom kernel: depthwise 3×3 (scalar and vec4) matches the float64 reference on poisoned outputs',
  'custom kernel: variants are measured once and the choice is kept in localStorage for the next engine',
] as const;
export type CustomKernelCheckName = (typeof CUSTOM_KERNEL_CHECKS)[number];

const TOLERANCE = 1e-5;

async function compileError(engine: Engine): Promise<undefined> {
  let thrown: unknown;
  try {
    await defineKernel(engine, { name: 'broken', code: BROKEN_WGSL });
  } catch (e) {
    thrown = e;
  }
  if (!(thrown instanceof KernelCompileError)) throw new Error(`expected a KernelCompileError, got ${String(thrown)}`);
  const m = thrown.messages[0];
  if (m?.line !== BROKEN_LINE || m.column !== BROKEN_COLUMN) throw new Error(`expected line ${BROKEN_LINE}, column ${BROKEN_COLUMN}: ${thrown.message}`);
  if (!thrown.message.includes(`broken:${BROKEN_LINE}:${BROKEN_COLUMN}: error:`)) throw new Error(`the message does not name the place: ${thrown.message}`);
  await engine.flush();
  return undefined;
}

async function bindingMismatch(engine: Engine): Promise<undefined> {
  const { scalar } = await defineDepthwise(engine);
  engine.scope(() => {
    let thrown: unknown;
    try {
      scalar.dispatch({ bindings: { x: engine.zeros([4]), y: engine.zeros([4]), shape: { n: 1, h: 1, w: 1, c: 4 } }, workgroups: [1] });
    } catch (e) {
      thrown = e;
    }
    if (!(thrown instanceof KernelBindingError)) throw new Error(`expected a KernelBindingError, got ${String(thrown)}`);
    if (!/^kernel depthwise3x3:main \(op depthwise3x3\): wrong bindings: missing weights/.test(thrown.message) || /kernels\//.test(thrown.message))
      throw new Error(`the error does not name the kernel and the missing binding: ${thrown.message}`);
  });
  return undefined;
}

async function depthwise(engine: Engine, rng: Rng): Promise<number> {
  const { scalar, vec4 } = await defineDepthwise(engine);
  let worst = 0;
  for (const shape of [
    [1, 5, 7, 3],
    [2, 6, 9, 8],
  ]) {
    const xs = randomArray(
      rng,
      shape.reduce((a, b) => a * b, 1),
    );
    const ws = randomArray(rng, 9 * shape[3]!);
    const ref = depthwiseReference(xs, ws, shape);
    const runs: [string, (p: DepthwiseProblem) => void][] = [['scalar', (p) => dispatchDepthwise(scalar, p)]];
    if (shape[3]! % 4 === 0) runs.push(['vec4', (p) => dispatchDepthwiseVec4(vec4, p)]);
    for (const [label, run] of runs) {
      await engine.scope(async () => {
        const p: DepthwiseProblem = { x: engine.tensor(xs, shape), weights: engine.tensor(ws, [3, 3, shape[3]!]), y: engine.empty(shape) };
        run(p);
        worst = Math.max(worst, assertClose(await p.y.read(), ref, TOLERANCE, `depthwise ${label} ${shape.join('×')}`).relErr);
      });
    }
  }
  return worst;
}

async function variantsInLocalStorage(): Promise<undefined> {
  const key = 'incept-gpu:tuning:custom-kernel-check';
  localStorage.removeItem(key);
  const shape = [1, 4, 5, 8];
  const calls = { scalar: 0, vec4: 0 };
  const make = async (engine: Engine) => {
    const { scalar, vec4 } = await defineDepthwise(engine);
    return defineVariants(engine, {
      name: 'depthwise3x3',
      variants: {
        scalar: (p: DepthwiseProblem) => (calls.scalar++, dispatchDepthwise(scalar, p)),
        vec4: (p: DepthwiseProblem) => (calls.vec4++, dispatchDepthwiseVec4(vec4, p)),
      },
      kernels: [scalar, vec4],
      key: (p) => ({ c: p.x.shape[3]! }),
      repeats: 1,
    });
  };
  const problem = (e: Engine): DepthwiseProblem => ({ x: e.zeros(shape), weights: e.zeros([3, 3, 8]), y: e.empty(shape) });
  let chosen: string;
  const first = await createEngine({ poisonOutputs: true, tuning: 'auto', tuningStore: new LocalStorageTuningStore(key) });
  try {
    chosen = await first.scope(async () => (await make(first)).choose(problem(first)));
    if (calls.scalar !== 2 || calls.vec4 !== 2) throw new Error(`expected a warm-up and a timed run of each variant, got ${JSON.stringify(calls)}`);
  } finally {
    first.destroy();
  }
  const stored = localStorage.getItem(key) ?? '';
  if (!stored.includes('"depthwise3x3"')) throw new Error(`localStorage lacks the choice: ${stored}`);
  const second = await createEngine({ poisonOutputs: true, tuning: 'auto', tuningStore: new LocalStorageTuningStore(key) });
  try {
    const again = await second.scope(async () => (await make(second)).choose(problem(second)));
    if (again !== chosen) throw new Error(`a new engine chose ${again}, the stored choice is ${chosen}`);
    if (calls.scalar + calls.vec4 !== 4) throw new Error(`a new engine measured again: ${JSON.stringify(calls)}`);
  } finally {
    second.destroy();
    localStorage.removeItem(key);
  }
  return undefined;
}

/** Runs every check on the page's engine (the variants check makes engines of its own). */
export async function runCustomKernelChecks(engine: Engine, rng: Rng): Promise<PageResult[]> {
  const checks: [CustomKernelCheckName, () => Promise<number | undefined>][] = [
    [CUSTOM_KERNEL_CHECKS[0], () => compileError(engine)],
    [CUSTOM_KERNEL_CHECKS[1], () => bindingMismatch(engine)],
    [CUSTOM_KERNEL_CHECKS[2], () => depthwise(engine, rng)],
    [CUSTOM_KERNEL_CHECKS[3], () => variantsInLocalStorage()],
  ];
  const results: PageResult[] = [];
  for (const [name, check] of checks) {
    try {
      const relErr = await check();
      results.push(relErr === undefined ? { name, ok: true } : { name, ok: true, relErr });
    } catch (e) {
      results.push({ name, ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    }
  }
  return results;
}
