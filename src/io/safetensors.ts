/**
 * The safetensors format (https://huggingface.co/docs/safetensors), without dependencies:
 *
 *   8 bytes   N, little-endian u64: the header's length
 *   N bytes   UTF-8 JSON: { "name": { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] },
 *             …, "__metadata__": { string: string } }
 *   the rest  the tensors' bytes, little-endian, row-major; offsets are relative to this buffer,
 *             and the tensors fill it exactly (no gaps, no overlaps).
 *
 * encodeSafetensors / decodeSafetensors work on bytes and run anywhere (Node and browsers).
 * saveSafetensors / loadSafetensors read GPU tensors back and use Node's file system, which they
 * load lazily, so this module can still be bundled for the browser.
 */
import type { Engine } from '../runtime/engine.js';
import { InceptError, InvalidArgumentError } from '../runtime/errors.js';
import type { DType, Shape, Tensor } from '../runtime/tensor.js';
import { nodeFs, readUserFile, UserFileError } from './read-user-file.js';

/** Every dtype this module reads. */
export type SafetensorsDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'U64' | 'I32' | 'U32' | 'I16' | 'U16' | 'I8' | 'U8' | 'BOOL';
/** The dtypes encodeSafetensors writes. */
export type SafetensorsWriteDType = 'F32' | 'I32' | 'U32' | 'I64' | 'I16' | 'U16' | 'I8' | 'U8' | 'BOOL';

export type HostArray = Float32Array | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array;

/** A tensor to write. `dtype` defaults to the array's own (Float32Array → F32, Int32Array → I32,
 * Uint32Array → U32, Int16Array → I16, Uint16Array → U16, Int8Array → I8, Uint8Array → U8,
 * BigInt64Array → I64); engine dtypes ('f32', 'i32', 'u32') are accepted too. I64 takes an
 * Int32Array (widened) or a BigInt64Array; BOOL takes a Uint8Array of 0s and 1s. */
export interface SafetensorsInput {
  dtype?: SafetensorsWriteDType | DType;
  shape: Shape;
  data: HostArray | BigInt64Array;
}

/** A tensor read from a file. `dtype` is the file's; `data` holds the values as a host array:
 * F32, F16, BF16 (exactly) and F64 (rounded to nearest) as Float32Array; I64 as Int32Array and
 * U64 as Uint32Array (an error if a value does not fit); I32, U32, I16, U16, I8, U8 as their own
 * typed arrays; BOOL as a Uint8Array. The arrays are copies, independent of the input bytes. */
export interface SafetensorsTensor {
  dtype: SafetensorsDType;
  shape: number[];
  data: HostArray;
}

export interface DecodedSafetensors {
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

/** A file (or buffer) that is not valid safetensors, or could not be read; the message starts with
 * the file's name and names the tensor at fault. */
export class SafetensorsError extends InceptError {
  constructor(
    readonly source: string,
    readonly problem: string,
  ) {
    super(`${source}: ${problem}`);
  }
}

/** The reference implementation's limit on the header (100 MB); longer means a damaged length. */
export const MAX_HEADER_BYTES = 100_000_000;

const ITEM_BYTES: Record<SafetensorsDType, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, U64: 8, I32: 4, U32: 4, I16: 2, U16: 2, I8: 1, U8: 1, BOOL: 1 };
const READ_DTYPES = Object.keys(ITEM_BYTES) as SafetensorsDType[];
const WRITE_DTYPES: readonly SafetensorsWriteDType[] = ['F32', 'I32', 'U32', 'I64', 'I16', 'U16', 'I8', 'U8', 'BOOL'];
/** In the spec but not read here (8-bit, 6-bit and 4-bit floats, complex, …). */
const OTHER_SPEC_DTYPES = ['F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F6_E2M3', 'F6_E3M2', 'F4', 'C64'];

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reverses each element's bytes in place on a big-endian host (safetensors is little-endian). */
function toFromLittleEndian(bytes: Uint8Array, itemBytes: number): void {
  if (HOST_LITTLE_ENDIAN || itemBytes === 1) return;
  for (let i = 0; i < bytes.length; i += itemBytes) bytes.subarray(i, i + itemBytes).reverse();
}

