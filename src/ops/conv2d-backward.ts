/**
 * 2-D convolution, backward: the gradients of y = conv2d(x, w, { stride, padding }) (+ bias)
 * with respect to x, w and the bias, from dy = ∂L/∂y. Kernels: kernels/conv2d-backward.wgsl.
 *
 * What the backward pass needs from the forward:
 *   - conv2dBackwardInput: dy, the weights w, and x's shape (not x itself);
 *   - conv2dBackwardWeights: dy, the input x, and w's shape (not w itself);
 *   - conv2dBackwardBias: dy only;
 * plus the forward's stride and padding (padding 'same' resolves against x's shape exactly as
 * in the forward). y is never needed. A ReLU fused into the forward's epilogue is undone first
 * with reluBackward(dy, y); the scale epilogue (BatchNorm folded for inference) has no backward.
 *
 * dy may be a channel view (the gradient of one branch's slice of a concatenated block); x and
 * w must be plain tensors (conv2d itself takes nothing else).
 */
import conv2dBackwardWgsl from '../../kernels/conv2d-backward.wgsl';
import type { Engine } from '../runtime/engine.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import { KernelFamily } from '../runtime/kernel.js';
import { formatShape, type Tensor } from '../runtime/tensor.js';
import { anchor, kernelChecksum, type TunableSet } from '../runtime/tuning-key.js';
import { convGeometry, convGeometryUniforms, convMacs, convTuningKey, type ConvGeometry, type Padding } from './conv2d-geometry.js';
import { sumChannels } from './reduce.js';
import { engineOf, expectDType } from './util.js';
import { dispatchVariant, findVariant, unknownVariantMessage, type KernelVariant } from './variants.js';
import { guardOp } from '../runtime/op-guard.js';

export const conv2dBackwardKernel = new KernelFamily('conv2d-backward.wgsl', conv2dBackwardWgsl);

/** Must match WG in kernels/conv2d-backward.wgsl. */
const WG = 64;

/** Both gradients' problems: the conv's geometry, and for dw the split of its pixels. */
export type WeightGeometry = ConvGeometry & { chunks: number; chunkPixels: number };

/** A dx kernel; tile8x8 reads the weights transposed (a pre-pass writes them). */
export type InputVariantRecord<N extends string = string> = KernelVariant<ConvGeometry, 'dy' | 'w' | 'dx', N> & { readonly transposedWeights?: boolean };
export type WeightVariantRecord<N extends string = string> = KernelVariant<WeightGeometry, 'x' | 'dy' | 'part', N>;

/** Every phase gets as many 8-pixel blocks as the largest one (phase 0) needs; one invocation
 * per block × 8 input channels. */
function inputWork(g: ConvGeometry): { phaseBlocks: number; channelTiles: number; invocations: number } {
  const phaseBlocks = Math.ceil((g.n * Math.ceil(g.h / g.strideH) * Math.ceil(g.w / g.strideW)) / 8);
  const channelTiles = Math.ceil(g.cin / 8);
  return { phaseBlocks, channelTiles, invocations: g.strideH * g.strideW * phaseBlocks * channelTiles };
}

/** One invocation per tap × chunk × 8 input × 8 output channels. */
function weightInvocations(g: WeightGeometry): number {
  return g.kh * g.kw * g.chunks * Math.ceil(g.cin / 8) * Math.ceil(g.cout / 8);
}

