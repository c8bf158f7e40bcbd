/**
 * What the subgroup kernels share: the split of a kernel file into the part every device
 * compiles and the part behind `enable subgroups;`, and the workgroup width they run with.
 */
import type { Engine } from '../runtime/engine.js';
import { KernelFamily } from '../runtime/kernel.js';

/** Kernels after this line of a .wgsl file use subgroup builtins. WGSL accepts those only
 * after `enable subgroups;`, and that directive fails on devices without the feature. The split
 * is made on the kernel with its includes expanded, so a shared part that uses subgroup builtins
 * (kernels/common/subgroups.wgsl) is included below the line. */
export const SUBGROUP_MARKER = '// @subgroups-only';

/**
 * `plain`: the file up to the marker, for every device. `subgroups`: the whole file behind
 * `enable subgroups;`, for devices with the feature. Same file name, so profiles and errors say
 * <file>:<entry>; only the subgroup entries are dispatched from it (the pipeline cache keys on
 * file:entry, and the other entries would be the same code as plain's anyway).
 */
export function kernelFamiliesWithSubgroups(file: string, source: string): { plain: KernelFamily; subgroups: KernelFamily } {
  const at = source.indexOf(SUBGROUP_MARKER);
  if (at < 0) throw new Error(`kernels/${file}: the line '${SUBGROUP_MARKER}' is missing`);
  return { plain: new KernelFamily(file, source.slice(0, at)), subgroups: new KernelFamily(file, `enable subgroups;\n${source}`) };
}

/** Widest workgroup for the subgroup kernels; 16, 32 and 64 measured alike on both CPU
 * drivers, and narrower groups waste fewer lanes when there are few columns. */
const SUBGROUP_MAX_WORKGROUP_X = 32;

/** Invocations along x for a subgroup kernel: enough for the lanes needed, whole subgroups only
 * (an unknown subgroup size counts as 64, a multiple of every size in use). */
export function subgroupWorkgroupX(engine: Engine, lanesNeeded: number): number {
  const sg = engine.adapterInfo.subgroupMaxSize ?? 64;
  const cap = Math.max(sg, Math.floor(SUBGROUP_MAX_WORKGROUP_X / sg) * sg);
  return Math.min(cap, Math.ceil(lanesNeeded / sg) * sg);
}
