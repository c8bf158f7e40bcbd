/**
 * A training run's checkpoints on disk:
 *
 *   <run>/checkpoints/step-00001234-1a2b3c4d/checkpoint.safetensors   weights, running statistics,
 *                                                                     optimizer and average state
 *   <run>/checkpoints/step-00001234-1a2b3c4d/checkpoint.json          configuration, step, loader
 *                                                                     position, elapsed time
 *   <run>/checkpoints/latest.json                                     the pointer: which folder is
 *                                                                     the newest complete checkpoint,
 *                                                                     and the one before it
 *
 * The two files of a checkpoint are one unit: they go into a folder of their own (a new, uniquely
 * named one each time), both flushed to disk, and only then does `latest.json` move to it, by an
 * atomic rename. A crash at any moment leaves the pointer on the previous complete checkpoint,
 * which stays on disk until a newer one is published; the one before that is deleted then, so a
 * run keeps two. Folders no pointer names (a crash mid-save) are ignored, and cleared by
 * `removeUnpublishedCheckpoints` when a run next starts in the folder. If the newest checkpoint
 * cannot be read (a damaged disk), reading falls back to the previous one and says so.
 *
 * Runs written before this layout kept one pair, `<run>/checkpoint.safetensors` and
 * `<run>/checkpoint.json`; such a run still resumes from it, and its first new checkpoint
 * replaces it.
 */
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { InceptError } from '../runtime/errors.js';
import type { Tensor } from '../runtime/tensor.js';
import { readCheckpoint, writeCheckpoint, writeFileAtomically } from '../io/checkpoint-file.js';
import type { TrainConfig, TrainState } from './train-config.js';
import { crashNow, crashRequested } from './crash-points.js';

const NAME = 'checkpoint';
const VERSION = 1;
export const CHECKPOINTS_FOLDER = 'checkpoints';
export const LATEST_FILE = 'latest.json';
const POINTER_FORMAT = 'incept-train-latest';
const FOLDER_PATTERN = /^step-(\d+)-[0-9a-f]+$/;

/** The pointer's content: folder names inside `checkpoints/`. */
interface LatestPointer {
  format: typeof POINTER_FORMAT;
  version: 1;
  checkpoint: string;
  step: number;
  previous?: string;
}

export interface SavedTrainCheckpoint {
  state: TrainState;
  tensors: Map<string, Float32Array>;
  /** The folder read (or the run folder, for the old layout). */
  path: string;
}

function readPointer(dir: string): LatestPointer | undefined {
  const path = join(dir, CHECKPOINTS_FOLDER, LATEST_FILE);
  if (!existsSync(path)) return undefined;
  let pointer: Partial<LatestPointer>;
  try {
    pointer = JSON.parse(readFileSync(path, 'utf8')) as Partial<LatestPointer>;
  } catch (e) {
    throw new InceptError(`${path} is not valid JSON (${(e as Error).message}); it is written by rename and never half-written, so something else changed it`);
  }
  if (
    pointer.format !== POINTER_FORMAT ||
    typeof pointer.checkpoint !== 'string' ||
    !FOLDER_PATTERN.test(pointer.checkpoint) ||
    typeof pointer.step !== 'number'
  ) {
    throw new InceptError(`${path} is not a checkpoint pointer written by incept train (needs "format": "${POINTER_FORMAT}", "checkpoint" and "step")`);
  }
  return pointer as LatestPointer;
}

/** The newest published checkpoint's step, folder and configuration, read from its JSON
 * without its tensors (the old layout's pair counts too). Undefined when the run has none. */
export function latestCheckpointInfo(dir: string): { step: number; path: string; config?: TrainConfig } | undefined {
  const pointer = readPointer(dir);
  const path = pointer ? join(dir, CHECKPOINTS_FOLDER, pointer.checkpoint) : dir;
  const json = join(path, `${NAME}.json`);
  if (!pointer && !existsSync(json)) return undefined;
  let state: Partial<TrainState> | undefined;
  try {
    state = (JSON.parse(readFileSync(json, 'utf8')) as { json?: Partial<TrainState> }).json;
  } catch {
    state = undefined; // reported in full when the checkpoint is read
  }
  return { step: pointer?.step ?? (typeof state?.step === 'number' ? state.step : NaN), path, ...(state?.config ? { config: state.config } : {}) };
}