/** tile8x8 loads and stores vec4s (dx: Cin % 4 == 0); tile8x8_scalar takes any channel counts. */
export const CONV2D_BACKWARD_INPUT_TABLE = [
  {
    name: 'tile8x8',
    kernel: conv2dBackwardKernel,
    entry: 'input_tile8x8',
    refusal: (g) => (g.cin % 4 === 0 ? undefined : `tile8x8 needs Cin divisible by 4 (got ${g.cin}); tile8x8_scalar takes any channel counts`),
    storesVec4: true,
    transposedWeights: true,
    grid: (engine, g) => ({ workgroups: engine.grid1d(inputWork(g).invocations, WG), overrides: {} }),
    bindings: { dy: 'dy', w: 'wT4', dx: 'dx4' },
  },
  {
    name: 'tile8x8_scalar',
    kernel: conv2dBackwardKernel,
    entry: 'input_tile8x8_scalar',
    storesVec4: false,
    grid: (engine, g) => ({ workgroups: engine.grid1d(inputWork(g).invocations, WG), overrides: {} }),
    bindings: { dy: 'dy', w: 'w', dx: 'dx' },
  },
] as const satisfies readonly InputVariantRecord[];

/** tile8x8 loads and stores vec4s (Cin and Cout % 4 == 0 and dy's view 4-aligned); tile8x8_scalar
 * takes any channel counts. */
export const CONV2D_BACKWARD_WEIGHT_TABLE = [
  {
    name: 'tile8x8',
    kernel: conv2dBackwardKernel,
    entry: 'weight_tile8x8',
    refusal: (g, dy) => {
      const why =
        g.cin % 4 !== 0 || g.cout % 4 !== 0
          ? `needs Cin and Cout divisible by 4 (got ${g.cin} and ${g.cout})`
          : dy && (dy.channelLayout.offset % 4 !== 0 || dy.channelLayout.stride % 4 !== 0)
            ? `needs dy's channel view 4-aligned (got offset ${dy.channelLayout.offset}, row stride ${dy.channelLayout.stride})`
            : undefined;
      return why && `tile8x8 ${why}; tile8x8_scalar takes any channel counts`;
    },
    storesVec4: true,
    grid: (engine, g) => ({ workgroups: engine.grid1d(weightInvocations(g), WG), overrides: {} }),
    bindings: { x: 'x4', dy: 'dy4', part: 'part4' },
  },
  {
    name: 'tile8x8_scalar',
    kernel: conv2dBackwardKernel,
    entry: 'weight_tile8x8_scalar',
    storesVec4: false,
    grid: (engine, g) => ({ workgroups: engine.grid1d(weightInvocations(g), WG), overrides: {} }),
    bindings: { x: 'x', dy: 'dy', part: 'part' },
  },
] as const satisfies readonly WeightVariantRecord[];

export const CONV2D_BACKWARD_VARIANTS = CONV2D_BACKWARD_INPUT_TABLE.map((v) => v.name);
export type Conv2dBackwardVariant = (typeof CONV2D_BACKWARD_INPUT_TABLE)[number]['name'] & (typeof CONV2D_BACKWARD_WEIGHT_TABLE)[number]['name'];

export interface Conv2dBackwardOptions {
  /** The forward's stride: per axis, or one for both (default 1). */
  stride?: number | readonly [number, number];
  /** The forward's padding (default 'valid'). */
  padding?: Padding;
  /** Force a kernel (tests and research); the default is tile8x8 where it applies, or the
   * tuner's measured choice. */
  variant?: Conv2dBackwardVariant;
}

export interface Conv2dBackwardWeightsOptions extends Conv2dBackwardOptions {
  /** Chunks the N·OH·OW output pixels are split into (tests and research); default: see
   * weightChunks. */
  chunks?: number;
}

function describeGeometry(g: ConvGeometry): string {
  return `x [${g.n}, ${g.h}, ${g.w}, ${g.cin}], weights [${g.kh}, ${g.kw}, ${g.cin}, ${g.cout}], stride [${g.strideH}, ${g.strideW}], padding [${g.padTop}, ${g.padBottom}, ${g.padLeft}, ${g.padRight}]`;
}

function expectPlain(op: string, name: string, t: Tensor): void {
  if (t.slice) throw new InvalidArgumentError(`${op}: ${name} is ${t.describe()}, a channel view; pass a plain tensor (copy the view first)`);
}

