/**
 * Concatenation along channels: producers writing straight into channel views of one buffer
 * (no copy), checked against float64 references, with memory statistics proving the concat
 * allocates nothing; the copy kernel for the general case; and the refusals that keep views safe.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { conv2d, CONV2D_VARIANTS, conv2dVariantRefusal, type Conv2dVariant } from '../src/ops/conv2d.js';
import { convGeometry } from '../src/ops/conv2d-geometry.js';
import { channelSlices, concatChannels, sliceChannels } from '../src/ops/concat.js';
import { matmul } from '../src/ops/matmul.js';
import { add, mul, relu, scaleShift } from '../src/ops/elementwise.js';
import { KernelBindingError } from '../src/runtime/errors.js';
import { testEngine } from './support/engine.js';
import { assertClose } from './support/compare.js';
import { freshSeed, makeRng, randomArray } from './support/random.js';
import { conv2dRef } from './reference/conv2d.js';
import { matmulRef } from './reference/matmul.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => engine?.destroy());

const seed = freshSeed();
const rng = makeRng(seed);

/** Channels c0..c0+c−1 of every row of an NHWC array with `total` channels. */
function channelsOf(all: ArrayLike<number>, total: number, c0: number, c: number): Float64Array {
  const rows = all.length / total;
  const out = new Float64Array(rows * c);
  for (let r = 0; r < rows; r++) for (let j = 0; j < c; j++) out[r * c + j] = all[r * total + c0 + j]!;
  return out;
}

interface Branch {
  kh: number;
  kw: number;
  cout: number;
  pad: [number, number, number, number];
}

