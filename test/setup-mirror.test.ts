/**
 * scripts/debian-mirror.sh, which scripts/setup.sh uses to write its bookworm-backports line:
 * the mirror comes from the machine's own apt sources (one-line .list files and deb822 .sources
 * files), never a fixed deb.debian.org, so that setup works behind a local mirror. Each case
 * writes fixture files under a temporary root given as APT_ROOT.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { HANG_GUARD_MS } from './support/hang-guard.js';

const run = promisify(execFile);
const roots: string[] = [];

/** A root with the given files (path under the root → text); os-release says bookworm unless given. */
function fixture(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'incept-apt-'));
  roots.push(root);
  const all = { 'etc/os-release': 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n', ...files };
  for (const [path, text] of Object.entries(all)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

async function mirror(root: string, flag = '--backports-line'): Promise<string> {
  const { stdout } = await run('bash', ['scripts/debian-mirror.sh', flag], { env: { ...process.env, APT_ROOT: root }, timeout: HANG_GUARD_MS });
  return stdout.trim();
}

afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

describe('scripts/debian-mirror.sh', () => {
  it('a one-line sources.list with a local mirror', async () => {
    const root = fixture({
      'etc/apt/sources.list': 'deb http://mirror.local/debian bookworm main contrib\ndeb http://mirror.local/debian-security bookworm-security main\n',
    });
    expect(await mirror(root, '--codename')).toBe('bookworm');
    expect(await mirror(root, '--uri')).toBe('http://mirror.local/debian');
    expect(await mirror(root)).toBe('deb http://mirror.local/debian bookworm-backports main');
  });

  it('a deb822 .sources file (suites listed together, security first, Signed-By kept)', async () => {
    const root = fixture({
      'etc/apt/sources.list.d/debian.sources': [
        'Types: deb',
        'URIs: http://security.local/debian-security',
        'Suites: bookworm-security',
        'Components: main',
        '',
        'Types: deb deb-src',
        '# a comment inside the stanza',
        'URIs: https://apt.example.org/debian/',
        'Suites: bookworm bookworm-updates',
        'Components: main',
        'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
        '',
      ].join('\n'),
    });
    expect(await mirror(root, '--uri')).toBe('https://apt.example.org/debian');
    expect(await mirror(root)).toBe('deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] https://apt.example.org/debian bookworm-backports main');
  });

  it('a mirror with a path and options, after a commented-out line and an -updates line', async () => {
    const root = fixture({
      'etc/apt/sources.list': '# deb http://deb.debian.org/debian bookworm main\n',
      'etc/apt/sources.list.d/local.list': [
        '   # deb http://old.local/debian bookworm main',
        'deb-src http://src.local/debian bookworm main',
        'deb http://cache.local:3142/snapshot/debian bookworm-updates main',
        'deb [arch=amd64 trusted=yes] http://cache.local:3142/snapshot/debian bookworm main # the main suite',
      ].join('\n'),
    });
    expect(await mirror(root)).toBe('deb [arch=amd64 trusted=yes] http://cache.local:3142/snapshot/debian bookworm-backports main');
  });

  it('skips a disabled deb822 stanza and reads the suite codename from os-release', async () => {
    const root = fixture({
      'etc/os-release': 'ID=debian\nVERSION_CODENAME=trixie\n',
      'etc/apt/sources.list.d/debian.sources': [
        'Types: deb',
        'URIs: http://off.local/debian',
        'Suites: trixie',
        'Components: main',
        'Enabled: no',
        '',
        'Types: deb',
        'URIs: http://on.local/debian',
        'Suites: trixie',
        'Components: main',
        'Trusted: yes',
      ].join('\n'),
    });
    expect(await mirror(root)).toBe('deb [trusted=yes] http://on.local/debian trixie-backports main');
  });

  it('falls back to deb.debian.org when no source names the main suite', async () => {
    const root = fixture({ 'etc/apt/sources.list.d/other.list': 'deb https://packages.example.com/apt stable main\n' });
    expect(await mirror(root)).toBe('deb http://deb.debian.org/debian bookworm-backports main');
  });

  it('scripts/setup.sh uses it rather than a fixed mirror', () => {
    const setup = readFileSync('scripts/setup.sh', 'utf8');
    expect(setup).toContain('scripts/debian-mirror.sh --backports-line');
    expect(setup).not.toContain('deb http://deb.debian.org/debian bookworm-backports');
  });
});
