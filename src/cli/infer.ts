/**
 * `incept infer IMAGE… --weights FILE`: classifies images with a model file (torchvision
 * safetensors, ONNX, or a TF.js model.json with its shards beside it) and prints the top classes
 * of each with their probabilities and where the time went (load, decode, preprocess,
 * forward). `--json` prints one JSON document for tools. The report names the input convention
 * the images were normalised with (`--input-convention`; a state dict does not record it), why
 * that one, and how to choose the other.
 *
 * Every flag is checked before the images are read and the engine starts. An image that cannot
 * be read, decoded (including one over the pixel budget, `--max-megapixels`) or classified gets
 * an error entry in the report; the others are still classified. Exit status: 0 when every
 * image was classified, 2 when some were not (the report is printed, and the failures are
 * listed on stderr), 1 when the run itself failed (a flag, the model or label file, the
 * device): then the CLI prints `incept: <message>` and no report.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import { Command, Option } from 'commander';
import { createEngine } from '../runtime/engine.js';
import { InceptError } from '../runtime/errors.js';
import { DRIVER_CHOICES, type DriverChoice } from '../runtime/gpu-node.js';
import { DEFAULT_MAX_MEGAPIXELS, ImageDecodeError, readImageFile, type DecodedImage } from '../io/image.js';
import { INPUT_CONVENTIONS, PREPROCESS_PRESETS, type InputConvention, type PreprocessPreset } from '../io/preprocess.js';
import { MAX_TOP_K } from '../ops/softmax.js';
import { loadClassifier, type Classification, type Classifier } from '../api/classifier.js';
import { MODEL_FORMATS, type ModelFormat } from '../api/format.js';
import { datasetLabels, labelsForClasses, onnxModelMetadata, parseLabels, type ModelDatasetHints } from '../api/labels.js';
import { defaultLabelsPath } from './package-root.js';
import { progressLine } from './progress.js';

/** The largest --batch: images per forward pass. */
export const MAX_INFER_BATCH = 256;
/** The largest --max-megapixels (decoding takes up to about 25 bytes a pixel). */
export const MAX_INFER_MEGAPIXELS = 1000;

export interface InferOptions {
  weights: string;
  format?: ModelFormat;
  preset?: PreprocessPreset;
  /** The normalisation: 'inception' or 'imagenet' (default: the file's, see loadClassifier). */
  inputConvention?: InputConvention;
  /** Classes per image (default 5). Commander passes flags as text; numbers work too. */
  topk?: number | string;
  json?: boolean;
  /** A label file (JSON list, Keras class index, or one per line). */
  labels?: string;
  /** Images per forward pass (default 8, at most MAX_INFER_BATCH). */
  batch?: number | string;
  /** The pixel budget of decoding, in megapixels (default DEFAULT_MAX_MEGAPIXELS). */
  maxMegapixels?: number | string;
  driver?: DriverChoice;
}

/** A classified image in the report. */
export interface InferImageResult {
  file: string;
  width: number;
  height: number;
  top: { index: number; label: string; probability: number }[];
  ms: number;
}

/** An image that could not be read, decoded or classified: its file name and why. */
export interface InferImageError {
  file: string;
  error: string;
}

/** What `--json` prints. */
export interface InferReport {
  model: {
    source: string;
    format: ModelFormat;
    description: string;
    classes: number;
    inputShape: readonly number[];
    preset: PreprocessPreset;
    /** The normalisation the images got ('custom': a preset's own), and why. */
    inputConvention: InputConvention | 'custom';
    inputConventionReason: string;
    outputIsProbabilities: boolean;
    parameters: number;
  };
  adapter: string;
  /** The label file used, 'CIFAR-10 class names (built in: why)' for a model that says it is a
   * CIFAR-10 classifier, or null (labels are then `class N`). */
  labels: string | null;
  /** One entry per image, in the order given. */
  images: (InferImageResult | InferImageError)[];
  /** How many images have an error entry. */
  failed: number;
  timing: { loadMs: number; decodeMs: number; preprocessMs: number; forwardMs: number; totalMs: number; batch: number };
}

