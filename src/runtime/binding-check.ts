/**
 * A dispatch checked against its kernel before WebGPU sees it. The kernel's WGSL is reflected
 * (kernel.ts), so a wrong binding name, dtype, size or aliasing, a grid or buffer past the
 * device's limits, is refused at once with an error naming the op and showing the entry's
 * expected bindings, instead of a validation error surfacing at the next flush.
 */
import { formatBytes } from './byte-size.js';
import type { BindingValue, DispatchSpec, UniformValues } from './dispatch-spec.js';
import { DeviceLimitError, KernelBindingError, type DispatchContext } from './errors.js';
import { packUniform, type BindingInfo, type EntryInfo } from './kernel.js';
import { Tensor } from './tensor.js';

export interface BoundResource {
  group: number;
  binding: number;
  resource: GPUBufferBinding;
}

/** What binding needs of the engine: the limits to check against, and the open batch. */
export interface BindTarget {
  limits: GPUSupportedLimits;
  /** False only in tests that prove WebGPU's own errors surface. */
  precheck: boolean;
  /** The open batch, noted on each bound buffer so uploads into it are staged (BatchRecorder.upload). */
  batchId: number;
  /** Where a dispatch's packed uniforms go. */
  uniformSlot(bytes: Uint8Array): GPUBufferBinding;
}

/** The spec's workgroup counts as three numbers, refused if not counts or (with precheck) past the device's limit. */
export function checkWorkgroups(spec: DispatchSpec, context: DispatchContext, limits: GPUSupportedLimits, precheck: boolean): [number, number, number] {
  const wg: [number, number, number] = [spec.workgroups[0], spec.workgroups[1] ?? 1, spec.workgroups[2] ?? 1];
  const max = limits.maxComputeWorkgroupsPerDimension;
  for (const n of wg) {
    if (!Number.isInteger(n) || n < 0) {
      throw new KernelBindingError(
        context,
        `workgroup counts ${JSON.stringify(spec.workgroups)} must be non-negative integers`,
        spec.kernel.describeEntry(spec.entry),
      );
    }
    if (precheck && n > max) {
      const outputs = Object.entries(spec.bindings)
        .filter(([name, v]) => v instanceof Tensor && spec.kernel.entry(spec.entry).bindings.some((b) => b.name === name && b.access === 'read_write'))
        .map(([, v]) => (v as Tensor).describe());
      throw new DeviceLimitError(
        context,
        `the grid [${wg.join(', ')}] has ${n} workgroups along one dimension, more than this device allows (maxComputeWorkgroupsPerDimension ${max})${outputs.length ? ` for output ${outputs.join(', ')}` : ''}. Process it in smaller pieces (a smaller batch or image); a kernel author folds such a grid into two dimensions (engine.grid1d)`,
      );
    }
  }
  return wg;
}