function shapeElements(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Orders names by code point, i.e. by their UTF-8 bytes (as the reference implementation does). */
function compareNames(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done ? (y.done ? 0 : -1) : 1;
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}

// ------------------------------------------------------------------------------------ encoding

function writeDTypeOf(name: string, input: SafetensorsInput): SafetensorsWriteDType {
  const d = input.data;
  if (input.dtype === undefined) {
    if (d instanceof Float32Array) return 'F32';
    if (d instanceof Int32Array) return 'I32';
    if (d instanceof Uint32Array) return 'U32';
    if (d instanceof BigInt64Array) return 'I64';
    if (d instanceof Int16Array) return 'I16';
    if (d instanceof Uint16Array) return 'U16';
    if (d instanceof Int8Array) return 'I8';
    if (d instanceof Uint8Array) return 'U8';
    throw new InvalidArgumentError(
      `encodeSafetensors: tensor '${name}': data must be a typed array (Float32Array, Int32Array, Uint32Array, BigInt64Array, Int16Array, Uint16Array, Int8Array or Uint8Array)`,
    );
  }
  const dtype = ({ f32: 'F32', i32: 'I32', u32: 'U32' } as Record<string, SafetensorsWriteDType>)[input.dtype] ?? input.dtype;
  if (!WRITE_DTYPES.includes(dtype as SafetensorsWriteDType)) {
    throw new InvalidArgumentError(
      `encodeSafetensors: tensor '${name}': cannot write dtype ${JSON.stringify(input.dtype)}; written dtypes: ${WRITE_DTYPES.join(', ')} (or f32, i32, u32)`,
    );
  }
  return dtype as SafetensorsWriteDType;
}

/** The tensor's bytes, little-endian, in a fresh buffer. */
function tensorBytes(name: string, dtype: SafetensorsWriteDType, data: HostArray | BigInt64Array): Uint8Array {
  const wrong = (): never => {
    throw new InvalidArgumentError(`encodeSafetensors: tensor '${name}': dtype ${dtype} cannot be written from a ${data?.constructor?.name ?? typeof data}`);
  };
  const ok =
    dtype === 'F32'
      ? data instanceof Float32Array
      : dtype === 'I32'
        ? data instanceof Int32Array
        : dtype === 'U32'
          ? data instanceof Uint32Array
          : dtype === 'I16'
            ? data instanceof Int16Array
            : dtype === 'U16'
              ? data instanceof Uint16Array
              : dtype === 'I8'
                ? data instanceof Int8Array
                : dtype === 'U8' || dtype === 'BOOL'
                  ? data instanceof Uint8Array
                  : data instanceof BigInt64Array || data instanceof Int32Array; // I64
  if (!ok) wrong();
  let typed: HostArray | BigInt64Array = data;
  if (dtype === 'I64' && data instanceof Int32Array) typed = BigInt64Array.from(data, (v) => BigInt(v));
  if (dtype === 'BOOL') {
    const bad = (data as Uint8Array).findIndex((v) => v > 1);
    if (bad >= 0)
      throw new InvalidArgumentError(`encodeSafetensors: tensor '${name}': BOOL data must be 0 or 1; element ${bad} is ${(data as Uint8Array)[bad]}`);
  }
  const bytes = new Uint8Array(typed.byteLength);
  bytes.set(new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength));
  toFromLittleEndian(bytes, ITEM_BYTES[dtype]);
  return bytes;
}

function checkMetadata(metadata: unknown, fail: (problem: string) => never): Record<string, string> {
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata))
    fail(`__metadata__ must be an object of strings, got ${JSON.stringify(metadata)}`);
  for (const [k, v] of Object.entries(metadata as object)) {
    if (typeof v !== 'string') fail(`__metadata__ value for '${k}' must be a string, got ${JSON.stringify(v)}`);
  }
  return { ...(metadata as Record<string, string>) };
}

/**
 * A safetensors file's bytes. Tensors go in order of element size (largest first), then name, so
 * every tensor starts at a multiple of its element size (the reference implementation's order;
 * for tensors of one element size it is name order); the header is padded with spaces to a
 * multiple of 8 bytes.
 */
