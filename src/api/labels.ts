/**
 * Class labels for a classifier: parsed from the files people have (a JSON array of names such
 * as imagenet-simple-labels.json, Keras's imagenet_class_index.json, or one name per line) and
 * matched against the model's class count, so a label list for another model is an error and
 * never a quietly wrong answer.
 */
import { ClassifierError } from './format.js';
import { CIFAR10_CLASSES } from '../data/dataset.js';
import { MIN_INPUT_SIZE } from '../models/inception-v3-spec.js';

/**
 * Labels from a file's text: a JSON array of strings; a JSON object from class index to a name
 * or to [wordnet id, name] (Keras's imagenet_class_index.json); or plain text, one label a line
 * (blank lines at the end ignored).
 */
export function parseLabels(text: string, source = 'labels'): string[] {
  const trimmed = text.replace(/^\uFEFF/, '').trim();
  if (trimmed === '') throw new ClassifierError(`${source}: no labels (the file is empty)`);
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (e) {
      throw new ClassifierError(`${source}: not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (Array.isArray(value)) {
      const bad = value.findIndex((v) => typeof v !== 'string');
      if (bad >= 0) throw new ClassifierError(`${source}: a label list must hold strings; entry ${bad} is ${JSON.stringify(value[bad])}`);
      return value as string[];
    }
    if (typeof value === 'object' && value !== null) {
      const entries = Object.entries(value as Record<string, unknown>);
      const out: string[] = new Array<string>(entries.length);
      for (const [k, v] of entries) {
        const i = Number(k);
        const name = typeof v === 'string' ? v : Array.isArray(v) && typeof v[v.length - 1] === 'string' ? (v[v.length - 1] as string) : undefined;
        if (!Number.isInteger(i) || i < 0 || i >= entries.length || name === undefined) {
          throw new ClassifierError(
            `${source}: expected an object from class indices 0..${entries.length - 1} to names (or [id, name] pairs), got key ${JSON.stringify(k)} → ${JSON.stringify(v)}`,
          );
        }
        out[i] = name;
      }
      return out;
    }
  }
  return trimmed.split(/\r?\n/).map((l) => l.trim());
}

/**
 * A label for each class index: `labels[i]` when the counts match; for a 1001-class model
 * (TF-slim's, class 0 the background) and 1000 labels, 'background' then the labels. Any other
 * mismatch is an error naming both counts.
 */
export function labelsForClasses(labels: readonly string[], classes: number, source = 'labels'): string[] {
  if (labels.length === classes) return [...labels];
  if (classes === labels.length + 1 && classes === 1001) return ['background', ...labels];
  throw new ClassifierError(`${source}: ${labels.length} label(s) for a model with ${classes} classes; give a label list with one name per class`);
}

/** CIFAR-10's class names, in its class-index order. */
export const CIFAR10_LABELS: readonly string[] = CIFAR10_CLASSES;

/** Metadata keys that may name the dataset or variant a model was made for. */
const DATASET_KEYS = ['incept.variant', 'incept.dataset', 'dataset', 'variant'];

const saysCifar10 = (v: unknown): boolean => typeof v === 'string' && /^cifar[-_ ]?10$/i.test(v.trim());

/**
 * The top-level fields of an ONNX ModelProto that name where it came from: producer_name
 * (field 2) and metadata_props (field 14, key/value pairs). Reads the protobuf wire format and
 * skips every other field (the graph with its weights) by its length, so it costs next to
 * nothing on a large file. Undefined when the bytes are not a well-formed message.
 */
export function onnxModelMetadata(bytes: Uint8Array): { producer?: string; props: Record<string, string> } | undefined {
  const text = new TextDecoder();
  const out: { producer?: string; props: Record<string, string> } = { props: {} };
  const varint = (at: { i: number }, end: number): number | undefined => {
    let v = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (at.i >= end) return undefined;
      const b = bytes[at.i++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
    return undefined;
  };
  // Fields of one message between start and end: number → [start, end) of each length-delimited value.
  const fields = (start: number, end: number, visit: (field: number, from: number, to: number) => void): boolean => {
    const at = { i: start };
    while (at.i < end) {
      const key = varint(at, end);
      if (key === undefined) return false;
      const field = Math.floor(key / 8);
      switch (key & 7) {
        case 0:
          if (varint(at, end) === undefined) return false;
          break;
        case 1:
          at.i += 8;
          break;
        case 5:
          at.i += 4;
          break;
        case 2: {
          const len = varint(at, end);
          if (len === undefined || at.i + len > end) return false;
          visit(field, at.i, at.i + len);
          at.i += len;
          break;
        }
        default:
          return false;
      }
    }
    return at.i === end;
  };
  const ok = fields(0, bytes.length, (field, from, to) => {
    if (field === 2) out.producer = text.decode(bytes.subarray(from, to));
    if (field === 14) {
      let key: string | undefined;
      let value = '';
      fields(from, to, (f, a, b) => {
        if (f === 1) key = text.decode(bytes.subarray(a, b));
        if (f === 2) value = text.decode(bytes.subarray(a, b));
      });
      if (key !== undefined) out.props[key] = value;
    }
  });
  return ok ? out : undefined;
}

/** What is known about a loaded model, for telling which dataset's names fit it. */
export interface ModelDatasetHints {
  numClasses: number;
  /** The classifier's description ('Inception-v3 (CIFAR-10 variant), …' for such a torchvision file). */
  description?: string;
  /** [H, W, C] of one input. */
  inputShape?: readonly number[];
  /** Key/value metadata of the file (safetensors __metadata__, ONNX metadata_props, TF.js userDefinedMetadata). */
  metadata?: Record<string, unknown>;
  /** Who wrote the file (ONNX producer_name). */
  producer?: string;
}

/**
 * CIFAR-10's names when the model says it is a CIFAR-10 classifier: 10 classes, and its
 * metadata names CIFAR-10 (`incept.variant`, `dataset` or `variant` = 'cifar10'), or its
 * description is the CIFAR-10 variant (a torchvision file whose metadata, aux head or training
 * checkpoint says so), or it is an Inception-v3 ONNX export of this engine with an input smaller
 * than the ImageNet network accepts (only the CIFAR-10 variant exports so). Otherwise undefined.
 */
export function datasetLabels(hints: ModelDatasetHints): { labels: readonly string[]; dataset: 'CIFAR-10'; why: string } | undefined {
  if (hints.numClasses !== 10) return undefined;
  const found = (why: string) => ({ labels: CIFAR10_LABELS, dataset: 'CIFAR-10' as const, why });
  for (const key of DATASET_KEYS) {
    if (saysCifar10(hints.metadata?.[key])) return found(`metadata ${key} = ${String(hints.metadata![key])}`);
  }
  if (hints.description !== undefined && /CIFAR-10 variant/i.test(hints.description)) return found('the CIFAR-10 variant of Inception-v3');
  const side = hints.inputShape?.[0];
  if (hints.producer === 'incept-gpu' && side !== undefined && side < MIN_INPUT_SIZE)
    return found(`an incept-gpu export with a ${side}×${side} input (the CIFAR-10 variant)`);
  return undefined;
}
