/**
 * A kernel family is one `.wgsl` file under kernels/. Its bindings, uniform struct layouts,
 * entry points and overrides are read with wgsl_reflect, so a dispatch is checked against what
 * the WGSL declares, by name, before anything reaches the GPU.
 */
import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import { InceptError } from './errors.js';

export type ScalarType = 'f32' | 'i32' | 'u32';

/** One member of a uniform struct, as laid out in memory (std140-like WGSL uniform rules). */
export interface UniformMember {
  name: string;
  offset: number;
  scalar: ScalarType;
  /** Components per element: 1 for scalars, 2–4 for vectors. */
  components: number;
  /** Elements, for `array<T, N>` members; 1 otherwise. */
  count: number;
  /** Byte stride between array elements (16 in uniform arrays). */
  stride: number;
}

export interface UniformLayout {
  typeName: string;
  size: number;
  members: UniformMember[];
}

export interface BindingInfo {
  name: string;
  group: number;
  binding: number;
  kind: 'storage' | 'uniform';
  access: 'read' | 'read_write';
  /** Storage arrays: the scalar type of one component, and components per element (vec4 → 4). */
  scalar?: ScalarType;
  components?: number;
  /** Bytes the binding needs at least: fixed-size arrays and uniforms; 0 for runtime-sized. */
  minBytes: number;
  /** A readable description, e.g. `array<vec4<f32>>`. */
  typeText: string;
  uniform?: UniformLayout;
}

export interface EntryInfo {
  name: string;
  bindings: BindingInfo[];
  /** Workgroup size with default override values; ops that override it know their own. */
  workgroupSize: [number, number, number];
}

export interface OverrideInfo {
  name: string;
  type: string;
}

/* wgsl_reflect's types are loose; these are the fields read here. */
interface ReflType {
  name: string;
  size: number;
  count?: number;
  stride?: number;
  format?: ReflType;
  members?: { name: string; offset: number; size: number; type: ReflType }[];
}
interface ReflVar {
  name: string;
  group: number;
  binding: number;
  access: string;
  type: ReflType;
}

function scalarAndComponents(t: ReflType): { scalar: ScalarType; components: number } | undefined {
  if (t.name === 'f32' || t.name === 'i32' || t.name === 'u32') return { scalar: t.name, components: 1 };
  if (t.name === 'atomic' && t.format) return scalarAndComponents(t.format);
  const short = /^vec([234])([fiu])$/.exec(t.name);
  if (short) return { scalar: `${short[2]}32` as ScalarType, components: Number(short[1]) };
  const long = /^vec([234])$/.exec(t.name);
  if (long && t.format) {
    const inner = scalarAndComponents(t.format);
    if (inner && inner.components === 1) return { scalar: inner.scalar, components: Number(long[1]) };
  }
  return undefined;
}

function typeText(t: ReflType): string {
  if (t.name === 'array') return `array<${t.format ? typeText(t.format) : '?'}${t.count ? `, ${t.count}` : ''}>`;
  if (t.format) return `${t.name}<${typeText(t.format)}>`;
  return t.name;
}

export interface KernelFamilyOptions {
  /** How messages name the kernel's source (default `kernels/<file>`); custom kernels
   * (defineKernel) have no file and are named by their given name. */
  describedAs?: string;
}

/** Pipelines compiled ahead of the first dispatch (defineKernel compiles at definition), for
 * the engine's pipeline cache to adopt instead of compiling again. Keyed by pipelineKey. */
export interface PrecompiledKernel {
  module: GPUShaderModule;
  pipelines: Map<string, GPUComputePipeline>;
}

/** The key of one pipeline of a kernel: its entry and override values, in name order. */
export function pipelineKey(entry: string, overrides: Record<string, number>): string {
  return `${entry}:${Object.entries(overrides)
    .sort()
    .map(([k, v]) => `${k}=${v}`)
    .join(',')}`;
}

export class KernelFamily {
  private reflected?: { entries: Map<string, EntryInfo>; overrides: OverrideInfo[] };
  /** How messages name this kernel's source, e.g. `kernels/elementwise.wgsl`. */
  readonly source: string;
  /** @internal Compiled objects per device, made before any dispatch (see PrecompiledKernel). */
  readonly precompiled = new WeakMap<GPUDevice, PrecompiledKernel>();

  /** @param file the file name under kernels/, e.g. `elementwise.wgsl` */
  constructor(
    readonly file: string,
    readonly code: string,
    options: KernelFamilyOptions = {},
  ) {
    this.source = options.describedAs ?? `kernels/${file}`;
  }

  get name(): string {
    return this.file.replace(/\.wgsl$/, '');
  }

