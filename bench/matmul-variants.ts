/**
 * Every matmul variant side by side on the current adapter: GPU time per run from the engine
 * profiler (timestamp queries where the device has them), median of repeats, GFLOP/s table.
 *
 *   node bench/build-matmul-variants.mjs && node node_modules/.cache/mmv.mjs
 *   INCEPT_DRIVER=swiftshader node node_modules/.cache/mmv.mjs --sizes 512,1024 --repeats 7
 *
 * (The bundle must live inside the project so Node finds the native `webgpu` package; one
 * written to /tmp cannot load it.)
 *
 * Options: --sizes (N for N×N×N, or MxNxK; default 256,512,1024 and two Inception-like
 * shapes), --repeats (default 5), --variants (comma-separated; default all that apply).
 * Within a repeat the variants run one after another, so load from other processes falls on
 * all of them alike; compare numbers only within one run. Outputs start as NaN (poisoned) and
 * every run is checked against float64 dot products at sampled entries, so a kernel that
 * skipped work cannot look fast.
 */
import { createEngine, type Engine } from '../src/runtime/engine.js';
import { MATMUL_VARIANTS, matmul, matmulVariantApplies, type MatmulVariant } from '../src/ops/matmul.js';
import type { Tensor } from '../src/runtime/tensor.js';

interface Shape {
  m: number;
  n: number;
  k: number;
  label: string;
}

function parseArgs(argv: string[]): { shapes: Shape[]; repeats: number; variants: MatmulVariant[] } {
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  // 1225×64×288 and 289×192×768 are the im2col matmuls of two Inception-v3 convolutions.
  const sizes = (get('sizes') ?? '256,512,1024,1225x64x288,289x192x768').split(',');
  const shapes = sizes.map((s) => {
    const p = s.split('x').map(Number);
    const [m, n, k] = p.length === 1 ? [p[0]!, p[0]!, p[0]!] : (p as [number, number, number]);
    if (![m, n, k].every((v) => Number.isInteger(v) && v > 0)) throw new Error(`bad size '${s}': use N or MxNxK`);
    return { m, n, k, label: p.length === 1 ? `${m}³` : `${m}×${n}×${k}` };
  });
  const variants = (get('variants')?.split(',') ?? [...MATMUL_VARIANTS]) as MatmulVariant[];
  for (const v of variants) if (!MATMUL_VARIANTS.includes(v)) throw new Error(`unknown variant '${v}'; known: ${MATMUL_VARIANTS.join(', ')}`);
  return { shapes, repeats: Number(get('repeats') ?? 5), variants };
}

/** Compares sampled entries of C (corners, edges and pseudo-random ones) with float64 dot products. */
function check(a: Float32Array, b: Float32Array, c: Float32Array, s: Shape, samples: number, what: string): void {
  const { m, n, k } = s;
  const picks: [number, number][] = [
    [0, 0],
    [m - 1, n - 1],
    [0, n - 1],
    [m - 1, 0],
  ];
  for (let t = 0; picks.length < samples; t++) picks.push([(t * 7919 + 11) % m, (t * 104729 + 13) % n]);
  for (const [i, j] of picks) {
    let ref = 0;
    let mag = 0;
    for (let p = 0; p < k; p++) {
      const x = a[i * k + p]! * b[p * n + j]!;
      ref += x;
      mag += Math.abs(x);
    }
    const got = c[i * n + j]!;
    if (!(Math.abs(got - ref) <= 1e-4 * mag + 1e-6)) {
      throw new Error(`${what}: C[${i}][${j}] = ${got}, expected ${ref}; refusing to report a timing`);
    }
  }
}

/** One timed run: GPU milliseconds of the matmul dispatch, result checked. */
async function timeRun(
  engine: Engine,
  a: Tensor,
  b: Tensor,
  host: { a: Float32Array; b: Float32Array },
  s: Shape,
  variant: MatmulVariant,
  samples: number,
): Promise<number> {
  await engine.sync();
  const before = engine.profiler.records.length;
  engine.profiler.enabled = true;
  const c = matmul(a, b, { variant });
  await engine.sync();
  engine.profiler.enabled = false;
  const rec = engine.profiler.records.slice(before).find((r) => r.op === 'matmul');
  engine.profiler.records.splice(before);
  if (!rec) throw new Error(`${variant}: no timing recorded`);
  check(host.a, host.b, (await c.read()) as Float32Array, s, samples, `${variant} at ${s.label}`);
  c.dispose();
  return rec.ms;
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const { shapes, repeats, variants } = parseArgs(process.argv.slice(2));
  const engine = await createEngine({ poisonOutputs: true });
  const info = engine.adapterInfo;
  console.log(
    `adapter: ${engine.adapterName} (driver ${engine.driver}; subgroups ${engine.features.has('subgroups') ? `${info.subgroupMinSize}–${info.subgroupMaxSize} lanes` : 'no'}; timing ${engine.profiler.timing})`,
  );
  console.log(`median of ${repeats} runs per cell, variants interleaved within each repeat; GFLOP/s (ms)\n`);
  const results: { shape: Shape; cells: Map<MatmulVariant, number[]> }[] = [];
  let seed = 1;
  for (const s of shapes) {
    const runnable = variants.filter((v) => matmulVariantApplies(v, s.m, s.n, s.k, engine));
    const cells = new Map<MatmulVariant, number[]>(runnable.map((v) => [v, []]));
    await engine.scope(async () => {
      const a = engine.randomNormal([s.m, s.k], { seed: seed++ });
      const b = engine.randomNormal([s.k, s.n], { seed: seed++ });
      const host = { a: (await a.read()) as Float32Array, b: (await b.read()) as Float32Array };
      // Warm-up (pipeline creation), with a thorough check.
      for (const v of runnable) await timeRun(engine, a, b, host, s, v, 64);
      for (let r = 0; r < repeats; r++) {
        for (const v of runnable) cells.get(v)!.push(await timeRun(engine, a, b, host, s, v, 8));
      }
    });
    results.push({ shape: s, cells });
    const flops = 2 * s.m * s.n * s.k;
    const line = runnable.map((v) => `${v} ${(flops / median(cells.get(v)!) / 1e6).toFixed(2)}`).join(', ');
    console.error(`  ${s.label}: ${line}`);
  }

  const header = ['shape', ...variants];
  const rows = results.map(({ shape, cells }) => {
    const flops = 2 * shape.m * shape.n * shape.k;
    const gf = new Map([...cells].map(([v, t]) => [v, flops / median(t) / 1e6]));
    const best = Math.max(...gf.values());
    return [
      shape.label,
      ...variants.map((v) => {
        const g = gf.get(v);
        if (g === undefined) return 'n/a';
        return `${g.toFixed(2)} (${median(cells.get(v)!).toFixed(1)})${g === best ? ' *' : ''}`;
      }),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => `| ${r.map((x, i) => x.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(fmt(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(fmt(r));
  console.log('\n* = fastest in the row. n/a = the variant does not apply to that shape or device.');
  engine.destroy();
}

await main();