describe(`concat along channels (seed ${seed})`, () => {
  it('an Inception-module-shaped graph fills one buffer through views; the concat allocates nothing', async () => {
    // Input 9×9×12; branches 1×1→8, 3×3 'same'→12, 1×3 'same'→16, 3×1 'same'→6 (odd widths and
    // offsets too: 8+12+16+6 = 42 channels, offsets 0, 8, 20, 36).
    const [n, h, w, cin] = [2, 9, 9, 12];
    const branches: Branch[] = [
      { kh: 1, kw: 1, cout: 8, pad: [0, 0, 0, 0] },
      { kh: 3, kw: 3, cout: 12, pad: [1, 1, 1, 1] },
      { kh: 1, kw: 3, cout: 16, pad: [0, 0, 1, 1] },
      { kh: 3, kw: 1, cout: 6, pad: [1, 1, 0, 0] },
    ];
    const total = branches.reduce((s, b) => s + b.cout, 0);
    const xHost = randomArray(rng, n * h * w * cin);
    const wHosts = branches.map((b) => randomArray(rng, b.kh * b.kw * cin * b.cout));
    await engine.scope(async () => {
      const x = engine.tensor(xHost, [n, h, w, cin]);
      const ws = branches.map((b, i) => engine.tensor(wHosts[i]!, [b.kh, b.kw, cin, b.cout]));
      const out = engine.empty([n, h, w, total]);
      const slices = channelSlices(
        out,
        branches.map((b) => b.cout),
      );
      await engine.sync();
      const before = engine.memory();
      branches.forEach((b, i) => conv2d(x, ws[i]!, { padding: b.pad, out: slices[i]! }));
      await engine.sync();
      const after = engine.memory();
      expect(after.liveBytes - before.liveBytes).toBe(0);
      expect(after.created - before.created).toBe(0);
      expect(after.liveBuffers).toBe(before.liveBuffers);

      const got = await out.read();
      let offset = 0;
      branches.forEach((b, i) => {
        const ref = conv2dRef(xHost, [n, h, w, cin], wHosts[i]!, [b.kh, b.kw, cin, b.cout], {
          strideH: 1,
          strideW: 1,
          padTop: b.pad[0],
          padBottom: b.pad[1],
          padLeft: b.pad[2],
          padRight: b.pad[3],
        });
        assertClose(channelsOf(got, total, offset, b.cout), ref.out, 1e-4, `branch ${i} (${b.kh}×${b.kw} → channels ${offset}..${offset + b.cout - 1})`);
        offset += b.cout;
      });
      // Reading a view gives just its channels.
      const third = await slices[2]!.read();
      expect(Array.from(third)).toEqual(Array.from(channelsOf(got, total, 20, 16)));
    });
  });

  it('every conv variant writes exactly its channel slice (aligned view) and leaves the rest', async () => {
    const [n, h, w, cin, cout, total, offset] = [1, 7, 6, 8, 12, 24, 8];
    const xHost = randomArray(rng, n * h * w * cin);
    const shapes: { kh: number; kw: number; pad: [number, number, number, number] }[] = [
      { kh: 3, kw: 3, pad: [1, 1, 1, 1] },
      { kh: 1, kw: 3, pad: [0, 0, 1, 1] },
      { kh: 1, kw: 1, pad: [0, 0, 0, 0] },
    ];
    for (const s of shapes) {
      const wHost = randomArray(rng, s.kh * s.kw * cin * cout);
      const ref = conv2dRef(xHost, [n, h, w, cin], wHost, [s.kh, s.kw, cin, cout], {
        strideH: 1,
        strideW: 1,
        padTop: s.pad[0],
        padBottom: s.pad[1],
        padLeft: s.pad[2],
        padRight: s.pad[3],
      });
      const g = convGeometry('test', [n, h, w, cin], [s.kh, s.kw, cin, cout], 1, s.pad);
      for (const v of CONV2D_VARIANTS) {
        await engine.scope(async () => {
          const big = engine.zeros([n, h, w, total]);
          const view = big.channelView(offset, cout);
          if (conv2dVariantRefusal(v as Conv2dVariant, g, engine, view)) return;
          conv2d(engine.tensor(xHost, [n, h, w, cin]), engine.tensor(wHost, [s.kh, s.kw, cin, cout]), { padding: s.pad, variant: v, out: view });
          const all = await big.read();
          assertClose(channelsOf(all, total, offset, cout), ref.out, 1e-4, `${v} ${s.kh}×${s.kw} into channels ${offset}..${offset + cout - 1}`);
          const rest = [...channelsOf(all, total, 0, offset), ...channelsOf(all, total, offset + cout, total - offset - cout)];
          expect(
            rest.every((v2) => v2 === 0),
            `${v}: channels outside the view were written`,
          ).toBe(true);
        });
      }
    }
  });

  it('a view whose offset is not a multiple of 4 runs a scalar-store kernel, and forcing a vec4 one says why', async () => {
    const [n, h, w, cin, cout, total, offset] = [1, 5, 5, 4, 8, 13, 3];
    const xHost = randomArray(rng, n * h * w * cin);
    const wHost = randomArray(rng, 9 * cin * cout);
    const ref = conv2dRef(xHost, [n, h, w, cin], wHost, [3, 3, cin, cout], { strideH: 1, strideW: 1, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1 });
    await engine.scope(async () => {
      const x = engine.tensor(xHost, [n, h, w, cin]);
      const wt = engine.tensor(wHost, [3, 3, cin, cout]);
      const big = engine.zeros([n, h, w, total]);
      const view = big.channelView(offset, cout);
      conv2d(x, wt, { padding: 'same', out: view });
      assertClose(channelsOf(await big.read(), total, offset, cout), ref.out, 1e-4, 'unaligned view');
      expect(() => conv2d(x, wt, { padding: 'same', out: view, variant: 'tile8x8' })).toThrow(/multiples of 4 \(got offset 3, stride 13\)/);
    });
  });

  it('matmul writes into a column slice of a wider matrix', async () => {
    const [m, k, n, total, offset] = [13, 7, 8, 20, 4];
    const a = randomArray(rng, m * k);
    const b = randomArray(rng, k * n);
    await engine.scope(async () => {
      const big = engine.zeros([m, total]);
      matmul(engine.tensor(a, [m, k]), engine.tensor(b, [k, n]), { out: big.channelView(offset, n) });
      const all = await big.read();
      assertClose(channelsOf(all, total, offset, n), matmulRef(a, b, 1, m, k, n), 1e-5, 'matmul into a view');
      expect(channelsOf(all, total, 0, offset).every((v) => v === 0)).toBe(true);
    });
  });

  it('elementwise ops (add, mul, scaleShift + ReLU, relu) write into channel views', async () => {
    const [rows, c, total, offset] = [21, 5, 11, 3];
    const a = randomArray(rng, rows * c);
    const b = randomArray(rng, c);
    const scale = randomArray(rng, c);
    const shift = randomArray(rng, c);
    const refs: Record<string, Float64Array> = {
      add: Float64Array.from(a, (v, i) => v + b[i % c]!),
      mul: Float64Array.from(a, (v, i) => v * b[i % c]!),
      scaleShift: Float64Array.from(a, (v, i) => Math.max(0, v * scale[i % c]! + shift[i % c]!)),
      relu: Float64Array.from(a, (v) => Math.max(0, v)),
    };
    for (const [name, ref] of Object.entries(refs)) {
      await engine.scope(async () => {
        const at = engine.tensor(a, [rows, c]);
        const big = engine.zeros([rows, total]);
        const out = big.channelView(offset, c);
        if (name === 'add') add(at, engine.tensor(b), { out });
        else if (name === 'mul') mul(at, engine.tensor(b), { out });
        else if (name === 'scaleShift') scaleShift(at, engine.tensor(scale), engine.tensor(shift), { relu: true, out });
        else relu(at, { out });
        const all = await big.read();
        assertClose(channelsOf(all, total, offset, c), ref, 1e-6, `${name} into a view`);
        expect(
          [...channelsOf(all, total, 0, offset), ...channelsOf(all, total, offset + c, total - offset - c)].every((v) => v === 0),
          `${name}: outside the view`,
        ).toBe(true);
      });
    }
  });

  it('concatChannels copies inputs with odd widths side by side', async () => {
    const lead = [2, 3, 5];
    const widths = [3, 1, 6, 5];
    const hosts = widths.map((c) => randomArray(rng, 30 * c));
    await engine.scope(async () => {
      const y = concatChannels(hosts.map((d, i) => engine.tensor(d, [...lead, widths[i]!])));
      expect(y.shape).toEqual([...lead, 15]);
      const got = await y.read();
      const ref = new Float64Array(30 * 15);
      for (let r = 0; r < 30; r++) {
        let o = 0;
        widths.forEach((c, i) => {
          for (let j = 0; j < c; j++) ref[r * 15 + o + j] = hosts[i]![r * c + j]!;
          o += c;
        });
      }
      assertClose(got, ref, 0, 'concatChannels');
    });
  });

  it('sliceChannels copies a channel range out of every row (the backward of a concat)', async () => {
    const [rows, total] = [17, 9];
    const x = randomArray(rng, rows * total);
    await engine.scope(async () => {
      const xt = engine.tensor(x, [rows, total]);
      for (const [offset, count] of [
        [0, 9],
        [2, 3],
        [8, 1],
      ] as const) {
        const got = await sliceChannels(xt, offset, count).read();
        assertClose(got, channelsOf(x, total, offset, count), 0, `sliceChannels ${offset}..${offset + count - 1}`);
      }
      expect(() => sliceChannels(xt, 7, 3)).toThrow(/channels 7\.\.9 are not within its 9 channels/);
    });
  });

  it('refuses what would be unsafe or wrong, saying which argument', () => {
    engine.scope(() => {
      const big = engine.zeros([1, 4, 4, 10]);
      expect(() => big.channelView(8, 3)).toThrow(/channels 8\.\.10 are not within its 10 channels/);
      expect(() => channelSlices(big, [4, 4])).toThrow(/add up to 8 but .* has 10 channels/);
      const view = big.channelView(2, 4);
      // A kernel that does not declare views refuses one, naming the binding.
      expect(() => relu(view)).toThrow(KernelBindingError);
      expect(() => relu(view)).toThrow(/binding 'a' got .*channel view/);
      expect(() => view.reshape([16, 4])).not.toThrow();
      expect(() => view.reshape([1, 4, 16])).toThrow(/can only regroup its leading dimensions/);
      expect(() => concatChannels([engine.zeros([2, 3]), engine.zeros([3, 3])])).toThrow(/inputs\[1\].*leading dimensions/);
      expect(() => conv2d(engine.zeros([1, 4, 4, 2]), engine.zeros([1, 1, 2, 4]), { out: engine.zeros([1, 4, 4, 5]) })).toThrow(
        /out must have the result's shape \[1, 4, 4, 4\]/,
      );
    });
  });
});
