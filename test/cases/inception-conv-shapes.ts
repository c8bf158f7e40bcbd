/**
 * Every convolution of Inception-v3 as released (torchvision `models/inception.py`), at a
 * 299×299 input, batch 1, in network (forward) order. Built per module the way torchvision
 * builds it, so the names match its state_dict (`Mixed_5b.branch5x5_2` ↔ `Mixed_5b.branch5x5_2.conv`).
 * The aux head is listed separately (AUX_CONV_LAYERS): it only runs in training.
 * Every conv here is followed by BatchNorm (eps 1e-3) and ReLU, and has no bias.
 */

export interface InceptionConvLayer {
  /** torchvision module name, e.g. 'Mixed_5b.branch5x5_2'. */
  layer: string;
  /** Input spatial size. */
  h: number;
  w: number;
  cin: number;
  cout: number;
  kh: number;
  kw: number;
  strideH: number;
  strideW: number;
  /** Zero padding per side: [top, bottom, left, right]. */
  pad: [number, number, number, number];
}

/** A distinct conv shape and the layers that share it. */
export interface InceptionConvShape extends Omit<InceptionConvLayer, 'layer'> {
  layers: string[];
}

/** Output spatial size [OH, OW] of a layer. */
export function convOutSize(l: Omit<InceptionConvLayer, 'layer'>): [number, number] {
  const [top, bottom, left, right] = l.pad;
  return [Math.floor((l.h + top + bottom - l.kh) / l.strideH) + 1, Math.floor((l.w + left + right - l.kw) / l.strideW) + 1];
}

/** Square input, kernel kh×kw, one stride; pad is [top, bottom, left, right] ('valid' = zeros). */
function conv(
  layer: string,
  size: number,
  cin: number,
  cout: number,
  kh: number,
  kw: number,
  stride = 1,
  pad: [number, number, number, number] = [0, 0, 0, 0],
): InceptionConvLayer {
  return { layer, h: size, w: size, cin, cout, kh, kw, strideH: stride, strideW: stride, pad };
}

/** 'Same' padding for odd stride-1 kernels, as torchvision writes it (kernel (1,7) → padding (0,3)). */
function same(kh: number, kw: number): [number, number, number, number] {
  const ph = (kh - 1) / 2;
  const pw = (kw - 1) / 2;
  return [ph, ph, pw, pw];
}

/** InceptionA (35×35): 1×1 | 1×1 → 5×5 | 1×1 → 3×3 → 3×3 | avgpool → 1×1 pool_features. */
function inceptionA(m: string, s: number, cin: number, poolFeatures: number): InceptionConvLayer[] {
  return [
    conv(`${m}.branch1x1`, s, cin, 64, 1, 1),
    conv(`${m}.branch5x5_1`, s, cin, 48, 1, 1),
    conv(`${m}.branch5x5_2`, s, 48, 64, 5, 5, 1, same(5, 5)),
    conv(`${m}.branch3x3dbl_1`, s, cin, 64, 1, 1),
    conv(`${m}.branch3x3dbl_2`, s, 64, 96, 3, 3, 1, same(3, 3)),
    conv(`${m}.branch3x3dbl_3`, s, 96, 96, 3, 3, 1, same(3, 3)),
    conv(`${m}.branch_pool`, s, cin, poolFeatures, 1, 1),
  ];
}

/** InceptionB (Mixed_6a, 35 → 17): 3×3/2 | 1×1 → 3×3 → 3×3/2 | maxpool 3/2 (no conv). */
function inceptionB(m: string, s: number, cin: number): InceptionConvLayer[] {
  return [
    conv(`${m}.branch3x3`, s, cin, 384, 3, 3, 2),
    conv(`${m}.branch3x3dbl_1`, s, cin, 64, 1, 1),
    conv(`${m}.branch3x3dbl_2`, s, 64, 96, 3, 3, 1, same(3, 3)),
    conv(`${m}.branch3x3dbl_3`, s, 96, 96, 3, 3, 2),
  ];
}

/** InceptionC (17×17) with the factorized 7×7s: 1×7 is height 1, width 7. */
function inceptionC(m: string, s: number, cin: number, c7: number): InceptionConvLayer[] {
  return [
    conv(`${m}.branch1x1`, s, cin, 192, 1, 1),
    conv(`${m}.branch7x7_1`, s, cin, c7, 1, 1),
    conv(`${m}.branch7x7_2`, s, c7, c7, 1, 7, 1, same(1, 7)),
    conv(`${m}.branch7x7_3`, s, c7, 192, 7, 1, 1, same(7, 1)),
    conv(`${m}.branch7x7dbl_1`, s, cin, c7, 1, 1),
    conv(`${m}.branch7x7dbl_2`, s, c7, c7, 7, 1, 1, same(7, 1)),
    conv(`${m}.branch7x7dbl_3`, s, c7, c7, 1, 7, 1, same(1, 7)),
    conv(`${m}.branch7x7dbl_4`, s, c7, c7, 7, 1, 1, same(7, 1)),
    conv(`${m}.branch7x7dbl_5`, s, c7, 192, 1, 7, 1, same(1, 7)),
    conv(`${m}.branch_pool`, s, cin, 192, 1, 1),
  ];
}

