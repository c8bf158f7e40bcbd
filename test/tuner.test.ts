import { it } from 'vitest';
import { testEngine } from './support/engine.js';
import { MemoryTuningStore } from '../src/runtime/tuner.js';
import { conv2dCandidates, defaultConv2dVariant } from '../src/ops/conv2d.js';
import { convGeometry } from '../src/ops/conv2d-geometry.js';
it('probe', async () => {
  let t = performance.now();
  const e = await testEngine({ tuningStore: new MemoryTuningStore() });
  console.log('create ms', performance.now() - t, e.adapterName, e.tuner.adapterKey, [...e.features], e.profiler.timing);
  const g = convGeometry('c', [1, 9, 9, 8], [3, 3, 8, 8], undefined, 'same');
  console.log(conv2dCandidates(g, e), defaultConv2dVariant(g, e));
  t = performance.now();
  const e2 = await testEngine({ tuningStore: new MemoryTuningStore() });
  console.log('create2 ms', performance.now() - t);
  e2.destroy();
  e.destroy();
});