/** Text of a flag as a number; '' and the like are NaN, not 0. */
const numberOf = (v: number | string): number => (typeof v === 'number' ? v : v.trim() === '' ? NaN : Number(v));

function intFlag(flag: string, v: number | string | undefined, fallback: number, max: number): number {
  if (v === undefined) return fallback;
  const n = numberOf(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new InceptError(`${flag} needs an integer from 1 to ${max}, got '${String(v)}'`);
  return n;
}

function megapixelsFlag(flag: string, v: number | string | undefined): number {
  if (v === undefined) return DEFAULT_MAX_MEGAPIXELS;
  const n = numberOf(v);
  if (!(n > 0 && n <= MAX_INFER_MEGAPIXELS))
    throw new InceptError(`${flag} needs a number of megapixels greater than 0 and at most ${MAX_INFER_MEGAPIXELS}, got '${String(v)}'`);
  return n;
}

function readLabelFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InceptError(`--labels ${path}: cannot read it: ${(e as Error).message}`);
  }
  return parseLabels(text, path);
}

/** The safetensors header's __metadata__, reading only the header. */
function safetensorsMetadata(path: string): Record<string, unknown> | undefined {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(8);
    if (readSync(fd, head, 0, 8, 0) !== 8) return undefined;
    const len = Number(head.readBigUInt64LE(0));
    if (!(len > 0 && len <= 100 << 20)) return undefined;
    const json = Buffer.alloc(len);
    if (readSync(fd, json, 0, len, 8) !== len) return undefined;
    const meta = (JSON.parse(json.toString('utf8')) as { __metadata__?: unknown }).__metadata__;
    return typeof meta === 'object' && meta !== null ? (meta as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** What the model file says about the data it was made for (see datasetLabels). */
export function modelDatasetHints(classifier: Classifier, path: string): ModelDatasetHints {
  const hints: ModelDatasetHints = { numClasses: classifier.numClasses, description: classifier.description, inputShape: classifier.inputShape };
  if (classifier.numClasses !== 10) return hints; // only CIFAR-10 has names built in
  try {
    if (classifier.format === 'torchvision') {
      hints.metadata = safetensorsMetadata(path);
    } else if (classifier.format === 'onnx') {
      const meta = onnxModelMetadata(readFileSync(path));
      if (meta) Object.assign(hints, { producer: meta.producer, metadata: meta.props });
    } else if (classifier.format === 'tfjs') {
      const json = JSON.parse(readFileSync(path, 'utf8')) as { userDefinedMetadata?: unknown };
      if (typeof json.userDefinedMetadata === 'object' && json.userDefinedMetadata !== null)
        hints.metadata = json.userDefinedMetadata as Record<string, unknown>;
    }
  } catch {
    // The file loaded; metadata it does not have in a readable form just names no dataset.
  }
  return hints;
}

/** What each convention does to a pixel value x in [0, 255], and what it is for. */
const CONVENTION_TEXT: Record<InputConvention, { formula: string; for: string }> = {
  inception: {
    formula: '(x/255 − 0.5) / 0.5',
    for: "torchvision's pretrained Inception-v3 (transform_input=True) and timm's tv_in1k/tf_in1k weights",
  },
  imagenet: { formula: '(x/255 − ImageNet mean) / std', for: "a torchvision model built with transform_input=False and timm's gluon_in1k weights" },
};

/** The report's input line: the convention used, why, and how to choose the other. */
export function conventionLine(convention: InputConvention | 'custom', reason: string): string {
  if (convention === 'custom') return `custom normalisation: ${reason}; --input-convention inception or imagenet replaces it`;
  const other: InputConvention = convention === 'inception' ? 'imagenet' : 'inception';
  return `'${convention}' convention, ${CONVENTION_TEXT[convention].formula}: ${reason}; --input-convention ${other} for ${CONVENTION_TEXT[other].for}`;
}

const ms = (v: number): string => (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(0)} ms`);
const percent = (p: number): string => `${(100 * p).toFixed(2)}%`;

function formatReport(r: InferReport): string {
  const m = r.model;
  const lines = [
    `Model    ${m.description} (${m.format} format, ${m.source})`,
    `         ${m.classes} classes, ${m.inputShape.join('×')} input, ${(m.parameters / 1e6).toFixed(2)}M parameters, preprocessing '${m.preset}'${m.outputIsProbabilities ? ', outputs probabilities' : ''}`,
    `Input    ${conventionLine(m.inputConvention, m.inputConventionReason)}`,
    `Labels   ${r.labels ?? 'none (class indices; --labels FILE names them)'}`,
    `Adapter  ${r.adapter}`,
  ];
  const done = r.images.filter((im): im is InferImageResult => !('error' in im));
  const width = Math.max(...done.flatMap((im) => im.top.map((t) => t.label.length)), 8);
  for (const im of r.images) {
    if ('error' in im) {
      lines.push('', `${im.file}: error: ${im.error}`);
      continue;
    }
    lines.push('', `${im.file} (${im.width}×${im.height})`);
    im.top.forEach((t, i) => lines.push(`  ${String(i + 1).padStart(2)}. ${t.label.padEnd(width)}  ${percent(t.probability).padStart(7)}  (class ${t.index})`));
  }
  const t = r.timing;
  const n = done.length;
  const count = r.failed > 0 ? `${n} of ${r.images.length} images classified` : `${n} image${n === 1 ? '' : 's'}`;
  const perImage = n > 0 ? `, ${ms(t.forwardMs / n)} forward per image` : '';
  lines.push(
    '',
    `Time     load ${ms(t.loadMs)}, decode ${ms(t.decodeMs)}, preprocess ${ms(t.preprocessMs)}, forward ${ms(t.forwardMs)}; ${count} in batches of up to ${t.batch}${perImage}`,
  );
  return lines.join('\n');
}

/** Why an image failed, without the path an ImageDecodeError starts with (the entry names it). */
const problemOf = (e: unknown): string => (e instanceof ImageDecodeError ? e.problem : e instanceof Error ? e.message : String(e));

/** An image read and decoded, or why not. */
type Decoded = { file: string; image: DecodedImage } | { file: string; error: string };

/** The classification of each image (or why it failed), and the time in each stage. */
interface Classified {
  results: (Classification | { error: string })[];
  preprocessMs: number;
  forwardMs: number;
}

/**
 * Classifies images `batch` at a time. A batch that throws is retried one image at a time, so
 * that an image the classifier refuses costs only its own entry.
 */
async function classifyEach(classifier: Classifier, images: readonly DecodedImage[], topk: number, batch: number): Promise<Classified> {
  const out: Classified = { results: [], preprocessMs: 0, forwardMs: 0 };
  const attempt = async (part: readonly DecodedImage[]): Promise<Classification[]> => {
    const run = await classifier.classifyDetailed(part, { topk, batchSize: part.length });
    out.preprocessMs += run.timing.preprocessMs;
    out.forwardMs += run.timing.forwardMs;
    return run.results;
  };
  for (let start = 0; start < images.length; start += batch) {
    const part = images.slice(start, start + batch);
    try {
      out.results.push(...(await attempt(part)));
    } catch (e) {
      if (part.length === 1) {
        out.results.push({ error: problemOf(e) });
        continue;
      }
      for (const image of part) {
        try {
          out.results.push(...(await attempt([image])));
        } catch (single) {
          out.results.push({ error: problemOf(single) });
        }
      }
    }
  }
  return out;
}

export async function runInfer(images: string[], options: InferOptions): Promise<void> {
  const t0 = performance.now();
  // Every flag first: nothing is read and no engine starts before they are all good.
  if (!options.weights) throw new InceptError('infer: --weights FILE is required (torchvision safetensors, .onnx, or a TF.js model.json)');
  if (images.length === 0) throw new InceptError('infer: give at least one image (JPEG or PNG)');
  if (options.format !== undefined && !MODEL_FORMATS.includes(options.format))
    throw new InceptError(`--format must be one of ${MODEL_FORMATS.join(', ')}, got '${options.format}'`);
  if (options.preset !== undefined && !Object.hasOwn(PREPROCESS_PRESETS, options.preset))
    throw new InceptError(`--preset must be one of ${Object.keys(PREPROCESS_PRESETS).join(', ')}, got '${options.preset}'`);
  if (options.inputConvention !== undefined && !Object.hasOwn(INPUT_CONVENTIONS, options.inputConvention))
    throw new InceptError(`--input-convention must be one of ${Object.keys(INPUT_CONVENTIONS).join(', ')}, got '${options.inputConvention}'`);
  const topk = intFlag('--topk', options.topk, 5, MAX_TOP_K);
  const batch = intFlag('--batch', options.batch, 8, MAX_INFER_BATCH);
  const maxMegapixels = megapixelsFlag('--max-megapixels', options.maxMegapixels);
  if (!existsSync(options.weights)) throw new InceptError(`--weights ${options.weights}: no such file`);

  // An explicit label file must fit the model; the ImageNet list beside the checkout is used
  // only when the model has ImageNet's class count.
  const explicitLabels = options.labels !== undefined ? readLabelFile(options.labels) : undefined;
  const fallbackPath = options.labels === undefined ? defaultLabelsPath() : undefined;
  const fallbackLabels = fallbackPath !== undefined && existsSync(fallbackPath) ? readLabelFile(fallbackPath) : undefined;

  const engine = await createEngine({ driver: options.driver });
  const progress = options.json ? undefined : progressLine('infer');
  let classifier: Classifier | undefined;
  try {
    progress?.update(`loading ${options.weights}`);
    const tLoad = performance.now();
    classifier = await loadClassifier(engine, {
      weights: options.weights,
      ...(options.format ? { format: options.format } : {}),
      ...(options.preset ? { preset: options.preset } : {}),
      ...(options.inputConvention ? { inputConvention: options.inputConvention } : {}),
      ...(explicitLabels ? { labels: explicitLabels } : {}),
    });
    const loadMs = performance.now() - tLoad;
    let labelSource: string | null = explicitLabels ? options.labels! : null;
    let relabel: string[] | undefined;
    if (!explicitLabels && fallbackLabels && (classifier.numClasses === fallbackLabels.length || classifier.numClasses === fallbackLabels.length + 1)) {
      relabel = labelsForClasses(fallbackLabels, classifier.numClasses, fallbackPath);
      labelSource = fallbackPath!;
    }
    // A model that says it is a CIFAR-10 classifier gets CIFAR-10's names.
    const dataset = !explicitLabels && !relabel ? datasetLabels(modelDatasetHints(classifier, options.weights)) : undefined;
    if (dataset) {
      relabel = [...dataset.labels];
      labelSource = `${dataset.dataset} class names (built in: ${dataset.why})`;
    }
    if (topk > classifier.numClasses) throw new InceptError(`--topk ${topk}: the model has only ${classifier.numClasses} classes`);

    // A batch of files at a time is decoded, classified and let go, so that decoded pixels of
    // at most `batch` images are held at once.
    const entries: (InferImageResult | InferImageError)[] = [];
    const timing = { decodeMs: 0, preprocessMs: 0, forwardMs: 0 };
    for (let start = 0; start < images.length; start += batch) {
      const tDecode = performance.now();
      const decoded: Decoded[] = [];
      for (const path of images.slice(start, start + batch)) {
        progress?.update(`decoding ${basename(path)}`);
        try {
          decoded.push({ file: basename(path), image: await readImageFile(path, { maxMegapixels }) });
        } catch (e) {
          if (!(e instanceof InceptError)) throw e;
          decoded.push({ file: basename(path), error: problemOf(e) });
        }
      }
      timing.decodeMs += performance.now() - tDecode;
      const readable = decoded.flatMap((d) => ('image' in d ? [d.image] : []));
      progress?.update(`classifying ${readable.length} image(s) on ${engine.adapterName} (${start + decoded.length} of ${images.length})`);
      const run = await classifyEach(classifier, readable, topk, batch);
      timing.preprocessMs += run.preprocessMs;
      timing.forwardMs += run.forwardMs;
      let next = 0;
      for (const d of decoded) {
        if ('error' in d) {
          entries.push({ file: d.file, error: d.error });
          continue;
        }
        const r = run.results[next++]!;
        if ('error' in r) {
          entries.push({ file: d.file, error: r.error });
          continue;
        }
        entries.push({
          file: d.file,
          width: d.image.width,
          height: d.image.height,
          top: r.top.map((t) => ({ index: t.index, label: relabel ? relabel[t.index]! : t.label, probability: t.probability })),
          ms: r.ms,
        });
      }
    }
    progress?.done();
    const failures = entries.filter((e): e is InferImageError => 'error' in e);
    const report: InferReport = {
      model: {
        source: classifier.source,
        format: classifier.format,
        description: classifier.description,
        classes: classifier.numClasses,
        inputShape: classifier.inputShape,
        preset: classifier.presetName,
        inputConvention: classifier.inputConvention,
        inputConventionReason: classifier.inputConventionReason,
        outputIsProbabilities: classifier.outputIsProbabilities,
        parameters: classifier.parameterCount,
      },
      adapter: engine.adapterName,
      labels: labelSource,
      images: entries,
      failed: failures.length,
      timing: { loadMs, ...timing, totalMs: performance.now() - t0, batch },
    };
    console.log(options.json ? JSON.stringify(report, null, 2) : formatReport(report));
    if (failures.length > 0) {
      console.error(
        `incept: ${failures.length} of ${entries.length} images could not be classified:\n${failures.map((f) => `  ${f.file}: ${f.error}`).join('\n')}`,
      );
      process.exitCode = 2;
    }
  } finally {
    progress?.done();
    classifier?.dispose();
    engine.destroy();
  }
}

/** Adds `incept infer` to the program (main.ts calls this once). */
export function registerInferCommand(program: Command): Command {
  return program
    .command('infer')
    .description(
      'Classify images with a model file (torchvision safetensors, ONNX, or a TF.js model.json with its shards): top classes with probabilities, and the time taken',
    )
    .argument('<images...>', 'JPEG or PNG files (exit status 2 when some could not be classified; each gets an error entry)')
    .requiredOption('--weights <file>', 'the model: an Inception-v3 state dict as safetensors (torchvision/timm names), an .onnx file, or a TF.js model.json')
    .addOption(new Option('--format <format>', 'the file format (default: told from the file)').choices([...MODEL_FORMATS]))
    .addOption(
      new Option(
        '--preset <name>',
        'preprocessing: resize, crop and its own normalisation (default: torchvision for safetensors and ONNX, keras for TF.js)',
      ).choices(Object.keys(PREPROCESS_PRESETS)),
    )
    .addOption(
      new Option(
        '--input-convention <name>',
        "normalisation, over the preset's: inception = (x/255 − 0.5)/0.5 (torchvision's pretrained weights, transform_input=True; timm's tv_in1k/tf_in1k), imagenet = ImageNet mean/std (transform_input=False; timm's gluon_in1k). Default for safetensors: the file's metadata incept.inputConvention, else inception for ImageNet Inception-v3 and imagenet for the CIFAR-10 variant",
      ).choices(Object.keys(INPUT_CONVENTIONS)),
    )
    .option('--topk <k>', `classes shown per image, 1 to ${MAX_TOP_K} (default 5)`)
    .option(
      '--labels <file>',
      'class names: a JSON list, a Keras class-index JSON, or one per line (default: the ImageNet list beside the checkout for 1000-class models; the CIFAR-10 names for a model whose metadata or variant says CIFAR-10)',
    )
    .option('--batch <n>', `images per forward pass, 1 to ${MAX_INFER_BATCH} (default 8)`)
    .option(
      '--max-megapixels <n>',
      `pixel budget of decoding: a larger image (by its header) gets an error entry without being decoded; greater than 0, at most ${MAX_INFER_MEGAPIXELS} (default ${DEFAULT_MAX_MEGAPIXELS})`,
    )
    .option(
      '--json',
      'print JSON: { model, adapter, labels, images: [ { file, width, height, top: [ { index, label, probability } ], ms } or { file, error } ], failed, timing }',
    )
    .addOption(new Option('--driver <name>', 'Vulkan driver in Node on Linux (default: env INCEPT_DRIVER or auto)').choices([...DRIVER_CHOICES]))
    .action(async (files: string[], opts: InferOptions) => runInfer(files, opts));
}
