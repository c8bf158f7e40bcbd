/** safetensors: encoding, decoding (F16, BF16, F64, I64 conversions), the file layout byte by
 * byte, every validation error, files of GPU tensors, and checkpoint pairs. */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { InvalidArgumentError } from '../src/runtime/errors.js';
import {
  SafetensorsError,
  decodeSafetensors,
  encodeSafetensors,
  f16BitsToNumber,
  loadSafetensors,
  saveSafetensors,
  uploadTensors,
  type SafetensorsInput,
} from '../src/io/safetensors.js';
import { CHECKPOINT_ID_KEY, readCheckpoint, writeCheckpoint } from '../src/io/checkpoint-file.js';
import { testEngine } from './support/engine.js';
import { freshSeed, makeRng, randomInt, type Rng } from './support/random.js';

let engine: Engine;
let dir: string;
beforeAll(async () => {
  engine = await testEngine();
  dir = mkdtempSync(join(tmpdir(), 'incept-safetensors-'));
});
afterAll(() => {
  engine?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A file from a header (object or raw text) and a data buffer, exactly as given: no padding, no
 * checks, so tests can build files the encoder would never write. */
function build(header: object | string, data: ArrayLike<number> = [], pad = 0): Uint8Array {
  const json = new TextEncoder().encode((typeof header === 'string' ? header : JSON.stringify(header)) + ' '.repeat(pad));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(Array.from(data), 8 + json.length);
  return out;
}

function bytesOf(a: ArrayBufferView): number[] {
  return Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
}

function headerOf(file: Uint8Array): { n: number; text: string; header: Record<string, any> } {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  const text = new TextDecoder().decode(file.subarray(8, 8 + n));
  return { n, text, header: JSON.parse(text) };
}

function expectError(fn: () => unknown, ...patterns: RegExp[]): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error, 'expected an error').toBeInstanceOf(SafetensorsError);
  const message = (error as Error).message;
  expect(message.startsWith('model.safetensors: '), message).toBe(true);
  for (const p of patterns) expect(message).toMatch(p);
}

const decode = (bytes: Uint8Array) => decodeSafetensors(bytes, 'model.safetensors');

function randomShape(rng: Rng): number[] {
  const rank = randomInt(rng, 0, 4);
  return Array.from({ length: rank }, () => randomInt(rng, 1, 5));
}

