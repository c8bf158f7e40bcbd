/** Kernel families read their bindings and uniform layouts from WGSL with wgsl_reflect. */
import { describe, expect, it } from 'vitest';
import { KernelFamily, packUniform } from '../src/runtime/kernel.js';
import { elementwiseKernel } from '../src/ops/elementwise.js';
import { matmulKernel } from '../src/ops/matmul.js';
import { kernelFamiliesWithSubgroups } from '../src/ops/subgroups.js';
import matmulWgsl from '../kernels/matmul.wgsl';
import conv2dAsymWgsl from '../kernels/conv2d-asym.wgsl';

const layoutKernel = new KernelFamily(
  'test_layout.wgsl',
  `struct P { n: u32, alpha: f32, shape: vec4<u32>, beta: f32, offsets: array<vec4<i32>, 2> }
   @group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
   @group(0) @binding(1) var<storage, read_write> y: array<i32>;
   @group(0) @binding(2) var<uniform> p: P;
   @compute @workgroup_size(8, 4) fn main() { y[0] = i32(x[0].x * p.alpha) + p.offsets[1].y; }
   @compute @workgroup_size(1) fn other() { y[0] = 1; }`,
);

describe('reflection', () => {
  it('reads each entry point’s bindings, element types, access and workgroup size', () => {
    const e = layoutKernel.entry('main');
    expect(e.workgroupSize).toEqual([8, 4, 1]);
    expect(e.bindings.map((b) => [b.name, b.binding, b.kind, b.access, b.scalar, b.components])).toEqual([
      ['x', 0, 'storage', 'read', 'f32', 4],
      ['y', 1, 'storage', 'read_write', 'i32', 1],
      ['p', 2, 'uniform', 'read', undefined, undefined],
    ]);
    // An entry point binds only what it uses (layout: 'auto' drops the rest).
    expect(layoutKernel.entry('other').bindings.map((b) => b.name)).toEqual(['y']);
  });

  it('reads the uniform struct layout with WGSL alignment (vec4 at 16, arrays of vec4)', () => {
    const p = layoutKernel.entry('main').bindings.find((b) => b.name === 'p')!.uniform!;
    expect(p.members.map((m) => [m.name, m.offset, m.components, m.count])).toEqual([
      ['n', 0, 1, 1],
      ['alpha', 4, 1, 1],
      ['shape', 16, 4, 1],
      ['beta', 32, 1, 1],
      ['offsets', 48, 4, 2],
    ]);
    expect(p.size).toBe(80);
    const bytes = packUniform(p, { n: 7, alpha: 0.5, shape: [1, 2, 3, 4], beta: -1, offsets: [1, 2, 3, 4, -5, -6, -7, -8] });
    const view = new DataView(bytes);
    expect(view.getUint32(0, true)).toBe(7);
    expect(view.getFloat32(4, true)).toBe(0.5);
    expect(view.getUint32(16 + 12, true)).toBe(4);
    expect(view.getFloat32(32, true)).toBe(-1);
    expect(view.getInt32(48 + 16 + 4, true)).toBe(-6);
  });

  it('lists every kernel of the engine’s families and their overrides', () => {
    expect(elementwiseKernel.entryNames.sort()).toEqual(['add', 'mul', 'relu', 'relu_backward', 'scale_shift']);
    expect(elementwiseKernel.overrides.map((o) => o.name).sort()).toEqual(['APPLY_RELU', 'OUT_VIEW', 'WORKGROUP_SIZE']);
    expect(matmulKernel.entryNames).toEqual(expect.arrayContaining(['tile4x4', 'tile4x4_vec4', 'shared64']));
    expect(matmulKernel.describeEntry('tile4x4_vec4')).toMatch(/a4: storage, read, array<vec4f>/);
  });

  it('gives entries that call the shared parts of kernels/common only the bindings they use', () => {
    // wgsl_reflect matches names without scopes: a parameter of a shared function named like a
    // binding of the including kernel would make that binding look used.
    const matmul = kernelFamiliesWithSubgroups('matmul.wgsl', matmulWgsl);
    expect(matmul.subgroups.entry('subgroup16x8').bindings.map((b) => b.name)).toEqual(['a', 'b4', 'c4', 'params', 'scale4', 'shift4']);
    expect(matmul.plain.entry('tile4x4').bindings.map((b) => b.name)).toEqual(['a', 'b', 'c', 'params', 'scale', 'shift']);
    const asym = kernelFamiliesWithSubgroups('conv2d-asym.wgsl', conv2dAsymWgsl);
    expect(asym.plain.entry('window8x8').bindings.map((b) => b.name)).toEqual(['x', 'w4', 'y4', 'params', 'scale4', 'shift4']);
    expect(asym.plain.entryNames).not.toContain('subgroup_window8x8');
    expect(asym.subgroups.overrides.map((o) => o.name)).toEqual(expect.arrayContaining(['HAS_SCALE', 'HAS_SHIFT', 'RELU', 'TAPS', 'SUBGROUP_WG_X']));
  });

  it('names the file when WGSL cannot be parsed', () => {
    expect(() => new KernelFamily('test_bad.wgsl', 'fn (').entryNames).toThrow(/kernels\/test_bad\.wgsl: wgsl_reflect could not parse it/);
  });
});
