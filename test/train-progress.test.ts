/**
 * `incept train`'s progress bar and its cost lines. The bar stops for each evaluation's line and
 * starts again: it must show the last step's fields then, never the format's `{placeholders}`.
 * The run's first line says what it will do (steps, images, epochs, evaluations), and the
 * estimate turns a measured rate into a time; both are pure functions checked here by counts.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { describeEstimate, describeWork, estimateSeconds, runWork, TrainProgressBar } from '../src/cli/train.js';

/** A stream that says it is a terminal and keeps what is written to it. */
function fakeTty(): { stream: NodeJS.WritableStream; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  }) as Writable & { isTTY: boolean; columns: number };
  stream.isTTY = true;
  stream.columns = 200;
  return { stream, text: () => chunks.join('') };
}

const placeholder = /\{(epochs|ips|loss|lr|etaText|value|total|bar)\}/;

describe('incept train: the progress bar', () => {
  it('shows its fields from the start, after each evaluation line and at the end: never a {placeholder}', () => {
    const { stream, text } = fakeTty();
    const bar = new TrainProgressBar(stream, 30, 0, 10);
    expect(text()).not.toMatch(placeholder);
    expect(text()).toMatch(/epoch 0\.00 .* 0\/30 steps \| - img\/s \| loss - \| lr - \| ETA \?/);
    for (let step = 1; step <= 30; step++) {
      bar.update(step, { epochs: (step / 10).toFixed(2), ips: '12.5', loss: (3 - step / 100).toFixed(3), lr: '0.0500', etaText: '1m00s' });
      if (step % 10 === 0) {
        const before = text().length;
        bar.interrupt(step, () => stream.write(`epoch ${step / 10}: test top-1 20.00%\n`));
        // The restarted bar draws at once, with the last step's fields.
        const after = text().slice(before);
        expect(after).toMatch(
          new RegExp(
            `test top-1 20\\.00%\\n[^]*epoch ${(step / 10).toFixed(2)} .* ${step}/30 steps \\| 12\\.5 img/s \\| loss ${(3 - step / 100).toFixed(3)} \\| lr 0\\.0500 \\| ETA 1m00s`,
          ),
        );
      }
    }
    bar.stop();
    expect(text()).not.toMatch(placeholder);
  });

  it('starts a resumed run at its step and epoch', () => {
    const { stream, text } = fakeTty();
    const bar = new TrainProgressBar(stream, 30, 15, 10);
    bar.interrupt(15, () => stream.write('a line\n'));
    bar.stop();
    expect(text()).not.toMatch(placeholder);
    expect(text()).toMatch(/epoch 1\.50 .* 15\/30 steps/);
  });
});

describe('incept train: what a run will cost', () => {
  const config = { epochs: 3, batchSize: 32 };

  it('counts the steps, images, epochs and evaluations from the start, a resumed step and --max-steps', () => {
    const all = runWork(config, 62, 0, 2000, 1000, {});
    expect(all).toMatchObject({ steps: 186, evaluations: 3, epochs: 3 });
    expect(describeWork(all)).toBe(
      'This run: 186 steps of 32 images = 5,952 training images (3.00 epochs of 2,000) and 3 evaluations of 1,000 test images; the time it takes is estimated after its first steps',
    );
    expect(runWork(config, 62, 93, 2000, 1000, {})).toMatchObject({ steps: 93, evaluations: 2, epochs: 1.5 });
    expect(runWork(config, 62, 0, 2000, 1000, { maxSteps: 70 })).toMatchObject({ steps: 70, evaluations: 1 });
    expect(runWork(config, 62, 70, 2000, 1000, { maxSteps: 40 })).toMatchObject({ steps: 0, evaluations: 0 });
    expect(describeWork(runWork(config, 62, 0, 2000, 1000, { minutes: 5 }))).toMatch(
      /, or less: it stops at the --minutes 5 budget \(then evaluates once more\);/,
    );
  });

  it('turns a measured rate into a time: training images, evaluations at three times the rate, capped by a budget', () => {
    const w = runWork(config, 62, 0, 2000, 1000, {});
    // 5,952 images at 20 img/s, and 3 × 1,000 test images at 60 img/s.
    expect(estimateSeconds(w, 20)).toBeCloseTo(5952 / 20 + 3000 / 60, 9);
    expect(describeEstimate(w, 20, 'steps 2–4')).toBe(
      'Estimated time: 5m47s in all, at 20.0 img/s (measured on steps 2–4; an evaluation image counted as a third of a training image)',
    );
    // A 2-minute budget: 120 s of training and one evaluation; 75 of the 186 steps fit.
    const budget = runWork(config, 62, 0, 2000, 1000, { minutes: 2 });
    expect(estimateSeconds(budget, 20)).toBeCloseTo(120 + 1000 / 60, 9);
    expect(describeEstimate(budget, 20, 'steps 2–4', 10)).toMatch(
      /^Estimated time: 2m26s in all, .*; the --minutes budget stops it about 111 steps before its end$/,
    );
    expect(describeEstimate(runWork({ epochs: 10, batchSize: 64 }, 781, 0, 50000, 10000, {}), 11, 'steps 2–4')).toMatch(/^Estimated time: 13h\d\dm in all/);
  });
});
