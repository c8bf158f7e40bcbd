/**
 * `incept infer IMAGE… --weights FILE`: classifies images with a model file (torchvision
 * safetensors, ONNX, or a TF.js model.json with its shards beside it) and prints the top classes
 * of each with their probabilities and where the time went (load, decode, preprocess,
 * forward). `--json` prints one JSON document for tools. Every error is an InceptError, so the
 * CLI prints `incept: <message>` and exits 1.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Command, Option } from 'commander';
import { createEngine } from '../runtime/engine.js';
import { InceptError } from '../runtime/errors.js';
import { DRIVER_CHOICES, type DriverChoice } from '../runtime/gpu-node.js';
import { readImageFile, type DecodedImage } from '../io/image.js';
import { PREPROCESS_PRESETS, type PreprocessPreset } from '../io/preprocess.js';
import { MAX_TOP_K } from '../ops/softmax.js';
import { loadClassifier, type Classifier, type ClassifyRun } from '../api/classifier.js';
import { MODEL_FORMATS, type ModelFormat } from '../api/format.js';
import { labelsForClasses, parseLabels } from '../api/labels.js';
import { defaultLabelsPath } from './package-root.js';
import { progressLine } from './progress.js';

export interface InferOptions {
  weights: string;
  format?: ModelFormat;
  preset?: PreprocessPreset;
  /** Classes per image (default 5). Commander passes flags as text; numbers work too. */
  topk?: number | string;
  json?: boolean;
  /** A label file (JSON list, Keras class index, or one per line). */
  labels?: string;
  /** Images per forward pass (default 8). */
  batch?: number | string;
  driver?: DriverChoice;
}

/** What `--json` prints. */
export interface InferReport {
  model: { source: string; format: ModelFormat; description: string; classes: number; inputShape: readonly number[]; preset: PreprocessPreset; outputIsProbabilities: boolean; parameters: number };
  adapter: string;
  /** The label file used, or null (labels are then `class N`). */
  labels: string | null;
  images: { file: string; width: number; height: number; top: { index: number; label: string; probability: number }[]; ms: number }[];
  timing: { loadMs: number; decodeMs: number; preprocessMs: number; forwardMs: number; totalMs: number; batch: number };
}

function positiveInt(flag: string, v: number | string | undefined, fallback: number, max = Infinity): number {
  if (v === undefined) return fallback;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max || (typeof v === 'string' && v.trim() === '')) {
    throw new InceptError(`${flag} needs an integer from 1${max < Infinity ? ` to ${max}` : ''}, got '${String(v)}'`);
  }
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

