/**
 * Node attributes, typed and checked against the names each op accepts, and the window
 * geometry (pads, strides, kernel) that Conv and the pools share.
 */
import type { GraphPadding } from '../../graph/ir.js';
import { fmt } from './tensor.js';
import { AttributeType, ATTRIBUTE_TYPE_NAMES, int64ToNumber, type AttributeProto, type NodeProto, type TensorProto } from './schema.js';

/** Attribute access for one node, with the types checked and unknown names refused. */
export class Attributes {
  private readonly byName = new Map<string, AttributeProto>();

  constructor(
    node: NodeProto,
    allowed: readonly string[],
    private readonly fail: (problem: string) => never,
  ) {
    for (const a of node.attribute ?? []) {
      const name = a.name ?? '';
      if (a.ref_attr_name) fail(`attribute '${name}' refers to a function attribute ('${a.ref_attr_name}'), which only functions may do`);
      if (!allowed.includes(name))
        fail(`attribute '${name}' is not supported for this op${allowed.length > 0 ? ` (supported: ${allowed.join(', ')})` : ' (it takes none)'}`);
      this.byName.set(name, a);
    }
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  private get(name: string, type: number): AttributeProto | undefined {
    const a = this.byName.get(name);
    if (!a) return undefined;
    // Files from IR version 1 have no type field; their value is read as the op expects it.
    const actual = a.type ?? AttributeType.UNDEFINED;
    if (actual !== AttributeType.UNDEFINED && actual !== type)
      this.fail(`attribute '${name}' must be ${ATTRIBUTE_TYPE_NAMES[type]}, got ${ATTRIBUTE_TYPE_NAMES[actual] ?? `type ${actual}`}`);
    return a;
  }

  int(name: string, fallback: number): number {
    const a = this.get(name, AttributeType.INT);
    return a ? int64ToNumber(a.i) : fallback;
  }

  float(name: string, fallback: number): number {
    const a = this.get(name, AttributeType.FLOAT);
    return a ? (a.f ?? 0) : fallback;
  }

  ints(name: string): number[] | undefined {
    const a = this.get(name, AttributeType.INTS);
    return a ? (a.ints ?? []).map(int64ToNumber) : undefined;
  }

  floats(name: string): number[] | undefined {
    const a = this.get(name, AttributeType.FLOATS);
    return a ? [...(a.floats ?? [])] : undefined;
  }

  string(name: string, fallback: string): string {
    const a = this.get(name, AttributeType.STRING);
    return a ? new TextDecoder().decode(a.s ?? new Uint8Array()) : fallback;
  }

  tensor(name: string): TensorProto | undefined {
    return this.get(name, AttributeType.TENSOR)?.t;
  }
}

/** Resolves auto_pad / pads to the IR's [top, bottom, left, right]. */
export function resolvePads(
  attrs: Attributes,
  h: number,
  w: number,
  kernel: [number, number],
  stride: [number, number],
  fail: (p: string) => never,
): GraphPadding {
  const autoPad = attrs.string('auto_pad', 'NOTSET');
  const pads = attrs.ints('pads');
  switch (autoPad) {
    case 'NOTSET': {
      if (pads === undefined) return [0, 0, 0, 0];
      if (pads.length !== 4 || pads.some((p) => !Number.isInteger(p) || p < 0))
        fail(`pads must be 4 non-negative integers [top, left, bottom, right], got ${fmt(pads)}`);
      const [top, left, bottom, right] = pads as [number, number, number, number];
      return [top, bottom, left, right];
    }
    case 'VALID':
      return [0, 0, 0, 0];
    case 'SAME_UPPER':
    case 'SAME_LOWER': {
      const side = (size: number, k: number, s: number): [number, number] => {
        const total = Math.max(0, (Math.ceil(size / s) - 1) * s + k - size);
        const small = Math.floor(total / 2);
        return autoPad === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
      };
      const [top, bottom] = side(h, kernel[0], stride[0]);
      const [left, right] = side(w, kernel[1], stride[1]);
      return [top, bottom, left, right];
    }
    default:
      return fail(`auto_pad '${autoPad}' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER`);
  }
}

export function pair(attrs: Attributes, name: string, fallback: [number, number], fail: (p: string) => never): [number, number] {
  const v = attrs.ints(name);
  if (v === undefined) return fallback;
  if (v.length !== 2 || v.some((x) => !Number.isInteger(x) || x < 1)) fail(`${name} must be two positive integers for a 2-D op, got ${fmt(v)}`);
  return [v[0]!, v[1]!];
}

export function checkDilations(attrs: Attributes, fail: (p: string) => never): void {
  const d = attrs.ints('dilations');
  if (d !== undefined && d.some((x) => x !== 1)) fail(`dilations ${fmt(d)} are not supported; only dilation 1`);
}

export const outputSize = (size: number, k: number, s: number, before: number, after: number): number => Math.floor((size + before + after - k) / s) + 1;
