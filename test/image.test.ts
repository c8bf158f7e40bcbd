/** Image decoding (src/io/image.ts): PNGs encoded here (by fast-png and by a small independent
 * writer below) round-trip exactly in every colour type and bit depth; JPEGs encoded here by
 * jpeg-js come back within the encoder's quality; small JPEG fixtures made with ImageMagick
 * (grayscale, CMYK, progressive 4:2:0) decode to the pattern they were made from; every broken
 * input (empty, another format, truncated at any byte, corrupt) is an ImageDecodeError that
 * names the source; the module bundles for the browser. No GPU needed. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import * as esbuild from 'esbuild';
import { encode as encodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_MEGAPIXELS,
  decodeImage,
  decodeImageAsync,
  detectImageFormat,
  ImageDecodeError,
  imageHeaderSize,
  readImageFile,
  type DecodedImage,
  type DecodeImageOptions,
} from '../src/io/image.js';
import { InceptError, InvalidArgumentError } from '../src/runtime/errors.js';
import { encodeMosaicJpeg, mosaicRgbAt, randomMosaic } from './support/jpeg-mosaic.js';
import { freshSeed, makeRng, randomInt, type Rng } from './support/random.js';

const randomBytes = (rng: Rng, n: number, max = 256) => Uint8Array.from({ length: n }, () => Math.floor(rng() * max));
const randomWords = (rng: Rng, n: number) => Uint16Array.from({ length: n }, () => Math.floor(rng() * 65536));

/** The RGB bytes of an image whose pixel i has channels `f(i)`. */
function rgbOf(n: number, f: (i: number) => readonly number[]): Uint8Array {
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) out.set(f(i).slice(0, 3), 3 * i);
  return out;
}

function expectImage(got: DecodedImage, width: number, height: number, data: Uint8Array, what: string): void {
  expect([got.width, got.height], what).toEqual([width, height]);
  expect(got.data.length, what).toBe(width * height * 3);
  for (let i = 0; i < data.length; i++) {
    if (got.data[i] !== data[i]) throw new Error(`${what}: byte ${i} (pixel ${Math.floor(i / 3)}, channel ${i % 3}) is ${got.data[i]}, expected ${data[i]}`);
  }
}

// ------------------------------------------------------------------ an independent PNG writer

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

interface RawPng {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  /** Samples, one per channel per pixel (indices for palette images), row-major. */
  samples: ArrayLike<number>;
  palette?: readonly (readonly number[])[];
  /** tRNS chunk contents: alpha per palette entry, or the colour key's samples. */
  trns?: readonly number[];
  interlace?: boolean;
}

/** Writes a non-interlaced PNG (filter type 0 on every row), packing samples below 8 bits. */
function writePng(p: RawPng): Uint8Array {
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[p.colorType]!;
  const rowBits = p.width * channels * p.depth;
  const rowBytes = Math.ceil(rowBits / 8);
  const raw = new Uint8Array(p.height * (rowBytes + 1));
  for (let y = 0; y < p.height; y++) {
    const row = raw.subarray(y * (rowBytes + 1) + 1, (y + 1) * (rowBytes + 1));
    for (let s = 0; s < p.width * channels; s++) {
      const v = p.samples[y * p.width * channels + s]!;
      if (p.depth === 16) {
        row[2 * s] = v >> 8;
        row[2 * s + 1] = v & 0xff;
      } else if (p.depth === 8) row[s] = v;
      else row[(s * p.depth) >> 3] = row[(s * p.depth) >> 3]! | (v << (8 - p.depth - ((s * p.depth) & 7)));
    }
  }
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, p.width);
  view.setUint32(4, p.height);
  ihdr.set([p.depth, p.colorType, 0, 0, p.interlace ? 1 : 0], 8);
  const parts = [Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a), chunk('IHDR', ihdr)];
  if (p.palette) parts.push(chunk('PLTE', Uint8Array.from(p.palette.flatMap((e) => e.slice(0, 3)))));
  if (p.trns) {
    const t = p.colorType === 3 ? Uint8Array.from(p.trns) : new Uint8Array(p.trns.flatMap((v) => [v >> 8, v & 0xff]));
    parts.push(chunk('tRNS', t));
  }
  parts.push(chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0)));
  const out = new Uint8Array(parts.reduce((n, q) => n + q.length, 0));
  let at = 0;
  for (const q of parts) {
    out.set(q, at);
    at += q.length;
  }
  return out;
}

// --------------------------------------------------------------------------------------- PNG

