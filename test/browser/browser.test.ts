/**
 * The kernel cases of test/cases/kernel-cases.ts, run again inside headless Chromium on its
 * WebGPU adapter (SwiftShader here), plus checks that runtime errors are not silent in the
 * browser. The page runs once (beforeAll); each case gets its own `it` so a failure names it.
 * Without Chromium these tests fail, telling how to install it; they are never skipped.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { kernelCases } from '../cases/kernel-cases.js';
import { freshSeed } from '../support/random.js';
import { DEFAULT_PAGE_TIMEOUT_MS, runBrowserPage, type HarnessOutcome } from './harness.js';
import type { ErrorCheckName, PageResult, PageResults } from './page.js';
import { CUSTOM_KERNEL_CHECKS } from './custom-kernel-checks.js';
import { SHARED_DEVICE_CHECKS } from './shared-device-checks.js';
import { IMAGE_DECODE_CHECKS } from './image-decode-checks.js';

/** Computed in Node at collection time: the page must report every one of these by name. */
const ALL_CASE_NAMES = kernelCases().map((c) => c.name);
const CASE_NAMES = [...new Set(ALL_CASE_NAMES)];

/** tsc checks these against the names page.ts uses. */
const ERROR_CHECKS: ErrorCheckName[] = [
  'error check: workgroup count over the device limit throws DeviceLimitError',
  'error check: kernel over maxComputeWorkgroupStorageSize rejects flush with GpuError naming it',
  'tuning: a conv2d choice is measured and kept in localStorage for the next engine',
];

const seed = freshSeed();
const replay = `(seed ${seed}; replay with TEST_SEED=${seed})`;

let outcome: HarnessOutcome | undefined;
let harnessError: unknown;

beforeAll(async () => {
  try {
    outcome = await runBrowserPage({ seed });
    const r = outcome.results;
    const secs = (ms: number) => (ms / 1000).toFixed(1);
    console.info(
      `browser test: ${outcome.browserVersion}, adapter '${r?.adapter ?? '?'}', ${r?.results.length ?? 0} results ${replay}; ` +
        `bundle ${secs(outcome.timings.bundleMs)} s, launch ${secs(outcome.timings.launchMs)} s, page ${secs(outcome.timings.pageMs)} s`,
    );
  } catch (e) {
    // Reported by every test below (a failing beforeAll alone would leave them reported as skipped).
    harnessError = e;
  }
}, DEFAULT_PAGE_TIMEOUT_MS + 120_000);

/** The page's results; throws the harness's own failure (no Chromium, no page) if there was one. */
function pageResults(): PageResults {
  if (harnessError) throw harnessError;
  const results = outcome?.results;
  if (!results) throw new Error('the page never set window.__inceptResults (the bundle did not run?)');
  return results;
}

/** The page's results under `name`: as many as the cases listed under that name, all of them. */
function resultsFor(name: string, expectedCount: number): PageResult[] {
  const found = pageResults().results.filter((r) => r.name === name);
  expect(found, `the page reported ${found.length} result(s) for '${name}', expected ${expectedCount} ${replay}`).toHaveLength(expectedCount);
  return found;
}

describe('browser (Chromium WebGPU)', () => {
  it('the page ran to completion on a WebGPU adapter, with no errors outside the cases', () => {
    const results = pageResults();
    const o = outcome!;
    const diagnostics = `\nconsole:\n${o.consoleLog.join('\n') || '(empty)'}`;
    expect(o.timedOut, `the page did not finish within ${DEFAULT_PAGE_TIMEOUT_MS / 1000} s ${replay}${diagnostics}`).toBe(false);
    expect(results.fatal, `the page failed before finishing ${replay}`).toBeUndefined();
    expect(results.done).toBe(true);
    expect(results.adapter, 'the engine reported no adapter name').not.toBe('');
    expect(o.pageErrors, 'uncaught errors in the page').toEqual([]);
    expect(o.consoleErrors, 'console errors in the page').toEqual([]);
    expect(o.failedRequests, 'failed requests').toEqual([]);
  });

  it('case names are unique, so each result maps to one case', () => {
    expect(CASE_NAMES.length).toBe(ALL_CASE_NAMES.length);
  });

  it('the page reported every kernel case and error check, and nothing else', () => {
    const reported = pageResults().results.map((r) => r.name);
    const expected = [...ALL_CASE_NAMES, ...ERROR_CHECKS, ...CUSTOM_KERNEL_CHECKS, ...SHARED_DEVICE_CHECKS, ...IMAGE_DECODE_CHECKS];
    expect([...reported].sort()).toEqual([...expected].sort());
  });

  describe('kernel cases', () => {
    it.each(CASE_NAMES)('%s', (name) => {
      for (const r of resultsFor(name, ALL_CASE_NAMES.filter((n) => n === name).length)) {
        expect(r.ok, `${r.error} ${replay}`).toBe(true);
        // Either compared with the reference, or refused because Chromium's adapter lacks a feature.
        if (r.refused === undefined) expect(r.relErr).toBeTypeOf('number');
        else expect(r.refused).toMatch(/needs the '[a-z-]+' feature/);
      }
    });
  });

  describe('custom kernels (defineKernel, defineVariants) in the page', () => {
    it.each(CUSTOM_KERNEL_CHECKS)('%s', (name) => {
      const [r] = resultsFor(name, 1);
      expect(r!.ok, `${r!.error} ${replay}`).toBe(true);
    });
  });

  describe("image decoding in the page: JPEGs by the browser's decoder", () => {
    it.each(IMAGE_DECODE_CHECKS)('%s', (name) => {
      const [r] = resultsFor(name, 1);
      expect(r!.ok, `${r!.error} ${replay}`).toBe(true);
    });
  });

  describe('a GPUDevice shared with TensorFlow.js in the page', () => {
    it.each(SHARED_DEVICE_CHECKS)('%s', (name) => {
      const [r] = resultsFor(name, 1);
      expect(r!.ok, `${r!.error} ${replay}`).toBe(true);
    });
  });

  describe('in-page checks: errors are not silent, tuning persists in localStorage', () => {
    it.each(ERROR_CHECKS)('%s', (name) => {
      const [r] = resultsFor(name, 1);
      expect(r!.ok, r!.error).toBe(true);
    });
  });
});
