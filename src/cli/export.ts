/**
 * `incept export`: writes the engine's Inception-v3 as an ONNX model (the inference graph,
 * NCHW, for onnxruntime and other runtimes) or as torchvision-layout safetensors (the state
 * dict PyTorch's `inception_v3` loads). Weights are a seeded random initialisation, or a
 * torchvision checkpoint saved as safetensors (`--weights`), which makes `incept export
 * --weights inception_v3.safetensors --out inception_v3.onnx` a converter.
 */
import pkg from '../../package.json' with { type: 'json' };
import { createEngine, type Engine } from '../runtime/engine.js';
import { InceptError } from '../runtime/errors.js';
import type { DriverChoice } from '../runtime/gpu-node.js';
import { InceptionV3 } from '../models/inception-v3.js';
import { loadTorchvisionWeights, torchvisionStateDict } from '../models/inception-v3-weights.js';
import { encodeSafetensors, loadSafetensors, writeFileAtomic, type SafetensorsTensor } from '../io/safetensors.js';
import { DEFAULT_ONNX_OPSET, exportInceptionV3Onnx } from '../io/onnx/export.js';
import { ONNX_MAX_OPSET, ONNX_MIN_OPSET } from '../io/onnx/import.js';
import { inputSizeFlag, intFlag, outputPathFlag, widthFlag } from './args.js';
import { adapterLimits, checkFits, largestWeight, type AdapterLimits } from './adapter-fit.js';

export type ExportFormat = 'onnx' | 'safetensors';

export interface ExportOptions {
  /** The file to write; its extension (.onnx, .safetensors) gives the format unless `format` does. */
  out: string;
  format?: ExportFormat;
  /** A torchvision Inception-v3 state dict as safetensors; without it, weights are random (seeded). */
  weights?: string;
  /** Output classes; default 1000, or the weights file's. */
  numClasses?: number | string;
  /** Seed of the random initialisation (default 0). */
  seed?: number | string;
  /** Input height and width (default 299). */
  input?: number | string;
  variant?: 'imagenet' | 'cifar10';
  /** Channel width multiplier (default 1). */
  width?: number | string;
  /** Include the aux head (safetensors only; the ONNX graph is the inference graph). Default:
   * for safetensors, when the input size allows it (and the weights file has it). */
  aux?: boolean;
  /** ONNX opset, 7–21 (default 13). */
  opset?: number | string;
  driver?: DriverChoice;
  /** An engine to build the model on (the caller keeps it); default a new one, destroyed after. */
  engine?: Engine;
  /** Where the report line goes; default console.log. */
  log?: (line: string) => void;
}

export interface ExportResult {
  path: string;
  format: ExportFormat;
  bytes: number;
  parameters: number;
}

function formatOf(out: string, format: string | undefined): ExportFormat {
  const byExtension: ExportFormat | undefined = /\.onnx$/i.test(out) ? 'onnx' : /\.safetensors$/i.test(out) ? 'safetensors' : undefined;
  if (format !== undefined) {
    if (format !== 'onnx' && format !== 'safetensors') throw new InceptError(`--format must be onnx or safetensors, got '${format}'`);
    return format;
  }
  if (!byExtension) throw new InceptError(`cannot tell the format from '${out}': name the file .onnx or .safetensors, or pass --format onnx|safetensors`);
  return byExtension;
}

const megabytes = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;

/** The largest seed: the initialisation's generator takes 32 bits. */
const MAX_SEED = 2 ** 32 - 1;

/** Builds the model, writes the file and prints what it wrote. Every option is checked (and the
 * weights file read) before the engine starts; the network's largest weight must fit the adapter. */
