/**
 * conv2d backward. First the float64 analytic backward (test/reference/conv2d-backward.ts)
 * against central finite differences of the float64 forward (conv2dRef); then the GPU kernels
 * against that analytic backward on random geometries (fast-check; replay with TEST_SEED), on
 * Inception-v3 shapes at batch 1, with dy as a channel view, and the argument errors.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { InvalidArgumentError } from '../src/runtime/errors.js';
import {
  conv2dBackward,
  conv2dBackwardBias,
  conv2dBackwardInput,
  conv2dBackwardVariants,
  conv2dBackwardWeights,
  weightChunks,
  type Conv2dBackwardVariant,
} from '../src/ops/conv2d-backward.js';
import { convGeometry, type ConvGeometry, type Padding } from '../src/ops/conv2d-geometry.js';
import { conv2dRef, type ConvGeometryRef } from './reference/conv2d.js';
import { conv2dBackwardBiasRef, conv2dBackwardInputRef, conv2dBackwardWeightsRef, conv2dOutputShapeRef } from './reference/conv2d-backward.js';
import { assertClose } from './support/compare.js';
import { testEngine } from './support/engine.js';
import { freshSeed, makeRng, randomArray, type Rng } from './support/random.js';

/** Float64 analytic backward against central differences. The loss Σ y·r is linear in x, w
 * and the bias, so the differences have no truncation error, only rounding of order
 * 1e-16·|L| / h ≈ 1e-10 relative for h = 1e-6. */
const FD_TOLERANCE = 1e-6;
/** GPU against float64: float32 sums of up to a few thousand products (dw over N·OH·OW,
 * in chunks), whose rounding error grows like √terms·2⁻²⁴ ≈ 1e-5 at worst here. */
const GPU_TOLERANCE = 1e-4;

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

type Shape4 = [number, number, number, number];

function size(s: readonly number[]): number {
  return s.reduce((a, b) => a * b, 1);
}

function refGeometry(g: ConvGeometry): ConvGeometryRef {
  return { strideH: g.strideH, strideW: g.strideW, padTop: g.padTop, padBottom: g.padBottom, padLeft: g.padLeft, padRight: g.padRight };
}

function describeProblem(g: ConvGeometry): string {
  return `${g.n}×${g.h}×${g.w}×${g.cin} * ${g.kh}×${g.kw}→${g.cout} s${g.strideH}×${g.strideW} pad[${g.padTop},${g.padBottom},${g.padLeft},${g.padRight}]`;
}

describe('float64 analytic backward against central finite differences of conv2dRef', () => {
  const seed = freshSeed();
  const cases: { xShape: Shape4; wShape: Shape4; stride: [number, number]; pad: [number, number, number, number] }[] = [
    { xShape: [1, 5, 4, 3], wShape: [3, 2, 3, 2], stride: [1, 1], pad: [1, 0, 0, 1] },
    { xShape: [1, 5, 4, 3], wShape: [3, 2, 3, 2], stride: [2, 2], pad: [2, 1, 1, 0] },
    { xShape: [1, 5, 4, 3], wShape: [3, 2, 3, 2], stride: [2, 1], pad: [0, 2, 1, 1] },
    { xShape: [2, 4, 5, 2], wShape: [2, 3, 2, 3], stride: [1, 2], pad: [1, 1, 0, 2] },
  ];
  for (const c of cases) {
    it(`x ${c.xShape.join('×')} w ${c.wShape.join('×')} stride ${c.stride.join('×')} pad [${c.pad.join(', ')}] (seed ${seed})`, () => {
      const rng = makeRng(seed);
      const g: ConvGeometryRef = { strideH: c.stride[0], strideW: c.stride[1], padTop: c.pad[0], padBottom: c.pad[1], padLeft: c.pad[2], padRight: c.pad[3] };
      const x = Float64Array.from(randomArray(rng, size(c.xShape)));
      const w = Float64Array.from(randomArray(rng, size(c.wShape)));
      const bias = Float64Array.from(randomArray(rng, c.wShape[3]));
      const r = Float64Array.from(randomArray(rng, size(conv2dOutputShapeRef(c.xShape, c.wShape, g))));
      const loss = (): number => conv2dRef(x, c.xShape, w, c.wShape, g, bias).out.reduce((s, y, i) => s + y * r[i]!, 0);
      const differences = (v: Float64Array): Float64Array =>
        v.map((value, i) => {
          const h = 1e-6 * Math.max(1, Math.abs(value));
          v[i] = value + h;
          const up = loss();
          v[i] = value - h;
          const down = loss();
          v[i] = value;
          return (up - down) / (2 * h);
        });
      const fdX = differences(x);
      const fdW = differences(w);
      const fdB = differences(bias);
      const dx = conv2dBackwardInputRef(r, w, c.xShape, c.wShape, g);
      const dw = conv2dBackwardWeightsRef(x, r, c.xShape, c.wShape, g);
      const db = conv2dBackwardBiasRef(r, c.wShape[3]);
      // With stride 2 some x elements lie in no window: their gradient is 0 in both, which
      // the norm-wise comparison checks along with the rest.
      expect(fdX.some((v) => v !== 0)).toBe(true);
      assertClose(dx, fdX, FD_TOLERANCE, 'dx');
      assertClose(dw, fdW, FD_TOLERANCE, 'dw');
      assertClose(db, fdB, FD_TOLERANCE, 'db');
    });
  }
});

