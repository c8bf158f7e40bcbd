/**
 * A kernel of your own: a depthwise 3×3 convolution (NHWC, 'same' padding), which the package
 * has no op for, written in WGSL in two forms (one output per invocation, and four channels per
 * invocation as vec4). It shows
 *   - defineKernel: compiled when defined, so a WGSL mistake throws there with line and column;
 *   - kernel.dispatch: bindings by their WGSL names, checked against the reflected WGSL;
 *   - defineVariants: the two forms measured on this adapter, the faster kept in the tuning store;
 *   - a check against plain JavaScript (float64), and GPU timing against the built-in conv2d
 *     doing the same job with a dense weight that is zero off the diagonal.
 *
 *   node custom-kernel.js
 */
import { anchor, conv2d, createEngine, defineKernel, defineVariants, KernelCompileError, measureGpuTime, type Tensor } from 'incept-gpu';

const N = 1,
  H = 56,
  W = 56,
  C = 32;

// One invocation per output element; the flat index is folded into y past the grid's x limit
// (engine.grid1d), so any size fits.
const depthwiseWgsl = /* wgsl */ `
struct Shape { n: u32, h: u32, w: u32, c: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weights: array<f32>;    // [3, 3, C]
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> shape: Shape;
override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * WG;
  if (i >= shape.n * shape.h * shape.w * shape.c) { return; }
  let ch = i % shape.c;
  let px = (i / shape.c) % shape.w;
  let py = (i / (shape.c * shape.w)) % shape.h;
  let b = i / (shape.c * shape.w * shape.h);
  var acc = 0.0;
  for (var ky = 0u; ky < 3u; ky++) {
    let sy = i32(py + ky) - 1;
    if (sy < 0 || sy >= i32(shape.h)) { continue; }
    for (var kx = 0u; kx < 3u; kx++) {
      let sx = i32(px + kx) - 1;
      if (sx < 0 || sx >= i32(shape.w)) { continue; }
      acc += x[((b * shape.h + u32(sy)) * shape.w + u32(sx)) * shape.c + ch] * weights[(ky * 3u + kx) * shape.c + ch];
    }
  }
  y[i] = acc;
}`;
// The same over vec4s: four channels per invocation (C a multiple of 4; shape.c counts vec4s).
const depthwiseVec4Wgsl = depthwiseWgsl.replace(/array<f32>/g, 'array<vec4<f32>>').replace('var acc = 0.0;', 'var acc = vec4<f32>(0.0);');

