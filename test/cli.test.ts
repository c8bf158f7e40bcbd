/** The `incept` command as a user runs it (a child process on the built bundle). */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const incept = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, ['bin/incept.js', ...args], { env: { ...process.env, ...env }, timeout: 300_000, maxBuffer: 16 << 20 });

describe('incept device', () => {
  it('--json prints adapter, features, limits and a measured peakGflops', async () => {
    const { stdout, stderr } = await incept(['device', '--json', '--quick']);
    const report = JSON.parse(stdout);
    expect(report.adapter.description.length).toBeGreaterThan(0);
    expect(report.features).toEqual(expect.arrayContaining(['timestamp-query']));
    expect(report.limits.maxComputeWorkgroupStorageSize).toBeGreaterThanOrEqual(16384);
    expect(report.peakGflops).toBeGreaterThan(0);
    expect(report.peak.variants.length).toBeGreaterThanOrEqual(2);
    expect(report.driver.reason.length).toBeGreaterThan(0);
    expect(stderr).toMatch(/measuring matmul peak/); // progress goes to stderr, JSON stays clean
  });

  it('prints a readable report; INCEPT_DRIVER pins the driver', async () => {
    const { stdout } = await incept(['device', '--no-peak'], { INCEPT_DRIVER: 'swiftshader' });
    expect(stdout).toMatch(/^Adapter\s+SwiftShader/m);
    expect(stdout).toMatch(/^Driver\s+swiftshader: driver=swiftshader requested/m);
    expect(stdout).toMatch(/maxComputeWorkgroupStorageSize\s+\d+/);
    expect(stdout).toMatch(/Matmul peak\s+not measured/);
  });

  it('no adapter at all: exits 1 with the cause and the fix', async () => {
    const err = await incept(['device', '--no-peak', '--driver', 'system'], { VK_ICD_FILENAMES: '/nonexistent/icd.json' }).catch((e: unknown) => e);
    const { code, stderr } = err as { code: number; stderr: string };
    expect(code).toBe(1);
    expect(stderr).toMatch(/incept: Dawn found no adapter/);
    expect(stderr).toMatch(/npm run setup/);
  });

  it('rejects an unknown driver name', async () => {
    const err = await incept(['device', '--driver', 'gpu9000']).catch((e: unknown) => e);
    expect((err as { stderr: string }).stderr).toMatch(/Allowed choices are auto, hardware, lavapipe, swiftshader, system/);
  });
});
