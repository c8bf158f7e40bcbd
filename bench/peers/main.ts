/**
 * `npm run bench:peers -- [--quick] [--json FILE] [--batches 1,8] [--repeats N] [--filter TEXT]`:
 * the engine against peer libraries on the same adapter (today: TensorFlow.js's WebGPU backend
 * in Node, on the factorization benchmark's convolutions). Prints a table; JSON on request.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { createEngine } from '../../src/runtime/engine.js';
import { InceptError } from '../../src/runtime/errors.js';
import { DRIVER_CHOICES, type DriverChoice } from '../../src/runtime/gpu-node.js';
import { progressLine } from '../../src/cli/progress.js';
import { runPeerFactorization, type PeerFactorizationResult } from './factorization.js';
import { loadTfjsWebgpu } from './tfjs-node.js';

function positiveInts(flag: string, text: string): number[] {
  const values = text.split(',').map((s) => Number(s.trim()));
  if (values.some((v) => !Number.isInteger(v) || v < 1)) throw new InceptError(`${flag} needs positive integers separated by commas, got '${text}'`);
  return values;
}

export function formatPeerTable(r: PeerFactorizationResult): string {
  const head = ['conv', 'batch', 'side', 'engine ms (min–max)', 'engine GFLOP/s', 'engine variant', 'TF.js ms (min–max)', 'TF.js GFLOP/s', 'TF.js / engine (min–max)', 'max rel err'];
  const body = r.rows.map((row) => {
    const p = row.peers['tfjs-webgpu']!;
    return [
      row.name,
      String(row.batch),
      `${row.side} (${row.convs})`,
      `${row.engineMs.toFixed(1)} (${row.engineMsMin.toFixed(1)}–${row.engineMsMax.toFixed(1)})`,
      row.engineGflops.toFixed(2),
      row.engineVariant,
      `${p.ms.toFixed(1)} (${p.msMin.toFixed(1)}–${p.msMax.toFixed(1)})`,
      p.gflops.toFixed(2),
      `${p.ratio.toFixed(2)}× (${p.ratioMin.toFixed(2)}–${p.ratioMax.toFixed(2)})`,
      p.maxRelErr.toExponential(1),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [
    `Engine vs ${Object.values(r.libraries).join(', ')} on ${r.adapter} · timing: ${r.timing} · ${r.date}`,
    'ratio: peer time / engine time (> 1: the engine is faster), median over rounds run side by side',
    '',
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...body.map(line),
  ].join('\n');
}

const program = new Command('bench-peers')
  .description('The engine side by side with peer libraries on the same adapter')
  .addOption(new Option('--driver <name>', 'Vulkan driver (default: env INCEPT_DRIVER or auto)').choices([...DRIVER_CHOICES]))
  .option('--quick', 'batch 1 only, 5 timed rounds')
  .option('--json <file>', 'write the results as JSON')
  .option('--batches <list>', 'batch sizes, comma-separated (default 1,8)')
  .option('--repeats <n>', 'timed rounds per row (default 10)')
  .option('--filter <text>', 'only the factorization rows whose name contains this')
  .action(async (opts: { driver?: DriverChoice; quick?: boolean; json?: string; batches?: string; repeats?: string; filter?: string }) => {
    const started = performance.now();
    const engine = await createEngine({ driver: opts.driver });
    try {
      const peer = await loadTfjsWebgpu(engine);
      const progress = progressLine(`engine vs TensorFlow.js ${peer.version} (WebGPU) on ${engine.adapterName}`);
      const result = await runPeerFactorization(engine, peer, {
        batches: opts.batches ? positiveInts('--batches', opts.batches) : opts.quick ? [1] : [1, 8],
        repeats: opts.repeats ? positiveInts('--repeats', opts.repeats)[0] : opts.quick ? 5 : 10,
        ...(opts.filter ? { filter: opts.filter } : {}),
        onProgress: (m) => progress.update(m),
      });
      progress.done();
      console.log(formatPeerTable(result));
      if (opts.json) {
        const path = resolve(opts.json);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
        console.log(`\nJSON: ${path}`);
      }
      console.log(`(${((performance.now() - started) / 1000).toFixed(0)} s)`);
    } finally {
      engine.destroy();
    }
  });

program.parseAsync().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`bench-peers: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
