/**
 * Inception-v3's architecture as data (src/models/inception-v3-spec.ts) against the published
 * counts and shapes (../shared/docs/inception-v3.md) and against the independent table of its
 * 94 convolutions in test/cases/inception-conv-shapes.ts.
 */
import { describe, expect, it } from 'vitest';
import { inceptionV3Spec, scaledChannels, totals, MIN_INPUT_SIZE, type LayerSpec } from '../src/models/inception-v3-spec.js';
import { summaryJson } from '../src/cli/summary.js';
import { AUX_CONV_LAYERS, INCEPTION_CONV_LAYERS, convOutSize } from './cases/inception-conv-shapes.js';

describe('Inception-v3 spec', () => {
  it('has the published parameter and multiply-add counts', () => {
    const withAux = totals(inceptionV3Spec());
    const noAux = totals(inceptionV3Spec({ auxLogits: false }));
    expect(withAux.params).toBe(27_161_264);
    expect(noAux.params).toBe(23_834_568);
    expect(noAux.macs).toBe(5_713_216_096);
    const layers = inceptionV3Spec({ auxLogits: false });
    expect(layers.filter((l) => l.kind === 'conv').reduce((s, l) => s + l.macs, 0)).toBe(5_711_168_096);
    expect(layers.find((l) => l.name === 'fc')!.macs).toBe(2_048_000);
    expect(withAux.auxMacs).toBeGreaterThan(5.6e6);
    expect(withAux.auxMacs).toBeLessThan(5.8e6);
  });

  it('gives the named layers the output shapes of the reference table at 299×299', () => {
    const shapes = new Map(inceptionV3Spec().map((l) => [l.name, l.outputShape.join('×')]));
    const expected: Record<string, string> = {
      Conv2d_1a_3x3: '32×149×149',
      Conv2d_2a_3x3: '32×147×147',
      Conv2d_2b_3x3: '64×147×147',
      maxpool1: '64×73×73',
      Conv2d_3b_1x1: '80×73×73',
      Conv2d_4a_3x3: '192×71×71',
      maxpool2: '192×35×35',
      Mixed_5b: '256×35×35',
      Mixed_5c: '288×35×35',
      Mixed_5d: '288×35×35',
      Mixed_6a: '768×17×17',
      Mixed_6b: '768×17×17',
      Mixed_6c: '768×17×17',
      Mixed_6d: '768×17×17',
      Mixed_6e: '768×17×17',
      'AuxLogits.fc': '1000×1×1',
      Mixed_7a: '1280×8×8',
      Mixed_7b: '2048×8×8',
      Mixed_7c: '2048×8×8',
      fc: '1000×1×1',
    };
    for (const [name, shape] of Object.entries(expected)) expect(shapes.get(name), name).toBe(shape);
  });

  it('holds exactly the 94 convolutions (and the two of the aux head) of the independent table', () => {
    const convs = inceptionV3Spec().filter((l) => l.kind === 'conv');
    const main = convs.filter((l) => !l.aux);
    const table = INCEPTION_CONV_LAYERS;
    expect(main.map((l) => l.name).sort()).toEqual(table.map((l) => l.layer).sort());
    for (const t of table) {
      const l = main.find((c) => c.name === t.layer)!;
      const [oh, ow] = convOutSize(t);
      expect([l.kernel, l.stride, l.padding, l.outputShape], t.layer).toEqual([[t.kh, t.kw], [t.strideH, t.strideW], t.pad, [t.cout, oh, ow]]);
    }
    expect(convs.filter((l) => l.aux).map((l) => l.name)).toEqual(AUX_CONV_LAYERS.map((l) => l.layer));
  });

  it('scales to other input sizes, down to 75 without the aux head, and refuses smaller ones clearly', () => {
    expect(inceptionV3Spec({ inputSize: 75, auxLogits: false }).at(-1)!.outputShape).toEqual([1000, 1, 1]);
    expect(() => inceptionV3Spec({ inputSize: MIN_INPUT_SIZE - 1, auxLogits: false })).toThrow(/at least 75/);
    expect(() => inceptionV3Spec({ inputSize: 150 })).toThrow(/auxiliary head needs an input of at least 299.*--no-aux/);
    expect(() => inceptionV3Spec({ numClasses: 0 })).toThrow(/numClasses must be a positive integer/);
    expect(inceptionV3Spec({ numClasses: 1001 }).at(-1)!.params).toBe(2048 * 1001 + 1001);
  });

  it("the paper's variants: Table 3's 7×7 stem and aux head without BatchNorm, Table 2's low resolutions", () => {
    const stem7 = inceptionV3Spec({ stem: '7x7' });
    const first = stem7[0]!;
    expect([first.name, first.kernel, first.stride, first.outputShape]).toEqual(['Conv2d_1a_7x7', [7, 7], [2, 2], [64, 147, 147]]);
    expect(stem7.some((l) => l.name === 'Conv2d_2b_3x3')).toBe(false);
    // One 7×7 conv (3·49·64 weights, γ and β) in place of three 3×3 convs.
    expect(totals(stem7).params).toBe(27_161_264 - (3 * 9 * 32 + 64 + 32 * 9 * 32 + 64 + 32 * 9 * 64 + 128) + (3 * 49 * 64 + 128));
    const noAuxBn = inceptionV3Spec({ auxBatchNorm: false });
    expect(totals(noAuxBn).params).toBe(27_161_264 - (128 + 768));
    expect(noAuxBn.filter((l) => l.aux && l.kind === 'conv').every((l) => l.batchNorm === false)).toBe(true);
    // 151×151 with a stride-1 first conv lands on the 299×299 network's grids exactly.
    const low151 = inceptionV3Spec({ lowResolution: 151 });
    expect(low151.find((l) => l.name === 'maxpool1')!.outputShape).toEqual([64, 73, 73]);
    expect(totals(low151).macs).toBe(5_713_216_096);
    // 79×79: stride 1 and no max-pool after the first layers: grids one larger, cost within 10%.
    const low79 = inceptionV3Spec({ lowResolution: 79 });
    expect(low79.some((l) => l.name === 'maxpool1')).toBe(false);
    expect(low79.find((l) => l.name === 'Mixed_5b')!.outputShape).toEqual([256, 36, 36]);
    expect(low79.find((l) => l.name === 'Mixed_7c')!.outputShape).toEqual([2048, 8, 8]);
    expect(Math.abs(totals(low79).macs / 5_713_216_096 - 1)).toBeLessThan(0.1);
    expect(() => inceptionV3Spec({ lowResolution: 100 as 79 })).toThrow(/lowResolution must be 79 or 151/);
  });

  it('summary JSON has the contract other tools read', () => {
    const j = summaryJson(inceptionV3Spec({ auxLogits: false }), 299, false, 1000);
    expect(j.input).toEqual([1, 3, 299, 299]);
    expect(j.totalParams).toBe(23_834_568);
    expect(j.totalMacs).toBe(5_713_216_096);
    const fc = j.layers.find((l) => l.name === 'fc')!;
    expect(fc).toMatchObject({ outputShape: [1, 1000, 1, 1], params: 2_049_000, macs: 2_048_000 });
    expect([j.variant, j.width]).toEqual(['imagenet', 1]);
  });
});

