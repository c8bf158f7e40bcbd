/**
 * Inception-v3's architecture as data: every layer with its torchvision name, kind, output
 * shape, parameters and multiply-adds, computed for an input size (299 by default). The model
 * builder and `incept summary` read it; its counts are checked against the published ones
 * (27,161,264 parameters with the aux head, 23,834,568 without; 5,713,216,096 multiply-adds at
 * 299×299). Every conv is conv (no bias) → BatchNorm (γ, β; eps 1e-3) → ReLU, as released.
 *
 * Two variants share the modules (Mixed_5b … Mixed_7c, same branches, same names):
 * - 'imagenet' (default): the released network, torchvision's paddings, 299×299 input.
 * - 'cifar10': for 32×32 images. Inception-v3 needs at least 75×75 because its stem shrinks the
 *   image eightfold with 'valid' convs and two stride-2 stages before the first module; here
 *   the stem is rewritten at stride 1 with one max-pool (Conv2d_1a_3x3, 2a, 2b: 3×3 s1 → 32, 32,
 *   64; maxpool1 3×3/2 → 16×16; Conv2d_3b_1x1 → 80; Conv2d_4a_3x3 → 192; no maxpool2), and every
 *   conv and pool uses TensorFlow's 'same' padding (out = ⌈in / stride⌉; the odd pixel of
 *   padding goes bottom/right), so only the stride-2 stages change the grid: at 32×32 the
 *   modules run at 16×16 (5b–5d), 8×8 (6a–6e) and 4×4 (7a–7c). The aux head pools Mixed_6e 5/3
 *   'valid' (8×8 → 2×2), then its second conv's kernel is the whole pooled grid (2×2 at 32×32),
 *   the role the 5×5 conv plays on the 5×5 pooled grid at 299. Defaults: 32×32, 10 classes.
 *
 * `width` multiplies every conv's output channels (both variants, aux head included) and rounds
 * to a multiple of 4, at least 4 (`scaledChannels`); the 3 input channels and the classes stay.
 * Every Inception channel count is a multiple of 4, so width 1 is the released network exactly.
 */
import { InvalidArgumentError } from '../runtime/errors.js';
import { resolvePadding } from '../ops/conv2d-geometry.js';

export interface InceptionV3Options {
  /** 'imagenet' (default): the released network. 'cifar10': the small-image stem and 'same'
   * padding throughout (see the file's comment); 32×32 input and 10 classes by default. */
  variant?: 'imagenet' | 'cifar10';
  /** Width multiplier on every conv's output channels (default 1; any finite number > 0),
   * rounded by `scaledChannels`. */
  width?: number;
  /** Include the auxiliary head on Mixed_6e (training only). Default true. */
  auxLogits?: boolean;
  /** Output classes (1000; 1001 with TF-slim's background class; 10 for CIFAR-10). Default 1000,
   * 10 for the cifar10 variant. */
  numClasses?: number;
  /** Input height and width; at least 75. Default 299 (79 or 151 with `lowResolution`). For the
   * cifar10 variant: default 32, at least 8 (17 with the aux head). */
  inputSize?: number;
  /**
   * ImageNet variant only. The paper's Table 3 ablation: 'v3' (default) is the factorized stem (three 3×3 convs);
   * '7x7' is Inception-v2's single 7×7/2 conv to 64 channels in their place (same output).
   */
  stem?: 'v3' | '7x7';
  /** BatchNorm on the aux head's convs (the paper's "BN-auxiliary"; default true). Without it
   * they are plain convs with a bias, as before the paper. */
  auxBatchNorm?: boolean;
  /**
   * ImageNet variant only. The paper's Table 2 low-resolution study, at about the 299×299 network's cost: 151 takes a
   * 151×151 input with the first conv at stride 1 (max-pool kept); 79 takes 79×79 with stride 1
   * and no max-pool after the first layers.
   */
  lowResolution?: 79 | 151;
}

/** Shapes are [C, H, W] per example. */
export type LayerKind = 'conv' | 'maxpool' | 'avgpool' | 'concat' | 'globalavgpool' | 'dropout' | 'linear';

