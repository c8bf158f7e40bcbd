/**
 * Data-driven kernel checks shared by the Node tests and the browser page: each case makes
 * random inputs, runs the kernel (outputs poisoned first by the engine), reads back and compares
 * with the float64 reference. A case throws on mismatch and returns the comparison otherwise.
 */
import type { Engine } from '../../src/runtime/engine.js';
import { add, mul, relu, scaleShift } from '../../src/ops/elementwise.js';
import { matmul, matmulVariantApplies, MATMUL_VARIANTS, type MatmulVariant } from '../../src/ops/matmul.js';
import { addRef, mulRef, reluRef, scaleShiftRef } from '../reference/elementwise.js';
import { matmulRef } from '../reference/matmul.js';
import { batchNormRef, conv2dRef } from '../reference/conv2d.js';
import { conv2d, conv2dShapeRefusal, conv2dVariantNeedsSubgroups, CONV2D_VARIANTS } from '../../src/ops/conv2d.js';
import { convGeometry, type Padding } from '../../src/ops/conv2d-geometry.js';
import { foldBatchNorm, type Epilogue } from '../../src/ops/epilogue.js';
import { assertClose, type Comparison } from '../support/compare.js';
import { avgPool2d, globalAvgPool, maxPool2d } from '../../src/ops/pool2d.js';
import { batchNormTrain } from '../../src/ops/batchnorm.js';
import { softmaxCrossEntropy } from '../../src/ops/softmax.js';
import { dropout } from '../../src/ops/dropout.js';
import { globalNorm } from '../../src/ops/reduce.js';
import { globalAvgPoolRef, pool2dRef } from '../reference/pool2d.js';
import { batchNormRef as batchNormTrainRef, batchNormStatisticsRef } from '../reference/batchnorm.js';
import { crossEntropyRef } from '../reference/softmax.js';
import { dropoutRef } from '../reference/dropout.js';
import { globalNormRef } from '../reference/reduce.js';
import { randomArray, type Rng } from '../support/random.js';

export interface KernelCase {
  family: 'elementwise' | 'matmul' | 'conv2d' | 'layers';
  name: string;
  tolerance: number;
  /** A device feature the kernel needs; on a device without it the case checks the op's refusal. */
  requires?: GPUFeatureName;
  run(engine: Engine, rng: Rng): Promise<CaseOutcome>;
}

/** A comparison with the reference, or, on a device lacking `requires`, the error the op threw. */
export type CaseOutcome = Comparison | { refused: string };

/** Runs `op` expecting the clear refusal an op gives on a device without `feature`. */
function expectRefusal(op: () => unknown, feature: GPUFeatureName): CaseOutcome {
  try {
    op();
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (!msg.includes(`'${feature}'`)) throw new Error(`expected a refusal naming the '${feature}' feature, got: ${msg}`);
    return { refused: msg };
  }
  throw new Error(`the device lacks '${feature}' but the op ran anyway`);
}

/** float32 elementwise results differ from float64 only by rounding of one or two operations. */
export const ELEMENTWISE_TOLERANCE = 1e-6;
/** Matmul accumulates K products in float32: norm-wise error grows like sqrt(K)·2^-24. */
export const MATMUL_TOLERANCE = 1e-5;
/** The project's bound for convolutions (sums of up to 7·7·Cin products, then the epilogue). */
export const CONV_TOLERANCE = 1e-4;

type Shape4 = [number, number, number, number];

const shp = (s: readonly number[]) => `[${s.join('×')}]`;
const size = (s: readonly number[]) => s.reduce((x, y) => x * y, 1);

/** Sizes around the workgroup size (256) and not multiples of 4, plus rank-4 NHWC-like shapes. */
const ELEMENTWISE_SHAPES: number[][] = [[1], [7], [255], [256], [257], [1001], [3, 5, 7], [2, 17, 17, 3], [1, 35, 35, 9]];

