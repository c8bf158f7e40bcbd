/**
 * The 'torchvision' format: a torchvision or timm Inception-v3 state dict (or an `incept train`
 * checkpoint) in safetensors, run on the native InceptionV3 with the architecture read from the
 * file's tensor shapes and metadata.
 *
 * The input convention (io/preprocess.ts InputConvention) is not in a state dict: torchvision's
 * pretrained weights and one trained from scratch have the same keys and shapes. The default is
 * the metadata's `incept.inputConvention` when the file has one; otherwise 'inception' for the
 * ImageNet architecture (the one torchvision's and timm's pretrained weights have: transform_input
 * =True, or timm's mean = std = 0.5) and 'imagenet' for the CIFAR-10 variant (no pretrained
 * weights exist for it; torchvision's transform_input=False and this engine's training take
 * mean/std-normalised input).
 */
import type { Engine } from '../runtime/engine.js';
import { InceptError } from '../runtime/errors.js';
import { decodeSafetensors, type SafetensorsTensor } from '../io/safetensors.js';
import { InceptionV3 } from '../models/inception-v3.js';
import { loadTorchvisionWeights } from '../models/inception-v3-weights.js';
import { inceptionV3Spec, type InceptionV3Options } from '../models/inception-v3-spec.js';
import { INPUT_CONVENTIONS, type InputConvention } from '../io/preprocess.js';
import type { Backend } from './backend.js';
import type { LoadClassifierOptions } from './classifier-types.js';
import { ClassifierError } from './format.js';

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

/** The safetensors metadata key that records a file's input convention. */
export const INPUT_CONVENTION_METADATA_KEY = 'incept.inputConvention';

/** The convention a file is read with when the caller names none (see the module comment). */
function defaultConvention(metadata: Record<string, string>, arch: InceptionV3Options, source: string): { convention: InputConvention; reason: string } {
  const meta = metadata[INPUT_CONVENTION_METADATA_KEY];
  if (meta !== undefined) {
    if (!Object.hasOwn(INPUT_CONVENTIONS, meta))
      throw new ClassifierError(
        `${source}: metadata ${INPUT_CONVENTION_METADATA_KEY} = ${JSON.stringify(meta)}; expected ${Object.keys(INPUT_CONVENTIONS).join(' or ')}`,
      );
    return { convention: meta as InputConvention, reason: `the file's metadata ${INPUT_CONVENTION_METADATA_KEY}` };
  }
  if (arch.variant === 'cifar10')
    return { convention: 'imagenet', reason: 'the default for the CIFAR-10 variant, which is trained from scratch on mean/std-normalised input' };
  return {
    convention: 'inception',
    reason: "the default for ImageNet Inception-v3 state dicts, as torchvision's pretrained weights (transform_input=True) and timm's tv/tf weights take",
  };
}

/** The model of a torchvision-layout safetensors file, weights loaded and checked. */
export async function loadTorchvision(engine: Engine, bytes: Uint8Array, source: string, options: LoadClassifierOptions): Promise<Backend> {
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
  const defaultInputConvention = defaultConvention(decoded.metadata, arch, source);
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
    defaultInputConvention,
    forward: (x) => model.forward(x),
    dispose: () => model.dispose(),
  };
}
