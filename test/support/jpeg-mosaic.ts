/**
 * A baseline JPEG writer for very large test images, fast enough to make a 48-megapixel photo
 * in a test: YCbCr 4:2:0 (as cameras write them) in which every 8 × 8 luma block and every
 * 16 × 16 chroma block is flat (only its DC coefficient is coded), with values drawn at random.
 * A full encoder (jpeg-js's) needs seconds per megapixel; this one writes a few bits per block.
 *
 * Coding: one quantisation table of 8s, so a flat block of level v has the quantised DC
 * coefficient v − 128 (F(0,0) = 8·(v − 128) for an 8 × 8 block); the standard luminance DC
 * Huffman table (ITU T.81 Table K.3) for the DC differences; an AC table with the single symbol
 * EOB (code 0), the only AC symbol a flat block needs.
 */
import type { Rng } from './random.js';

/** The picture drawn: one luma level per 8 × 8 block, one Cb and Cr per 16 × 16 block. */
export interface MosaicPlan {
  width: number;
  height: number;
  /** Luma per 8 × 8 block, row-major, ⌈H/16⌉·2 rows of ⌈W/16⌉·2 blocks (whole MCUs). */
  luma: Uint8Array;
  /** Cb and Cr per 16 × 16 block, row-major, ⌈H/16⌉ rows of ⌈W/16⌉. */
  cb: Uint8Array;
  cr: Uint8Array;
}

/** Random levels: luma in [16, 235], chroma in [64, 192] (colours well inside RGB). */
export function randomMosaic(rng: Rng, width: number, height: number): MosaicPlan {
  const mcuCols = Math.ceil(width / 16);
  const mcuRows = Math.ceil(height / 16);
  const level = (lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
  return {
    width,
    height,
    luma: Uint8Array.from({ length: 4 * mcuCols * mcuRows }, () => level(16, 235)),
    cb: Uint8Array.from({ length: mcuCols * mcuRows }, () => level(64, 192)),
    cr: Uint8Array.from({ length: mcuCols * mcuRows }, () => level(64, 192)),
  };
}

/** The colour the plan puts at pixel (x, y), as JFIF's YCbCr → RGB (before 8-bit storage). */
export function mosaicRgbAt(plan: MosaicPlan, x: number, y: number): [number, number, number] {
  const mcuCols = Math.ceil(plan.width / 16);
  const Y = plan.luma[(y >> 3) * 2 * mcuCols + (x >> 3)]!;
  const cb = plan.cb[(y >> 4) * mcuCols + (x >> 4)]! - 128;
  const cr = plan.cr[(y >> 4) * mcuCols + (x >> 4)]! - 128;
  return [Y + 1.402 * cr, Y - 0.344136 * cb - 0.714136 * cr, Y + 1.772 * cb];
}

class BitWriter {
  private bytes: Uint8Array;
  private length = 0;
  private acc = 0;
  private bits = 0;

  constructor(capacity: number) {
    this.bytes = new Uint8Array(capacity);
  }

  private push(byte: number): void {
    if (this.length + 2 > this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2);
      grown.set(this.bytes);
      this.bytes = grown;
    }
    this.bytes[this.length++] = byte;
    // Byte stuffing: an FF in entropy-coded data is followed by 00.
    if (byte === 0xff) this.bytes[this.length++] = 0;
  }

  write(value: number, count: number): void {
    for (let i = count - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | ((value >> i) & 1);
      if (++this.bits === 8) {
        this.push(this.acc);
        this.acc = 0;
        this.bits = 0;
      }
    }
  }

  /** Pads the last byte with 1 bits, as T.81 asks. */
  finish(): Uint8Array {
    if (this.bits > 0) this.write((1 << (8 - this.bits)) - 1, 8 - this.bits);
    return this.bytes.subarray(0, this.length);
  }
}

// T.81 Table K.3: code counts per length 1..16 and the symbols (DC categories 0..11).
const DC_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const DC_VALUES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];

/** Canonical Huffman codes (T.81 Annex C) by symbol: [code, length]. */
function huffmanCodes(bits: readonly number[], values: readonly number[]): Map<number, [number, number]> {
  const codes = new Map<number, [number, number]>();
  let code = 0;
  let k = 0;
  for (let length = 1; length <= 16; length++) {
    for (let i = 0; i < bits[length - 1]!; i++) codes.set(values[k++]!, [code++, length]);
    code <<= 1;
  }
  return codes;
}

const segment = (marker: number, body: readonly number[]): number[] => [0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body];

/** The JPEG file of a mosaic plan. */
export function encodeMosaicJpeg(plan: MosaicPlan): Uint8Array {
  const { width, height } = plan;
  if (width < 1 || height < 1 || width > 65535 || height > 65535) throw new Error(`encodeMosaicJpeg: ${width}×${height} is not a JPEG size`);
  const mcuCols = Math.ceil(width / 16);
  const mcuRows = Math.ceil(height / 16);
  const dc = huffmanCodes(DC_BITS, DC_VALUES);
  const head = [
    0xff,
    0xd8,
    ...segment(0xe0, [0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]), // JFIF 1.1
    ...segment(0xdb, [0x00, ...new Array<number>(64).fill(8)]),
    // SOF0: 8-bit samples, height, width, Y at 2 × 2, Cb and Cr at 1 × 1, all with table 0.
    ...segment(0xc0, [8, height >> 8, height & 0xff, width >> 8, width & 0xff, 3, 1, 0x22, 0, 2, 0x11, 0, 3, 0x11, 0]),
    ...segment(0xc4, [0x00, ...DC_BITS, ...DC_VALUES]),
    // AC table 0: one code of length 1 for EOB (0x00).
    ...segment(0xc4, [0x10, 1, ...new Array<number>(15).fill(0), 0x00]),
    ...segment(0xda, [3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 63, 0]),
  ];
  const out = new BitWriter(mcuCols * mcuRows * 8 + 1024);
  const previous = [0, 0, 0];
  const block = (component: number, level: number) => {
    const coefficient = level - 128;
    const diff = coefficient - previous[component]!;
    previous[component] = coefficient;
    const magnitude = Math.abs(diff);
    const category = magnitude === 0 ? 0 : 32 - Math.clz32(magnitude);
    const [code, length] = dc.get(category)!;
    out.write(code, length);
    // Negative differences are coded as diff − 1 in `category` bits (ones' complement).
    if (category > 0) out.write(diff > 0 ? diff : diff + (1 << category) - 1, category);
    out.write(0, 1); // EOB
  };
  for (let my = 0; my < mcuRows; my++) {
    for (let mx = 0; mx < mcuCols; mx++) {
      for (const [dy, dx] of [
        [0, 0],
        [0, 1],
        [1, 0],
        [1, 1],
      ] as const)
        block(0, plan.luma[(2 * my + dy) * 2 * mcuCols + 2 * mx + dx]!);
      block(1, plan.cb[my * mcuCols + mx]!);
      block(2, plan.cr[my * mcuCols + mx]!);
    }
  }
  const data = out.finish();
  const file = new Uint8Array(head.length + data.length + 2);
  file.set(head, 0);
  file.set(data, head.length);
  file.set([0xff, 0xd9], head.length + data.length);
  return file;
}
