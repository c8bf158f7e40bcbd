/**
 * Where a model's files come from, made uniform: bytes, named files, a TF.js model.json with its
 * shards (given as files, a reader, or a Node path with the shards beside it), each resolved to
 * the main file's bytes and a name for errors, and for TF.js, a reader of its shards.
 */
import { InvalidArgumentError } from '../runtime/errors.js';
import { readUserFile, UserFileError } from '../io/read-user-file.js';
import type { NamedBytes, TfjsModelSource, WeightsSource } from './classifier-types.js';
import { ClassifierError } from './format.js';

export interface ResolvedSource {
  /** The main file: safetensors, ONNX or model.json bytes. */
  bytes?: Uint8Array;
  name: string;
  files?: readonly NamedBytes[];
  tfjs?: TfjsModelSource;
  /** Node path of the main file, for TF.js shards beside it. */
  path?: string;
}

/** A plain Uint8Array view: a Node Buffer's slice() shares memory instead of copying, which the
 * decoders' copies rely on, so Buffers are re-viewed. */
const toBytes = (b: Uint8Array | ArrayBuffer): Uint8Array =>
  b instanceof ArrayBuffer ? new Uint8Array(b) : b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
const baseName = (p: string): string => p.split(/[\\/]/).pop() ?? p;

/** A file-reading fault as the ClassifierError the API promises (same message: path, then problem). */
function asClassifierError(e: unknown): never {
  if (e instanceof UserFileError) throw new ClassifierError(e.message);
  throw e;
}

function isNamedBytes(v: unknown): v is NamedBytes {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as NamedBytes).name === 'string' &&
    ((v as NamedBytes).bytes instanceof Uint8Array || (v as NamedBytes).bytes instanceof ArrayBuffer)
  );
}

/** The model file(s) of `weights`, named by `source` when given. */
export async function resolveSource(weights: WeightsSource, source: string | undefined): Promise<ResolvedSource> {
  if (typeof weights === 'string') {
    const bytes = await readUserFile(weights, { what: 'model file', directoryHint: 'give the model file (for TF.js, its model.json)' }).catch(
      asClassifierError,
    );
    return { bytes, name: source ?? weights, path: weights };
  }
  if (weights instanceof Uint8Array || weights instanceof ArrayBuffer) return { bytes: toBytes(weights), name: source ?? 'the model file' };
  if (isNamedBytes(weights)) return { bytes: toBytes(weights.bytes), name: source ?? weights.name };
  if (Array.isArray(weights)) {
    const files = weights as readonly NamedBytes[];
    if (files.length === 0) throw new ClassifierError('loadClassifier: weights is an empty list of files');
    if (!files.every(isNamedBytes)) throw new InvalidArgumentError('loadClassifier: weights as a list must hold { name, bytes } files');
    if (files.length === 1) return { bytes: toBytes(files[0]!.bytes), name: source ?? files[0]!.name };
    // Several files: a TF.js model.json and its shards.
    const jsons = files.filter((f) => /\.json$/i.test(f.name));
    if (jsons.length !== 1) {
      throw new ClassifierError(
        `loadClassifier: ${files.length} files given (${files.map((f) => f.name).join(', ')}); several files are a TF.js model, which needs exactly one model.json among them (found ${jsons.length})`,
      );
    }
    return { bytes: toBytes(jsons[0]!.bytes), name: source ?? jsons[0]!.name, files };
  }
  if (typeof weights === 'object' && weights !== null && 'modelJson' in weights && typeof (weights as TfjsModelSource).readShard === 'function') {
    const t = weights as TfjsModelSource;
    return { name: source ?? t.name ?? 'model.json', tfjs: t };
  }
  throw new InvalidArgumentError(
    `loadClassifier: weights must be bytes, a { name, bytes } file, a list of them, a TF.js { modelJson, readShard } or (in Node) a path; got ${typeof weights}`,
  );
}

/** The parsed model.json and a shard reader, from whichever way the files came. */
export async function tfjsSource(src: ResolvedSource): Promise<TfjsModelSource> {
  if (src.tfjs) return src.tfjs;
  let modelJson: unknown;
  try {
    modelJson = JSON.parse(new TextDecoder().decode(src.bytes));
  } catch (e) {
    throw new ClassifierError(`${src.name}: not valid JSON, so not a TF.js model.json: ${(e as Error).message}`);
  }
  if (typeof modelJson !== 'object' || modelJson === null || !('modelTopology' in modelJson)) {
    throw new ClassifierError(`${src.name}: JSON without 'modelTopology': not a TF.js layers model.json`);
  }
  const files = src.files;
  if (files) {
    return {
      modelJson,
      readShard: async (p) => {
        const want = baseName(p);
        const f = files.find((x) => x.name === p || baseName(x.name) === want);
        if (!f)
          throw new ClassifierError(
            `${src.name} lists the weight shard '${p}', which is not among the files given (${files.map((x) => x.name).join(', ')}); select model.json and all its shards together`,
          );
        return toBytes(f.bytes);
      },
    };
  }
  if (src.path !== undefined) {
    const dir = src.path.slice(0, Math.max(src.path.lastIndexOf('/'), src.path.lastIndexOf('\\')) + 1);
    return {
      modelJson,
      // The importer has already refused shard paths that leave this folder (src/io/tfjs/manifest.ts).
      readShard: async (p) => {
        const full = dir + p;
        try {
          return await readUserFile(full, { what: 'TF.js weight shard' });
        } catch (e) {
          throw new ClassifierError(
            `${src.name} lists the weight shard '${p}', which could not be read at ${full}: ${e instanceof UserFileError ? e.problem : (e as Error).message}`,
          );
        }
      },
    };
  }
  return {
    modelJson,
    readShard: async (p) => {
      throw new ClassifierError(
        `${src.name} lists the weight shard '${p}', but only model.json was given; pass it with its shards (a list of { name, bytes } files)`,
      );
    },
  };
}