describe('PNG', () => {
  const seed = freshSeed();
  const to8 = (v: number) => Math.round((v * 255) / 65535);

  it(`grayscale, grayscale + alpha, RGB, RGBA at 8 bits round-trip exactly (fast-png encoder; alpha dropped) (seed ${seed})`, () => {
    const rng = makeRng(seed);
    for (const [w, h] of [
      [1, 1],
      [37, 23],
      [64, 3],
    ] as const) {
      const n = w * h;
      for (const channels of [1, 2, 3, 4]) {
        const data = randomBytes(rng, n * channels);
        const png = encodePng({ width: w, height: h, data, channels, depth: 8 });
        const got = decodeImage(png, `c${channels}.png`);
        const ref = rgbOf(n, (i) =>
          channels <= 2 ? [data[i * channels]!, data[i * channels]!, data[i * channels]!] : [...data.subarray(i * channels, i * channels + 3)],
        );
        expectImage(got, w, h, ref, `${channels} channels ${w}×${h}`);
        expect(got.format).toBe('png');
      }
    }
  });

  it(`16-bit grayscale, RGB and RGBA scale to round(v · 255 / 65535) (seed ${seed})`, () => {
    const rng = makeRng(seed + 1);
    const [w, h] = [19, 11];
    const n = w * h;
    for (const channels of [1, 3, 4]) {
      const data = randomWords(rng, n * channels);
      // Every 16-bit value that rounds to a half-way point's neighbours appears: 128 → 0/1 edge.
      data.set([0, 128, 129, 65535, 65407, 32896].slice(0, data.length));
      const png = encodePng({ width: w, height: h, data, channels, depth: 16 });
      const got = decodeImage(png, 'deep.png');
      const ref = rgbOf(n, (i) => (channels === 1 ? [0, 0, 0].map(() => to8(data[i]!)) : [0, 1, 2].map((c) => to8(data[i * channels + c]!))));
      expectImage(got, w, h, ref, `16-bit, ${channels} channels`);
    }
  });

  it(`alpha composited over white (or a given background) when asked: round((c·a + bg·(max − a)) / max) (seed ${seed})`, () => {
    const rng = makeRng(seed + 2);
    const [w, h] = [13, 7];
    const n = w * h;
    const rgba = randomBytes(rng, n * 4);
    rgba.set([10, 20, 30, 0, 10, 20, 30, 255, 200, 100, 50, 128]);
    const over = (c: number, a: number, bg: number) => Math.round((c * a + bg * (255 - a)) / 255);
    const png = encodePng({ width: w, height: h, data: rgba, channels: 4, depth: 8 });
    expectImage(
      decodeImage(png, 'a.png', { alpha: 'composite' }),
      w,
      h,
      rgbOf(n, (i) => [0, 1, 2].map((c) => over(rgba[4 * i + c]!, rgba[4 * i + 3]!, 255))),
      'RGBA over white',
    );
    const bg = [0, 64, 255] as const;
    const got = decodeImage(png, 'a.png', { alpha: 'composite', background: bg });
    expectImage(
      got,
      w,
      h,
      rgbOf(n, (i) => [0, 1, 2].map((c) => over(rgba[4 * i + c]!, rgba[4 * i + 3]!, bg[c]!))),
      'RGBA over a colour',
    );
    expect(Array.from(got.data.subarray(0, 6))).toEqual([0, 64, 255, 10, 20, 30]);
    // Grayscale + alpha.
    const ga = randomBytes(rng, n * 2);
    const gaPng = encodePng({ width: w, height: h, data: ga, channels: 2, depth: 8 });
    expectImage(
      decodeImage(gaPng, 'ga.png', { alpha: 'composite' }),
      w,
      h,
      rgbOf(n, (i) => [0, 1, 2].map(() => over(ga[2 * i]!, ga[2 * i + 1]!, 255))),
      'gray + alpha over white',
    );
    // 16-bit RGBA: blended at 16 bits, then to 8.
    const deep = randomWords(rng, n * 4);
    const deepPng = encodePng({ width: w, height: h, data: deep, channels: 4, depth: 16 });
    const blend16 = (c: number, a: number) => Math.round(255 * ((c / 65535) * (a / 65535) + 1 - a / 65535));
    expectImage(
      decodeImage(deepPng, 'd.png', { alpha: 'composite' }),
      w,
      h,
      rgbOf(n, (i) => [0, 1, 2].map((c) => blend16(deep[4 * i + c]!, deep[4 * i + 3]!))),
      '16-bit RGBA over white',
    );
  });

  it(`palette images at 8 bits (fast-png) and 1, 2, 4 bits (packed by hand), with palette transparency (seed ${seed})`, () => {
    const rng = makeRng(seed + 3);
    const [w, h] = [23, 9];
    const n = w * h;
    // 8-bit indices through fast-png's encoder.
    const palette = Array.from({ length: 200 }, () => [...randomBytes(rng, 3)]);
    const index = randomBytes(rng, n, 200);
    const png8 = encodePng({ width: w, height: h, data: index, channels: 1, depth: 8, palette });
    expectImage(
      decodeImage(png8, 'p8.png'),
      w,
      h,
      rgbOf(n, (i) => palette[index[i]!]!),
      'palette, 8-bit',
    );
    for (const depth of [1, 2, 4, 8]) {
      const size = 1 << depth;
      const pal = Array.from({ length: size }, () => [...randomBytes(rng, 3)]);
      const alpha = [...randomBytes(rng, Math.max(1, size - 1))];
      const idx = randomBytes(rng, n, size);
      const png = writePng({ width: w, height: h, depth, colorType: 3, samples: idx, palette: pal, trns: alpha });
      expectImage(
        decodeImage(png, `p${depth}.png`),
        w,
        h,
        rgbOf(n, (i) => pal[idx[i]!]!),
        `palette, ${depth}-bit, alpha dropped`,
      );
      // Entries past the tRNS list are opaque.
      const a = (k: number) => (k < alpha.length ? alpha[k]! : 255);
      const composited = rgbOf(n, (i) => pal[idx[i]!]!.map((c) => Math.round((c * a(idx[i]!) + 255 * (255 - a(idx[i]!))) / 255)));
      expectImage(decodeImage(png, `p${depth}.png`, { alpha: 'composite' }), w, h, composited, `palette, ${depth}-bit, over white`);
    }
  });

  it(`grayscale at 1, 2 and 4 bits scales to 0..255; tRNS colour keys (grayscale and 16-bit RGB) are transparent only when compositing (seed ${seed})`, () => {
    const rng = makeRng(seed + 4);
    const [w, h] = [21, 5];
    const n = w * h;
    for (const depth of [1, 2, 4]) {
      const top = (1 << depth) - 1;
      const v = randomBytes(rng, n, top + 1);
      const key = Math.floor(top / 2);
      const png = writePng({ width: w, height: h, depth, colorType: 0, samples: v, trns: [key] });
      const grey = (i: number) => (v[i]! * 255) / top;
      expectImage(
        decodeImage(png, `g${depth}.png`),
        w,
        h,
        rgbOf(n, (i) => [grey(i), grey(i), grey(i)]),
        `gray ${depth}-bit`,
      );
      expectImage(
        decodeImage(png, `g${depth}.png`, { alpha: 'composite', background: [1, 2, 3] }),
        w,
        h,
        rgbOf(n, (i) => (v[i] === key ? [1, 2, 3] : [grey(i), grey(i), grey(i)])),
        `gray ${depth}-bit keyed`,
      );
    }
    const rgb16 = randomWords(rng, n * 3).map((x) => x & 0x8001); // few distinct colours, so the key recurs
    const key = [rgb16[3]!, rgb16[4]!, rgb16[5]!];
    const png = writePng({ width: w, height: h, depth: 16, colorType: 2, samples: rgb16, trns: key });
    const isKey = (i: number) => rgb16[3 * i] === key[0] && rgb16[3 * i + 1] === key[1] && rgb16[3 * i + 2] === key[2];
    expectImage(
      decodeImage(png, 'k.png'),
      w,
      h,
      rgbOf(n, (i) => [0, 1, 2].map((c) => to8(rgb16[3 * i + c]!))),
      'RGB16 key dropped',
    );
    expectImage(
      decodeImage(png, 'k.png', { alpha: 'composite' }),
      w,
      h,
      rgbOf(n, (i) => (isKey(i) ? [255, 255, 255] : [0, 1, 2].map((c) => to8(rgb16[3 * i + c]!)))),
      'RGB16 keyed over white',
    );
  });

  it(`Adam7-interlaced PNGs at 8 and 16 bits decode like plain ones; interlaced below 8 bits is refused by name (seed ${seed})`, () => {
    const rng = makeRng(seed + 5);
    for (const [w, h] of [
      [1, 1],
      [3, 2],
      [17, 12],
    ] as const) {
      const data = randomBytes(rng, w * h * 3);
      const plain = decodeImage(encodePng({ width: w, height: h, data, channels: 3, depth: 8 }), 'plain.png');
      const laced = decodeImage(encodePng({ width: w, height: h, data, channels: 3, depth: 8 }, { interlace: 'Adam7' }), 'laced.png');
      expectImage(laced, w, h, plain.data, `Adam7 RGB ${w}×${h}`);
      const deep = randomWords(rng, w * h * 4);
      const laced16 = decodeImage(encodePng({ width: w, height: h, data: deep, channels: 4, depth: 16 }, { interlace: 'Adam7' }), 'laced16.png');
      expectImage(
        laced16,
        w,
        h,
        rgbOf(w * h, (i) => [0, 1, 2].map((c) => to8(deep[4 * i + c]!))),
        `Adam7 RGBA16 ${w}×${h}`,
      );
    }
    const low = writePng({ width: 9, height: 9, depth: 2, colorType: 0, samples: new Uint8Array(81), interlace: true });
    expect(() => decodeImage(low, 'low.png')).toThrow(/^low\.png: unsupported PNG: Adam7-interlaced with 2-bit samples/);
  });
});