export interface LayerSpec {
  /** torchvision's module name, e.g. 'Mixed_5b.branch5x5_2' (the conv inside is `.conv`, its BatchNorm `.bn`). */
  name: string;
  kind: LayerKind;
  /** Names of the layers feeding this one ('input' for the image). */
  inputs: string[];
  outputShape: [number, number, number];
  params: number;
  macs: number;
  /** Convs and pools: kernel [KH, KW], stride [sH, sW], padding [top, bottom, left, right]. */
  kernel?: [number, number];
  stride?: [number, number];
  padding?: [number, number, number, number];
  /** Part of the auxiliary head (runs in training only). */
  aux?: boolean;
  /** false for a conv with a bias and no BatchNorm (the aux head without BN-auxiliary). */
  batchNorm?: boolean;
}

export const MIN_INPUT_SIZE = 75;
/** The aux head's 5×5 conv needs Mixed_6e at 17×17 or more (pooled 5/3 to 5×5): inputs ≥ 299. */
export const MIN_INPUT_SIZE_WITH_AUX = 299;
/** The cifar10 variant's three stride-2 stages take 8×8 to 1×1; below that Mixed_7a would
 * only stride over padding. */
export const CIFAR10_MIN_INPUT_SIZE = 8;
/** The cifar10 aux head pools Mixed_6e 5/3 'valid', so Mixed_6e must be at least 5×5:
 * ⌈⌈size / 2⌉ / 2⌉ ≥ 5, i.e. inputs ≥ 17. */
export const CIFAR10_MIN_INPUT_SIZE_WITH_AUX = 17;
const CIFAR10_MIN_AUX_GRID = 5;

/**
 * A conv's output channels at a width multiplier: c·width rounded to a multiple of 4, at least
 * 4. Multiples of 4 keep channel counts friendly to vectorised kernels (vec4 loads); the floor
 * keeps a thin network from losing a branch. width 1 returns every Inception count unchanged.
 */
export function scaledChannels(c: number, width: number): number {
  return Math.max(4, Math.round((c * width) / 4) * 4);
}

type Shape = [number, number, number];
/** torchvision's symmetric padding [along H, along W], none, or TensorFlow's 'same'. */
type LayerPadding = [number, number] | 'valid' | 'same';

class Builder {
  readonly layers: LayerSpec[] = [];
  private shapes = new Map<string, Shape>();

  /**
   * `allSame`: the cifar10 variant. The stem and modules are written once with torchvision's
   * paddings; in this variant each of those ([along H, along W], including the default [0, 0])
   * becomes 'same', so no grid shrinks except by a stride. A layer that must stay unpadded in
   * every variant (the aux head's) says 'valid'.
   */
  constructor(
    inputShape: Shape,
    private readonly width = 1,
    private readonly allSame = false,
  ) {
    this.shapes.set('input', inputShape);
  }

  shape(name: string): Shape {
    const s = this.shapes.get(name);
    if (!s) throw new Error(`inception-v3 spec: unknown layer ${name}`);
    return s;
  }

  private add(layer: LayerSpec): string {
    this.layers.push(layer);
    this.shapes.set(layer.name, layer.outputShape);
    return layer.name;
  }

  /** [top, bottom, left, right], resolved by the conv and pool ops' own rule so the spec's
   * shapes are the ones the engine computes. */
  private sides(name: string, pad: LayerPadding, k: [number, number], stride: number, h: number, w: number): [number, number, number, number] {
    const p = this.allSame && Array.isArray(pad) ? 'same' : pad;
    return resolvePadding(`Inception-v3: ${name}`, p, h, w, k[0], k[1], stride, stride);
  }

  conv(name: string, input: string, cout: number, k: [number, number], stride = 1, pad: LayerPadding = [0, 0], aux = false, batchNorm = true): string {
    const [cin, h, w] = this.shape(input);
    const padding = this.sides(name, pad, k, stride, h, w);
    const oh = Math.floor((h + padding[0] + padding[1] - k[0]) / stride) + 1;
    const ow = Math.floor((w + padding[2] + padding[3] - k[1]) / stride) + 1;
    if (oh < 1 || ow < 1)
      throw new InvalidArgumentError(`Inception-v3: ${name} gets a ${h}×${w} input, smaller than its ${k[0]}×${k[1]} kernel; the input image is too small`);
    const c = scaledChannels(cout, this.width);
    return this.add({
      name,
      kind: 'conv',
      inputs: [input],
      outputShape: [c, oh, ow],
      // BatchNorm's γ and β, or a bias when the conv has no BatchNorm.
      params: k[0] * k[1] * cin * c + (batchNorm ? 2 : 1) * c,
      macs: oh * ow * k[0] * k[1] * cin * c,
      kernel: k,
      stride: [stride, stride],
      padding,
      ...(aux ? { aux } : {}),
      ...(batchNorm ? {} : { batchNorm: false }),
    });
  }

