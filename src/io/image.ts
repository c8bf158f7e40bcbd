/**
 * Image decoding for inference: JPEG and PNG bytes to 8-bit RGB, in Node and in the browser.
 *
 * The format is told by the file's first bytes (JPEG: FF D8 FF; PNG: 89 50 4E 47 0D 0A 1A 0A),
 * never by its name. Decoders (`DecodedImage.decoder` says which one ran):
 * - JPEG in Node: libjpeg-turbo's decoder (mozjpeg 4, built to WebAssembly by `@jsquash/jpeg`,
 *   166 KB, loaded from that package on first use): integer IDCT and "fancy" (triangle) chroma
 *   upsampling, byte for byte what PIL (torchvision's loader) and TensorFlow decode. CMYK and
 *   YCCK JPEGs, which it does not convert to RGB, and files it finds truncated go to `jpeg-js`.
 * - JPEG where that WebAssembly is not at hand (browser bundles): `jpeg-js` (baseline and
 *   progressive; 1, 3 or 4 components), pure JavaScript. It upsamples chroma by replication, so
 *   4:2:0 and 4:2:2 photos differ from libjpeg's by a few levels on average and by tens at sharp
 *   colour edges; even 4:4:4 ones by up to 3 or 4 levels (IDCT and colour conversion rounding).
 *   `decodeImageAsync` decodes JPEGs with the browser's own decoder instead (see there).
 * - PNG: `fast-png` (every colour type and bit depth, Adam7 interlacing at 8 and 16 bits);
 *   lossless, so exact everywhere.
 *
 * What comes out is always `{ width, height, data }` with `data` a Uint8Array of H × W × 3 bytes,
 * row-major, R G B interleaved:
 * - grayscale (JPEG with one component; PNG colour types 0 and 4) is replicated into R, G, B;
 *   PNG samples of 1, 2 or 4 bits are scaled to 0..255 by v · 255 / (2^bits − 1) (exact);
 * - 16-bit PNG samples are scaled to 8 bits by round(v · 255 / 65535) = round(v / 257)
 *   (libpng's png_set_scale_16; PIL and TensorFlow keep the high byte, v >> 8, which differs by
 *   at most 1);
 * - palette PNGs are looked up in their palette (1, 2, 4 or 8-bit indices);
 * - CMYK JPEGs (four components with Adobe's APP14 marker, plain CMYK or YCCK) are converted by
 *   jpeg-js: R = (255 − C)(255 − K) / 255 and likewise for G (M) and B (Y), with Adobe's
 *   inverted storage undone; no colour management (ICC profiles are ignored). A four-component
 *   JPEG without the Adobe marker is refused with an error.
 * - Alpha (PNG colour types 4 and 6, palette transparency, tRNS colour keys) is DROPPED by
 *   default: the stored colour is kept as it is, exactly what PIL's `image.convert('RGB')`
 *   (torchvision's and Keras's loaders) and TensorFlow's `decode_png(channels=3)` do, so
 *   preprocessing matches those pipelines. `{ alpha: 'composite' }` composites over a
 *   background instead (white unless `background` says otherwise):
 *   out = round((c · a + bg · (max − a)) / max) in the sample's own range, then to 8 bits.
 *
 * Not applied: EXIF orientation (as in torchvision and Keras), colour profiles, gamma (gAMA).
 *
 * Decompression bombs: a few kilobytes of PNG or JPEG can claim tens of thousands of pixels a
 * side. The width and height are read from the header (PNG's IHDR, JPEG's frame header) before
 * anything is inflated or decoded, and an image of more than `maxMegapixels` (default
 * DEFAULT_MAX_MEGAPIXELS, 64: a 48 MP or 61 MP camera's photo passes, 9990 × 9990 does not) is
 * refused with its size and the budget. Decoding takes about 3 bytes a pixel for the result
 * plus the decoder's own memory (jpeg-js: up to about 25 bytes a pixel for 4:4:4 colour; a
 * 48 MP 4:2:0 photo peaks near 1 GB of process memory).
 *
 * Every failure is an `ImageDecodeError` whose message starts with the source's name: an empty
 * input, bytes that are neither format (the message shows the first bytes and names the format
 * they look like: GIF, WebP, BMP, TIFF, HEIF/AVIF, text or HTML), a truncated or corrupt file
 * (PNG chunks are CRC-checked, so any truncation or flipped byte is caught), or an image the
 * decoders cannot represent.
 */