function elementwiseCases(): KernelCase[] {
  const cases: KernelCase[] = [];
  for (const shape of ELEMENTWISE_SHAPES) {
    for (const op of ['add', 'mul'] as const) {
      // Same shape, and a per-channel vector broadcast over the rest (the same thing for 1-D).
      const bShapes = shape.length > 1 ? [shape, shape.slice(-1)] : [shape];
      for (const bShape of bShapes) {
        cases.push({
          family: 'elementwise',
          name: `${op} ${shp(shape)} with ${shp(bShape)}`,
          tolerance: ELEMENTWISE_TOLERANCE,
          run: async (engine, rng) =>
            engine.scope(async () => {
              const a = randomArray(rng, size(shape), -10, 10);
              const b = randomArray(rng, size(bShape), -10, 10);
              const out = (op === 'add' ? add : mul)(engine.tensor(a, shape), engine.tensor(b, bShape));
              const ref = (op === 'add' ? addRef : mulRef)(a, b);
              return assertClose(await out.read(), ref, ELEMENTWISE_TOLERANCE, `${op} ${shp(shape)}`);
            }),
        });
      }
    }
    for (const withRelu of [false, true]) {
      cases.push({
        family: 'elementwise',
        name: `scaleShift${withRelu ? '+relu' : ''} ${shp(shape)}`,
        tolerance: ELEMENTWISE_TOLERANCE,
        run: async (engine, rng) =>
          engine.scope(async () => {
            const channels = shape[shape.length - 1]!;
            const x = randomArray(rng, size(shape), -5, 5);
            const scale = randomArray(rng, channels, -2, 2);
            const shift = randomArray(rng, channels, -1, 1);
            const out = scaleShift(engine.tensor(x, shape), engine.tensor(scale), engine.tensor(shift), { relu: withRelu });
            return assertClose(await out.read(), scaleShiftRef(x, scale, shift, withRelu), ELEMENTWISE_TOLERANCE, `scaleShift ${shp(shape)}`);
          }),
      });
    }
    cases.push({
      family: 'elementwise',
      name: `relu ${shp(shape)}`,
      tolerance: ELEMENTWISE_TOLERANCE,
      run: async (engine, rng) =>
        engine.scope(async () => {
          const x = randomArray(rng, size(shape), -3, 3);
          const out = relu(engine.tensor(x, shape));
          return assertClose(await out.read(), reluRef(x), ELEMENTWISE_TOLERANCE, `relu ${shp(shape)}`);
        }),
    });
  }
  return cases;
}

/** [batch, M, K, N]: tiny, odd (not multiples of 4 or of the tile), tile-sized and batched. */
const MATMUL_SHAPES: [number, number, number, number][] = [
  [1, 1, 1, 1],
  [1, 3, 5, 7],
  [1, 17, 33, 9],
  [1, 64, 64, 64],
  [1, 65, 31, 129],
  [1, 100, 36, 44],
  [1, 5, 300, 8],
  [3, 13, 19, 23],
  [2, 33, 16, 68],
];

function matmulCases(): KernelCase[] {
  const cases: KernelCase[] = [];
  for (const [batch, m, k, n] of MATMUL_SHAPES) {
    for (const variant of MATMUL_VARIANTS) {
      // Shape constraints only here; the device's features are checked when the case runs.
      if (!matmulVariantApplies(variant as MatmulVariant, m, n, k)) continue;
      const requires: GPUFeatureName | undefined = variant.startsWith('subgroup') ? 'subgroups' : undefined;
      cases.push({
        family: 'matmul',
        name: `matmul ${variant} ${batch}×[${m}×${k}]·[${k}×${n}]`,
        tolerance: MATMUL_TOLERANCE,
        ...(requires ? { requires } : {}),
        run: async (engine, rng) =>
          engine.scope(async () => {
            const aShape = batch > 1 ? [batch, m, k] : [m, k];
            const bShape = batch > 1 ? [batch, k, n] : [k, n];
            if (requires && !engine.features.has(requires)) {
              return expectRefusal(() => matmul(engine.zeros(aShape), engine.zeros(bShape), { variant }), requires);
            }
            const a = randomArray(rng, batch * m * k);
            const b = randomArray(rng, batch * k * n);
            const out = matmul(engine.tensor(a, aShape), engine.tensor(b, bShape), { variant });
            return assertClose(await out.read(), matmulRef(a, b, batch, m, k, n), MATMUL_TOLERANCE, `matmul ${variant}`);
          }),
      });
    }
  }
  return cases;
}

/** Small convolutions that reach every conv2d variant (test/conv2d.test.ts has the large and
 * random ones); shared with the browser page and the SwiftShader run. */
