/**
 * File names that lead to code: a kernel, its dispatch and its taped backward rule are found
 * from the op's name alone. kernels/<op>.wgsl is dispatched by src/ops/<op>.ts (the few kernels
 * the runtime or the optimizers run themselves are listed below with their user), a backward op
 * sits next to its forward op, and the backward rule of every taped op is in
 * src/autograd/<op>.ts, gathered by src/autograd/functions.ts.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as ag from '../src/autograd/functions.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Kernels no op file dispatches, each with the module that does (it must import the kernel). */
const KERNELS_WITHOUT_OP: Record<string, string> = {
  // The engine's own fills (zeros, constants, seeded random tensors), not ops on tensors.
  fill: 'src/runtime/fill-kernels.ts',
  random: 'src/runtime/fill-kernels.ts',
  // The optimizers' fused update steps.
  optimizer: 'src/optim/kernel.ts',
};

/** Taped ops with no op file: a reshape is a Tensor view, no kernel runs. */
const TAPED_WITHOUT_OP = new Set(['reshape']);

const names = (dir: string, ext: string): string[] =>
  readdirSync(join(root, dir), { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(ext))
    .map((e) => e.name.slice(0, -ext.length))
    .sort();

const read = (path: string): string => readFileSync(join(root, path), 'utf8');
const withoutComments = (source: string): string => source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');

/** The barrel's re-exports: target module (without extension) and the value names it passes on. */
function barrelExports(): { module: string; values: string[] }[] {
  const source = withoutComments(read('src/autograd/functions.ts'));
  return [...source.matchAll(/export\s*\{([^}]*)\}\s*from\s*'\.\/([^']+)\.js'/g)].map((m) => ({
    module: m[2]!,
    values: m[1]!
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '' && !s.startsWith('type '))
      .map((s) => s.split(/\s+as\s+/).pop()!),
  }));
}

describe('file layout', () => {
  it('every kernels/*.wgsl has a src/ops file of the same name, or a listed user that imports it', () => {
    const ops = new Set(names('src/ops', '.ts'));
    const stray = names('kernels', '.wgsl').filter((k) => {
      if (ops.has(k)) return false;
      const user = KERNELS_WITHOUT_OP[k];
      return !(user && existsSync(join(root, user)) && read(user).includes(`kernels/${k}.wgsl'`));
    });
    expect(stray).toEqual([]);
  });

  it('the allow-list names only kernels that exist and have no op file', () => {
    const kernels = new Set(names('kernels', '.wgsl'));
    const ops = new Set(names('src/ops', '.ts'));
    expect(Object.keys(KERNELS_WITHOUT_OP).filter((k) => !kernels.has(k) || ops.has(k))).toEqual([]);
  });

  it('every src/ops/<op>-backward.ts sits next to its forward op src/ops/<op>.ts', () => {
    const ops = new Set(names('src/ops', '.ts'));
    expect([...ops].filter((o) => o.endsWith('-backward') && !ops.has(o.slice(0, -'-backward'.length)))).toEqual([]);
  });

  it('src/autograd/functions.ts only gathers: it declares nothing of its own', () => {
    const statements = withoutComments(read('src/autograd/functions.ts'))
      .split(';')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    expect(statements.filter((s) => !/^export\s*\{[^}]*\}\s*from\s*'\.\/[^']+\.js'$/.test(s))).toEqual([]);
  });

  it("every taped op's backward rule is in src/autograd/<op>.ts, named like its op file", () => {
    const ops = new Set(names('src/ops', '.ts'));
    const modules = barrelExports().map((e) => e.module);
    expect(modules.filter((m) => !existsSync(join(root, 'src/autograd', `${m}.ts`)))).toEqual([]);
    expect(modules.filter((m) => !ops.has(m) && !TAPED_WITHOUT_OP.has(m))).toEqual([]);
  });

  it('the barrel gathers every rule file, and exactly the taped ops the namespace has', () => {
    const gathered = new Set(barrelExports().map((e) => e.module));
    const ruleFiles = names('src/autograd', '.ts').filter((n) => n !== 'functions' && n !== 'tape');
    expect(ruleFiles.filter((f) => !gathered.has(f))).toEqual([]);
    const values = barrelExports()
      .flatMap((e) => e.values)
      .sort();
    expect(Object.keys(ag).sort()).toEqual(values);
  });
});
