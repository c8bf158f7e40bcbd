/**
 * A checkpoint as two files side by side: `${name}.safetensors` (the tensors) and `${name}.json`
 * (anything else: step, optimizer settings, metrics). Each is written atomically, through a
 * temporary file of its own unique name (two writers never share one); both carry the same random
 * checkpoint id (in the safetensors metadata and in the JSON), so a pair where one file was
 * overwritten without the other (an interrupted save, a copy from elsewhere) is refused instead of
 * mixing weights and state from different runs. Node only (file system).
 */
import { InceptError, InvalidArgumentError } from '../runtime/errors.js';
import type { Tensor } from '../runtime/tensor.js';
import { SafetensorsError, decodeSafetensors, encodeSafetensors, nodeFs, readFileBytes, readTensorsToHost, type SafetensorsTensor } from './safetensors.js';
import { negativeVarianceProblem, nonFiniteProblem } from './weight-values.js';

/** The metadata key of the safetensors file that holds the checkpoint id. */
export const CHECKPOINT_ID_KEY = 'incept.checkpoint';
const FORMAT = 'incept-checkpoint';

export interface CheckpointInput {
  tensors: Map<string, Tensor> | Record<string, Tensor>;
  /** Any JSON-serializable value, stored in `${name}.json`. */
  json: unknown;
  /** Extra string metadata for the safetensors header. */
  metadata?: Record<string, string>;
}

export interface Checkpoint {
  tensors: Map<string, SafetensorsTensor>;
  json: unknown;
  /** The safetensors metadata, the checkpoint id included. */
  metadata: Record<string, string>;
  id: string;
}

export interface CheckpointPaths {
  safetensors: string;
  json: string;
}

function joinPath(dir: string, file: string): string {
  if (dir === '') return file;
  return /[\\/]$/.test(dir) ? dir + file : `${dir}/${file}`;
}

export function checkpointPaths(dir: string, name: string): CheckpointPaths {
  if (typeof name !== 'string' || name === '' || /[\\/\0]/.test(name)) {
    throw new InvalidArgumentError(`checkpoint name ${JSON.stringify(name)} must be a non-empty file name (no '/', '\\' or NUL)`);
  }
  return { safetensors: joinPath(dir, `${name}.safetensors`), json: joinPath(dir, `${name}.json`) };
}

/**
 * Writes bytes to `path` atomically: to a temporary file beside it with a unique name (so
 * concurrent writers of the same path never write into one temporary file), flushed to disk,
 * then renamed over `path`; a reader sees the old file or the new one, never half of one.
 * @internal
 */
export async function writeFileAtomically(path: string, bytes: Uint8Array, what: string): Promise<void> {
  const fs = await nodeFs(what);
  const tmp = `${path}.${globalThis.crypto.randomUUID()}.tmp`;
  try {
    const fh = await fs.open(tmp, 'wx');
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, path);
  } catch (e) {
    await fs.rm(tmp, { force: true }).catch(() => {});
    throw new InceptError(`${what}: could not write ${path}: ${(e as Error).message}`);
  }
}

/** Writes `${dir}/${name}.safetensors` and `${dir}/${name}.json` (creating dir), each atomically.
 * `afterTensors` runs between the two (crash tests stop there). */
