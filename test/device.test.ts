/** Adapter discovery in Node: auto prefers a hardware adapter, then lavapipe, then SwiftShader;
 * a driver can be pinned; the choice and its reason are visible; no adapter is a clear error. */
import { describe, expect, it } from 'vitest';
import { createEngine } from '../src/runtime/engine.js';
import { NoAdapterError } from '../src/runtime/errors.js';
import { selectNodeAdapter } from '../src/runtime/gpu-node.js';

describe('adapter discovery', () => {
  it('auto takes a hardware adapter if there is one, else lavapipe, and says why', async () => {
    const engine = await createEngine({ driver: 'auto' });
    try {
      if (engine.driver === 'hardware') {
        expect(engine.isSoftwareAdapter).toBe(false);
      } else {
        expect(engine.driver).toBe('lavapipe');
        expect(engine.adapterInfo.description).toMatch(/llvmpipe/);
        expect(engine.driverReason).toMatch(/no hardware adapter; lavapipe is the faster software driver/);
      }
      // The device got the adapter's workgroup storage, not the 16 KiB default.
      expect(engine.limits.maxComputeWorkgroupStorageSize).toBe(engine.adapterLimits.maxComputeWorkgroupStorageSize);
      expect(engine.features.has('timestamp-query')).toBe(engine.adapterFeatures.has('timestamp-query'));
      expect(engine.features.has('subgroups')).toBe(engine.adapterFeatures.has('subgroups'));
    } finally {
      engine.destroy();
    }
  });

  it('a driver can be pinned: swiftshader and lavapipe', async () => {
    for (const [driver, pattern] of [
      ['swiftshader', /SwiftShader/i],
      ['lavapipe', /llvmpipe/],
    ] as const) {
      const engine = await createEngine({ driver });
      try {
        expect(engine.driver).toBe(driver);
        expect(engine.adapterInfo.description).toMatch(pattern);
        expect(engine.driverReason).toMatch(new RegExp(`driver=${driver} requested`));
      } finally {
        engine.destroy();
      }
    }
  });

  it('an unknown driver name is refused with the valid choices', async () => {
    await expect(selectNodeAdapter('nonsense' as never)).rejects.toThrow(/use one of auto, hardware, lavapipe, swiftshader, system/);
  });

  it('asking for hardware where there is none says so and how to fall back', async () => {
    const probe = await createEngine();
    const software = probe.isSoftwareAdapter;
    probe.destroy();
    if (software) {
      await expect(createEngine({ driver: 'hardware' })).rejects.toThrow(NoAdapterError);
      await expect(createEngine({ driver: 'hardware' })).rejects.toThrow(/no hardware adapter.*driver=auto/s);
    } else {
      const engine = await createEngine({ driver: 'hardware' });
      expect(engine.driver).toBe('hardware');
      engine.destroy();
    }
  });
});
