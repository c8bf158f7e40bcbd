/**
 * Telling a model file's format from its bytes (and, as a hint, its name), so `loadClassifier`
 * and `incept infer` need no `--format` for the usual files. The bytes decide when they are
 * clear; the name decides only between formats the bytes cannot tell apart. Files in formats
 * the engine does not read (PyTorch pickles, Keras HDF5, TF SavedModel protobufs) are named in
 * the error with the conversion to make, instead of failing later as "corrupt".
 */
import { InceptError } from '../runtime/errors.js';

/** What loadClassifier reads: a torchvision/timm Inception-v3 state dict as safetensors, an ONNX
 * model, or a TensorFlow.js layers model (model.json and its weight shards). */
export type ModelFormat = 'torchvision' | 'onnx' | 'tfjs';

export const MODEL_FORMATS: readonly ModelFormat[] = ['torchvision', 'onnx', 'tfjs'];

/** A model file that cannot be used as given; the message names the file and what was wrong. */
export class ClassifierError extends InceptError {}

const ascii = (bytes: Uint8Array, from: number, to: number): string => String.fromCharCode(...bytes.subarray(from, Math.min(to, bytes.length)));

/** The safetensors layout: an 8-byte little-endian header length, then JSON starting with '{'. */
export function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 9 || bytes[8] !== 0x7b) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
  const high = view.getUint32(4, true);
  const low = view.getUint32(0, true);
  // A header length of zero or one beyond any real file is some other format that happens to
  // have '{' at byte 8.
  return high === 0 && low >= 2;
}

/** JSON text (after optional whitespace or a UTF-8 byte-order mark) that opens an object. */
function looksLikeJsonObject(bytes: Uint8Array): boolean {
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  while (i < bytes.length && i < 4096 && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  return bytes[i] === 0x7b;
}

/** An ONNX ModelProto written by any exporter starts with ir_version (field 1, varint) — a small
 * number — or, rarely, another of ModelProto's low fields. */
function looksLikeOnnx(bytes: Uint8Array): boolean {
  if (bytes.length < 16) return false;
  if (bytes[0] === 0x08) return bytes[1]! >= 1 && bytes[1]! <= 30;
  return false;
}

/** Formats the engine cannot read, recognised to say what to do instead. */
function foreignFormat(bytes: Uint8Array): string | undefined {
  if (bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) {
    return 'a ZIP archive (a PyTorch .pt/.pth checkpoint from torch.save, or a Keras .keras file); save the state dict as safetensors (safetensors.torch.save_file(model.state_dict(), "model.safetensors")) or export ONNX';
  }
  if (bytes[0] === 0x80 && bytes[1]! >= 2 && bytes[1]! <= 5)
    return 'a Python pickle (an old-style PyTorch checkpoint); save the state dict as safetensors or export ONNX';
  if (ascii(bytes, 0, 8) === '\x89HDF\r\n\x1a\n')
    return 'an HDF5 file (a Keras .h5 model); convert it with tensorflowjs_converter --input_format keras to a TF.js layers model (model.json + shards)';
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return 'gzip-compressed data; decompress it first';
  const head = ascii(bytes, 0, 64).trimStart().toLowerCase();
  if (head.startsWith('<!doctype html') || head.startsWith('<html')) return 'an HTML page (a failed download?)';
  if (head.startsWith('version https://git-lfs')) return 'a Git LFS pointer, not the file itself (run git lfs pull)';
  return undefined;
}

function extension(name: string | undefined): string {
  const base = (name ?? '').split(/[\\/]/).pop() ?? '';
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : '';
}

/**
 * The format of a model file from its bytes, with its name as a tie-breaker. Throws a
 * ClassifierError naming the file when the bytes are empty, too short, or in a format the
 * engine does not read.
 */
export function detectModelFormat(bytes: Uint8Array, name = 'the model file'): ModelFormat {
  if (bytes.length === 0) throw new ClassifierError(`${name}: empty file (0 bytes)`);
  if (looksLikeSafetensors(bytes)) return 'torchvision';
  if (looksLikeJsonObject(bytes)) return 'tfjs';
  const foreign = foreignFormat(bytes);
  if (foreign) throw new ClassifierError(`${name}: this is ${foreign}. loadClassifier reads torchvision safetensors, ONNX and TF.js layers models`);
  const ext = extension(name);
  if (ext === 'onnx' || looksLikeOnnx(bytes)) return 'onnx';
  if (ext === 'safetensors') {
    throw new ClassifierError(
      `${name}: not a safetensors file: ${bytes.length < 9 ? `only ${bytes.length} byte(s), less than the 8-byte header length and its JSON` : 'the 8-byte header length is not followed by a JSON header'} (truncated or corrupt?)`,
    );
  }
  const hex = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new ClassifierError(
    `${name}: cannot tell the model format from the first bytes (${hex}); pass format ('torchvision' for safetensors state dicts, 'onnx', 'tfjs') if it is one of them`,
  );
}
