/**
 * Ops take what TensorFlow.js users pass where a tensor is expected (nested arrays, TypedArrays,
 * numbers), with shapes inferred; anything else is an InvalidArgumentError naming the op and the
 * argument. Tensors' data() / array() read back like TF.js's. Results are checked against float64
 * CPU references on fresh random inputs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as api from '../src/index.js';
import { add, concatChannels, globalNorm, InvalidArgumentError, linear, matmul, mul, relu, scaledAddInPlace, Tensor } from '../src/index.js';
import type { Engine } from '../src/runtime/engine.js';
import { GUARDED_OP } from '../src/runtime/op-guard.js';
import { flattenTensorLike, nestArray, TENSOR_PARAMETERS, type NestedArray } from '../src/runtime/tensor-like.js';
import { testEngine } from './support/engine.js';
import { freshSeed, makeRng, randomArray, randomInt } from './support/random.js';

const seed = freshSeed();
const rng = makeRng(seed);
/** float32 results against float64 references: sums of at most a few dozen terms. */
const TOL = 1e-5;

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

function nested(values: ArrayLike<number>, shape: number[]): NestedArray {
  return nestArray(values, shape);
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!) / Math.max(1, Math.abs(want[i]!))).toBeLessThan(TOL);
}

// Untyped calls, for what TypeScript refuses (ragged data, strings, objects): what a JavaScript
// caller coming from TF.js may write. Valid data is passed typed: the op signatures accept it.
const anyOp = <F>(f: F): ((...args: unknown[]) => Tensor) => f as unknown as (...args: unknown[]) => Tensor;

describe(`tensor-like arguments (seed ${seed})`, () => {
  for (const shape of [[7], [3, 5], [2, 3, 5]]) {
    it(`add / mul take a nested array or TypedArray for ${JSON.stringify(shape)} beside a tensor`, async () => {
      const size = shape.reduce((a, b) => a * b, 1);
      const a = randomArray(rng, size);
      const b = randomArray(rng, size);
      const live = engine.liveTensors;
      const pooled = engine.memory().liveBuffers;
      const x = engine.tensor(a, shape);
      const flat = x.reshape([size]);
      const sum = add(x, nested(b, shape));
      const prod = mul(Float32Array.from(b), flat);
      expect(sum.shape).toEqual(shape);
      expectClose(
        await sum.read(),
        Array.from(a, (v, i) => v + b[i]!),
      );
      expectClose(
        await prod.read(),
        Array.from(a, (v, i) => v * b[i]!),
      );
      for (const t of [sum, prod, flat, x]) t.dispose();
      // The tensors made from data lived for the call only.
      expect(engine.liveTensors).toBe(live);
      expect(engine.memory().liveBuffers).toBe(pooled);
    });
  }

  it('matmul and linear take nested weights; the inferred shape is [rows, columns]', async () => {
    const [m, k, n] = [randomInt(rng, 2, 9), randomInt(rng, 2, 9), randomInt(rng, 2, 9)];
    const a = randomArray(rng, m * k);
    const w = randomArray(rng, k * n);
    const bias = randomArray(rng, n);
    const ref = new Float64Array(m * n);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) ref[i * n + j]! += a[i * k + p]! * w[p * n + j]!;
    const x = engine.tensor(a, [m, k]);
    const y = matmul(x, nested(w, [k, n]));
    expectClose(await y.read(), ref);
    const z = linear(x, nested(w, [k, n]), Array.from(bias));
    expectClose(
      await z.read(),
      Array.from(ref, (v, i) => v + bias[i % n]!),
    );
    for (const t of [x, y, z]) t.dispose();
  });

  it('a list-of-tensors argument takes data items too, leaving the caller’s array as it was', async () => {
    const x = engine.tensor(randomArray(rng, 6), [2, 3]);
    const extra = nested(randomArray(rng, 4), [2, 2]);
    const list = [x, extra];
    const y = concatChannels(list);
    expect(y.shape).toEqual([2, 5]);
    expect(list[1]).toBe(extra);
    const want = [...((await x.array()) as number[][]).map((row, i) => [...row, ...(extra as number[][])[i]!])].flat();
    expectClose(await y.read(), want);
    const norm = globalNorm([x, [3, 4]]);
    const xs = await x.read();
    expectClose(await norm.read(), [Math.sqrt(Array.from(xs).reduce((s, v) => s + v * v, 0) + 25)]);
    for (const t of [x, y, norm]) t.dispose();
  });

  it('an op that returns its input keeps the tensor made from data alive', async () => {
    const x = engine.tensor([1, 2, 3]);
    const y = scaledAddInPlace([10, 20, 30], x, 2);
    await expect(y.read()).resolves.toEqual(new Float32Array([12, 24, 36]));
    y.dispose();
    x.dispose();
  });

  it('refuses ragged arrays, non-numbers, objects and TF.js tensors, naming the op and the argument', () => {
    const x = engine.tensor([1, 2, 3, 4], [2, 2]);
    const live = engine.liveTensors;
    expect(() => anyOp(add)(x, [[1, 2], [3]])).toThrow(/^add: argument 'b' \(2nd\): ragged array: element \[1\] has length 1, its first sibling 2/);
    expect(() =>
      anyOp(add)(x, [
        [1, 2],
        [3, 'four'],
      ]),
    ).toThrow(/^add: argument 'b' \(2nd\): element \[1\]\[1\] is the string "four", expected a number/);
    expect(() => anyOp(add)(x, [[1, 2], 3])).toThrow(/^add: argument 'b' \(2nd\): element \[1\] is .*expected an array of length 2/);
    expect(() => anyOp(add)({ shape: [2, 2] }, x)).toThrow(/^add: argument 'a' \(1st\) is a plain object; expected an incept-gpu Tensor/);
    expect(() => anyOp(relu)('x')).toThrow(/^relu: argument 'x' \(1st\) is the string "x"/);
    expect(() => anyOp(matmul)(x, undefined)).toThrow(/^matmul: argument 'b' \(2nd\) is undefined/);
    const tfLike = { dataId: {}, shape: [2, 2], dtype: 'float32' };
    expect(() => anyOp(add)(x, tfLike)).toThrow(/^add: argument 'b' \(2nd\) is a TensorFlow\.js tensor \(float32\[2, 2\]\).*wrapGpuBuffer/);
    expect(() => anyOp(add)([1, 2], [3, 4])).toThrow(/^add: no argument is an incept-gpu Tensor, so there is no engine/);
    expect(() => anyOp(concatChannels)(x)).toThrow(/^concatChannels: argument 'inputs' \(1st\) is a Tensor; expected an array of tensors/);
    // Each refusal is an InvalidArgumentError and leaves nothing allocated behind.
    expect(() => anyOp(add)(x, [[1, 2], [3]])).toThrow(InvalidArgumentError);
    expect(engine.liveTensors).toBe(live);
    x.dispose();
  });

  it('engine.tensor infers shapes from nested arrays and checks a given one', async () => {
    const t = engine.tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(t.shape).toEqual([2, 3]);
    expect(engine.tensor(new Int32Array([1, 2])).dtype).toBe('i32');
    const s = engine.tensor(7);
    expect(s.shape).toEqual([]);
    await expect(s.array()).resolves.toBe(7);
    expect(() => engine.tensor([[1], [2, 3]])).toThrow(/^tensor: data: ragged array/);
    expect(() => engine.tensor([[1, 2]], [3])).toThrow(/data has 2 elements but shape \[3\] holds 3/);
    t.dispose();
    s.dispose();
  });
});