function expectShape(op: string, what: string, shape: unknown): readonly number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new InvalidArgumentError(`${op}: ${what} must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  return shape as readonly number[];
}

/** Throws unless dy has the forward's output shape. */
function expectDy(op: string, dy: Tensor, g: ConvGeometry): void {
  const want = [g.n, g.oh, g.ow, g.cout];
  if (dy.shape.length !== 4 || dy.shape.some((d, i) => d !== want[i])) {
    throw new InvalidArgumentError(
      `${op}: dy must have the conv's output shape [N, OH, OW, Cout] = ${formatShape(want)} for ${describeGeometry(g)}, got ${dy.describe()}`,
    );
  }
}

/**
 * The forced variant if it applies (else throws why), or the choice among the variants that
 * apply: the tuner's measured one, else the first (tile8x8 where it applies).
 */
function chooseBackward<G, P extends K, K, V extends KernelVariant<G>>(
  engine: Engine,
  op: string,
  table: readonly V[],
  requested: string | undefined,
  g: G,
  dy: Tensor,
  tuning: { set: TunableSet<P, K>; problem: () => P },
): V {
  if (requested !== undefined) {
    const v = findVariant(table, requested);
    if (!v) throw new InvalidArgumentError(`${op}: ${unknownVariantMessage(table, requested)}`);
    const why = v.refusal?.(g, dy);
    if (why) throw new InvalidArgumentError(`${op}: ${why}`);
    return v;
  }
  const candidates = table.filter((v) => v.refusal?.(g, dy) === undefined);
  if (candidates.length < 2) return candidates[0]!;
  const name = engine.tuner.choose(
    tuning.set,
    tuning.problem(),
    candidates.map((v) => v.name),
    candidates[0]!.name,
  );
  return findVariant(candidates, name)!;
}

/** The geometry uniforms both main kernels share. */
function geometryParams(g: ConvGeometry, dy: Tensor) {
  const { offset, stride } = dy.channelLayout;
  return {
    ...convGeometryUniforms(g),
    dyOffset: offset,
    dyStride: stride,
  };
}

interface InputProblem {
  engine: Engine;
  g: ConvGeometry;
}

export const conv2dBackwardInputTunables: TunableSet<InputProblem, { g: ConvGeometry }> = {
  op: 'conv2dBackwardInput',
  checksum: kernelChecksum(CONV2D_BACKWARD_INPUT_TABLE.map((v) => v.kernel)),
  variants: CONV2D_BACKWARD_INPUT_TABLE,
  key: ({ g }) => convTuningKey(g),
  makeInputs: ({ engine, g }) => {
    const dy = engine.randomNormal([g.n, g.oh, g.ow, g.cout], { seed: 1 });
    const w = engine.randomNormal([g.kh, g.kw, g.cin, g.cout], { seed: 2, std: Math.sqrt(1 / (g.kh * g.kw * g.cin)) });
    const run = (variant: string) => {
      const dx = engine.empty([g.n, g.h, g.w, g.cin], 'f32', 'conv2dBackwardInput tuning');
      recordInput(engine, 'conv2dBackwardInput', findVariant<InputVariantRecord>(CONV2D_BACKWARD_INPUT_TABLE, variant)!, g, dy, w, dx);
      return dx;
    };
    return { inputs: [dy, w], run };
  },
};

/**
 * dx = ∂L/∂x, shaped xShape [N, H, W, Cin], of y = conv2d(x, w, options) given dy = ∂L/∂y
 * [N, OH, OW, Cout] and the weights w [KH, KW, Cin, Cout].
 */
