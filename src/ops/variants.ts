/**
 * A kernel variant as a value: everything an op needs to know about one WGSL entry it may run
 * (which file and entry, what the problem must satisfy, which device features it needs, how it
 * stores its output, its grid, how its bindings are named), in one record. Each op keeps one
 * table of them; candidates, refusals, the tuner's choice and the dispatch all read the table,
 * so adding a variant is one WGSL entry and one record.
 */
import type { BindingValue, Engine } from '../runtime/engine.js';
import type { KernelFamily } from '../runtime/kernel.js';
import type { Tensor } from '../runtime/tensor.js';
import { vec4OutputRefusal } from './output.js';

export interface VariantGrid {
  workgroups: [number, number, number];
  /** The variant's own override constants (tile widths, subgroup workgroup width, taps). */
  overrides: Record<string, number>;
}

/**
 * One variant of an op whose problem is described by G; R names the op's binding roles (input,
 * weights, output, …), N is the variant's name.
 */
export interface KernelVariant<G, R extends string = string, N extends string = string> {
  readonly name: N;
  readonly kernel: KernelFamily;
  readonly entry: string;
  /** The entry that also writes BatchNorm partial statistics, and the output pixels each of
   * its statistics blocks covers. */
  readonly statistics?: { readonly entry: string; readonly blockPixels: number };
  readonly features?: readonly GPUFeatureName[];
  /** Why this variant cannot run the problem (on any device), or undefined if it can. `view` is
   * the op's tensor that may be a channel view (the output, or dy for a weight gradient). */
  readonly refusal?: (g: G, view?: Tensor) => string | undefined;
  /** Stores its output as vec4s, so a channel-view output must be 4-aligned (and its epilogue
   * reads vec4s). */
  readonly storesVec4: boolean;
  readonly grid: (engine: Engine, g: G) => VariantGrid;
  /** The WGSL binding name of each role, e.g. weights → 'w4' for a kernel reading vec4s. */
  readonly bindings: Readonly<Record<R, string>>;
}

export interface RefusalOptions {
  /** The tensor that may be a channel view (see KernelVariant.refusal). */
  view?: Tensor | undefined;
  /** How messages name the variant (default its name). */
  label?: string;
  /** Report a missing feature before a misaligned output (matmul's historical order). */
  featuresFirst?: boolean;
}

/** Why `v` cannot run this problem on this engine, or undefined if it can. */
export function variantRefusal<G>(v: KernelVariant<G>, g: G, engine: Engine, options: RefusalOptions = {}): string | undefined {
  const label = options.label ?? v.name;
  const shape = v.refusal?.(g, options.view);
  if (shape) return shape;
  const output = () => (v.storesVec4 ? vec4OutputRefusal(label, options.view) : undefined);
  const features = () => {
    const missing = (v.features ?? []).find((f) => !engine.features.has(f));
    return missing ? `${label} needs the '${missing}' feature, which this device (${engine.adapterName}) lacks` : undefined;
  };
  return options.featuresFirst ? (features() ?? output()) : (output() ?? features());
}

/** The variants of `table` that can run this problem on this engine, in table order. */
export function variantCandidates<G, V extends KernelVariant<G>>(table: readonly V[], g: G, engine: Engine, options: RefusalOptions = {}): V[] {
  return table.filter((v) => variantRefusal(v, g, engine, options) === undefined);
}

export function findVariant<V extends { readonly name: string }>(table: readonly V[], name: string): V | undefined {
  return table.find((v) => v.name === name);
}

export function unknownVariantMessage(table: readonly { readonly name: string }[], name: string): string {
  return `unknown variant '${String(name)}'; choose one of ${table.map((v) => v.name).join(', ')}`;
}

/** Everything of a dispatch that is the op's, not the variant's. */
export interface VariantDispatch<R extends string> {
  op: string;
  /** The op's tensors by role; the variant's record names their bindings. */
  tensors: Readonly<Record<R, Tensor>>;
  /** Further bindings under their own names (uniforms, epilogue, statistics). */
  bindings?: Record<string, BindingValue>;
  overrides?: Record<string, number>;
  /** Roles whose tensor may be a channel view. */
  views?: readonly R[];
  cost?: { flops?: number; bytes?: number };
  /** Run the variant's statistics entry instead of its plain one. */
  statistics?: boolean;
}

/** Records the variant's dispatch: the one place an op's variants reach the engine. */
export function dispatchVariant<G, R extends string>(engine: Engine, v: KernelVariant<G, R>, g: G, d: VariantDispatch<NoInfer<R>>): void {
  const grid = v.grid(engine, g);
  const bindings: Record<string, BindingValue> = {};
  for (const role of Object.keys(d.tensors) as R[]) bindings[v.bindings[role]] = d.tensors[role];
  const entry = d.statistics ? v.statistics?.entry : v.entry;
  if (entry === undefined) throw new Error(`${d.op}: variant ${v.name} has no statistics entry`);
  engine.dispatch({
    op: d.op,
    kernel: v.kernel,
    entry,
    overrides: { ...grid.overrides, ...d.overrides },
    bindings: { ...bindings, ...d.bindings },
    workgroups: grid.workgroups,
    ...(d.cost ? { cost: d.cost } : {}),
    ...(d.views ? { views: d.views.map((r) => v.bindings[r]) } : {}),
  });
}
