/**
 * conv2d against the float64 reference (test/reference/conv2d.ts): every variant that applies,
 * on property-based random geometries (fast-check; replay a failure with TEST_SEED) and on every
 * distinct convolution shape of Inception-v3 at batch 1; the fused epilogue against conv, then
 * BatchNorm, then ReLU computed separately; and the argument errors.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { InvalidArgumentError } from '../src/runtime/errors.js';
import { conv2d, conv2dCandidates, defaultConv2dVariant, type Conv2dVariant } from '../src/ops/conv2d.js';
import { convGeometry, type ConvGeometry, type Padding } from '../src/ops/conv2d-geometry.js';
import { foldBatchNorm } from '../src/ops/epilogue.js';
import { batchNormRef, conv2dRef } from './reference/conv2d.js';
import { reluRef } from './reference/elementwise.js';
import { INCEPTION_CONV_SHAPES } from './cases/inception-conv-shapes.js';
import { assertClose } from './support/compare.js';
import { testEngine } from './support/engine.js';
import { describeKernelCases } from './support/kernel-suite.js';
import { freshSeed, makeRng, randomArray, type Rng } from './support/random.js';

/** Sums of up to 7·7·768 float32 products; the error bound grows like √K·2⁻²⁴, far below this. */
const CONV_TOLERANCE = 1e-4;

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

describeKernelCases('conv2d', () => engine);

interface Problem {
  xShape: [number, number, number, number];
  wShape: [number, number, number, number];
  stride: [number, number];
  padding: Padding;
}

/** Runs every given variant on one random problem and compares each with the reference
 * (computed once: the float64 loops dominate the time on the large Inception shapes). */
async function checkVariants(p: Problem, variants: readonly Conv2dVariant[], rng: Rng, withBias: boolean): Promise<void> {
  const g = convGeometry('test', p.xShape, p.wShape, p.stride, p.padding);
  const x = randomArray(
    rng,
    p.xShape.reduce((a, b) => a * b),
  );
  const w = randomArray(
    rng,
    p.wShape.reduce((a, b) => a * b),
  );
  const bias = withBias ? randomArray(rng, g.cout) : undefined;
  const ref = conv2dRef(x, p.xShape, w, p.wShape, g, bias);
  await engine.scope(async () => {
    const xt = engine.tensor(x, p.xShape);
    const wt = engine.tensor(w, p.wShape);
    const bt = bias ? engine.tensor(bias) : undefined;
    for (const variant of variants) {
      const y = conv2d(xt, wt, { stride: p.stride, padding: p.padding, variant, ...(bt ? { bias: bt } : {}) });
      expect(y.shape).toEqual(ref.shape);
      assertClose(await y.read(), ref.out, CONV_TOLERANCE, `conv2d ${variant} ${describeProblem(g)}${bias ? ' +bias' : ''}`);
      y.dispose();
    }
  });
}

function describeProblem(g: ConvGeometry): string {
  return `${g.n}×${g.h}×${g.w}×${g.cin} * ${g.kh}×${g.kw}→${g.cout} s${g.strideH}×${g.strideW} pad[${g.padTop},${g.padBottom},${g.padLeft},${g.padRight}]`;
}

