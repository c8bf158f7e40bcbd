/**
 * The inference API people embed: load an image classifier from a file they have and ask it
 * for the top classes of images. The same code runs in Node and in the browser bundle.
 *
 * ```ts
 * import { createEngine, loadClassifier, decodeImage } from 'incept-gpu';
 * const engine = await createEngine();
 * const model = await loadClassifier(engine, { weights: bytes, labels });   // format detected
 * const { top, ms } = await model.classify(decodeImage(jpegBytes), { topk: 5 });
 * model.dispose();
 * ```
 *
 * Formats (`format`, detected from the bytes when absent — see api/format.ts):
 * - 'torchvision': a torchvision or timm Inception-v3 state dict saved as safetensors. It runs
 *   on the native `InceptionV3` with BatchNorm folded into each conv; the class count comes from
 *   `fc.weight`, the width multiplier from the stem's and classifier's shapes, and the CIFAR-10
 *   variant from the aux head's kernel, the safetensors metadata (`incept.variant`,
 *   `incept.width`, `incept.inputSize`) or `architecture`. A checkpoint of `incept train`
 *   (tensors under `model.`) loads as the CIFAR-10 variant it trained.
 * - 'onnx': an ONNX model, imported to the graph IR and compiled onto the engine's kernels.
 * - 'tfjs': a TensorFlow.js layers model: model.json and the weight shards it lists.
 *
 * Images are preprocessed on the GPU with the format's usual pipeline ('torchvision' for
 * safetensors and ONNX, 'keras' for TF.js; `preset` overrides) at the model's input size.
 * Probabilities are the model's softmax, unless the model already ends in one.
 *
 * Everything wrong with a file (truncated, a missing or misshapen tensor, NaN or infinite
 * weights, a negative running variance, an ONNX parse error, a label list of another length) is
 * a ClassifierError or another InceptError naming the file and the fault, raised by
 * loadClassifier before anything runs. A path is read through readUserFile (io/read-user-file.ts):
 * a regular file within the size limit, never a device or a FIFO. Outputs that come out NaN or
 * infinite at classify time are a ClassifierError naming the image, never a made-up class.
 */
import type { Engine } from '../runtime/engine.js';
import { InceptError, InvalidArgumentError } from '../runtime/errors.js';
import { Tensor } from '../runtime/tensor.js';
import type { DispatchRecord, LayerSummary } from '../runtime/profiler.js';
import type { DecodedImage } from '../io/image.js';
import { preprocess as preprocessImages, type PreprocessOptions, type PreprocessPreset, PREPROCESS_PRESETS } from '../io/preprocess.js';
import { decodeSafetensors, type SafetensorsTensor } from '../io/safetensors.js';
import { readUserFile, UserFileError } from '../io/read-user-file.js';
import { firstNonFinite } from '../io/weight-values.js';
import { softmax, topK, MAX_TOP_K } from '../ops/softmax.js';
import { InceptionV3 } from '../models/inception-v3.js';
import { loadTorchvisionWeights } from '../models/inception-v3-weights.js';
import { inceptionV3Spec, type InceptionV3Options } from '../models/inception-v3-spec.js';
import { ClassifierError, detectModelFormat, MODEL_FORMATS, type ModelFormat } from './format.js';
import { labelsForClasses } from './labels.js';
import { loadGraphBackend } from './graph-backend.js';
import type { Backend } from './backend.js';

export { ClassifierError, detectModelFormat, MODEL_FORMATS, type ModelFormat } from './format.js';
export { parseLabels, labelsForClasses } from './labels.js';

/** One file: its name (used to tell formats apart, to find TF.js shards, and in errors) and bytes. */
export interface NamedBytes {
  name: string;
  bytes: Uint8Array | ArrayBuffer;
}

/** A TF.js layers model given as its parsed model.json and a reader for the shards it lists. */
export interface TfjsModelSource {
  modelJson: unknown;
  readShard: (path: string) => Promise<Uint8Array>;
  name?: string;
}

/**
 * Where the model comes from: one file's bytes (safetensors or ONNX), a named file, several
 * named files (a TF.js model.json with its shards, e.g. what a browser file picker gives), a
 * TF.js source, or (Node only) a path — for TF.js, the path of model.json with its shards beside it.
 */
