/** The `// #include` directive of the kernels (scripts/wgsl-include.mjs) and the builds that expand it. */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expandWgsl, expandWgslIncludes, INCLUDE_DIRECTIVE } from '../scripts/wgsl-include.mjs';
import dropoutWgsl from '../kernels/dropout.wgsl';
import { KernelFamily } from '../src/runtime/kernel.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const kernelsDir = join(root, 'kernels');

/** The kernel files the ops import (kernels/*.wgsl; kernels/common holds the parts). */
const kernelFiles = readdirSync(kernelsDir).filter((f) => f.endsWith('.wgsl'));

describe('expandWgslIncludes', () => {
  let dir: string;
  const write = (name: string, text: string) => {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'wgsl-include-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('replaces a directive by the file it names, relative to the including file, recursively', () => {
    write('common/a.wgsl', '// #include "b.wgsl"\nfn a() {}\n');
    write('common/b.wgsl', 'fn b() {}\n');
    write('k.wgsl', 'fn before() {}\n  //   #include   "common/a.wgsl"  \nfn after() {}\n');
    expect(expandWgslIncludes(join(dir, 'k.wgsl'))).toBe('fn before() {}\nfn b() {}\nfn a() {}\nfn after() {}\n');
    const { files } = expandWgsl(join(dir, 'k.wgsl'));
    expect(files).toEqual([join(dir, 'k.wgsl'), join(dir, 'common/a.wgsl'), join(dir, 'common/b.wgsl')]);
  });

  it('includes each file once per kernel, however many directives name it', () => {
    write('base.wgsl', 'fn base() {}');
    write('left.wgsl', '// #include "base.wgsl"\nfn left() {}');
    write('right.wgsl', '// #include "./base.wgsl"\nfn right() {}');
    write('k.wgsl', '// #include "left.wgsl"\n// #include "right.wgsl"\n// #include "base.wgsl"\nfn main() {}');
    const code = expandWgslIncludes(join(dir, 'k.wgsl'));
    expect(code).toBe('fn base() {}\nfn left() {}\nfn right() {}\nfn main() {}');
    expect(code.match(/fn base/g)).toHaveLength(1);
  });

  it('names the including file and line of a missing file', () => {
    write('common/a.wgsl', 'fn a() {}\n// #include "gone.wgsl"\n');
    write('k.wgsl', '// #include "common/a.wgsl"\n');
    expect(() => expandWgslIncludes(join(dir, 'k.wgsl'))).toThrow(/common\/a\.wgsl:2: cannot include "gone\.wgsl": no file .*common\/gone\.wgsl/);
  });

  it('names the including file and line of a cycle, and the cycle', () => {
    write('a.wgsl', '// #include "b.wgsl"\n');
    write('b.wgsl', 'fn b() {}\n\n// #include "a.wgsl"\n');
    write('k.wgsl', '// #include "a.wgsl"\n');
    expect(() => expandWgslIncludes(join(dir, 'k.wgsl'))).toThrow(/b\.wgsl:3: include cycle: .*a\.wgsl → .*b\.wgsl → .*a\.wgsl/);
    write('self.wgsl', '// #include "self.wgsl"\n');
    expect(() => expandWgslIncludes(join(dir, 'self.wgsl'))).toThrow(/self\.wgsl:1: include cycle/);
  });

  it('renames whole words of the included file, once per renaming, leaving its own includes alone', () => {
    write('common/helper.wgsl', 'fn load_w() -> f32 { return 1.0; }\n');
    write('common/body.wgsl', '// #include "helper.wgsl"\n// body of body_tile\nfn body_tile() -> f32 { return load_w() + load_wide(); }\n');
    write(
      'k.wgsl',
      [
        '// #include "common/body.wgsl" { body_tile: tile_vec4, load_w: load_w4 }',
        '// #include "common/body.wgsl" {body_tile:tile_scalar,load_w:load_w1}',
        '// #include "common/body.wgsl" { body_tile: tile_vec4, load_w: load_w4 }',
        '// #include "common/body.wgsl"',
        '',
      ].join('\n'),
    );
    const { code, files } = expandWgsl(join(dir, 'k.wgsl'));
    expect(code).toBe(
      [
        'fn load_w() -> f32 { return 1.0; }',
        '// body of tile_vec4',
        'fn tile_vec4() -> f32 { return load_w4() + load_wide(); }',
        '// body of tile_scalar',
        'fn tile_scalar() -> f32 { return load_w1() + load_wide(); }',
        '// body of body_tile',
        'fn body_tile() -> f32 { return load_w() + load_wide(); }',
        '',
      ].join('\n'),
    );
    expect(files).toEqual([join(dir, 'k.wgsl'), join(dir, 'common/body.wgsl'), join(dir, 'common/helper.wgsl')]);
  });

  it('expands a fragment at every directive that names it, without its marker', () => {
    write('common/fields.wgsl', '// shared members\n// #fragment\n  a: u32,\n');
    write('k.wgsl', 'struct P {\n  // #include "common/fields.wgsl"\n  b: u32,\n}\nstruct Q {\n  // #include "common/fields.wgsl"\n}\n');
    expect(expandWgslIncludes(join(dir, 'k.wgsl'))).toBe(
      'struct P {\n// shared members\n  a: u32,\n  b: u32,\n}\nstruct Q {\n// shared members\n  a: u32,\n}\n',
    );
  });

  it('swaps names renamed into each other, and leaves numbers and longer words alone', () => {
    write('body.wgsl', 'let a = b + 0x1au + ab + a_1;\n');
    write('k.wgsl', '// #include "body.wgsl" { a: b, b: a, x1au: nope }\n');
    expect(expandWgslIncludes(join(dir, 'k.wgsl'))).toBe('let b = a + 0x1au + ab + a_1;\n');
  });

  it('refuses renames it cannot parse, naming the line', () => {
    write('body.wgsl', 'fn f() {}\n');
    write('k.wgsl', 'fn a() {}\n// #include "body.wgsl" { f }\n');
    expect(() => expandWgslIncludes(join(dir, 'k.wgsl'))).toThrow(/k\.wgsl:2: malformed renames in '\/\/ #include "body\.wgsl" \{ f \}'/);
    write('k2.wgsl', '// #include "body.wgsl" { f: 2g }\n');
    expect(() => expandWgslIncludes(join(dir, 'k2.wgsl'))).toThrow(/k2\.wgsl:1: malformed renames/);
    write('k3.wgsl', '// #include "body.wgsl" { f: g, f: h }\n');
    expect(() => expandWgslIncludes(join(dir, 'k3.wgsl'))).toThrow(/k3\.wgsl:1: 'f' is renamed twice/);
    write('k4.wgsl', '// #include "body.wgsl" {}\n');
    expect(() => expandWgslIncludes(join(dir, 'k4.wgsl'))).toThrow(/k4\.wgsl:1: malformed renames/);
  });

  it('refuses a directive it cannot parse rather than dropping it', () => {
    write('k.wgsl', 'fn a() {}\n// #include common/a.wgsl\n');
    expect(() => expandWgslIncludes(join(dir, 'k.wgsl'))).toThrow(/k\.wgsl:2: malformed include directive '\/\/ #include common\/a\.wgsl'/);
  });
});

