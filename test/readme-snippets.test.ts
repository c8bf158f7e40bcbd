/**
 * Every TypeScript snippet of README.md compiles: each ```ts block is type-checked as a module of
 * its own, with the project's compiler options, against the package's sources (`incept-gpu`
 * resolves to src/index.ts). Snippets are complete programs: they import what they use and
 * create what they need. A block that cannot be one may be marked on the line before its fence
 * with `<!-- readme-check: skip — <reason> -->`; the reason is required, and this test fails on a
 * mark without one. scripts/pack-check.mjs compiles the same snippets against the packed tarball.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { snippetModule, typescriptSnippets, type Snippet } from '../scripts/readme-snippets.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Type-checks the snippets in one program; returns each snippet's diagnostics as text. */
function typeCheck(snippets: Snippet[]): string[][] {
  const config = ts.readConfigFile(join(root, 'tsconfig.json'), (path) => ts.sys.readFile(path));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
  const options: ts.CompilerOptions = {
    ...parsed.options,
    noEmit: true,
    baseUrl: root,
    paths: { 'incept-gpu': ['src/index.ts'] },
  };
  // Each snippet is a virtual module file beside the README.
  const files = new Map(snippets.map((s) => [join(root, `readme-snippet-line-${s.line}.ts`), snippetModule(s)]));
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, onError, create) => {
    const text = files.get(name);
    return text !== undefined ? ts.createSourceFile(name, text, language) : getSourceFile(name, language, onError, create);
  };
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => files.has(name) || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => files.get(name) ?? readFile(name);

  const program = ts.createProgram([...files.keys(), join(root, 'src/wgsl.d.ts')], options, host);
  const format = (d: ts.Diagnostic): string => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (!d.file || d.start === undefined) return message;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    return `line ${line + 1} of the snippet: ${message}`;
  };
  const global = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()].map(format);
  return [...files.keys()].map((name, i) => {
    const file = program.getSourceFile(name)!;
    const own = [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)].map(format);
    return i === 0 ? [...global, ...own] : own;
  });
}

describe('README.md', () => {
  const snippets = typescriptSnippets(readFileSync(join(root, 'README.md'), 'utf8'));

  it('has TypeScript snippets, and every skip mark gives its reason', () => {
    expect(snippets.length).toBeGreaterThan(0);
    expect(snippets.filter((s) => s.skip !== undefined && s.skip.length === 0).map((s) => `README.md:${s.line}`)).toEqual([]);
  });

  it('every TypeScript snippet compiles against the package', () => {
    const checked = snippets.filter((s) => s.skip === undefined);
    const diagnostics = typeCheck(checked);
    const problems = checked.flatMap((s, i) => diagnostics[i]!.map((d) => `README.md snippet at line ${s.line}, ${d}`));
    expect(problems).toEqual([]);
  });
});

describe('typescriptSnippets', () => {
  it('finds ts blocks, their lines and skip marks', () => {
    const md = [
      'text',
      '```ts',
      'const a = 1;',
      '```',
      '<!-- readme-check: skip — a shell session -->',
      '```typescript',
      'x',
      '```',
      '```sh',
      'npm test',
      '```',
    ].join('\n');
    expect(typescriptSnippets(md)).toEqual([
      { line: 2, code: 'const a = 1;' },
      { line: 6, code: 'x', skip: 'a shell session' },
    ]);
  });
});