export type WeightsSource = string | Uint8Array | ArrayBuffer | NamedBytes | readonly NamedBytes[] | TfjsModelSource;

export interface LoadClassifierOptions {
  weights: WeightsSource;
  /** Default: detected from the bytes (and the file name). */
  format?: ModelFormat;
  /** The preprocessing pipeline, or options starting from one (the size is the model's input
   * unless given). Default 'torchvision' for torchvision and ONNX files, 'keras' for TF.js. */
  preset?: PreprocessPreset | PreprocessOptions;
  /** One name per class (1000 names also fit a 1001-class TF-slim model: class 0 is 'background'). */
  labels?: readonly string[];
  /** The class count the caller expects; a file with another count is an error. */
  numClasses?: number;
  /** torchvision format: the architecture, when the file alone does not say (variant, width,
   * input size, stem). Read from the safetensors metadata or inferred otherwise. */
  architecture?: Pick<InceptionV3Options, 'variant' | 'width' | 'inputSize' | 'stem' | 'lowResolution' | 'auxBatchNorm'>;
  /** Names the model in errors when `weights` is bytes (default 'the model file'). */
  source?: string;
}

export interface ClassifyOptions {
  /** How many classes to report per image (default 5, at most the class count). */
  topk?: number;
  /** Images per forward pass when classifying many (default 8). */
  batchSize?: number;
  /** Also return every class's probability and the raw outputs per image. */
  scores?: boolean;
}

export interface TopClass {
  index: number;
  /** The label, or `class N` without labels. */
  label: string;
  probability: number;
}

export interface Classification {
  /** Highest probability first (ties: lower index first). */
  top: TopClass[];
  /** Wall time of the whole classify call divided by the images in it. */
  ms: number;
  /** With `scores`: every class's probability. */
  probabilities?: Float32Array;
  /** With `scores`: the model's outputs (logits, or probabilities for a model ending in softmax). */
  outputs?: Float32Array;
}

export interface ClassifyRun {
  results: Classification[];
  timing: {
    /** Upload, resize, crop and normalise on the GPU (0 for a tensor input). */
    preprocessMs: number;
    /** Forward pass, softmax, top-k and reading the results back. */
    forwardMs: number;
    totalMs: number;
  };
  /** GPU time per layer of the forward passes, when the engine profiles (createEngine({ profile: true })). */
  layers?: LayerSummary[];
}

export interface Classifier {
  readonly engine: Engine;
  readonly format: ModelFormat;
  /** The file it was loaded from. */
  readonly source: string;
  /** E.g. 'Inception-v3 (torchvision, width 1)' or the graph's source. */
  readonly description: string;
  readonly preprocessing: PreprocessPreset | PreprocessOptions;
  readonly presetName: PreprocessPreset;
  /** [H, W, C] of one input image. */
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  readonly labels: readonly string[] | undefined;
  readonly outputIsProbabilities: boolean;
  readonly parameterCount: number;
  /** Decoded images → the model's input, f32 [N, H, W, 3] on the GPU (the caller disposes it). */
  preprocess(images: readonly DecodedImage[]): Tensor<'f32'>;
  /** One image → its result; images or a preprocessed [N, H, W, C] tensor → one result each. */
  classify(image: DecodedImage, options?: ClassifyOptions): Promise<Classification>;
  classify(input: readonly DecodedImage[] | Tensor, options?: ClassifyOptions): Promise<Classification[]>;
  /** As classify, with the time spent in each stage and, when profiling, per layer. */
  classifyDetailed(input: DecodedImage | readonly DecodedImage[] | Tensor, options?: ClassifyOptions): Promise<ClassifyRun>;
  /** Frees the model's GPU memory; the classifier cannot be used after. */
  dispose(): void;
}

// ------------------------------------------------------------------------------------- sources

