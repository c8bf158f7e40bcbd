/**
 * Flag ranges that depend on the adapter. Every tensor the engine makes is one GPU buffer bound
 * whole to a kernel, so the largest tensor a command will make must fit the adapter's
 * maxStorageBufferBindingSize (and maxBufferSize): 128 MiB on lavapipe, which at 299×299 holds
 * 24 images of Inception-v3's largest activation (Conv2d_2b_3x3's 147×147×64 floats).
 *
 * Commands compute their largest tensor from the shapes they will run (the spec, the benchmark's
 * modules or pairs) for the flag values given and compare it with the adapter's limits, read
 * from the adapter itself before any engine (device, pipelines, buffers) exists. When it does not
 * fit, the error names the flag to lower, the largest value that fits with the other flags as
 * given, the tensor and the limit. Fitting is necessary, not sufficient: memory can still run out.
 */
import { InceptError } from '../runtime/errors.js';
import { selectAdapter } from '../runtime/device.js';
import type { DriverChoice } from '../runtime/gpu-node.js';
import { inceptionV3Spec, type InceptionV3Options, type LayerSpec } from '../models/inception-v3-spec.js';

export interface AdapterLimits {
  /** The adapter, in words. */
  name: string;
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

/** The limits of the adapter the engine would pick, without creating a device. */
export async function adapterLimits(driver?: DriverChoice): Promise<AdapterLimits> {
  const { adapter } = await selectAdapter(driver ? { driver } : {});
  const info = adapter.info;
  return {
    name: info.description || info.device || info.vendor || 'the adapter',
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    maxBufferSize: adapter.limits.maxBufferSize,
  };
}

/** The largest single tensor of a run: its size and what it is, in words. */
export interface Footprint {
  bytes: number;
  what: string;
}

export const largerOf = (...fs: Footprint[]): Footprint => fs.reduce((a, b) => (b.bytes > a.bytes ? b : a));

/** A flag whose value drives the footprint. */
export interface FitKnob {
  flag: string;
  /** The value given (for a list, the largest). */
  value: number;
  /** The smallest value the flag takes (for a width, 0.01). */
  min: number;
  /** Integer flags search integers; others (a width) search hundredths. */
  integer: boolean;
}

/** The largest v in [lo, hi] with ok(v), given ok(lo) and a monotone ok. */
function largestFitting(lo: number, hi: number, ok: (v: number) => boolean): number {
  while (lo < hi) {
    const mid = Math.floor((lo + hi + 1) / 2);
    if (ok(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Throws an InceptError naming a flag to lower when the footprint of the values given does not
 * fit the adapter. The knobs are tried in order: the first whose smallest value fits (with the
 * others as given) is named, with the largest value that fits. `footprint` gets the values in
 * the knobs' order.
 */
export function checkFits(limits: AdapterLimits, knobs: readonly FitKnob[], footprint: (values: number[]) => Footprint): void {
  const limit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const limitName = limits.maxStorageBufferBindingSize <= limits.maxBufferSize ? 'maxStorageBufferBindingSize' : 'maxBufferSize';
  const given = knobs.map((k) => k.value);
  const at = footprint(given);
  if (at.bytes <= limit) return;
  const over = `the largest tensor, ${at.what}, takes ${at.bytes} bytes, more than this adapter's ${limitName} (${limit} bytes)`;
  for (const [i, knob] of knobs.entries()) {
    const scale = knob.integer ? 1 : 100;
    const fitsAt = (v: number): boolean => {
      const values = [...given];
      values[i] = v / scale;
      try {
        return footprint(values).bytes <= limit;
      } catch {
        return false; // a value the model cannot be built with does not fit either
      }
    };
    const lo = Math.ceil(knob.min * scale);
    if (!fitsAt(lo)) continue;
    const best = largestFitting(lo, Math.floor(knob.value * scale) - 1, fitsAt) / scale;
    const others = knobs.filter((_, j) => j !== i).map((k) => `${k.flag} ${k.value}`);
    throw new InceptError(
      `${knob.flag} ${knob.value} does not fit this adapter (${limits.name}): allowed ${knob.min} to ${best}; with ${[`${knob.flag} ${knob.value}`, ...others].join(', ')} ${over}`,
    );
  }
  throw new InceptError(
    `${knobs.map((k) => `${k.flag} ${k.value}`).join(', ')} do not fit this adapter (${limits.name}) even with any one of them at its smallest: ${over}`,
  );
}

/** The largest weight tensor of a layer (its parameters less the bias or BatchNorm's γ and β). */
function weightFloats(l: LayerSpec): number {
  if (l.params === 0) return 0;
  const c = l.outputShape[0];
  return l.kind === 'linear' ? l.params - c : l.params - (l.batchNorm === false ? 1 : 2) * c;
}

/** Inception-v3's largest activation of one image (the input included), as built with `options`. */
export function largestActivation(options: InceptionV3Options): { floats: number; what: string } {
  const size = options.inputSize ?? (options.variant === 'cifar10' ? 32 : 299);
  let best = { floats: 3 * size * size, what: `the ${size}×${size}×3 input` };
  for (const l of inceptionV3Spec(options)) {
    const [c, h, w] = l.outputShape;
    if (c * h * w > best.floats) best = { floats: c * h * w, what: `${l.name}'s ${h}×${w}×${c} output` };
  }
  return best;
}

/** Inception-v3's largest weight tensor, as built with `options`. */
export function largestWeight(options: InceptionV3Options): Footprint {
  let best: Footprint = { bytes: 0, what: 'no weight' };
  for (const l of inceptionV3Spec(options)) {
    const n = weightFloats(l);
    if (4 * n > best.bytes) best = { bytes: 4 * n, what: `${l.name}'s weight (${n} floats${l.kind === 'linear' ? ` for ${l.outputShape[0]} classes` : ''})` };
  }
  return best;
}

/** A benchmark's activations: `perImage` floats of one image, times the batch. */
export function batchFootprint(batch: number, perImage: { floats: number; what: string }): Footprint {
  return { bytes: 4 * batch * perImage.floats, what: `${perImage.what} at batch ${batch} (${perImage.floats} floats per image)` };
}

/** Inception-v3 as built with `options`, run on `batch` images: its largest activation or weight. */
export function networkFootprint(options: InceptionV3Options, batch: number): Footprint {
  return largerOf(batchFootprint(batch, largestActivation(options)), largestWeight(options));
}
