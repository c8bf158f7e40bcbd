/**
 * Tuning records in a JSON file (Node only; the browser bundle stubs this module and uses
 * localStorage). Default: $INCEPT_TUNING_FILE, else $XDG_CACHE_HOME/incept-gpu/tuning.json,
 * else ~/.cache/incept-gpu/tuning.json.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { validTuningRecords, type TuningRecord, type TuningStore } from './tuner.js';

export function defaultTuningFile(): string {
  if (process.env.INCEPT_TUNING_FILE) return process.env.INCEPT_TUNING_FILE;
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cache, 'incept-gpu', 'tuning.json');
}

export class FileTuningStore implements TuningStore {
  constructor(readonly path = defaultTuningFile()) {}

  get description(): string {
    return this.path;
  }

  load(): Record<string, TuningRecord> {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch {
      return {};
    }
    try {
      return validTuningRecords(JSON.parse(text), this.path);
    } catch {
      // A damaged cache only costs a re-measurement; say so rather than fail the run.
      console.warn(`incept: ignoring unreadable tuning file ${this.path}`);
      return {};
    }
  }

  save(records: Record<string, TuningRecord>): void {
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      // Write then rename, so a concurrent reader never sees half a file.
      const tmp = `${this.path}.${process.pid}.tmp`;
      writeFileSync(tmp, `${JSON.stringify(records, null, 1)}\n`);
      renameSync(tmp, this.path);
    } catch (e) {
      console.warn(`incept: could not save tuning results to ${this.path}: ${(e as Error).message}`);
    }
  }
}
