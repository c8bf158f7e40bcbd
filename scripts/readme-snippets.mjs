// The TypeScript snippets of a Markdown text (README.md), for the two checks that compile them:
// test/readme-snippets.test.ts against the sources, scripts/pack-check.mjs against the installed
// tarball. A block that cannot be a program of its own is marked on the line before its fence
// with `<!-- readme-check: skip — <reason> -->`; the reason is required.

const SKIP_MARK = /^<!--\s*readme-check:\s*skip\b(.*?)-->\s*$/;

/** The ```ts / ```typescript blocks, each with its 1-based fence line and its skip reason if marked. */
export function typescriptSnippets(markdown) {
  const lines = markdown.split('\n');
  const snippets = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i])) continue;
    const start = i;
    const body = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]); i++) body.push(lines[i]);
    const mark = start > 0 ? SKIP_MARK.exec(lines[start - 1].trim()) : null;
    const reason = mark?.[1]?.replace(/^[\s:—–-]+/, '').trim();
    snippets.push({ line: start + 1, code: body.join('\n'), ...(mark ? { skip: reason ?? '' } : {}) });
  }
  return snippets;
}

/** A snippet as a module file of its own: `export {}` makes top-level await and its own
 * declarations work as they would in a reader's file. */
export function snippetModule(snippet) {
  return `${snippet.code}\nexport {};\n`;
}
