/**
 * Whether a training configuration fits the adapter's buffer limits, worked out from the layer
 * table before anything is built: every tensor lives in one buffer bound whole to a kernel, so the
 * largest one (a conv's weights, which grow with width², or an activation of the whole batch, or
 * the weight gradient's partial sums) must fit both maxStorageBufferBindingSize and maxBufferSize.
 * Without this check a too-wide network builds for minutes and allocates gigabytes before its
 * first kernel is refused. The allowed ranges it reports (widest network at a batch size, largest
 * batch at a width) come from the same calculation, so they follow the adapter.
 */
import { inceptionV3Spec, type LayerSpec } from '../models/inception-v3-spec.js';
import { convGeometry } from '../ops/conv2d-geometry.js';
import { weightChunks } from '../ops/conv2d-backward.js';

export interface BufferLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

interface Buffer {
  bytes: number;
  what: string;
}

/** The smaller of the two limits and its name. */
function bufferLimit(limits: BufferLimits): { bytes: number; name: string } {
  return limits.maxBufferSize < limits.maxStorageBufferBindingSize
    ? { bytes: limits.maxBufferSize, name: 'maxBufferSize' }
    : { bytes: limits.maxStorageBufferBindingSize, name: 'maxStorageBufferBindingSize' };
}

/** The largest activation of one image, in bytes (the layer outputs; their gradients are the same size). */
export function largestActivationPerImage(layers: readonly LayerSpec[]): Buffer {
  let best: Buffer = { bytes: 0, what: '' };
  for (const l of layers) {
    const [c, h, w] = l.outputShape;
    if (4 * c * h * w > best.bytes) best = { bytes: 4 * c * h * w, what: `the output of ${l.name} (${c}×${h}×${w} floats an image)` };
  }
  return best;
}

/** The largest buffer one training step of the CIFAR-10 network at `width` and `batchSize` needs. */
export function largestTrainingBuffer(width: number, batchSize: number): Buffer {
  const layers = inceptionV3Spec({ variant: 'cifar10', width });
  const perImage = largestActivationPerImage(layers);
  let best: Buffer = { bytes: batchSize * perImage.bytes, what: `${perImage.what.replace(/ an image\)$/, '')} × ${batchSize} images)` };
  const consider = (b: Buffer) => {
    if (b.bytes > best.bytes) best = b;
  };
  const shapes = new Map<string, readonly [number, number, number]>([['input', [3, 32, 32]]]);
  for (const l of layers) {
    shapes.set(l.name, l.outputShape);
    const inputs = l.inputs.map((name) => shapes.get(name)!);
    const cin = inputs.reduce((s, shape) => s + shape[0], 0);
    const cout = l.outputShape[0];
    const features = inputs.reduce((s, [c, h, w]) => s + c * h * w, 0);
    if (l.kind === 'conv') {
      const [kh, kw] = l.kernel!;
      const [, h, w] = inputs[0]!;
      const weights = kh * kw * cin * cout;
      consider({ bytes: 4 * weights, what: `the weights of ${l.name} (${kh}×${kw}×${cin}×${cout} floats)` });
      const { chunks } = weightChunks(convGeometry('incept train', [batchSize, h, w, cin], [kh, kw, cin, cout], l.stride, l.padding ?? 'valid'));
      consider({ bytes: 4 * chunks * weights, what: `the weight gradient's partial sums of ${l.name} (${chunks} × ${weights} floats)` });
    } else if (l.kind === 'linear') {
      consider({ bytes: 4 * features * cout, what: `the weights of ${l.name} (${features}×${cout} floats)` });
    }
  }
  return best;
}

/** Images of one batch whose largest activation fits the limits (evaluation batches). */
export function imagesPerBuffer(limits: BufferLimits, layers: readonly LayerSpec[]): number {
  return Math.floor(bufferLimit(limits).bytes / largestActivationPerImage(layers).bytes);
}

function fits(limits: BufferLimits, width: number, batchSize: number): boolean {
  return largestTrainingBuffer(width, batchSize).bytes <= bufferLimit(limits).bytes;
}

/** The widest network that fits at `batchSize`, below `above` (which does not fit); 0 if none. */
function widestFitting(limits: BufferLimits, batchSize: number, above: number): number {
  let lo = 0;
  let hi = above;
  for (let i = 0; i < 50 && hi - lo > 1e-6; i++) {
    const mid = (lo + hi) / 2;
    if (fits(limits, mid, batchSize)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** The largest batch that fits at `width`, below `above` (which does not fit); 0 if none. */
function largestFittingBatch(limits: BufferLimits, width: number, above: number): number {
  let lo = 0;
  let hi = above;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(limits, width, mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** A width for messages: rounded down to two decimals (so it fits), more digits when smaller. */
function formatWidth(w: number): string {
  const two = Math.floor(w * 100) / 100;
  return two > 0 ? String(two) : w.toPrecision(2);
}

/**
 * Undefined when `width` and `batchSize` fit the limits; else the flag to change and a message
 * naming it, its value, the buffer that does not fit and the allowed range.
 */
export function checkTrainingBuffers(
  limits: BufferLimits,
  config: { width: number; batchSize: number },
): { flag: '--width' | '--batch-size'; message: string } | undefined {
  const { width, batchSize } = config;
  const big = largestTrainingBuffer(width, batchSize);
  const limit = bufferLimit(limits);
  if (big.bytes <= limit.bytes) return undefined;
  const tooBig = `${big.what}: ${big.bytes} bytes, over this adapter's limit for one buffer, ${limit.name} (${limit.bytes} bytes)`;
  const mostImages = fits(limits, width, 1) ? largestFittingBatch(limits, width, batchSize) : 0;
  if (mostImages >= 1) {
    return {
      flag: '--batch-size',
      message: `--batch-size ${batchSize}: at --width ${width}, ${tooBig}; the allowed range is 1 ≤ --batch-size ≤ ${mostImages} at --width ${width}`,
    };
  }
  const widest = widestFitting(limits, batchSize, width);
  const range =
    widest > 0
      ? `the allowed range is 0 < --width ≤ ${formatWidth(widest)} at --batch-size ${batchSize}`
      : `no width fits at --batch-size ${batchSize}; use a smaller batch`;
  return { flag: '--width', message: `--width ${width}: ${tooBig}; ${range}` };
}
