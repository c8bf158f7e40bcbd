/**
 * The weights manifest and its shards: `weightsManifest` lists groups; a group's shards,
 * concatenated in `paths` order, hold its weights back to back in `weights` order: float32
 * (4 bytes), or quantised with `quantization: { dtype: "uint8" | "uint16", scale, min }`
 * (value = q·scale + min) or `{ dtype: "float16" }`.
 */
import { f16BitsToNumber } from '../safetensors.js';
import { isObject, show } from './errors.js';

export interface ManifestWeight {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: 'uint8' | 'uint16' | 'float16'; scale: number; min: number };
  group: number;
  offset: number;
  byteLength: number;
}

export interface ManifestGroup {
  paths: string[];
  byteLength: number;
}

export interface Manifest {
  groups: ManifestGroup[];
  weights: ManifestWeight[];
  byName: Map<string, ManifestWeight[]>;
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8 };
const QUANT_BYTES: Record<string, number> = { uint8: 1, uint16: 2, float16: 2 };

/** Names as the converter writes them, without TensorFlow's ':0' output suffix. */
export const canonicalName = (name: string): string => name.replace(/:0$/, '');

/**
 * Why a shard path may not be read, or undefined when it is a plain relative path. Shards are
 * read from the model's folder (or from the files given with model.json), so a manifest must not
 * reach outside it: no '..' segment, no absolute path, no drive or URL scheme. A model.json from
 * elsewhere could otherwise make a reader open any file of the machine, or fetch a URL.
 */
function shardPathProblem(p: string): string | undefined {
  if (p === '') return 'is empty';
  if (p.includes('\0')) return 'holds a NUL character';
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(p)) return 'starts with a scheme or drive (a URL or a Windows drive path)';
  if (/^[\\/]/.test(p)) return 'is absolute';
  if (p.split(/[\\/]/).includes('..')) return "climbs out of the model's folder with '..'";
  return undefined;
}

export function parseManifest(raw: unknown, fail: (p: string) => never): Manifest {
  if (raw === undefined) return { groups: [], weights: [], byName: new Map() };
  if (!Array.isArray(raw)) return fail(`weightsManifest must be an array of groups, got ${show(raw)}`);
  const groups: ManifestGroup[] = [];
  const weights: ManifestWeight[] = [];
  raw.forEach((g, gi) => {
    const where = `weightsManifest group ${gi + 1}`;
    if (!isObject(g) || !Array.isArray(g['paths']) || !Array.isArray(g['weights'])) return fail(`${where} must be { paths: [...], weights: [...] }`);
    const paths = g['paths'];
    if (!paths.every((p): p is string => typeof p === 'string')) return fail(`${where}: paths must be strings, got ${show(paths)}`);
    for (const p of paths) {
      const problem = shardPathProblem(p);
      if (problem) {
        return fail(
          `${where}: shard path ${JSON.stringify(p)} ${problem}; it must be a relative path inside the model's folder (the converter writes names like "group1-shard1of2.bin")`,
        );
      }
    }
    let offset = 0;
    for (const w of g['weights'] as unknown[]) {
      if (!isObject(w) || typeof w['name'] !== 'string') return fail(`${where}: every weight needs a name, got ${show(w)}`);
      const name = w['name'];
      const shape = w['shape'];
      if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
        return fail(`${where}: weight '${name}' has no valid shape (${show(shape)})`);
      const dtype = w['dtype'];
      if (typeof dtype !== 'string') return fail(`${where}: weight '${name}' has no dtype`);
      let itemBytes = DTYPE_BYTES[dtype];
      let quantization: ManifestWeight['quantization'];
      const q = w['quantization'];
      if (q !== undefined && q !== null) {
        if (!isObject(q) || typeof q['dtype'] !== 'string' || QUANT_BYTES[q['dtype']] === undefined) {
          return fail(`${where}: weight '${name}' has quantization ${show(q)}; supported: dtype uint8 or uint16 with scale and min, or float16`);
        }
        const qd = q['dtype'] as 'uint8' | 'uint16' | 'float16';
        if (qd !== 'float16' && !(typeof q['scale'] === 'number' && typeof q['min'] === 'number' && Number.isFinite(q['scale']) && Number.isFinite(q['min']))) {
          return fail(`${where}: weight '${name}' is quantised to ${qd} but its scale and min are not finite numbers (${show(q)})`);
        }
        quantization = { dtype: qd, scale: (q['scale'] as number) ?? 1, min: (q['min'] as number) ?? 0 };
        itemBytes = QUANT_BYTES[qd];
      }
      if (itemBytes === undefined)
        return fail(`${where}: weight '${name}' has dtype ${show(dtype)}, whose size in the shard cannot be known (float32, int32, bool and complex64 can)`);
      const byteLength = shape.reduce((a: number, b: number) => a * b, 1) * itemBytes;
      weights.push({ name, shape: shape as number[], dtype, quantization, group: gi, offset, byteLength });
      offset += byteLength;
    }
    groups.push({ paths, byteLength: offset });
  });
  const byName = new Map<string, ManifestWeight[]>();
  for (const w of weights) {
    const key = canonicalName(w.name);
    byName.set(key, [...(byName.get(key) ?? []), w]);
  }
  return { groups, weights, byName };
}

