/**
 * The modules of src/ and bench/ import in one direction: no circle of imports, type-only
 * imports included (a circle of types is still two modules that cannot be understood, moved or
 * tested apart). A circle found is printed as the list of its modules.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sourceFiles(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [normalize(path)] : [];
  });
}

/** Relative imports and re-exports of each file, as repository paths of .ts files. */
export function importGraph(files: readonly string[], read: (path: string) => string): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  const statement = /^\s*(?:import|export)\s[^;]*?\bfrom\s+'(\.{1,2}\/[^']+)'/gms;
  for (const file of files) {
    const deps = new Set<string>();
    for (const m of read(file).matchAll(statement)) {
      const target = normalize(join(dirname(file), m[1]!)).replace(/\.js$/, '.ts');
      if (known.has(target) && target !== file) deps.add(target);
    }
    graph.set(file, [...deps]);
  }
  return graph;
}

/** The strongly connected components with more than one module (Tarjan). */
export function circles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('imports', () => {
  it('finds a circle when there is one (type-only imports count)', () => {
    const files: Record<string, string> = {
      'a.ts': "import type { B } from './b.js';\nimport { c } from './c.js';",
      'b.ts': "export { a } from './a.js';",
      'c.ts': "import { d } from './d.js';",
      'd.ts': '',
    };
    expect(circles(importGraph(Object.keys(files), (f) => files[f]!))).toEqual([['a.ts', 'b.ts']]);
  });

  it('src/ and bench/ have no circle', () => {
    const files = [...sourceFiles('src'), ...sourceFiles('bench')];
    expect(files.length).toBeGreaterThan(100);
    const graph = importGraph(files, (f) => readFileSync(join(root, f), 'utf8'));
    expect(circles(graph).map((c) => c.map((f) => relative('.', f)).join(' → '))).toEqual([]);
  });
});