export async function writeCheckpoint(
  dir: string,
  name: string,
  checkpoint: CheckpointInput,
  hooks: { afterTensors?: () => void } = {},
): Promise<CheckpointPaths & { id: string }> {
  const paths = checkpointPaths(dir, name);
  const id = globalThis.crypto.randomUUID();
  const what = `writeCheckpoint(${paths.safetensors})`;
  if (checkpoint.metadata && CHECKPOINT_ID_KEY in checkpoint.metadata)
    throw new InvalidArgumentError(`${what}: metadata key '${CHECKPOINT_ID_KEY}' is reserved`);
  let text: string | undefined;
  try {
    text = JSON.stringify({ format: FORMAT, version: 1, id, safetensors: `${name}.safetensors`, json: checkpoint.json }, null, 1);
  } catch (e) {
    throw new InvalidArgumentError(`${what}: json is not serializable: ${(e as Error).message}`);
  }
  const host = await readTensorsToHost(checkpoint.tensors, what);
  let bytes: Uint8Array;
  try {
    bytes = encodeSafetensors(host, { ...checkpoint.metadata, [CHECKPOINT_ID_KEY]: id });
  } catch (e) {
    throw e instanceof InvalidArgumentError ? new InvalidArgumentError(`${what}: ${e.message}`) : e;
  }
  if (dir !== '') await (await nodeFs('writeCheckpoint')).mkdir(dir, { recursive: true });
  // Tensors first: if the JSON rename never happens, the ids differ and readCheckpoint says so.
  await writeFileAtomically(paths.safetensors, bytes, 'writeCheckpoint');
  hooks.afterTensors?.();
  await writeFileAtomically(paths.json, new TextEncoder().encode(`${text}\n`), 'writeCheckpoint');
  return { ...paths, id };
}

/** Reads a checkpoint pair written by writeCheckpoint; throws SafetensorsError naming the file when
 * either is missing or damaged, when the two carry different checkpoint ids, or when a float
 * tensor holds NaN or an infinity (or a running variance is negative), naming the tensor. */
export async function readCheckpoint(dir: string, name: string): Promise<Checkpoint> {
  const paths = checkpointPaths(dir, name);
  const fs = await nodeFs('readCheckpoint');
  const exists = async (p: string): Promise<boolean> =>
    fs.access(p).then(
      () => true,
      () => false,
    );
  const [hasTensors, hasJson] = await Promise.all([exists(paths.safetensors), exists(paths.json)]);
  if (!hasTensors || !hasJson) {
    const missing = !hasTensors ? paths.safetensors : paths.json;
    const other = !hasTensors ? paths.json : paths.safetensors;
    const state = (!hasTensors ? hasJson : hasTensors) ? `${other} exists without it` : `${other} is missing too`;
    throw new SafetensorsError(missing, `checkpoint '${name}' is incomplete: this file is missing (${state})`);
  }
  const decoded = decodeSafetensors(await readFileBytes(paths.safetensors, 'readCheckpoint', 'checkpoint tensor file'), paths.safetensors);
  const jsonBytes = await readFileBytes(paths.json, 'readCheckpoint', 'checkpoint JSON file');
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(jsonBytes));
  } catch (e) {
    throw new SafetensorsError(paths.json, `checkpoint JSON is not valid JSON (${(e as Error).message})`);
  }
  const record = doc as { format?: unknown; id?: unknown; json?: unknown } | null;
  if (!record || typeof record !== 'object' || record.format !== FORMAT || typeof record.id !== 'string') {
    throw new SafetensorsError(paths.json, `not a checkpoint JSON written by writeCheckpoint (needs "format": "${FORMAT}" and an "id")`);
  }
  const tensorId = decoded.metadata[CHECKPOINT_ID_KEY];
  if (tensorId === undefined) {
    throw new SafetensorsError(
      paths.safetensors,
      `has no '${CHECKPOINT_ID_KEY}' metadata, so it cannot be matched with ${paths.json}; it was not written by writeCheckpoint`,
    );
  }
  if (tensorId !== record.id) {
    throw new SafetensorsError(
      paths.safetensors,
      `does not belong with ${paths.json}: checkpoint ids differ (${tensorId} vs ${record.id}); one of the two was overwritten without the other (an interrupted save, or files from different checkpoints)`,
    );
  }
  // Weights and statistics go back into a model: NaN, infinities or a negative running
  // variance would only carry a diverged or damaged run on (src/io/weight-values.ts).
  for (const [name, t] of decoded.tensors) {
    if (!(t.data instanceof Float32Array)) continue;
    const bad =
      nonFiniteProblem(`tensor '${name}'`, t.data, t.shape) ??
      (name.endsWith('running_var') ? negativeVarianceProblem(`tensor '${name}' is a BatchNorm running variance`, t.data) : undefined);
    if (bad) throw new SafetensorsError(paths.safetensors, bad);
  }
  return { tensors: decoded.tensors, json: record.json, metadata: decoded.metadata, id: tensorId };
}
