/**
 * The input convention (the normalisation a state dict does not record) as loadClassifier
 * chooses it: the default per architecture, the file's `incept.inputConvention` metadata, the
 * caller's `inputConvention` over the preset's normalisation, and the errors for an unknown one
 * or one given twice. The conventions' numbers, the `timm` preset's geometry and
 * `inputConventionOf` are checked against their definitions computed here in float64
 * ((x/255 − mean)/std for x in 0..255). Whether real torchvision and timm models agree is
 * test/torchvision-roundtrip.test.ts's job (PyTorch as the oracle); here the classifier's images
 * are compared with the CPU reference of its normalisation on an image the resize leaves alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { InceptionV3 } from '../src/models/inception-v3.js';
import { torchvisionStateDict } from '../src/models/inception-v3-weights.js';
import { encodeSafetensors, type SafetensorsInput } from '../src/io/safetensors.js';
import {
  IMAGENET_MEAN,
  IMAGENET_STD,
  INPUT_CONVENTIONS,
  inputConventionOf,
  PREPROCESS_PRESETS,
  preprocessGeometry,
  resolvePreprocess,
  type InputConvention,
} from '../src/io/preprocess.js';
import { ClassifierError, loadClassifier } from '../src/api/classifier.js';
import type { DecodedImage } from '../src/io/image.js';
import { testEngine } from './support/engine.js';
import { assertClose } from './support/compare.js';
import { freshSeed, makeRng } from './support/random.js';

const seed = freshSeed();
const MEANS: Record<InputConvention, readonly number[]> = { inception: [0.5, 0.5, 0.5], imagenet: [0.485, 0.456, 0.406] };
const STDS: Record<InputConvention, readonly number[]> = { inception: [0.5, 0.5, 0.5], imagenet: [0.229, 0.224, 0.225] };

let engine: Engine;
let dict: Map<string, SafetensorsInput>;
let imagenetDict: Map<string, SafetensorsInput>;
beforeAll(async () => {
  engine = await testEngine();
  const model = new InceptionV3(engine, { seed, variant: 'cifar10', width: 0.125, auxLogits: false });
  dict = await torchvisionStateDict(model);
  model.dispose();
  // The ImageNet architecture at a small width and input: the same default as full size.
  const imagenet = new InceptionV3(engine, { seed: seed + 1, width: 0.125, inputSize: 75, auxLogits: false });
  imagenetDict = await torchvisionStateDict(imagenet);
  imagenet.dispose();
});
afterAll(() => engine?.destroy());

/** The float64 reference of a convention on the pixels of `image`, NHWC. */
function reference(image: DecodedImage, convention: InputConvention): Float64Array {
  return Float64Array.from(image.data, (v, i) => (v / 255 - MEANS[convention][i % 3]!) / STDS[convention][i % 3]!);
}

