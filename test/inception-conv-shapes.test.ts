import { describe, expect, it } from 'vitest';
import { AUX_CONV_LAYERS, convOutSize, INCEPTION_CONV_LAYERS, INCEPTION_CONV_SHAPES, type InceptionConvLayer } from './cases/inception-conv-shapes.js';
import { batchNormRef, conv2dRef, type ConvGeometryRef } from './reference/conv2d.js';
import { freshSeed, makeRng, randomArray } from './support/random.js';

// Facts from shared/docs/inception-v3.md (torchvision, 299×299, batch 1).
const CONV_MACS = 5_711_168_096;
const FC_MACS = 2_048_000;
const TOTAL_MACS = 5_713_216_096;
const PARAMS_WITHOUT_AUX = 23_834_568;
const PARAMS_WITH_AUX = 27_161_264;

const macs = (l: InceptionConvLayer) => {
  const [oh, ow] = convOutSize(l);
  return oh * ow * l.kh * l.kw * l.cin * l.cout;
};
/** torchvision: conv weight (no bias) + BatchNorm γ and β (running stats are buffers, not parameters). */
const convBnParams = (l: InceptionConvLayer) => l.kh * l.kw * l.cin * l.cout + 2 * l.cout;
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
/** Max pool 3/2 valid, as in the stem and the reduction modules. */
const maxPool3s2 = (s: number) => Math.floor((s - 3) / 2) + 1;