export const conv2dBackwardInput = guardOp(
  'conv2dBackwardInput',
  function conv2dBackwardInput(dy: Tensor, w: Tensor, xShape: readonly number[], options: Conv2dBackwardOptions = {}): Tensor<'f32'> {
    const op = 'conv2dBackwardInput';
    const engine = engineOf(op, dy, w);
    expectDType(op, 'dy', dy, 'f32');
    expectDType(op, 'weights', w, 'f32');
    expectPlain(op, 'weights', w);
    const g = convGeometry(op, expectShape(op, 'xShape', xShape), w.shape, options.stride, options.padding ?? 'valid');
    expectDy(op, dy, g);
    const v = chooseBackward<ConvGeometry, InputProblem, { g: ConvGeometry }, InputVariantRecord>(
      engine,
      op,
      CONV2D_BACKWARD_INPUT_TABLE,
      options.variant,
      g,
      dy,
      {
        set: conv2dBackwardInputTunables,
        problem: () => ({ engine, g }),
      },
    );
    const dx = engine.empty([g.n, g.h, g.w, g.cin], 'f32', op);
    try {
      recordInput(engine, op, v, g, dy, w, dx);
    } catch (e) {
      dx.dispose();
      throw e;
    }
    return dx;
  },
);

function recordInput(engine: Engine, op: string, v: InputVariantRecord, g: ConvGeometry, dy: Tensor, w: Tensor, dx: Tensor): void {
  const params = { ...geometryParams(g, dy), ...inputWork(g) };
  const cost = { flops: 2 * convMacs(g), bytes: 4 * (dy.size + w.size + dx.size) };
  const wT = v.transposedWeights ? engine.empty([g.kh, g.kw, g.cout, g.cin], 'f32', `${op} transposed weights`) : undefined;
  try {
    if (wT) {
      engine.dispatch({
        op,
        kernel: conv2dBackwardKernel,
        entry: 'transpose_weights',
        bindings: { w, wT, tp: { count: w.size, Cin: g.cin, Cout: g.cout } },
        workgroups: engine.grid1d(w.size, WG),
        cost: { bytes: 8 * w.size },
      });
    }
    dispatchVariant(engine, v, g, { op, tensors: { dy, w: wT ?? w, dx }, bindings: { ip: params }, views: ['dy'], cost });
  } finally {
    wT?.dispose();
  }
}

/** Below this many output pixels per chunk, writing and re-reading the partial sums would
 * cost more than a few percent of the chunk's multiply-adds (each partial sum is 64+ of them). */
const MIN_CHUNK_PIXELS = 64;
/** Invocations the dw kernel should have at least, chunks permitting. */
const TARGET_INVOCATIONS = 16384;

/**
 * Chunks of output pixels for the dw reduction. Without chunking an invocation is one tap ×
 * 8 input × 8 output channels, so a conv has only KH·KW·⌈Cin/8⌉·⌈Cout/8⌉ of them, each summing
 * all N·OH·OW pixels: 144 for the stem's 3×3 32→32 (over 21609·N pixels), 864 for 35×35
 * 3×3 64→96. That leaves most of a GPU idle and, on the CPU drivers, runs the whole reduction
 * in a few long, unbalanced workgroups. Splitting the pixels into chunks multiplies the
 * invocations up to TARGET_INVOCATIONS (256 workgroups: a few per core of a CPU driver, enough
 * to occupy a GPU's compute units), but never below MIN_CHUNK_PIXELS pixels a chunk, so the
 * partial sums stay a small fraction of the traffic (at batch 8: 35×35 3×3 64→96 gets 19
 * chunks of 516 pixels, 4.2 MB of partial sums against 0.54 G multiply-adds; the stem's 147×147
 * 3×3 32→32 gets 114 chunks of 1517; 8×8 1×1 2048→320, already 10240 tiles, gets 2 of 256). Also bounds float32 error: each partial sums ≤ a few
 * hundred products, and the chunks add up in a fixed order.
 */
export function weightChunks(g: ConvGeometry): { chunks: number; chunkPixels: number } {
  const pixels = g.n * g.oh * g.ow;
  const tiles = g.kh * g.kw * Math.ceil(g.cin / 8) * Math.ceil(g.cout / 8);
  const wanted = Math.ceil(TARGET_INVOCATIONS / tiles);
  return chunking(pixels, Math.max(1, Math.min(wanted, Math.floor(pixels / MIN_CHUNK_PIXELS))));
}

