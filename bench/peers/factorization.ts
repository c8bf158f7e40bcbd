/**
 * The factorization benchmark's convolutions against TensorFlow.js's WebGPU backend on the same
 * adapter: every row's full conv and its factorized pair, with the same random inputs and
 * weights in both libraries (both take NHWC activations and HWIO filters, so the very same
 * arrays are uploaded). Per round each library runs each side once, in turn, so the machine's
 * drift falls on both alike; times are GPU timestamps (the engine's profiler, TF.js's
 * `tf.time().kernelMs`), medians over rounds, and each round's ratio gives the min–max.
 * TF.js's output is compared with the engine's, so the peer doubles as a correctness oracle.
 */
import type { Engine } from '../../src/runtime/engine.js';
import { InceptError } from '../../src/runtime/errors.js';
import { matchesFilter } from '../../src/cli/args.js';
import type { Tensor } from '../../src/runtime/tensor.js';
import { measureGpuTime, median } from '../../src/runtime/timing.js';
import { conv2d } from '../../src/ops/conv2d.js';
import { convGeometry, convMacs, type ConvGeometry } from '../../src/ops/conv2d-geometry.js';
import { FACTORIZATION_PAIRS, type ConvSpec } from '../../src/bench/factorization/pairs.js';
import type { TfjsPeer } from './tfjs-node.js';
import { maxRelErr, normals, pairTimes } from './compare.js';
import type { PeerReportRow, PeerTiming } from '../../src/bench/peers-report.js';

export interface PeerRow extends PeerReportRow {
  group: 'factorization';
  environment: 'node';
  timing: 'gpu';
  /** 'full' or 'factorized'. */
  side: string;
  convs: string;
  macs: number;
  engineGflops: number;
  engineVariant: string;
  peers: Record<string, PeerTiming & { gflops: number }>;
}

export interface PeerFactorizationResult {
  adapter: string;
  date: string;
  timing: string;
  libraries: Record<string, string>;
  rows: PeerRow[];
}

export interface PeerFactorizationOptions {
  batches?: number[];
  repeats?: number;
  warmup?: number;
  filter?: string;
  onProgress?: (message: string) => void;
}

interface Conv {
  spec: ConvSpec;
  g: ConvGeometry;
  w: Float32Array;
}