// -------------------------------------------------------------------------------------- JPEG

/** ImageMagick 6.9 fixtures of 13 × 11 pixels, made from the patterns below at quality 100
 * (grayscale; CMYK, stored by libjpeg as YCCK with Adobe's marker) and 92 (RGB, 4:2:0,
 * progressive). */
const GRAY_JPEG =
  '/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQH/wAALCAALAA0BAREA/8QAFgABAQEAAAAAAAAAAAAAAAAACAkK/8QALhAAAAIECgsAAAAAAAAAAAAACBYGBxUlAAMEBRQYQ1RhYgIJChMXJjVCRGNy/9oACAEBAAA/AAOBILfRndd7L5whryDiFvkWLd12svXGYQmMBJG5jczsk3j9ullzQOO1PCOEWF5BdW9VnEIvcO55ranXgWuNY6pDgWYsMJbNJASVHzAXzBPzEa1LZTbnegUdpS3ff//Z';
const CMYK_JPEG =
  '/9j/7gAOQWRvYmUAZAAAAAAC/9sAQwABAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB/9sAQwEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB/8AAFAgACwANBAERAAIRAQMRAQQRAP/EABcAAAMBAAAAAAAAAAAAAAAAAAgJCgf/xAArEAABAgMHAgYDAAAAAAAAAAABAgMEBQYABxESITFhJEEIEyIyQ2IVQlL/xAAYAQADAQEAAAAAAAAAAAAAAAAGCQoDCP/EACsRAAECBAQFAwUAAAAAAAAAAAECAwQFESEABhJhBwgxUWITI1IkcYGS8P/aAA4EAQACEQMRBAAAPwCZe+GIrmo4iKYp+RR74Wp1KX323YdjHUA5lp8xQI2KG1JOpx2xzjObWXvVDMeldyQQ5ba+wNqW/OHmc4vEWWZeXNGzHNeogugoQ4lRBqqx0nSCKdK1GGQSDxO1bUrqG5SiMeCzgHVqW01rtqr1EHsUoUObCzK/D5Vc1dj4uqmHFxbjqDDpyLDbTJCyUoCwTmze9WmbBJwAwAHnuZ5DytQjgkCtPcBrX7kdsTlcW+OAXmh4oiiEguge4bjWPNN+++DIuzm9QzeVxUXP3nFxC3GCyMy8iGyhwlKcx3ze89/TsMAKdqpoGjm1ueXT0vRqrZCxsB97I5k+Y54sJ1TKJVYdVJ28d/6gx3bzlZhnT8dNi7Molyq3ydSga9T8e+AQuSlcv6PpWvj7Hjm2JzCj6YS9pJYIb/orj7WOmJ5NvTH17/7DbxxP5xMmcerMLpVFOk1dvUfMbYa5d7K5f+ET0rXx9j/Kubf/2Q==';