/** Checks each binding against the reflected WGSL and turns it into a bind group resource. */
export function bindDispatch(spec: DispatchSpec, entry: EntryInfo, context: DispatchContext, target: BindTarget): BoundResource[] {
  const expected = () => spec.kernel.describeEntry(spec.entry);
  const fail = (problem: string): never => {
    throw new KernelBindingError(context, problem, expected());
  };
  const given = Object.keys(spec.bindings);
  const names = entry.bindings.map((b) => b.name);
  const missing = names.filter((n) => !(n in spec.bindings));
  const extra = given.filter((n) => !names.includes(n));
  if (missing.length || extra.length) {
    fail(
      `wrong bindings: ${missing.length ? `missing ${missing.join(', ')}` : ''}${missing.length && extra.length ? '; ' : ''}${extra.length ? `not used by the kernel: ${extra.join(', ')}` : ''} (given: ${given.join(', ') || 'none'})`,
    );
  }
  for (const name of Object.keys(spec.overrides ?? {})) {
    if (!spec.kernel.overrides.some((o) => o.name === name)) fail(`override '${name}' is not declared in the kernel`);
  }

  const out: BoundResource[] = [];
  const writers = new Map<GPUBuffer, string>();
  const readers = new Map<GPUBuffer, string>();
  for (const b of entry.bindings) {
    const value = spec.bindings[b.name]!;
    if (b.kind === 'uniform') {
      out.push({ group: b.group, binding: b.binding, resource: uniformResource(b, value, fail, target) });
      continue;
    }
    if (!(value instanceof Tensor)) fail(`binding '${b.name}' is a storage buffer (${b.typeText}) and needs a tensor, got ${describeValue(value)}`);
    const t = value as Tensor;
    if (t.isDisposed) fail(`binding '${b.name}': ${t.describe()} was disposed`);
    if (b.scalar && t.dtype !== b.scalar) fail(`binding '${b.name}' holds ${b.typeText} but ${t.describe()} is ${t.dtype}`);
    if (t.slice && !spec.views?.includes(b.name)) {
      fail(
        `binding '${b.name}' got ${t.describe()}, a channel view, but this kernel does not take views there (its dispatch does not list '${b.name}' in views); pass a plain tensor or copy the view`,
      );
    }
    const elemBytes = 4 * (b.components ?? 1);
    const size = Math.max(elemBytes, Math.ceil((t.spanElements * 4) / elemBytes) * elemBytes);
    if (size > t.pooled.capacity) fail(`binding '${b.name}' (${b.typeText}) needs ${size} bytes; ${t.describe()} has ${t.pooled.capacity}`);
    if (b.minBytes > t.spanElements * 4) fail(`binding '${b.name}' is ${b.typeText} (${b.minBytes} bytes) but ${t.describe()} has only ${t.byteLength} bytes`);
    if (target.precheck && size > target.limits.maxStorageBufferBindingSize) {
      const limit = target.limits.maxStorageBufferBindingSize;
      throw new DeviceLimitError(
        context,
        `${t.describe()} (bound as '${b.name}') spans ${size} bytes (${formatBytes(size)}), more than one storage binding may hold on this device: maxStorageBufferBindingSize is ${limit} bytes (${formatBytes(limit)}). Process it in smaller pieces (a smaller batch or image), or use an adapter with a larger limit`,
      );
    }
    const buf = t.buffer;
    const clash = b.access === 'read_write' ? (writers.get(buf) ?? readers.get(buf)) : writers.get(buf);
    if (clash) fail(`bindings '${clash}' and '${b.name}' are the same buffer and one is written: WebGPU forbids that aliasing`);
    (b.access === 'read_write' ? writers : readers).set(buf, b.name);
    t.pooled.lastBatch = target.batchId;
    out.push({ group: b.group, binding: b.binding, resource: { buffer: buf, offset: 0, size } });
  }
  return out;
}

/** A uniform binding's values, checked against the struct's members and packed into the batch's arena. */
function uniformResource(b: BindingInfo, value: BindingValue, fail: (p: string) => never, target: BindTarget): GPUBufferBinding {
  if (value instanceof Tensor || typeof value !== 'object' || value === null) {
    fail(`binding '${b.name}' is a uniform ${b.typeText}; pass an object of numbers, got ${describeValue(value)}`);
  }
  const values = value as UniformValues;
  const members = b.uniform!.members;
  const missing = members.filter((m) => !(m.name in values)).map((m) => m.name);
  const extra = Object.keys(values).filter((k) => !members.some((m) => m.name === k));
  if (missing.length || extra.length) {
    fail(
      `uniform '${b.name}' (${b.typeText}): ${missing.length ? `missing ${missing.join(', ')}` : ''}${missing.length && extra.length ? '; ' : ''}${extra.length ? `unknown ${extra.join(', ')}` : ''}`,
    );
  }
  for (const m of members) {
    const v = values[m.name]!;
    const n = typeof v === 'number' ? 1 : v.length;
    if (n !== m.components * m.count || (typeof v !== 'number' && Array.from(v).some((x) => typeof x !== 'number'))) {
      fail(`uniform '${b.name}.${m.name}' needs ${m.components * m.count} number(s), got ${JSON.stringify(v)}`);
    }
  }
  const bytes = new Uint8Array(packUniform(b.uniform!, values));
  return target.uniformSlot(bytes);
}

function describeValue(v: unknown): string {
  if (v instanceof Tensor) return v.describe();
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}
