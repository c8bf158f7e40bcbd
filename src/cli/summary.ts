/** `incept summary`: Inception-v3 layer by layer, with parameters and multiply-adds. */
import { inceptionV3Spec, totals, type LayerSpec } from '../models/inception-v3-spec.js';
import { InceptError } from '../runtime/errors.js';
import { inputSizeFlag, intFlag, widthFlag } from './args.js';

export interface SummaryOptions {
  aux: boolean;
  auxBn: boolean;
  input?: string;
  classes?: string;
  stem?: string;
  lowResolution?: string;
  cifar10?: boolean;
  width?: string;
  json?: boolean;
}

type Variant = 'imagenet' | 'cifar10';

export interface SummaryJson {
  model: string;
  variant: Variant;
  /** Channel multiplier on every conv (1 = the released widths). */
  width: number;
  input: [number, number, number, number];
  auxLogits: boolean;
  numClasses: number;
  totalParams: number;
  totalMacs: number;
  auxMacs: number;
  /** outputShape is [N, C, H, W] with N = 1. */
  layers: { name: string; kind: string; outputShape: [number, number, number, number]; params: number; macs: number; aux?: boolean }[];
}

export function summaryJson(layers: LayerSpec[], input: number, aux: boolean, classes: number, variant: Variant = 'imagenet', width = 1): SummaryJson {
  const t = totals(layers);
  return {
    model: 'inception_v3',
    variant,
    width,
    input: [1, 3, input, input],
    auxLogits: aux,
    numClasses: classes,
    totalParams: t.params,
    totalMacs: t.macs,
    auxMacs: t.auxMacs,
    layers: layers.map((l) => ({
      name: l.name,
      kind: l.kind,
      outputShape: [1, ...l.outputShape],
      params: l.params,
      macs: l.macs,
      ...(l.aux ? { aux: true } : {}),
    })),
  };
}

const grouped = (n: number) => n.toLocaleString('en-US');

/** Counts past 2^53 are not exact in JavaScript numbers (and past any real network): a width,
 * input or class count that big is refused, naming the flags that make it so. */
function checkExact(layers: readonly LayerSpec[], opts: SummaryOptions): void {
  const t = totals(layers);
  const exact = [t.params, t.macs, t.auxMacs, ...layers.flatMap((l) => [l.params, l.macs, ...l.outputShape])].every((v) => Number.isSafeInteger(v));
  if (exact) return;
  const given = [
    opts.width !== undefined && `--width ${opts.width}`,
    opts.input !== undefined && `--input ${opts.input}`,
    opts.classes !== undefined && `--classes ${opts.classes}`,
  ].filter(Boolean);
  throw new InceptError(
    `${given.join(' with ') || 'these options'} ${given.length > 1 ? 'make' : 'makes'} the counts too large to be exact (parameters or multiply-adds past 2^53 = ${Number.MAX_SAFE_INTEGER}); give smaller values`,
  );
}

/** The ImageNet ablations rewrite the stem the cifar10 variant replaces; say so by flag name. */
function checkCifar10Flags(opts: SummaryOptions): void {
  if (!opts.cifar10) return;
  const clash = [opts.stem !== undefined && '--stem', opts.lowResolution !== undefined && '--low-resolution'].filter(Boolean);
  if (clash.length > 0)
    throw new InceptError(
      `${clash.join(' and ')} cannot go with --cifar10: they are ImageNet stem ablations (the paper's Tables 3 and 2), and the CIFAR-10 variant has its own small-image stem`,
    );
}

export function runSummary(opts: SummaryOptions): void {
  checkCifar10Flags(opts);
  const variant: Variant = opts.cifar10 ? 'cifar10' : 'imagenet';
  const width = opts.width === undefined ? 1 : widthFlag(opts.width);
  const low = opts.lowResolution === undefined ? undefined : Number(opts.lowResolution);
  if (low !== undefined && low !== 79 && low !== 151)
    throw new InceptError(`--low-resolution must be 79 or 151 (the paper's Table 2), got '${opts.lowResolution}'`);
  if (opts.stem !== undefined && opts.stem !== 'v3' && opts.stem !== '7x7') throw new InceptError(`--stem must be v3 or 7x7, got '${opts.stem}'`);
  // The low-resolution variants keep the aux head at their own small inputs.
  const input = opts.input === undefined ? (opts.cifar10 ? 32 : (low ?? 299)) : inputSizeFlag(opts.input, variant, opts.aux && low === undefined);
  const classes = opts.classes === undefined ? (opts.cifar10 ? 10 : 1000) : intFlag('--classes', opts.classes, { min: 1 });
  const layers = inceptionV3Spec({
    variant,
    width,
    inputSize: input,
    auxLogits: opts.aux,
    auxBatchNorm: opts.auxBn,
    numClasses: classes,
    ...(opts.stem ? { stem: opts.stem as 'v3' | '7x7' } : {}),
    ...(low ? { lowResolution: low as 79 | 151 } : {}),
  });
  checkExact(layers, opts);
  const json = summaryJson(layers, input, opts.aux, classes, variant, width);
  if (opts.json) {
    console.log(JSON.stringify(json, null, 2));
    return;
  }
  const head = ['layer', 'kind', 'output [N, C, H, W]', 'params', 'multiply-adds'];
  const body = json.layers.map((l) => [l.name + (l.aux ? ' (aux)' : ''), l.kind, `[${l.outputShape.join(', ')}]`, grouped(l.params), grouped(l.macs)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(
    `Inception-v3, ${variant === 'cifar10' ? 'CIFAR-10' : 'ImageNet'} variant, width ${width}, input [1, 3, ${input}, ${input}], ${classes} classes, aux head ${opts.aux ? 'on (training only)' : 'off'}`,
  );
  console.log(line(head));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const b of body) console.log(line(b));
  console.log('');
  console.log(`total parameters: ${grouped(json.totalParams)}`);
  console.log(
    `total multiply-adds (inference path: convs + classifier): ${grouped(json.totalMacs)}${opts.aux ? `; the aux head adds ${grouped(json.auxMacs)} in training` : ''}`,
  );
}
