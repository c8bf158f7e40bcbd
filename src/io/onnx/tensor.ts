/**
 * ONNX TensorProto values, decoded once for the converters: every floating-point type as
 * float32, every integer type as numbers, from raw_data or the typed fields.
 */
import { f16BitsToNumber } from '../safetensors.js';
import { DataLocation, DataType, DATA_TYPE_NAMES, int64ToNumber, type TensorProto } from './schema.js';

export const fmt = (shape: readonly (number | string)[]): string => `[${shape.join(', ')}]`;
export const product = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export interface DecodedTensor {
  dims: number[];
  /** Floating-point tensors as float32; integer tensors as numbers. */
  values: Float32Array | number[];
  isInteger: boolean;
}

const FLOAT_TYPES: readonly number[] = [DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16];
const INT_TYPES: readonly number[] = [
  DataType.INT64,
  DataType.INT32,
  DataType.INT16,
  DataType.INT8,
  DataType.UINT8,
  DataType.UINT16,
  DataType.UINT32,
  DataType.BOOL,
];
const RAW_ITEM_BYTES: Record<number, number> = {
  [DataType.FLOAT]: 4,
  [DataType.DOUBLE]: 8,
  [DataType.FLOAT16]: 2,
  [DataType.BFLOAT16]: 2,
  [DataType.INT64]: 8,
  [DataType.INT32]: 4,
  [DataType.INT16]: 2,
  [DataType.INT8]: 1,
  [DataType.UINT8]: 1,
  [DataType.UINT16]: 2,
  [DataType.UINT32]: 4,
  [DataType.BOOL]: 1,
};

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A TensorProto's values. `fail` gets the problem; `what` names the tensor. */
export function decodeTensor(t: TensorProto, what: string, fail: (problem: string) => never): DecodedTensor {
  const dataType = t.data_type ?? 0;
  const typeName = DATA_TYPE_NAMES[dataType] ?? `data_type ${dataType}`;
  if ((t.data_location ?? 0) === DataLocation.EXTERNAL || (t.external_data?.length ?? 0) > 0) {
    const location = t.external_data?.find((e) => e.key === 'location')?.value;
    fail(
      `${what} keeps its data in an external file${location ? ` ('${location}')` : ''}, which importOnnx does not read; save the model with every tensor inside the .onnx file (onnx.save_model(model, path, save_as_external_data=False))`,
    );
  }
  const dims = (t.dims ?? []).map(int64ToNumber);
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) fail(`${what} has invalid dims ${fmt(dims)}`);
  const count = product(dims);
  const isFloat = FLOAT_TYPES.includes(dataType);
  if (!isFloat && !INT_TYPES.includes(dataType)) fail(`${what} has type ${typeName}; the importer reads FLOAT, DOUBLE, FLOAT16, BFLOAT16 and integer tensors`);
  let values: Float32Array | number[];
  const raw = t.raw_data;
  if (raw && raw.length > 0) {
    const item = RAW_ITEM_BYTES[dataType]!;
    if (raw.length !== count * item) fail(`${what} (${typeName} ${fmt(dims)}) needs ${count * item} bytes of raw_data, found ${raw.length}`);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    // ONNX's raw_data is little-endian whatever the host.
    const read: (i: number) => number =
      dataType === DataType.FLOAT
        ? (i) => view.getFloat32(i * 4, true)
        : dataType === DataType.DOUBLE
          ? (i) => view.getFloat64(i * 8, true)
          : dataType === DataType.FLOAT16
            ? (i) => f16BitsToNumber(view.getUint16(i * 2, true))
            : dataType === DataType.BFLOAT16
              ? (i) => new Float32Array(new Uint32Array([view.getUint16(i * 2, true) << 16]).buffer)[0]!
              : dataType === DataType.INT64
                ? (i) => Number(view.getBigInt64(i * 8, true))
                : dataType === DataType.INT32
                  ? (i) => view.getInt32(i * 4, true)
                  : dataType === DataType.INT16
                    ? (i) => view.getInt16(i * 2, true)
                    : dataType === DataType.INT8
                      ? (i) => view.getInt8(i)
                      : dataType === DataType.UINT16
                        ? (i) => view.getUint16(i * 2, true)
                        : dataType === DataType.UINT32
                          ? (i) => view.getUint32(i * 4, true)
                          : (i) => view.getUint8(i);
    if (dataType === DataType.FLOAT && HOST_LITTLE_ENDIAN) {
      // A copy: aligned, and independent of the file's bytes (Node's Buffer.slice would share them).
      const copy = new Uint8Array(raw.byteLength);
      copy.set(raw);
      values = new Float32Array(copy.buffer);
    } else if (isFloat) {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = read(i);
      values = out;
    } else {
      values = Array.from({ length: count }, (_, i) => read(i));
    }
  } else {
    const typed: ArrayLike<number> | undefined =
      dataType === DataType.FLOAT
        ? t.float_data
        : dataType === DataType.DOUBLE
          ? t.double_data
          : dataType === DataType.INT64
            ? t.int64_data?.map(int64ToNumber)
            : dataType === DataType.UINT32
              ? t.uint64_data?.map(int64ToNumber)
              : t.int32_data; // INT32, INT16, INT8, UINT8, UINT16, BOOL, and FLOAT16 / BFLOAT16 as bits
    const n = typed?.length ?? 0;
    if (n !== count)
      fail(
        `${what} (${typeName} ${fmt(dims)}) needs ${count} values, found ${n}${n === 0 ? ' (no data: an initializer stored elsewhere, or an empty tensor)' : ''}`,
      );
    if (isFloat) {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        const v = typed![i]!;
        out[i] =
          dataType === DataType.FLOAT16
            ? f16BitsToNumber(v & 0xffff)
            : dataType === DataType.BFLOAT16
              ? new Float32Array(new Uint32Array([(v & 0xffff) << 16]).buffer)[0]!
              : v;
      }
      values = out;
    } else {
      values = Array.from(typed!);
    }
  }
  return { dims, values, isInteger: !isFloat };
}

/** A per-channel addend from a constant broadcast against an [N, C, H, W] (rank 4) or [N, F] (rank 2) value. */
export function broadcastBias(c: DecodedTensor, rank: number, channels: number, fail: (p: string) => never, what: string): Float32Array {
  if (c.isInteger) fail(`${what} must be floating point`);
  if (c.dims.length > rank) fail(`${what} has shape ${fmt(c.dims)}, more axes than the ${rank}-D value it is added to`);
  const dims = [...new Array<number>(rank - c.dims.length).fill(1), ...c.dims];
  const perChannel = dims.every((d, i) => (i === 1 ? d === 1 || d === channels : d === 1));
  if (!perChannel)
    fail(
      `${what} has shape ${fmt(c.dims)}; only a scalar or one value per channel (${rank === 4 ? `[${channels}, 1, 1] or [1, ${channels}, 1, 1]` : `[${channels}] or [1, ${channels}]`}) can become a bias`,
    );
  const out = new Float32Array(channels);
  if (dims[1] === 1) out.fill(c.values[0]!);
  else out.set(c.values as Float32Array);
  return out;
}
