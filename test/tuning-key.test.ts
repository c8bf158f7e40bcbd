/**
 * The tuner's keys (src/runtime/tuning-key.ts) without a device: power-of-two buckets, the
 * stored string and its parse, the kernel checksum; and the op sets' keys: which problems share
 * a measurement (bucketed sizes) and which never do (kernel, stride, padding, alignment).
 */
import { describe, expect, it } from 'vitest';
import { conv2dShapeClass, conv2dTunables } from '../src/ops/conv2d.js';
import { conv2dBackwardInputTunables, conv2dBackwardWeightsTunables, weightChunks } from '../src/ops/conv2d-backward.js';
import { convGeometry, type Padding } from '../src/ops/conv2d-geometry.js';
import { matmulTunables } from '../src/ops/matmul.js';
import { anchor, formatTuningKey, kernelChecksum, parseTuningKey, sourceChecksum, tuningKeyString } from '../src/runtime/tuning-key.js';

function g(x: number[], w: number[], padding: Padding = 'same', stride = 1) {
  return convGeometry('test', x, w, stride, padding);
}

describe('tuning keys', () => {
  it('anchor: the next power of two, clamped', () => {
    expect([0, 1, 2, 3, 4, 5, 8, 9, 17, 35, 64, 65].map((x) => anchor(x))).toEqual([1, 1, 2, 4, 4, 8, 8, 16, 32, 64, 64, 128]);
    expect(anchor(3, { min: 8 })).toBe(8);
    expect(anchor(3000, { max: 1024 })).toBe(1024);
  });

  it('the stored string round-trips, and strings of another form do not parse', () => {
    const key = { kernels: 'fnv0012abcd', n: 4, h: 32, cout4: true, outAligned: false, kind: 'general' };
    const text = formatTuningKey(key);
    expect(text).toBe('kernels=fnv0012abcd n=4 h=32 cout4=yes outAligned=no kind=general');
    expect(parseTuningKey(text)).toEqual(key);
    // The form before structured keys, and strings without a checksum field.
    expect(parseTuningKey('kernels 1a2b3c4d n1 9x9x8 k3x3 s1x1 p1,1,1,1 cout8')).toBeUndefined();
    expect(parseTuningKey('n=4 h=32')).toBeUndefined();
    expect(parseTuningKey('')).toBeUndefined();
    expect(parseTuningKey('kernels=fnv1 n=1 n=2')).toBeUndefined();
    expect(() => formatTuningKey({ 'a b': 1 })).toThrow(/plain word/);
    expect(() => formatTuningKey({ a: 'two words' })).toThrow(/plain word/);
    expect(() => formatTuningKey({ a: Number.NaN })).toThrow(/finite/);
  });

  it('the checksum follows every kernel source, and where one ends', () => {
    expect(sourceChecksum(['ab', 'c'])).toMatch(/^[0-9a-f]{8}$/);
    expect(sourceChecksum(['ab', 'c'])).not.toBe(sourceChecksum(['a', 'bc']));
    expect(sourceChecksum(['ab', 'c'])).not.toBe(sourceChecksum(['ab', 'd']));
    // The same file twice (plain and subgroup families share code) counts once.
    expect(kernelChecksum([{ code: 'x' }, { code: 'x' }, { code: 'y' }])).toBe(sourceChecksum(['x', 'y']));
    for (const set of [conv2dTunables, matmulTunables, conv2dBackwardInputTunables, conv2dBackwardWeightsTunables]) {
      expect(set.checksum, set.op).toMatch(/^[0-9a-f]{8}$/);
    }
    expect(parseTuningKey(conv2dShapeClass(g([1, 8, 8, 8], [3, 3, 8, 8]), undefined))?.kernels).toBe(`fnv${conv2dTunables.checksum}`);
    expect(conv2dTunables.checksum).not.toBe(matmulTunables.checksum);
  });

  it('conv2d: sizes share a bucket, kernel, stride, padding and alignment facts never do', () => {
    const key = (x: number[], w: number[], padding: Padding = 'same', stride = 1) => conv2dShapeClass(g(x, w, padding, stride), undefined);
    // 5×5 and 7×7 images, batches 3 and 4, 40 and 48 channels: one measurement each.
    expect(key([1, 5, 5, 8], [3, 3, 8, 8])).toBe(key([1, 7, 7, 8], [3, 3, 8, 8]));
    expect(key([3, 7, 7, 8], [3, 3, 8, 8])).toBe(key([4, 7, 7, 8], [3, 3, 8, 8]));
    expect(key([1, 7, 7, 40], [3, 3, 40, 40])).toBe(key([1, 7, 7, 48], [3, 3, 48, 48]));
    // Batch 1 and 2, 9×9 against 7×7: other buckets.
    expect(key([1, 7, 7, 8], [3, 3, 8, 8])).not.toBe(key([2, 7, 7, 8], [3, 3, 8, 8]));
    expect(key([1, 9, 9, 8], [3, 3, 8, 8])).not.toBe(key([1, 7, 7, 8], [3, 3, 8, 8]));
    // What decides which variants apply stays exact.
    expect(key([1, 7, 7, 8], [3, 3, 8, 8])).not.toBe(key([1, 7, 7, 8], [3, 3, 8, 8], 'valid'));
    expect(key([1, 7, 7, 8], [3, 3, 8, 8])).not.toBe(key([1, 7, 7, 8], [3, 3, 8, 8], 'same', 2));
    expect(key([1, 7, 7, 8], [1, 3, 8, 8])).not.toBe(key([1, 7, 7, 8], [3, 1, 8, 8]));
    expect(key([1, 7, 7, 8], [3, 3, 8, 8])).not.toBe(key([1, 7, 7, 8], [3, 3, 8, 6]));
    expect(key([1, 7, 7, 8], [3, 3, 8, 8])).not.toBe(key([1, 7, 7, 7], [3, 3, 7, 8]));
    const g7 = g([1, 7, 7, 8], [3, 3, 8, 8]);
    expect(conv2dShapeClass(g7, { relu: true })).not.toBe(conv2dShapeClass(g7, undefined));
    expect(conv2dShapeClass(g7, undefined, { statistics: true })).not.toBe(conv2dShapeClass(g7, undefined));
    expect(conv2dShapeClass(g7, undefined, { outAligned: false })).not.toBe(conv2dShapeClass(g7, undefined));
    expect(parseTuningKey(key([3, 7, 7, 40], [1, 3, 40, 40]))).toMatchObject({ n: 4, h: 8, w: 8, cin: 64, cout: 64, kh: 1, kw: 3, padLeft: 1, cin4: true });
  });

  it('matmul and conv backward: sizes bucketed, alignment exact', () => {
    const mm = (batch: number, m: number, n: number, k: number) =>
      tuningKeyString(matmulTunables, { g: { batch, m, n, k }, epilogue: { scale: false, shift: false, relu: false }, outAligned: true });
    expect(mm(1, 100, 64, 64)).toBe(mm(1, 128, 64, 64));
    expect(mm(1, 100, 64, 64)).not.toBe(mm(1, 100, 64, 63));
    expect(mm(1, 100, 64, 64)).not.toBe(mm(2, 100, 64, 64));
    const input = (x: number[], w: number[]) => tuningKeyString(conv2dBackwardInputTunables, { g: g(x, w) });
    expect(input([1, 5, 5, 8], [3, 3, 8, 8])).toBe(input([1, 7, 7, 8], [3, 3, 8, 8]));
    expect(input([1, 7, 7, 8], [3, 3, 8, 8])).not.toBe(input([1, 7, 7, 6], [3, 3, 6, 8]));
    const weights = (x: number[], w: number[], dyAligned = true) => {
      const geometry = g(x, w);
      return tuningKeyString(conv2dBackwardWeightsTunables, { g: { ...geometry, ...weightChunks(geometry) }, dyAligned });
    };
    expect(weights([1, 7, 7, 8], [3, 3, 8, 8])).not.toBe(weights([1, 7, 7, 8], [3, 3, 8, 8], false));
    expect(weights([1, 7, 7, 8], [3, 3, 8, 8])).not.toBe(input([1, 7, 7, 8], [3, 3, 8, 8]));
  });
});
