/**
 * Rules for the suite itself, checked over every test file: nothing is skipped or focused, and
 * no test, hook, child process or browser wait carries a time limit of its own. The only limit is
 * HANG_GUARD_MS (test/support/hang-guard.ts), a guard against hangs; a per-test number such as
 * `}, 120_000)` made a correct property test fail on a loaded machine.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('.', import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const path = join(dir, d.name);
    if (d.isDirectory()) return d.name === 'node_modules' ? [] : sourceFiles(path);
    return /\.(ts|mjs)$/.test(d.name) ? [path] : [];
  });
}

/** Lines of the test sources matching `pattern`, as 'file:line: text'. */
function offenders(pattern: RegExp): string[] {
  const found: string[] = [];
  for (const file of sourceFiles(root)) {
    if (file.endsWith('suite-hygiene.test.ts')) continue;
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (pattern.test(line)) found.push(`${relative(root, file)}:${i + 1}: ${line.trim()}`);
      });
  }
  return found;
}

describe('the test suite', () => {
  it('skips and focuses nothing', () => {
    expect(offenders(/\b(it|test|describe)\.(skip|only|todo)\b|\bx(it|describe)\(/)).toEqual([]);
  });

  it('sets no per-test or per-hook time limit (a trailing number after the test function)', () => {
    expect(offenders(/^\s*\}\s*,\s*(\d{1,3}_\d{3}|\d{4,})\s*\)\s*;?\s*$/)).toEqual([]);
  });

  it('gives child processes and browser waits no time limit but the hang guard', () => {
    expect(offenders(/\btimeout:\s*[\d_]+/)).toEqual([]);
  });
});