const problemArb = fc
  .record({
    n: fc.integer({ min: 1, max: 2 }),
    h: fc.integer({ min: 1, max: 11 }),
    w: fc.integer({ min: 1, max: 11 }),
    cin: fc.integer({ min: 1, max: 9 }),
    // Multiples of 4 reach the vec4 kernels; the others, the any-Cout kernel.
    cout: fc.oneof(fc.constantFrom(4, 8, 12, 16, 20), fc.integer({ min: 1, max: 13 })),
    kh: fc.integer({ min: 1, max: 7 }),
    kw: fc.integer({ min: 1, max: 7 }),
    stride: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
    padding: fc.oneof(
      fc.constant<Padding>('same'),
      fc.constant<Padding>('valid'),
      fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })),
    ),
    bias: fc.boolean(),
    // Asymmetric kernels are rare among random shapes; make every third one 1×n or n×1.
    asym: fc.integer({ min: 0, max: 2 }),
  })
  .map((r) => {
    let { kh, kw, padding, stride } = r;
    if (r.asym === 1) [kh, stride] = [1, [1, 1]];
    if (r.asym === 2) [kw, stride] = [1, [1, 1]];
    if (r.asym !== 0) padding = kh === 1 ? [0, 0, kw >> 1, kw >> 1] : [kh >> 1, kh >> 1, 0, 0];
    return { ...r, kh, kw, padding, stride };
  })
  .filter((r) => {
    const pads = r.padding === 'same' || r.padding === 'valid' ? [0, 0, 0, 0] : (r.padding as number[]);
    if (r.padding === 'valid') return r.kh <= r.h && r.kw <= r.w;
    return r.kh <= r.h + pads[0]! + pads[1]! && r.kw <= r.w + pads[2]! + pads[3]!;
  });

describe('conv2d against the float64 reference', () => {
  const seed = freshSeed();
  it(`every applicable variant on random geometries (fast-check seed ${seed})`, async () => {
    const rng = makeRng(seed);
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(problemArb, async (r) => {
        const p: Problem = { xShape: [r.n, r.h, r.w, r.cin], wShape: [r.kh, r.kw, r.cin, r.cout], stride: r.stride as [number, number], padding: r.padding };
        const g = convGeometry('test', p.xShape, p.wShape, p.stride, p.padding);
        const variants = conv2dCandidates(g, engine);
        variants.forEach((v) => seen.add(v));
        await checkVariants(p, variants, rng, r.bias);
      }),
      { seed, numRuns: 40, endOnFailure: true },
    );
    // The random shapes must have exercised every kernel family this device has.
    for (const v of ['shared64', 'tile8x8', 'window8x8', 'shared_line64', 'pointwise:tile4x4']) expect(seen).toContain(v);
  });

  it('a grid with more row blocks than a dimension may hold is folded into z: every general variant still matches', async () => {
    // The device limit (65535) needs tens of millions of pixels to pass; a lowered limit makes the
    // kernels meet the folded grid, and its blocks past the end, on a small problem.
    const p: Problem = { xShape: [2, 13, 11, 5], wShape: [3, 3, 5, 12], stride: [1, 1], padding: 'same' };
    const g = convGeometry('test', p.xShape, p.wShape, p.stride, p.padding);
    const general = conv2dCandidates(g, engine).filter(
      (v) => !v.startsWith('pointwise:') && !['window8x8', 'shared_line64', 'subgroup_line16x8', 'subgroup_window8x8'].includes(v),
    );
    expect(general).toEqual(expect.arrayContaining(['shared64', 'tile8x8']));
    const saved = engine.gridLimit;
    engine.gridLimit = 2;
    try {
      await checkVariants(p, general, makeRng(freshSeed()), true);
    } finally {
      engine.gridLimit = saved;
    }
  });

  describe('every distinct conv shape of Inception-v3 at batch 1', () => {
    const seed = freshSeed();
    for (const s of INCEPTION_CONV_SHAPES) {
      const p: Problem = { xShape: [1, s.h, s.w, s.cin], wShape: [s.kh, s.kw, s.cin, s.cout], stride: [s.strideH, s.strideW], padding: s.pad };
      it(`${s.layers[0]}: ${s.h}×${s.w}×${s.cin} ${s.kh}×${s.kw}/${s.strideH}→${s.cout} (seed ${seed})`, async () => {
        const g = convGeometry('test', p.xShape, p.wShape, p.stride, p.padding);
        const variants = conv2dCandidates(g, engine);
        expect(variants.length).toBeGreaterThan(0);
        await checkVariants(p, variants, makeRng(seed), false);
      });
    }
  });
});

