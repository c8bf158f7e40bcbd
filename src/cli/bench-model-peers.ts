/**
 * `incept bench model --peers`: Inception-v3 inference against TensorFlow.js (WebGPU, in Node and
 * in headless Chromium) and ONNX Runtime Web (WebGPU, in Chromium), on the same adapter. The
 * peers live in bench/peers, a package of its own so the engine never depends on them; this
 * runs its harness (`npm run bench:peers`, which installs it on first use) as a child process
 * and reads back its JSON. The harness times the engine itself, side by side with each peer in
 * the same process or page, so the ratios it reports are paired, round by round.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PeerReport } from '../bench/peers-report.js';
import { InceptError } from '../runtime/errors.js';
import { packageRoot } from './package-root.js';

export interface PeerHarnessOptions {
  batches: number[];
  repeats: number;
  driver?: string;
  /** Parts of the harness to run (default: Node inference and the Chromium page). */
  parts?: string[];
}

export async function runPeerHarness(options: PeerHarnessOptions): Promise<PeerReport> {
  const root = packageRoot();
  if (!existsSync(join(root, 'bench', 'peers', 'package.json'))) {
    throw new InceptError(
      `--peers needs the peer benchmark (bench/peers), which is not in ${root}: it ships with a source checkout of incept-gpu, not with the npm package`,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'incept-peers-'));
  const json = join(dir, 'peers.json');
  const args = [
    'run',
    '--silent',
    'bench:peers',
    '--',
    '--only',
    (options.parts ?? ['inference', 'browser']).join(','),
    '--batches',
    options.batches.join(','),
    '--repeats',
    String(options.repeats),
    '--json',
    json,
    '--html',
    join(dir, 'peers.html'),
    ...(options.driver ? ['--driver', options.driver] : []),
  ];
  try {
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn('npm', args, { cwd: root, stdio: 'inherit' });
      child.on('error', (e) => reject(new InceptError(`--peers: could not start \`npm ${args.join(' ')}\`: ${e.message}`)));
      child.on('exit', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
    });
    if (code !== 0)
      throw new InceptError(`--peers: the peer benchmark (\`npm ${args.join(' ')}\` in ${root}) failed with exit code ${code}; its output is above`);
    try {
      const report = JSON.parse(readFileSync(json, 'utf8')) as PeerReport;
      // The temporary output paths say nothing to a reader of the model report.
      return { ...report, command: report.command.replace(/ --(json|html) \S+/g, '') };
    } catch (e) {
      throw new InceptError(`--peers: the peer benchmark finished but its report ${json} could not be read: ${e instanceof Error ? e.message : String(e)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
