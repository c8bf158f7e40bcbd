/**
 * CIFAR-10's record format and statistics, without file access (so it also runs in browsers;
 * src/data/cifar10.ts reads the files in Node). A record is 1 label byte (0–9) then 3072 image
 * bytes: the red plane (32 × 32, row-major), then green, then blue.
 */
import { InceptError } from '../runtime/errors.js';
import { IMAGE_BYTES } from '../ops/augment.js';

export const CIFAR10_RECORD_BYTES = 1 + IMAGE_BYTES;
export const CIFAR10_CLASSES: readonly string[] = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/** A data set's file or content is not what the format says (named in the message). */
export class DatasetError extends InceptError {}

/** Images as the files hold them: `images` is [count, 3, 32, 32] uint8, `labels` [count]. */
export interface ImageDataset {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

/**
 * Splits `records` (whole records) of file `name` into `images` and `labels` from position
 * `at` on; returns the number of records decoded. A label above 9 is a DatasetError naming the
 * file and the record's index in it.
 */
export function decodeRecords(records: Uint8Array, name: string, images: Uint8Array, labels: Uint8Array, at: number): number {
  if (records.length % CIFAR10_RECORD_BYTES !== 0) {
    throw new DatasetError(`CIFAR-10: ${name} is ${records.length} bytes, not a whole number of ${CIFAR10_RECORD_BYTES}-byte records`);
  }
  const n = records.length / CIFAR10_RECORD_BYTES;
  for (let r = 0; r < n; r++) {
    const base = r * CIFAR10_RECORD_BYTES;
    const label = records[base]!;
    if (label > 9) throw new DatasetError(`CIFAR-10: ${name} record ${r} (byte ${base}) has label ${label}; labels are 0–9`);
    labels[at + r] = label;
    images.set(records.subarray(base + 1, base + CIFAR10_RECORD_BYTES), (at + r) * IMAGE_BYTES);
  }
  return n;
}

export interface ChannelStatistics {
  /** Per-channel mean of x / 255 (R, G, B). */
  mean: [number, number, number];
  /** Per-channel standard deviation of x / 255 over all pixels of all images (population). */
  std: [number, number, number];
}

/**
 * Per-channel mean and standard deviation of x / 255 over every pixel of the set (CIFAR-10's
 * training set gives CIFAR10_MEAN and CIFAR10_STD). Exact: byte histograms per channel, sums in
 * float64 of integers below 2^53.
 */
export function channelStatistics(data: ImageDataset): ChannelStatistics {
  const plane = IMAGE_BYTES / 3;
  if (data.count === 0) throw new DatasetError('channelStatistics: the data set holds no images');
  const hist = [new Float64Array(256), new Float64Array(256), new Float64Array(256)];
  for (let i = 0; i < data.count; i++) {
    for (let c = 0; c < 3; c++) {
      const h = hist[c]!;
      const start = i * IMAGE_BYTES + c * plane;
      const bytes = data.images.subarray(start, start + plane);
      for (let k = 0; k < plane; k++) h[bytes[k]!]!++;
    }
  }
  const n = data.count * plane;
  const mean: [number, number, number] = [0, 0, 0];
  const std: [number, number, number] = [0, 0, 0];
  for (let c = 0; c < 3; c++) {
    let s = 0;
    for (let v = 0; v < 256; v++) s += v * hist[c]![v]!;
    const m = s / n;
    let ss = 0;
    for (let v = 0; v < 256; v++) ss += (v - m) * (v - m) * hist[c]![v]!;
    mean[c] = m / 255;
    std[c] = Math.sqrt(ss / n) / 255;
  }
  return { mean, std };
}