/** InceptionD (Mixed_7a, 17 → 8): 1×1 → 3×3/2 | 1×1 → 1×7 → 7×1 → 3×3/2 | maxpool 3/2 (no conv). */
function inceptionD(m: string, s: number, cin: number): InceptionConvLayer[] {
  return [
    conv(`${m}.branch3x3_1`, s, cin, 192, 1, 1),
    conv(`${m}.branch3x3_2`, s, 192, 320, 3, 3, 2),
    conv(`${m}.branch7x7x3_1`, s, cin, 192, 1, 1),
    conv(`${m}.branch7x7x3_2`, s, 192, 192, 1, 7, 1, same(1, 7)),
    conv(`${m}.branch7x7x3_3`, s, 192, 192, 7, 1, 1, same(7, 1)),
    conv(`${m}.branch7x7x3_4`, s, 192, 192, 3, 3, 2),
  ];
}

/** InceptionE (8×8): the _2a/_2b and _3a/_3b pairs both read the previous layer and are concatenated. */
function inceptionE(m: string, s: number, cin: number): InceptionConvLayer[] {
  return [
    conv(`${m}.branch1x1`, s, cin, 320, 1, 1),
    conv(`${m}.branch3x3_1`, s, cin, 384, 1, 1),
    conv(`${m}.branch3x3_2a`, s, 384, 384, 1, 3, 1, same(1, 3)),
    conv(`${m}.branch3x3_2b`, s, 384, 384, 3, 1, 1, same(3, 1)),
    conv(`${m}.branch3x3dbl_1`, s, cin, 448, 1, 1),
    conv(`${m}.branch3x3dbl_2`, s, 448, 384, 3, 3, 1, same(3, 3)),
    conv(`${m}.branch3x3dbl_3a`, s, 384, 384, 1, 3, 1, same(1, 3)),
    conv(`${m}.branch3x3dbl_3b`, s, 384, 384, 3, 1, 1, same(3, 1)),
    conv(`${m}.branch_pool`, s, cin, 192, 1, 1),
  ];
}

/**
 * The 94 convs in forward order. Sizes and channel counts are written out (not chained in code),
 * so the test's chaining checks are independent of this table.
 */
export const INCEPTION_CONV_LAYERS: readonly InceptionConvLayer[] = [
  conv('Conv2d_1a_3x3', 299, 3, 32, 3, 3, 2),
  conv('Conv2d_2a_3x3', 149, 32, 32, 3, 3),
  conv('Conv2d_2b_3x3', 147, 32, 64, 3, 3, 1, same(3, 3)),
  // maxpool1 3/2: 147 → 73
  conv('Conv2d_3b_1x1', 73, 64, 80, 1, 1),
  conv('Conv2d_4a_3x3', 73, 80, 192, 3, 3),
  // maxpool2 3/2: 71 → 35
  ...inceptionA('Mixed_5b', 35, 192, 32),
  ...inceptionA('Mixed_5c', 35, 256, 64),
  ...inceptionA('Mixed_5d', 35, 288, 64),
  ...inceptionB('Mixed_6a', 35, 288),
  ...inceptionC('Mixed_6b', 17, 768, 128),
  ...inceptionC('Mixed_6c', 17, 768, 160),
  ...inceptionC('Mixed_6d', 17, 768, 160),
  ...inceptionC('Mixed_6e', 17, 768, 192),
  ...inceptionD('Mixed_7a', 17, 768),
  ...inceptionE('Mixed_7b', 8, 1280),
  ...inceptionE('Mixed_7c', 8, 2048),
];

/** AuxLogits (on Mixed_6e's 17×17×768 output after avgpool 5/3 → 5×5): conv0 1×1 → conv1 5×5 valid → fc 768→1000. */
export const AUX_CONV_LAYERS: readonly InceptionConvLayer[] = [conv('AuxLogits.conv0', 5, 768, 128, 1, 1), conv('AuxLogits.conv1', 5, 128, 768, 5, 5)];

/** Everything but the name, as a key for deduplication. */
function shapeKey(l: InceptionConvLayer): string {
  return [l.h, l.w, l.cin, l.cout, l.kh, l.kw, l.strideH, l.strideW, ...l.pad].join(',');
}

/** The distinct conv shapes of INCEPTION_CONV_LAYERS, in order of first use, with the layers using each. */
export const INCEPTION_CONV_SHAPES: readonly InceptionConvShape[] = (() => {
  const byKey = new Map<string, InceptionConvShape>();
  for (const l of INCEPTION_CONV_LAYERS) {
    const key = shapeKey(l);
    const seen = byKey.get(key);
    if (seen) {
      seen.layers.push(l.layer);
    } else {
      const { layer, ...shape } = l;
      byKey.set(key, { ...shape, pad: [...shape.pad], layers: [layer] });
    }
  }
  return [...byKey.values()];
})();
