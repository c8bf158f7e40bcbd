/** `incept device`: what adapter the engine found, why, what it offers, and its matmul peak. */
import type { Engine } from '../runtime/engine.js';
import { InceptError } from '../runtime/errors.js';
import type { PeakResult } from '../bench/matmul-peak.js';

export interface DeviceReport {
  adapter: { vendor: string; architecture: string; device: string; description: string; isFallbackAdapter: boolean; software: boolean };
  driver: { name: string; reason: string };
  /** Every feature the adapter offers. */
  features: string[];
  /** The features the engine enabled on its device. */
  enabledFeatures: string[];
  /** The device's limits as the engine requested them (each raised to the adapter's maximum). */
  limits: Record<string, number>;
  timing: 'timestamp' | 'cpu-wall';
  peakGflops: number | null;
  peak: PeakResult | null;
}

/** The flags, before the engine starts: --quick only shortens a peak measurement --no-peak skips. */
export function checkDeviceOptions(opts: { peak: boolean; quick?: boolean }): void {
  if (opts.quick && !opts.peak) throw new InceptError('--quick shortens the matmul peak measurement, which --no-peak skips; give one of them');
}

function limitsObject(limits: GPUSupportedLimits): Record<string, number> {
  const out: Record<string, number> = {};
  // GPUSupportedLimits exposes its values as prototype getters, so walk the prototype chain.
  for (let o: object | null = limits; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const key of Object.getOwnPropertyNames(o)) {
      const v = (limits as unknown as Record<string, unknown>)[key];
      if (typeof v === 'number' && !(key in out)) out[key] = v;
    }
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

export function buildDeviceReport(engine: Engine, peak: PeakResult | null): DeviceReport {
  const i = engine.adapterInfo;
  return {
    adapter: {
      vendor: i.vendor,
      architecture: i.architecture,
      device: i.device,
      description: i.description,
      isFallbackAdapter: Boolean(i.isFallbackAdapter),
      software: engine.isSoftwareAdapter,
    },
    driver: { name: engine.driver, reason: engine.driverReason },
    features: [...engine.adapterFeatures].sort(),
    enabledFeatures: [...engine.features].sort(),
    limits: limitsObject(engine.limits),
    timing: engine.profiler.timing,
    peakGflops: peak ? Number(peak.gflops.toFixed(3)) : null,
    peak,
  };
}

const KEY_LIMITS = [
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
];

export function formatDeviceReport(r: DeviceReport): string {
  const lines: string[] = [];
  const row = (k: string, v: string) => lines.push(`${k.padEnd(13)}${v}`);
  row(
    'Adapter',
    `${r.adapter.description || r.adapter.device} (vendor ${r.adapter.vendor || '?'}, architecture ${r.adapter.architecture || '?'}${r.adapter.software ? ', software rasteriser' : ''})`,
  );
  row('Driver', `${r.driver.name}: ${r.driver.reason}`);
  row('Features', r.features.join(', '));
  row('Enabled', r.enabledFeatures.join(', ') || '(none)');
  row('Timing', r.timing === 'timestamp' ? 'GPU timestamp queries' : 'cpu-wall fallback (no timestamp-query): times include submission overhead');
  lines.push('Limits');
  for (const k of KEY_LIMITS) if (k in r.limits) lines.push(`  ${k.padEnd(36)}${r.limits[k]}`);
  if (r.peak) {
    row('Matmul peak', `${r.peak.gflops.toFixed(2)} GFLOP/s float32 (${r.peak.variant}, ${r.peak.size}×${r.peak.size}×${r.peak.size}, ${r.peak.timing})`);
    for (const v of r.peak.variants) {
      lines.push(`  ${v.variant.padEnd(14)}${v.gflops.toFixed(2).padStart(9)} GFLOP/s  ${v.size}³ median of ${v.runs}: ${v.ms.toFixed(2)} ms`);
    }
  } else {
    row('Matmul peak', 'not measured (--no-peak)');
  }
  return lines.join('\n');
}
