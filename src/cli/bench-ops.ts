/** `incept bench ops`: Inception-v3's memory-bound kernels at the network's shapes. */
import { formatOpBenchTable, runOpBench } from '../bench/ops/run.js';
import { createEngine } from '../runtime/engine.js';
import type { DriverChoice } from '../runtime/gpu-node.js';
import { OP_CASES } from '../bench/ops/cases.js';
import { InceptError } from '../runtime/errors.js';
import { intFlag, matchesFilter, outputPathFlag, repeatsFlag, writeReport } from './args.js';
import { adapterLimits, batchFootprint, checkFits, largestActivation } from './adapter-fit.js';
import { benchProgress } from './progress.js';

export interface BenchOpsOptions {
  driver?: DriverChoice;
  batch?: string;
  repeats?: string;
  filter?: string;
  json?: string;
}

/**
 * Floats per image of the largest tensor the ops benchmark makes. Its cases are Inception-v3's
 * layers at 299×299 (src/bench/ops/cases.ts), so that is the network's largest activation
 * (147×147×64, the input of the first max-pool); a filter to smaller ops does not lower it.
 */
function opsImage(): { floats: number; what: string } {
  const a = largestActivation({ auxLogits: false });
  return { floats: a.floats, what: `the largest op input (${a.what} of Inception-v3 at 299×299)` };
}

export async function benchOps(opts: BenchOpsOptions): Promise<void> {
  const batch = opts.batch !== undefined ? intFlag('--batch', opts.batch, { min: 1, one: true }) : undefined;
  const repeats = opts.repeats !== undefined ? repeatsFlag(opts.repeats) : undefined;
  if (opts.filter !== undefined && !OP_CASES.some((c) => matchesFilter(opts.filter, c.name, c.kind))) {
    throw new InceptError(`--filter '${opts.filter}' matches no op; ops: ${OP_CASES.map((c) => c.name).join('; ')}`);
  }
  if (opts.json !== undefined) outputPathFlag('--json', opts.json);
  checkFits(await adapterLimits(opts.driver), [{ flag: '--batch', value: batch ?? 8, min: 1, integer: true }], ([b]) => batchFootprint(b!, opsImage()));
  const engine = await createEngine({ driver: opts.driver });
  try {
    const started = performance.now();
    const progress = benchProgress(`memory-bound kernels on ${engine.adapterName}`);
    const result = await runOpBench(engine, {
      ...(batch !== undefined ? { batch } : {}),
      ...(repeats !== undefined ? { repeats } : {}),
      ...(opts.filter ? { filter: opts.filter } : {}),
      onProgress: progress.update,
    });
    progress.done();
    console.log(formatOpBenchTable(result));
    if (opts.json) console.log(`\nJSON: ${writeReport(opts.json, `${JSON.stringify(result, null, 2)}\n`)}`);
    console.log(`(${((performance.now() - started) / 1000).toFixed(0)} s)`);
  } finally {
    engine.destroy();
  }
}
