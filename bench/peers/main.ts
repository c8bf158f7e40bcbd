/**
 * `npm run bench:peers -- [--quick] [--json FILE] [--html FILE] [--only PARTS] [--budget MIN] …`:
 * the engine side by side with the libraries users would otherwise pick, on the same adapter,
 * in one run:
 *   factorization  every row of the factorization benchmark vs TensorFlow.js WebGPU (Node)
 *   inference      Inception-v3 299×299 at batch 1 and 8 vs TensorFlow.js WebGPU (Node), and
 *                  ONNX Runtime for Node on the CPU (native: what a server without a GPU runs)
 *   training       one Inception-v3 training step vs TensorFlow.js WebGPU (Node)
 *   browser        Inception-v3 inference in one headless Chromium page: the engine vs
 *                  TensorFlow.js WebGPU and ONNX Runtime Web WebGPU (on the engine's ONNX export)
 * Outputs are compared as well as times. Prints a table; JSON and an HTML report with charts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { createEngine } from '../../src/runtime/engine.js';
import { InceptError } from '../../src/runtime/errors.js';
import { DRIVER_CHOICES, type DriverChoice } from '../../src/runtime/gpu-node.js';
import { progressLine } from '../../src/cli/progress.js';
import { runPeerFactorization } from './factorization.js';
import { runPeerInception } from './inception.js';
import { runBrowserPeers } from './browser.js';
import { loadTfjsWebgpu, type TfjsPeer } from './tfjs-node.js';
import { loadOrtNode, ORT_NODE, type OrtNodeRuntime } from './ort-node.js';
import { disagreements, formatPeerReport, judgeGoals, renderPeerReportHtml, type PeerReport, type PeerReportRow } from '../../src/bench/peers-report.js';

const PARTS = ['factorization', 'inference', 'training', 'browser'] as const;
type Part = (typeof PARTS)[number];

function positiveInts(flag: string, text: string): number[] {
  const values = text.split(',').map((s) => Number(s.trim()));
  if (values.some((v) => !Number.isInteger(v) || v < 1)) throw new InceptError(`${flag} needs positive integers separated by commas, got '${text}'`);
  return values;
}

function parseParts(text: string): Part[] {
  const parts = text.split(',').map((s) => s.trim());
  const bad = parts.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (bad.length > 0) throw new InceptError(`--only: unknown part(s) ${bad.map((b) => `'${b}'`).join(', ')}; choose from ${PARTS.join(', ')}`);
  return parts as Part[];
}

function write(file: string, text: string): string {
  const path = resolve(file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

interface Options {
  driver?: DriverChoice;
  quick?: boolean;
  json?: string;
  html?: string;
  only?: string;
  batches?: string;
  trainBatch?: string;
  repeats?: string;
  filter?: string;
  budget?: string;
}

const program = new Command('bench-peers')
  .description('The engine side by side with TensorFlow.js and ONNX Runtime Web on the same adapter, and ONNX Runtime for Node on the CPU')
  .addOption(new Option('--driver <name>', 'Vulkan driver in Node (default: env INCEPT_DRIVER or auto)').choices([...DRIVER_CHOICES]))
  .option('--quick', 'batch 1 (training too), 3 timed rounds (2 for training), a 9-minute budget; under 10 minutes on 2 cores')
  .option('--json <file>', 'write the report as JSON')
  .option('--html <file>', 'the HTML report (default reports/peers.html, or reports/peers-quick.html with --quick)')
  .option('--only <parts>', `comma-separated parts to run: ${PARTS.join(', ')} (default all)`)
  .option('--batches <list>', 'inference and factorization batch sizes (default 1,8; quick: 1)')
  .option('--train-batch <n>', 'batch of the training step (default 8; quick: 1)')
  .option('--repeats <n>', 'timed rounds per row (default 5; quick: 3)')
  .option('--filter <text>', 'only the factorization rows whose name contains this (x, X and × alike)')
  .option('--budget <minutes>', 'stop starting new parts after this many minutes (quick: 9)')
  .action(async (opts: Options) => {
    const started = performance.now();
    const quick = opts.quick ?? false;
    const parts = opts.only ? parseParts(opts.only) : [...PARTS];
    const batches = opts.batches ? positiveInts('--batches', opts.batches) : quick ? [1] : [1, 8];
    const trainBatch = opts.trainBatch ? positiveInts('--train-batch', opts.trainBatch)[0]! : quick ? 1 : 8;
    const repeats = opts.repeats ? positiveInts('--repeats', opts.repeats)[0]! : quick ? 3 : 5;
    const budgetMin = opts.budget !== undefined ? Number(opts.budget) : quick ? 9 : Infinity;
    if (!(budgetMin > 0)) throw new InceptError(`--budget needs a number of minutes > 0, got '${opts.budget}'`);
    const elapsedMin = () => (performance.now() - started) / 60_000;

    const engine = await createEngine({ driver: opts.driver });
    const rows: PeerReportRow[] = [];
    const libraries: Record<string, string> = {};
    const adapters: PeerReport['adapters'] = {};
    const skipped: string[] = [];
    const progress = progressLine(`engine vs peers on ${engine.adapterName}`);
    try {
      let tfjs: TfjsPeer | undefined;
      const nodeTfjs = async (): Promise<TfjsPeer> => {
        if (!tfjs) {
          tfjs = await loadTfjsWebgpu(engine);
          libraries['tfjs-webgpu'] = `@tensorflow/tfjs-backend-webgpu ${tfjs.version}`;
          adapters.node = engine.adapterName;
        }
        return tfjs;
      };
      let ortNode: OrtNodeRuntime | undefined;
      const nodeOrt = async (): Promise<OrtNodeRuntime> => {
        if (!ortNode) {
          ortNode = await loadOrtNode();
          libraries[ORT_NODE] = ortNode.description;
        }
        return ortNode;
      };
      const onProgress = (m: string) => progress.update(`[${elapsedMin().toFixed(1)} min] ${m}`);
      for (const part of parts) {
        if (elapsedMin() >= budgetMin) {
          skipped.push(part);
          continue;
        }
        switch (part) {
          case 'factorization': {
            const r = await runPeerFactorization(engine, await nodeTfjs(), { batches, repeats, ...(opts.filter ? { filter: opts.filter } : {}), onProgress });
            rows.push(...r.rows);
            break;
          }
          case 'inference':
            rows.push(...(await runPeerInception(engine, await nodeTfjs(), { batches, trainBatch: 0, repeats, ortNode: await nodeOrt(), onProgress })));
            break;
          case 'training':
            rows.push(...(await runPeerInception(engine, await nodeTfjs(), { batches: [], trainBatch, repeats, trainRepeats: quick ? 2 : 3, onProgress })));
            break;
          case 'browser':
            // One page per batch: at batch 8 one SwiftShader inference of a peer takes minutes,
            // so the big batches get 2 rounds (each library runs once per round, after a warm-up).
            for (const batch of batches) {
              const r = await runBrowserPeers(engine, {
                batches: [batch],
                repeats: quick ? Math.min(repeats, 2) : batch > 1 ? Math.min(repeats, 2) : repeats,
                onProgress,
              });
              rows.push(...r.rows);
              adapters.chromium = r.adapter;
              for (const [k, v] of Object.entries(r.libraries))
                if (!libraries[k]?.split('; ').includes(v)) libraries[k] = libraries[k] ? `${libraries[k]}; ${v}` : v;
            }
            break;
        }
      }
      progress.done();
    } finally {
      engine.destroy();
    }
    const report: PeerReport = {
      adapter: engine.adapterName,
      adapters,
      date: new Date().toISOString(),
      command: `npm run bench:peers -- ${process.argv.slice(2).join(' ')}`.trim(),
      quick,
      seconds: (performance.now() - started) / 1000,
      libraries,
      rows,
      goals: judgeGoals(rows),
    };
    console.log(formatPeerReport(report));
    if (skipped.length > 0) console.log(`\nSkipped (the --budget of ${budgetMin} min ran out): ${skipped.join(', ')}`);
    if (opts.json) console.log(`\nJSON: ${write(opts.json, `${JSON.stringify({ ...report, ...(skipped.length > 0 ? { skipped } : {}) }, null, 2)}\n`)}`);
    console.log(`HTML report: ${write(opts.html ?? `reports/peers${quick ? '-quick' : ''}.html`, renderPeerReportHtml(report))}`);
    console.log(`(${report.seconds.toFixed(0)} s)`);
    const bad = disagreements(rows);
    if (bad.length > 0) throw new InceptError(`the outputs disagree (a bug in the engine or in a peer):\n  ${bad.join('\n  ')}`);
  });

program.parseAsync().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`bench-peers: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