interface Problem {
  xShape: Shape4;
  wShape: Shape4;
  stride: [number, number];
  padding: Padding;
}

interface Checked {
  input: Conv2dBackwardVariant[];
  weights: Conv2dBackwardVariant[];
  chunks: number;
}

/** Every applicable kernel of dx and dw, and db, against the float64 backward. */
async function checkProblem(p: Problem, rng: Rng, options: { chunks?: number } = {}): Promise<Checked> {
  const g = convGeometry('test', p.xShape, p.wShape, p.stride, p.padding);
  const dyShape: Shape4 = [g.n, g.oh, g.ow, g.cout];
  const x = randomArray(rng, size(p.xShape));
  const w = randomArray(rng, size(p.wShape));
  const dy = randomArray(rng, size(dyShape));
  const rg = refGeometry(g);
  const refDx = conv2dBackwardInputRef(dy, w, p.xShape, p.wShape, rg);
  const refDw = conv2dBackwardWeightsRef(x, dy, p.xShape, p.wShape, rg);
  const refDb = conv2dBackwardBiasRef(dy, g.cout);
  const chosen = conv2dBackwardVariants(g);
  const checked: Checked = { input: [], weights: [], chunks: options.chunks ?? weightChunks(g).chunks };
  await engine.scope(async () => {
    const xt = engine.tensor(x, p.xShape);
    const wt = engine.tensor(w, p.wShape);
    const dyt = engine.tensor(dy, dyShape);
    const geometry = { stride: p.stride, padding: p.padding };
    const inputVariants: Conv2dBackwardVariant[] = chosen.input === 'tile8x8' ? ['tile8x8', 'tile8x8_scalar'] : ['tile8x8_scalar'];
    for (const variant of inputVariants) {
      const dx = conv2dBackwardInput(dyt, wt, p.xShape, { ...geometry, variant });
      expect(dx.shape).toEqual(p.xShape);
      assertClose(await dx.read(), refDx, GPU_TOLERANCE, `dx ${variant} ${describeProblem(g)}`);
      checked.input.push(variant);
    }
    const weightVariants: Conv2dBackwardVariant[] = chosen.weights === 'tile8x8' ? ['tile8x8', 'tile8x8_scalar'] : ['tile8x8_scalar'];
    for (const variant of weightVariants) {
      const dw = conv2dBackwardWeights(xt, dyt, p.wShape, { ...geometry, variant, ...options });
      expect(dw.shape).toEqual(p.wShape);
      assertClose(await dw.read(), refDw, GPU_TOLERANCE, `dw ${variant} ${checked.chunks} chunks ${describeProblem(g)}`);
      checked.weights.push(variant);
    }
    assertClose(await conv2dBackwardBias(dyt).read(), refDb, GPU_TOLERANCE, `db ${describeProblem(g)}`);
  });
  return checked;
}

const problemArb = fc
  .record({
    n: fc.integer({ min: 1, max: 2 }),
    h: fc.integer({ min: 1, max: 11 }),
    w: fc.integer({ min: 1, max: 11 }),
    // Multiples of 4 reach the vec4 kernels; odd counts, the scalar ones.
    cin: fc.oneof(fc.constantFrom(4, 8, 12), fc.integer({ min: 1, max: 9 })),
    cout: fc.oneof(fc.constantFrom(4, 8, 12, 16), fc.integer({ min: 1, max: 13 })),
    kh: fc.integer({ min: 1, max: 7 }),
    kw: fc.integer({ min: 1, max: 7 }),
    stride: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
    padding: fc.oneof(
      fc.constant<Padding>('same'),
      fc.constant<Padding>('valid'),
      fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })),
    ),
  })
  .filter((r) => {
    const pads = r.padding === 'same' || r.padding === 'valid' ? [0, 0, 0, 0] : (r.padding as number[]);
    if (r.padding === 'valid') return r.kh <= r.h && r.kw <= r.w;
    return r.kh <= r.h + pads[0]! + pads[1]! && r.kw <= r.w + pads[2]! + pads[3]!;
  });