function chunking(pixels: number, chunks: number): { chunks: number; chunkPixels: number } {
  const chunkPixels = Math.ceil(pixels / chunks);
  return { chunks: Math.ceil(pixels / chunkPixels), chunkPixels };
}

interface WeightProblem {
  engine: Engine;
  g: WeightGeometry;
  /** dy (a channel view, if any) takes vec4 loads. */
  dyAligned: boolean;
}

export const conv2dBackwardWeightsTunables: TunableSet<WeightProblem, Omit<WeightProblem, 'engine'>> = {
  op: 'conv2dBackwardWeights',
  checksum: kernelChecksum(CONV2D_BACKWARD_WEIGHT_TABLE.map((v) => v.kernel)),
  variants: CONV2D_BACKWARD_WEIGHT_TABLE,
  key: ({ g, dyAligned }) => ({ ...convTuningKey(g), chunks: anchor(g.chunks), dyAligned }),
  makeInputs: ({ engine, g }) => {
    const x = engine.randomNormal([g.n, g.h, g.w, g.cin], { seed: 1 });
    const dy = engine.randomNormal([g.n, g.oh, g.ow, g.cout], { seed: 2 });
    const run = (variant: string) =>
      recordWeights(engine, 'conv2dBackwardWeights', findVariant<WeightVariantRecord>(CONV2D_BACKWARD_WEIGHT_TABLE, variant)!, g, x, dy);
    return { inputs: [x, dy], run };
  },
};

/**
 * dw = ∂L/∂w, shaped wShape [KH, KW, Cin, Cout], of y = conv2d(x, w, options) given the
 * forward's input x [N, H, W, Cin] and dy = ∂L/∂y [N, OH, OW, Cout].
 */
export const conv2dBackwardWeights = guardOp(
  'conv2dBackwardWeights',
  function conv2dBackwardWeights(x: Tensor, dy: Tensor, wShape: readonly number[], options: Conv2dBackwardWeightsOptions = {}): Tensor<'f32'> {
    const op = 'conv2dBackwardWeights';
    const engine = engineOf(op, x, dy);
    expectDType(op, 'x', x, 'f32');
    expectDType(op, 'dy', dy, 'f32');
    expectPlain(op, 'x', x);
    const g = convGeometry(op, x.shape, expectShape(op, 'wShape', wShape), options.stride, options.padding ?? 'valid');
    expectDy(op, dy, g);
    const pixels = g.n * g.oh * g.ow;
    let split = weightChunks(g);
    const wg: WeightGeometry = { ...g, ...split };
    const v = chooseBackward<WeightGeometry, WeightProblem, Omit<WeightProblem, 'engine'>, WeightVariantRecord>(
      engine,
      op,
      CONV2D_BACKWARD_WEIGHT_TABLE,
      options.variant,
      wg,
      dy,
      {
        set: conv2dBackwardWeightsTunables,
        problem: () => ({ engine, g: wg, dyAligned: dy.channelLayout.offset % 4 === 0 && dy.channelLayout.stride % 4 === 0 }),
      },
    );
    if (options.chunks !== undefined) {
      if (!Number.isInteger(options.chunks) || options.chunks < 1 || options.chunks > pixels) {
        throw new InvalidArgumentError(`${op}: chunks must be an integer from 1 to the ${pixels} output pixels, got ${String(options.chunks)}`);
      }
      split = chunking(pixels, options.chunks);
    }
    return recordWeights(engine, op, v, { ...g, ...split }, x, dy);
  },
);