const PROGRESSIVE_420_JPEG =
  '/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsOCwkJDRENDg8QEBEQCgwSExIQEw8QEBD/2wBDAQMDAwQDBAgEBAgQCwkLEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBD/wgARCAALAA0DASIAAhEBAxEB/8QAFgABAQEAAAAAAAAAAAAAAAAABgMH/8QAFQEBAQAAAAAAAAAAAAAAAAAAAQX/2gAMAwEAAhADEAAAAaL8bX23/8QAGRAAAgMBAAAAAAAAAAAAAAAAAgQAAxIi/9oACAEBAAEFAlHpS9yoZSkyz//EABgRAAIDAAAAAAAAAAAAAAAAAAADBQYS/9oACAEDAQE/Aa5Frwf/xAAXEQADAQAAAAAAAAAAAAAAAAAAAgMF/9oACAECAQE/AUwpH//EABUQAQEAAAAAAAAAAAAAAAAAAAAx/9oACAEBAAY/Aqqq/8QAGBAAAgMAAAAAAAAAAAAAAAAAACEQMUH/2gAIAQEAAT8hpj6Lm3P/2gAMAwEAAgADAAAAEAv/xAAWEQADAAAAAAAAAAAAAAAAAAAAEXH/2gAIAQMBAT8QSQ//xAAWEQADAAAAAAAAAAAAAAAAAAAAEUH/2gAIAQIBAT8QVh//xAAYEAACAwAAAAAAAAAAAAAAAAAAEUFhof/aAAgBAQABPxDGkzpGqwlqP//Z';
const FIXTURE_W = 13;
const FIXTURE_H = 11;
const grayPattern = (x: number, y: number) => (20 + 13 * x + 9 * y) & 255;
const colorPattern = (x: number, y: number) => [30 + 14 * x, 200 - 12 * y, 90 + 6 * x + 5 * y];
const fromBase64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

/** Largest and mean absolute difference from an expected RGB image. */
/** How far libjpeg-turbo's decoding and jpeg-js's lie apart on the noise JPEGs below, in levels:
 * measured at most 3 (mean under 0.7) over many images. */
const JPEG_JS_MAX = 5;
const JPEG_JS_MEAN = 1;

function difference(got: Uint8Array, ref: Uint8Array): { max: number; mean: number } {
  let max = 0;
  let sum = 0;
  for (let i = 0; i < ref.length; i++) {
    const e = Math.abs(got[i]! - ref[i]!);
    max = Math.max(max, e);
    sum += e;
  }
  return { max, mean: sum / ref.length };
}

