/** Reading a JPEG's marker segments without decoding it: frame size, EXIF orientation, end marker. */

const ascii = (bytes: Uint8Array, from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));

/** Markers that carry no length: TEM, RST0–7, SOI, EOI. */
export const isStandaloneMarker = (m: number) => m === 0x01 || (m >= 0xd0 && m <= 0xd9);
/** SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC). */
export const isFrameMarker = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

/** Walks a JPEG's marker segments up to the frame header and reads its size and number of
 * components. */
export function jpegFrameSize(bytes: Uint8Array): { width: number; height: number; components: number } | undefined {
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1]!;
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (isStandaloneMarker(marker)) {
      at += 2;
      continue;
    }
    // Entropy-coded data before any frame header: not a file we can size.
    if (marker === 0xda) return undefined;
    const length = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    if (isFrameMarker(marker)) {
      if (at + 9 > bytes.length) return undefined;
      return { height: (bytes[at + 5]! << 8) | bytes[at + 6]!, width: (bytes[at + 7]! << 8) | bytes[at + 8]!, components: bytes[at + 9] ?? 0 };
    }
    if (length < 2) return undefined;
    at += 2 + length;
  }
  return undefined;
}

/** Whether an end-of-image marker (FF D9) lies near the end (JPEGs may carry trailing bytes). */
export function endsWithEoi(bytes: Uint8Array): boolean {
  for (let i = bytes.length - 2; i >= Math.max(0, bytes.length - 65536); i--) if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) return true;
  return false;
}

/** The EXIF orientation (1–8) in a JPEG's APP1 segment; 1 when there is none or it is unreadable. */
export function jpegOrientation(bytes: Uint8Array): number {
  let at = 2;
  while (at + 4 <= bytes.length && bytes[at] === 0xff) {
    const marker = bytes[at + 1]!;
    if (marker === 0xda || isFrameMarker(marker)) return 1;
    if (marker === 0xff || isStandaloneMarker(marker)) {
      at += marker === 0xff ? 1 : 2;
      continue;
    }
    const length = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    const end = Math.min(at + 2 + length, bytes.length);
    if (marker === 0xe1 && ascii(bytes, at + 4, at + 10) === 'Exif\0\0') {
      const tiff = at + 10;
      const little = bytes[tiff] === 0x49;
      const u16 = (o: number) => (o + 2 > end ? -1 : little ? bytes[o]! | (bytes[o + 1]! << 8) : (bytes[o]! << 8) | bytes[o + 1]!);
      const u32 = (o: number) => (o + 4 > end ? -1 : little ? u16(o) + u16(o + 2) * 65536 : u16(o) * 65536 + u16(o + 2));
      const ifd = tiff + u32(tiff + 4);
      const entries = u16(ifd);
      for (let k = 0; k < entries; k++) {
        const entry = ifd + 2 + 12 * k;
        const tag = u16(entry);
        if (tag < 0) return 1;
        if (tag === 0x0112) return u16(entry + 8) > 0 ? u16(entry + 8) : 1;
      }
      return 1;
    }
    if (length < 2) return 1;
    at += 2 + length;
  }
  return 1;
}
