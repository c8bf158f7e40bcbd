/**
 * libjpeg-turbo's JPEG decoder (mozjpeg, built to WebAssembly by `@jsquash/jpeg`), loaded in Node
 * from that package on first use; see image.ts for why it is preferred to jpeg-js.
 */
import mozjpegFactory from '@jsquash/jpeg/codec/dec/mozjpeg_dec.js';

/** What mozjpeg_dec.js's factory fills in: its embind `decode` (RGBA out, EXIF orientation
 * not applied when the second argument is false). */
interface MozjpegModule {
  decode?: (data: Uint8Array, preserveOrientation: boolean) => { width: number; height: number; data: Uint8ClampedArray } | null;
}
type NodeProcess = { getBuiltinModule?: (id: string) => unknown };

/** The compiled decoder: undefined before the first JPEG, null where it cannot be loaded (no
 * Node, or no @jsquash/jpeg beside this module). */
let mozjpegWasm: WebAssembly.Module | null | undefined;

function loadMozjpeg(): WebAssembly.Module | null {
  if (mozjpegWasm !== undefined) return mozjpegWasm;
  mozjpegWasm = null;
  // process.getBuiltinModule (Node 20.16+) reads the file synchronously without importing
  // node: modules, so browser bundles carry no Node import.
  const proc = (globalThis as { process?: NodeProcess }).process;
  if (typeof proc?.getBuiltinModule !== 'function') return null;
  try {
    const fs = proc.getBuiltinModule('node:fs') as typeof import('node:fs');
    const nodeModule = proc.getBuiltinModule('node:module') as typeof import('node:module');
    const file = nodeModule.createRequire(import.meta.url).resolve('@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm');
    mozjpegWasm = new WebAssembly.Module(fs.readFileSync(file));
  } catch {
    mozjpegWasm = null;
  }
  return mozjpegWasm;
}

/**
 * Decodes with libjpeg-turbo's decoder (mozjpeg in WebAssembly): the RGB bytes, or undefined
 * when it is not available here, refused the file (libjpeg exits on errors, such as CMYK to
 * RGB) or warned that the data ends early (libjpeg fills the rest with grey; PIL refuses).
 */
export function decodeJpegWasm(bytes: Uint8Array): { width: number; height: number; data: Uint8Array } | undefined {
  const wasm = loadMozjpeg();
  if (!wasm) return undefined;
  const messages: string[] = [];
  // A fresh instance per image: libjpeg's exit() on an error leaves an instance unusable, and
  // the memory an image grew goes with it.
  const module: MozjpegModule & Record<string, unknown> = {
    noInitialRun: true,
    print: (line: string) => messages.push(line),
    printErr: (line: string) => messages.push(line),
    instantiateWasm: (imports: WebAssembly.Imports, receive: (instance: WebAssembly.Instance) => void) => {
      const instance = new WebAssembly.Instance(wasm, imports);
      receive(instance);
      return instance.exports;
    },
  };
  // The factory instantiates synchronously through instantiateWasm; its promise only reports.
  (mozjpegFactory as unknown as (m: object) => Promise<unknown>)(module).catch(() => undefined);
  let result: ReturnType<NonNullable<MozjpegModule['decode']>> | undefined;
  try {
    result = module.decode?.(bytes, false);
  } catch {
    return undefined;
  }
  if (!result || messages.some((m) => /premature end/i.test(m))) return undefined;
  const { width, height, data: rgba } = result;
  const n = width * height;
  if (!(n > 0) || rgba.length !== 4 * n) return undefined;
  const data = new Uint8Array(3 * n);
  for (let i = 0, j = 0; i < n; i++, j += 4) {
    data[3 * i] = rgba[j]!;
    data[3 * i + 1] = rgba[j + 1]!;
    data[3 * i + 2] = rgba[j + 2]!;
  }
  return { width, height, data };
}
