/**
 * `incept bench ops`: the memory-bound kernels of Inception-v3 (pooling, BatchNorm, concat,
 * dropout, softmax cross-entropy, the classifier, gradient norm) at the network's shapes: GPU
 * time (timestamp median), achieved GB/s and GFLOP/s from the bytes and FLOPs each dispatch
 * declares. Memory-bound kernels are judged by GB/s; the adapter's copy bandwidth, measured in
 * the same run with a plain elementwise add, is the yardstick.
 */
import type { Engine } from '../../runtime/engine.js';
import { InceptError } from '../../runtime/errors.js';
import { measureGpuTime } from '../../runtime/timing.js';
import { add } from '../../ops/elementwise.js';
import { OP_CASES } from './cases.js';
import { matchesFilter } from '../../cli/args.js';
import type { BenchProgressCallback } from '../../cli/progress.js';

export interface OpBenchRow {
  name: string;
  kind: string;
  where: string;
  batch: number;
  kernels: string[];
  ms: number;
  msMin: number;
  msMax: number;
  bytes: number;
  flops: number;
  gbps: number;
  gflops: number;
}

export interface OpBenchResult {
  adapter: string;
  date: string;
  timing: string;
  batch: number;
  /** GB/s of a plain elementwise add of 16M floats (reads 2, writes 1) in the same run. */
  copyGbps: number;
  rows: OpBenchRow[];
}

export interface OpBenchOptions {
  batch?: number;
  repeats?: number;
  filter?: string;
  /** Each op is a step of the whole run; the bandwidth yardstick before them is a note. */
  onProgress?: BenchProgressCallback;
}

export async function runOpBench(engine: Engine, options: OpBenchOptions = {}): Promise<OpBenchResult> {
  const batch = options.batch ?? 8;
  const repeats = options.repeats ?? 7;
  const progress = options.onProgress ?? (() => undefined);
  if (!Number.isInteger(batch) || batch < 1) throw new InceptError(`bench ops: batch must be a positive integer, got ${batch}`);
  const cases = OP_CASES.filter((c) => matchesFilter(options.filter, c.name, c.kind));
  if (cases.length === 0) throw new InceptError(`bench ops: nothing matches '${options.filter}'; cases: ${OP_CASES.map((c) => c.name).join('; ')}`);
  const date = new Date().toISOString();

  progress('measuring copy bandwidth (elementwise add)');
  const copy = await engine.scope(async () => {
    const a = engine.randomNormal([1 << 24], { seed: 1 });
    const b = engine.randomNormal([1 << 24], { seed: 2 });
    return measureGpuTime(engine, 'bench ops: add', () => add(a, b), { warmup: 1, repeats: 5 });
  });
  const copyGbps = copy.bytes / copy.ms / 1e6;

  const rows: OpBenchRow[] = [];
  for (const [i, c] of cases.entries()) {
    progress(c.name, { n: i + 1, total: cases.length });
    const row = await engine.scope(async () => {
      const work = c.setup(engine, batch);
      const t = await measureGpuTime(engine, `bench ops: ${c.name}`, work, { warmup: 1, repeats });
      return {
        name: c.name,
        kind: c.kind,
        where: c.where,
        batch,
        kernels: t.kernels,
        ms: t.ms,
        msMin: t.msMin,
        msMax: t.msMax,
        bytes: t.bytes,
        flops: t.flops,
        gbps: t.bytes / t.ms / 1e6,
        gflops: t.flops / t.ms / 1e6,
      };
    });
    rows.push(row);
  }
  return { adapter: engine.adapterName, date, timing: engine.profiler.timing, batch, copyGbps, rows };
}

export function formatOpBenchTable(r: OpBenchResult): string {
  const head = ['op', 'ms (min–max)', 'GB/s', 'of add', 'GFLOP/s', 'dispatches', 'kernels', 'where'];
  const body = r.rows.map((row) => [
    row.name,
    `${row.ms.toFixed(2)} (${row.msMin.toFixed(2)}–${row.msMax.toFixed(2)})`,
    row.gbps.toFixed(2),
    `${((100 * row.gbps) / r.copyGbps).toFixed(0)}%`,
    row.gflops.toFixed(2),
    String(row.kernels.length),
    [...new Set(row.kernels.map((k) => k.replace(/\.wgsl/, '')))].join(', '),
    row.where,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [
    `Memory-bound kernels of Inception-v3, batch ${r.batch}, on ${r.adapter} · timing: ${r.timing} · ${r.date}`,
    `yardstick: elementwise add of 16M floats runs at ${r.copyGbps.toFixed(2)} GB/s ("of add" compares with it); bytes and FLOPs as each dispatch declares them`,
    '',
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...body.map(line),
  ].join('\n');
}