describe('conv2d backward kernels against the float64 backward', () => {
  const seed = freshSeed();
  it(`random geometries (fast-check seed ${seed})`, async () => {
    const rng = makeRng(seed);
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(problemArb, async (r) => {
        const p: Problem = { xShape: [r.n, r.h, r.w, r.cin], wShape: [r.kh, r.kw, r.cin, r.cout], stride: r.stride as [number, number], padding: r.padding };
        const c = await checkProblem(p, rng);
        c.input.forEach((v) => seen.add(`input ${v}`));
        c.weights.forEach((v) => seen.add(`weights ${v}`));
        seen.add(c.chunks > 1 ? 'chunked' : 'one chunk');
      }),
      { seed, numRuns: 25, endOnFailure: true },
    );
    for (const k of ['input tile8x8', 'input tile8x8_scalar', 'weights tile8x8', 'weights tile8x8_scalar', 'one chunk']) expect(seen).toContain(k);
  });

  it(`forced chunkings of the dw reduction agree (seed ${seed})`, async () => {
    // 2×9×7 = 126 output pixels: one chunk, uneven chunks, one pixel per chunk.
    for (const chunks of [1, 5, 126]) {
      const c = await checkProblem({ xShape: [2, 9, 7, 5], wShape: [3, 2, 5, 8], stride: [1, 1], padding: [1, 1, 0, 1] }, makeRng(seed), { chunks });
      expect(c.chunks).toBe(chunks);
    }
  });

  describe('Inception-v3 shapes at batch 1', () => {
    const seed = freshSeed();
    const shapes: (Problem & { name: string })[] = [
      { name: '3×3 same 35×35×32→48', xShape: [1, 35, 35, 32], wShape: [3, 3, 32, 48], stride: [1, 1], padding: 'same' },
      { name: '1×7 same 17×17×16→24', xShape: [1, 17, 17, 16], wShape: [1, 7, 16, 24], stride: [1, 1], padding: 'same' },
      { name: '7×1 same 17×17×16→24', xShape: [1, 17, 17, 16], wShape: [7, 1, 16, 24], stride: [1, 1], padding: 'same' },
      { name: '3×3/2 valid 17×17×24→32', xShape: [1, 17, 17, 24], wShape: [3, 3, 24, 32], stride: [2, 2], padding: 'valid' },
      { name: '1×1 8×8×40→36', xShape: [1, 8, 8, 40], wShape: [1, 1, 40, 36], stride: [1, 1], padding: 'valid' },
    ];
    for (const s of shapes) {
      it(`${s.name} (seed ${seed})`, async () => {
        const c = await checkProblem(s, makeRng(seed));
        expect(c.input).toContain('tile8x8');
        expect(c.weights).toContain('tile8x8');
      });
    }
  });

  it('dw is the same, bit for bit, when computed twice (no atomics, chunks added in order)', async () => {
    const rng = makeRng(1);
    await engine.scope(async () => {
      const x = engine.tensor(randomArray(rng, 2 * 12 * 12 * 8), [2, 12, 12, 8]);
      const dy = engine.tensor(randomArray(rng, 2 * 12 * 12 * 12), [2, 12, 12, 12]);
      const a = await conv2dBackwardWeights(x, dy, [3, 3, 8, 12], { padding: 'same', chunks: 9 }).read();
      const b = await conv2dBackwardWeights(x, dy, [3, 3, 8, 12], { padding: 'same', chunks: 9 }).read();
      expect(Array.from(b)).toEqual(Array.from(a));
    });
  });
});

describe('conv2d backward with dy as a channel view', () => {
  const seed = freshSeed();
  // Offset 4 keeps dw's vec4 kernel; offset 3 makes it fall back to the scalar one.
  for (const offset of [4, 3]) {
    it(`dy = channels ${offset}.. of a wider buffer gives the plain result (seed ${seed})`, async () => {
      const rng = makeRng(seed);
      const xShape: Shape4 = [2, 7, 6, 8];
      const wShape: Shape4 = [3, 3, 8, 12];
      const stride: [number, number] = [2, 1];
      const g = convGeometry('test', xShape, wShape, stride, 'same');
      const total = offset + g.cout + 5;
      const x = randomArray(rng, size(xShape));
      const w = randomArray(rng, size(wShape));
      const wide = randomArray(rng, g.n * g.oh * g.ow * total);
      const dy = new Float32Array(g.n * g.oh * g.ow * g.cout);
      for (let p = 0; p < g.n * g.oh * g.ow; p++) for (let c = 0; c < g.cout; c++) dy[p * g.cout + c] = wide[p * total + offset + c]!;
      const rg = refGeometry(g);
      await engine.scope(async () => {
        const view = engine.tensor(wide, [g.n, g.oh, g.ow, total]).channelView(offset, g.cout);
        const xt = engine.tensor(x, xShape);
        const wt = engine.tensor(w, wShape);
        const grads = conv2dBackward(view, xt, wt, { stride, padding: 'same' });
        assertClose(await grads.dx!.read(), conv2dBackwardInputRef(dy, w, xShape, wShape, rg), GPU_TOLERANCE, `dx, dy view at ${offset}`);
        assertClose(await grads.dw.read(), conv2dBackwardWeightsRef(x, dy, xShape, wShape, rg), GPU_TOLERANCE, `dw, dy view at ${offset}`);
        expect(grads.db).toBeUndefined();
      });
    });
  }
});

