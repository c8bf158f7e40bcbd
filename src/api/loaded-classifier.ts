/**
 * A loaded classifier: preprocesses images on the GPU, runs the model's forward pass in batches,
 * and reads back the top classes, refusing outputs that are NaN or infinite rather than
 * reporting a class made up from them.
 */
import type { Engine } from '../runtime/engine.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import { Tensor } from '../runtime/tensor.js';
import type { DispatchRecord } from '../runtime/profiler.js';
import type { DecodedImage } from '../io/image.js';
import { preprocess as preprocessImages, type InputConvention, type PreprocessOptions, type PreprocessPreset } from '../io/preprocess.js';
import { firstNonFinite } from '../io/weight-values.js';
import { softmax, topK, MAX_TOP_K } from '../ops/softmax.js';
import type { Backend } from './backend.js';
import type { Classification, ClassifyOptions, ClassifyRun, Classifier, TopClass } from './classifier-types.js';
import { ClassifierError, type ModelFormat } from './format.js';

function presetNameOf(p: PreprocessPreset | PreprocessOptions): PreprocessPreset {
  return typeof p === 'string' ? p : (p.preset ?? 'torchvision');
}

function checkImage(v: unknown, i: number): DecodedImage {
  const im = v as DecodedImage;
  if (typeof im !== 'object' || im === null || !Number.isInteger(im.width) || !Number.isInteger(im.height) || !(im.data instanceof Uint8Array)) {
    throw new InvalidArgumentError(
      `classify: image ${i} must be a decoded image { width, height, data } (decodeImage or readImageFile), got ${im === null ? 'null' : typeof im}`,
    );
  }
  return im;
}

export class LoadedClassifier implements Classifier {
  readonly labels: readonly string[] | undefined;
  readonly inputConvention: InputConvention | 'custom';
  readonly inputConventionReason: string;
  private disposed = false;

  constructor(
    readonly engine: Engine,
    readonly format: ModelFormat,
    readonly source: string,
    readonly preprocessing: PreprocessPreset | PreprocessOptions,
    private readonly backend: Backend,
    labels: readonly string[] | undefined,
    convention: { convention: InputConvention | 'custom'; reason: string },
  ) {
    this.labels = labels;
    this.inputConvention = convention.convention;
    this.inputConventionReason = convention.reason;
  }

  get description(): string {
    return this.backend.description;
  }
  get presetName(): PreprocessPreset {
    return presetNameOf(this.preprocessing);
  }
  get inputShape(): readonly [number, number, number] {
    return this.backend.inputShape;
  }
  get numClasses(): number {
    return this.backend.numClasses;
  }
  get outputIsProbabilities(): boolean {
    return this.backend.outputIsProbabilities;
  }
  get parameterCount(): number {
    return this.backend.parameterCount;
  }

  private live(what: string): void {
    if (this.disposed) throw new InvalidArgumentError(`${what}: the classifier was disposed`);
  }

  preprocess(images: readonly DecodedImage[]): Tensor<'f32'> {
    this.live('preprocess');
    const [h, w, c] = this.inputShape;
    if (c !== 3)
      throw new InvalidArgumentError(`preprocess: the model takes ${c}-channel input, not RGB images; pass a preprocessed [N, ${h}, ${w}, ${c}] tensor`);
    const base: PreprocessOptions = typeof this.preprocessing === 'string' ? { preset: this.preprocessing } : this.preprocessing;
    return preprocessImages(this.engine, images.map(checkImage), { ...base, size: base.size ?? [h, w] });
  }

  classify(image: DecodedImage, options?: ClassifyOptions): Promise<Classification>;
  classify(input: readonly DecodedImage[] | Tensor, options?: ClassifyOptions): Promise<Classification[]>;
  async classify(input: DecodedImage | readonly DecodedImage[] | Tensor, options: ClassifyOptions = {}): Promise<Classification | Classification[]> {
    const run = await this.classifyDetailed(input, options);
    return Array.isArray(input) || input instanceof Tensor ? run.results : run.results[0]!;
  }