describe('Inception-v3 conv table', () => {
  it('has 94 convs with unique torchvision names (5 stem + 3×7 A + 4 B + 4×10 C + 6 D + 2×9 E)', () => {
    expect(INCEPTION_CONV_LAYERS).toHaveLength(94);
    expect(5 + 3 * 7 + 4 + 4 * 10 + 6 + 2 * 9).toBe(94);
    expect(new Set(INCEPTION_CONV_LAYERS.map((l) => l.layer)).size).toBe(94);
    expect(INCEPTION_CONV_LAYERS[0]!.layer).toBe('Conv2d_1a_3x3');
    expect(INCEPTION_CONV_LAYERS.at(-1)!.layer).toBe('Mixed_7c.branch_pool');
  });

  it('sums to the documented conv MACs, and with the fc to the documented total', () => {
    const convMacs = sum(INCEPTION_CONV_LAYERS.map(macs));
    expect(convMacs).toBe(CONV_MACS);
    expect(2048 * 1000).toBe(FC_MACS);
    expect(convMacs + FC_MACS).toBe(TOTAL_MACS);
  });

  it('gives the documented parameter counts, without and with the aux head', () => {
    const fc = 2048 * 1000 + 1000;
    const main = sum(INCEPTION_CONV_LAYERS.map(convBnParams)) + fc;
    expect(main).toBe(PARAMS_WITHOUT_AUX);
    const auxFc = 768 * 1000 + 1000;
    expect(main + sum(AUX_CONV_LAYERS.map(convBnParams)) + auxFc).toBe(PARAMS_WITH_AUX);
  });

  it('has an aux head of 1×1 768→128 then 5×5 128→768 valid on 5×5 (avgpool 5/3 of 17×17), adding about 5.7 M MACs', () => {
    expect(Math.floor((17 - 5) / 3) + 1).toBe(5);
    const [c0, c1] = AUX_CONV_LAYERS;
    expect(AUX_CONV_LAYERS).toHaveLength(2);
    expect(c0).toMatchObject({ h: 5, w: 5, cin: 768, cout: 128, kh: 1, kw: 1, strideH: 1, strideW: 1, pad: [0, 0, 0, 0] });
    expect(c1).toMatchObject({ h: 5, w: 5, cin: 128, cout: 768, kh: 5, kw: 5, strideH: 1, strideW: 1, pad: [0, 0, 0, 0] });
    expect(convOutSize(c0!)).toEqual([5, 5]);
    expect(convOutSize(c1!)).toEqual([1, 1]);
    const auxMacs = sum(AUX_CONV_LAYERS.map(macs)) + 768 * 1000;
    expect(auxMacs).toBe(25 * 768 * 128 + 1 * 25 * 128 * 768 + 768 * 1000); // 5,683,200
    expect(Math.abs(auxMacs - 5.7e6)).toBeLessThan(0.1e6);
  });

  it('chains the stem: each conv (and max pool) feeds the next, ending at 192×35×35', () => {
    const stem = INCEPTION_CONV_LAYERS.slice(0, 5);
    expect(stem.map((l) => l.layer)).toEqual(['Conv2d_1a_3x3', 'Conv2d_2a_3x3', 'Conv2d_2b_3x3', 'Conv2d_3b_1x1', 'Conv2d_4a_3x3']);
    const expectedOut = [
      [32, 149],
      [32, 147],
      [64, 147],
      [80, 73],
      [192, 71],
    ];
    const poolAfter = new Set(['Conv2d_2b_3x3', 'Conv2d_4a_3x3']);
    let [c, s] = [3, 299];
    stem.forEach((l, i) => {
      expect([l.cin, l.h, l.w], l.layer).toEqual([c, s, s]);
      const [oh, ow] = convOutSize(l);
      expect(oh).toBe(ow);
      expect([l.cout, oh], l.layer).toEqual(expectedOut[i]);
      [c, s] = [l.cout, poolAfter.has(l.layer) ? maxPool3s2(oh) : oh];
    });
    expect([c, s]).toEqual([192, 35]);
  });

  // The doc's table: module, output channels, output size; B and D (6a, 7a) also pass their input through a max pool.
  const MODULES: [string, number, number, boolean][] = [
    ['Mixed_5b', 256, 35, false],
    ['Mixed_5c', 288, 35, false],
    ['Mixed_5d', 288, 35, false],
    ['Mixed_6a', 768, 17, true],
    ['Mixed_6b', 768, 17, false],
    ['Mixed_6c', 768, 17, false],
    ['Mixed_6d', 768, 17, false],
    ['Mixed_6e', 768, 17, false],
    ['Mixed_7a', 1280, 8, true],
    ['Mixed_7b', 2048, 8, false],
    ['Mixed_7c', 2048, 8, false],
  ];

  /** The layer a branch layer reads: 'branch7x7_3' ← 'branch7x7_2', 'branch3x3_2a'/'_2b' ← 'branch3x3_1'; none for a branch's first conv. */
  const predecessor = (branch: string): string | undefined => {
    const m = /^(.*)_(\d+)[ab]?$/.exec(branch);
    return m && Number(m[2]) > 1 ? `${m[1]}_${Number(m[2]) - 1}` : undefined;
  };

  it('chains every module: branches read the module input or their predecessor, and concatenate to the documented channels', () => {
    const [stemOutC, stemOutS] = [192, 35]; // after maxpool2, checked above
    let [c, s] = [stemOutC, stemOutS];
    let seen = 5;
    for (const [mod, outC, outS, hasMaxPool] of MODULES) {
      const layers = INCEPTION_CONV_LAYERS.filter((l) => l.layer.startsWith(`${mod}.`));
      // Modules are contiguous, in network order.
      expect(INCEPTION_CONV_LAYERS.slice(seen, seen + layers.length)).toEqual(layers);
      seen += layers.length;
      const byBranch = new Map(layers.map((l) => [l.layer.slice(mod.length + 1), l]));
      const read = new Set<string>();
      for (const [branch, l] of byBranch) {
        const pred = predecessor(branch);
        if (pred === undefined) {
          // First conv of a branch (the pool branches' avgpool 3/1 pad 1 keeps the size).
          expect([l.cin, l.h, l.w], l.layer).toEqual([c, s, s]);
        } else {
          const p = byBranch.get(pred);
          expect(p, `${l.layer} reads ${mod}.${pred}`).toBeDefined();
          read.add(pred);
          const [ph, pw] = convOutSize(p!);
          expect([l.cin, l.h, l.w], l.layer).toEqual([p!.cout, ph, pw]);
        }
      }
      const terminal = [...byBranch].filter(([b]) => !read.has(b)).map(([, l]) => l);
      for (const l of terminal) expect(convOutSize(l), l.layer).toEqual([outS, outS]);
      if (hasMaxPool) expect(maxPool3s2(s)).toBe(outS);
      const channels = sum(terminal.map((l) => l.cout)) + (hasMaxPool ? c : 0);
      expect(channels, mod).toBe(outC);
      [c, s] = [outC, outS];
    }
    expect(seen).toBe(94);
    expect([c, s]).toEqual([2048, 8]); // into the global average pool and fc 2048→1000
  });

  it('uses the documented module widths (pool features 32/64/64, c7 128/160/160/192)', () => {
    const cout = (name: string) => INCEPTION_CONV_LAYERS.find((l) => l.layer === name)!.cout;
    expect(['Mixed_5b', 'Mixed_5c', 'Mixed_5d'].map((m) => cout(`${m}.branch_pool`))).toEqual([32, 64, 64]);
    expect(['Mixed_6b', 'Mixed_6c', 'Mixed_6d', 'Mixed_6e'].map((m) => cout(`${m}.branch7x7_1`))).toEqual([128, 160, 160, 192]);
    // 1×7 is height 1, width 7, padded (0, 3): [top, bottom, left, right] = [0, 0, 3, 3].
    const b72 = INCEPTION_CONV_LAYERS.find((l) => l.layer === 'Mixed_6b.branch7x7_2')!;
    expect([b72.kh, b72.kw, b72.pad]).toEqual([1, 7, [0, 0, 3, 3]]);
    const b73 = INCEPTION_CONV_LAYERS.find((l) => l.layer === 'Mixed_6b.branch7x7_3')!;
    expect([b73.kh, b73.kw, b73.pad]).toEqual([7, 1, [3, 3, 0, 0]]);
  });

  it('dedupes into distinct shapes that together name every layer exactly once', () => {
    const key = (l: Omit<InceptionConvLayer, 'layer'>) => JSON.stringify([l.h, l.w, l.cin, l.cout, l.kh, l.kw, l.strideH, l.strideW, l.pad]);
    expect(new Set(INCEPTION_CONV_SHAPES.map(key)).size).toBe(INCEPTION_CONV_SHAPES.length);
    const named = INCEPTION_CONV_SHAPES.flatMap((s) => s.layers);
    expect(named.length).toBe(94);
    expect(new Set(named)).toEqual(new Set(INCEPTION_CONV_LAYERS.map((l) => l.layer)));
    const byName = new Map(INCEPTION_CONV_LAYERS.map((l) => [l.layer, l]));
    for (const s of INCEPTION_CONV_SHAPES) for (const n of s.layers) expect(key(byName.get(n)!), n).toBe(key(s));
    // MACs weighted by use still give the total.
    expect(sum(INCEPTION_CONV_SHAPES.map((s) => macs({ ...s, layer: '' }) * s.layers.length))).toBe(CONV_MACS);
    // Shared examples: Mixed_6c and 6d are identical (c7 = 160), as are 7b/7c's inner 1×3 convs.
    const shared = INCEPTION_CONV_SHAPES.find((s) => s.layers.includes('Mixed_6c.branch7x7_2'))!;
    expect(shared.layers).toContain('Mixed_6d.branch7x7_2');
    expect(INCEPTION_CONV_SHAPES.find((s) => s.layers.includes('Mixed_7b.branch3x3_2a'))!.layers).toEqual([
      'Mixed_7b.branch3x3_2a',
      'Mixed_7b.branch3x3dbl_3a',
      'Mixed_7c.branch3x3_2a',
      'Mixed_7c.branch3x3dbl_3a',
    ]);
  });
});