export async function runPeerFactorization(engine: Engine, peer: TfjsPeer, options: PeerFactorizationOptions = {}): Promise<PeerFactorizationResult> {
  const { tf } = peer;
  const batches = options.batches ?? [1, 8];
  const repeats = options.repeats ?? 10;
  const warmup = options.warmup ?? 2;
  const progress = options.onProgress ?? (() => undefined);
  const pairs = FACTORIZATION_PAIRS.filter((p) => matchesFilter(options.filter, p.name));
  if (pairs.length === 0)
    throw new InceptError(`bench peers: no factorization pair matches '${options.filter}'; pairs: ${FACTORIZATION_PAIRS.map((p) => p.name).join('; ')}`);
  const rows: PeerRow[] = [];
  let seed = 11;
  for (const batch of batches) {
    for (const pair of pairs) {
      const xShape = [batch, pair.h, pair.w, pair.full.cin];
      const xHost = normals(
        xShape.reduce((a, b) => a * b, 1),
        seed++,
        1,
      );
      const make = (spec: ConvSpec, inShape: number[]): Conv => {
        const g = convGeometry('bench peers', inShape, [spec.kh, spec.kw, spec.cin, spec.cout], 1, spec.padding);
        return { spec, g, w: normals(spec.kh * spec.kw * spec.cin * spec.cout, seed++, Math.sqrt(2 / (spec.kh * spec.kw * spec.cin))) };
      };
      const first = make(pair.factorized[0], xShape);
      const sides: Record<string, Conv[]> = {
        full: [make(pair.full, xShape)],
        factorized: [first, make(pair.factorized[1], [batch, first.g.oh, first.g.ow, first.spec.cout])],
      };
      for (const [side, convs] of Object.entries(sides)) {
        progress(`${pair.name}, batch ${batch}, ${side}`);
        rows.push(
          await engine.scope(async () => {
            const x = engine.tensor(xHost, xShape);
            const ws = convs.map((c) => engine.tensor(c.w, [c.spec.kh, c.spec.kw, c.spec.cin, c.spec.cout]));
            const runEngine = (): Tensor => convs.reduce<Tensor>((input, c, i) => conv2d(input, ws[i]!, { padding: c.spec.padding }), x);
            const tx = tf.tensor4d(xHost, xShape as [number, number, number, number]);
            const tws = convs.map((c) => tf.tensor4d(c.w, [c.spec.kh, c.spec.kw, c.spec.cin, c.spec.cout]));
            // TF.js takes explicit padding per side, so 'same' and the 2×2 pair's uneven padding
            // are given exactly as the engine resolved them.
            const runTf = () =>
              convs.reduce<import('@tensorflow/tfjs-core').Tensor4D>(
                (input, c, i) =>
                  tf.conv2d(
                    input,
                    tws[i]!,
                    1,
                    [
                      [0, 0],
                      [c.g.padTop, c.g.padBottom],
                      [c.g.padLeft, c.g.padRight],
                      [0, 0],
                    ],
                    'NHWC',
                  ),
                tx,
              );
            try {
              // Agreement first (this also compiles both libraries' pipelines).
              const yEngine = (await runEngine().read()) as Float32Array;
              const yTf = runTf();
              const err = maxRelErr(await yTf.data(), yEngine);
              peer.checkErrors(`${pair.name}, batch ${batch}, ${side}`);
              tf.dispose(yTf);
              const engineTimes: number[] = [];
              const tfTimes: number[] = [];
              let engineVariant = '';
              for (let round = 0; round < warmup + repeats; round++) {
                const e = await measureGpuTime(engine, `${pair.name} ${side}`, runEngine, { warmup: 0, repeats: 1 });
                engineVariant = e.kernels.map((k) => k.replace(/^conv2d(_asym)?\.wgsl:/, '').replace(/^matmul\.wgsl:/, 'pointwise ')).join(' + ');
                let out: import('@tensorflow/tfjs-core').Tensor | undefined;
                const t = await tf.time(() => {
                  out = runTf();
                });
                await out!.data();
                tf.dispose(out);
                if (typeof t.kernelMs !== 'number') throw new InceptError(`TensorFlow.js gave no GPU time (${JSON.stringify(t.kernelMs)})`);
                if (round >= warmup) {
                  engineTimes.push(e.ms);
                  tfTimes.push(t.kernelMs);
                }
              }
              peer.checkErrors(`${pair.name}, batch ${batch}, ${side}`);
              const tfPaired = pairTimes(tfTimes, engineTimes);
              const macs = convs.reduce((s, c) => s + convMacs(c.g), 0);
              const engineMs = median(engineTimes);
              return {
                group: 'factorization' as const,
                environment: 'node' as const,
                timing: 'gpu' as const,
                name: pair.name,
                batch,
                side,
                convs: convs.map((c) => `${c.spec.kh}×${c.spec.kw} ${c.spec.cin}→${c.spec.cout}`).join(' → '),
                macs,
                engineMs,
                engineMsMin: Math.min(...engineTimes),
                engineMsMax: Math.max(...engineTimes),
                engineGflops: (2 * macs) / engineMs / 1e6,
                engineVariant,
                peers: {
                  'tfjs-webgpu': { ...tfPaired, gflops: (2 * macs) / tfPaired.ms / 1e6, maxRelErr: err },
                },
              };
            } finally {
              tf.dispose([tx, ...tws]);
            }
          }),
        );
        const r = rows[rows.length - 1]!;
        progress(`${pair.name}, batch ${batch}, ${side}: engine ${r.engineMs.toFixed(1)} ms, TF.js ${r.peers['tfjs-webgpu']!.ms.toFixed(1)} ms`);
      }
    }
  }
  return {
    adapter: engine.adapterName,
    date: new Date().toISOString(),
    timing: engine.profiler.timing,
    libraries: { 'tfjs-webgpu': `@tensorflow/tfjs-backend-webgpu ${peer.version}` },
    rows,
  };
}
