/**
 * What the CLI's commands share: parsing flag values (every error names the flag, the value as
 * typed and the allowed range) and writing report files. Commands parse every flag before they
 * start an engine, so a typo costs nothing; ranges that depend on the adapter are in
 * adapter-fit.ts.
 */
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { InceptError } from '../runtime/errors.js';
import { CIFAR10_MIN_INPUT_SIZE, CIFAR10_MIN_INPUT_SIZE_WITH_AUX, MIN_INPUT_SIZE, MIN_INPUT_SIZE_WITH_AUX } from '../models/inception-v3-spec.js';

/** A comma-separated list of positive integers, or an error naming the flag. */
export function positiveInts(flag: string, text: string): number[] {
  const values = text.split(',').map((s) => (s.trim() === '' ? NaN : Number(s.trim())));
  if (values.length === 0 || values.some((v) => !Number.isSafeInteger(v) || v < 1)) {
    throw new InceptError(`${flag} needs positive integers separated by commas, got '${text}'`);
  }
  return values;
}

/** Longest a tuning budget may be: a day. Longer is a typo (or Infinity), not a plan. */
export const MAX_SECONDS = 86_400;

/** A number of seconds from 0 to a day, as milliseconds, or an error naming the flag. */
export function secondsAsMs(flag: string, text: string): number {
  const s = text.trim() === '' ? NaN : Number(text);
  if (!(s >= 0 && s <= MAX_SECONDS)) throw new InceptError(`${flag} needs a number of seconds from 0 to ${MAX_SECONDS}, got '${text}'`);
  return s * 1000;
}

export interface IntFlagOptions {
  min: number;
  /** Inclusive; absent: no upper bound but a safe integer. */
  max?: number;
  /** Why the bound, said after it in parentheses. */
  why?: string;
  /** The flag takes one value where a list might be expected ("needs one integer"). */
  one?: boolean;
}

/** An integer in [min, max] from the flag's text (or a number, from an API caller), or an error
 * naming the flag, the range and the value as given (text in quotes). */
export function intFlag(flag: string, text: string | number, options: IntFlagOptions): number {
  const v = typeof text === 'number' ? text : text.trim() === '' ? NaN : Number(text);
  const { min, max } = options;
  if (!Number.isSafeInteger(v) || v < min || (max !== undefined && v > max)) {
    const range = max === undefined ? `of at least ${min}` : `from ${min} to ${max}`;
    const given = typeof text === 'number' ? String(text) : `'${text}'`;
    throw new InceptError(`${flag} needs ${options.one ? 'one integer' : 'an integer'} ${range}${options.why ? ` (${options.why})` : ''}, got ${given}`);
  }
  return v;
}

/** Timed runs of a benchmark: 1 to 1000 (more is a typo, and would run for hours). */
export function repeatsFlag(text: string): number {
  return intFlag('--repeats', text, { min: 1, max: 1000 });
}

/** A width multiplier: any finite number above 0 (0.25, 1.5, 2e-1). */
export function widthFlag(text: string | number): number {
  const v = typeof text === 'number' ? text : text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(v) || v <= 0)
    throw new InceptError(`--width needs a number greater than 0 (the channel multiplier, e.g. 0.25), got ${typeof text === 'number' ? text : `'${text}'`}`);
  return v;
}

/** The smallest input Inception-v3 takes, and why, in words that follow "at least N". */
export function minInputSize(variant: 'imagenet' | 'cifar10', aux: boolean): { min: number; why: string } {
  if (variant === 'cifar10') {
    return aux
      ? { min: CIFAR10_MIN_INPUT_SIZE_WITH_AUX, why: `with the aux head (${CIFAR10_MIN_INPUT_SIZE} with --no-aux)` }
      : { min: CIFAR10_MIN_INPUT_SIZE, why: "(the CIFAR-10 variant's three stride-2 stages take 8×8 to 1×1)" };
  }
  return aux
    ? { min: MIN_INPUT_SIZE_WITH_AUX, why: `with the aux head (${MIN_INPUT_SIZE} with --no-aux)` }
    : { min: MIN_INPUT_SIZE, why: "(smaller images vanish in Inception-v3's stride-2 layers)" };
}

/** --input: an integer at least the variant's smallest input. */
export function inputSizeFlag(text: string | number, variant: 'imagenet' | 'cifar10', aux: boolean): number {
  const { min, why } = minInputSize(variant, aux);
  const v = typeof text === 'number' ? text : text.trim() === '' ? NaN : Number(text);
  if (!Number.isSafeInteger(v) || v < min)
    throw new InceptError(`--input needs an integer of at least ${min} ${why}, got ${typeof text === 'number' ? text : `'${text}'`}`);
  return v;
}

/** A path a command will write at its end: refused now if it is a directory or its folder is a
 * file, rather than after minutes of benchmarking. */
export function outputPathFlag(flag: string, path: string): string {
  if (path.trim() === '') throw new InceptError(`${flag} needs the path of a file to write, got ''`);
  const full = resolve(path);
  const stat = (p: string) => {
    try {
      return statSync(p);
    } catch {
      return undefined;
    }
  };
  if (stat(full)?.isDirectory()) throw new InceptError(`${flag} ${path} is a directory; give the path of a file to write`);
  for (let dir = dirname(full); ; dir = dirname(dir)) {
    const s = stat(dir);
    if (s && !s.isDirectory()) throw new InceptError(`${flag} ${path}: ${dir} is not a directory, so the file cannot be written there`);
    if (s || dirname(dir) === dir) break;
  }
  return path;
}

/** Writes a report file (creating its folder) and returns its absolute path. */
export function writeReport(path: string, text: string): string {
  const full = resolve(path);
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, text);
  return full;
}

/** A name or filter with its dimension separators made one: 'x', 'X' and '×' all read as '×',
 * so `--filter 7x7` finds '7×7'. */
export function normalizeDims(text: string): string {
  return text.replace(/[xX×]/g, '×');
}

/** Whether a --filter (absent: everything) is contained in any of the names, with 'x', 'X' and
 * '×' interchangeable on both sides. */
export function matchesFilter(filter: string | undefined, ...names: readonly string[]): boolean {
  if (filter === undefined || filter === '') return true;
  const f = normalizeDims(filter);
  return names.some((n) => normalizeDims(n).includes(f));
}

/** The width a plain-text table should fit: the terminal's, when stdout is one; otherwise none
 * (a pipe or a file gets every column). */
export function terminalWidth(stream: { isTTY?: boolean; columns?: number } = process.stdout): number | undefined {
  return stream.isTTY && stream.columns && stream.columns > 0 ? stream.columns : undefined;
}