function recordWeights(engine: Engine, op: string, v: WeightVariantRecord, g: WeightGeometry, x: Tensor, dy: Tensor): Tensor<'f32'> {
  const { chunks, chunkPixels } = g;
  const dw = engine.empty([g.kh, g.kw, g.cin, g.cout], 'f32', op);
  const size = dw.size;
  const coTiles = Math.ceil(g.cout / 8);
  const tiles = Math.ceil(g.cin / 8) * coTiles;
  const pixels = g.n * g.oh * g.ow;
  const params = { ...geometryParams(g, dy), coTiles, tiles, pixels, chunks, chunkPixels, invocations: weightInvocations(g) };
  // One chunk writes dw itself; more write partial sums, added by sum_chunks.
  const part = chunks === 1 ? dw : engine.empty([chunks, size], 'f32', `${op} partial sums`);
  try {
    const cost = { flops: 2 * convMacs(g), bytes: 4 * (x.size + dy.size + chunks * size) };
    dispatchVariant(engine, v, g, { op, tensors: { x, dy, part }, bindings: { wp: params }, views: ['dy'], cost });
    if (part !== dw) {
      engine.dispatch({
        op,
        kernel: conv2dBackwardKernel,
        entry: 'sum_chunks',
        bindings: { partIn: part, dwOut: dw, cp: { size, chunks } },
        workgroups: engine.grid1d(size, WG),
        cost: { flops: (chunks - 1) * size, bytes: 4 * (chunks + 1) * size },
      });
    }
  } catch (e) {
    dw.dispose();
    throw e;
  } finally {
    if (part !== dw) part.dispose();
  }
  return dw;
}

/** ∂L/∂bias [Cout]: dy [N, OH, OW, Cout] summed over its pixels (a plain tensor; sumChannels
 * refuses channel views). */
export const conv2dBackwardBias = guardOp('conv2dBackwardBias', function conv2dBackwardBias(dy: Tensor): Tensor<'f32'> {
  const op = 'conv2dBackwardBias';
  engineOf(op, dy);
  expectDType(op, 'dy', dy, 'f32');
  if (dy.shape.length !== 4) throw new InvalidArgumentError(`${op}: dy must be rank 4 NHWC [N, OH, OW, Cout], got ${dy.describe()}`);
  return sumChannels(dy);
});

export interface Conv2dGradients {
  dx?: Tensor<'f32'>;
  dw: Tensor<'f32'>;
  db?: Tensor<'f32'>;
}

/**
 * All gradients of y = conv2d(x, w, { stride, padding, bias? }) from dy: dx unless
 * `input: false` (a first layer's image needs none), dw, and db when `bias: true`. Saved from
 * the forward: x and w (and its options).
 */
export const conv2dBackward = guardOp(
  'conv2dBackward',
  function conv2dBackward(dy: Tensor, x: Tensor, w: Tensor, options: Conv2dBackwardOptions & { input?: boolean; bias?: boolean } = {}): Conv2dGradients {
    const { input = true, bias = false } = options;
    const geometry = {
      ...(options.stride !== undefined ? { stride: options.stride } : {}),
      ...(options.padding !== undefined ? { padding: options.padding } : {}),
    };
    const dw = conv2dBackwardWeights(x, dy, w.shape, geometry);
    const grads: Conv2dGradients = { dw };
    if (input) grads.dx = conv2dBackwardInput(dy, w, x.shape, geometry);
    if (bias) grads.db = conv2dBackwardBias(dy);
    return grads;
  },
);

/** Which kernels run by default, before any tuning (for tests and benchmarks). */
export function conv2dBackwardVariants(g: ConvGeometry): { input: Conv2dBackwardVariant; weights: Conv2dBackwardVariant; chunks: number } {
  const split = weightChunks(g);
  return {
    input: (CONV2D_BACKWARD_INPUT_TABLE as readonly InputVariantRecord<Conv2dBackwardVariant>[]).find((v) => v.refusal?.(g) === undefined)!.name,
    weights: (CONV2D_BACKWARD_WEIGHT_TABLE as readonly WeightVariantRecord<Conv2dBackwardVariant>[]).find((v) => v.refusal?.({ ...g, ...split }) === undefined)!
      .name,
    chunks: split.chunks,
  };
}
