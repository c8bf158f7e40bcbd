/**
 * One process per run folder: `<run>/run.lock` names its holder (process id, host, start time,
 * command). It is created whole or not at all: written to a uniquely named file, then hard-linked
 * to `run.lock`, which fails when the lock exists. A lock whose process is gone (kill -9, a power
 * cut) is stale: it is taken over, with a message. A lock from another host cannot be checked
 * from here, so it is refused with how to remove it by hand.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { InceptError } from '../runtime/errors.js';

export const LOCK_FILE = 'run.lock';

interface LockRecord {
  pid: number;
  hostname: string;
  started: string;
  command: string;
}

export interface RunLock {
  readonly path: string;
  /** Removes the lock if it is still this process's. Safe to call twice. */
  release(): void;
}

export interface RunLockOptions {
  /** Told when a stale lock is taken over. */
  onMessage?: (m: string) => void;
  /** What the lock says holds it (default: this process's command line). */
  command?: string;
}

function readLock(path: string): LockRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockRecord>;
    return typeof r.pid === 'number' && typeof r.hostname === 'string'
      ? { pid: r.pid, hostname: r.hostname, started: String(r.started), command: String(r.command) }
      : undefined;
  } catch {
    return undefined; // gone, or not what this module writes
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

function describe(r: LockRecord): string {
  return `process ${r.pid} on ${r.hostname} (${r.command}, started ${r.started})`;
}

/** Takes the run folder `dir` (created if missing) for this process, or throws naming the holder. */
export async function acquireRunLock(dir: string, options: RunLockOptions = {}): Promise<RunLock> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  const mine: LockRecord = {
    pid: process.pid,
    hostname: hostname(),
    started: new Date().toISOString(),
    command: options.command ?? process.argv.slice(1).join(' '),
  };
  const text = `${JSON.stringify(mine)}\n`;
  const tmp = `${path}.${globalThis.crypto.randomUUID()}.tmp`;
  writeFileSync(tmp, text, { flag: 'wx' });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(tmp, path);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw e;
      }
      const holder = readLock(path);
      if (holder && holder.hostname !== mine.hostname) {
        throw new InceptError(
          `${dir} is in use by ${describe(holder)}, another machine, so whether it still runs cannot be checked from here. If it does not, delete ${path} and try again`,
        );
      }
      if (holder && alive(holder.pid)) {
        throw new InceptError(
          `${dir} is in use by ${describe(holder)}: one training process per run folder. Wait for it to end, stop it, or use another --out folder`,
        );
      }
      // Stale. Move it aside under a unique name, then check it was the stale lock that moved
      // (not a fresh one another process linked in the meantime) before linking ours.
      const aside = `${path}.${globalThis.crypto.randomUUID()}.stale`;
      try {
        renameSync(path, aside);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // released or taken meanwhile: try again
        throw e;
      }
      const moved = readLock(aside);
      if (moved && alive(moved.pid) && moved.hostname === mine.hostname) {
        try {
          linkSync(aside, path); // put the live holder's lock back
        } finally {
          rmSync(aside, { force: true });
        }
        throw new InceptError(`${dir} is in use by ${describe(moved)}: one training process per run folder`);
      }
      rmSync(aside, { force: true });
      options.onMessage?.(
        holder
          ? `taking over ${path}: ${describe(holder)} is no longer running (it was stopped without releasing the folder, e.g. by kill -9 or a crash)`
          : `taking over ${path}: it does not name a holder (a lock file from elsewhere, or damaged)`,
      );
    }
  } finally {
    rmSync(tmp, { force: true });
  }

  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    const holder = readLock(path);
    if (holder && holder.pid === mine.pid && holder.started === mine.started) rmSync(path, { force: true });
  };
  process.on('exit', release); // also on process.exit() (a second Ctrl-C)
  return { path, release };
}