/** Seeded values in [-1, 1). */
function random(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

/** The depthwise convolution in plain JavaScript, in float64. */
function reference(x: Float32Array, w: Float32Array): Float64Array {
  const y = new Float64Array(N * H * W * C);
  for (let b = 0; b < N; b++)
    for (let py = 0; py < H; py++)
      for (let px = 0; px < W; px++)
        for (let ch = 0; ch < C; ch++) {
          let acc = 0;
          for (let ky = 0; ky < 3; ky++)
            for (let kx = 0; kx < 3; kx++) {
              const sy = py + ky - 1,
                sx = px + kx - 1;
              if (sy >= 0 && sy < H && sx >= 0 && sx < W) acc += x[((b * H + sy) * W + sx) * C + ch]! * w[(ky * 3 + kx) * C + ch]!;
            }
          y[((b * H + py) * W + px) * C + ch] = acc;
        }
  return y;
}

function relativeError(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  let err = 0,
    scale = 0;
  for (let i = 0; i < ref.length; i++) {
    err = Math.max(err, Math.abs(got[i]! - ref[i]!));
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return Number.isFinite(err) ? err / scale : Infinity;
}

const engine = await createEngine();
console.log(`adapter: ${engine.adapterName}`);

// A mistake in WGSL throws at definition, with the compiler's line and column.
try {
  await defineKernel(engine, { name: 'typo', code: depthwiseWgsl.replace('let ch = i % shape.c;', 'let ch: f32 = i % shape.c;') });
} catch (e) {
  if (!(e instanceof KernelCompileError)) throw e;
  console.log(`a broken kernel throws at definition:\n${e.message.replace(/^/gm, '  ')}`);
}

const scalar = await defineKernel(engine, { name: 'depthwise3x3', code: depthwiseWgsl });
const vec4 = await defineKernel(engine, { name: 'depthwise3x3_vec4', code: depthwiseVec4Wgsl });

interface Problem {
  x: Tensor;
  w: Tensor;
  y: Tensor;
}
const flops = 2 * 9 * N * H * W * C;
const depthwise = defineVariants(engine, {
  name: 'depthwise3x3',
  variants: {
    scalar: (p: Problem) =>
      scalar.dispatch({
        bindings: { x: p.x, weights: p.w, y: p.y, shape: { n: N, h: H, w: W, c: C } },
        workgroups: engine.grid1d(N * H * W * C, 64),
        cost: { flops },
      }),
    vec4: (p: Problem) =>
      vec4.dispatch({
        bindings: { x: p.x, weights: p.w, y: p.y, shape: { n: N, h: H, w: W, c: C / 4 } },
        workgroups: engine.grid1d((N * H * W * C) / 4, 64),
        cost: { flops },
      }),
  },
  kernels: [scalar, vec4],
  // Problems with the same channels and a similar pixel count share one measurement.
  key: (p) => ({ c: p.x.shape[3]!, pixels: anchor(p.x.shape[0]! * p.x.shape[1]! * p.x.shape[2]!) }),
});

const xs = random(N * H * W * C, 1);
const ws = random(9 * C, 2);
const x = engine.tensor(xs, [N, H, W, C]);
const w = engine.tensor(ws, [3, 3, C]);
const problem: Problem = { x, w, y: engine.empty([N, H, W, C]) };

// The first run on this adapter measures both forms (later runs read the stored choice).
const measuredBefore = depthwise.record(problem) !== undefined;
await depthwise.run(problem);
const record = depthwise.record(problem)!;
const times = Object.entries(record.ms)
  .map(([v, ms]) => `${v} ${ms.toFixed(3)} ms`)
  .join(', ');
console.log(`variants (${measuredBefore ? 'stored from an earlier run' : 'measured now'}): ${times} → ${record.variant}`);

const ref = reference(xs, ws);
const err = relativeError(await problem.y.read(), ref);
if (!(err < 1e-5)) throw new Error(`depthwise3x3 differs from the float64 reference: relative error ${err}`);
console.log(`PASS: depthwise 3×3 matches the float64 reference (relative error ${err.toExponential(1)}, ${ref.length} outputs)`);

// The built-in conv2d computes the same with a dense [3, 3, C, C] weight, zero off the diagonal:
// C times the multiply-adds.
const dense = new Float32Array(9 * C * C);
for (let k = 0; k < 9; k++) for (let c = 0; c < C; c++) dense[(k * C + c) * C + c] = ws[k * C + c]!;
const wDense = engine.tensor(dense, [3, 3, C, C]);
const builtIn = conv2d(x, wDense, { padding: 'same' });
const errBuiltIn = relativeError(await builtIn.read(), ref);
if (!(errBuiltIn < 1e-4)) throw new Error(`conv2d differs from the float64 reference: relative error ${errBuiltIn}`);
builtIn.dispose();

const custom = await measureGpuTime(engine, 'depthwise3x3', () => depthwise.runStored(problem), { warmup: 1, repeats: 5 });
const library = await measureGpuTime(engine, 'conv2d', () => conv2d(x, wDense, { padding: 'same' }), { warmup: 1, repeats: 5 });
const gflops = (s: { flops: number; ms: number }) => (s.ms > 0 ? s.flops / s.ms / 1e6 : 0).toFixed(2);
console.log(`GPU time, median of ${custom.runs} (${custom.timing}):`);
console.log(`  custom ${custom.kernels.join(' + ')}: ${custom.ms.toFixed(3)} ms (${gflops(custom)} GFLOP/s)`);
console.log(`  built-in conv2d on the dense weight (${C}× the multiply-adds): ${library.ms.toFixed(3)} ms (${gflops(library)} GFLOP/s)`);
const ratio = library.ms / custom.ms;
console.log(`  the custom kernel is ${ratio >= 1 ? `${ratio.toFixed(1)}× faster than` : `${(1 / ratio).toFixed(1)}× slower than`} the built-in conv2d here`);
engine.destroy();
