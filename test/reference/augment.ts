/**
 * CIFAR-10 augmentation written for clarity, in float64: torchvision's RandomCrop(32,
 * padding=P) on the uint8 image (zero padding), RandomHorizontalFlip, ToTensor, Normalize.
 * The draws come from the reference Philox of test/reference/dropout.ts (written apart from the
 * one in src/data/random.ts), laid out as kernels/augment.wgsl describes.
 */
import { philox4x32_10, splitWords } from './dropout.js';

export const AUGMENT_STREAM_REF = 0x4155474d; // 'AUGM'

export interface DrawsRef {
  dx: number[];
  dy: number[];
  flip: number[];
}

/** Image b: Philox on counter (firstIndex + b, step low, step high, 'AUGM'), key = seed's words;
 * dx = w0 mod (2P+1), dy = w1 mod (2P+1), flip = top bit of w2. */
export function drawsRef(count: number, seed: number, step: number, padding = 4, flip = true, firstIndex = 0): DrawsRef {
  const [stepLo, stepHi] = splitWords(step);
  const out: DrawsRef = { dx: [], dy: [], flip: [] };
  for (let b = 0; b < count; b++) {
    const w = philox4x32_10([firstIndex + b, stepLo, stepHi, AUGMENT_STREAM_REF], splitWords(seed));
    out.dx.push(w[0] % (2 * padding + 1));
    out.dy.push(w[1] % (2 * padding + 1));
    out.flip.push(flip ? Math.floor(w[2] / 2 ** 31) : 0);
  }
  return out;
}

/** The byte of channel c at (row, col) of image b in [B, 3, 32, 32] bytes. */
export function pixelRef(bytes: Uint8Array, b: number, c: number, row: number, col: number): number {
  return bytes[b * 3072 + c * 1024 + row * 32 + col]!;
}

/**
 * Float64 [B, 32, 32, 3]: pad by P zero bytes each side, cut 32×32 at (top dy, left dx), mirror
 * left-right when flip, then (x / 255 − mean_c) / std_c. Without draws: normalise only.
 */
export function augmentRef(
  bytes: Uint8Array,
  draws: { dx: ArrayLike<number>; dy: ArrayLike<number>; flip: ArrayLike<number> } | undefined,
  padding: number,
  mean: readonly number[],
  std: readonly number[],
): Float64Array {
  const count = bytes.length / 3072;
  const out = new Float64Array(count * 32 * 32 * 3);
  for (let b = 0; b < count; b++) {
    // The padded 40×40 (for P = 4) image, channel by channel, then the crop and the flip.
    const side = 32 + 2 * padding;
    for (let c = 0; c < 3; c++) {
      const padded = new Uint8Array(side * side);
      for (let r = 0; r < 32; r++) for (let s = 0; s < 32; s++) padded[(r + padding) * side + s + padding] = pixelRef(bytes, b, c, r, s);
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) {
          let v: number;
          if (draws) {
            const crop = (row: number, col: number) => padded[(row + draws.dy[b]!) * side + col + draws.dx[b]!]!;
            v = draws.flip[b] ? crop(y, 31 - x) : crop(y, x);
          } else {
            v = pixelRef(bytes, b, c, y, x);
          }
          out[((b * 32 + y) * 32 + x) * 3 + c] = (v / 255 - mean[c]!) / std[c]!;
        }
      }
    }
  }
  return out;
}