  private reflect(): { entries: Map<string, EntryInfo>; overrides: OverrideInfo[] } {
    if (this.reflected) return this.reflected;
    // The builds and vitest expand `// #include` lines (scripts/wgsl-include.mjs); a bundler set
    // up with a plain text loader would hand over the kernel without its shared parts.
    const directive = this.source.startsWith('kernels/') ? /^\s*\/\/\s*#include\b.*$/m.exec(this.code) : null;
    if (directive) {
      throw new InceptError(
        `${this.source} still holds the include directive '${directive[0].trim()}': it was bundled as plain text; load .wgsl files through the wgslIncludes plugin of esbuild.config.mjs (scripts/wgsl-include.mjs)`,
      );
    }
    let r: WgslReflect;
    try {
      r = new WgslReflect(this.code);
    } catch (e) {
      throw new InceptError(`${this.source}: wgsl_reflect could not parse it: ${(e as Error).message}`);
    }
    const byName = new Map<string, BindingInfo>();
    for (const v of r.storage as unknown as ReflVar[]) byName.set(v.name, this.storageBinding(v));
    for (const v of r.uniforms as unknown as ReflVar[]) byName.set(v.name, this.uniformBinding(v));
    const entries = new Map<string, EntryInfo>();
    for (const e of r.entry.compute) {
      const used = (e.resources as unknown as ReflVar[])
        .map((res) => byName.get(res.name))
        .filter((b): b is BindingInfo => b !== undefined)
        .sort((a, b) => a.group - b.group || a.binding - b.binding);
      const ws = (e.workgroupSize ?? [1, 1, 1]) as unknown as number[];
      entries.set(e.name, { name: e.name, bindings: used, workgroupSize: [ws[0] ?? 1, ws[1] ?? 1, ws[2] ?? 1] });
    }
    const overrides = (r.overrides as unknown as { name: string; type: ReflType }[]).map((o) => ({
      name: o.name,
      type: o.type?.name ?? '?',
    }));
    this.reflected = { entries, overrides };
    return this.reflected;
  }

  private storageBinding(v: ReflVar): BindingInfo {
    const elem = v.type.name === 'array' && v.type.format ? v.type.format : v.type;
    const sc = scalarAndComponents(elem);
    return {
      name: v.name,
      group: v.group,
      binding: v.binding,
      kind: 'storage',
      access: v.access === 'read_write' || v.access === 'write' ? 'read_write' : 'read',
      scalar: sc?.scalar,
      components: sc?.components,
      minBytes: v.type.size > 0 ? v.type.size : 0,
      typeText: typeText(v.type),
    };
  }

  private uniformBinding(v: ReflVar): BindingInfo {
    const members: UniformMember[] = [];
    for (const m of v.type.members ?? []) {
      const isArray = m.type.name === 'array' && m.type.format;
      const elem = isArray ? m.type.format! : m.type;
      const sc = scalarAndComponents(elem);
      if (!sc) {
        throw new InceptError(`${this.source}: uniform ${v.name}.${m.name} has type ${typeText(m.type)}; uniforms hold scalars, vectors and arrays of them`);
      }
      members.push({
        name: m.name,
        offset: m.offset,
        ...sc,
        count: isArray ? (m.type.count ?? 1) : 1,
        stride: isArray ? (m.type.stride ?? 16) : 0,
      });
    }
    return {
      name: v.name,
      group: v.group,
      binding: v.binding,
      kind: 'uniform',
      access: 'read',
      minBytes: v.type.size,
      typeText: v.type.name,
      uniform: { typeName: v.type.name, size: v.type.size, members },
    };
  }

  entry(name: string): EntryInfo {
    const e = this.reflect().entries.get(name);
    if (!e) {
      throw new InceptError(`${this.source} has no compute entry point '${name}'; it has: ${[...this.reflect().entries.keys()].join(', ')}`);
    }
    return e;
  }

  get entryNames(): string[] {
    return [...this.reflect().entries.keys()];
  }

  get overrides(): OverrideInfo[] {
    return this.reflect().overrides;
  }

  /** What a dispatch of `entry` must pass, one binding a line, for error messages. */
  describeEntry(entry: string): string {
    const e = this.entry(entry);
    const lines = e.bindings.map((b) => {
      const where = `@group(${b.group}) @binding(${b.binding})`;
      if (b.kind === 'uniform') {
        const fields = b.uniform!.members.map(
          (m) => `${m.name}: ${m.components > 1 ? `vec${m.components}<${m.scalar}>` : m.scalar}${m.count > 1 ? `[${m.count}]` : ''}`,
        );
        return `  ${where} ${b.name}: uniform ${b.typeText} { ${fields.join(', ')} }  (pass an object of numbers)`;
      }
      return `  ${where} ${b.name}: storage, ${b.access}, ${b.typeText}  (pass a tensor of ${b.scalar ?? 'any dtype'})`;
    });
    const ov = this.overrides.length ? `\n  overrides: ${this.overrides.map((o) => `${o.name}: ${o.type}`).join(', ')}` : '';
    return `${this.source} entry '${entry}' expects:\n${lines.join('\n')}${ov}`;
  }
}

/** Packs uniform values (an object keyed by struct member) into bytes, by the reflected layout. */
export function packUniform(layout: UniformLayout, values: Record<string, number | readonly number[]>): ArrayBuffer {
  const bytes = new ArrayBuffer(Math.max(16, Math.ceil(layout.size / 16) * 16));
  const view = new DataView(bytes);
  for (const m of layout.members) {
    const v = values[m.name];
    const flat = typeof v === 'number' ? [v] : Array.from(v ?? []);
    for (let el = 0; el < m.count; el++) {
      for (let c = 0; c < m.components; c++) {
        const x = flat[el * m.components + c] ?? 0;
        const at = m.offset + el * m.stride + c * 4;
        if (m.scalar === 'f32') view.setFloat32(at, x, true);
        else if (m.scalar === 'i32') view.setInt32(at, x, true);
        else view.setUint32(at, x, true);
      }
    }
  }
  return bytes;
}