import jpeg from 'jpeg-js';
import { decode as decodePngBytes, type DecodedPng } from 'fast-png';
import { InceptError, InvalidArgumentError } from '../runtime/errors.js';
import { nodeFs } from './safetensors.js';
import { endsWithEoi, jpegFrameSize, jpegOrientation } from './jpeg-markers.js';
import { decodeJpegWasm } from './jpeg-wasm.js';
import { decodeWithPlatform, platformCanDecode } from './image-platform.js';

export type ImageFormat = 'jpeg' | 'png';

/** The decoder that made a DecodedImage: libjpeg-turbo's (mozjpeg, WebAssembly), jpeg-js,
 * fast-png, or the browser's own (`decodeImageAsync`). */
export type ImageDecoderName = 'mozjpeg' | 'jpeg-js' | 'fast-png' | 'platform';

/** An 8-bit RGB image: `data` holds height × width × 3 bytes, row-major, R G B interleaved. */
export interface DecodedImage {
  width: number;
  height: number;
  data: Uint8Array;
  /** The format it was decoded from (absent for images made by hand). */
  format?: ImageFormat;
  /** The decoder that decoded it (absent for images made by hand). */
  decoder?: ImageDecoderName;
}

export interface DecodeImageOptions {
  /** What to do with transparency: 'drop' (default) keeps the stored colour, as PIL's
   * convert('RGB') does; 'composite' blends over `background`. */
  alpha?: 'drop' | 'composite';
  /** Background for `alpha: 'composite'`, 8-bit R, G, B (default white, [255, 255, 255]). */
  background?: readonly [number, number, number];
  /** The pixel budget: the largest image decoded, in megapixels (million pixels; default
   * DEFAULT_MAX_MEGAPIXELS). Checked against the header's size before decoding. */
  maxMegapixels?: number;
}

/** The default pixel budget of `decodeImage`, in megapixels: room for 48 MP (8000 × 6000) and
 * 61 MP (9504 × 6336) camera photos. */
export const DEFAULT_MAX_MEGAPIXELS = 64;

/** A file or buffer that could not be decoded; the message starts with the source's name. */
export class ImageDecodeError extends InceptError {
  constructor(
    readonly source: string,
    readonly problem: string,
  ) {
    super(`${source}: ${problem}`);
  }
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] as const;
const JPEG_SIGNATURE = [0xff, 0xd8, 0xff] as const;

const startsWith = (bytes: Uint8Array, sig: readonly number[]) => bytes.length >= sig.length && sig.every((b, i) => bytes[i] === b);
const isPrefixOf = (bytes: Uint8Array, sig: readonly number[]) => bytes.length < sig.length && Array.from(bytes).every((b, i) => b === sig[i]);
const ascii = (bytes: Uint8Array, from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));

/** The format of `bytes` by its magic number, or undefined when it is neither JPEG nor PNG. */
export function detectImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (startsWith(bytes, PNG_SIGNATURE)) return 'png';
  if (startsWith(bytes, JPEG_SIGNATURE)) return 'jpeg';
  return undefined;
}

/** An image's format and size as its header states them, before any pixel is decoded. */
export interface ImageHeaderSize {
  format: ImageFormat;
  width: number;
  height: number;
}

/**
 * The width and height a PNG's IHDR or a JPEG's frame header (SOF0–SOF15) states, without
 * decoding; undefined when the bytes are neither format or end before that header.
 */
export function imageHeaderSize(bytes: Uint8Array): ImageHeaderSize | undefined {
  const format = detectImageFormat(bytes);
  if (format === 'png') {
    if (bytes.length < 24 || ascii(bytes, 12, 16) !== 'IHDR') return undefined;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return { format, width: view.getUint32(16), height: view.getUint32(20) };
  }
  if (format === 'jpeg') {
    const frame = jpegFrameSize(bytes);
    return frame && { format, width: frame.width, height: frame.height };
  }
  return undefined;
}

/** Megapixels for messages: one decimal, or two significant digits below 0.1. */
function megapixels(pixels: number): string {
  const mp = pixels / 1e6;
  return mp >= 0.1 ? mp.toFixed(1) : String(Number(mp.toPrecision(2)));
}