  pool(name: string, kind: 'maxpool' | 'avgpool', input: string, k: number, stride: number, pad: number | 'valid' | 'same' = 0, aux = false): string {
    const [c, h, w] = this.shape(input);
    const padding = this.sides(name, typeof pad === 'number' ? [pad, pad] : pad, [k, k], stride, h, w);
    const oh = Math.floor((h + padding[0] + padding[1] - k) / stride) + 1;
    const ow = Math.floor((w + padding[2] + padding[3] - k) / stride) + 1;
    if (oh < 1 || ow < 1)
      throw new InvalidArgumentError(`Inception-v3: ${name} gets a ${h}×${w} input, smaller than its ${k}×${k} window; the input image is too small`);
    return this.add({
      name,
      kind,
      inputs: [input],
      outputShape: [c, oh, ow],
      params: 0,
      macs: 0,
      kernel: [k, k],
      stride: [stride, stride],
      padding,
      ...(aux ? { aux } : {}),
    });
  }

  concat(name: string, inputs: string[]): string {
    const shapes = inputs.map((i) => this.shape(i));
    const [, h, w] = shapes[0]!;
    return this.add({ name, kind: 'concat', inputs, outputShape: [shapes.reduce((s, x) => s + x[0], 0), h, w], params: 0, macs: 0 });
  }

  other(name: string, kind: 'globalavgpool' | 'dropout', input: string): string {
    const [c, h, w] = this.shape(input);
    return this.add({ name, kind, inputs: [input], outputShape: kind === 'globalavgpool' ? [c, 1, 1] : [c, h, w], params: 0, macs: 0 });
  }

  linear(name: string, input: string, out: number, aux = false): string {
    const [c, h, w] = this.shape(input);
    const inF = c * h * w;
    return this.add({ name, kind: 'linear', inputs: [input], outputShape: [out, 1, 1], params: inF * out + out, macs: inF * out, ...(aux ? { aux } : {}) });
  }
}

function moduleA(b: Builder, m: string, input: string, poolFeatures: number): string {
  const b1 = b.conv(`${m}.branch1x1`, input, 64, [1, 1]);
  const b5 = b.conv(`${m}.branch5x5_2`, b.conv(`${m}.branch5x5_1`, input, 48, [1, 1]), 64, [5, 5], 1, [2, 2]);
  let b3 = b.conv(`${m}.branch3x3dbl_1`, input, 64, [1, 1]);
  b3 = b.conv(`${m}.branch3x3dbl_2`, b3, 96, [3, 3], 1, [1, 1]);
  b3 = b.conv(`${m}.branch3x3dbl_3`, b3, 96, [3, 3], 1, [1, 1]);
  const bp = b.conv(`${m}.branch_pool`, b.pool(`${m}.avg_pool`, 'avgpool', input, 3, 1, 1), poolFeatures, [1, 1]);
  return b.concat(m, [b1, b5, b3, bp]);
}

function moduleB(b: Builder, m: string, input: string): string {
  const b3 = b.conv(`${m}.branch3x3`, input, 384, [3, 3], 2);
  let bd = b.conv(`${m}.branch3x3dbl_1`, input, 64, [1, 1]);
  bd = b.conv(`${m}.branch3x3dbl_2`, bd, 96, [3, 3], 1, [1, 1]);
  bd = b.conv(`${m}.branch3x3dbl_3`, bd, 96, [3, 3], 2);
  const bp = b.pool(`${m}.max_pool`, 'maxpool', input, 3, 2);
  return b.concat(m, [b3, bd, bp]);
}

