// WGSL has no includes, so kernels/*.wgsl name the shared parts they need (kernels/common/) with
// a directive line, a comment so that editors still see WGSL:
//     // #include "common/epilogue.wgsl"
// The path is relative to the file holding the directive. This module is the one place that
// expands those lines; the esbuild builds (esbuild.config.mjs) and vitest (vitest.config.ts) both
// call it, so every consumer of a kernel (the engine's reflection, the tuner's checksum, the GPU)
// sees the same expanded text.
//
// A directive may rename identifiers of the included file, which makes one WGSL body serve several
// entries (a vec4 and a scalar form, say) while the file stays plain WGSL that reads on its own:
//     // #include "common/conv-input-tile.wgsl" { input_tile: input_tile_scalar, load_w: load_w_scalar }
// Each `old: new` pair replaces the whole word `old` in that file's own lines (not in the files it
// includes in turn: shared helpers keep their names).
//
// Each file is included at most once per kernel and renaming (a later directive for the same pair
// expands to nothing), so common files may include what they build on without the kernel caring
// about the order. The exception is a fragment, a file with a `// #fragment` line (struct members,
// say, that several structs start with): it is expanded at every directive that names it, and
// its marker line is dropped. A
// directive that names a file being expanded further up the chain is a cycle and an error, as
// is a missing file or a line that starts like a directive but does not parse: a silently
// dropped include would only show up later as an unresolved name in the WGSL compiler.
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';

const DIRECTIVE = /^\s*\/\/\s*#include\b(.*)$/;
const QUOTED = /^\s+"([^"]+)"\s*(?:\{([^}]*)\})?\s*$/;
const FRAGMENT = /^\s*\/\/\s*#fragment\s*$/;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The renames of a directive, `{ a: b, c: d }`, as [old, new] pairs; an error naming `where` if malformed. */
function parseRenames(text, where, line) {
  if (text === undefined) return [];
  const pairs = text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => part.split(':').map((name) => name.trim()));
  const bad = pairs.find((pair) => pair.length !== 2 || !IDENTIFIER.test(pair[0]) || !IDENTIFIER.test(pair[1]));
  if (bad || pairs.length === 0) {
    throw new Error(`${where}: malformed renames in '${line.trim()}'; write { oldName: newName, … } with WGSL identifiers`);
  }
  const seen = new Set();
  for (const [from] of pairs) {
    if (seen.has(from)) throw new Error(`${where}: '${from}' is renamed twice in '${line.trim()}'`);
    seen.add(from);
  }
  return pairs;
}

/** `line` with each whole-word `old` replaced by its `new`, all at once (so a → b, b → a swaps). */
function renameWords(line, renames) {
  if (renames.length === 0) return line;
  const table = new Map(renames);
  return line.replace(/(?<![A-Za-z0-9_])[A-Za-z_][A-Za-z0-9_]*/g, (word) => table.get(word) ?? word);
}

/** A path for messages: relative to the working directory when that is shorter. */
function shown(path) {
  const rel = relative(process.cwd(), path);
  return rel.length < path.length ? rel : path;
}

/**
 * Expands the include directives of the .wgsl file at `filePath`, recursively.
 * @param {string} filePath
 * @returns {{ code: string, files: string[] }} the expanded text, and every file it was made
 * from (the kernel's own file first), for watchers.
 */
export function expandWgsl(filePath) {
  const included = new Set();
  const files = [];
  const expand = (path, chain, renames) => {
    included.add(`${path}\0${JSON.stringify(renames)}`);
    if (!files.includes(path)) files.push(path);
    const lines = readFileSync(path, 'utf8').split(/\r?\n/);
    if (lines.some((line) => FRAGMENT.test(line))) included.delete(`${path}\0${JSON.stringify(renames)}`);
    const out = [];
    lines.forEach((line, index) => {
      if (FRAGMENT.test(line)) return;
      const directive = DIRECTIVE.exec(line);
      if (!directive) {
        out.push(renameWords(line, renames));
        return;
      }
      const where = `${shown(path)}:${index + 1}`;
      const quoted = QUOTED.exec(directive[1]);
      if (!quoted)
        throw new Error(
          `${where}: malformed include directive '${line.trim()}'; write // #include "path/to/file.wgsl" (optionally followed by { oldName: newName, … })`,
        );
      const target = resolve(dirname(path), quoted[1]);
      const targetRenames = parseRenames(quoted[2], where, line);
      if (chain.includes(target)) {
        const cycle = [...chain.slice(chain.indexOf(target)), target].map(shown).join(' → ');
        throw new Error(`${where}: include cycle: ${cycle}`);
      }
      if (included.has(`${target}\0${JSON.stringify(targetRenames)}`)) return;
      let text;
      try {
        text = expand(target, [...chain, target], targetRenames);
      } catch (e) {
        if (e.code === 'ENOENT' && e.path === target) throw new Error(`${where}: cannot include "${quoted[1]}": no file ${shown(target)}`);
        throw e;
      }
      out.push(text.replace(/\n+$/, ''));
    });
    return out.join('\n');
  };
  const start = resolve(filePath);
  return { code: expand(start, [start], []), files };
}

/**
 * The WGSL of the kernel file at `filePath` with its include directives expanded.
 * @param {string} filePath
 * @returns {string}
 */
export function expandWgslIncludes(filePath) {
  return expandWgsl(filePath).code;
}

/** An esbuild plugin that loads .wgsl files as text with their includes expanded (and watches
 * the included files). esbuild.config.mjs uses it; another build (bench/peers/build.mjs) can
 * import it from here without running that file's builds. */
export const wgslIncludes = {
  name: 'wgsl-includes',
  setup(build) {
    build.onLoad({ filter: /\.wgsl$/ }, (args) => {
      const { code, files } = expandWgsl(args.path);
      return { contents: code, loader: 'text', watchFiles: files };
    });
  },
};

/** The directive's pattern, for checks that no expanded kernel still holds one. */
export const INCLUDE_DIRECTIVE = DIRECTIVE;
