/**
 * The part of ONNX's protobuf schema (onnx/onnx.proto, IR version 10) that the importer and
 * exporter read and write, as a protobufjs reflection descriptor with the spec's field numbers.
 * It is built from a JSON descriptor in code, with protobufjs's light build (reflection without
 * the .proto parser), so it needs no file at run time and bundles for the browser.
 *
 * Field names are the spec's snake_case names, so a decoded message reads like the spec.
 * Messages and fields the engine has no use for (functions, training info, sparse tensors,
 * sequence and map types, quantization annotations) are left out: protobuf skips unknown
 * fields when decoding, so files that carry them still load.
 */
import * as protobuf from 'protobufjs/light.js';

/** TensorProto.DataType values. */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
} as const;

export const DATA_TYPE_NAMES: Record<number, string> = {
  ...Object.fromEntries(Object.entries(DataType).map(([k, v]) => [v, k])),
  17: 'FLOAT8E4M3FN',
  18: 'FLOAT8E4M3FNUZ',
  19: 'FLOAT8E5M2',
  20: 'FLOAT8E5M2FNUZ',
  21: 'UINT4',
  22: 'INT4',
  23: 'FLOAT4E2M1',
};

/** AttributeProto.AttributeType values. */
export const AttributeType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSOR: 11,
  SPARSE_TENSORS: 12,
  TYPE_PROTO: 13,
  TYPE_PROTOS: 14,
} as const;

export const ATTRIBUTE_TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(AttributeType).map(([k, v]) => [v, k]));

/** TensorProto.DataLocation: EXTERNAL means the bytes live in another file. */
export const DataLocation = { DEFAULT: 0, EXTERNAL: 1 } as const;

/** An int64 as protobufjs hands it over: a number, or a Long when the `long` package is present. */
export type Int64 = number | { toNumber(): number; toString(): string };

export interface StringStringEntryProto {
  key?: string;
  value?: string;
}

export interface OperatorSetIdProto {
  domain?: string;
  version?: Int64;
}

export interface TensorProto {
  dims?: Int64[];
  data_type?: number;
  float_data?: number[];
  int32_data?: number[];
  string_data?: Uint8Array[];
  int64_data?: Int64[];
  name?: string;
  doc_string?: string;
  raw_data?: Uint8Array;
  external_data?: StringStringEntryProto[];
  data_location?: number;
  double_data?: number[];
  uint64_data?: Int64[];
}

export interface AttributeProto {
  name?: string;
  ref_attr_name?: string;
  doc_string?: string;
  type?: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  floats?: number[];
  ints?: Int64[];
  strings?: Uint8Array[];
  tensors?: TensorProto[];
  graphs?: GraphProto[];
}

export interface NodeProto {
  input?: string[];
  output?: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  attribute?: AttributeProto[];
  doc_string?: string;
}

export interface TensorShapeDimension {
  dim_value?: Int64;
  dim_param?: string;
  denotation?: string;
}

export interface TensorShapeProto {
  dim?: TensorShapeDimension[];
}

export interface TypeProtoTensor {
  elem_type?: number;
  shape?: TensorShapeProto;
}

export interface TypeProto {
  tensor_type?: TypeProtoTensor;
  denotation?: string;
}

export interface ValueInfoProto {
  name?: string;
  type?: TypeProto;
  doc_string?: string;
}

export interface GraphProto {
  node?: NodeProto[];
  name?: string;
  initializer?: TensorProto[];
  doc_string?: string;
  input?: ValueInfoProto[];
  output?: ValueInfoProto[];
  value_info?: ValueInfoProto[];
}

export interface ModelProto {
  ir_version?: Int64;
  opset_import?: OperatorSetIdProto[];
  producer_name?: string;
  producer_version?: string;
  domain?: string;
  model_version?: Int64;
  doc_string?: string;
  graph?: GraphProto;
  metadata_props?: StringStringEntryProto[];
}

type FieldJson = { type: string; id: number; rule?: 'repeated'; options?: { packed: boolean } };
const field = (type: string, id: number): FieldJson => ({ type, id });
const repeated = (type: string, id: number): FieldJson => ({ type, id, rule: 'repeated' });
/** Packed as the spec declares ([packed = true]) for TensorProto's numeric arrays. */
const packed = (type: string, id: number): FieldJson => ({ type, id, rule: 'repeated', options: { packed: true } });
/** Repeated scalars the spec leaves unpacked (proto2's default); readers accept either form. */
const unpacked = (type: string, id: number): FieldJson => ({ type, id, rule: 'repeated', options: { packed: false } });

