/**
 * Test-set evaluation: the inference forward (BatchNorm folded, running statistics) over a data
 * set in batches, top-1 accuracy and mean cross-entropy (no label smoothing) from the logits
 * read back. Ten classes × 10,000 images is small enough to score on the host.
 */
import type { Engine } from '../runtime/engine.js';
import type { InceptionV3 } from '../models/inception-v3.js';
import { BatchLoader } from '../data/loader.js';
import type { ImageDataset } from '../data/dataset.js';
import type { ChannelTriple } from '../ops/augment.js';

export interface Evaluation {
  accuracy: number;
  loss: number;
  images: number;
}

/** Mean cross-entropy and correct count of logits [B, K] against labels, in float64. */
export function scoreLogits(logits: Float32Array, labels: ArrayLike<number>, classes: number): { lossSum: number; correct: number } {
  let lossSum = 0;
  let correct = 0;
  for (let b = 0; b < labels.length; b++) {
    const row = logits.subarray(b * classes, (b + 1) * classes);
    let max = -Infinity;
    let arg = 0;
    for (let k = 0; k < classes; k++) {
      if (row[k]! > max) {
        max = row[k]!;
        arg = k;
      }
    }
    let sum = 0;
    for (let k = 0; k < classes; k++) sum += Math.exp(row[k]! - max);
    lossSum += Math.log(sum) + max - row[labels[b]!]!;
    if (arg === labels[b]) correct++;
  }
  return { lossSum, correct };
}

export async function evaluate(
  engine: Engine,
  model: InceptionV3,
  data: ImageDataset,
  options: { batchSize?: number; mean?: ChannelTriple; std?: ChannelTriple; onBatch?: (done: number, total: number) => void } = {},
): Promise<Evaluation> {
  const loader = new BatchLoader(engine, data, {
    batchSize: options.batchSize ?? 250,
    seed: 0,
    training: false,
    ...(options.mean ? { mean: options.mean } : {}),
    ...(options.std ? { std: options.std } : {}),
  });
  const classes = model.layers.at(-1)!.outputShape[0];
  let lossSum = 0;
  let correct = 0;
  let images = 0;
  for (let i = 0; i < loader.batchesPerEpoch; i++) {
    await engine.scope(async () => {
      const batch = loader.next();
      const logits = (await model.forward(batch.images).read()) as Float32Array;
      const s = scoreLogits(logits, batch.labelValues, classes);
      lossSum += s.lossSum;
      correct += s.correct;
      images += batch.labelValues.length;
    });
    options.onBatch?.(images, data.count);
  }
  return { accuracy: images ? correct / images : 0, loss: images ? lossSum / images : 0, images };
}