  async classifyDetailed(input: DecodedImage | readonly DecodedImage[] | Tensor, options: ClassifyOptions = {}): Promise<ClassifyRun> {
    this.live('classify');
    const t0 = performance.now();
    const classes = this.numClasses;
    const k = options.topk ?? Math.min(5, classes);
    if (!Number.isInteger(k) || k < 1 || k > Math.min(classes, MAX_TOP_K))
      throw new InvalidArgumentError(`classify: topk must be an integer in 1..${Math.min(classes, MAX_TOP_K)}, got ${String(options.topk)}`);
    const batchSize = options.batchSize ?? 8;
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new InvalidArgumentError(`classify: batchSize must be a positive integer, got ${String(options.batchSize)}`);
    const [h, w, c] = this.inputShape;
    const profiler = this.engine.profiler;
    const forwardRecords: DispatchRecord[] = [];
    let preprocessMs = 0;
    let forwardMs = 0;
    const results: Omit<Classification, 'ms'>[] = [];

    const total = input instanceof Tensor ? input.shape[0]! : Array.isArray(input) ? input.length : 1;
    let batchNumber = 0;
    const runBatch = async (x: Tensor): Promise<void> => {
      const t = performance.now();
      const firstRecord = profiler.records.length;
      const first = results.length;
      batchNumber++;
      const out = this.engine.scope(() => {
        const y = this.backend.forward(x);
        const p = this.outputIsProbabilities ? y : softmax(y);
        const top = topK(p, k);
        return options.scores ? { y, p, top } : { y, top };
      });
      try {
        // The outputs are always read (classes × images floats, small next to the forward) to
        // catch NaN and infinities, which would otherwise come out as `class -1` or a
        // confident wrong answer.
        const [values, indices, probabilities, outputs] = await Promise.all([out.top.values.read(), out.top.indices.read(), out.p?.read(), out.y.read()]);
        const n = x.shape[0]!;
        for (let i = 0; i < n; i++) {
          const row = (outputs as Float32Array).subarray(i * classes, (i + 1) * classes);
          const bad = firstNonFinite(row);
          const topIndexBad = (indices as Int32Array | Uint32Array).subarray(i * k, (i + 1) * k).some((j) => j < 0 || j >= classes);
          if (bad >= 0 || topIndexBad || firstNonFinite((values as Float32Array).subarray(i * k, (i + 1) * k)) >= 0) {
            const what = bad >= 0 ? `${String(row[bad])} (class ${bad} first)` : 'not a probability distribution (NaN or infinite after the softmax)';
            throw new ClassifierError(
              `${this.source}: the model's outputs for image ${first + i} (of ${total}; batch ${batchNumber}, images ${first}–${first + n - 1}) are ${what}; ` +
                "no class can be read from them. The input holds NaN or values near float32's limit, or the weights overflow",
            );
          }
          const top: TopClass[] = [];
          for (let j = 0; j < k; j++) {
            const index = indices[i * k + j]!;
            top.push({ index, label: this.labels?.[index] ?? `class ${index}`, probability: values[i * k + j]! });
          }
          results.push({
            top,
            ...(probabilities
              ? {
                  probabilities: (probabilities as Float32Array).slice(i * classes, (i + 1) * classes),
                  outputs: (outputs as Float32Array).slice(i * classes, (i + 1) * classes),
                }
              : {}),
          });
        }
      } finally {
        out.top.values.dispose();
        out.top.indices.dispose();
        out.p?.dispose();
        out.y.dispose();
      }
      forwardMs += performance.now() - t;
      forwardRecords.push(...profiler.records.slice(firstRecord));
    };

    if (input instanceof Tensor) {
      if (input.isDisposed) throw new InvalidArgumentError('classify: the input tensor was disposed');
      if (input.owner !== (this.engine as unknown)) throw new InvalidArgumentError('classify: the input tensor belongs to another engine');
      if (input.rank !== 4 || input.shape[1] !== h || input.shape[2] !== w || input.shape[3] !== c || input.dtype !== 'f32') {
        throw new InvalidArgumentError(
          `classify: a tensor input must be f32 [N, ${h}, ${w}, ${c}] (NHWC, preprocessed for this model), got ${input.describe()}`,
        );
      }
      if (input.shape[0]! < 1) throw new InvalidArgumentError('classify: the input tensor holds no images');
      await runBatch(input);
    } else {
      const images = Array.isArray(input) ? (input as readonly DecodedImage[]) : [input as DecodedImage];
      if (images.length === 0) throw new InvalidArgumentError('classify: no images');
      images.forEach(checkImage);
      for (let start = 0; start < images.length; start += batchSize) {
        const tp = performance.now();
        const x = this.preprocess(images.slice(start, start + batchSize));
        try {
          await this.engine.sync();
          preprocessMs += performance.now() - tp;
          await runBatch(x);
        } finally {
          x.dispose();
        }
      }
    }
    const totalMs = performance.now() - t0;
    const ms = totalMs / results.length;
    const run: ClassifyRun = { results: results.map((r) => ({ ...r, ms })), timing: { preprocessMs, forwardMs, totalMs } };
    if (profiler.enabled) run.layers = profiler.byLayer(forwardRecords);
    return run;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.backend.dispose();
  }
}