/**
 * The CIFAR-10 variant's convs written out independently of the spec's builder: [cin, cout, kh,
 * kw, output grid] per conv at a 32×32 input, module by module, with the width rounding
 * re-derived here. Every conv has BatchNorm (γ, β) and no bias.
 */
type Conv = [cin: number, cout: number, kh: number, kw: number, grid: number];

function cifar10Convs(width: number): { convs: Conv[]; features: number } {
  const s = (c: number) => Math.max(4, Math.round((c * width) / 4) * 4);
  const convs: Conv[] = [];
  const add = (...c: Conv) => convs.push(c);
  // Stem: 32×32 at stride 1, maxpool1 to 16×16.
  add(3, s(32), 3, 3, 32);
  add(s(32), s(32), 3, 3, 32);
  add(s(32), s(64), 3, 3, 32);
  add(s(64), s(80), 1, 1, 16);
  add(s(80), s(192), 3, 3, 16);
  let cin = s(192);
  for (const pf of [32, 64, 64]) {
    add(cin, s(64), 1, 1, 16);
    add(cin, s(48), 1, 1, 16);
    add(s(48), s(64), 5, 5, 16);
    add(cin, s(64), 1, 1, 16);
    add(s(64), s(96), 3, 3, 16);
    add(s(96), s(96), 3, 3, 16);
    add(cin, s(pf), 1, 1, 16);
    cin = s(64) + s(64) + s(96) + s(pf);
  }
  // Mixed_6a: stride-2 convs land on 8×8; the max-pool passes cin through.
  add(cin, s(384), 3, 3, 8);
  add(cin, s(64), 1, 1, 16);
  add(s(64), s(96), 3, 3, 16);
  add(s(96), s(96), 3, 3, 8);
  cin = s(384) + s(96) + cin;
  for (const c7 of [128, 160, 160, 192].map(s)) {
    add(cin, s(192), 1, 1, 8);
    add(cin, c7, 1, 1, 8);
    add(c7, c7, 1, 7, 8);
    add(c7, s(192), 7, 1, 8);
    add(cin, c7, 1, 1, 8);
    add(c7, c7, 7, 1, 8);
    add(c7, c7, 1, 7, 8);
    add(c7, c7, 7, 1, 8);
    add(c7, s(192), 1, 7, 8);
    add(cin, s(192), 1, 1, 8);
    cin = 4 * s(192);
  }
  // Mixed_7a to 4×4.
  add(cin, s(192), 1, 1, 8);
  add(s(192), s(320), 3, 3, 4);
  add(cin, s(192), 1, 1, 8);
  add(s(192), s(192), 1, 7, 8);
  add(s(192), s(192), 7, 1, 8);
  add(s(192), s(192), 3, 3, 4);
  cin = s(320) + s(192) + cin;
  for (let i = 0; i < 2; i++) {
    add(cin, s(320), 1, 1, 4);
    add(cin, s(384), 1, 1, 4);
    add(s(384), s(384), 1, 3, 4);
    add(s(384), s(384), 3, 1, 4);
    add(cin, s(448), 1, 1, 4);
    add(s(448), s(384), 3, 3, 4);
    add(s(384), s(384), 1, 3, 4);
    add(s(384), s(384), 3, 1, 4);
    add(cin, s(192), 1, 1, 4);
    cin = s(320) + 4 * s(384) + s(192);
  }
  return { convs, features: cin };
}