const CONV_PROBLEMS: { x: number[]; w: number[]; stride: number; padding: Padding; epilogue: 'none' | 'bias' | 'bn-relu' }[] = [
  { x: [1, 7, 6, 5], w: [3, 3, 5, 8], stride: 1, padding: 'same', epilogue: 'bias' },
  { x: [2, 9, 9, 3], w: [3, 3, 3, 6], stride: 2, padding: 'valid', epilogue: 'none' },
  { x: [1, 8, 11, 8], w: [1, 5, 8, 8], stride: 1, padding: 'same', epilogue: 'none' },
  { x: [1, 9, 7, 4], w: [5, 1, 4, 12], stride: 1, padding: 'same', epilogue: 'bn-relu' },
  { x: [1, 5, 5, 8], w: [1, 1, 8, 12], stride: 1, padding: 'valid', epilogue: 'bn-relu' },
];

function conv2dCases(): KernelCase[] {
  const cases: KernelCase[] = [];
  for (const p of CONV_PROBLEMS) {
    const g = convGeometry('conv2d case', p.x, p.w, p.stride, p.padding);
    for (const variant of CONV2D_VARIANTS) {
      if (conv2dShapeRefusal(variant, g)) continue;
      const requires: GPUFeatureName | undefined = conv2dVariantNeedsSubgroups(variant) ? 'subgroups' : undefined;
      cases.push({
        family: 'conv2d',
        name: `conv2d ${variant} x${shp(p.x)} w${shp(p.w)} stride ${p.stride} ${JSON.stringify(p.padding)} ${p.epilogue}`,
        tolerance: CONV_TOLERANCE,
        ...(requires ? { requires } : {}),
        run: async (engine, rng) =>
          engine.scope(async () => {
            if (requires && !engine.features.has(requires)) {
              return expectRefusal(() => conv2d(engine.zeros(p.x), engine.zeros(p.w), { stride: p.stride, padding: p.padding, variant }), requires);
            }
            const x = randomArray(rng, size(p.x));
            const w = randomArray(rng, size(p.w));
            const bias = p.epilogue === 'bias' ? randomArray(rng, g.cout) : undefined;
            let ref: Float64Array = conv2dRef(x, p.x as Shape4, w, p.w as Shape4, g, bias).out;
            let epilogue: Epilogue | undefined;
            if (p.epilogue === 'bn-relu') {
              const bn = {
                gamma: randomArray(rng, g.cout, 0.5, 1.5),
                beta: randomArray(rng, g.cout),
                mean: randomArray(rng, g.cout, -0.5, 0.5),
                variance: randomArray(rng, g.cout, 0.2, 2),
                eps: 1e-3,
              };
              ref = reluRef(batchNormRef(ref, g.cout, bn.gamma, bn.beta, bn.mean, bn.variance, bn.eps));
              const folded = foldBatchNorm(bn);
              epilogue = { scale: engine.tensor(folded.scale), shift: engine.tensor(folded.shift), relu: true };
            }
            const y = conv2d(engine.tensor(x, p.x), engine.tensor(w, p.w), {
              stride: p.stride,
              padding: p.padding,
              variant,
              ...(bias ? { bias: engine.tensor(bias) } : {}),
              ...(epilogue ? { epilogue } : {}),
            });
            return assertClose(await y.read(), ref, CONV_TOLERANCE, `conv2d ${variant}`);
          }),
      });
    }
  }
  return cases;
}

