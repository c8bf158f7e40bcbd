/**
 * Reading a file a user named (a model, weights, a TF.js shard, a labels file) without trusting
 * the name: it is looked at before it is read. Node's readFile reads until end of file, so a
 * device (`--weights /dev/zero`) grows memory until the process dies, a FIFO blocks forever,
 * and a wrong path to a disk image reads gigabytes. Here:
 *
 * - the path is stat'ed first: a directory, a device, a FIFO or a socket is refused, naming
 *   the path and what it is, before anything opens it (opening a FIFO alone can block);
 * - the size is checked against a limit before reading (default 2 GiB, environment variable
 *   INCEPT_MAX_FILE_BYTES to change it, up to 4 GiB), and the read stops one byte past the
 *   limit whatever stat said (a file that grows, or a /proc file that reports size 0).
 *
 * Why 2 GiB: Inception-v3 in float32 is about 100 MB (109 MB as safetensors with the aux head,
 * 95 MB as ONNX) and twice that in float64, so 2 GiB leaves room for much wider variants and
 * other models, while a runaway read still stops at a bounded size. It is also what Node's own
 * readFile could read at most, so no file that loaded before is refused by default. The ceiling
 * of 4 GiB is the largest byte array Node holds (buffer.constants.MAX_LENGTH in Node 20).
 *
 * Node's file system is loaded on first use, so browser bundles that include this module build
 * (browsers give bytes, never paths).
 */
import { InceptError } from '../runtime/errors.js';

/** The environment variable that sets the limit, in bytes (suffixes KB, MB, GB, KiB, MiB, GiB allowed). */
export const MAX_FILE_BYTES_ENV = 'INCEPT_MAX_FILE_BYTES';
/** 2 GiB: see the module comment. */
export const DEFAULT_MAX_FILE_BYTES = 2 * 1024 ** 3;
/** 4 GiB, the largest Uint8Array Node 20 allocates. */
export const MAX_FILE_BYTES_CEILING = 4 * 1024 ** 3;

