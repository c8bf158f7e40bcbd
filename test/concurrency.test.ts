/**
 * The engine under the way a service uses it: uploads issued while an earlier batch is being
 * submitted, overlapping classify() calls on one classifier, interleaved async scopes, ops that
 * fail outside any scope, and tensors used after their engine is gone. Every expectation here is
 * against a sequential run or a host computation, bit for bit; nothing depends on timing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { createEngine } from '../src/runtime/engine.js';
import type { Tensor } from '../src/runtime/tensor.js';
import { createScopeStack, type ScopeStack } from '../src/runtime/scope-stack.js';
import { add, relu } from '../src/index.js';
import { InceptionV3 } from '../src/models/inception-v3.js';
import { torchvisionStateDict } from '../src/models/inception-v3-weights.js';
import { encodeSafetensors } from '../src/io/safetensors.js';
import { exportInceptionV3Onnx } from '../src/io/onnx/index.js';
import { loadClassifier, type Classification, type Classifier } from '../src/api/classifier.js';
import type { DecodedImage } from '../src/io/image.js';
import { testEngine } from './support/engine.js';
import { freshSeed, makeRng, type Rng } from './support/random.js';
import { publish, saveArtifacts, setRandomWeights, tf, tfReady } from './support/tfjs-models.js';

const seed = freshSeed();
const replay = `(seed ${seed}; replay with TEST_SEED=${seed})`;

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

/** A classification without its timing, for bit-exact comparison. */
const key = (r: Classification | Classification[]) =>
  JSON.stringify((Array.isArray(r) ? r : [r]).map((x) => ({ top: x.top, outputs: Array.from(x.outputs ?? []) })));

function randomImage(rng: Rng, width: number, height: number): DecodedImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(rng() * 256);
  return { width, height, data };
}

describe(`uploads never overtake recorded work ${replay}`, () => {
  it('an upload into a pooled buffer freed by recorded work waits for that work (the read sees the old values)', async () => {
    for (let round = 0; round < 20; round++) {
      const a = engine.tensor([1, -2, 3, -4]);
      const y = relu(a);
      a.dispose();
      const p = y.read(); // its flush is under way when the next line runs
      const b = engine.tensor([-9, -9, -9, -9]); // takes a's pooled buffer
      expect(Array.from(await p), `round ${round}`).toEqual([1, 0, 3, 0]);
      expect(Array.from(await b.read())).toEqual([-9, -9, -9, -9]);
      y.dispose();
      b.dispose();
    }
  });

  it('engine.write into a buffer that an unsubmitted batch reads lands after that read', async () => {
    const x = engine.tensor([5, 6, 7]);
    const y = add(x, x);
    const p = y.read();
    engine.write(x, [0, 0, 0]);
    expect(Array.from(await p)).toEqual([10, 12, 14]);
    expect(Array.from(await x.read())).toEqual([0, 0, 0]);
    x.dispose();
    y.dispose();
  });

  it('a soak of overlapping uploads, ops, reads and disposes matches host arithmetic exactly', async () => {
    const rng = makeRng(seed + 1);
    const rounds = 60;
    for (let round = 0; round < rounds; round++) {
      const jobs: Promise<void>[] = [];
      const width = 1 + Math.floor(rng() * 5);
      for (let j = 0; j < width; j++) {
        const n = 1 + Math.floor(rng() * 300);
        const hostA = Float32Array.from({ length: n }, () => Math.round((rng() - 0.5) * 64));
        const hostB = Float32Array.from({ length: n }, () => Math.round((rng() - 0.5) * 64));
        jobs.push(
          (async () => {
            const a = engine.tensor(hostA);
            const b = engine.tensor(hostB);
            const s = add(a, b);
            a.dispose();
            const r = relu(s);
            if (rng() < 0.5) s.dispose();
            const got = await r.read();
            b.dispose();
            s.dispose();
            r.dispose();
            const want = hostA.map((v, i) => Math.max(0, v + hostB[i]!));
            expect(Array.from(got), `round ${round} job ${j}`).toEqual(Array.from(want));
          })(),
        );
      }
      await Promise.all(jobs);
    }
  });
});