describe('encoding and decoding', () => {
  it('round-trips random tensors of every written dtype and odd shapes, with metadata', () => {
    const seed = freshSeed();
    const rng = makeRng(seed);
    const u32 = () => Math.floor(rng() * 2 ** 32);
    const fill = <T extends { length: number; [i: number]: number }>(a: T, f: () => number): T => {
      for (let i = 0; i < a.length; i++) a[i] = f();
      return a;
    };
    const inputs = new Map<string, SafetensorsInput>();
    const shapes = [[], [0, 3], [1], [3, 0], [7], [2, 3, 5], ...Array.from({ length: 4 }, () => randomShape(rng))];
    shapes.forEach((shape, k) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const bits = fill(new Uint32Array(n), u32);
      bits[0 % Math.max(n, 1)] = n > 0 ? 0x7fc00001 : 0; // a NaN with a payload survives too
      inputs.set(`f32.${k}`, { shape, data: new Float32Array(bits.buffer) });
      inputs.set(`i32.${k}`, { shape, data: fill(new Int32Array(n), () => u32() | 0) });
      inputs.set(`u32.${k}`, { dtype: 'u32', shape, data: fill(new Uint32Array(n), u32) });
      inputs.set(`i64.${k}`, { shape, data: BigInt64Array.from({ length: n }, () => BigInt(u32() | 0)) });
      inputs.set(`i64w.${k}`, { dtype: 'I64', shape, data: fill(new Int32Array(n), () => u32() | 0) });
      inputs.set(`i16.${k}`, { shape, data: fill(new Int16Array(n), () => u32() & 0xffff) });
      inputs.set(`u16.${k}`, { shape, data: fill(new Uint16Array(n), () => u32() & 0xffff) });
      inputs.set(`i8.${k}`, { shape, data: fill(new Int8Array(n), () => u32() & 0xff) });
      inputs.set(`u8.${k}`, { shape, data: fill(new Uint8Array(n), () => u32() & 0xff) });
      inputs.set(`bool.${k}`, { dtype: 'BOOL', shape, data: fill(new Uint8Array(n), () => u32() & 1) });
    });
    const metadata = { format: 'pt', note: 'ünïcode ✓', empty: '' };
    const file = encodeSafetensors(inputs, metadata);
    const { tensors, metadata: readBack } = decode(file);
    expect(readBack).toEqual(metadata);
    expect([...tensors.keys()].sort()).toEqual([...inputs.keys()].sort());
    const expectedDtype: Record<string, [string, abstract new (...args: never[]) => unknown]> = {
      f32: ['F32', Float32Array],
      i32: ['I32', Int32Array],
      u32: ['U32', Uint32Array],
      i64: ['I64', Int32Array],
      i64w: ['I64', Int32Array],
      i16: ['I16', Int16Array],
      u16: ['U16', Uint16Array],
      i8: ['I8', Int8Array],
      u8: ['U8', Uint8Array],
      bool: ['BOOL', Uint8Array],
    };
    for (const [name, input] of inputs) {
      const t = tensors.get(name)!;
      const [dtype, ctor] = expectedDtype[name.split('.')[0]!]!;
      expect(t.dtype, `${name} (seed ${seed})`).toBe(dtype);
      expect(t.shape, name).toEqual(input.shape);
      expect(t.data, name).toBeInstanceOf(ctor);
      if (input.data instanceof BigInt64Array) expect(Array.from(t.data), name).toEqual(Array.from(input.data, Number));
      else if (input.data instanceof Float32Array)
        expect(bytesOf(t.data), name).toEqual(bytesOf(input.data)); // bit-exact
      else expect(Array.from(t.data), name).toEqual(Array.from(input.data));
    }
    // A plain record works as well, and the scalar holds one element.
    const scalar = decode(encodeSafetensors({ s: { shape: [], data: new Float32Array([Math.PI]) } })).tensors.get('s')!;
    expect(scalar.shape).toEqual([]);
    expect(Array.from(scalar.data)).toEqual([Math.fround(Math.PI)]);
    // No tensors at all is a valid file too.
    expect(decode(encodeSafetensors({})).tensors.size).toBe(0);
  });

  it('decodes F16 exactly: 1, −2.5, 65504, subnormals, ±0, ±inf, NaN', () => {
    const cases: [number, number][] = [
      [0x3c00, 1],
      [0xc100, -2.5],
      [0x7bff, 65504],
      [0xfbff, -65504],
      [0x0001, 2 ** -24],
      [0x8001, -(2 ** -24)],
      [0x03ff, 1023 * 2 ** -24],
      [0x0400, 2 ** -14],
      [0x3555, 0.333251953125],
      [0x0000, 0],
      [0x8000, -0],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
      [0x7e00, NaN],
      [0x7c01, NaN],
    ];
    const bits = new Uint8Array(cases.length * 2);
    cases.forEach(([b], i) => new DataView(bits.buffer).setUint16(2 * i, b, true));
    const t = decode(build({ h: { dtype: 'F16', shape: [cases.length], data_offsets: [0, bits.length] } }, bits)).tensors.get('h')!;
    expect(t.dtype).toBe('F16');
    expect(t.data).toBeInstanceOf(Float32Array);
    cases.forEach(([b, v], i) => expect(Object.is(t.data[i], v), `0x${b.toString(16)} → ${t.data[i]}, want ${v}`).toBe(true));
    // Every finite half is a float32 exactly, and the conversion is monotonic over positive bits.
    let notIncreasing = -1;
    for (let h = 1; h < 0x7c00 && notIncreasing < 0; h++) {
      const v = f16BitsToNumber(h);
      if (!(v > f16BitsToNumber(h - 1)) || Math.fround(v) !== v) notIncreasing = h;
    }
    expect(notIncreasing).toBe(-1);
  });

  it('decodes BF16 exactly (including subnormals, ±inf, NaN)', () => {
    const cases: [number, number][] = [
      [0x3f80, 1],
      [0xc020, -2.5],
      [0x477f, 65280],
      [0x4780, 65536],
      [0x7f7f, 3.3895313892515355e38],
      [0x0001, 2 ** -133],
      [0x007f, 127 * 2 ** -133],
      [0x0080, 2 ** -126],
      [0x8000, -0],
      [0x7f80, Infinity],
      [0xff80, -Infinity],
      [0x7fc0, NaN],
    ];
    const bits = new Uint8Array(cases.length * 2);
    cases.forEach(([b], i) => new DataView(bits.buffer).setUint16(2 * i, b, true));
    const t = decode(build({ b: { dtype: 'BF16', shape: [3, 4], data_offsets: [0, bits.length] } }, bits)).tensors.get('b')!;
    expect(t.shape).toEqual([3, 4]);
    cases.forEach(([b, v], i) => expect(Object.is(t.data[i], v), `0x${b.toString(16)} → ${t.data[i]}, want ${v}`).toBe(true));
  });

  it('decodes F64 rounded to float32, and I64 / U64 into 32-bit arrays', () => {
    const f64 = new Float64Array([1.5, -2.5, 0.1, 1e-50, -1e-40, 3.4028235e38, Infinity, NaN, 16777217]);
    const i64 = new BigInt64Array([0n, -1n, 2n ** 31n - 1n, -(2n ** 31n), 123456789n]);
    const u64 = new BigUint64Array([0n, 2n ** 32n - 1n, 7n]);
    const data = [...bytesOf(f64), ...bytesOf(i64), ...bytesOf(u64)];
    const { tensors } = decode(
      build(
        {
          d: { dtype: 'F64', shape: [9], data_offsets: [0, 72] },
          l: { dtype: 'I64', shape: [5], data_offsets: [72, 112] },
          u: { dtype: 'U64', shape: [1, 3], data_offsets: [112, 136] },
        },
        data,
      ),
    );
    expect(tensors.get('d')!.data).toBeInstanceOf(Float32Array);
    expect(Array.from(tensors.get('d')!.data)).toEqual(Array.from(f64, Math.fround));
    expect(tensors.get('l')!.data).toBeInstanceOf(Int32Array);
    expect(Array.from(tensors.get('l')!.data)).toEqual([0, -1, 2 ** 31 - 1, -(2 ** 31), 123456789]);
    expect(tensors.get('u')!.data).toBeInstanceOf(Uint32Array);
    expect(Array.from(tensors.get('u')!.data)).toEqual([0, 2 ** 32 - 1, 7]);
  });

  it('reads tensors at unaligned offsets and from an unaligned view of the bytes', () => {
    const f = new Float32Array([1.25, -3, 1e-30]);
    const data = [7, ...bytesOf(f)]; // U8 [1] first: the F32 tensor starts at offset 1
    const file = build({ a: { dtype: 'U8', shape: [1], data_offsets: [0, 1] }, b: { dtype: 'F32', shape: [3], data_offsets: [1, 13] } }, data, 3);
    const shifted = new Uint8Array(file.length + 3);
    shifted.set(file, 3);
    for (const bytes of [file, shifted.subarray(3)]) {
      const { tensors } = decode(bytes);
      expect(Array.from(tensors.get('a')!.data)).toEqual([7]);
      expect(Array.from(tensors.get('b')!.data)).toEqual(Array.from(f));
    }
    // The arrays are copies: changing the input does not change them.
    const { tensors } = decode(file);
    file.fill(0);
    expect(tensors.get('b')!.data[0]).toBe(1.25);
  });

  it('reads a Node Buffer that is a view into a larger pool (Buffer.slice does not copy)', () => {
    const i64 = new BigInt64Array([1n, -7n, 2n ** 31n - 1n]);
    const f = new Float32Array([0.5, -1e-20, 3]);
    const file = build({ n: { dtype: 'I64', shape: [3], data_offsets: [0, 24] }, x: { dtype: 'F32', shape: [3], data_offsets: [24, 36] } }, [
      ...bytesOf(i64),
      ...bytesOf(f),
    ]);
    const pooled = Buffer.concat([Buffer.alloc(5, 0xff), Buffer.from(file), Buffer.alloc(3, 0xee)]).subarray(5, 5 + file.length);
    const before = Buffer.from(pooled);
    const { tensors } = decode(pooled);
    expect(Array.from(tensors.get('n')!.data)).toEqual([1, -7, 2 ** 31 - 1]);
    expect(Array.from(tensors.get('x')!.data)).toEqual(Array.from(f));
    expect(pooled.equals(before)).toBe(true); // the caller's bytes are left as they were
  });
});