/** Parameters and multiply-adds of the table plus a 10-class fc on the pooled features. */
function cifar10Count(width: number): { params: number; macs: number } {
  const { convs, features } = cifar10Convs(width);
  const params = convs.reduce((t, [ci, co, kh, kw]) => t + kh * kw * ci * co + 2 * co, 0) + features * 10 + 10;
  const macs = convs.reduce((t, [ci, co, kh, kw, g]) => t + g * g * kh * kw * ci * co, 0) + features * 10;
  return { params, macs };
}

const byName = (layers: LayerSpec[]) => new Map(layers.map((l) => [l.name, l]));

describe('Inception-v3 CIFAR-10 variant', () => {
  it("has the stem and module output shapes of a 32×32 network with 'same' padding", () => {
    const layers = byName(inceptionV3Spec({ variant: 'cifar10' }));
    const expected: Record<string, string> = {
      Conv2d_1a_3x3: '32×32×32',
      Conv2d_2a_3x3: '32×32×32',
      Conv2d_2b_3x3: '64×32×32',
      maxpool1: '64×16×16',
      Conv2d_3b_1x1: '80×16×16',
      Conv2d_4a_3x3: '192×16×16',
      Mixed_5b: '256×16×16',
      Mixed_5c: '288×16×16',
      Mixed_5d: '288×16×16',
      Mixed_6a: '768×8×8',
      Mixed_6b: '768×8×8',
      Mixed_6c: '768×8×8',
      Mixed_6d: '768×8×8',
      Mixed_6e: '768×8×8',
      Mixed_7a: '1280×4×4',
      Mixed_7b: '2048×4×4',
      Mixed_7c: '2048×4×4',
      avgpool: '2048×1×1',
      dropout: '2048×1×1',
      fc: '10×1×1',
    };
    for (const [name, shape] of Object.entries(expected)) expect(layers.get(name)?.outputShape.join('×'), name).toBe(shape);
    expect(layers.has('maxpool2')).toBe(false);
    expect(layers.get('Conv2d_1a_3x3')).toMatchObject({ kernel: [3, 3], stride: [1, 1], padding: [1, 1, 1, 1] });
  });

  it("pads every conv and pool 'same': stride 2 puts the odd pixel bottom/right, 1×7 pads only W", () => {
    const spec = inceptionV3Spec({ variant: 'cifar10' });
    const layers = byName(spec);
    // Stride 2 on an even grid: out = in / 2, total pad (out − 1)·2 + 3 − in = 1, all of it after.
    for (const name of [
      'maxpool1',
      'Mixed_6a.branch3x3',
      'Mixed_6a.branch3x3dbl_3',
      'Mixed_6a.max_pool',
      'Mixed_7a.branch3x3_2',
      'Mixed_7a.branch7x7x3_4',
      'Mixed_7a.max_pool',
    ]) {
      expect([layers.get(name)!.stride, layers.get(name)!.padding], name).toEqual([
        [2, 2],
        [0, 1, 0, 1],
      ]);
    }
    expect(layers.get('Mixed_6a.branch3x3')!.outputShape).toEqual([384, 8, 8]);
    expect(layers.get('Mixed_5b.branch5x5_2')!.padding).toEqual([2, 2, 2, 2]);
    expect(layers.get('Mixed_6b.branch7x7_2')!.padding).toEqual([0, 0, 3, 3]);
    expect(layers.get('Mixed_6b.branch7x7_3')!.padding).toEqual([3, 3, 0, 0]);
    expect(layers.get('Mixed_7b.branch3x3_2a')!.padding).toEqual([0, 0, 1, 1]);
    expect(layers.get('Mixed_5b.avg_pool')!.padding).toEqual([1, 1, 1, 1]);
    // 'same' in general: outside the aux head, every conv and pool gives ⌈in / stride⌉.
    for (const l of spec.filter((x) => (x.kind === 'conv' || x.kind.endsWith('pool')) && x.stride && !x.aux)) {
      const [, h] = l.inputs[0] === 'input' ? [3, 32] : layers.get(l.inputs[0]!)!.outputShape;
      expect(l.outputShape[1], l.name).toBe(Math.ceil(h / l.stride![0]));
    }
  });

  it('has the hand-counted parameters and multiply-adds at width 1', () => {
    const noAux = totals(inceptionV3Spec({ variant: 'cifar10', auxLogits: false }));
    const withAux = totals(inceptionV3Spec({ variant: 'cifar10' }));
    // A few layers by hand: Conv2d_1a_3x3 3·9·32 + 2·32 weights, 32·32 pixels of 27·32 MACs;
    // Mixed_6a.branch3x3 288→384 3×3/2 onto 8×8; fc 2048→10.
    const layers = byName(inceptionV3Spec({ variant: 'cifar10', auxLogits: false }));
    expect([layers.get('Conv2d_1a_3x3')!.params, layers.get('Conv2d_1a_3x3')!.macs]).toEqual([928, 884_736]);
    expect([layers.get('Mixed_6a.branch3x3')!.params, layers.get('Mixed_6a.branch3x3')!.macs]).toEqual([996_096, 63_700_992]);
    expect([layers.get('Mixed_7b.branch3x3dbl_2')!.params, layers.get('Mixed_7b.branch3x3dbl_2')!.macs]).toEqual([1_549_056, 24_772_608]);
    expect([layers.get('fc')!.params, layers.get('fc')!.macs]).toEqual([20_490, 20_480]);
    // Same kernels and channels as the released network: only the classifier differs
    // (2048·1000 + 1000 → 2048·10 + 10).
    expect(noAux.params).toBe(23_834_568 - 2_049_000 + 20_490);
    expect(noAux.params).toBe(21_806_058);
    expect(noAux.macs).toBe(1_042_075_648);
    expect(cifar10Count(1)).toEqual({ params: noAux.params, macs: noAux.macs });
    // Aux head: conv0 768→128 1×1 on 2×2, conv1 128→768 2×2 onto 1×1, fc 768→10.
    expect(withAux.params - noAux.params).toBe(768 * 128 + 256 + 4 * 128 * 768 + 1536 + 768 * 10 + 10);
    expect(withAux.params).toBe(22_307_060);
    expect(withAux.macs).toBe(noAux.macs);
    expect(withAux.auxMacs).toBe(4 * 768 * 128 + 4 * 128 * 768 + 768 * 10);
    expect(withAux.auxMacs).toBe(794_112);
  });

  it('aux head at 32×32: 8×8 pooled 5/3 to 2×2, a 2×2 conv over it, 10 logits', () => {
    const layers = byName(inceptionV3Spec({ variant: 'cifar10' }));
    const shape = (n: string) => layers.get(n)!.outputShape;
    expect(layers.get('AuxLogits.avg_pool')).toMatchObject({ kernel: [5, 5], stride: [3, 3], padding: [0, 0, 0, 0], outputShape: [768, 2, 2], aux: true });
    expect(shape('AuxLogits.conv0')).toEqual([128, 2, 2]);
    expect(layers.get('AuxLogits.conv1')).toMatchObject({ kernel: [2, 2], padding: [0, 0, 0, 0], outputShape: [768, 1, 1] });
    expect(shape('AuxLogits.avgpool')).toEqual([768, 1, 1]);
    expect(shape('AuxLogits.fc')).toEqual([10, 1, 1]);
    // At 17×17 Mixed_6e is 5×5, the smallest the head accepts: pooled to 1×1, conv1 1×1.
    const small = byName(inceptionV3Spec({ variant: 'cifar10', inputSize: 17 }));
    expect(small.get('Mixed_6e')!.outputShape).toEqual([768, 5, 5]);
    expect(small.get('AuxLogits.conv1')!.kernel).toEqual([1, 1]);
  });

  it('width 0.25 rounds every conv to a multiple of 4 and keeps the classes', () => {
    const spec = inceptionV3Spec({ variant: 'cifar10', width: 0.25 });
    const layers = byName(spec);
    const c = (n: string) => layers.get(n)!.outputShape[0];
    // Mixed_5b: 64, 48→64, 64→96→96, pool features 32, quartered.
    expect([c('Mixed_5b.branch1x1'), c('Mixed_5b.branch5x5_1'), c('Mixed_5b.branch5x5_2'), c('Mixed_5b.branch3x3dbl_3'), c('Mixed_5b.branch_pool')]).toEqual([
      16, 12, 16, 24, 8,
    ]);
    expect(c('Mixed_5b')).toBe(16 + 16 + 24 + 8);
    expect([c('Conv2d_1a_3x3'), c('Conv2d_4a_3x3'), c('Mixed_5c'), c('Mixed_6a'), c('Mixed_6e'), c('Mixed_7a'), c('Mixed_7c')]).toEqual([
      8, 48, 72, 192, 192, 320, 512,
    ]);
    expect([c('AuxLogits.conv0'), c('AuxLogits.conv1'), c('AuxLogits.fc'), c('fc')]).toEqual([32, 192, 10, 10]);
    expect(layers.get('Conv2d_1a_3x3')!.params).toBe(3 * 9 * 8 + 2 * 8); // the 3 input channels stay
    expect(spec.filter((l) => l.kind === 'conv').every((l) => l.outputShape[0] % 4 === 0)).toBe(true);
    const noAux = totals(inceptionV3Spec({ variant: 'cifar10', width: 0.25, auxLogits: false }));
    expect(cifar10Count(0.25)).toEqual({ params: noAux.params, macs: noAux.macs });
    expect(noAux).toEqual({ params: 1_373_346, macs: 65_299_456, auxMacs: 0 });
    expect(totals(spec).params).toBe(1_373_346 + (192 * 32 + 64) + (4 * 32 * 192 + 384) + (192 * 10 + 10));
  });

  it('scaledChannels: multiples of 4, at least 4, width 1 changes no Inception count', () => {
    for (const c of [32, 48, 64, 80, 96, 128, 160, 192, 320, 384, 448, 768]) expect(scaledChannels(c, 1)).toBe(c);
    expect([scaledChannels(48, 0.25), scaledChannels(96, 0.3), scaledChannels(32, 0.01), scaledChannels(192, 1.5)]).toEqual([12, 28, 4, 288]);
  });

  it('the ImageNet variant takes a width too, aux head included', () => {
    const layers = byName(inceptionV3Spec({ width: 0.5 }));
    expect(layers.get('Mixed_5b')!.outputShape).toEqual([128, 35, 35]);
    expect(layers.get('Mixed_7c')!.outputShape).toEqual([1024, 8, 8]);
    expect(layers.get('AuxLogits.conv1')).toMatchObject({ kernel: [5, 5], outputShape: [384, 1, 1] });
    expect(layers.get('fc')!.params).toBe(1024 * 1000 + 1000);
  });

  it('refuses a bad width, the ImageNet stem options, and inputs too small for the network or the aux head', () => {
    for (const width of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => inceptionV3Spec({ variant: 'cifar10', width }), String(width)).toThrow(
        /width \(the channel multiplier\) must be a finite number greater than 0/,
      );
    }
    expect(() => inceptionV3Spec({ width: 0 })).toThrow(/width/);
    expect(() => inceptionV3Spec({ variant: 'cifar10', stem: '7x7' })).toThrow(/stem and lowResolution are ImageNet ablations/);
    expect(() => inceptionV3Spec({ variant: 'cifar10', stem: 'v3' })).toThrow(/stem and lowResolution are ImageNet ablations/);
    expect(() => inceptionV3Spec({ variant: 'cifar10', lowResolution: 79 })).toThrow(/stem and lowResolution are ImageNet ablations/);
    expect(() => inceptionV3Spec({ variant: 'cifar10', inputSize: 16 })).toThrow(
      /auxiliary head needs Mixed_6e at 5×5 or more.*at least 17.*got Mixed_6e 4×4.*--no-aux/,
    );
    expect(inceptionV3Spec({ variant: 'cifar10', inputSize: 16, auxLogits: false }).at(-1)!.outputShape).toEqual([10, 1, 1]);
    expect(inceptionV3Spec({ variant: 'cifar10', inputSize: 8, auxLogits: false }).find((l) => l.name === 'Mixed_7c')!.outputShape).toEqual([2048, 1, 1]);
    expect(() => inceptionV3Spec({ variant: 'cifar10', inputSize: 7, auxLogits: false })).toThrow(/at least 8/);
    expect(() => inceptionV3Spec({ variant: 'cifar100' as 'cifar10' })).toThrow(/variant must be 'imagenet' or 'cifar10'/);
  });
});