describe(`input conventions (seed ${seed}; replay with TEST_SEED=${seed})`, () => {
  it('each convention is its mean and std of x/255; inputConventionOf names the presets; a convention option replaces the normalisation only', () => {
    for (const name of ['inception', 'imagenet'] as const) {
      expect([...INPUT_CONVENTIONS[name].mean]).toEqual(MEANS[name]);
      expect([...INPUT_CONVENTIONS[name].std]).toEqual(STDS[name]);
      const steps = resolvePreprocess({ preset: 'keras', convention: name });
      for (let c = 0; c < 3; c++)
        for (const x of [0, 1, 127, 128, 254, 255]) {
          const want = (x / 255 - MEANS[name][c]!) / STDS[name][c]!;
          expect(Math.abs(x * steps.scale[c]! + steps.bias[c]! - want)).toBeLessThan(1e-12);
        }
      expect(steps.resize).toBe('exact'); // keras's geometry kept
      expect(inputConventionOf(steps)).toBe(name);
    }
    expect([...IMAGENET_MEAN]).toEqual(MEANS.imagenet);
    expect([...IMAGENET_STD]).toEqual(STDS.imagenet);
    expect(inputConventionOf(PREPROCESS_PRESETS.torchvision)).toBe('imagenet');
    for (const p of ['keras', 'tf-slim', 'timm'] as const) expect(inputConventionOf(PREPROCESS_PRESETS[p]), p).toBe('inception');
    expect(inputConventionOf(resolvePreprocess({ mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] }))).toBe('custom');
    expect(() => resolvePreprocess({ convention: 'caffe' as InputConvention })).toThrow(/unknown convention "caffe"; the conventions are inception, imagenet/);
    expect(() => resolvePreprocess({ convention: 'inception', mean: [0, 0, 0] })).toThrow(/not more than one/);
    expect(() => resolvePreprocess({ preset: 'toString' as 'timm' })).toThrow(/unknown preset "toString"/);
  });

  it("the 'timm' preset: shorter side to ⌊size / 0.875⌋ (341 for 299) bicubic, torchvision's center crop, mean = std = 0.5", () => {
    const rng = makeRng(seed);
    const steps = resolvePreprocess('timm');
    expect(steps).toMatchObject({ height: 299, width: 299, resize: 'shorter-side', resizeSize: 341, antialias: true, filter: 'bicubic' });
    for (const size of [224, 299, 300, 331]) expect(resolvePreprocess({ preset: 'timm', size }).resizeSize).toBe(Math.floor(size / 0.875));
    expect(resolvePreprocess({ preset: 'torchvision', size: 299 }).resizeSize).toBe(342);
    for (let i = 0; i < 5; i++) {
      const width = 300 + Math.floor(rng() * 1000);
      const height = 300 + Math.floor(rng() * 1000);
      const g = preprocessGeometry(steps, { width, height });
      const short = Math.min(width, height);
      // torchvision's Resize(341): the longer side int(341 · long / short); CenterCrop: round((side − 299) / 2).
      const long = Math.trunc((341 * Math.max(width, height)) / short);
      expect([g.resized.height, g.resized.width]).toEqual(width <= height ? [long, 341] : [341, long]);
      expect(g.crop).toMatchObject({ height: 299, width: 299 });
    }
  });

  it('loadClassifier: the default per architecture and from metadata, inputConvention over it, each with its reason; images normalised accordingly', async () => {
    const rng = makeRng(seed + 2);
    // 32×32: the CIFAR variant's input, so the shorter-side resize (to 37) and crop are tested
    // elsewhere; with resizeSize 32 the resize is an identity and only the normalisation is left.
    const image: DecodedImage = { width: 32, height: 32, data: Uint8Array.from({ length: 32 * 32 * 3 }, () => Math.floor(rng() * 256)) };
    const check = async (bytes: Uint8Array, options: { inputConvention?: InputConvention }, want: InputConvention, reason: RegExp) => {
      const c = await loadClassifier(engine, { weights: bytes, preset: { resizeSize: 32 }, ...options });
      try {
        expect(c.inputConvention).toBe(want);
        expect(c.inputConventionReason).toMatch(reason);
        const x = c.preprocess([image]);
        try {
          assertClose((await x.read()) as Float32Array, reference(image, want), 1e-6, `${want}: the classifier's normalised image`);
        } finally {
          x.dispose();
        }
      } finally {
        c.dispose();
      }
    };
    const cifar = encodeSafetensors(dict, { 'incept.variant': 'cifar10' });
    await check(cifar, {}, 'imagenet', /default for the CIFAR-10 variant/);
    await check(cifar, { inputConvention: 'inception' }, 'inception', /^given as inputConvention$/);
    const tagged = encodeSafetensors(dict, { 'incept.variant': 'cifar10', 'incept.inputConvention': 'inception' });
    await check(tagged, {}, 'inception', /metadata incept\.inputConvention/);
    await check(tagged, { inputConvention: 'imagenet' }, 'imagenet', /^given/);

    const imagenet = await loadClassifier(engine, { weights: encodeSafetensors(imagenetDict) });
    try {
      expect(imagenet.inputConvention).toBe('inception');
      expect(imagenet.inputConventionReason).toMatch(/default for ImageNet Inception-v3.*transform_input=True/);
    } finally {
      imagenet.dispose();
    }
    // A preset named alone brings its own normalisation.
    const named = await loadClassifier(engine, { weights: encodeSafetensors(imagenetDict), preset: 'torchvision' });
    try {
      expect(named.inputConvention).toBe('imagenet');
      expect(named.inputConventionReason).toMatch(/'torchvision' preset's own normalisation/);
    } finally {
      named.dispose();
    }
  });

  it("a 1001-class head (timm's tf_in1k, TF-slim's background class 0): the ImageNet default convention, 1000 labels shifted by one", async () => {
    const model = new InceptionV3(engine, { seed: seed + 3, width: 0.125, numClasses: 1001, auxLogits: false });
    const bytes = encodeSafetensors(await torchvisionStateDict(model));
    model.dispose();
    const labels = Array.from({ length: 1000 }, (_, i) => `imagenet-${i}`);
    const c = await loadClassifier(engine, { weights: bytes, labels });
    try {
      expect(c.numClasses).toBe(1001);
      expect(c.inputConvention).toBe('inception');
      expect(c.labels?.slice(0, 3)).toEqual(['background', 'imagenet-0', 'imagenet-1']);
    } finally {
      c.dispose();
    }
  });

  it('an unknown convention, one given twice, or a bad metadata value is a ClassifierError naming it', async () => {
    const bytes = encodeSafetensors(dict);
    await expect(loadClassifier(engine, { weights: bytes, inputConvention: 'caffe' as InputConvention })).rejects.toThrow(
      /unknown inputConvention "caffe"; the conventions are inception, imagenet/,
    );
    await expect(loadClassifier(engine, { weights: bytes, inputConvention: 'inception', preset: { mean: [0, 0, 0] } })).rejects.toThrow(
      /inputConvention and a preset with its own normalisation/,
    );
    const bad = loadClassifier(engine, { weights: encodeSafetensors(dict, { 'incept.inputConvention': 'bgr' }), source: 'tagged.safetensors' });
    await expect(bad).rejects.toThrow(ClassifierError);
    await expect(bad).rejects.toThrow(/tagged\.safetensors: metadata incept\.inputConvention = "bgr"; expected inception or imagenet/);
  });
});