export async function runExport(options: ExportOptions): Promise<ExportResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  if (!options.out) throw new InceptError('--out is required: the file to write (.onnx or .safetensors)');
  outputPathFlag('--out', options.out);
  const format = formatOf(options.out, options.format);
  const variant = options.variant ?? 'imagenet';
  const numClasses = options.numClasses === undefined ? undefined : intFlag('--classes', options.numClasses, { min: 1 });
  const seed = options.seed === undefined ? 0 : intFlag('--seed', options.seed, { min: 0, max: MAX_SEED });
  const input = options.input === undefined ? undefined : inputSizeFlag(options.input, variant, false);
  const opset = options.opset === undefined ? undefined : intFlag('--opset', options.opset, { min: ONNX_MIN_OPSET, max: ONNX_MAX_OPSET });
  if (opset !== undefined && format !== 'onnx') throw new InceptError('--opset only applies to ONNX output');
  const width = options.width === undefined ? undefined : widthFlag(options.width);

  let tensors: Map<string, SafetensorsTensor> | undefined;
  if (options.weights) tensors = (await loadSafetensors(options.weights)).tensors;
  const fileClasses = tensors?.get('fc.weight')?.shape[0];
  if (tensors && fileClasses === undefined) throw new InceptError(`${options.weights}: no fc.weight; is this a torchvision Inception-v3 state dict?`);
  if (numClasses !== undefined && fileClasses !== undefined && numClasses !== fileClasses) {
    throw new InceptError(`--classes ${numClasses} does not match ${options.weights}, whose fc.weight has ${fileClasses} classes`);
  }
  const size = input ?? (variant === 'cifar10' ? 32 : 299);
  const auxFits = variant === 'cifar10' ? size >= 17 : size >= 299;
  const fileHasAux = tensors ? tensors.has('AuxLogits.fc.weight') : true;
  const aux = options.aux ?? (format === 'safetensors' && auxFits && fileHasAux);
  if (aux && format === 'onnx') throw new InceptError('--aux does not apply to ONNX output: the exported graph is the inference graph, without the aux head');
  const classes = numClasses ?? fileClasses ?? (variant === 'cifar10' ? 10 : 1000);
  // Export runs no images: what must fit one binding is the largest weight (fc, with many classes).
  const limits: AdapterLimits = options.engine
    ? {
        name: options.engine.adapterName,
        maxStorageBufferBindingSize: options.engine.limits.maxStorageBufferBindingSize,
        maxBufferSize: options.engine.limits.maxBufferSize,
      }
    : await adapterLimits(options.driver);
  checkFits(
    limits,
    [
      { flag: '--classes', value: classes, min: 1, integer: true },
      { flag: '--width', value: width ?? 1, min: 0.01, integer: false },
    ],
    ([c, w]) => largestWeight({ variant, inputSize: size, width: w!, numClasses: c!, auxLogits: aux }),
  );

  const engine = options.engine ?? (await createEngine({ driver: options.driver }));
  try {
    const model = new InceptionV3(engine, {
      variant,
      ...(input !== undefined ? { inputSize: input } : {}),
      ...(width !== undefined ? { width } : {}),
      numClasses: classes,
      auxLogits: aux,
      seed,
    });
    try {
      if (tensors) loadTorchvisionWeights(model, tensors, options.weights);
      let bytes: Uint8Array;
      let parameters = 0;
      for (const [name, t] of model.parameters()) if (format === 'safetensors' || !name.startsWith('AuxLogits.')) parameters += t.size;
      if (format === 'onnx') {
        bytes = await exportInceptionV3Onnx(model, { opset: opset ?? DEFAULT_ONNX_OPSET, producer: 'incept-gpu', producerVersion: pkg.version });
      } else {
        bytes = encodeSafetensors(await torchvisionStateDict(model), { format: 'pt', producer: `incept-gpu ${pkg.version}` });
      }
      await writeFileAtomic(options.out, bytes, 'incept export');
      const classes = model.layers.at(-1)!.outputShape[0];
      const what =
        format === 'onnx'
          ? `ONNX opset ${opset ?? DEFAULT_ONNX_OPSET}, input [batch, 3, ${model.inputSize}, ${model.inputSize}] NCHW`
          : `torchvision-layout safetensors${model.hasAux ? ', with the aux head' : ''}`;
      const from = options.weights ? `weights from ${options.weights}` : `random init, seed ${seed}`;
      log(
        `wrote ${options.out}: ${megabytes(bytes.length)}, ${parameters.toLocaleString('en-US')} parameters (Inception-v3${variant === 'cifar10' ? ' CIFAR-10 variant' : ''}, ${classes} classes; ${what}; ${from})`,
      );
      return { path: options.out, format, bytes: bytes.length, parameters };
    } finally {
      model.dispose();
    }
  } finally {
    if (!options.engine) engine.destroy();
  }
}