/** Refuses an image whose header states more pixels than the budget, before it is decoded. */
function checkPixelBudget(source: string, format: ImageFormat, width: number, height: number, maxMegapixels: number): void {
  if (width * height <= maxMegapixels * 1e6) return;
  throw new ImageDecodeError(
    source,
    `${format === 'png' ? 'PNG' : 'JPEG'} too large: its header says ${width}×${height} pixels (${megapixels(width * height)} megapixels), ` +
      `more than the pixel budget of ${maxMegapixels} megapixels (maxMegapixels); nothing was decoded`,
  );
}

/** A guess at what other format the bytes are, for the error message. */
function otherFormat(bytes: Uint8Array): string | undefined {
  const head = ascii(bytes, 0, Math.min(bytes.length, 16));
  if (head.startsWith('GIF87a') || head.startsWith('GIF89a')) return 'GIF';
  if (head.startsWith('RIFF') && ascii(bytes, 8, 12) === 'WEBP') return 'WebP';
  if (head.startsWith('BM')) return 'BMP';
  if (head.startsWith('II*\0') || head.startsWith('MM\0*')) return 'TIFF';
  if (ascii(bytes, 4, 8) === 'ftyp') {
    const brand = ascii(bytes, 8, 12);
    return /^avi[fs]/.test(brand) ? 'AVIF' : /^(heic|heix|mif1|msf1|hevc)/.test(brand) ? 'HEIF/HEIC' : `an ISO media file (brand '${brand}')`;
  }
  if (startsWith(bytes, [0xff, 0x0a]) || startsWith(bytes, [0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20])) return 'JPEG XL';
  if (startsWith(bytes, [0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20]) || startsWith(bytes, [0xff, 0x4f, 0xff, 0x51])) return 'JPEG 2000';
  const text = head.trimStart().toLowerCase();
  if (text.startsWith('<svg') || text.startsWith('<?xml')) return 'SVG or XML text';
  if (text.startsWith('<!doctype html') || text.startsWith('<html')) return 'an HTML page (a failed download?)';
  if (text.startsWith('{') || text.startsWith('[')) return 'JSON text';
  if (startsWith(bytes, [0x1f, 0x8b])) return 'gzip-compressed data';
  if (startsWith(bytes, [0x50, 0x4b, 0x03, 0x04])) return 'a ZIP archive';
  return undefined;
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

function hexBytes(bytes: Uint8Array, n = 8): string {
  const shown = Array.from(bytes.subarray(0, n), (b) => b.toString(16).padStart(2, '0').toUpperCase()).join(' ');
  return bytes.length > n ? `${shown} …` : shown;
}

function asBytes(input: Uint8Array | ArrayBuffer, source: string): Uint8Array {
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (ArrayBuffer.isView(input)) {
    const v = input as ArrayBufferView;
    return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  }
  throw new InvalidArgumentError(`decodeImage: bytes of '${source}' must be a Uint8Array or ArrayBuffer, got ${input === null ? 'null' : typeof input}`);
}

/**
 * Decodes a JPEG or PNG to 8-bit RGB (see the module comment for every conversion). `source`
 * names the bytes in error messages (a file name or URL).
 */
export function decodeImage(input: Uint8Array | ArrayBuffer, source = 'image', options: DecodeImageOptions = {}): DecodedImage {
  const bytes = asBytes(input, source);
  const { composite, maxMegapixels } = checkDecodeOptions(options);
  if (bytes.length === 0) throw new ImageDecodeError(source, 'empty input (0 bytes): not an image');
  const format = detectImageFormat(bytes);
  if (format === 'png') return { ...decodePng(bytes, source, composite, maxMegapixels), format, decoder: 'fast-png' };
  if (format === 'jpeg') return { ...decodeJpeg(bytes, source, maxMegapixels), format };
  if (isPrefixOf(bytes, PNG_SIGNATURE)) throw new ImageDecodeError(source, `truncated PNG: only ${bytes.length} byte(s), a part of the 8-byte signature`);
  if (isPrefixOf(bytes, JPEG_SIGNATURE)) throw new ImageDecodeError(source, `truncated JPEG: only ${bytes.length} byte(s)`);
  const other = otherFormat(bytes);
  throw new ImageDecodeError(
    source,
    `not a JPEG or PNG image: the first bytes are ${hexBytes(bytes)}${other ? `, which looks like ${other}` : ''}. ` +
      'Supported: JPEG (starts FF D8 FF) and PNG (starts 89 50 4E 47 0D 0A 1A 0A)',
  );
}

/** Checks decodeImage's options; the composite background (when compositing) and the budget. */
function checkDecodeOptions(options: DecodeImageOptions): { composite: readonly [number, number, number] | undefined; maxMegapixels: number } {
  const alpha = options.alpha ?? 'drop';
  if (alpha !== 'drop' && alpha !== 'composite')
    throw new InvalidArgumentError(`decodeImage: alpha must be 'drop' or 'composite', got ${JSON.stringify(options.alpha)}`);
  const background = options.background ?? [255, 255, 255];
  if (!Array.isArray(background) || background.length !== 3 || !background.every((v) => Number.isInteger(v) && v >= 0 && v <= 255)) {
    throw new InvalidArgumentError(`decodeImage: background must be three integers in [0, 255] (R, G, B), got ${JSON.stringify(options.background)}`);
  }
  const maxMegapixels = options.maxMegapixels ?? DEFAULT_MAX_MEGAPIXELS;
  if (!(typeof maxMegapixels === 'number' && maxMegapixels > 0 && maxMegapixels < Infinity))
    throw new InvalidArgumentError(`decodeImage: maxMegapixels must be a number > 0, got ${String(options.maxMegapixels)}`);
  return { composite: alpha === 'composite' ? (background as readonly [number, number, number]) : undefined, maxMegapixels };
}

/**
 * Reads an image file and decodes it (Node only: `node:fs` is loaded on first use, so the
 * module still bundles for the browser, where `decodeImage` takes the bytes of a fetch or a
 * File). Errors name the path.
 */
export async function readImageFile(path: string, options: DecodeImageOptions = {}): Promise<DecodedImage> {
  const fs = await nodeFs('readImageFile');
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(path);
  } catch (e) {
    throw new ImageDecodeError(path, `could not read the file: ${messageOf(e)}`);
  }
  return decodeImage(bytes, path, options);
}