function moduleC(b: Builder, m: string, input: string, c7: number): string {
  const b1 = b.conv(`${m}.branch1x1`, input, 192, [1, 1]);
  let b7 = b.conv(`${m}.branch7x7_1`, input, c7, [1, 1]);
  b7 = b.conv(`${m}.branch7x7_2`, b7, c7, [1, 7], 1, [0, 3]);
  b7 = b.conv(`${m}.branch7x7_3`, b7, 192, [7, 1], 1, [3, 0]);
  let bd = b.conv(`${m}.branch7x7dbl_1`, input, c7, [1, 1]);
  bd = b.conv(`${m}.branch7x7dbl_2`, bd, c7, [7, 1], 1, [3, 0]);
  bd = b.conv(`${m}.branch7x7dbl_3`, bd, c7, [1, 7], 1, [0, 3]);
  bd = b.conv(`${m}.branch7x7dbl_4`, bd, c7, [7, 1], 1, [3, 0]);
  bd = b.conv(`${m}.branch7x7dbl_5`, bd, 192, [1, 7], 1, [0, 3]);
  const bp = b.conv(`${m}.branch_pool`, b.pool(`${m}.avg_pool`, 'avgpool', input, 3, 1, 1), 192, [1, 1]);
  return b.concat(m, [b1, b7, bd, bp]);
}

function moduleD(b: Builder, m: string, input: string): string {
  const b3 = b.conv(`${m}.branch3x3_2`, b.conv(`${m}.branch3x3_1`, input, 192, [1, 1]), 320, [3, 3], 2);
  let b7 = b.conv(`${m}.branch7x7x3_1`, input, 192, [1, 1]);
  b7 = b.conv(`${m}.branch7x7x3_2`, b7, 192, [1, 7], 1, [0, 3]);
  b7 = b.conv(`${m}.branch7x7x3_3`, b7, 192, [7, 1], 1, [3, 0]);
  b7 = b.conv(`${m}.branch7x7x3_4`, b7, 192, [3, 3], 2);
  const bp = b.pool(`${m}.max_pool`, 'maxpool', input, 3, 2);
  return b.concat(m, [b3, b7, bp]);
}

function moduleE(b: Builder, m: string, input: string): string {
  const b1 = b.conv(`${m}.branch1x1`, input, 320, [1, 1]);
  const b3 = b.conv(`${m}.branch3x3_1`, input, 384, [1, 1]);
  const b3a = b.conv(`${m}.branch3x3_2a`, b3, 384, [1, 3], 1, [0, 1]);
  const b3b = b.conv(`${m}.branch3x3_2b`, b3, 384, [3, 1], 1, [1, 0]);
  let bd = b.conv(`${m}.branch3x3dbl_1`, input, 448, [1, 1]);
  bd = b.conv(`${m}.branch3x3dbl_2`, bd, 384, [3, 3], 1, [1, 1]);
  const bda = b.conv(`${m}.branch3x3dbl_3a`, bd, 384, [1, 3], 1, [0, 1]);
  const bdb = b.conv(`${m}.branch3x3dbl_3b`, bd, 384, [3, 1], 1, [1, 0]);
  const bp = b.conv(`${m}.branch_pool`, b.pool(`${m}.avg_pool`, 'avgpool', input, 3, 1, 1), 192, [1, 1]);
  return b.concat(m, [b1, b3a, b3b, bda, bdb, bp]);
}

type Variant = 'imagenet' | 'cifar10';

interface Resolved {
  variant: Variant;
  width: number;
  size: number;
  classes: number;
  aux: boolean;
  auxBatchNorm: boolean;
  stem: 'v3' | '7x7';
  low: 79 | 151 | undefined;
}

function checkWidth(width: unknown): number {
  if (typeof width !== 'number' || !Number.isFinite(width) || width <= 0) {
    throw new InvalidArgumentError(`Inception-v3: width (the channel multiplier) must be a finite number greater than 0, got ${String(width)}`);
  }
  return width;
}