describe('data() and array()', () => {
  for (const shape of [[], [5], [2, 3], [2, 1, 3], [0, 4]]) {
    it(`array() nests by shape ${JSON.stringify(shape)}; data() is read()`, async () => {
      const size = shape.reduce((a, b) => a * b, 1);
      const values = randomArray(rng, size);
      const t = engine.tensor(values, shape);
      const data = await t.data();
      expect(data).toBeInstanceOf(Float32Array);
      expect(Array.from(data)).toEqual(Array.from(values));
      const arr = await t.array();
      // Round trip through the independent flattener: same shape, same values.
      const back = flattenTensorLike(arr, 'array()');
      expect(back.shape).toEqual(shape.length === 0 ? [] : shape[0] === 0 ? [0] : shape);
      expect(Array.from(back.values)).toEqual(Array.from(values));
      t.dispose();
    });
  }

  it('array() of an i32 tensor gives integers in rows', async () => {
    const t = engine.tensor(new Int32Array([1, -2, 3, -4, 5, -6]), [3, 2]);
    await expect(t.array()).resolves.toEqual([
      [1, -2],
      [3, -4],
      [5, -6],
    ]);
    t.dispose();
  });
});

describe('TENSOR_PARAMETERS', () => {
  it('lists every guarded op the package exports, under the name it reports', () => {
    const guarded = Object.entries(api).filter(([, v]) => typeof v === 'function' && (v as unknown as Record<symbol, unknown>)[GUARDED_OP] === true);
    expect(guarded.length).toBeGreaterThan(30);
    const missing = guarded.filter(([name, fn]) => !(name in TENSOR_PARAMETERS) || (fn as { name: string }).name !== name).map(([n]) => n);
    expect(missing).toEqual([]);
  });
});
