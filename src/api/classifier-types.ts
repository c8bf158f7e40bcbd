/**
 * The shapes of the embedding API: what loadClassifier takes, and the Classifier it returns with
 * its results. Kept apart from the loading and the classifying code so both, and callers, can
 * name them without importing either.
 */
import type { Engine } from '../runtime/engine.js';
import type { Tensor } from '../runtime/tensor.js';
import type { LayerSummary } from '../runtime/profiler.js';
import type { DecodedImage } from '../io/image.js';
import type { InputConvention, PreprocessOptions, PreprocessPreset } from '../io/preprocess.js';
import type { InceptionV3Options } from '../models/inception-v3-spec.js';
import type { ModelFormat } from './format.js';

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
  /**
   * How pixel values are normalised (see InputConvention), over the preset's own normalisation:
   * 'inception', (x/255 − 0.5)/0.5, for torchvision's pretrained Inception-v3 (transform_input=
   * True) and timm's tv_in1k / tf_in1k / tf_adv_in1k weights; 'imagenet', ImageNet's mean/std,
   * for a torchvision model built with transform_input=False and timm's gluon_in1k. A state dict
   * cannot tell them apart. Default for torchvision-format files: the metadata's
   * `incept.inputConvention`, else 'inception' for the ImageNet architecture and 'imagenet' for
   * the CIFAR-10 variant; for ONNX and TF.js, the preset's. Not together with a `preset` that
   * sets mean, std, scale, bias or convention.
   */
  inputConvention?: InputConvention;
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
  /** The normalisation images get: a named convention, or 'custom' for a preset given with its
   * own mean/std or scale/bias. A preprocessed tensor passed to classify must be in it too. */
  readonly inputConvention: InputConvention | 'custom';
  /** Why that convention: given by the caller, the file's metadata, or the format's default. */
  readonly inputConventionReason: string;
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