/** The other layers of Inception-v3, one case each at a small Inception-like shape. */
function layerCases(): KernelCase[] {
  const x4 = (engine: Engine, rng: Rng, shape: Shape4) => {
    const host = randomArray(rng, size(shape));
    return { host, t: engine.tensor(host, shape) };
  };
  return [
    {
      family: 'layers',
      name: 'maxPool2d 3×3/2 [2×9×9×8] and [1×7×7×5] (vec4 and scalar kernels)',
      tolerance: 0,
      run: (engine, rng) =>
        engine.scope(async () => {
          let worst: Comparison | undefined;
          for (const shape of [
            [2, 9, 9, 8],
            [1, 7, 7, 5],
          ] as Shape4[]) {
            const x = x4(engine, rng, shape);
            const ref = pool2dRef(x.host, shape, 'max', { kh: 3, kw: 3, strideH: 2, strideW: 2, pad: [0, 0, 0, 0] });
            const c = assertClose(await maxPool2d(x.t, { kernel: 3, stride: 2 }).y.read(), ref.out, 0, `maxPool2d ${shp(shape)}`);
            if (!worst || c.relErr > worst.relErr) worst = c;
          }
          return worst!;
        }),
    },
    {
      family: 'layers',
      name: 'avgPool2d 3×3/1 pad 1 [1×8×8×12], padding counted and excluded',
      tolerance: ELEMENTWISE_TOLERANCE,
      run: (engine, rng) =>
        engine.scope(async () => {
          const shape: Shape4 = [1, 8, 8, 12];
          const x = x4(engine, rng, shape);
          const g = { kh: 3, kw: 3, strideH: 1, strideW: 1, pad: [1, 1, 1, 1] as [number, number, number, number] };
          assertClose(
            await avgPool2d(x.t, { kernel: 3, stride: 1, padding: 1 }).read(),
            pool2dRef(x.host, shape, 'avg', g, true).out,
            ELEMENTWISE_TOLERANCE,
            'avgPool2d, padding counted',
          );
          return assertClose(
            await avgPool2d(x.t, { kernel: 3, stride: 1, padding: 1, countIncludePad: false }).read(),
            pool2dRef(x.host, shape, 'avg', g, false).out,
            ELEMENTWISE_TOLERANCE,
            'avgPool2d, padding excluded',
          );
        }),
    },
    {
      family: 'layers',
      name: 'globalAvgPool [2×8×8×20]',
      tolerance: ELEMENTWISE_TOLERANCE,
      run: (engine, rng) =>
        engine.scope(async () => {
          const shape: Shape4 = [2, 8, 8, 20];
          const x = x4(engine, rng, shape);
          return assertClose(await globalAvgPool(x.t).read(), globalAvgPoolRef(x.host, shape), ELEMENTWISE_TOLERANCE, 'globalAvgPool');
        }),
    },
    {
      family: 'layers',
      name: 'batchNormTrain + ReLU [3×5×5×7]',
      tolerance: 1e-5,
      run: (engine, rng) =>
        engine.scope(async () => {
          const shape: Shape4 = [3, 5, 5, 7];
          const x = x4(engine, rng, shape);
          const gamma = randomArray(rng, 7, 0.5, 1.5);
          const beta = randomArray(rng, 7);
          const stats = batchNormStatisticsRef(x.host, 7);
          const ref = batchNormTrainRef(x.host, 7, gamma, beta, stats.mean, stats.variance, 1e-3, true);
          return assertClose(await batchNormTrain(x.t, engine.tensor(gamma), engine.tensor(beta), { relu: true }).y.read(), ref, 1e-5, 'batchNormTrain');
        }),
    },
    {
      family: 'layers',
      name: 'softmaxCrossEntropy ε=0.1, B=4, K=1000',
      tolerance: 1e-5,
      run: (engine, rng) =>
        engine.scope(async () => {
          const logits = randomArray(rng, 4 * 1000, -10, 10);
          const labels = [0, 999, 500, 3];
          const ref = crossEntropyRef(logits, 4, 1000, { labels }, 0.1);
          return assertClose(
            await softmaxCrossEntropy(engine.tensor(logits, [4, 1000]), labels, { labelSmoothing: 0.1 }).losses.read(),
            ref,
            1e-5,
            'softmaxCrossEntropy',
          );
        }),
    },
    {
      family: 'layers',
      name: 'dropout p=0.3 (Philox mask) [4099]',
      tolerance: 1e-6,
      run: (engine, rng) =>
        engine.scope(async () => {
          const x = randomArray(rng, 4099);
          const seed = Math.floor(rng() * 2 ** 31);
          const got = await dropout(engine.tensor(x), { rate: 0.3, seed }).read();
          // One wrong mask bit is an error of order 1; float32 scaling is within 1e-7.
          return assertClose(got, dropoutRef(x, 0.3, seed), 1e-6, 'dropout');
        }),
    },
    {
      family: 'layers',
      name: 'globalNorm over 9 tensors of odd sizes',
      tolerance: 1e-5,
      run: (engine, rng) =>
        engine.scope(async () => {
          const hosts = [1, 7, 255, 1001, 4097, 3, 65, 999, 12].map((n) => randomArray(rng, n));
          const got = await globalNorm(hosts.map((h) => engine.tensor(h))).read();
          return assertClose(got, [globalNormRef(hosts)], 1e-5, 'globalNorm');
        }),
    },
  ];
}

export function kernelCases(): KernelCase[] {
  return [...elementwiseCases(), ...matmulCases(), ...conv2dCases(), ...layerCases()];
}
