/** What the CLI's commands share: parsing numeric flags and writing report files. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { InceptError } from '../runtime/errors.js';

/** A comma-separated list of positive integers, or an error naming the flag. */
export function positiveInts(flag: string, text: string): number[] {
  const values = text.split(',').map((s) => Number(s.trim()));
  if (values.length === 0 || values.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new InceptError(`${flag} needs positive integers separated by commas, got '${text}'`);
  }
  return values;
}

/** A number of seconds ≥ 0 as milliseconds, or an error naming the flag. */
export function secondsAsMs(flag: string, text: string): number {
  const s = Number(text);
  if (!(s >= 0)) throw new InceptError(`${flag} needs a number of seconds ≥ 0, got '${text}'`);
  return s * 1000;
}

/** Writes a report file (creating its folder) and returns its absolute path. */
export function writeReport(path: string, text: string): string {
  const full = resolve(path);
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, text);
  return full;
}
