/** Progress for long CLI work, on stderr so --json output on stdout stays clean. A live bar
 * (cli-progress) on a terminal; plain lines when stderr is a pipe or a log file. */
import cliProgress from 'cli-progress';

export interface Progress {
  update(message: string): void;
  done(): void;
}

export function progressLine(title: string, total?: number): Progress {
  if (!process.stderr.isTTY) {
    process.stderr.write(`${title}…\n`);
    return { update: (m) => process.stderr.write(`  ${m}\n`), done: () => undefined };
  }
  const bar = new cliProgress.SingleBar(
    { format: total ? `${title} [{bar}] {value}/{total} {message}` : `${title} {message}`, stream: process.stderr, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  let step = 0;
  bar.start(total ?? 0, 0, { message: '' });
  return {
    update: (m) => {
      bar.update(++step, { message: m });
    },
    done: () => bar.stop(),
  };
}

// ---------------------------------------------------------------------------------------------
// Benchmarks: numbered steps of the whole command, with an estimate of the time left.

/** Where a benchmark is: step `n` (1-based, the one starting now) of `total` in the whole
 * command. Runners pass it with the message that starts a step; other messages are notes. */
export interface ProgressStep {
  n: number;
  total: number;
}

/** What benchmark runners call: a message, and the step it starts if it starts one. */
export type BenchProgressCallback = (message: string, step?: ProgressStep) => void;

/** 75 000 ms → '1m 15s'; 3 700 000 → '1h 02m'; 9 400 → '9s'. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Time left, from the steps done so far: elapsed / done × remaining; undefined before any step
 * is done (no measured basis yet). */
export function etaMs(elapsedMs: number, done: number, total: number): number | undefined {
  if (done <= 0 || total <= done) return done > 0 && total <= done ? 0 : undefined;
  return (elapsedMs / done) * (total - done);
}

/** One step's line: '[3/12] Mixed_6b 7×7, batch 1 · 1m 40s elapsed, ETA 5m 33s'. */
export function stepLine(message: string, step: ProgressStep, elapsedMs: number): string {
  const done = step.n - 1;
  const eta = etaMs(elapsedMs, done, step.total);
  return `[${step.n}/${step.total}] ${message}${eta === undefined ? '' : ` · ${formatDuration(elapsedMs)} elapsed, ETA ${formatDuration(eta)}`}`;
}

export interface BenchProgressOptions {
  /** Milliseconds from some origin (default performance.now). */
  now?: () => number;
  /** Where lines go (default: stderr, a live line on a terminal). */
  write?: (line: string) => void;
}

/** The progress of a benchmark command: `update(message, step)` prints the step as n/N of the
 * whole command with an ETA once a step is done; a message without a step is printed as it is.
 * The clock starts at the first step, so setup before it does not skew the estimate. */
export interface BenchProgress {
  update: BenchProgressCallback;
  done(): void;
}

export function benchProgress(title: string, options: BenchProgressOptions = {}): BenchProgress {
  const now = options.now ?? (() => performance.now());
  let firstStep: number | undefined;
  const text = (message: string, step?: ProgressStep) => {
    if (!step) return message;
    firstStep ??= now();
    return stepLine(message, step, now() - firstStep);
  };
  if (options.write || !process.stderr.isTTY) {
    const write = options.write ?? ((l: string) => process.stderr.write(`${l}\n`));
    write(`${title}…`);
    return { update: (m, step?) => write(`  ${text(m, step)}`), done: () => undefined };
  }
  const bar = new cliProgress.SingleBar(
    { format: `${title} {message}`, stream: process.stderr, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  bar.start(0, 0, { message: '' });
  return {
    update: (m, step?) => bar.update(0, { message: text(m, step) }),
    done: () => bar.stop(),
  };
}