/** The converter cuts a group's bytes into shards of one size S, the last one shorter; S is
 * taken from the longest shard that is not the last. Undefined where it cannot be known. */
function expectedShardBytes(group: ManifestGroup, sizes: (number | undefined)[]): (number | undefined)[] {
  const n = group.paths.length;
  if (n === 1) return [group.byteLength];
  const full = Math.max(...sizes.slice(0, -1).map((s) => s ?? 0));
  if (!(full > 0)) return sizes.map(() => undefined);
  return group.paths.map((_, i) => (i < n - 1 ? full : group.byteLength - full * (n - 1)));
}

export async function readGroups(
  manifest: Manifest,
  needed: Set<number>,
  readShard: (path: string) => Promise<Uint8Array>,
  fail: (p: string) => never,
): Promise<Map<number, Uint8Array>> {
  const out = new Map<number, Uint8Array>();
  for (const gi of [...needed].sort((a, b) => a - b)) {
    const group = manifest.groups[gi]!;
    const n = group.paths.length;
    const settled = await Promise.allSettled(group.paths.map((p) => readShard(p)));
    const sizes = settled.map((s) => (s.status === 'fulfilled' && s.value instanceof Uint8Array ? s.value.length : undefined));
    const expected = expectedShardBytes(group, sizes);
    const shardName = (i: number): string => `weight shard '${group.paths[i]}' (group ${gi + 1}, shard ${i + 1} of ${n})`;
    const expectation = (i: number): string =>
      expected[i] !== undefined && expected[i]! > 0
        ? `expected ${expected[i]} bytes (the group's weights take ${group.byteLength} bytes)`
        : `the group's weights take ${group.byteLength} bytes in all`;
    settled.forEach((s, i) => {
      if (s.status === 'rejected') fail(`${shardName(i)} could not be read, ${expectation(i)}: ${(s.reason as Error)?.message ?? String(s.reason)}`);
      if (!(s.value instanceof Uint8Array)) fail(`${shardName(i)}: readShard must return a Uint8Array, got ${Object.prototype.toString.call(s.value)}`);
    });
    if (n === 0 && group.byteLength > 0) fail(`weightsManifest group ${gi + 1} lists no paths but its weights take ${group.byteLength} bytes`);
    const total = sizes.reduce((a: number, b) => a + b!, 0);
    if (total !== group.byteLength) {
      const bad = sizes.findIndex((s, i) => expected[i] !== undefined && s !== expected[i]);
      const i = bad >= 0 ? bad : n - 1;
      const verdict = total < group.byteLength ? 'is truncated' : 'is longer than its weights';
      fail(`${shardName(i)} ${verdict}: it holds ${sizes[i]} bytes, ${expectation(i)} and the group's ${n} shard${n === 1 ? '' : 's'} hold ${total}`);
    }
    const bytes = new Uint8Array(group.byteLength);
    let at = 0;
    for (const s of settled) {
      const b = (s as PromiseFulfilledResult<Uint8Array>).value;
      bytes.set(b, at);
      at += b.length;
    }
    out.set(gi, bytes);
  }
  return out;
}

export function decodeWeight(w: ManifestWeight, bytes: Uint8Array, fail: (p: string) => never): Float32Array {
  if (w.dtype !== 'float32') return fail(`weight '${w.name}' has dtype ${w.dtype}; layers read float32 weights`);
  const n = w.shape.reduce((a, b) => a * b, 1);
  const view = new DataView(bytes.buffer, bytes.byteOffset + w.offset, w.byteLength);
  const out = new Float32Array(n);
  const q = w.quantization;
  if (!q) {
    // DataView: a weight after a quantised one need not be 4-byte aligned.
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
  } else if (q.dtype === 'uint8') {
    for (let i = 0; i < n; i++) out[i] = view.getUint8(i) * q.scale + q.min;
  } else if (q.dtype === 'uint16') {
    for (let i = 0; i < n; i++) out[i] = view.getUint16(2 * i, true) * q.scale + q.min;
  } else {
    for (let i = 0; i < n; i++) out[i] = f16BitsToNumber(view.getUint16(2 * i, true));
  }
  return out;
}