export function encodeSafetensors(tensors: Map<string, SafetensorsInput> | Record<string, SafetensorsInput>, metadata?: Record<string, string>): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const prepared = entries.map(([name, input]) => {
    if (name === '__metadata__') throw new InvalidArgumentError(`encodeSafetensors: '__metadata__' is reserved and cannot name a tensor`);
    if (!input || typeof input !== 'object') throw new InvalidArgumentError(`encodeSafetensors: tensor '${name}' must be { dtype?, shape, data }`);
    const shape = input.shape;
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      throw new InvalidArgumentError(`encodeSafetensors: tensor '${name}': shape ${JSON.stringify(shape)} must be an array of non-negative integers`);
    }
    const dtype = writeDTypeOf(name, input);
    if (!ArrayBuffer.isView(input.data) || input.data.length !== shapeElements(shape)) {
      const len = ArrayBuffer.isView(input.data) ? `${input.data.length} elements` : 'no typed array';
      throw new InvalidArgumentError(
        `encodeSafetensors: tensor '${name}': shape ${fmtShape(shape)} holds ${shapeElements(shape)} elements but data has ${len}`,
      );
    }
    return { name, dtype, shape: [...shape], bytes: tensorBytes(name, dtype, input.data) };
  });
  prepared.sort((a, b) => ITEM_BYTES[b.dtype] - ITEM_BYTES[a.dtype] || compareNames(a.name, b.name));

  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    header.__metadata__ = checkMetadata(metadata, (p) => {
      throw new InvalidArgumentError(`encodeSafetensors: ${p}`);
    });
  }
  let offset = 0;
  for (const t of prepared) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const t of prepared) {
    out.set(t.bytes, at);
    at += t.bytes.length;
  }
  return out;
}

// ------------------------------------------------------------------------------------ decoding

/** IEEE half-precision bits to a number (exact). */
export function f16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

function convert(name: string, dtype: SafetensorsDType, raw: Uint8Array, fail: (p: string) => never): HostArray {
  // `raw` is a fresh copy: aligned, and ours to byte-swap.
  toFromLittleEndian(raw, ITEM_BYTES[dtype]);
  const buf = raw.buffer as ArrayBuffer;
  switch (dtype) {
    case 'F32':
      return new Float32Array(buf);
    case 'I32':
      return new Int32Array(buf);
    case 'U32':
      return new Uint32Array(buf);
    case 'I16':
      return new Int16Array(buf);
    case 'U16':
      return new Uint16Array(buf);
    case 'I8':
      return new Int8Array(buf);
    case 'U8':
    case 'BOOL':
      return raw;
    case 'F16': {
      const h = new Uint16Array(buf);
      const out = new Float32Array(h.length);
      for (let i = 0; i < h.length; i++) out[i] = f16BitsToNumber(h[i]!);
      return out;
    }
    case 'BF16': {
      // bfloat16 is the top half of a float32: shift the bits up (exact, NaN payloads kept).
      const h = new Uint16Array(buf);
      const bits = new Uint32Array(h.length);
      for (let i = 0; i < h.length; i++) bits[i] = h[i]! << 16;
      return new Float32Array(bits.buffer);
    }
    case 'F64': {
      const d = new Float64Array(buf);
      const out = Float32Array.from(d);
      for (let i = 0; i < d.length; i++) {
        if (!Number.isFinite(out[i]!) && Number.isFinite(d[i]!))
          fail(`tensor '${name}' (F64) holds ${d[i]} at element ${i}, beyond float32's range (±3.4028235e38)`);
      }
      return out;
    }
    case 'I64':
    case 'U64': {
      const d = dtype === 'I64' ? new BigInt64Array(buf) : new BigUint64Array(buf);
      const [lo, hi] = dtype === 'I64' ? [-(2n ** 31n), 2n ** 31n - 1n] : [0n, 2n ** 32n - 1n];
      const out = dtype === 'I64' ? new Int32Array(d.length) : new Uint32Array(d.length);
      for (let i = 0; i < d.length; i++) {
        const v = d[i]!;
        if (v < lo || v > hi)
          fail(
            `tensor '${name}' (${dtype}) holds ${v} at element ${i}, outside the ${dtype === 'I64' ? 'int32' : 'uint32'} range it is read into ([${lo}, ${hi}])`,
          );
        out[i] = Number(v);
      }
      return out;
    }
  }
}

