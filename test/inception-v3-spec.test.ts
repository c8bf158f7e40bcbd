/**
 * Inception-v3's architecture as data (src/models/inception-v3-spec.ts) against the published
 * counts and shapes (../shared/docs/inception-v3.md) and against the independent table of its
 * 94 convolutions in test/cases/inception-conv-shapes.ts.
 */
import { describe, expect, it } from 'vitest';
import { inceptionV3Spec, totals, MIN_INPUT_SIZE } from '../src/models/inception-v3-spec.js';
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
      Conv2d_1a_3x3: '32×149×149', Conv2d_2a_3x3: '32×147×147', Conv2d_2b_3x3: '64×147×147', maxpool1: '64×73×73',
      Conv2d_3b_1x1: '80×73×73', Conv2d_4a_3x3: '192×71×71', maxpool2: '192×35×35', Mixed_5b: '256×35×35', Mixed_5c: '288×35×35',
      Mixed_5d: '288×35×35', Mixed_6a: '768×17×17', Mixed_6b: '768×17×17', Mixed_6c: '768×17×17', Mixed_6d: '768×17×17',
      Mixed_6e: '768×17×17', 'AuxLogits.fc': '1000×1×1', Mixed_7a: '1280×8×8', Mixed_7b: '2048×8×8', Mixed_7c: '2048×8×8', fc: '1000×1×1',
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
  });
});
