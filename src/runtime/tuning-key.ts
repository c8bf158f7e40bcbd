/**
 * What the tuner measures, as data: a tunable set (one per op) names its variants, how to
 * make inputs of a problem, and the structured key that decides which problems share one
 * measurement. The key's sizes are bucketed (anchored to powers of two) so a batch of 3 and a
 * batch of 4 share a choice, while the facts that decide which variants apply at all (kernel
 * size, stride, padding, divisibility by 4) stay exact. The stored string is derived from the
 * key by `tuningKeyString` alone, and it carries a checksum of the kernel sources, so a choice
 * measured against older kernels is measured again rather than trusted.
 */
import type { Tensor } from './tensor.js';

export type TuningKeyValue = number | boolean | string;
/** Field order is the order of the stored string; names and string values are plain words. */
export type TuningKey = Readonly<Record<string, TuningKeyValue>>;

/** The inputs of one problem (the tuner disposes them when done) and a function that records
 * one run of a variant on them. */
export interface TuningInputs {
  inputs: Tensor[];
  run: (variant: string) => unknown;
}

/**
 * One op's tunable variants. The problem type P carries whatever makeInputs needs (the engine
 * included), so the tuner stays ignorant of engines and ops; the key needs only K, the shape
 * part of it, so a key can be written without an engine at hand.
 */
export interface TunableSet<P extends K, K = P> {
  readonly op: string;
  /** Hash of the kernel sources the variants run (see kernelChecksum). */
  readonly checksum: string;
  readonly variants: readonly { readonly name: string }[];
  key(problem: K): TuningKey;
  /** Fresh, seeded inputs of the problem's own shapes (the caller's may be gone by tune()). */
  makeInputs(problem: P): TuningInputs;
}

/**
 * The bucket of a size: the smallest power of two ≥ x, clamped to [min, max]. Neighbouring
 * sizes behave alike on the same kernels, and exact sizes would make every batch and image
 * size its own measurement.
 */
export function anchor(x: number, options: { min?: number; max?: number } = {}): number {
  const min = options.min ?? 1;
  const max = options.max ?? 2 ** 30;
  const p = x <= 1 ? 1 : 2 ** Math.ceil(Math.log2(x));
  return Math.min(max, Math.max(min, p));
}

/** FNV-1a over the given sources, as 8 hex digits. */
export function sourceChecksum(sources: Iterable<string>): string {
  let h = 0x811c9dc5;
  for (const src of sources) {
    for (let i = 0; i < src.length; i++) h = Math.imul(h ^ src.charCodeAt(i), 0x01000193) >>> 0;
    // A separator, so moving text from one file's end to the next file's start changes the sum.
    h = Math.imul(h ^ 0xff, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** The checksum of the distinct kernel files a set's variants run. */
export function kernelChecksum(kernels: Iterable<{ readonly code: string }>): string {
  return sourceChecksum([...new Set([...kernels].map((k) => k.code))]);
}

const WORD = /^[A-Za-z][A-Za-z0-9_]*$/;

function valueText(v: TuningKeyValue): string {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`tuning key: ${v} is not a finite number`);
    return String(v);
  }
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (!WORD.test(v) || v === 'yes' || v === 'no') throw new Error(`tuning key: '${v}' is not a plain word (a letter first; not yes or no)`);
  return v;
}

/** The stored form of a set's key: `kernels=<checksum> name=value …`, in the key's field order. */
export function tuningKeyString<K>(set: { readonly checksum: string; key(problem: K): TuningKey }, problem: K): string {
  // A letter first: an all-digit checksum would otherwise read back as a number.
  return formatTuningKey({ kernels: `fnv${set.checksum}`, ...set.key(problem) });
}

export function formatTuningKey(key: TuningKey): string {
  return Object.entries(key)
    .map(([name, v]) => {
      if (!WORD.test(name)) throw new Error(`tuning key: field name '${name}' is not a plain word`);
      return `${name}=${valueText(v)}`;
    })
    .join(' ');
}

/** The structured key of a stored string, or undefined if it is not one (an older format). */
export function parseTuningKey(text: string): TuningKey | undefined {
  const key: Record<string, TuningKeyValue> = {};
  if (text === '') return undefined;
  for (const field of text.split(' ')) {
    const m = /^([A-Za-z][A-Za-z0-9_]*)=(-?[0-9]+(?:\.[0-9]+)?|[A-Za-z0-9_]+)$/.exec(field);
    if (!m || m[1]! in key) return undefined;
    const raw = m[2]!;
    key[m[1]!] = raw === 'yes' ? true : raw === 'no' ? false : /^-?[0-9]+(?:\.[0-9]+)?$/.test(raw) ? Number(raw) : raw;
  }
  return typeof key.kernels === 'string' ? key : undefined;
}