describe('conv2d fused epilogue', () => {
  const seed = freshSeed();
  it(`conv + folded BatchNorm + ReLU in one kernel equals conv, then BatchNorm, then ReLU (seed ${seed})`, async () => {
    const rng = makeRng(seed);
    const shapes: Problem[] = [
      { xShape: [2, 9, 7, 5], wShape: [3, 3, 5, 12], stride: [1, 1], padding: 'same' },
      { xShape: [1, 8, 8, 6], wShape: [1, 7, 6, 8], stride: [1, 1], padding: 'same' },
      { xShape: [1, 8, 8, 6], wShape: [7, 1, 6, 8], stride: [1, 1], padding: 'same' },
      { xShape: [1, 5, 5, 8], wShape: [1, 1, 8, 16], stride: [1, 1], padding: 'valid' },
      { xShape: [1, 9, 9, 3], wShape: [3, 3, 3, 7], stride: [2, 2], padding: 'valid' },
    ];
    for (const p of shapes) {
      const g = convGeometry('test', p.xShape, p.wShape, p.stride, p.padding);
      const x = randomArray(
        rng,
        p.xShape.reduce((a, b) => a * b),
      );
      const w = randomArray(
        rng,
        p.wShape.reduce((a, b) => a * b),
      );
      const bn = {
        gamma: randomArray(rng, g.cout, 0.5, 1.5),
        beta: randomArray(rng, g.cout),
        mean: randomArray(rng, g.cout, -0.5, 0.5),
        variance: randomArray(rng, g.cout, 0.2, 2),
        eps: 1e-3,
      };
      const conv = conv2dRef(x, p.xShape, w, p.wShape, g);
      const ref = reluRef(batchNormRef(conv.out, g.cout, bn.gamma, bn.beta, bn.mean, bn.variance, bn.eps));
      const { scale, shift } = foldBatchNorm(bn);
      for (const v of conv2dCandidates(g, engine)) {
        await engine.scope(async () => {
          const y = conv2d(engine.tensor(x, p.xShape), engine.tensor(w, p.wShape), {
            stride: p.stride,
            padding: p.padding,
            variant: v,
            epilogue: { scale: engine.tensor(scale), shift: engine.tensor(shift), relu: true },
          });
          assertClose(await y.read(), ref, CONV_TOLERANCE, `fused conv ${v} ${describeProblem(g)}`);
        });
      }
    }
  });

  it('a bias folds into the BatchNorm shift', () => {
    const { scale, shift } = foldBatchNorm({ gamma: [2], beta: [1], mean: [3], variance: [3], eps: 1 }, [5]);
    expect(scale[0]).toBeCloseTo(1, 6);
    expect(shift[0]).toBeCloseTo(1 + (5 - 3) * 1, 6);
  });
});

describe('conv2d dispatch', () => {
  it('picks the pointwise path for 1×1, the measured favourite per adapter otherwise, and any-Cout shared64', () => {
    const wide = engine.features.has('subgroups') && (engine.adapterInfo.subgroupMaxSize ?? 0) >= 8;
    const pick = (x: number[], w: number[]) => defaultConv2dVariant(convGeometry('t', x, w, 1, 'same'), engine);
    expect(pick([1, 8, 8, 16], [1, 1, 16, 32])).toMatch(/^pointwise:/);
    const general = pick([1, 17, 17, 16], [3, 3, 16, 32]);
    if (!engine.isSoftwareAdapter) {
      expect(general).toBe('shared64');
      expect(pick([1, 17, 17, 16], [1, 7, 16, 32])).toBe('shared_line64');
      expect(defaultConv2dVariant(convGeometry('t', [1, 17, 17, 16], [1, 7, 16, 32], 1, 'valid'), engine)).toBe('window8x8');
    } else {
      expect(general).toBe(wide ? 'subgroup16x8' : 'tile8x8');
      // lavapipe: the general subgroup kernel beat the window kernels on 1×n; SwiftShader: the reverse.
      expect(pick([1, 17, 17, 16], [1, 7, 16, 32])).toBe(wide ? 'subgroup16x8' : 'window8x8');
      expect(pick([1, 17, 17, 16], [7, 1, 16, 32])).toBe(wide ? 'subgroup16x8' : 'window8x8');
    }
    expect(pick([1, 17, 17, 16], [3, 3, 16, 30])).toBe('shared64');
  });

  it('refuses a forced variant that does not apply, saying why', () => {
    engine.scope(() => {
      const x = engine.zeros([1, 8, 8, 4]);
      expect(() => conv2d(x, engine.zeros([3, 3, 4, 6]), { variant: 'tile8x8' })).toThrow(/tile8x8 needs Cout divisible by 4 \(got 6\)/);
      expect(() => conv2d(x, engine.zeros([3, 3, 4, 8]), { variant: 'window8x8' })).toThrow(/window8x8 needs a 1×n or n×1 kernel/);
      expect(() => conv2d(x, engine.zeros([3, 3, 4, 8]), { variant: 'pointwise:tile4x4' })).toThrow(/needs a 1×1 kernel/);
      expect(() => conv2d(x, engine.zeros([3, 3, 4, 8]), { variant: 'nope' as Conv2dVariant })).toThrow(/unknown variant 'nope'/);
    });
  });
});