/** A user-named file that cannot be read as asked; `problem` says why, the message starts with the path. */
export class UserFileError extends InceptError {
  constructor(
    readonly path: string,
    readonly problem: string,
    /** Node's error code ('ENOENT', 'EACCES', …), 'EISDIR', 'ENOTREG' (a device, FIFO or socket) or 'EFBIG' (over the limit). */
    readonly code: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

type NodeFs = typeof import('node:fs/promises');

/** Node's fs/promises, loaded on first use: a literal import would stop the browser bundle from
 * building, and browsers have no files anyway. @internal */
export async function nodeFs(what: string): Promise<NodeFs> {
  const specifier = 'node:fs/promises';
  try {
    return (await import(/* @vite-ignore */ specifier)) as NodeFs;
  } catch {
    throw new InceptError(`${what} needs Node's file system; in a browser pass the file's bytes instead of a path`);
  }
}

const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** The limit in force: INCEPT_MAX_FILE_BYTES when set (an error naming it when it is not a size
 * from 1 byte to the ceiling), else the default. */
export function maxFileBytes(): number {
  const text = typeof process === 'undefined' ? undefined : process.env?.[MAX_FILE_BYTES_ENV];
  if (text === undefined || text.trim() === '') return DEFAULT_MAX_FILE_BYTES;
  const m = /^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const bytes = m && m[2]!.toLowerCase() in UNITS ? Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!) : NaN;
  if (!(bytes >= 1 && bytes <= MAX_FILE_BYTES_CEILING)) {
    throw new InceptError(
      `${MAX_FILE_BYTES_ENV}='${text}' is not a file size limit: give a number of bytes from 1 to ${MAX_FILE_BYTES_CEILING} (e.g. 3000000000 or 3GiB)`,
    );
  }
  return bytes;
}

const sizeText = (n: number): string =>
  n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(1)} GiB` : n >= 1024 ** 2 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : `${n} bytes`;

interface StatLike {
  isFile(): boolean;
  isDirectory(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
  size: number;
}

function kindOf(s: StatLike): string {
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  if (s.isFIFO()) return 'a FIFO (named pipe), which never ends until its writer closes it';
  if (s.isSocket()) return 'a socket';
  return 'not a plain file';
}

export interface ReadUserFileOptions {
  /** What the file is, for messages: 'weights file', 'labels file', 'TF.js weight shard'. */
  what: string;
  /** Appended to the directory error: what to give instead (e.g. "give model.json"). */
  directoryHint?: string;
}

/** 'a weights file', 'an ONNX file'. */
const withArticle = (what: string): string => `${/^[aeiou]/i.test(what) ? 'an' : 'a'} ${what}`;

/** The limit error (also used when the read runs past what stat said). */
function tooLarge(path: string, size: number | string, limit: number, what: string): UserFileError {
  return new UserFileError(
    path,
    `${size} bytes, more than the limit of ${limit} bytes on ${withArticle(what)}${limit >= 1024 ** 2 ? ` (${sizeText(limit)})` : ''}; raise it with ${MAX_FILE_BYTES_ENV}=<bytes> (at most ${MAX_FILE_BYTES_CEILING})`,
    'EFBIG',
  );
}

/**
 * Reads a whole file a user named, after checking it is a regular file no larger than the
 * limit. Throws UserFileError (message `${path}: …`) for a missing path, a directory, a device,
 * a FIFO, a socket, a file over the limit or a read error.
 */
export async function readUserFile(path: string, options: ReadUserFileOptions): Promise<Uint8Array> {
  const { what } = options;
  const limit = maxFileBytes();
  const fs = await nodeFs(`reading ${withArticle(what)}`);
  const fail = (e: unknown): never => {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserFileError(path, `no such file (${withArticle(what)} was expected here)`, code);
    if (code === 'EACCES' || code === 'EPERM') throw new UserFileError(path, `no permission to read it (${what})`, code);
    throw new UserFileError(path, `cannot read the ${what}: ${(e as Error).message}`, code ?? 'EIO');
  };
  const check = (s: StatLike): void => {
    if (s.isDirectory()) throw new UserFileError(path, `a directory, not a file${options.directoryHint ? `; ${options.directoryHint}` : ''}`, 'EISDIR');
    if (!s.isFile()) throw new UserFileError(path, `not a regular file (${kindOf(s)}); ${withArticle(what)} must be a regular file`, 'ENOTREG');
    if (s.size > limit) throw tooLarge(path, s.size, limit, what);
  };
  // stat before open: opening a FIFO for reading blocks until a writer comes.
  check(await fs.stat(path).catch(fail));
  // O_NONBLOCK: if the path was swapped for a FIFO since the stat, open returns at once and the
  // fstat below refuses it; on a regular file the flag changes nothing.
  const handle = await fs.open(path, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0)).catch(fail);
  try {
    const s = await handle.stat().catch(fail);
    check(s);
    const exact = new Uint8Array(s.size);
    let filled = 0;
    while (filled < exact.length) {
      const { bytesRead } = await handle.read(exact, filled, exact.length - filled, null).catch(fail);
      if (bytesRead === 0) return exact.slice(0, filled); // it shrank since the stat
      filled += bytesRead;
    }
    // More than stat said (a file growing, a /proc file of size 0): read on in chunks, up to
    // one byte past the limit.
    const more: Uint8Array[] = [];
    let total = filled;
    for (;;) {
      const chunk = new Uint8Array(Math.min(1 << 20, limit + 1 - total));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null).catch(fail);
      if (bytesRead === 0) break;
      more.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
      if (total > limit) throw tooLarge(path, `more than ${limit}`, limit, what);
    }
    if (more.length === 0) return exact;
    const whole = new Uint8Array(total);
    whole.set(exact);
    let at = exact.length;
    for (const m of more) {
      whole.set(m, at);
      at += m.length;
    }
    return whole;
  } finally {
    await handle.close().catch(() => {});
  }
}
