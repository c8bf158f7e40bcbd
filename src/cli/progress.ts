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