async function syncFolder(path: string): Promise<void> {
  // Makes the new entries (files renamed into the folder) durable; not possible everywhere
  // (Windows), where the rename alone has to do.
  try {
    const fh = await open(path, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // best effort
  }
}

/** Writes a checkpoint into a new folder, then publishes it as the newest; returns its folder. */
export async function writeTrainCheckpoint(dir: string, tensors: Map<string, Tensor>, state: TrainState): Promise<string> {
  const root = join(dir, CHECKPOINTS_FOLDER);
  const name = `step-${String(state.step).padStart(8, '0')}-${globalThis.crypto.randomUUID().slice(0, 8)}`;
  const folder = join(root, name);
  await writeCheckpoint(
    folder,
    NAME,
    { tensors, json: { version: VERSION, ...state } },
    {
      afterTensors: () => {
        if (crashRequested('checkpoint-partial', state.step)) crashNow();
      },
    },
  );
  await syncFolder(folder);
  await syncFolder(root);
  if (crashRequested('checkpoint-unpublished', state.step)) crashNow();

  const before = readPointerQuietly(dir);
  const pointer: LatestPointer = { format: POINTER_FORMAT, version: 1, checkpoint: name, step: state.step, ...(before ? { previous: before.checkpoint } : {}) };
  await writeFileAtomically(join(root, LATEST_FILE), new TextEncoder().encode(`${JSON.stringify(pointer, null, 1)}\n`), 'incept train checkpoint');
  await syncFolder(root);

  // Published: the checkpoint before the previous one is no longer needed, nor the old layout.
  if (before?.previous && before.previous !== name && before.previous !== before.checkpoint)
    rmSync(join(root, before.previous), { recursive: true, force: true });
  for (const legacy of [`${NAME}.safetensors`, `${NAME}.json`]) rmSync(join(dir, legacy), { force: true });
  return folder;
}

function readPointerQuietly(dir: string): LatestPointer | undefined {
  try {
    return readPointer(dir);
  } catch {
    return undefined; // a damaged pointer is replaced by the new one
  }
}

/** Deletes the checkpoint folders no pointer names (left by a crash while saving) and stray
 * temporary files; call while holding the run folder (its lock). Returns what it removed. */
export function removeUnpublishedCheckpoints(dir: string): string[] {
  const root = join(dir, CHECKPOINTS_FOLDER);
  if (!existsSync(root)) return [];
  const pointer = readPointerQuietly(dir);
  const keep = new Set([pointer?.checkpoint, pointer?.previous].filter(Boolean));
  const removed: string[] = [];
  for (const entry of readdirSync(root)) {
    const stray = FOLDER_PATTERN.test(entry) ? !keep.has(entry) : entry.startsWith(`${LATEST_FILE}.`) && entry.endsWith('.tmp');
    if (!stray) continue;
    rmSync(join(root, entry), { recursive: true, force: true });
    removed.push(join(root, entry));
  }
  return removed;
}

async function readFolder(path: string): Promise<SavedTrainCheckpoint> {
  const saved = await readCheckpoint(path, NAME);
  const json = saved.json as Partial<TrainState> & { version?: number };
  if (json.version !== VERSION || !json.config || typeof json.step !== 'number' || !json.loader) {
    throw new InceptError(`${join(path, `${NAME}.json`)} is not a training checkpoint of this version (version ${String(json.version)}, expected ${VERSION})`);
  }
  const tensors = new Map<string, Float32Array>();
  for (const [name, t] of saved.tensors) {
    if (!(t.data instanceof Float32Array))
      throw new InceptError(`${join(path, `${NAME}.safetensors`)}: tensor ${name} is ${t.dtype}, a training checkpoint holds F32 only`);
    tensors.set(name, t.data);
  }
  const { version: _v, ...state } = json as TrainState & { version: number };
  return { state, tensors, path };
}

/** Reads the newest published checkpoint of the run in `dir` (falling back to the previous one
 * when the newest is damaged, with a message), or the old layout's pair. */
export async function readTrainCheckpoint(dir: string, options: { onMessage?: (m: string) => void } = {}): Promise<SavedTrainCheckpoint> {
  const pointer = readPointer(dir);
  if (!pointer) {
    if (existsSync(join(dir, `${NAME}.json`)) || existsSync(join(dir, `${NAME}.safetensors`))) return readFolder(dir);
    throw new InceptError(`no checkpoint in ${dir}: neither ${join(CHECKPOINTS_FOLDER, LATEST_FILE)} nor ${NAME}.json is there`);
  }
  const root = join(dir, CHECKPOINTS_FOLDER);
  try {
    return await readFolder(join(root, pointer.checkpoint));
  } catch (e) {
    if (!pointer.previous) throw e;
    const previous = await readFolder(join(root, pointer.previous)).catch(() => undefined);
    if (!previous) throw e;
    options.onMessage?.(
      `the newest checkpoint (step ${pointer.step}) cannot be read: ${(e as Error).message}. Using the previous checkpoint (step ${previous.state.step}), ${previous.path}`,
    );
    return previous;
  }
}