describe(`concurrent classify() returns the sequential results bit for bit ${replay}`, () => {
  let model: InceptionV3;
  const classifiers: { name: string; c: Classifier }[] = [];
  beforeAll(async () => {
    model = new InceptionV3(engine, { seed, variant: 'cifar10', width: 0.125, numClasses: 10 });
    await model.calibrate(engine.randomNormal([4, 32, 32, 3], { seed: seed + 2 }));
    const bytes = encodeSafetensors(await torchvisionStateDict(model));
    classifiers.push({ name: 'torchvision', c: await loadClassifier(engine, { weights: bytes }) });
    const onnx = await exportInceptionV3Onnx(model);
    classifiers.push({ name: 'onnx', c: await loadClassifier(engine, { weights: { name: 'model.onnx', bytes: onnx } }) });
    await tfReady();
    const L = tf.layers;
    const input = tf.input({ shape: [20, 20, 3], name: 'image' });
    let y = L.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'conv' }).apply(input) as ReturnType<typeof tf.input>;
    y = L.globalAveragePooling2d({ name: 'pool' }).apply(y) as ReturnType<typeof tf.input>;
    y = L.dense({ units: 7, name: 'head' }).apply(y) as ReturnType<typeof tf.input>;
    const keras = tf.model({ inputs: input, outputs: y });
    setRandomWeights(keras, makeRng(seed + 3));
    const published = publish(await saveArtifacts(keras));
    const files = [
      { name: 'model.json', bytes: new TextEncoder().encode(JSON.stringify(published.modelJson)) },
      ...[...published.shards].map(([name, bytes]) => ({ name, bytes })),
    ];
    classifiers.push({ name: 'tfjs', c: await loadClassifier(engine, { weights: files }) });
  });
  afterAll(() => {
    for (const { c } of classifiers) c.dispose();
    model?.dispose();
  });

  for (const format of ['torchvision', 'onnx', 'tfjs']) {
    it(`${format}: six overlapping calls (single images, image lists, tensors)`, async () => {
      const { c } = classifiers.find((x) => x.name === format)!;
      const rng = makeRng(seed + 4);
      const [h, w, ch] = c.inputShape;
      const images = Array.from({ length: 6 }, (_, i) => randomImage(rng, w + 3 * i, h + 5 * i));
      const tensors = [0, 1].map((i) => engine.randomNormal([1 + i, h, w, ch], { seed: seed + 10 + i }));
      const calls: (() => Promise<Classification | Classification[]>)[] = [
        () => c.classify(images[0]!, { scores: true }),
        () => c.classify(tensors[0]!, { scores: true }),
        () => c.classify([images[1]!, images[2]!], { scores: true }),
        () => c.classify(images[3]!, { scores: true }),
        () => c.classify(tensors[1]!, { scores: true }),
        () => c.classify([images[4]!, images[5]!, images[0]!], { scores: true, batchSize: 2 }),
      ];
      try {
        const sequential: string[] = [];
        for (const call of calls) sequential.push(key(await call()));
        for (let round = 0; round < 3; round++) {
          const concurrent = (await Promise.all(calls.map((call) => call()))).map(key);
          concurrent.forEach((k, i) => expect(k, `round ${round}, call ${i}`).toBe(sequential[i]));
        }
      } finally {
        for (const t of tensors) t.dispose();
      }
    });
  }
});

describe(`a soak: classify, uploads, ops, reads and disposes all overlapping ${replay}`, () => {
  it('twelve rounds of random mixes match the sequential results and host arithmetic exactly', async () => {
    const model = new InceptionV3(engine, { seed: seed + 20, variant: 'cifar10', width: 0.125, numClasses: 10 });
    const rng = makeRng(seed + 21);
    try {
      await model.calibrate(engine.randomNormal([4, 32, 32, 3], { seed: seed + 22 }));
      const c = await loadClassifier(engine, { weights: encodeSafetensors(await torchvisionStateDict(model)) });
      try {
        const images = Array.from({ length: 5 }, (_, i) => randomImage(rng, 32 + 7 * i, 40 - 3 * i));
        const sequential: string[] = [];
        for (const image of images) sequential.push(key(await c.classify(image, { scores: true })));
        const liveBefore = engine.liveTensors;
        for (let round = 0; round < 12; round++) {
          const jobs: Promise<void>[] = [];
          const count = 3 + Math.floor(rng() * 5);
          for (let j = 0; j < count; j++) {
            if (rng() < 0.5) {
              const i = Math.floor(rng() * images.length);
              jobs.push(c.classify(images[i]!, { scores: true }).then((r) => expect(key(r), `round ${round}: image ${i}`).toBe(sequential[i])));
            } else {
              const host = Float32Array.from({ length: 1 + Math.floor(rng() * 2000) }, () => Math.round((rng() - 0.5) * 100));
              jobs.push(
                (async () => {
                  const t = engine.tensor(host);
                  const r = relu(t);
                  t.dispose();
                  const got = await r.read();
                  r.dispose();
                  expect(Array.from(got), `round ${round}: relu of ${host.length} values`).toEqual(Array.from(host, (v) => Math.max(0, v)));
                })(),
              );
            }
          }
          await Promise.all(jobs);
        }
        expect(engine.liveTensors, 'every tensor of the soak was released').toBe(liveBefore);
      } finally {
        c.dispose();
      }
    } finally {
      model.dispose();
    }
  });
});