/**
 * Decodes a JPEG or PNG like `decodeImage`, except that in a browser (where `createImageBitmap`
 * and `OffscreenCanvas` exist) JPEGs are decoded by the browser's own decoder, natively and off
 * the JavaScript decoder's slow path; Chromium's and Firefox's are libjpeg-turbo, as PIL's is.
 * The platform decodes with colour management off (`colorSpaceConversion: 'none'`: ICC profiles
 * ignored, as here and in PIL). Everything else goes to `decodeImage`: Node (which has
 * libjpeg-turbo in WebAssembly), PNGs (lossless, exact in JavaScript, and their alpha would come
 * back premultiplied from a canvas), CMYK JPEGs, JPEGs with an EXIF orientation other than 1
 * (browsers apply it; torchvision does not), files without an end-of-image marker, and any file
 * the platform fails on (so errors read as decodeImage's). `DecodedImage.decoder` says which
 * decoder ran ('platform' for the browser's).
 */
export async function decodeImageAsync(input: Uint8Array | ArrayBuffer | Blob, source = 'image', options: DecodeImageOptions = {}): Promise<DecodedImage> {
  const bytes = typeof Blob !== 'undefined' && input instanceof Blob ? new Uint8Array(await input.arrayBuffer()) : asBytes(input as Uint8Array, source);
  const { maxMegapixels } = checkDecodeOptions(options);
  const frame = platformCanDecode() && detectImageFormat(bytes) === 'jpeg' ? jpegFrameSize(bytes) : undefined;
  if (frame && (frame.components === 1 || frame.components === 3) && jpegOrientation(bytes) === 1 && endsWithEoi(bytes)) {
    checkPixelBudget(source, 'jpeg', frame.width, frame.height, maxMegapixels);
    if (frame.width > 0 && frame.height > 0) {
      const data = await decodeWithPlatform(bytes, frame.width, frame.height);
      if (data) return { width: frame.width, height: frame.height, data, format: 'jpeg', decoder: 'platform' };
    }
  }
  return decodeImage(bytes, source, options);
}

// ------------------------------------------------------------------------------------------ JPEG

