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
 * safetensors and ONNX, 'keras' for TF.js; `preset` overrides) at the model's input size, with
 * the input convention (`inputConvention`: the normalisation, which a state dict does not
 * record) of torchvision's pretrained weights for an ImageNet torchvision-layout file; the
 * classifier's `inputConvention` and `inputConventionReason` say which one it used and why.
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
import {
  INPUT_CONVENTIONS,
  inputConventionOf,
  PREPROCESS_PRESETS,
  resolvePreprocess,
  type PreprocessOptions,
  type PreprocessPreset,
} from '../io/preprocess.js';
import type { Backend } from './backend.js';
import type { Classifier, LoadClassifierOptions } from './classifier-types.js';
import { ClassifierError, detectModelFormat, MODEL_FORMATS } from './format.js';
import { loadGraphBackend } from './graph-backend.js';
import { labelsForClasses } from './labels.js';
import { LoadedClassifier } from './loaded-classifier.js';
import { resolveSource, tfjsSource } from './model-source.js';
import { loadTorchvision } from './torchvision-backend.js';

export { ClassifierError, detectModelFormat, MODEL_FORMATS, type ModelFormat } from './format.js';
export { parseLabels, labelsForClasses } from './labels.js';
export type {
  Classification,
  Classifier,
  ClassifyOptions,
  ClassifyRun,
  LoadClassifierOptions,
  NamedBytes,
  TfjsModelSource,
  TopClass,
  WeightsSource,
} from './classifier-types.js';

/** The preprocessing a classifier runs: the caller's preset and convention over the format's and
 * the file's defaults, and why the convention is what it is. */
function choosePreprocessing(
  options: LoadClassifierOptions,
  formatPreset: PreprocessPreset,
  backend: Backend,
): { preprocessing: PreprocessPreset | PreprocessOptions; reason: string } {
  const given = options.preset;
  if (options.inputConvention !== undefined) {
    const base: PreprocessOptions = given === undefined ? { preset: formatPreset } : typeof given === 'string' ? { preset: given } : given;
    return { preprocessing: { ...base, convention: options.inputConvention }, reason: 'given as inputConvention' };
  }
  if (typeof given === 'string') return { preprocessing: given, reason: `the '${given}' preset's own normalisation, the preset given` };
  if (given !== undefined && hasNormalisation(given)) return { preprocessing: given, reason: 'the normalisation of the preset options given' };
  const fileDefault = backend.defaultInputConvention;
  if (fileDefault) {
    const base: PreprocessOptions = given ?? { preset: formatPreset };
    return { preprocessing: { ...base, convention: fileDefault.convention }, reason: fileDefault.reason };
  }
  return { preprocessing: given ?? formatPreset, reason: `the '${formatPreset}' preset's normalisation, this format's default` };
}

const hasNormalisation = (p: PreprocessOptions): boolean =>
  p.convention !== undefined || p.mean !== undefined || p.std !== undefined || p.scale !== undefined || p.bias !== undefined;

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
  if (options.preset !== undefined && typeof options.preset === 'string' && !Object.hasOwn(PREPROCESS_PRESETS, options.preset)) {
    throw new ClassifierError(
      `loadClassifier: unknown preset ${JSON.stringify(options.preset)}; the presets are ${Object.keys(PREPROCESS_PRESETS).join(', ')}`,
    );
  }
  if (options.inputConvention !== undefined && !Object.hasOwn(INPUT_CONVENTIONS, options.inputConvention)) {
    throw new ClassifierError(
      `loadClassifier: unknown inputConvention ${JSON.stringify(options.inputConvention)}; the conventions are ${Object.keys(INPUT_CONVENTIONS).join(', ')}`,
    );
  }
  if (options.inputConvention !== undefined && typeof options.preset === 'object' && options.preset !== null) {
    if (hasNormalisation(options.preset))
      throw new ClassifierError(
        'loadClassifier: inputConvention and a preset with its own normalisation (convention, mean, std, scale or bias) were both given; give one',
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
    const { preprocessing, reason } = choosePreprocessing(options, format === 'tfjs' ? 'keras' : 'torchvision', backend);
    let convention;
    try {
      // Resolved at the model's input size, as images will be: bad preset options fail here.
      const base: PreprocessOptions = typeof preprocessing === 'string' ? { preset: preprocessing } : preprocessing;
      const [h, w] = backend.inputShape;
      convention = inputConventionOf(resolvePreprocess({ ...base, size: base.size ?? [h, w] }));
    } catch (e) {
      if (e instanceof InceptError) throw new ClassifierError(`loadClassifier: preset: ${e.message}`);
      throw e;
    }
    return new LoadedClassifier(engine, format, src.name, preprocessing, backend, labels, { convention, reason });
  } catch (e) {
    backend.dispose();
    throw e;
  }
}
