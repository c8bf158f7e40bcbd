/**
 * What a run folder holds, for refusing to start a new run over an old one: its run record, its
 * checkpoints (either layout), its metrics and its report. And deleting exactly those (and
 * nothing else in the folder) when the user asks to start over (`--overwrite`).
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CHECKPOINTS_FOLDER, latestCheckpointInfo } from './checkpoint.js';
import { RUN_CONFIG_FILE } from './run-config.js';

const LEGACY_CHECKPOINT = ['checkpoint.safetensors', 'checkpoint.json'];
const REPORT = 'report.html';

function nonEmptyFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile() && statSync(path).size > 0;
}

/** The run in `dir` in words (what would be lost), or undefined when it holds none. */
export function describeRun(dir: string, metricsPath: string): string | undefined {
  const parts: string[] = [];
  if (existsSync(join(dir, RUN_CONFIG_FILE))) parts.push(RUN_CONFIG_FILE);
  let latest: ReturnType<typeof latestCheckpointInfo>;
  try {
    latest = latestCheckpointInfo(dir);
  } catch {
    latest = { step: NaN, path: join(dir, CHECKPOINTS_FOLDER) }; // a damaged pointer is still a run
  }
  const checkpoints = join(dir, CHECKPOINTS_FOLDER);
  if (latest) parts.push(Number.isFinite(latest.step) ? `a checkpoint at step ${latest.step}` : 'a checkpoint');
  else if (existsSync(checkpoints) && readdirSync(checkpoints).length > 0) parts.push(`${CHECKPOINTS_FOLDER}/`);
  if (nonEmptyFile(metricsPath)) parts.push(`metrics in ${metricsPath}`);
  if (existsSync(join(dir, REPORT))) parts.push(REPORT);
  return parts.length ? parts.join(', ') : undefined;
}

/** Deletes the run's files in `dir` and the given metrics files; leaves anything else there. */
export function deleteRun(dir: string, metricsPaths: readonly string[]): void {
  rmSync(join(dir, CHECKPOINTS_FOLDER), { recursive: true, force: true });
  for (const f of [...LEGACY_CHECKPOINT, REPORT]) rmSync(join(dir, f), { force: true });
  for (const m of metricsPaths) rmSync(m, { force: true });
  rmSync(join(dir, RUN_CONFIG_FILE), { force: true }); // last: until here the folder still reads as a run
}