describe('JPEG', () => {
  const seed = freshSeed();

  it(`random pixels encoded by jpeg-js decode (libjpeg-turbo's decoder) close to jpeg-js's own decoding, within the quality's error of the original (seed ${seed})`, () => {
    const rng = makeRng(seed);
    // Measured over many images: quality 100 stays within 4 levels (mean 0.6); quality 90 has
    // a mean error near 6 on pure noise.
    for (const [quality, maxErr, meanErr] of [
      [100, 10, 1.5],
      [90, 80, 10],
    ] as const) {
      for (const [w, h] of [
        [1, 1],
        [8, 8],
        [57, 41],
        [3, 70],
      ] as const) {
        const rgba = randomBytes(rng, w * h * 4);
        const bytes = new Uint8Array(jpeg.encode({ width: w, height: h, data: rgba }, quality).data);
        const got = decodeImage(bytes, 'noise.jpg');
        expect(got.format).toBe('jpeg');
        expect(got.decoder).toBe('mozjpeg');
        expect([got.width, got.height]).toEqual([w, h]);
        // jpeg-js (an independent decoder; its encoder writes 4:4:4) rounds its IDCT and colour
        // conversion differently: a few levels apart at most (test/preprocess-torchvision.test.ts
        // checks libjpeg-turbo's output against PIL's exactly).
        const direct = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
        const apart = difference(got.data, direct.data);
        expect(apart.max, `q${quality} ${w}×${h} vs jpeg-js, worst`).toBeLessThanOrEqual(JPEG_JS_MAX);
        expect(apart.mean, `q${quality} ${w}×${h} vs jpeg-js, mean`).toBeLessThanOrEqual(JPEG_JS_MEAN);
        const d = difference(
          got.data,
          rgbOf(w * h, (i) => [...rgba.subarray(4 * i, 4 * i + 3)]),
        );
        expect(d.max, `q${quality} ${w}×${h} worst error`).toBeLessThanOrEqual(maxErr);
        expect(d.mean, `q${quality} ${w}×${h} mean error`).toBeLessThanOrEqual(meanErr);
      }
    }
  });

  it('grayscale, CMYK (YCCK, Adobe marker) and progressive 4:2:0 JPEGs decode to the patterns they were made from', () => {
    const n = FIXTURE_W * FIXTURE_H;
    const at = (i: number) => [i % FIXTURE_W, Math.floor(i / FIXTURE_W)] as const;
    const gray = decodeImage(fromBase64(GRAY_JPEG), 'gray.jpg');
    const grayRef = rgbOf(n, (i) => [0, 0, 0].map(() => grayPattern(...at(i))));
    expect([gray.width, gray.height]).toEqual([FIXTURE_W, FIXTURE_H]);
    expect(difference(gray.data, grayRef).max).toBeLessThanOrEqual(1);
    for (let i = 0; i < n; i++) expect(gray.data[3 * i]).toBe(gray.data[3 * i + 2]);
    const colorRef = rgbOf(n, (i) => colorPattern(...at(i)));
    const cmyk = decodeImage(fromBase64(CMYK_JPEG), 'cmyk.jpg');
    // libjpeg does not convert YCCK to RGB: jpeg-js does.
    expect(cmyk.decoder).toBe('jpeg-js');
    expect(gray.decoder).toBe('mozjpeg');
    expect([cmyk.width, cmyk.height]).toEqual([FIXTURE_W, FIXTURE_H]);
    expect(difference(cmyk.data, colorRef).max).toBeLessThanOrEqual(4);
    // libjpeg-turbo's triangle ("fancy") chroma upsampling is 9 levels off the pattern at worst
    // and 1.9 on average here (replicating the chroma, as jpeg-js does, 14 and 4.3).
    const progressive = decodeImage(fromBase64(PROGRESSIVE_420_JPEG), 'progressive.jpg');
    expect(progressive.decoder).toBe('mozjpeg');
    const d = difference(progressive.data, colorRef);
    expect(d.max).toBeLessThanOrEqual(20);
    expect(d.mean).toBeLessThanOrEqual(5);
  });

  it('a four-component JPEG without the Adobe marker is refused by name', () => {
    const bytes = fromBase64(CMYK_JPEG);
    // Drop the APP14 segment (FF EE, length 14) that follows SOI.
    expect([bytes[2], bytes[3]]).toEqual([0xff, 0xee]);
    const stripped = new Uint8Array([...bytes.subarray(0, 2), ...bytes.subarray(2 + 2 + 14)]);
    expect(() => decodeImage(stripped, 'cmyk-no-adobe.jpg')).toThrow(
      /^cmyk-no-adobe\.jpg: unsupported JPEG: four components \(CMYK\) without the Adobe APP14 marker/,
    );
  });
});

// ------------------------------------------------------------------------------------ errors

function expectDecodeError(bytes: Uint8Array, source: string, pattern: RegExp, options: DecodeImageOptions = {}): ImageDecodeError {
  let error: unknown;
  try {
    decodeImage(bytes, source, options);
  } catch (e) {
    error = e;
  }
  if (!(error instanceof ImageDecodeError))
    throw new Error(`${source}: expected an ImageDecodeError, got ${error === undefined ? 'a decoded image' : String(error)}`);
  expect(error).toBeInstanceOf(InceptError);
  expect(error.source).toBe(source);
  expect(error.message.startsWith(`${source}: `)).toBe(true);
  expect(error.message).toMatch(pattern);
  return error;
}

