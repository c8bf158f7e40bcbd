/**
 * How an engine's tuner is set up when the caller does not say: the mode from INCEPT_TUNING, the
 * store for this runtime, and the key that keeps one adapter's measurements apart from another's.
 */
import { isBrowser, type AcquiredDevice } from './device.js';
import { InvalidArgumentError } from './errors.js';
import { LocalStorageTuningStore, type TuningMode, type TuningStore } from './tuner.js';

/** Identifies an adapter (and the features that change which variants exist) in tuning records. */
export function adapterKey(a: AcquiredDevice): string {
  const i = a.info;
  const parts = [i.vendor, i.architecture, i.device, i.description, a.driver].filter(Boolean);
  return `${parts.join('/')}${a.features.has('subgroups') ? '+subgroups' : ''}`;
}

export function tuningModeFromEnv(): TuningMode | undefined {
  const v = typeof process !== 'undefined' ? process.env?.INCEPT_TUNING : undefined;
  if (v === undefined || v === '') return undefined;
  if (v === 'auto' || v === 'cached' || v === 'off') return v;
  throw new InvalidArgumentError(`INCEPT_TUNING must be auto, cached or off, got '${v}'`);
}

/** A JSON file in Node (imported only there: it needs node:fs), localStorage in browsers. */
export async function defaultTuningStore(): Promise<TuningStore> {
  if (isBrowser()) return new LocalStorageTuningStore();
  const { FileTuningStore } = await import('./tuning-file.js');
  return new FileTuningStore();
}
