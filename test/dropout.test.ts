/** Dropout on Philox4x32-10: the generator against Random123's known answers and bit for bit
 * against the JavaScript reference; masks, scaling, reproducibility, backward, views, errors. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { dropout, philox4x32 } from '../src/ops/dropout.js';
import { dropoutBackward } from '../src/ops/dropout-backward.js';
import { InvalidArgumentError } from '../src/runtime/errors.js';
import type { Shape } from '../src/runtime/tensor.js';
import { dropoutMaskRef, dropoutRef, mulhi32, mulhi32BigInt, philox4x32_10, splitWords } from './reference/dropout.js';
import { assertClose } from './support/compare.js';
import { testEngine } from './support/engine.js';
import { freshSeed, makeRng, randomArray, type Rng } from './support/random.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const hex = (words: ArrayLike<number>) => Array.from(words, (w) => (w >>> 0).toString(16).padStart(8, '0')).join(' ');

/** Random123's kat_vectors for philox4x32 with 10 rounds: counter, key, expected output. */
const KNOWN_ANSWERS: { counter: number[]; key: number[]; expected: string }[] = [
  { counter: [0, 0, 0, 0], key: [0, 0], expected: '6627e8d5 e169c58d bc57ac4c 9b00dbd8' },
  { counter: [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], key: [0xffffffff, 0xffffffff], expected: '408f276d 41c83b0e a20bc7c6 6d5451fd' },
  { counter: [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], key: [0xa4093822, 0x299f31d0], expected: 'd16cfe09 94fdcceb 5001e420 24126ea1' },
];

const randomWord = (rng: Rng) => Math.floor(rng() * 2 ** 32) >>> 0;
const size = (shape: Shape) => shape.reduce((a, b) => a * b, 1);