function resolveImagenet(options: InceptionV3Options, width: number): Resolved {
  const low = options.lowResolution;
  if (low !== undefined && low !== 79 && low !== 151)
    throw new InvalidArgumentError(`Inception-v3: lowResolution must be 79 or 151 (the paper's Table 2), got ${String(low)}`);
  const stem = options.stem ?? 'v3';
  if (stem !== 'v3' && stem !== '7x7') throw new InvalidArgumentError(`Inception-v3: stem must be 'v3' or '7x7', got ${String(stem)}`);
  const size = options.inputSize ?? low ?? 299;
  const aux = options.auxLogits ?? true;
  if (!Number.isInteger(size) || size < MIN_INPUT_SIZE) {
    throw new InvalidArgumentError(
      `Inception-v3: the input size must be an integer of at least ${MIN_INPUT_SIZE} (smaller images vanish in its stride-2 layers), got ${size}`,
    );
  }
  if (aux && size < MIN_INPUT_SIZE_WITH_AUX && low === undefined) {
    throw new InvalidArgumentError(
      `Inception-v3: the auxiliary head needs an input of at least ${MIN_INPUT_SIZE_WITH_AUX}×${MIN_INPUT_SIZE_WITH_AUX} (its 5×5 conv runs on Mixed_6e pooled 5/3), got ${size}; leave it out (auxLogits: false, incept summary --no-aux) for smaller images`,
    );
  }
  return { variant: 'imagenet', width, size, classes: options.numClasses ?? 1000, aux, auxBatchNorm: options.auxBatchNorm ?? true, stem, low };
}

function resolveCifar10(options: InceptionV3Options, width: number): Resolved {
  // Both rewrite the ImageNet stem, which this variant replaces with its own.
  if (options.stem !== undefined || options.lowResolution !== undefined) {
    throw new InvalidArgumentError(
      `Inception-v3: stem and lowResolution are ImageNet ablations (the paper's Tables 3 and 2); the cifar10 variant has its own small-image stem, so leave them out`,
    );
  }
  const size = options.inputSize ?? 32;
  if (!Number.isInteger(size) || size < CIFAR10_MIN_INPUT_SIZE) {
    throw new InvalidArgumentError(
      `Inception-v3 (cifar10): the input size must be an integer of at least ${CIFAR10_MIN_INPUT_SIZE} (its three stride-2 stages take 8×8 to 1×1), got ${size}`,
    );
  }
  return {
    variant: 'cifar10',
    width,
    size,
    classes: options.numClasses ?? 10,
    aux: options.auxLogits ?? true,
    auxBatchNorm: options.auxBatchNorm ?? true,
    stem: 'v3',
    low: undefined,
  };
}

function resolveOptions(options: InceptionV3Options): Resolved {
  const variant = options.variant ?? 'imagenet';
  if (variant !== 'imagenet' && variant !== 'cifar10')
    throw new InvalidArgumentError(`Inception-v3: variant must be 'imagenet' or 'cifar10', got ${String(variant)}`);
  const width = checkWidth(options.width ?? 1);
  const r = variant === 'cifar10' ? resolveCifar10(options, width) : resolveImagenet(options, width);
  if (!Number.isInteger(r.classes) || r.classes < 1) throw new InvalidArgumentError(`Inception-v3: numClasses must be a positive integer, got ${r.classes}`);
  return r;
}

/** The released stem (or one of the paper's ablations of it): 299×299 down to 192×35×35. */
function imagenetStem(b: Builder, stem: 'v3' | '7x7', low: 79 | 151 | undefined): string {
  // The low-resolution variants keep every later grid the size of the 299×299 network's.
  const firstStride = low ? 1 : 2;
  let x: string;
  if (stem === '7x7') {
    x = b.conv('Conv2d_1a_7x7', 'input', 64, [7, 7], firstStride);
  } else {
    x = b.conv('Conv2d_1a_3x3', 'input', 32, [3, 3], firstStride);
    x = b.conv('Conv2d_2a_3x3', x, 32, [3, 3]);
    x = b.conv('Conv2d_2b_3x3', x, 64, [3, 3], 1, [1, 1]);
  }
  if (low !== 79) x = b.pool('maxpool1', 'maxpool', x, 3, 2);
  x = b.conv('Conv2d_3b_1x1', x, 80, [1, 1]);
  x = b.conv('Conv2d_4a_3x3', x, 192, [3, 3]);
  return b.pool('maxpool2', 'maxpool', x, 3, 2);
}

/** The small-image stem: the same convs at stride 1 with 'same' padding and one max-pool, so
 * a 32×32 image reaches Mixed_5b at 16×16 instead of vanishing. */