describe('broken input', () => {
  const seed = freshSeed();

  it('empty input, other formats and random bytes: the message shows the first bytes and what they look like', () => {
    expectDecodeError(new Uint8Array(0), 'empty.jpg', /^empty\.jpg: empty input \(0 bytes\)/);
    const gif = Uint8Array.from([...'GIF89a'].map((c) => c.charCodeAt(0)).concat([1, 0, 1, 0, 0x80]));
    expectDecodeError(
      gif,
      'cat.gif',
      /not a JPEG or PNG image: the first bytes are 47 49 46 38 39 61 01 00 …, which looks like GIF\. Supported: JPEG \(starts FF D8 FF\) and PNG/,
    );
    const webp = Uint8Array.from([...'RIFF\x10\0\0\0WEBPVP8 '].map((c) => c.charCodeAt(0)));
    expectDecodeError(webp, 'x.webp', /which looks like WebP/);
    const html = new TextEncoder().encode('<!DOCTYPE html><html><body>404</body></html>');
    expectDecodeError(html, 'https://example.test/img.jpg', /which looks like an HTML page/);
    expectDecodeError(Uint8Array.of(0, 1, 2), 'three', /^three: not a JPEG or PNG image: the first bytes are 00 01 02\. Supported/);
    expectDecodeError(Uint8Array.of(0x89, 0x50, 0x4e, 0x47), 'short.png', /^short\.png: truncated PNG: only 4 byte\(s\)/);
    expectDecodeError(Uint8Array.of(0xff, 0xd8), 'short.jpg', /^short\.jpg: truncated JPEG: only 2 byte\(s\)/);
    expect(() => decodeImage('not bytes' as never, 'str')).toThrow(/^decodeImage: bytes of 'str' must be a Uint8Array or ArrayBuffer, got string/);
    expect(() => decodeImage(new Uint8Array(4), 'opts', { alpha: 'white' as never })).toThrow(InvalidArgumentError);
    expect(() => decodeImage(new Uint8Array(4), 'opts', { alpha: 'white' as never })).toThrow(/^decodeImage: alpha must be 'drop' or 'composite', got "white"/);
    expect(() => decodeImage(new Uint8Array(4), 'opts', { alpha: 'composite', background: [0, 0, 256] })).toThrow(
      /^decodeImage: background must be three integers in \[0, 255\]/,
    );
    expect(() => decodeImage(new Uint8Array(4), 'opts', { maxMegapixels: 0 })).toThrow(/^decodeImage: maxMegapixels must be a number > 0/);
    // A header claiming 5000 × 3000 (refused before anything is inflated).
    const big = writePng({ width: 1, height: 1, depth: 8, colorType: 0, samples: [0] });
    new DataView(big.buffer).setUint32(16, 5000);
    new DataView(big.buffer).setUint32(20, 3000);
    expectDecodeError(
      big,
      'big.png',
      /^big\.png: PNG too large: its header says 5000×3000 pixels \(15\.0 megapixels\), more than the pixel budget of 10 megapixels/,
      { maxMegapixels: 10 },
    );
    expect(detectImageFormat(Uint8Array.of(0xff, 0xd8, 0xff, 0xe0))).toBe('jpeg');
    expect(detectImageFormat(gif)).toBeUndefined();
    // An ArrayBuffer and a Uint8Array at an offset are read the same way.
    const png = encodePng({ width: 2, height: 2, data: new Uint8Array(12).fill(9), channels: 3, depth: 8 });
    const padded = new Uint8Array(png.length + 3);
    padded.set(png, 3);
    expect(Array.from(decodeImage(padded.subarray(3), 'view.png').data)).toEqual(new Array(12).fill(9));
    expect(Array.from(decodeImage(png.slice().buffer, 'buffer.png').data)).toEqual(new Array(12).fill(9));
  });

  it(`a PNG cut at any byte, or with any byte flipped inside a chunk, is an error naming the file (seed ${seed})`, () => {
    const rng = makeRng(seed);
    const png = encodePng({ width: 9, height: 7, data: randomBytes(rng, 9 * 7 * 4), channels: 4, depth: 8 });
    for (let cut = 1; cut < png.length; cut++) {
      expectDecodeError(png.subarray(0, cut), 'cut.png', cut < 8 ? /truncated PNG: only/ : /truncated PNG|corrupt PNG/);
    }
    expectDecodeError(
      png.subarray(0, png.length - 20),
      'cut.png',
      /^cut\.png: truncated PNG \(\d+ bytes: the file ends inside a chunk, before IEND; cut short, or a chunk's length is damaged\)/,
    );
    for (let k = 0; k < 40; k++) {
      const at = randomInt(rng, 8, png.length - 1);
      const bad = png.slice();
      bad[at] = bad[at]! ^ (1 << randomInt(rng, 0, 7));
      expectDecodeError(bad, 'flipped.png', /PNG/);
    }
  });

  it(`a JPEG cut at any byte after its first three is an error naming the file, saying when it looks truncated (seed ${seed})`, () => {
    const rng = makeRng(seed + 1);
    const bytes = new Uint8Array(jpeg.encode({ width: 20, height: 12, data: randomBytes(rng, 20 * 12 * 4) }, 85).data);
    for (let cut = 1; cut < bytes.length - 1; cut++) expectDecodeError(bytes.subarray(0, cut), 'cut.jpg', /JPEG/);
    expectDecodeError(
      bytes.subarray(0, Math.floor(bytes.length * 0.7)),
      'cut.jpg',
      /^cut\.jpg: truncated or corrupt JPEG \(\d+ bytes, no end-of-image marker FF D9 near the end: the file looks cut short\) \(jpeg-js: /,
    );
    // Corrupt entropy-coded data with a proper end marker: an error, not a crash.
    const progressive = fromBase64(PROGRESSIVE_420_JPEG);
    for (let k = 0; k < 30; k++) {
      const bad = progressive.slice();
      bad.fill(0xff, randomInt(rng, 200, bad.length - 40), bad.length - 2);
      try {
        decodeImage(bad, 'garbled.jpg');
      } catch (e) {
        expect(e).toBeInstanceOf(ImageDecodeError);
        expect((e as Error).message).toMatch(/^garbled\.jpg: /);
      }
    }
  });
});

// ------------------------------------------------------------------------------ pixel budget

describe('pixel budget: sizes are read from the header and checked before any pixel is decoded', () => {
  const seed = freshSeed();

  it(`the default budget is ${DEFAULT_MAX_MEGAPIXELS} megapixels: room for a 48 MP photo (8000×6000), not for 9990×9990`, () => {
    expect(DEFAULT_MAX_MEGAPIXELS).toBeGreaterThanOrEqual(48);
    expect(DEFAULT_MAX_MEGAPIXELS * 1e6).toBeLessThan(9990 * 9990);
  });

  it('a 97 KB PNG whose header says 9990×9990 (a decompression bomb, made by fast-png) is refused with its size and the budget', () => {
    const bomb = encodePng({ width: 9990, height: 9990, data: new Uint8Array(9990 * 9990), channels: 1, depth: 8 });
    expect(bomb.length).toBeLessThan(200_000);
    expectDecodeError(
      bomb,
      'bomb.png',
      new RegExp(
        `^bomb\\.png: PNG too large: its header says 9990×9990 pixels \\(99\\.8 megapixels\\), more than the pixel budget of ${DEFAULT_MAX_MEGAPIXELS} megapixels \\(maxMegapixels\\); nothing was decoded`,
      ),
    );
    expect(imageHeaderSize(bomb)).toEqual({ format: 'png', width: 9990, height: 9990 });
  });

  it(`a complete 9990×9990 JPEG is refused from its frame header, with its size and the budget (seed ${seed})`, () => {
    const bytes = encodeMosaicJpeg(randomMosaic(makeRng(seed), 9990, 9990));
    expectDecodeError(
      bytes,
      'huge.jpg',
      new RegExp(
        `^huge\\.jpg: JPEG too large: its header says 9990×9990 pixels \\(99\\.8 megapixels\\), more than the pixel budget of ${DEFAULT_MAX_MEGAPIXELS} megapixels \\(maxMegapixels\\); nothing was decoded`,
      ),
    );
    expect(imageHeaderSize(bytes)).toEqual({ format: 'jpeg', width: 9990, height: 9990 });
    // A frame header after other segments, and progressive frames, are found too.
    const progressive = fromBase64(PROGRESSIVE_420_JPEG);
    expect(imageHeaderSize(progressive)).toEqual({ format: 'jpeg', width: FIXTURE_W, height: FIXTURE_H });
    expect(imageHeaderSize(fromBase64(CMYK_JPEG))).toEqual({ format: 'jpeg', width: FIXTURE_W, height: FIXTURE_H });
    // Bytes that end before the frame header give no size (the decoder then says what is wrong).
    expect(imageHeaderSize(bytes.subarray(0, 30))).toBeUndefined();
    expect(imageHeaderSize(Uint8Array.of(1, 2, 3))).toBeUndefined();
  });

  it(`maxMegapixels moves the budget both ways, for PNG and JPEG (seed ${seed})`, () => {
    const rng = makeRng(seed + 1);
    const rgba = randomBytes(rng, 40 * 30 * 4);
    const png = encodePng({ width: 40, height: 30, data: rgba, channels: 4, depth: 8 });
    const jpg = new Uint8Array(jpeg.encode({ width: 40, height: 30, data: rgba }, 90).data);
    for (const [bytes, name, format] of [
      [png, 'small.png', 'PNG'],
      [jpg, 'small.jpg', 'JPEG'],
    ] as const) {
      // 1200 pixels: refused at 0.0011 megapixels, decoded at 0.0012.
      expectDecodeError(
        bytes,
        name,
        new RegExp(
          `^${name.replace('.', '\\.')}: ${format} too large: its header says 40×30 pixels \\(0\\.0012 megapixels\\), more than the pixel budget of 0\\.0011 megapixels`,
        ),
        { maxMegapixels: 0.0011 },
      );
      expect(decodeImage(bytes, name, { maxMegapixels: 0.0012 }).width).toBe(40);
    }
    expect(() => decodeImage(png, 'x.png', { maxMegapixels: Number.NaN })).toThrow(/^decodeImage: maxMegapixels must be a number > 0, got NaN/);
  });

  it(`a 48-megapixel 4:2:0 JPEG (8000×6000) decodes under the default budget to the colours it was made of (seed ${seed})`, () => {
    const plan = randomMosaic(makeRng(seed + 2), 8000, 6000);
    const image = decodeImage(encodeMosaicJpeg(plan), 'photo48.jpg');
    expect([image.width, image.height, image.data.length]).toEqual([8000, 6000, 8000 * 6000 * 3]);
    expect(image.decoder).toBe('mozjpeg');
    const rng = makeRng(seed + 3);
    for (let k = 0; k < 2000; k++) {
      // Away from the edges of the 16 × 16 chroma blocks, where libjpeg's triangle upsampling
      // blends in the neighbouring block's chroma (a quarter of it).
      const x = 16 * randomInt(rng, 0, 499) + randomInt(rng, 1, 14);
      const y = 16 * randomInt(rng, 0, 374) + randomInt(rng, 1, 14);
      const want = mosaicRgbAt(plan, x, y);
      for (let c = 0; c < 3; c++) {
        const got = image.data[(y * 8000 + x) * 3 + c]!;
        // Rounded to 8 bits once by the IDCT and once by the colour conversion.
        if (Math.abs(got - Math.min(255, Math.max(0, want[c]!))) > 2) throw new Error(`pixel (${x}, ${y}) channel ${c}: ${got}, made as ${want[c]}`);
      }
    }
  });
});

// ------------------------------------------------------------------------------ files, browser

describe('readImageFile and the browser bundle', () => {
  it('reads and decodes a file by path; a missing file is an error naming the path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'incept-image-'));
    try {
      const data = Uint8Array.from({ length: 5 * 4 * 3 }, (_, i) => (i * 37) & 255);
      const path = join(dir, 'picture.png');
      writeFileSync(path, encodePng({ width: 5, height: 4, data, channels: 3, depth: 8 }));
      const got = await readImageFile(path);
      expectImage(got, 5, 4, data, 'file');
      writeFileSync(join(dir, 'bad.jpg'), Uint8Array.of(0xff, 0xd8, 0xff, 0xe0, 0, 16));
      await expect(readImageFile(join(dir, 'bad.jpg'))).rejects.toThrow(
        new RegExp(`^${join(dir, 'bad.jpg').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: truncated or corrupt JPEG`),
      );
      await expect(readImageFile(join(dir, 'missing.png'))).rejects.toThrow(/missing\.png: could not read the file: ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const asyncSeed = freshSeed();
  it(`decodeImageAsync in Node is decodeImage (the platform decoder is a browser's), for bytes and Blobs (seed ${asyncSeed})`, async () => {
    const rng = makeRng(asyncSeed);
    const rgba = randomBytes(rng, 9 * 7 * 4);
    const jpg = new Uint8Array(jpeg.encode({ width: 9, height: 7, data: rgba }, 90).data);
    const png = encodePng({ width: 9, height: 7, data: rgba, channels: 4, depth: 8 });
    for (const [bytes, name, decoder] of [
      [jpg, 'a.jpg', 'mozjpeg'],
      [png, 'a.png', 'fast-png'],
    ] as const) {
      const sync = decodeImage(bytes, name);
      for (const input of [bytes, new Blob([bytes as Uint8Array<ArrayBuffer>])]) {
        const got = await decodeImageAsync(input, name);
        expect(got.decoder).toBe(decoder);
        expectImage(got, 9, 7, sync.data, `${name} async`);
      }
    }
    await expect(decodeImageAsync(jpg.subarray(0, 40), 'cut.jpg')).rejects.toThrow(/^cut\.jpg: truncated or corrupt JPEG/);
  });

  it('bundles for the browser (esbuild, platform browser) and decodes there without Node globals', async () => {
    const result = await esbuild.build({
      stdin: {
        contents: "export { decodeImage } from './src/io/image.ts'; export { preprocess } from './src/io/preprocess.ts';",
        resolveDir: process.cwd(),
        loader: 'ts',
      },
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'chrome120',
      loader: { '.wgsl': 'text' },
      write: false,
      logLevel: 'silent',
    });
    expect(result.errors).toEqual([]);
    const code = result.outputFiles[0]!.text;
    expect(code).not.toMatch(/from\s*["']node:/);
    const dir = mkdtempSync(join(tmpdir(), 'incept-bundle-'));
    try {
      const file = join(dir, 'bundle.mjs');
      writeFileSync(file, code);
      const mod = (await import(/* @vite-ignore */ file)) as typeof import('../src/io/image.js');
      const rgba = Uint8Array.from({ length: 6 * 5 * 4 }, (_, i) => (i * 11) & 255);
      const png = encodePng({ width: 6, height: 5, data: rgba, channels: 4, depth: 8 });
      const jpg = new Uint8Array(jpeg.encode({ width: 6, height: 5, data: rgba }, 95).data);
      // No Buffer, as in a browser.
      const g = globalThis as { Buffer?: unknown };
      const saved = g.Buffer;
      delete g.Buffer;
      let fromPng: DecodedImage;
      let fromJpeg: DecodedImage;
      try {
        fromPng = mod.decodeImage(png, 'b.png');
        fromJpeg = mod.decodeImage(jpg, 'b.jpg');
      } finally {
        g.Buffer = saved;
      }
      expect(Array.from(fromPng.data)).toEqual(Array.from(decodeImage(png, 'b.png').data));
      // Away from Node's module resolution (the bundle sits in a temporary folder, as in a
      // browser), JPEGs go to jpeg-js.
      expect(fromJpeg.decoder).toBe('jpeg-js');
      expect(Array.from(fromJpeg.data)).toEqual(Array.from(jpeg.decode(jpg, { useTArray: true, formatAsRGBA: false }).data));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