describe('conv2dBackward', () => {
  it('returns dw, dx unless input: false, db when bias: true', async () => {
    const rng = makeRng(2);
    await engine.scope(async () => {
      const xShape: Shape4 = [1, 6, 5, 4];
      const wShape: Shape4 = [3, 3, 4, 4];
      const x = engine.tensor(randomArray(rng, size(xShape)), xShape);
      const w = engine.tensor(randomArray(rng, size(wShape)), wShape);
      const dyData = randomArray(rng, 6 * 5 * 4);
      const dy = engine.tensor(dyData, [1, 6, 5, 4]);
      const grads = conv2dBackward(dy, x, w, { padding: 'same', input: false, bias: true });
      expect(grads.dx).toBeUndefined();
      expect(grads.dw.shape).toEqual(wShape);
      assertClose(await grads.db!.read(), conv2dBackwardBiasRef(dyData, 4), GPU_TOLERANCE, 'db');
    });
  });
});

describe('conv2d backward argument errors', () => {
  function expectError(fn: () => unknown, message: RegExp): void {
    let thrown: unknown;
    try {
      fn();
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(InvalidArgumentError);
    expect((thrown as Error).message).toMatch(message);
  }

  it('names the mismatched shape or option', () => {
    engine.scope(() => {
      const x = engine.zeros([1, 8, 8, 4]);
      const w = engine.zeros([3, 3, 4, 6]);
      const dy = engine.zeros([1, 8, 8, 6]);
      expectError(
        () => conv2dBackwardInput(engine.zeros([1, 6, 6, 6]), w, [1, 8, 8, 4], { padding: 'same' }),
        /conv2dBackwardInput: dy must have the conv's output shape \[N, OH, OW, Cout\] = \[1, 8, 8, 6\].*got .*\[1, 6, 6, 6\]/,
      );
      expectError(() => conv2dBackwardInput(dy, w, [1, 8, 8, 5], { padding: 'same' }), /conv2dBackwardInput: channel mismatch: x has Cin=5/);
      expectError(() => conv2dBackwardInput(dy, w, [8, 8, 4], { padding: 'same' }), /conv2dBackwardInput: x must be rank 4/);
      expectError(() => conv2dBackwardInput(dy, w, [1, 8, 8, 4], { padding: 'same', stride: 2 }), /dy must have the conv's output shape .* = \[1, 4, 4, 6\]/);
      expectError(
        () => conv2dBackwardInput(dy, engine.zeros([3, 3, 3, 6]), [1, 8, 8, 3], { padding: 'same', variant: 'tile8x8' }),
        /tile8x8 needs Cin divisible by 4 \(got 3\)/,
      );
      expectError(
        () => conv2dBackwardWeights(x, dy, [3, 3, 4, 8], { padding: 'same' }),
        /conv2dBackwardWeights: dy must have the conv's output shape \[N, OH, OW, Cout\] = \[1, 8, 8, 8\]/,
      );
      expectError(() => conv2dBackwardWeights(x, dy, [3, 3, 6], { padding: 'same' }), /conv2dBackwardWeights: weights must be rank 4 HWIO/);
      expectError(
        () => conv2dBackwardWeights(x, dy, [3, 3, 4, 6], { padding: 'same', variant: 'tile8x8' }),
        /tile8x8 needs Cin and Cout divisible by 4 \(got 4 and 6\)/,
      );
      expectError(
        () => conv2dBackwardWeights(x, dy, [3, 3, 4, 6], { padding: 'same', chunks: 0 }),
        /chunks must be an integer from 1 to the 64 output pixels, got 0/,
      );
      expectError(
        () => conv2dBackwardWeights(engine.zeros([1, 8, 8, 8]).channelView(4, 4), dy, [3, 3, 4, 6], { padding: 'same' }),
        /conv2dBackwardWeights: x is .*a channel view/,
      );
      expectError(() => conv2dBackwardWeights(x, dy, [9, 9, 4, 6], { padding: 'valid' }), /kernel 9×9 is larger than the padded input 8×8/);
      expectError(() => conv2dBackwardBias(engine.zeros([8, 6])), /conv2dBackwardBias: dy must be rank 4/);
      expectError(() => conv2dBackwardInput(dy, w, [1, 8, 8, 4], { padding: 'same', variant: 'fast' as Conv2dBackwardVariant }), /unknown variant 'fast'/);
    });
  });
});