describe('file layout', () => {
  it('writes a one-tensor file byte for byte: length, JSON, space padding, little-endian data', () => {
    const file = encodeSafetensors({ x: { shape: [1], data: new Float32Array([1]) } });
    const json = '{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'; // 54 bytes → padded to 56
    expect(json.length).toBe(54);
    const expected = [56, 0, 0, 0, 0, 0, 0, 0, ...new TextEncoder().encode(json), 0x20, 0x20, 0x00, 0x00, 0x80, 0x3f];
    expect(Array.from(file)).toEqual(expected);
  });

  it('pads the header to 8 bytes with spaces and writes tensors in sorted order, contiguously', () => {
    for (let extra = 0; extra < 8; extra++) {
      const name = `t${'x'.repeat(extra)}`;
      const file = encodeSafetensors({ [name]: { shape: [2], data: new Int32Array([1, 2]) } });
      const { n, text } = headerOf(file);
      expect(n % 8).toBe(0);
      expect(text.trimEnd()).toBe(JSON.stringify({ [name]: { dtype: 'I32', shape: [2], data_offsets: [0, 8] } }));
      expect(text.slice(text.trimEnd().length)).toMatch(/^ {0,7}$/);
      expect(file.length).toBe(8 + n + 8);
    }

    // Same element size: name order (by code point). Given out of order on purpose.
    const names = ['z', 'a', 'm', 'B', 'a.10', 'a.9', 'é'];
    const inputs = new Map(names.map((nm, i) => [nm, { shape: [1], data: new Uint32Array([0x01020300 + i]) } as SafetensorsInput]));
    const file = encodeSafetensors(inputs, { k: 'v' });
    const { n, header } = headerOf(file);
    const sorted = ['B', 'a', 'a.10', 'a.9', 'm', 'z', 'é'];
    expect(Object.keys(header)).toEqual(['__metadata__', ...sorted]);
    sorted.forEach((nm, k) => {
      expect(header[nm].data_offsets).toEqual([4 * k, 4 * k + 4]);
      const i = names.indexOf(nm);
      expect(Array.from(file.subarray(8 + n + 4 * k, 8 + n + 4 * k + 4))).toEqual([i, 3, 2, 1]); // little-endian
    });

    // Mixed element sizes: largest first, so each tensor starts at a multiple of its size.
    const mixed = encodeSafetensors({
      c: { shape: [3], data: new Uint8Array([9, 8, 7]) },
      b: { shape: [1], data: new Int16Array([-2]) },
      a: { shape: [1], data: new Float32Array([2]) },
      d: { shape: [1], data: new BigInt64Array([-1n]) },
    });
    const m = headerOf(mixed);
    expect(Object.keys(m.header)).toEqual(['d', 'a', 'b', 'c']);
    expect(['d', 'a', 'b', 'c'].map((k) => m.header[k].data_offsets)).toEqual([
      [0, 8],
      [8, 12],
      [12, 14],
      [14, 17],
    ]);
    expect(Array.from(mixed.subarray(8 + m.n))).toEqual([255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 64, 0xfe, 0xff, 9, 8, 7]);
    expect(mixed.length).toBe(8 + m.n + 17);
  });
});

