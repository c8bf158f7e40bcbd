/** `incept summary`: Inception-v3 layer by layer, with parameters and multiply-adds. */
import { inceptionV3Spec, totals, type LayerSpec } from '../models/inception-v3-spec.js';
import { InceptError } from '../runtime/errors.js';

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

function intFlag(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (!Number.isInteger(v)) throw new InceptError(`${flag} needs an integer, got '${text}'`);
  return v;
}

/** A multiplier: any finite number above 0 (0.25, 1.5, 2e-1). */
function widthFlag(text: string | undefined): number {
  if (text === undefined) return 1;
  const v = Number(text);
  // Number('') and Number(' ') are 0, so blank text fails the > 0 test too.
  if (!Number.isFinite(v) || v <= 0) throw new InceptError(`--width needs a number greater than 0 (the channel multiplier, e.g. 0.25), got '${text}'`);
  return v;
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
    layers: layers.map((l) => ({ name: l.name, kind: l.kind, outputShape: [1, ...l.outputShape], params: l.params, macs: l.macs, ...(l.aux ? { aux: true } : {}) })),
  };
}

const grouped = (n: number) => n.toLocaleString('en-US');

/** The ImageNet ablations rewrite the stem the cifar10 variant replaces; say so by flag name. */
function checkCifar10Flags(opts: SummaryOptions): void {
  if (!opts.cifar10) return;
  const clash = [opts.stem !== undefined && '--stem', opts.lowResolution !== undefined && '--low-resolution'].filter(Boolean);
  if (clash.length > 0) throw new InceptError(`${clash.join(' and ')} cannot go with --cifar10: they are ImageNet stem ablations (the paper's Tables 3 and 2), and the CIFAR-10 variant has its own small-image stem`);
}

export function runSummary(opts: SummaryOptions): void {
  checkCifar10Flags(opts);
  const variant: Variant = opts.cifar10 ? 'cifar10' : 'imagenet';
  const width = widthFlag(opts.width);
  const low = opts.lowResolution === undefined ? undefined : intFlag('--low-resolution', opts.lowResolution, 0);
  if (low !== undefined && low !== 79 && low !== 151) throw new InceptError(`--low-resolution must be 79 or 151 (the paper's Table 2), got '${opts.lowResolution}'`);
  if (opts.stem !== undefined && opts.stem !== 'v3' && opts.stem !== '7x7') throw new InceptError(`--stem must be v3 or 7x7, got '${opts.stem}'`);
  const input = intFlag('--input', opts.input, opts.cifar10 ? 32 : (low ?? 299));
  const classes = intFlag('--classes', opts.classes, opts.cifar10 ? 10 : 1000);
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
  const json = summaryJson(layers, input, opts.aux, classes, variant, width);
  if (opts.json) {
    console.log(JSON.stringify(json, null, 2));
    return;
  }
  const head = ['layer', 'kind', 'output [N, C, H, W]', 'params', 'multiply-adds'];
  const body = json.layers.map((l) => [l.name + (l.aux ? ' (aux)' : ''), l.kind, `[${l.outputShape.join(', ')}]`, grouped(l.params), grouped(l.macs)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(`Inception-v3, ${variant === 'cifar10' ? 'CIFAR-10' : 'ImageNet'} variant, width ${width}, input [1, 3, ${input}, ${input}], ${classes} classes, aux head ${opts.aux ? 'on (training only)' : 'off'}`);
  console.log(line(head));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const b of body) console.log(line(b));
  console.log('');
  console.log(`total parameters: ${grouped(json.totalParams)}`);
  console.log(`total multiply-adds (inference path: convs + classifier): ${grouped(json.totalMacs)}${opts.aux ? `; the aux head adds ${grouped(json.auxMacs)} in training` : ''}`);
}