describe('conv2d argument errors name the argument and what was expected', () => {
  const cases: [string, () => unknown, RegExp][] = [
    ['channel mismatch', () => conv2d(engine.zeros([1, 5, 5, 3]), engine.zeros([3, 3, 4, 8])), /channel mismatch: x has Cin=3 .* weights expect Cin=4/],
    [
      'kernel larger than the padded input',
      () => conv2d(engine.zeros([1, 2, 5, 3]), engine.zeros([5, 3, 3, 8]), { padding: 1 }),
      /kernel 5×3 is larger than the padded input 4×7/,
    ],
    [
      'negative padding',
      () => conv2d(engine.zeros([1, 5, 5, 3]), engine.zeros([3, 3, 3, 8]), { padding: [1, -1, 0, 0] }),
      /padding must be .* non-negative integers, got \[1,-1,0,0\]/,
    ],
    ['wrong rank of x', () => conv2d(engine.zeros([5, 5, 3]), engine.zeros([3, 3, 3, 8])), /x must be rank 4 NHWC \[N, H, W, Cin\], got shape \[5, 5, 3\]/],
    ['wrong rank of the weights', () => conv2d(engine.zeros([1, 5, 5, 3]), engine.zeros([3, 3, 8])), /weights must be rank 4 HWIO/],
    ['zero stride', () => conv2d(engine.zeros([1, 5, 5, 3]), engine.zeros([3, 3, 3, 8]), { stride: 0 }), /stride must be a positive integer/],
    [
      'bias of the wrong length',
      () => conv2d(engine.zeros([1, 5, 5, 3]), engine.zeros([3, 3, 3, 8]), { bias: engine.zeros([7]) }),
      /shift needs 8 elements \(one per output channel\)/,
    ],
    [
      'bias given twice',
      () => conv2d(engine.zeros([1, 5, 5, 3]), engine.zeros([3, 3, 3, 8]), { bias: engine.zeros([8]), epilogue: { shift: engine.zeros([8]) } }),
      /not both/,
    ],
    [
      'conv2dCandidates given tensors instead of a geometry and an engine',
      () => conv2dCandidates(engine as unknown as ConvGeometry, engine.zeros([1, 5, 5, 3]) as unknown as Engine),
      /conv2dCandidates: g must be a convolution geometry \(convGeometry\(op, xShape, wShape, stride, padding\)\), got a \w+/,
    ],
    [
      'defaultConv2dVariant given a geometry and no engine',
      () => defaultConv2dVariant(convGeometry('test', [1, 5, 5, 3], [3, 3, 3, 8], 1, 'same'), undefined as unknown as Engine),
      /defaultConv2dVariant: engine must be an Engine \(from createEngine\), got undefined/,
    ],
  ];
  for (const [name, run, message] of cases) {
    it(name, () => {
      engine.scope(() => {
        expect(run).toThrow(InvalidArgumentError);
        expect(run).toThrow(message);
      });
    });
  }
});
