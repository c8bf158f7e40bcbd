/** `incept bench train-step`: one training step of Inception-v3's 35×35 and 17×17 modules. */
import { formatTrainStep, runTrainStep } from '../bench/train-step/run.js';
import { MIXED_5B, MIXED_6B, type ModuleSpec } from '../bench/train-step/modules.js';
import { InceptError } from '../runtime/errors.js';
import { createEngine } from '../runtime/engine.js';
import type { DriverChoice } from '../runtime/gpu-node.js';
import { intFlag, matchesFilter, outputPathFlag, repeatsFlag, writeReport } from './args.js';
import { adapterLimits, batchFootprint, checkFits } from './adapter-fit.js';
import { benchProgress } from './progress.js';

export interface BenchTrainStepOptions {
  driver?: DriverChoice;
  batch?: string;
  repeats?: string;
  module?: string;
  json?: string;
}

/** The largest activation of the modules: input, any conv's output or the concatenated output. */
function moduleImage(modules: readonly ModuleSpec[]): { floats: number; what: string } {
  let best = { floats: 0, what: '' };
  for (const m of modules) {
    const out = m.branches.reduce((s, b) => s + b.convs[b.convs.length - 1]!.cout, 0);
    const c = Math.max(m.cin, out, ...m.branches.flatMap((b) => b.convs.map((cv) => cv.cout)));
    if (m.size * m.size * c > best.floats) best = { floats: m.size * m.size * c, what: `${m.name.split(' ')[0]}'s ${m.size}×${m.size}×${c} activation` };
  }
  return best;
}

export async function benchTrainStep(opts: BenchTrainStepOptions): Promise<void> {
  const batch = opts.batch !== undefined ? intFlag('--batch', opts.batch, { min: 1, one: true }) : undefined;
  const repeats = opts.repeats !== undefined ? repeatsFlag(opts.repeats) : undefined;
  const all = [MIXED_5B, MIXED_6B];
  const modules = all.filter((m) => matchesFilter(opts.module, m.name));
  if (modules.length === 0) throw new InceptError(`--module '${opts.module}' matches no module; modules: ${all.map((m) => m.name).join(', ')}`);
  if (opts.json !== undefined) outputPathFlag('--json', opts.json);
  checkFits(await adapterLimits(opts.driver), [{ flag: '--batch', value: batch ?? 8, min: 1, integer: true }], ([b]) =>
    batchFootprint(b!, moduleImage(modules)),
  );
  const engine = await createEngine({ driver: opts.driver, profile: true });
  try {
    const started = performance.now();
    const progress = benchProgress(`training step on ${engine.adapterName}`);
    const result = await runTrainStep(engine, {
      ...(batch !== undefined ? { batch } : {}),
      ...(repeats !== undefined ? { repeats } : {}),
      modules,
      onProgress: progress.update,
    });
    progress.done();
    console.log(formatTrainStep(result));
    if (opts.json) console.log(`\nJSON: ${writeReport(opts.json, `${JSON.stringify(result, null, 2)}\n`)}`);
    console.log(`(${((performance.now() - started) / 1000).toFixed(0)} s)`);
  } finally {
    engine.destroy();
  }
}