describe('the kernels', () => {
  it('leave no directive after expansion, and use every common part', () => {
    const used = new Set<string>();
    for (const file of kernelFiles) {
      const { code, files } = expandWgsl(join(kernelsDir, file));
      expect(code.split('\n').filter((line) => INCLUDE_DIRECTIVE.test(line))).toEqual([]);
      for (const f of files) used.add(f);
    }
    const common = readdirSync(join(kernelsDir, 'common')).map((f) => join(kernelsDir, 'common', f));
    expect(common.filter((f) => !used.has(f))).toEqual([]);
  });

  it('reach vitest expanded (vitest.config.ts uses the same resolver)', () => {
    expect(dropoutWgsl).toBe(expandWgslIncludes(join(kernelsDir, 'dropout.wgsl')));
    expect(dropoutWgsl).toMatch(/fn philox4x32_10\(/);
  });

  it('reach the Node and browser bundles expanded, also where a build replaces the plugins with browserStubs', async () => {
    const config = (await import(/* @vite-ignore */ new URL('../esbuild.config.mjs', import.meta.url).href)) as {
      common: esbuild.BuildOptions;
      browserStubs: esbuild.Plugin;
    };
    const variants: esbuild.BuildOptions[] = [
      { ...config.common, platform: 'node' },
      { ...config.common, platform: 'browser', plugins: [config.browserStubs] },
    ];
    for (const options of variants) {
      const result = await esbuild.build({
        ...options,
        stdin: { contents: "export { default } from './kernels/dropout.wgsl';", resolveDir: root, loader: 'js' },
        sourcemap: false,
        write: false,
      });
      const text = result.outputFiles[0]!.text;
      expect(text).toContain('fn philox4x32_10(');
      expect(text).not.toMatch(/#include/);
    }
  });

  it('are refused with a clear message where a bundler left a directive in', () => {
    const raw = readFileSync(join(kernelsDir, 'dropout.wgsl'), 'utf8');
    expect(() => new KernelFamily('dropout.wgsl', raw).entryNames).toThrow(
      /kernels\/dropout\.wgsl still holds the include directive '\/\/ #include "common\/grid-index\.wgsl"'.*wgslIncludes plugin/,
    );
  });
});
