/**
 * Class labels for a classifier: parsed from the files people have (a JSON array of names such
 * as imagenet-simple-labels.json, Keras's imagenet_class_index.json, or one name per line) and
 * matched against the model's class count, so a label list for another model is an error and
 * never a quietly wrong answer.
 */
import { ClassifierError } from './format.js';

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
          throw new ClassifierError(`${source}: expected an object from class indices 0..${entries.length - 1} to names (or [id, name] pairs), got key ${JSON.stringify(k)} → ${JSON.stringify(v)}`);
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
