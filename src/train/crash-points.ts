/**
 * Test-only crash points: the crash tests (test/train-crash.test.ts) set
 * INCEPT_TRAIN_CRASH=<point>@<step> and the training process kills itself with SIGKILL there, so
 * a test can land a kill -9 exactly in the windows where a crash could lose data, chosen by step
 * count rather than by timing. Unset (always, outside those tests), every check is one lookup.
 *
 * Points: 'checkpoint-partial' (the checkpoint of that step has its tensors written, not its
 * JSON), 'checkpoint-unpublished' (the checkpoint folder is complete, the `latest` pointer not yet
 * moved), 'metrics-torn' (half of that step's metrics line written).
 */
export type CrashPoint = 'checkpoint-partial' | 'checkpoint-unpublished' | 'metrics-torn';

const ENV = 'INCEPT_TRAIN_CRASH';

/** True when this process was asked to crash at `point` of `step`. */
export function crashRequested(point: CrashPoint, step: number): boolean {
  const spec = typeof process === 'undefined' ? undefined : process.env[ENV];
  return spec !== undefined && spec === `${point}@${step}`;
}

/** Dies at once, as kill -9 would: no exit handlers, no flushing of anything not yet written. */
export function crashNow(): never {
  process.kill(process.pid, 'SIGKILL');
  // SIGKILL is not delivered synchronously everywhere; never carry on past a crash point.
  for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
}