const ms = (v: number): string => (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(0)} ms`);
const percent = (p: number): string => `${(100 * p).toFixed(2)}%`;

function formatReport(r: InferReport): string {
  const m = r.model;
  const lines = [
    `Model    ${m.description} (${m.format} format, ${m.source})`,
    `         ${m.classes} classes, ${m.inputShape.join('×')} input, ${(m.parameters / 1e6).toFixed(2)}M parameters, preprocessing '${m.preset}'${m.outputIsProbabilities ? ', outputs probabilities' : ''}`,
    `Labels   ${r.labels ?? "none (class indices; --labels FILE names them)"}`,
    `Adapter  ${r.adapter}`,
  ];
  const width = Math.max(...r.images.flatMap((im) => im.top.map((t) => t.label.length)), 8);
  for (const im of r.images) {
    lines.push('', `${im.file} (${im.width}×${im.height})`);
    im.top.forEach((t, i) => lines.push(`  ${String(i + 1).padStart(2)}. ${t.label.padEnd(width)}  ${percent(t.probability).padStart(7)}  (class ${t.index})`));
  }
  const t = r.timing;
  const n = r.images.length;
  lines.push(
    '',
    `Time     load ${ms(t.loadMs)}, decode ${ms(t.decodeMs)}, preprocess ${ms(t.preprocessMs)}, forward ${ms(t.forwardMs)}; ${n} image${n === 1 ? '' : 's'} in batches of up to ${t.batch}, ${ms(t.forwardMs / n)} forward per image`,
  );
  return lines.join('\n');
}

export async function runInfer(images: string[], options: InferOptions): Promise<void> {
  const t0 = performance.now();
  if (!options.weights) throw new InceptError('infer: --weights FILE is required (torchvision safetensors, .onnx, or a TF.js model.json)');
  if (images.length === 0) throw new InceptError('infer: give at least one image (JPEG or PNG)');
  if (options.format !== undefined && !MODEL_FORMATS.includes(options.format)) throw new InceptError(`--format must be one of ${MODEL_FORMATS.join(', ')}, got '${options.format}'`);
  if (options.preset !== undefined && !(options.preset in PREPROCESS_PRESETS)) throw new InceptError(`--preset must be one of ${Object.keys(PREPROCESS_PRESETS).join(', ')}, got '${options.preset}'`);
  const topk = positiveInt('--topk', options.topk, 5, MAX_TOP_K);
  const batch = positiveInt('--batch', options.batch, 8);

  // An explicit label file must fit the model; the ImageNet list beside the checkout is used
  // only when the model has ImageNet's class count.
  const explicitLabels = options.labels !== undefined ? readLabelFile(options.labels) : undefined;
  const fallbackPath = options.labels === undefined ? defaultLabelsPath() : undefined;
  const fallbackLabels = fallbackPath !== undefined && existsSync(fallbackPath) ? readLabelFile(fallbackPath) : undefined;

  const progress = options.json ? undefined : progressLine('infer');
  const tDecode = performance.now();
  const decoded: DecodedImage[] = [];
  for (const path of images) decoded.push(await readImageFile(path));
  const decodeMs = performance.now() - tDecode;

  const engine = await createEngine({ driver: options.driver });
  let classifier: Classifier | undefined;
  try {
    progress?.update(`loading ${options.weights}`);
    const tLoad = performance.now();
    classifier = await loadClassifier(engine, {
      weights: options.weights,
      ...(options.format ? { format: options.format } : {}),
      ...(options.preset ? { preset: options.preset } : {}),
      ...(explicitLabels ? { labels: explicitLabels } : {}),
    });
    const loadMs = performance.now() - tLoad;
    let labelSource: string | null = explicitLabels ? options.labels! : null;
    let relabel: string[] | undefined;
    if (!explicitLabels && fallbackLabels && (classifier.numClasses === fallbackLabels.length || classifier.numClasses === fallbackLabels.length + 1)) {
      relabel = labelsForClasses(fallbackLabels, classifier.numClasses, fallbackPath);
      labelSource = fallbackPath!;
    }
    if (topk > classifier.numClasses) throw new InceptError(`--topk ${topk}: the model has only ${classifier.numClasses} classes`);
    progress?.update(`classifying ${images.length} image(s) on ${engine.adapterName}`);
    const run: ClassifyRun = await classifier.classifyDetailed(decoded, { topk, batchSize: batch });
    progress?.done();
    const report: InferReport = {
      model: {
        source: classifier.source,
        format: classifier.format,
        description: classifier.description,
        classes: classifier.numClasses,
        inputShape: classifier.inputShape,
        preset: classifier.presetName,
        outputIsProbabilities: classifier.outputIsProbabilities,
        parameters: classifier.parameterCount,
      },
      adapter: engine.adapterName,
      labels: labelSource,
      images: run.results.map((r, i) => ({
        file: basename(images[i]!),
        width: decoded[i]!.width,
        height: decoded[i]!.height,
        top: r.top.map((t) => ({ index: t.index, label: relabel ? relabel[t.index]! : t.label, probability: t.probability })),
        ms: r.ms,
      })),
      timing: { loadMs, decodeMs, preprocessMs: run.timing.preprocessMs, forwardMs: run.timing.forwardMs, totalMs: performance.now() - t0, batch },
    };
    console.log(options.json ? JSON.stringify(report, null, 2) : formatReport(report));
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
    .description('Classify images with a model file (torchvision safetensors, ONNX, or a TF.js model.json with its shards): top classes with probabilities, and the time taken')
    .argument('<images...>', 'JPEG or PNG files')
    .requiredOption('--weights <file>', 'the model: an Inception-v3 state dict as safetensors (torchvision/timm names), an .onnx file, or a TF.js model.json')
    .addOption(new Option('--format <format>', 'the file format (default: told from the file)').choices([...MODEL_FORMATS]))
    .addOption(new Option('--preset <name>', 'preprocessing (default: torchvision for safetensors and ONNX, keras for TF.js)').choices(Object.keys(PREPROCESS_PRESETS)))
    .option('--topk <k>', `classes shown per image, 1 to ${MAX_TOP_K} (default 5)`)
    .option('--labels <file>', 'class names: a JSON list, a Keras class-index JSON, or one per line (default: the ImageNet list beside the checkout, for 1000-class models)')
    .option('--batch <n>', 'images per forward pass (default 8)')
    .option('--json', 'print JSON: { model, adapter, labels, images: [ { file, top: [ { index, label, probability } ], ms } ], timing }')
    .addOption(new Option('--driver <name>', 'Vulkan driver in Node on Linux (default: env INCEPT_DRIVER or auto)').choices([...DRIVER_CHOICES]))
    .action(async (files: string[], opts: InferOptions) => runInfer(files, opts));
}