function decodeJpeg(bytes: Uint8Array, source: string, maxMegapixels: number): DecodedImage {
  const frame = jpegFrameSize(bytes);
  // Without a readable frame header jpeg-js says what is wrong (and applies the same budget).
  if (frame) checkPixelBudget(source, 'jpeg', frame.width, frame.height, maxMegapixels);
  if (frame) {
    const wasm = decodeJpegWasm(bytes);
    if (wasm) return { ...wasm, decoder: 'mozjpeg' };
  }
  // jpeg-js: where the WebAssembly decoder is not at hand, for the CMYK and YCCK files it does
  // not convert, and to say what is wrong with a file it refused.
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      // A missing block is an error, not a grey patch.
      tolerantDecoding: false,
      maxResolutionInMP: maxMegapixels,
      // What jpeg-js counts for an image at the budget: 4 bytes a sample for the coefficient
      // blocks, 1 for the sample lines and 1 for the output, four components at full
      // resolution at worst (CMYK 4:4:4), plus tables.
      maxMemoryUsageInMB: Math.ceil(maxMegapixels * 24) + 64,
    });
  } catch (e) {
    const message = messageOf(e);
    throw new ImageDecodeError(source, `${jpegProblem(bytes, message)} (jpeg-js: ${message})`);
  }
  const { width, height, data } = decoded;
  if (!(width > 0 && height > 0) || data.length !== width * height * 3) {
    throw new ImageDecodeError(source, `corrupt JPEG: decoded to ${width}×${height} with ${data.length} bytes`);
  }
  return { width, height, data, decoder: 'jpeg-js' };
}

/** Why a JPEG failed, in words: truncation (no end-of-image marker), a colour mode jpeg-js
 * does not convert, a size limit, or corruption. */
function jpegProblem(bytes: Uint8Array, message: string): string {
  if (/4 components/.test(message)) return 'unsupported JPEG: four components (CMYK) without the Adobe APP14 marker that says how they are stored';
  if (/Unsupported color mode/i.test(message)) return 'unsupported JPEG colour mode';
  if (/maxResolutionInMP|maxMemoryUsageInMB/.test(message)) return 'JPEG too large for the pixel budget (maxMegapixels)';
  if (/only single frame/.test(message)) return 'unsupported or corrupt JPEG (not exactly one frame: hierarchical, or the frame header is missing)';
  const n = bytes.length;
  const endsWithEoi = n >= 2 && bytes[n - 2] === 0xff && bytes[n - 1] === 0xd9;
  let hasEoi = endsWithEoi;
  for (let i = n - 2; !hasEoi && i >= Math.max(0, n - 65536); i--) hasEoi = bytes[i] === 0xff && bytes[i + 1] === 0xd9;
  return hasEoi ? `corrupt JPEG (${n} bytes)` : `truncated or corrupt JPEG (${n} bytes, no end-of-image marker FF D9 near the end: the file looks cut short)`;
}

// ------------------------------------------------------------------------------------------- PNG

const PNG_COLOR_TYPES: Record<number, string> = { 0: 'grayscale', 2: 'RGB', 3: 'palette', 4: 'grayscale + alpha', 6: 'RGBA' };