interface ResolvedSource {
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

async function resolveSource(weights: WeightsSource, source: string | undefined): Promise<ResolvedSource> {
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
async function tfjsSource(src: ResolvedSource): Promise<TfjsModelSource> {
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
      // The importer has already refused shard paths that leave this folder (src/io/tfjs-layers.ts).
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

// --------------------------------------------------------------------------- torchvision format

/** Keeps the model's tensors of an `incept train` checkpoint (`model.<name>`, next to the
 * optimizer's state), or the file's tensors as they are. */
function modelTensors(tensors: Map<string, SafetensorsTensor>): { tensors: Map<string, SafetensorsTensor>; trainCheckpoint: boolean } {
  if (tensors.has('fc.weight') || ![...tensors.keys()].some((k) => k.startsWith('model.'))) return { tensors, trainCheckpoint: false };
  const out = new Map<string, SafetensorsTensor>();
  for (const [k, v] of tensors) if (k.startsWith('model.')) out.set(k.slice('model.'.length), v);
  return { tensors: out, trainCheckpoint: true };
}

const shapeText = (s: readonly number[]): string => `[${s.join(', ')}]`;

/** The architecture options that reproduce the file's tensor shapes. */
function torchvisionArchitecture(
  tensors: Map<string, SafetensorsTensor>,
  metadata: Record<string, string>,
  given: LoadClassifierOptions['architecture'],
  trainCheckpoint: boolean,
  source: string,
): InceptionV3Options {
  const fc = tensors.get('fc.weight')!;
  const numClasses = fc.shape[0]!;
  const arch: InceptionV3Options = { ...given, numClasses, auxLogits: false };
  const metaNumber = (key: string): number | undefined => {
    const v = metadata[key];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!(Number.isFinite(n) && n > 0)) throw new ClassifierError(`${source}: metadata ${key} = ${JSON.stringify(v)} is not a positive number`);
    return n;
  };
  if (arch.variant === undefined) {
    const meta = metadata['incept.variant'];
    if (meta !== undefined && meta !== 'imagenet' && meta !== 'cifar10')
      throw new ClassifierError(`${source}: metadata incept.variant = ${JSON.stringify(meta)}; expected 'imagenet' or 'cifar10'`);
    const aux = tensors.get('AuxLogits.conv1.conv.weight');
    // The ImageNet aux head's second conv is 5×5; the CIFAR-10 variant's spans its small pooled grid.
    const auxSaysCifar = aux !== undefined && aux.shape.length === 4 && (aux.shape[2] !== 5 || aux.shape[3] !== 5);
    arch.variant = (meta as 'imagenet' | 'cifar10' | undefined) ?? (auxSaysCifar || trainCheckpoint ? 'cifar10' : 'imagenet');
  }
  if (arch.inputSize === undefined) {
    const size = metaNumber('incept.inputSize');
    if (size !== undefined) arch.inputSize = size;
  }
  if (arch.width === undefined) {
    const meta = metaNumber('incept.width');
    const stem = tensors.get('Conv2d_1a_3x3.conv.weight');
    const candidates = [
      meta,
      stem && stem.shape.length === 4 ? stem.shape[0]! / 32 : undefined,
      fc.shape.length === 2 ? fc.shape[1]! / 2048 : undefined,
    ].filter((w): w is number => w !== undefined && w > 0);
    const fits = (width: number): boolean => {
      try {
        const layers = inceptionV3Spec({ ...arch, width });
        const fcLayer = layers.find((l) => l.name === 'fc');
        const stemLayer = layers.find((l) => l.name === 'Conv2d_1a_3x3');
        return (
          fcLayer !== undefined &&
          fcLayer.params / numClasses - 1 === fc.shape[1] &&
          (!stem || (stemLayer !== undefined && stemLayer.outputShape[0] === stem.shape[0]))
        );
      } catch {
        return false;
      }
    };
    // No candidate fitting leaves width 1: the shape check then names the first tensor that differs.
    arch.width = candidates.find(fits) ?? candidates[0] ?? 1;
  }
  return arch;
}

async function loadTorchvision(engine: Engine, bytes: Uint8Array, source: string, options: LoadClassifierOptions): Promise<Backend> {
  const decoded = decodeSafetensors(bytes, source);
  const { tensors, trainCheckpoint } = modelTensors(decoded.tensors);
  const fc = tensors.get('fc.weight');
  if (!fc) {
    const keys = [...tensors.keys()];
    throw new ClassifierError(
      `${source}: no 'fc.weight' tensor, so not a torchvision Inception-v3 state dict (${keys.length} tensor(s)${keys.length ? `, e.g. ${keys.slice(0, 3).join(', ')}` : ''})`,
    );
  }
  if (fc.shape.length !== 2)
    throw new ClassifierError(`${source}: fc.weight has shape ${shapeText(fc.shape)}; torchvision's classifier weight is [classes, features]`);
  const arch = torchvisionArchitecture(tensors, decoded.metadata, options.architecture, trainCheckpoint, source);
  let model: InceptionV3;
  try {
    model = new InceptionV3(engine, arch);
  } catch (e) {
    if (e instanceof InceptError) throw new ClassifierError(`${source}: the architecture read from the file cannot be built: ${e.message}`);
    throw e;
  }
  try {
    loadTorchvisionWeights(model, tensors, source, { keyPrefix: trainCheckpoint ? 'model.' : '' });
  } catch (e) {
    model.dispose();
    throw e;
  }
  const parameterCount = [...model.stateDict()].filter(([k]) => !/running_(mean|var)$/.test(k)).reduce((s, [, t]) => s + t.size, 0);
  const width = arch.width ?? 1;
  return {
    description: `Inception-v3${arch.variant === 'cifar10' ? ' (CIFAR-10 variant)' : ''}${width !== 1 ? `, width ${width}` : ''}, torchvision layout`,
    inputShape: [model.inputSize, model.inputSize, 3],
    numClasses: fc.shape[0]!,
    outputIsProbabilities: false,
    parameterCount,
    forward: (x) => model.forward(x),
    dispose: () => model.dispose(),
  };
}

// ----------------------------------------------------------------------------------- classifier

function presetNameOf(p: PreprocessPreset | PreprocessOptions): PreprocessPreset {
  return typeof p === 'string' ? p : (p.preset ?? 'torchvision');
}

function checkImage(v: unknown, i: number): DecodedImage {
  const im = v as DecodedImage;
  if (typeof im !== 'object' || im === null || !Number.isInteger(im.width) || !Number.isInteger(im.height) || !(im.data instanceof Uint8Array)) {
    throw new InvalidArgumentError(
      `classify: image ${i} must be a decoded image { width, height, data } (decodeImage or readImageFile), got ${im === null ? 'null' : typeof im}`,
    );
  }
  return im;
}

class LoadedClassifier implements Classifier {
  readonly labels: readonly string[] | undefined;
  private disposed = false;

  constructor(
    readonly engine: Engine,
    readonly format: ModelFormat,
    readonly source: string,
    readonly preprocessing: PreprocessPreset | PreprocessOptions,
    private readonly backend: Backend,
    labels: readonly string[] | undefined,
  ) {
    this.labels = labels;
  }

  get description(): string {
    return this.backend.description;
  }
  get presetName(): PreprocessPreset {
    return presetNameOf(this.preprocessing);
  }
  get inputShape(): readonly [number, number, number] {
    return this.backend.inputShape;
  }
  get numClasses(): number {
    return this.backend.numClasses;
  }
  get outputIsProbabilities(): boolean {
    return this.backend.outputIsProbabilities;
  }
  get parameterCount(): number {
    return this.backend.parameterCount;
  }

  private live(what: string): void {
    if (this.disposed) throw new InvalidArgumentError(`${what}: the classifier was disposed`);
  }

  preprocess(images: readonly DecodedImage[]): Tensor<'f32'> {
    this.live('preprocess');
    const [h, w, c] = this.inputShape;
    if (c !== 3)
      throw new InvalidArgumentError(`preprocess: the model takes ${c}-channel input, not RGB images; pass a preprocessed [N, ${h}, ${w}, ${c}] tensor`);
    const base: PreprocessOptions = typeof this.preprocessing === 'string' ? { preset: this.preprocessing } : this.preprocessing;
    return preprocessImages(this.engine, images.map(checkImage), { ...base, size: base.size ?? [h, w] });
  }

  classify(image: DecodedImage, options?: ClassifyOptions): Promise<Classification>;
  classify(input: readonly DecodedImage[] | Tensor, options?: ClassifyOptions): Promise<Classification[]>;
  async classify(input: DecodedImage | readonly DecodedImage[] | Tensor, options: ClassifyOptions = {}): Promise<Classification | Classification[]> {
    const run = await this.classifyDetailed(input, options);
    return Array.isArray(input) || input instanceof Tensor ? run.results : run.results[0]!;
  }

  async classifyDetailed(input: DecodedImage | readonly DecodedImage[] | Tensor, options: ClassifyOptions = {}): Promise<ClassifyRun> {
    this.live('classify');
    const t0 = performance.now();
    const classes = this.numClasses;
    const k = options.topk ?? Math.min(5, classes);
    if (!Number.isInteger(k) || k < 1 || k > Math.min(classes, MAX_TOP_K))
      throw new InvalidArgumentError(`classify: topk must be an integer in 1..${Math.min(classes, MAX_TOP_K)}, got ${String(options.topk)}`);
    const batchSize = options.batchSize ?? 8;
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new InvalidArgumentError(`classify: batchSize must be a positive integer, got ${String(options.batchSize)}`);
    const [h, w, c] = this.inputShape;
    const profiler = this.engine.profiler;
    const forwardRecords: DispatchRecord[] = [];
    let preprocessMs = 0;
    let forwardMs = 0;
    const results: Omit<Classification, 'ms'>[] = [];

    const total = input instanceof Tensor ? input.shape[0]! : Array.isArray(input) ? input.length : 1;
    let batchNumber = 0;
    const runBatch = async (x: Tensor): Promise<void> => {
      const t = performance.now();
      const firstRecord = profiler.records.length;
      const first = results.length;
      batchNumber++;
      const out = this.engine.scope(() => {
        const y = this.backend.forward(x);
        const p = this.outputIsProbabilities ? y : softmax(y);
        const top = topK(p, k);
        return options.scores ? { y, p, top } : { y, top };
      });
      try {
        // The outputs are always read (classes × images floats, small next to the forward) to
        // catch NaN and infinities, which would otherwise come out as `class -1` or a
        // confident wrong answer.
        const [values, indices, probabilities, outputs] = await Promise.all([out.top.values.read(), out.top.indices.read(), out.p?.read(), out.y.read()]);
        const n = x.shape[0]!;
        for (let i = 0; i < n; i++) {
          const row = (outputs as Float32Array).subarray(i * classes, (i + 1) * classes);
          const bad = firstNonFinite(row);
          const topIndexBad = (indices as Int32Array | Uint32Array).subarray(i * k, (i + 1) * k).some((j) => j < 0 || j >= classes);
          if (bad >= 0 || topIndexBad || firstNonFinite((values as Float32Array).subarray(i * k, (i + 1) * k)) >= 0) {
            const what = bad >= 0 ? `${String(row[bad])} (class ${bad} first)` : 'not a probability distribution (NaN or infinite after the softmax)';
            throw new ClassifierError(
              `${this.source}: the model's outputs for image ${first + i} (of ${total}; batch ${batchNumber}, images ${first}–${first + n - 1}) are ${what}; ` +
                "no class can be read from them. The input holds NaN or values near float32's limit, or the weights overflow",
            );
          }
          const top: TopClass[] = [];
          for (let j = 0; j < k; j++) {
            const index = indices[i * k + j]!;
            top.push({ index, label: this.labels?.[index] ?? `class ${index}`, probability: values[i * k + j]! });
          }
          results.push({
            top,
            ...(probabilities
              ? {
                  probabilities: (probabilities as Float32Array).slice(i * classes, (i + 1) * classes),
                  outputs: (outputs as Float32Array).slice(i * classes, (i + 1) * classes),
                }
              : {}),
          });
        }
      } finally {
        out.top.values.dispose();
        out.top.indices.dispose();
        out.p?.dispose();
        out.y.dispose();
      }
      forwardMs += performance.now() - t;
      forwardRecords.push(...profiler.records.slice(firstRecord));
    };

    if (input instanceof Tensor) {
      if (input.isDisposed) throw new InvalidArgumentError('classify: the input tensor was disposed');
      if (input.owner !== (this.engine as unknown)) throw new InvalidArgumentError('classify: the input tensor belongs to another engine');
      if (input.rank !== 4 || input.shape[1] !== h || input.shape[2] !== w || input.shape[3] !== c || input.dtype !== 'f32') {
        throw new InvalidArgumentError(
          `classify: a tensor input must be f32 [N, ${h}, ${w}, ${c}] (NHWC, preprocessed for this model), got ${input.describe()}`,
        );
      }
      if (input.shape[0]! < 1) throw new InvalidArgumentError('classify: the input tensor holds no images');
      await runBatch(input);
    } else {
      const images = Array.isArray(input) ? (input as readonly DecodedImage[]) : [input as DecodedImage];
      if (images.length === 0) throw new InvalidArgumentError('classify: no images');
      images.forEach(checkImage);
      for (let start = 0; start < images.length; start += batchSize) {
        const tp = performance.now();
        const x = this.preprocess(images.slice(start, start + batchSize));
        try {
          await this.engine.sync();
          preprocessMs += performance.now() - tp;
          await runBatch(x);
        } finally {
          x.dispose();
        }
      }
    }
    const totalMs = performance.now() - t0;
    const ms = totalMs / results.length;
    const run: ClassifyRun = { results: results.map((r) => ({ ...r, ms })), timing: { preprocessMs, forwardMs, totalMs } };
    if (profiler.enabled) run.layers = profiler.byLayer(forwardRecords);
    return run;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.backend.dispose();
  }
}

/**
 * Loads a classifier from a model file (see the module comment for the formats). Rejects with
 * an error naming the file and the fault when the file is not a usable model, when its class
 * count differs from `numClasses`, or when `labels` has another length than the classes.
 */
export async function loadClassifier(engine: Engine, options: LoadClassifierOptions): Promise<Classifier> {
  if (typeof options !== 'object' || options === null || options.weights === undefined || options.weights === null) {
    throw new InvalidArgumentError('loadClassifier: options.weights is required (the model file: bytes, { name, bytes } files, or a path in Node)');
  }
  if (options.format !== undefined && !MODEL_FORMATS.includes(options.format)) {
    throw new ClassifierError(`loadClassifier: unknown format ${JSON.stringify(options.format)}; the formats are ${MODEL_FORMATS.join(', ')}`);
  }
  if (options.preset !== undefined && typeof options.preset === 'string' && !(options.preset in PREPROCESS_PRESETS)) {
    throw new ClassifierError(
      `loadClassifier: unknown preset ${JSON.stringify(options.preset)}; the presets are ${Object.keys(PREPROCESS_PRESETS).join(', ')}`,
    );
  }
  const src = await resolveSource(options.weights, options.source);
  const format = options.format ?? (src.tfjs || src.files ? 'tfjs' : detectModelFormat(src.bytes!, src.name));
  let backend: Backend;
  if (format === 'torchvision') {
    if (!src.bytes) throw new ClassifierError(`${src.name}: the torchvision format is one safetensors file; got a TF.js model source`);
    backend = await loadTorchvision(engine, src.bytes, src.name, options);
  } else if (format === 'onnx') {
    if (!src.bytes) throw new ClassifierError(`${src.name}: the ONNX format is one .onnx file; got a TF.js model source`);
    backend = await loadGraphBackend(engine, { kind: 'onnx', bytes: src.bytes, source: src.name });
  } else {
    const t = await tfjsSource(src);
    backend = await loadGraphBackend(engine, { kind: 'tfjs', modelJson: t.modelJson, readShard: t.readShard, source: src.name });
  }
  try {
    if (options.numClasses !== undefined && options.numClasses !== backend.numClasses) {
      throw new ClassifierError(`${src.name}: the model has ${backend.numClasses} classes, ${options.numClasses} were expected`);
    }
    const labels = options.labels === undefined ? undefined : labelsForClasses(options.labels, backend.numClasses, `labels for ${src.name}`);
    const preset = options.preset ?? (format === 'tfjs' ? 'keras' : 'torchvision');
    return new LoadedClassifier(engine, format, src.name, preset, backend, labels);
  } catch (e) {
    backend.dispose();
    throw e;
  }
}