function cifar10Stem(b: Builder): string {
  let x = b.conv('Conv2d_1a_3x3', 'input', 32, [3, 3], 1, 'same');
  x = b.conv('Conv2d_2a_3x3', x, 32, [3, 3], 1, 'same');
  x = b.conv('Conv2d_2b_3x3', x, 64, [3, 3], 1, 'same');
  x = b.pool('maxpool1', 'maxpool', x, 3, 2, 'same');
  x = b.conv('Conv2d_3b_1x1', x, 80, [1, 1], 1, 'same');
  return b.conv('Conv2d_4a_3x3', x, 192, [3, 3], 1, 'same');
}

/**
 * The auxiliary classifier on Mixed_6e: avg-pool 5/3, 1×1 conv to 128, a conv to 768 over the
 * pooled grid, global average, linear. Everything is 'valid' in both variants: the head shrinks
 * the grid on purpose. ImageNet's second conv is 5×5 (the pooled grid at 299); the cifar10
 * variant's covers its whole pooled grid (2×2 at 32×32), the same role.
 */
function auxHead(b: Builder, input: string, r: Resolved): void {
  const grid = b.shape(input)[1];
  if (r.variant === 'cifar10' && grid < CIFAR10_MIN_AUX_GRID) {
    throw new InvalidArgumentError(
      `Inception-v3 (cifar10): the auxiliary head needs Mixed_6e at ${CIFAR10_MIN_AUX_GRID}×${CIFAR10_MIN_AUX_GRID} or more (it pools 5/3 'valid'), an input of at least ${CIFAR10_MIN_INPUT_SIZE_WITH_AUX}; got Mixed_6e ${grid}×${grid} from a ${r.size}×${r.size} input; leave it out (auxLogits: false, incept summary --no-aux) for smaller images`,
    );
  }
  let a = b.pool('AuxLogits.avg_pool', 'avgpool', input, 5, 3, 'valid', true);
  const [, ph, pw] = b.shape(a);
  const k: [number, number] = r.variant === 'cifar10' ? [ph, pw] : [5, 5];
  a = b.conv('AuxLogits.conv0', a, 128, [1, 1], 1, 'valid', true, r.auxBatchNorm);
  a = b.conv('AuxLogits.conv1', a, 768, k, 1, 'valid', true, r.auxBatchNorm);
  a = b.other('AuxLogits.avgpool', 'globalavgpool', a);
  b.layers[b.layers.length - 1]!.aux = true;
  b.linear('AuxLogits.fc', a, r.classes, true);
}

/** Inception-v3 layer by layer: the released network (torchvision's layout and names) or its
 * cifar10 variant, at a width multiplier (see the file's comment). */
export function inceptionV3Spec(options: InceptionV3Options = {}): LayerSpec[] {
  const r = resolveOptions(options);
  const cifar = r.variant === 'cifar10';
  const b = new Builder([3, r.size, r.size], r.width, cifar);
  let x = cifar ? cifar10Stem(b) : imagenetStem(b, r.stem, r.low);
  x = moduleA(b, 'Mixed_5b', x, 32);
  x = moduleA(b, 'Mixed_5c', x, 64);
  x = moduleA(b, 'Mixed_5d', x, 64);
  x = moduleB(b, 'Mixed_6a', x);
  x = moduleC(b, 'Mixed_6b', x, 128);
  x = moduleC(b, 'Mixed_6c', x, 160);
  x = moduleC(b, 'Mixed_6d', x, 160);
  x = moduleC(b, 'Mixed_6e', x, 192);
  if (r.aux) auxHead(b, x, r);
  x = moduleD(b, 'Mixed_7a', x);
  x = moduleE(b, 'Mixed_7b', x);
  x = moduleE(b, 'Mixed_7c', x);
  x = b.other('avgpool', 'globalavgpool', x);
  x = b.other('dropout', 'dropout', x);
  b.linear('fc', x, r.classes);
  return b.layers;
}

export function totals(layers: readonly LayerSpec[]): { params: number; macs: number; auxMacs: number } {
  return {
    params: layers.reduce((s, l) => s + l.params, 0),
    macs: layers.filter((l) => !l.aux).reduce((s, l) => s + l.macs, 0),
    auxMacs: layers.filter((l) => l.aux).reduce((s, l) => s + l.macs, 0),
  };
}