function decodePng(bytes: Uint8Array, source: string, composite: readonly [number, number, number] | undefined, maxMegapixels: number): DecodedImage {
  // Header fields, read directly for checks the decoder does not make.
  if (bytes.length < 33 || ascii(bytes, 12, 16) !== 'IHDR') {
    throw new ImageDecodeError(
      source,
      bytes.length < 33 ? `truncated PNG: ${bytes.length} bytes, shorter than its header (33 bytes)` : 'corrupt PNG: the first chunk is not IHDR',
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  const depth = bytes[24]!;
  const colorType = bytes[25]!;
  const interlace = bytes[28]!;
  if (width === 0 || height === 0) throw new ImageDecodeError(source, `corrupt PNG: its header says ${width}×${height}`);
  checkPixelBudget(source, 'png', width, height, maxMegapixels);
  if (interlace === 1 && depth < 8) {
    throw new ImageDecodeError(
      source,
      `unsupported PNG: Adam7-interlaced with ${depth}-bit samples (fast-png deinterlaces 8- and 16-bit images only); re-save it without interlacing`,
    );
  }
  let png: DecodedPng;
  try {
    png = decodePngBytes(bytes, { checkCrc: true });
  } catch (e) {
    const message = messageOf(e);
    const cause = e instanceof Error && e.cause !== undefined ? messageOf(e.cause) : undefined;
    const truncated = e instanceof RangeError && /outside the bounds|Offset/i.test(message);
    const problem = truncated
      ? `truncated PNG (${bytes.length} bytes: the file ends inside a chunk, before IEND; cut short, or a chunk's length is damaged)`
      : /crc/i.test(message)
        ? 'corrupt PNG (a chunk fails its CRC check)'
        : 'corrupt PNG';
    throw new ImageDecodeError(source, `${problem} (fast-png: ${message}${cause ? ` ${cause}` : ''})`);
  }
  const channels = png.channels;
  const expected = depth < 8 ? Math.ceil((width * depth) / 8) * height : width * height * channels;
  if (png.width !== width || png.height !== height || png.data.length !== expected) {
    throw new ImageDecodeError(
      source,
      `corrupt PNG: ${PNG_COLOR_TYPES[colorType] ?? `colour type ${colorType}`} ${width}×${height} decoded to ${png.data.length} samples, expected ${expected}`,
    );
  }
  try {
    return { width, height, data: pngToRgb(png, colorType, composite) };
  } catch (e) {
    if (e instanceof ImageDecodeError) throw e;
    throw new ImageDecodeError(source, `corrupt PNG: ${messageOf(e)}`);
  }
}

/** Unpacks row-padded samples of 1, 2 or 4 bits (one channel) into one value per pixel. */
function unpackBits(data: ArrayLike<number>, width: number, height: number, depth: number): Uint8Array {
  const out = new Uint8Array(width * height);
  const rowBytes = Math.ceil((width * depth) / 8);
  const mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      out[y * width + x] = (data[y * rowBytes + (bit >> 3)]! >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}

function pngToRgb(png: DecodedPng, colorType: number, composite: readonly [number, number, number] | undefined): Uint8Array {
  const { width, height, depth, channels } = png;
  const n = width * height;
  const out = new Uint8Array(n * 3);
  const max = depth === 16 ? 65535 : 255;
  // To 8 bits: exact for 8-bit samples, round(v / 257) for 16-bit ones.
  const to8 = depth === 16 ? (v: number) => Math.round(v / 257) : (v: number) => v;
  /** One channel of a pixel with straight alpha `a` (0..max), blended over bg (8-bit). */
  const blend = (v: number, a: number, bg: number) => (a === max ? to8(v) : Math.round((255 * (v * a)) / (max * max) + (bg * (max - a)) / max));

  if (colorType === 3) {
    const palette = png.palette;
    if (!palette || palette.length === 0) throw new Error('a palette image without a PLTE chunk');
    const index = depth < 8 ? unpackBits(png.data, width, height, depth) : png.data;
    for (let i = 0; i < n; i++) {
      const entry = palette[index[i]!];
      if (!entry) throw new Error(`pixel ${i} uses palette index ${index[i]}, but the palette has ${palette.length} entries`);
      const a = composite && entry.length > 3 ? entry[3]! : 255;
      for (let c = 0; c < 3; c++) out[3 * i + c] = composite ? blend(entry[c]!, a, composite[c]!) : entry[c]!;
    }
    return out;
  }

  if (depth < 8) {
    // Grayscale at 1, 2 or 4 bits (the only colour type allowed below 8 bits besides palette).
    const values = unpackBits(png.data, width, height, depth);
    const top = (1 << depth) - 1;
    const key = composite && png.transparency?.length === 1 ? png.transparency[0] : undefined;
    for (let i = 0; i < n; i++) {
      const v = values[i]!;
      for (let c = 0; c < 3; c++) out[3 * i + c] = v === key ? composite![c]! : (v * 255) / top;
    }
    return out;
  }

  const data = png.data;
  const hasAlpha = channels === 2 || channels === 4;
  const colors = hasAlpha ? channels - 1 : channels;
  // tRNS colour key (grayscale or RGB without an alpha channel): that exact colour is transparent.
  const key = composite && !hasAlpha && png.transparency && png.transparency.length === colors ? png.transparency : undefined;
  for (let i = 0; i < n; i++) {
    const at = i * channels;
    let a = hasAlpha ? data[at + colors]! : max;
    if (key) {
      let same = true;
      for (let c = 0; c < colors; c++) same &&= data[at + c] === key[c];
      if (same) a = 0;
    }
    for (let c = 0; c < 3; c++) {
      const v = data[at + (colors === 1 ? 0 : c)]!;
      out[3 * i + c] = composite ? blend(v, a, composite[c]!) : to8(v);
    }
  }
  return out;
}
