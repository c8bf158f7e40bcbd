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

export type ExportFormat = 'onnx' | 'safetensors';

export interface ExportOptions {
  /** The file to write; its extension (.onnx, .safetensors) gives the format unless `format` does. */
  out: string;
  format?: ExportFormat;
  /** A torchvision Inception-v3 state dict as safetensors; without it, weights are random (seeded). */
  weights?: string;
  /** Output classes; default 1000, or the weights file's. */
  numClasses?: number;
  /** Seed of the random initialisation (default 0). */
  seed?: number;
  /** Input height and width (default 299). */
  input?: number;
  variant?: 'imagenet' | 'cifar10';
  /** Channel width multiplier (default 1). */
  width?: number;
  /** Include the aux head (safetensors only; the ONNX graph is the inference graph). Default:
   * for safetensors, when the input size allows it (and the weights file has it). */
  aux?: boolean;
  /** ONNX opset, 7–21 (default 13). */
  opset?: number;
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

function checkInt(flag: string, v: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= min && v <= max)) {
    throw new InceptError(`${flag} needs an integer ${max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`}, got ${String(v)}`);
  }
}

const megabytes = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;

/** Builds the model, writes the file and prints what it wrote. */
export async function runExport(options: ExportOptions): Promise<ExportResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  if (!options.out) throw new InceptError('--out is required: the file to write (.onnx or .safetensors)');
  const format = formatOf(options.out, options.format);
  checkInt('--classes', options.numClasses, 1);
  checkInt('--seed', options.seed, 0);
  checkInt('--input', options.input, 1);
  checkInt('--opset', options.opset, ONNX_MIN_OPSET, ONNX_MAX_OPSET);
  if (options.opset !== undefined && format !== 'onnx') throw new InceptError('--opset only applies to ONNX output');
  if (options.width !== undefined && !(Number.isFinite(options.width) && options.width > 0)) throw new InceptError(`--width needs a number greater than 0, got ${String(options.width)}`);

  let tensors: Map<string, SafetensorsTensor> | undefined;
  if (options.weights) tensors = (await loadSafetensors(options.weights)).tensors;
  const fileClasses = tensors?.get('fc.weight')?.shape[0];
  if (tensors && fileClasses === undefined) throw new InceptError(`${options.weights}: no fc.weight; is this a torchvision Inception-v3 state dict?`);
  if (options.numClasses !== undefined && fileClasses !== undefined && options.numClasses !== fileClasses) {
    throw new InceptError(`--classes ${options.numClasses} does not match ${options.weights}, whose fc.weight has ${fileClasses} classes`);
  }
  const variant = options.variant ?? 'imagenet';
  const size = options.input ?? (variant === 'cifar10' ? 32 : 299);
  const auxFits = variant === 'cifar10' ? size >= 17 : size >= 299;
  const fileHasAux = tensors ? tensors.has('AuxLogits.fc.weight') : true;
  const aux = options.aux ?? (format === 'safetensors' && auxFits && fileHasAux);
  if (aux && format === 'onnx') throw new InceptError('--aux does not apply to ONNX output: the exported graph is the inference graph, without the aux head');

  const engine = options.engine ?? (await createEngine({ driver: options.driver }));
  try {
    const model = new InceptionV3(engine, {
      variant,
      ...(options.input !== undefined ? { inputSize: options.input } : {}),
      ...(options.width !== undefined ? { width: options.width } : {}),
      ...((options.numClasses ?? fileClasses) !== undefined ? { numClasses: options.numClasses ?? fileClasses } : {}),
      auxLogits: aux,
      seed: options.seed ?? 0,
    });
    try {
      if (tensors) loadTorchvisionWeights(model, tensors, options.weights);
      let bytes: Uint8Array;
      let parameters = 0;
      for (const [name, t] of model.parameters()) if (format === 'safetensors' || !name.startsWith('AuxLogits.')) parameters += t.size;
      if (format === 'onnx') {
        bytes = await exportInceptionV3Onnx(model, { opset: options.opset ?? DEFAULT_ONNX_OPSET, producer: 'incept-gpu', producerVersion: pkg.version });
      } else {
        bytes = encodeSafetensors(await torchvisionStateDict(model), { format: 'pt', producer: `incept-gpu ${pkg.version}` });
      }
      await writeFileAtomic(options.out, bytes, 'incept export');
      const classes = model.layers.at(-1)!.outputShape[0];
      const what = format === 'onnx' ? `ONNX opset ${options.opset ?? DEFAULT_ONNX_OPSET}, input [batch, 3, ${model.inputSize}, ${model.inputSize}] NCHW` : `torchvision-layout safetensors${model.hasAux ? ', with the aux head' : ''}`;
      const from = options.weights ? `weights from ${options.weights}` : `random init, seed ${options.seed ?? 0}`;
      log(`wrote ${options.out}: ${megabytes(bytes.length)}, ${parameters.toLocaleString('en-US')} parameters (Inception-v3${variant === 'cifar10' ? ' CIFAR-10 variant' : ''}, ${classes} classes; ${what}; ${from})`);
      return { path: options.out, format, bytes: bytes.length, parameters };
    } finally {
      model.dispose();
    }
  } finally {
    if (!options.engine) engine.destroy();
  }
}