describe('async scopes', () => {
  it('interleaved async scopes keep what each returns and dispose only their own temporaries', async () => {
    const before = engine.liveTensors;
    const tick = () => new Promise<void>((r) => setTimeout(r, 1));
    const body = (v: number) =>
      engine.scope(async () => {
        const a = engine.tensor([v, -v]);
        await tick();
        const b = relu(a);
        await tick();
        const c = add(b, a);
        await tick();
        return c;
      });
    const results = await Promise.all([body(1), body(2), body(3), body(4)]);
    for (const [i, t] of results.entries()) {
      expect(t.isDisposed).toBe(false);
      expect(Array.from(await t.read())).toEqual([2 * (i + 1), -(i + 1)]);
    }
    expect(engine.liveTensors).toBe(before + 4);
    for (const t of results) t.dispose();
    expect(engine.liveTensors).toBe(before);
  });

  it('a scope nested in an async scope hands what it keeps to its own parent, not to another call', async () => {
    const before = engine.liveTensors;
    const tick = () => new Promise<void>((r) => setTimeout(r, 1));
    let inner1: Tensor | undefined;
    const outer = engine.scope(async () => {
      await tick();
      inner1 = engine.scope(() => engine.tensor([1]));
      await tick();
      return engine.tensor([2]);
    });
    const other = engine.scope(async () => {
      await tick();
      const t = engine.tensor([3]);
      await tick();
      return t;
    });
    const [kept, kept2] = await Promise.all([outer, other]);
    expect(inner1!.isDisposed).toBe(true); // a temporary of the outer scope
    expect(kept.isDisposed).toBe(false);
    expect(kept2.isDisposed).toBe(false);
    kept.dispose();
    kept2.dispose();
    expect(engine.liveTensors).toBe(before);
  });
});

describe('async scopes without async context tracking (what a browser has)', () => {
  it('sequential and nested async scopes work; overlapping ones are detected and refused with a clear error', async () => {
    const e = await testEngine();
    (e as unknown as { scopeStack: ScopeStack }).scopeStack = createScopeStack({ asyncContext: false });
    try {
      const tick = () => new Promise<void>((r) => setTimeout(r, 1));
      const one = await e.scope(async () => {
        await tick();
        const inner = await e.scope(async () => {
          await tick();
          return relu(e.tensor([-1, 2]));
        });
        return add(inner, inner);
      });
      expect(Array.from(await one.read())).toEqual([0, 4]);
      expect(e.liveTensors).toBe(1);
      one.dispose();
      const body = () =>
        e.scope(async () => {
          const t = e.tensor([1]);
          await tick();
          return t;
        });
      const outcomes = await Promise.allSettled([body(), body()]);
      const refused = outcomes.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason));
      expect(refused).toHaveLength(1);
      expect(refused[0]).toMatch(/engine\.scope: two async scopes overlapped.*Await each async scope before starting the next/s);
    } finally {
      e.destroy();
    }
  });
});

describe('failures release what they allocated', () => {
  it('a failing op outside any scope frees its output, and the error names the op, the tensor and the limit', async () => {
    const limit = engine.limits.maxStorageBufferBindingSize;
    if (limit >= engine.limits.maxBufferSize)
      throw new Error(`this test needs maxStorageBufferBindingSize (${limit}) below maxBufferSize (${engine.limits.maxBufferSize})`);
    const n = limit / 4 + 64;
    const x = engine.zeros([n]);
    const start = engine.memory();
    for (let i = 0; i < 3; i++) {
      let message = '';
      try {
        relu(x);
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(
        new RegExp(`^relu \\(kernel elementwise\\.wgsl:relu\\): tensor .*f32\\[${n}\\].*maxStorageBufferBindingSize is ${limit} bytes.*smaller pieces`),
      );
      expect(message, 'no WGSL dump').not.toMatch(/@group|@binding/);
    }
    const end = engine.memory();
    expect(end.liveBytes).toBe(start.liveBytes);
    expect(end.liveBuffers).toBe(start.liveBuffers);
    x.dispose();
    engine.pool.trim();
  });

  it('a tensor used after engine.destroy() gives an error naming the tensor and the destroyed engine', async () => {
    const e = await createEngine();
    const t = e.tensor([1, 2, 3]);
    t.label = 'weights';
    e.destroy();
    await expect(t.read()).rejects.toThrow(/tensor 'weights' f32\[3\].*engine was destroyed/);
    expect(() => relu(t)).toThrow(/tensor 'weights' f32\[3\].*engine was destroyed/);
    expect(() => e.tensor([1])).toThrow(/engine was destroyed/);
  });
});