const VALID: ConvGeometryRef = { strideH: 1, strideW: 1, padTop: 0, padBottom: 0, padLeft: 0, padRight: 0 };
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

describe('conv2dRef', () => {
  const x9 = [1, 2, 3, 4, 5, 6, 7, 8, 9]; // 1×3×3×1, rows [1 2 3] [4 5 6] [7 8 9]

  it('matches a hand-worked 2×2 valid convolution', () => {
    // w = [[1 2] [3 4]]: out[0][0] = 1·1 + 2·2 + 4·3 + 5·4 = 37, and so on.
    const { out, shape } = conv2dRef(x9, [1, 3, 3, 1], [1, 2, 3, 4], [2, 2, 1, 1], VALID);
    expect(shape).toEqual([1, 2, 2, 1]);
    expect([...out]).toEqual([37, 47, 67, 77]);
  });

  it('reads HWIO with height first: a 2×1 kernel combines rows, not columns', () => {
    // out[y][x] = 1·x[y][x] + 10·x[y+1][x]
    const { out, shape } = conv2dRef(x9, [1, 3, 3, 1], [1, 10], [2, 1, 1, 1], VALID);
    expect(shape).toEqual([1, 2, 3, 1]);
    expect([...out]).toEqual([41, 52, 63, 74, 85, 96]);
  });

  it('matches a hand-worked padded, strided convolution with bias', () => {
    // Pad 1 all round, stride 2: windows at padded (0,0), (0,2), (2,0), (2,2).
    const g = { strideH: 2, strideW: 2, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1 };
    const { out, shape } = conv2dRef(x9, [1, 3, 3, 1], [1, 2, 3, 4], [2, 2, 1, 1], g, [0.5]);
    expect(shape).toEqual([1, 2, 2, 1]);
    // [1·4, 2·3 + 3·4, 4·2 + 7·4, 5·1 + 6·2 + 8·3 + 9·4] + 0.5
    expect([...out]).toEqual([4.5, 18.5, 36.5, 77.5]);
  });

  it('gives the right output shapes for padding and stride', () => {
    const shapeOf = (xs: [number, number, number, number], ws: [number, number, number, number], g: Partial<ConvGeometryRef>) =>
      conv2dRef(new Float64Array(xs[0] * xs[1] * xs[2] * xs[3]), xs, new Float64Array(ws[0] * ws[1] * ws[2] * ws[3]), ws, { ...VALID, ...g }).shape;
    expect(shapeOf([1, 17, 17, 2], [1, 7, 2, 3], { padLeft: 3, padRight: 3 })).toEqual([1, 17, 17, 3]);
    expect(shapeOf([2, 35, 35, 1], [3, 3, 1, 4], { strideH: 2, strideW: 2 })).toEqual([2, 17, 17, 4]);
    expect(shapeOf([1, 8, 8, 1], [3, 3, 1, 1], { padTop: 1, padBottom: 1, padLeft: 1, padRight: 1 })).toEqual([1, 8, 8, 1]);
    // Asymmetric ('same' at stride 2, TF style) and unequal strides: floor((6+1−3)/2)+1 = 3, floor((7+2−3)/3)+1 = 3.
    expect(shapeOf([1, 6, 7, 1], [3, 3, 1, 1], { strideH: 2, strideW: 3, padBottom: 1, padLeft: 1, padRight: 1 })).toEqual([1, 3, 3, 1]);
    expect(() => shapeOf([1, 2, 2, 1], [3, 3, 1, 1], {})).toThrow(/smaller than the kernel/);
    expect(() => conv2dRef(x9, [1, 3, 3, 1], [1, 2, 3, 4], [2, 1, 2, 1], VALID)).toThrow(/Cin/);
  });

  const seed = freshSeed();
  describe(`random inputs (TEST_SEED=${seed})`, () => {
    const rng = makeRng(seed);

    it('with a 1×1 kernel is the matrix product [N·H·W, Cin] · [Cin, Cout] plus bias', () => {
      const [n, h, w, cin, cout] = [2, 3, 4, 5, 7];
      const x = randomArray(rng, n * h * w * cin);
      const wt = randomArray(rng, cin * cout);
      const bias = randomArray(rng, cout);
      const { out, shape } = conv2dRef(x, [n, h, w, cin], wt, [1, 1, cin, cout], VALID, bias);
      expect(shape).toEqual([n, h, w, cout]);
      const rows = n * h * w;
      const expected = new Float64Array(rows * cout);
      for (let r = 0; r < rows; r++) {
        for (let co = 0; co < cout; co++) {
          let acc = bias[co]!;
          for (let ci = 0; ci < cin; ci++) acc += x[r * cin + ci]! * wt[ci * cout + co]!;
          expected[r * cout + co] = acc;
        }
      }
      expect(maxAbsDiff(out, expected)).toBeLessThan(1e-12);
    });

    it('with padding equals a valid convolution of the explicitly zero-padded input', () => {
      const [n, h, w, cin, cout, kh, kw] = [2, 5, 6, 3, 4, 3, 2];
      const [top, bottom, left, right] = [1, 2, 0, 1];
      const x = randomArray(rng, n * h * w * cin);
      const wt = randomArray(rng, kh * kw * cin * cout);
      const [ph, pw] = [h + top + bottom, w + left + right];
      const padded = new Float64Array(n * ph * pw * cin);
      for (let b = 0; b < n; b++)
        for (let y = 0; y < h; y++)
          for (let xx = 0; xx < w; xx++)
            for (let c = 0; c < cin; c++) padded[((b * ph + y + top) * pw + xx + left) * cin + c] = x[((b * h + y) * w + xx) * cin + c]!;
      const a = conv2dRef(x, [n, h, w, cin], wt, [kh, kw, cin, cout], { ...VALID, padTop: top, padBottom: bottom, padLeft: left, padRight: right });
      const b = conv2dRef(padded, [n, ph, pw, cin], wt, [kh, kw, cin, cout], VALID);
      expect(a.shape).toEqual([n, 6, 6, cout]);
      expect(b.shape).toEqual(a.shape);
      expect(maxAbsDiff(a.out, b.out)).toBeLessThan(1e-12);
    });

    it('with stride equals the stride-1 output subsampled', () => {
      const [n, h, w, cin, cout, k] = [1, 9, 8, 2, 3, 3];
      const [sh, sw] = [2, 3];
      const x = randomArray(rng, n * h * w * cin);
      const wt = randomArray(rng, k * k * cin * cout);
      const full = conv2dRef(x, [n, h, w, cin], wt, [k, k, cin, cout], VALID);
      const strided = conv2dRef(x, [n, h, w, cin], wt, [k, k, cin, cout], { ...VALID, strideH: sh, strideW: sw });
      const [, fh, fw] = full.shape;
      const [, oh, ow] = strided.shape;
      expect([oh, ow]).toEqual([Math.floor((fh - 1) / sh) + 1, Math.floor((fw - 1) / sw) + 1]);
      const sub = new Float64Array(oh * ow * cout);
      for (let y = 0; y < oh; y++)
        for (let xx = 0; xx < ow; xx++) for (let co = 0; co < cout; co++) sub[(y * ow + xx) * cout + co] = full.out[(y * sh * fw + xx * sw) * cout + co]!;
      expect(maxAbsDiff(strided.out, sub)).toBeLessThan(1e-12);
    });
  });
});

describe('batchNormRef', () => {
  it('normalises per channel (last axis) with γ, β, mean, variance and eps', () => {
    // c0: 2·(x − 1)/sqrt(3 + 1) + 0.5; c1: 1·(x − 0)/sqrt(0 + 1) − 1
    const y = batchNormRef([1, 2, 3, 4], 2, [2, 1], [0.5, -1], [1, 0], [3, 0], 1);
    expect([...y]).toEqual([0.5, 1, 2.5, 3]);
  });
  it('rejects per-channel vectors of the wrong length', () => {
    expect(() => batchNormRef([1, 2], 2, [1], [0, 0], [0, 0], [1, 1], 1e-3)).toThrow(/gamma has 1 values, expected 2/);
  });
});