interface HeaderEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Parses and checks a safetensors file. `source` names it in errors (a path, say). Throws
 * SafetensorsError for anything the spec forbids: a truncated file (saying by how much), a header
 * that is not JSON, an entry without dtype / shape / data_offsets, an unknown dtype, a size that
 * does not match the offsets, offsets that overlap, leave gaps or run past the buffer, trailing
 * bytes, metadata values that are not strings.
 */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors file'): DecodedSafetensors {
  const fail = (problem: string): never => {
    throw new SafetensorsError(source, problem);
  };
  if (!(bytes instanceof Uint8Array)) fail('expected the file contents as a Uint8Array');
  if (bytes.length < 8)
    fail(
      `the file is ${bytes.length} bytes long, shorter than the 8-byte header length that starts every safetensors file: it is truncated (or not a safetensors file)`,
    );
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  const afterLength = bytes.length - 8;
  if (n64 > BigInt(afterLength)) {
    const missing = n64 - BigInt(afterLength);
    const hint = n64 > BigInt(MAX_HEADER_BYTES) ? ` (a header over ${MAX_HEADER_BYTES} bytes means this is probably not a safetensors file)` : '';
    fail(`the header length says ${n64} bytes but only ${afterLength} follow it: the file is truncated by at least ${missing} bytes${hint}`);
  }
  const n = Number(n64);
  if (n > MAX_HEADER_BYTES) fail(`the header is ${n} bytes, over the format's limit of ${MAX_HEADER_BYTES}`);

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    return fail('the header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`the header is not valid JSON (${(e as Error).message}): ${JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text)}`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    fail(`the header must be a JSON object of tensors, got ${Array.isArray(header) ? 'an array' : JSON.stringify(header)}`);
  }

  let metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = checkMetadata(info, fail);
      continue;
    }
    const what = `tensor '${name}'`;
    if (info === null || typeof info !== 'object' || Array.isArray(info)) fail(`${what}: expected { dtype, shape, data_offsets }, got ${JSON.stringify(info)}`);
    const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
    const missing = (['dtype', 'shape', 'data_offsets'] as const).filter((k) => (info as Record<string, unknown>)[k] === undefined);
    if (missing.length) fail(`${what} has no ${missing.join(', ')}`);
    if (typeof dtype !== 'string') return fail(`${what}: dtype must be a string, got ${JSON.stringify(dtype)}`);
    if (!READ_DTYPES.includes(dtype as SafetensorsDType)) {
      const known = OTHER_SPEC_DTYPES.includes(dtype) ? 'a safetensors dtype this reader does not support' : 'an unknown dtype';
      fail(`${what}: ${JSON.stringify(dtype)} is ${known}; supported: ${READ_DTYPES.join(', ')}`);
    }
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0))
      fail(`${what}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || offsets.some((o) => !Number.isSafeInteger(o) || o < 0)) {
      fail(`${what}: data_offsets must be [begin, end] with non-negative integers, got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) fail(`${what}: data_offsets [${begin}, ${end}] end before they begin`);
    const dt = dtype as SafetensorsDType;
    const need = shapeElements(shape as number[]) * ITEM_BYTES[dt];
    if (need !== end - begin) {
      fail(`${what}: dtype ${dt} × shape ${fmtShape(shape as number[])} is ${need} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
    }
    entries.push({ name, dtype: dt, shape: [...(shape as number[])], begin, end });
  }

  // The tensors must tile the buffer: sorted by offset, each begins where the one before ends.
  const dataStart = 8 + n;
  const available = bytes.length - dataStart;
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  let previous: HeaderEntry | undefined;
  for (const e of sorted) {
    const where = `tensor '${e.name}' data_offsets [${e.begin}, ${e.end}]`;
    if (e.begin < at) fail(`${where} overlap tensor '${previous!.name}' [${previous!.begin}, ${previous!.end}]`);
    if (e.begin > at)
      fail(
        `${where} leave a gap of ${e.begin - at} bytes after ${previous ? `tensor '${previous.name}' [${previous.begin}, ${previous.end}]` : 'the start of the data buffer'}; tensors must be contiguous`,
      );
    at = e.end;
    previous = e;
  }
  if (at > available) {
    fail(
      `tensor '${previous!.name}' data_offsets [${previous!.begin}, ${previous!.end}] run past the end of the data buffer (${available} bytes after the header): the file is truncated by ${at - available} bytes`,
    );
  }
  if (at < available)
    fail(
      `${available - at} bytes follow the last tensor (the data buffer is ${available} bytes, the tensors cover ${at}); the file is damaged or not a safetensors file`,
    );

  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of entries) {
    // A copy made by hand: a Node Buffer's slice() is a view into the file's memory (often a
    // shared pool), and convert() needs its own aligned bytes that start at offset 0.
    const raw = new Uint8Array(e.end - e.begin);
    raw.set(bytes.subarray(dataStart + e.begin, dataStart + e.end));
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: convert(e.name, e.dtype, raw, fail) });
  }
  return { tensors, metadata };
}

// ------------------------------------------------------------------------------- engine tensors

/** Reads GPU tensors back into host arrays, ready for encodeSafetensors. */
export async function readTensorsToHost(
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  what = 'readTensorsToHost',
): Promise<Map<string, SafetensorsInput>> {
  const out = new Map<string, SafetensorsInput>();
  for (const [name, t] of tensors instanceof Map ? tensors : Object.entries(tensors)) {
    if (!t || typeof t.read !== 'function') throw new InvalidArgumentError(`${what}: '${name}' is not a Tensor`);
    if (t.isDisposed) throw new InvalidArgumentError(`${what}: tensor '${name}' (${t.describe()}) was disposed`);
    out.set(name, { dtype: t.dtype, shape: [...t.shape], data: await t.read() });
  }
  return out;
}

/** The engine dtype a decoded tensor becomes: floats → f32, U32 / U64 → u32, other integers → i32. */
export function engineDTypeFor(dtype: SafetensorsDType): DType {
  return dtype === 'F32' || dtype === 'F16' || dtype === 'BF16' || dtype === 'F64' ? 'f32' : dtype === 'U32' || dtype === 'U64' ? 'u32' : 'i32';
}

/** Uploads decoded tensors to the GPU (see engineDTypeFor); dispose the results when done. */
export function uploadTensors(engine: Engine, tensors: Map<string, SafetensorsTensor>): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, t] of tensors) {
    const tensor = engine.tensor(t.data, t.shape, engineDTypeFor(t.dtype));
    tensor.label ??= name;
    out.set(name, tensor);
  }
  return out;
}

// ---------------------------------------------------------------------------------------- files

/** Node's fs/promises, loaded on first use (kept here for the modules that import it from here). @internal */
export { nodeFs };

/** Writes bytes to `path` atomically: to `${path}.tmp` (flushed to disk), then renamed over
 * `path`, so a reader never sees half a file. @internal */
export async function writeFileAtomic(path: string, bytes: Uint8Array, what: string): Promise<void> {
  const fs = await nodeFs(what);
  const tmp = `${path}.tmp`;
  try {
    const fh = await fs.open(tmp, 'w');
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, path);
  } catch (e) {
    await fs.rm(tmp, { force: true }).catch(() => {});
    throw new InceptError(`${what}: could not write ${path}: ${(e as Error).message}`);
  }
}

/** Reads a whole file a user named, through readUserFile (a regular file within the size limit:
 * never a device, a FIFO or a directory); any fault is a SafetensorsError naming the path. @internal */
export async function readFileBytes(path: string, what: string, description = 'file'): Promise<Uint8Array> {
  try {
    return await readUserFile(path, { what: description });
  } catch (e) {
    if (!(e instanceof UserFileError)) throw e;
    if (e.code === 'ENOENT') throw new SafetensorsError(path, `no such ${description} (${what})`);
    throw new SafetensorsError(path, e.problem);
  }
}

/** Reads each tensor back from the GPU and writes them to a safetensors file, atomically
 * (`${path}.tmp`, then renamed). f32 → F32, i32 → I32, u32 → U32. */
export async function saveSafetensors(path: string, tensors: Map<string, Tensor> | Record<string, Tensor>, metadata?: Record<string, string>): Promise<void> {
  const host = await readTensorsToHost(tensors, `saveSafetensors(${path})`);
  let bytes: Uint8Array;
  try {
    bytes = encodeSafetensors(host, metadata);
  } catch (e) {
    throw e instanceof InvalidArgumentError ? new InvalidArgumentError(`saveSafetensors(${path}): ${e.message}`) : e;
  }
  await writeFileAtomic(path, bytes, 'saveSafetensors');
}

/** Reads and checks a safetensors file; the tensors come back as host arrays (see
 * decodeSafetensors; uploadTensors puts them on the GPU). */
export async function loadSafetensors(path: string): Promise<DecodedSafetensors> {
  return decodeSafetensors(await readFileBytes(path, 'loadSafetensors', 'safetensors file'), path);
}