describe('validation', () => {
  const valid = () =>
    encodeSafetensors(
      { w: { shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) }, b: { shape: [3], data: new Float32Array([7, 8, 9]) } },
      { epoch: '3' },
    );

  it('reports every prefix of a valid file as truncated, saying by how much', () => {
    const file = valid();
    const { n } = headerOf(file);
    for (let keep = 0; keep < file.length; keep++) {
      const cut = file.length - keep;
      if (keep < 8) expectError(() => decode(file.subarray(0, keep)), /truncated/, new RegExp(`file is ${keep} bytes long`));
      else if (keep < 8 + n)
        expectError(
          () => decode(file.subarray(0, keep)),
          new RegExp(`header length says ${n} bytes but only ${keep - 8} follow it: the file is truncated by at least ${8 + n - keep} bytes`),
        );
      else
        expectError(
          () => decode(file.subarray(0, keep)),
          /tensor 'w' data_offsets \[12, 36\] run past the end of the data buffer/,
          new RegExp(`the file is truncated by ${cut} bytes`),
        );
    }
    expect(decode(file).tensors.size).toBe(2);
  });

  it('rejects a header length far beyond the file', () => {
    const file = valid();
    new DataView(file.buffer).setBigUint64(0, 2n ** 60n, true);
    expectError(() => decode(file), /truncated by at least/, /probably not a safetensors file/);
  });

  it('rejects headers that are not JSON objects, or not UTF-8', () => {
    const file = valid();
    file[file.indexOf(0x7d, 8) - 1] = 0x2c; // a ',' before the first '}'
    expectError(() => decode(file), /header is not valid JSON/);
    const cut = valid();
    cut[8 + headerOf(cut).n - 1] = 0x7b; // a '{' in place of the last padding space or brace
    expectError(() => decode(cut), /header is not valid JSON/);
    expectError(() => decode(build('[1, 2]')), /header must be a JSON object of tensors, got an array/);
    expectError(() => decode(build('null')), /must be a JSON object/);
    expectError(() => decode(build('')), /not valid JSON/);
    const bad = build('{"a":1}');
    bad[10] = 0xff;
    expectError(() => decode(bad), /not valid UTF-8/);
  });

  it('rejects entries without dtype, shape or data_offsets, and malformed ones', () => {
    expectError(() => decode(build({ w: { shape: [1], data_offsets: [0, 4] } }, [0, 0, 0, 0])), /tensor 'w' has no dtype/);
    expectError(() => decode(build({ w: { dtype: 'F32', data_offsets: [0, 4] } }, [0, 0, 0, 0])), /tensor 'w' has no shape/);
    expectError(() => decode(build({ w: { dtype: 'F32' } })), /tensor 'w' has no shape, data_offsets/);
    expectError(() => decode(build({ w: 3 })), /tensor 'w': expected \{ dtype, shape, data_offsets \}/);
    expectError(() => decode(build({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } })), /tensor 'w': shape must be an array of non-negative integers/);
    expectError(() => decode(build({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } })), /shape must be/);
    for (const offsets of [[0], [0, 4, 8], [-4, 0], [0, 2.5], '0,4']) {
      expectError(
        () => decode(build({ w: { dtype: 'U8', shape: [4], data_offsets: offsets } }, [1, 2, 3, 4])),
        /tensor 'w': data_offsets must be \[begin, end\]/,
      );
    }
    expectError(
      () => decode(build({ w: { dtype: 'U8', shape: [0], data_offsets: [4, 0] } }, [1, 2, 3, 4])),
      /tensor 'w': data_offsets \[4, 0\] end before they begin/,
    );
  });

  it('rejects unknown and unsupported dtypes, naming the supported ones', () => {
    expectError(
      () => decode(build({ w: { dtype: 'F17', shape: [1], data_offsets: [0, 4] } }, [0, 0, 0, 0])),
      /tensor 'w': "F17" is an unknown dtype; supported: F64, F32, F16, BF16/,
    );
    expectError(
      () => decode(build({ w: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, [0])),
      /"F8_E4M3" is a safetensors dtype this reader does not support/,
    );
    expectError(() => decode(build({ w: { dtype: 5, shape: [1], data_offsets: [0, 1] } }, [0])), /dtype must be a string/);
  });

  it('rejects a size that does not match the offsets', () => {
    expectError(
      () => decode(build({ w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } }, new Array(20).fill(0))),
      /tensor 'w': dtype F32 × shape \[2, 3\] is 24 bytes but data_offsets \[0, 20\] span 20/,
    );
    expectError(() => decode(build({ w: { dtype: 'I64', shape: [], data_offsets: [0, 4] } }, [0, 0, 0, 0])), /I64 × shape \[\] is 8 bytes/);
  });

  it('rejects overlapping offsets, gaps, offsets past the buffer and trailing bytes', () => {
    const z = (n: number) => new Array(n).fill(0);
    expectError(
      () => decode(build({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, z(12))),
      /tensor 'b' data_offsets \[4, 12\] overlap tensor 'a' \[0, 8\]/,
    );
    expectError(
      () => decode(build({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, z(8))),
      /overlap/,
    );
    expectError(
      () => decode(build({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, z(12))),
      /tensor 'b' data_offsets \[8, 12\] leave a gap of 4 bytes after tensor 'a' \[0, 4\]; tensors must be contiguous/,
    );
    expectError(
      () => decode(build({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, z(8))),
      /leave a gap of 4 bytes after the start of the data buffer/,
    );
    expectError(
      () => decode(build({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, z(8))),
      /tensor 'a' data_offsets \[0, 16\] run past the end of the data buffer \(8 bytes after the header\): the file is truncated by 8 bytes/,
    );
    expectError(() => decode(build({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, z(7))), /3 bytes follow the last tensor/);
    expectError(() => decode(build({}, z(1))), /1 bytes follow the last tensor/);
    // Zero-size tensors take no room, wherever they sit at a tensor boundary.
    const ok = decode(
      build(
        {
          a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
          e: { dtype: 'F32', shape: [0, 3], data_offsets: [4, 4] },
          f: { dtype: 'U8', shape: [0], data_offsets: [0, 0] },
        },
        z(4),
      ),
    );
    expect(ok.tensors.get('e')!.shape).toEqual([0, 3]);
  });

  it('rejects metadata that is not an object of strings', () => {
    expectError(() => decode(build({ __metadata__: { epoch: 3 } })), /__metadata__ value for 'epoch' must be a string, got 3/);
    expectError(() => decode(build({ __metadata__: ['a'] })), /__metadata__ must be an object of strings/);
  });

  it('rejects I64 and F64 values the 32-bit arrays cannot hold', () => {
    const big = new BigInt64Array([1n, 2n ** 31n]);
    expectError(
      () => decode(build({ l: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, bytesOf(big))),
      /tensor 'l' \(I64\) holds 2147483648 at element 1, outside the int32 range/,
    );
    const neg = new BigUint64Array([2n ** 40n]);
    expectError(
      () => decode(build({ u: { dtype: 'U64', shape: [1], data_offsets: [0, 8] } }, bytesOf(neg))),
      /tensor 'u' \(U64\) holds 1099511627776 at element 0, outside the uint32 range/,
    );
    const huge = new Float64Array([0, 1e300]);
    expectError(
      () => decode(build({ d: { dtype: 'F64', shape: [2], data_offsets: [0, 16] } }, bytesOf(huge))),
      /tensor 'd' \(F64\) holds 1e\+300 at element 1, beyond float32's range/,
    );
  });

  it('names the default source when none is given', () => {
    expect(() => decodeSafetensors(new Uint8Array(3))).toThrow(/^safetensors file: the file is 3 bytes long/);
  });

  it('refuses to encode what it cannot write', () => {
    const enc = (t: Record<string, unknown>, meta?: Record<string, unknown>) => () =>
      encodeSafetensors(t as Record<string, SafetensorsInput>, meta as Record<string, string>);
    expect(enc({ w: { shape: [2, 2], data: new Float32Array(3) } })).toThrow(/tensor 'w': shape \[2, 2\] holds 4 elements but data has 3 elements/);
    expect(enc({ w: { shape: [2, -1], data: new Float32Array(3) } })).toThrow(/tensor 'w': shape \[2,-1\] must be an array of non-negative integers/);
    expect(enc({ w: { dtype: 'F16', shape: [1], data: new Float32Array(1) } })).toThrow(/tensor 'w': cannot write dtype "F16"; written dtypes: F32, I32, U32/);
    expect(enc({ w: { dtype: 'F32', shape: [1], data: new Int32Array(1) } })).toThrow(/tensor 'w': dtype F32 cannot be written from a Int32Array/);
    expect(enc({ w: { dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 2]) } })).toThrow(/BOOL data must be 0 or 1; element 1 is 2/);
    expect(enc({ w: { shape: [2], data: [1, 2] } })).toThrow(/data must be a typed array/);
    expect(enc({ __metadata__: { shape: [1], data: new Float32Array(1) } })).toThrow(/'__metadata__' is reserved/);
    expect(enc({}, { epoch: 3 })).toThrow(/__metadata__ value for 'epoch' must be a string/);
    expect(enc({ w: { shape: [1], data: new Float32Array(1) } })).not.toThrow();
    expect(enc({ w: { shape: [2], data: new Float32Array(1) } })).toThrow(InvalidArgumentError);
  });
});

describe('files', () => {
  it('saves GPU tensors and loads them back (then uploads them again)', async () => {
    const rng = makeRng(freshSeed());
    const f = Float32Array.from({ length: 2 * 3 * 5 }, () => rng() * 2 - 1);
    const i = Int32Array.from({ length: 7 }, () => Math.floor(rng() * 2 ** 32) | 0);
    const u = Uint32Array.from({ length: 4 }, () => Math.floor(rng() * 2 ** 32));
    const path = join(dir, 'weights.safetensors');
    await engine.scope(async () => {
      const tensors = new Map([
        ['conv.weight', engine.tensor(f, [2, 3, 5])],
        ['step', engine.tensor(i, [7])],
        ['bits', engine.tensor(u, [2, 2], 'u32')],
        ['empty', engine.zeros([0, 3])],
      ]);
      writeFileSync(path, 'an older file'); // overwritten
      await saveSafetensors(path, tensors, { epoch: '4' });
    });
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(readFileSync(path).length % 4).toBe(0);

    const { tensors, metadata } = await loadSafetensors(path);
    expect(metadata).toEqual({ epoch: '4' });
    expect(tensors.get('conv.weight')).toEqual({ dtype: 'F32', shape: [2, 3, 5], data: f });
    expect(tensors.get('step')).toEqual({ dtype: 'I32', shape: [7], data: i });
    expect(tensors.get('bits')).toEqual({ dtype: 'U32', shape: [2, 2], data: u });
    expect(tensors.get('empty')).toEqual({ dtype: 'F32', shape: [0, 3], data: new Float32Array(0) });

    await engine.scope(async () => {
      const gpu = uploadTensors(engine, tensors);
      expect(gpu.get('bits')!.dtype).toBe('u32');
      expect(gpu.get('conv.weight')!.shape).toEqual([2, 3, 5]);
      expect(await gpu.get('conv.weight')!.read()).toEqual(f);
      expect(await gpu.get('step')!.read()).toEqual(i);
    });
    // Other dtypes go up as f32 / i32.
    await engine.scope(async () => {
      const half = decode(
        build(
          { h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] }, b: { dtype: 'U8', shape: [2], data_offsets: [4, 6] } },
          [0x00, 0x3c, 0x00, 0xc1, 200, 3],
        ),
      ).tensors;
      const gpu = uploadTensors(engine, half);
      expect(gpu.get('h')!.dtype).toBe('f32');
      expect(await gpu.get('h')!.toArray()).toEqual([1, -2.5]);
      expect(gpu.get('b')!.dtype).toBe('i32');
      expect(await gpu.get('b')!.toArray()).toEqual([200, 3]);
    });
  });

  it('names the path when the file is missing or damaged, and refuses disposed tensors', async () => {
    const missing = join(dir, 'nope.safetensors');
    await expect(loadSafetensors(missing)).rejects.toThrow(new RegExp(`^${missing}: no such safetensors file`));
    const damaged = join(dir, 'damaged.safetensors');
    writeFileSync(damaged, encodeSafetensors({ w: { shape: [4], data: new Float32Array(4) } }).subarray(0, -3));
    await expect(loadSafetensors(damaged)).rejects.toThrow(new RegExp(`^${damaged}: .*the file is truncated by 3 bytes`));
    const t = engine.tensor([1, 2]);
    t.dispose();
    await expect(saveSafetensors(join(dir, 'x.safetensors'), { t })).rejects.toThrow(/tensor 't' .* was disposed/);
    await expect(saveSafetensors(join(dir, 'no-such-dir', 'x.safetensors'), {})).rejects.toThrow(/could not write .*no-such-dir/);
  });
});

describe('checkpoints', () => {
  it('writes and reads a checkpoint pair', async () => {
    const ckDir = join(dir, 'run', 'checkpoints');
    const json = { step: 1200, lr: 0.045, history: [1.5, 0.9], name: 'inception' };
    let id = '';
    await engine.scope(async () => {
      const out = await writeCheckpoint(ckDir, 'step-1200', {
        tensors: { w: engine.tensor([1, 2, 3, 4], [2, 2]), n: engine.tensor(new Int32Array([5])) },
        json,
        metadata: { model: 'v3' },
      });
      id = out.id;
      expect(out.safetensors).toBe(join(ckDir, 'step-1200.safetensors'));
    });
    expect(readdirSync(ckDir).sort()).toEqual(['step-1200.json', 'step-1200.safetensors']);
    const ck = await readCheckpoint(ckDir, 'step-1200');
    expect(ck.id).toBe(id);
    expect(ck.json).toEqual(json);
    expect(ck.metadata).toEqual({ model: 'v3', [CHECKPOINT_ID_KEY]: id });
    expect(Array.from(ck.tensors.get('w')!.data)).toEqual([1, 2, 3, 4]);
    expect(ck.tensors.get('n')!.data).toEqual(new Int32Array([5]));
  });

  it('refuses a pair that does not belong together, or an incomplete one', async () => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    await engine.scope(async () => {
      await writeCheckpoint(a, 'ck', { tensors: { w: engine.tensor([1]) }, json: { step: 1 } });
      await writeCheckpoint(b, 'ck', { tensors: { w: engine.tensor([2]) }, json: { step: 2 } });
    });
    copyFileSync(join(b, 'ck.json'), join(a, 'ck.json')); // as if a save of a's JSON had been swapped
    await expect(readCheckpoint(a, 'ck')).rejects.toThrow(/ck\.safetensors: does not belong with .*ck\.json: checkpoint ids differ/);

    rmSync(join(b, 'ck.json'));
    await expect(readCheckpoint(b, 'ck')).rejects.toThrow(
      /ck\.json: checkpoint 'ck' is incomplete: this file is missing \(.*ck\.safetensors exists without it\)/,
    );
    await expect(readCheckpoint(b, 'other')).rejects.toThrow(
      /other\.safetensors: checkpoint 'other' is incomplete: this file is missing \(.*other\.json is missing too\)/,
    );

    writeFileSync(join(b, 'ck.json'), '{"step": 2');
    await expect(readCheckpoint(b, 'ck')).rejects.toThrow(/ck\.json: checkpoint JSON is not valid JSON/);
    writeFileSync(join(b, 'ck.json'), '{"step": 2}');
    await expect(readCheckpoint(b, 'ck')).rejects.toThrow(/not a checkpoint JSON written by writeCheckpoint/);

    writeFileSync(join(b, 'plain.safetensors'), encodeSafetensors({ w: { shape: [1], data: new Float32Array(1) } }));
    copyFileSync(join(a, 'ck.json'), join(b, 'plain.json'));
    await expect(readCheckpoint(b, 'plain')).rejects.toThrow(/plain\.safetensors: has no 'incept\.checkpoint' metadata/);

    await expect(writeCheckpoint(b, '../escape', { tensors: {}, json: {} })).rejects.toThrow(InvalidArgumentError);
  });
});
