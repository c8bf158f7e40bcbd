/**
 * `incept bench train-step`: one training step (forward, loss, backward) of Inception-v3's
 * 35×35 and 17×17 modules at a batch size, on the tape: GPU time per op and kernel for the
 * forward and the backward pass, achieved GFLOP/s of each backward kernel next to the
 * forward's, the backward/forward time ratio of the convolutions (≈ 2 in multiply-adds), and
 * peak memory. Each step is timed several times; the median step's profile is reported.
 */
import type { Engine } from '../../runtime/engine.js';
import type { KernelSummary } from '../../runtime/profiler.js';
import { median } from '../../runtime/timing.js';
import { Tape } from '../../autograd/tape.js';
import * as ag from '../../autograd/functions.js';
import type { BenchProgressCallback } from '../../cli/progress.js';
import { InceptionModule, MIXED_5B, MIXED_6B, type ModuleSpec } from './modules.js';

export interface StepKernelRow extends KernelSummary {
  pass: 'forward' | 'backward';
}

export interface StepResult {
  module: string;
  batch: number;
  /** Median over the timed steps, milliseconds of GPU time. */
  forwardMs: number;
  backwardMs: number;
  /** Backward conv kernels' time / forward conv kernels' time. */
  convBackwardOverForward: number;
  peakBytes: number;
  kernels: StepKernelRow[];
}

export interface TrainStepResult {
  adapter: string;
  date: string;
  timing: string;
  results: StepResult[];
}

export async function runTrainStep(
  engine: Engine,
  options: { batch?: number; repeats?: number; modules?: ModuleSpec[]; onProgress?: BenchProgressCallback } = {},
): Promise<TrainStepResult> {
  const batch = options.batch ?? 8;
  const repeats = options.repeats ?? 3;
  const progress = options.onProgress ?? (() => undefined);
  const results: StepResult[] = [];
  const modules = options.modules ?? [MIXED_5B, MIXED_6B];
  // Every step of every module (a warm-up and `repeats` timed ones) is a step of the whole run.
  const stepCount = modules.length * (repeats + 1);
  for (const [m, spec] of modules.entries()) {
    const tape = new Tape(engine);
    const module = new InceptionModule(engine, tape, spec, 1000);
    const x = engine.keep(engine.randomNormal([batch, spec.size, spec.size, spec.cin], { seed: 5 }));
    const r = engine.keep(engine.randomNormal([batch, spec.size, spec.size, module.cout], { seed: 6 }));
    try {
      const steps: { forward: number; backward: number; records: StepKernelRow[]; peak: number }[] = [];
      for (let i = 0; i < repeats + 1; i++) {
        progress(`${spec.name}: step ${i + 1} of ${repeats + 1}${i === 0 ? ' (warm-up)' : ''}`, { n: m * (repeats + 1) + i + 1, total: stepCount });
        await engine.sync();
        engine.pool.resetPeak();
        engine.profiler.clear();
        const wasEnabled = engine.profiler.enabled;
        engine.profiler.enabled = true;
        // The forward pass's dispatches are collected before backward starts, so the records
        // split cleanly into the two passes.
        const forwardRecords = await engine.scope(async () => {
          const y = module.forward(tape, x);
          const loss = ag.mean(tape, ag.mul(tape, y, r));
          await engine.sync();
          const count = engine.profiler.records.length;
          tape.backward(loss);
          await engine.sync();
          return count;
        });
        engine.profiler.enabled = wasEnabled;
        const peak = engine.memory().peakBytes;
        tape.zeroGrad();
        const all = engine.profiler.records.splice(0);
        engine.profiler.records.push(...all.slice(0, forwardRecords));
        const fwd = engine.profiler.summary().map((k) => ({ ...k, pass: 'forward' as const }));
        engine.profiler.clear();
        engine.profiler.records.push(...all.slice(forwardRecords));
        const bwd = engine.profiler.summary().map((k) => ({ ...k, pass: 'backward' as const }));
        engine.profiler.clear();
        const rows: StepKernelRow[] = [...fwd, ...bwd];
        if (i > 0) {
          steps.push({
            forward: rows.filter((k) => k.pass === 'forward').reduce((s, k) => s + k.ms, 0),
            backward: rows.filter((k) => k.pass === 'backward').reduce((s, k) => s + k.ms, 0),
            records: rows,
            peak,
          });
        }
      }
      const total = (s: (typeof steps)[number]) => s.forward + s.backward;
      const mid = median(steps.map(total));
      const chosen = steps.reduce((a, b) => (Math.abs(total(a) - mid) <= Math.abs(total(b) - mid) ? a : b));
      const convMs = (pass: 'forward' | 'backward') =>
        chosen.records.filter((k) => k.pass === pass && k.kernel.startsWith('conv2d')).reduce((s, k) => s + k.ms, 0);
      results.push({
        module: spec.name,
        batch,
        forwardMs: median(steps.map((s) => s.forward)),
        backwardMs: median(steps.map((s) => s.backward)),
        convBackwardOverForward: convMs('backward') / convMs('forward'),
        peakBytes: Math.max(...steps.map((s) => s.peak)),
        kernels: chosen.records,
      });
    } finally {
      tape.dispose();
      module.dispose();
      x.dispose();
      r.dispose();
    }
  }
  return { adapter: engine.adapterName, date: new Date().toISOString(), timing: engine.profiler.timing, results };
}

export function formatTrainStep(r: TrainStepResult): string {
  const lines = [`One training step (forward + backward) on ${r.adapter} · timing: ${r.timing} · ${r.date}`];
  for (const s of r.results) {
    lines.push(
      '',
      `${s.module}, batch ${s.batch}: forward ${s.forwardMs.toFixed(1)} ms, backward ${s.backwardMs.toFixed(1)} ms (median), conv backward / forward time ${s.convBackwardOverForward.toFixed(2)}, peak memory ${(s.peakBytes / 2 ** 20).toFixed(1)} MiB`,
    );
    const head = ['pass', 'op', 'kernel', 'calls', 'GPU ms', 'GFLOP/s', 'GB/s'];
    const body = s.kernels.map((k) => [k.pass, k.op, k.kernel, String(k.calls), k.ms.toFixed(2), k.gflops.toFixed(2), k.gbps.toFixed(2)]);
    const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
    const line = (cells: string[]) => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
    lines.push(line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line));
  }
  return lines.join('\n');
}
