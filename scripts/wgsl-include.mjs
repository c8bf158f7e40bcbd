// WGSL has no includes, so kernels/*.wgsl name the shared parts they need (kernels/common/) with
// a directive line, a comment so that editors still see WGSL:
//     // #include "common/epilogue.wgsl"
// The path is relative to the file holding the directive. This module is the one place that
// expands those lines; the esbuild builds (esbuild.config.mjs) and vitest (vitest.config.ts) both
// call it, so every consumer of a kernel (the engine's reflection, the tuner's checksum, the GPU)
// sees the same expanded text.
//
// Each file is included at most once per kernel (a later directive for it expands to nothing), so
// common files may include what they build on without the kernel caring about the order. A
// directive that names a file being expanded further up the chain is a cycle and an error, as
// is a missing file or a line that starts like a directive but does not parse: a silently
// dropped include would only show up later as an unresolved name in the WGSL compiler.
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';

const DIRECTIVE = /^\s*\/\/\s*#include\b(.*)$/;
const QUOTED = /^\s+"([^"]+)"\s*$/;

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
  const expand = (path, chain) => {
    included.add(path);
    files.push(path);
    const lines = readFileSync(path, 'utf8').split(/\r?\n/);
    const out = [];
    lines.forEach((line, index) => {
      const directive = DIRECTIVE.exec(line);
      if (!directive) {
        out.push(line);
        return;
      }
      const where = `${shown(path)}:${index + 1}`;
      const quoted = QUOTED.exec(directive[1]);
      if (!quoted) throw new Error(`${where}: malformed include directive '${line.trim()}'; write // #include "path/to/file.wgsl"`);
      const target = resolve(dirname(path), quoted[1]);
      if (chain.includes(target)) {
        const cycle = [...chain.slice(chain.indexOf(target)), target].map(shown).join(' → ');
        throw new Error(`${where}: include cycle: ${cycle}`);
      }
      if (included.has(target)) return;
      let text;
      try {
        text = expand(target, [...chain, target]);
      } catch (e) {
        if (e.code === 'ENOENT' && e.path === target) throw new Error(`${where}: cannot include "${quoted[1]}": no file ${shown(target)}`);
        throw e;
      }
      out.push(text.replace(/\n+$/, ''));
    });
    return out.join('\n');
  };
  const start = resolve(filePath);
  return { code: expand(start, [start]), files };
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
