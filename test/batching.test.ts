/** Dispatches are recorded into one command encoder and submitted together at a readback or
 * flush; uploads never race ahead of recorded work that uses the same pooled buffer. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/runtime/engine.js';
import { add, mul, relu } from '../src/ops/elementwise.js';
import { matmul } from '../src/ops/matmul.js';
import { testEngine } from './support/engine.js';

let engine: Engine;
let submits: GPUCommandBuffer[][] = [];
beforeAll(async () => {
  engine = await testEngine({ poisonOutputs: false });
  const queue = engine.device.queue;
  const submit = queue.submit.bind(queue);
  queue.submit = (buffers: Iterable<GPUCommandBuffer>) => {
    const list = [...buffers];
    submits.push(list);
    submit(list);
  };
});
afterAll(() => engine?.destroy());

describe('batched submission', () => {
  it('many dispatches go out in one submit of one command buffer, at the readback', async () => {
    await engine.flush();
    submits = [];
    const out = engine.scope(() => {
      let x = engine.tensor([1, 2, 3, 4]);
      for (let i = 0; i < 20; i++) x = add(mul(x, x), relu(x));
      return matmul(x.reshape([2, 2]), x.reshape([2, 2]));
    });
    expect(submits.length).toBe(0); // nothing submitted while recording
    await out.read();
    expect(submits.length).toBe(1);
    expect(submits[0]!.length).toBe(1);
    out.dispose();
  });

  it('an explicit flush submits; a flush with nothing recorded submits nothing', async () => {
    await engine.flush();
    submits = [];
    const t = relu(engine.tensor([-1, 1]));
    await engine.flush();
    expect(submits.length).toBe(1);
    await engine.flush();
    expect(submits.length).toBe(1);
    t.dispose();
  });

  it('an upload into a pooled buffer still read by recorded work does not overwrite it early', async () => {
    await engine.flush();
    const a = engine.tensor([-1, 2, -3, 4]);
    const r = relu(a); // recorded, not yet submitted, reads a's buffer
    a.dispose(); // a's buffer goes back to the pool…
    const b = engine.tensor([10, 20, 30, 40]); // …and comes straight back here
    const sum = add(r, b);
    expect(Array.from(await r.read())).toEqual([0, 2, 0, 4]);
    expect(Array.from(await sum.read())).toEqual([10, 22, 30, 44]);
    r.dispose();
    b.dispose();
    sum.dispose();
  });
});