describe('Philox4x32-10', () => {
  it('the JavaScript reference reproduces the published known-answer vectors', () => {
    for (const k of KNOWN_ANSWERS) expect(hex(philox4x32_10(k.counter, k.key))).toBe(k.expected);
  });

  const seed = freshSeed();
  it(`the 16-bit-split high word equals BigInt's on random and extreme words (seed ${seed})`, () => {
    const rng = makeRng(seed);
    const extremes = [0, 1, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
    const pairs: [number, number][] = [];
    for (const a of extremes) for (const b of extremes) pairs.push([a, b]);
    for (let i = 0; i < 20000; i++) pairs.push([randomWord(rng), randomWord(rng)]);
    const bad = pairs.filter(([a, b]) => mulhi32(a, b) !== mulhi32BigInt(a, b));
    expect(bad).toEqual([]);
  });

  it(`WGSL equals the reference bit for bit on the known answers and 4000 random counters and keys (seed ${seed})`, async () => {
    const rng = makeRng(seed ^ 0x5bd1e995);
    const counters: number[][] = KNOWN_ANSWERS.map((k) => k.counter);
    const keys: number[][] = KNOWN_ANSWERS.map((k) => k.key);
    for (let i = 0; i < 4000; i++) {
      // Some counters differ from their neighbour in one word only, as dropout's do.
      counters.push(i % 4 === 0 ? [i, 7, 0, 0] : [randomWord(rng), randomWord(rng), randomWord(rng), randomWord(rng)]);
      keys.push([randomWord(rng), randomWord(rng)]);
    }
    const n = counters.length;
    const got = await engine
      .scope(() => {
        const c = engine.tensor(new Uint32Array(counters.flat()), [n, 4]);
        const k = engine.tensor(new Uint32Array(keys.flat()), [n, 2]);
        return philox4x32(c, k);
      })
      .read();
    for (let i = 0; i < KNOWN_ANSWERS.length; i++) expect(hex(got.subarray(4 * i, 4 * i + 4))).toBe(KNOWN_ANSWERS[i]!.expected);
    let mismatches = 0;
    let first = '';
    for (let i = 0; i < n; i++) {
      const want = hex(philox4x32_10(counters[i]!, keys[i]!));
      const have = hex(got.subarray(4 * i, 4 * i + 4));
      if (want !== have && mismatches++ === 0) first = `counter ${hex(counters[i]!)} key ${hex(keys[i]!)}: GPU ${have}, reference ${want}`;
    }
    expect(mismatches, first).toBe(0);
  });
});

describe('dropout forward', () => {
  const seed = freshSeed();
  const shapes: Shape[] = [[1], [3], [5, 7], [2, 9, 7, 5], [4099], [3, 17, 17, 13]];

  it(`matches the reference mask element for element; kept elements are x · f32(1/(1−rate)) exactly (seed ${seed})`, async () => {
    const rng = makeRng(seed);
    for (const shape of shapes) {
      for (const rate of [0.1, 0.5, 0.875]) {
        const x = randomArray(rng, size(shape), -2, 2);
        const dropSeed = Math.floor(rng() * 2 ** 53);
        const offset = Math.floor(rng() * 2 ** 40);
        const y = await engine.scope(() => dropout(engine.tensor(x, shape), { rate, seed: dropSeed, offset })).read();
        const mask = dropoutMaskRef(x.length, rate, dropSeed, offset);
        const scale = Math.fround(1 / (1 - rate));
        for (let i = 0; i < x.length; i++) {
          const want = mask[i] ? Math.fround(x[i]! * scale) : 0;
          if (y[i] !== want)
            throw new Error(`shape [${shape}] rate ${rate} seed ${dropSeed} offset ${offset}: y[${i}] = ${y[i]}, want ${want} (x ${x[i]}, mask ${mask[i]})`);
        }
        assertClose(y, dropoutRef(x, rate, dropSeed, offset), 1e-6, `dropout [${shape}] rate ${rate} vs float64`);
      }
    }
  });

  for (const rate of [0.2, 0.5]) {
    it(`drops a fraction within 4 standard deviations of rate ${rate} over 10^5 elements (seed ${seed})`, async () => {
      const n = 100_000;
      const dropSeed = Math.floor(makeRng(seed + rate * 10)() * 2 ** 32);
      const y = await engine.scope(() => dropout(engine.tensor(new Float32Array(n).fill(1)), { rate, seed: dropSeed })).read();
      const dropped = y.reduce((s, v) => s + (v === 0 ? 1 : 0), 0);
      const sigma = Math.sqrt(n * rate * (1 - rate));
      expect(Math.abs(dropped - n * rate)).toBeLessThanOrEqual(4 * sigma);
      // Every element is either dropped or exactly 1/(1 − rate).
      expect(y.every((v) => v === 0 || v === Math.fround(1 / (1 - rate)))).toBe(true);
    });
  }

  it(`same seed gives the same output; another seed or another offset gives another mask (seed ${seed})`, async () => {
    const rng = makeRng(seed + 1);
    const x = randomArray(rng, 5003, 0.5, 1.5);
    const dropSeed = Math.floor(rng() * 2 ** 31);
    const [a, b, otherSeed, otherOffset, bigSeed] = await engine.scope(async () => {
      const xt = engine.tensor(x, [5003]);
      const runs = [
        dropout(xt, { rate: 0.3, seed: dropSeed }),
        dropout(xt, { rate: 0.3, seed: dropSeed, offset: 0 }),
        dropout(xt, { rate: 0.3, seed: dropSeed + 1 }),
        dropout(xt, { rate: 0.3, seed: dropSeed, offset: 1 }),
        dropout(xt, { rate: 0.3, seed: dropSeed + 2 ** 32 }),
      ];
      return Promise.all(runs.map((t) => t.read()));
    });
    const maskOf = (y: Float32Array) => Array.from(y, (v) => (v === 0 ? 0 : 1));
    expect(Array.from(b!)).toEqual(Array.from(a!));
    const differing = (p: number[], q: number[]) => p.reduce((s, v, i) => s + (v !== q[i] ? 1 : 0), 0);
    // Independent masks at rate 0.3 disagree on 2·0.3·0.7 = 42% of elements.
    for (const other of [otherSeed!, otherOffset!, bigSeed!]) expect(differing(maskOf(a!), maskOf(other))).toBeGreaterThan(0.3 * x.length);
    // The seed's high word reaches the key: seed + 2^32 is its own mask, as the reference says.
    expect(maskOf(bigSeed!)).toEqual(Array.from(dropoutMaskRef(x.length, 0.3, dropSeed + 2 ** 32, 0)));
    expect(splitWords(dropSeed + 2 ** 32)).toEqual([dropSeed, 1]);
  });

  it(`rate 0 and training: false copy the input into a new tensor (seed ${seed})`, async () => {
    const rng = makeRng(seed + 2);
    const x = randomArray(rng, 2 * 5 * 3 * 7);
    await engine.scope(async () => {
      const xt = engine.tensor(x, [2, 5, 3, 7]);
      const rate0 = dropout(xt, { rate: 0, seed: 3 });
      const inference = dropout(xt, { rate: 0.5, seed: 3, training: false });
      expect(rate0).not.toBe(xt);
      expect(inference).not.toBe(xt);
      expect(rate0.shape).toEqual([2, 5, 3, 7]);
      expect(Array.from(await rate0.read())).toEqual(Array.from(x));
      expect(Array.from(await inference.read())).toEqual(Array.from(x));
      expect(Array.from(await dropoutBackward(xt, { rate: 0, seed: 3 }).read())).toEqual(Array.from(x));
    });
  });

  it(`writes into a channel view and leaves the other channels as they were (seed ${seed})`, async () => {
    const rng = makeRng(seed + 3);
    const [n, h, w, c, cTotal, at] = [2, 5, 3, 7, 19, 6];
    const x = randomArray(rng, n * h * w * c);
    const before = randomArray(rng, n * h * w * cTotal);
    for (const training of [true, false]) {
      const after = await engine.scope(async () => {
        const big = engine.tensor(before, [n, h, w, cTotal]);
        const view = big.channelView(at, c);
        const y = dropout(engine.tensor(x, [n, h, w, c]), { rate: 0.4, seed: 99, offset: 5, training, out: view });
        expect(y).toBe(view);
        return big.read();
      });
      const ref = training ? dropoutRef(x, 0.4, 99, 5) : Float64Array.from(x);
      const got = new Float32Array(x.length);
      for (let p = 0; p < n * h * w; p++) {
        for (let ch = 0; ch < cTotal; ch++) {
          const i = p * cTotal + ch;
          if (ch >= at && ch < at + c) got[p * c + ch - at] = after[i]!;
          else expect(after[i]).toBe(before[i]);
        }
      }
      assertClose(got, ref, 1e-6, `dropout into channels ${at}..${at + c - 1} of ${cTotal} (training ${training})`);
    }
  });
});

describe('dropout backward', () => {
  const seed = freshSeed();
  it(`regenerates the forward mask: dx = dy · mask / (1 − rate), mask read off the forward y / x (seed ${seed})`, async () => {
    const rng = makeRng(seed);
    for (const [shape, rate, offset] of [
      [[4, 9, 9, 6], 0.25, 0],
      [[1001], 0.5, 12345],
      [[13, 17], 0.9, 2 ** 35 + 3],
    ] as [Shape, number, number][]) {
      const n = size(shape);
      // x never 0, so y = 0 exactly where the mask dropped. Sizes keep "all dropped" (0.9^221) and
      // "none dropped" out of reach, so the two bounds below cannot flake.
      const x = randomArray(rng, n, 0.5, 1.5);
      const dy = randomArray(rng, n, -1, 1);
      const dropSeed = Math.floor(rng() * 2 ** 53);
      const [y, dx] = await engine.scope(async () => {
        const yt = dropout(engine.tensor(x, shape), { rate, seed: dropSeed, offset });
        const dxt = dropoutBackward(engine.tensor(dy, shape), { rate, seed: dropSeed, offset });
        expect(dxt.shape).toEqual(shape);
        return Promise.all([yt.read(), dxt.read()]);
      });
      const scale = Math.fround(1 / (1 - rate));
      let kept = 0;
      for (let i = 0; i < n; i++) {
        const keep = y![i]! / x[i]! !== 0;
        kept += keep ? 1 : 0;
        expect(dx![i]).toBe(keep ? Math.fround(dy[i]! * scale) : 0);
      }
      expect(kept).toBeGreaterThan(0);
      expect(kept).toBeLessThan(n);
    }
  });
});

describe('dropout argument checks', () => {
  it('rejects a rate outside [0, 1), naming the op and the argument', () => {
    engine.scope(() => {
      const x = engine.zeros([4]);
      for (const rate of [1, 1.5, -0.1, NaN, Infinity]) {
        expect(() => dropout(x, { rate, seed: 1 })).toThrow(InvalidArgumentError);
        expect(() => dropout(x, { rate, seed: 1 })).toThrow(/dropout: rate must be a number in \[0, 1\)/);
        expect(() => dropoutBackward(x, { rate, seed: 1 })).toThrow(/dropoutBackward: rate/);
      }
    });
  });
  it('rejects a seed or offset that is not an integer in [0, 2^53]', () => {
    engine.scope(() => {
      const x = engine.zeros([4]);
      for (const seed of [-1, 0.5, 2 ** 53 + 2, NaN]) {
        expect(() => dropout(x, { rate: 0.5, seed })).toThrow(/dropout: seed must be an integer in \[0, 2\^53\]/);
        expect(() => dropoutBackward(x, { rate: 0.5, seed })).toThrow(/dropoutBackward: seed/);
      }
      expect(() => dropout(x, { rate: 0.5, seed: 1, offset: -3 })).toThrow(/dropout: offset must be an integer/);
      expect(() => dropout(x, { rate: 0.5, seed: 1, offset: 1.25 })).toThrow(InvalidArgumentError);
      expect(() => dropout(x, { rate: 0.5, seed: 2 ** 53 })).not.toThrow();
    });
  });
  it('rejects non-f32 inputs and an out of the wrong shape', () => {
    engine.scope(() => {
      const xi = engine.tensor(new Int32Array([1, 2, 3, 4]));
      expect(() => dropout(xi, { rate: 0.5, seed: 1 })).toThrow(/dropout: x must be f32/);
      expect(() => dropoutBackward(xi, { rate: 0.5, seed: 1 })).toThrow(/dropoutBackward: dy must be f32/);
      expect(() => dropout(engine.zeros([4]), { rate: 0.5, seed: 1, out: engine.zeros([5]) })).toThrow(/dropout: out must have the result's shape \[4\]/);
    });
  });
  it('philox4x32 rejects counters and keys of the wrong shape', () => {
    engine.scope(() => {
      const c = engine.zeros([3, 4], 'u32');
      expect(() => philox4x32(engine.zeros([3, 3], 'u32'), engine.zeros([3, 2], 'u32'))).toThrow(/counters must be u32\[n, 4\]/);
      expect(() => philox4x32(c, engine.zeros([2, 2], 'u32'))).toThrow(/keys must be u32\[3, 2\]/);
      expect(() => philox4x32(engine.zeros([3, 4]), engine.zeros([3, 2], 'u32'))).toThrow(/counters must be u32/);
    });
  });
});