const ONNX_JSON = {
  nested: {
    onnx: {
      nested: {
        StringStringEntryProto: { fields: { key: field('string', 1), value: field('string', 2) } },
        OperatorSetIdProto: { fields: { domain: field('string', 1), version: field('int64', 2) } },
        TensorProto: {
          fields: {
            dims: packed('int64', 1),
            data_type: field('int32', 2),
            float_data: packed('float', 4),
            int32_data: packed('int32', 5),
            string_data: repeated('bytes', 6),
            int64_data: packed('int64', 7),
            name: field('string', 8),
            doc_string: field('string', 12),
            raw_data: field('bytes', 9),
            external_data: repeated('StringStringEntryProto', 13),
            data_location: field('int32', 14),
            double_data: packed('double', 10),
            uint64_data: packed('uint64', 11),
          },
        },
        AttributeProto: {
          fields: {
            name: field('string', 1),
            ref_attr_name: field('string', 21),
            doc_string: field('string', 13),
            type: field('int32', 20),
            f: field('float', 2),
            i: field('int64', 3),
            s: field('bytes', 4),
            t: field('TensorProto', 5),
            g: field('GraphProto', 6),
            floats: unpacked('float', 7),
            ints: unpacked('int64', 8),
            strings: repeated('bytes', 9),
            tensors: repeated('TensorProto', 10),
            graphs: repeated('GraphProto', 11),
          },
        },
        NodeProto: {
          fields: {
            input: repeated('string', 1),
            output: repeated('string', 2),
            name: field('string', 3),
            op_type: field('string', 4),
            domain: field('string', 7),
            attribute: repeated('AttributeProto', 5),
            doc_string: field('string', 6),
          },
        },
        TensorShapeProto: {
          fields: { dim: repeated('Dimension', 1) },
          nested: {
            Dimension: { fields: { dim_value: field('int64', 1), dim_param: field('string', 2), denotation: field('string', 3) } },
          },
        },
        TypeProto: {
          fields: { tensor_type: field('Tensor', 1), denotation: field('string', 6) },
          nested: {
            Tensor: { fields: { elem_type: field('int32', 1), shape: field('TensorShapeProto', 2) } },
          },
        },
        ValueInfoProto: { fields: { name: field('string', 1), type: field('TypeProto', 2), doc_string: field('string', 3) } },
        GraphProto: {
          fields: {
            node: repeated('NodeProto', 1),
            name: field('string', 2),
            initializer: repeated('TensorProto', 5),
            doc_string: field('string', 10),
            input: repeated('ValueInfoProto', 11),
            output: repeated('ValueInfoProto', 12),
            value_info: repeated('ValueInfoProto', 13),
          },
        },
        ModelProto: {
          fields: {
            ir_version: field('int64', 1),
            opset_import: repeated('OperatorSetIdProto', 8),
            producer_name: field('string', 2),
            producer_version: field('string', 3),
            domain: field('string', 4),
            model_version: field('int64', 5),
            doc_string: field('string', 6),
            graph: field('GraphProto', 7),
            metadata_props: repeated('StringStringEntryProto', 14),
          },
        },
      },
    },
  },
};

let modelType: protobuf.Type | undefined;

/** The ModelProto message type, built on first use. */
export function modelProtoType(): protobuf.Type {
  modelType ??= protobuf.Root.fromJSON(ONNX_JSON).lookupType('onnx.ModelProto');
  return modelType;
}

/** Decodes a ModelProto; throws protobufjs's own errors (callers wrap them). */
export function decodeModelProto(bytes: Uint8Array): ModelProto {
  return modelProtoType().decode(bytes) as unknown as ModelProto;
}

export function encodeModelProto(model: ModelProto): Uint8Array {
  // Plain objects encode as they are (fromObject would copy every weight array first).
  return modelProtoType()
    .encode(model as Record<string, unknown>)
    .finish();
}

/** An int64 field as a JavaScript number; exact up to 2^53, which covers every dimension. */
export function int64ToNumber(v: Int64 | undefined | null): number {
  if (v === undefined || v === null) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}
