// Creates and destroys an engine with a classifier loaded, `cycles` times, and prints the
// process's resident memory after each cycle (after a full GC) as JSON. Run by
// test/engine-lifecycle.test.ts in a child process, with --expose-gc, against the built dist/.
import { createEngine, InceptionV3, torchvisionStateDict, encodeSafetensors, loadClassifier } from '../../dist/index.js';

const cycles = Number(process.argv[2] ?? 20);
const settle = async () => {
  await new Promise((r) => setTimeout(r, 20));
  globalThis.gc();
  globalThis.gc();
};
const first = await createEngine({ tuning: 'off' });
const model = new InceptionV3(first, { seed: 1, variant: 'cifar10', width: 0.125, numClasses: 10 });
const weights = encodeSafetensors(await torchvisionStateDict(model));
model.dispose();
first.destroy();

const rssMiB = [];
for (let i = 0; i < cycles; i++) {
  const engine = await createEngine({ tuning: 'off' });
  const classifier = await loadClassifier(engine, { weights });
  const x = engine.randomNormal([2, 32, 32, 3], { seed: i });
  const [r] = await classifier.classify(x);
  if (!(r.top[0].probability > 0)) throw new Error(`cycle ${i}: no classification`);
  x.dispose();
  classifier.dispose();
  engine.destroy();
  await settle();
  rssMiB.push(process.memoryUsage().rss / 2 ** 20);
}
console.log(JSON.stringify({ rssMiB }));
