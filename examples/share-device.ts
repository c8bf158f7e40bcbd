/**
 * One GPUDevice shared by the engine and plain WebGPU code, with no copies between them:
 *   1. this file requests the device itself (deviceDescriptorFor asks for the limits and
 *      features the engine's kernels need) and fills a buffer with its own compute shader;
 *   2. the engine wraps that buffer as a tensor (wrapGpuBuffer) and runs a fully connected layer
 *      with ReLU on it (linear);
 *   3. this file copies the engine's output buffer (gpuBuffer(), which submits the engine's work
 *      first) into a buffer of its own and reads it, checking it against plain JavaScript.
 * The same calls put the engine beside TensorFlow.js, ONNX Runtime Web or a renderer on one device.
 *
 *   node share-device.js
 */
import { createEngine, deviceDescriptorFor, linear, selectAdapter } from 'incept-gpu';

const BATCH = 5,
  IN = 7,
  OUT = 3;

// selectAdapter finds an adapter in Node (Dawn, with a software driver if there is no GPU) or
// the browser (navigator.gpu). `gpu` must stay referenced while the device is in use in Node.
const { gpu, adapter } = await selectAdapter();
const device = await adapter.requestDevice(deviceDescriptorFor(adapter));

// Plain WebGPU: x[i] = (i mod 11) / 4 - 1, written by our own compute pass.
const xBuffer = device.createBuffer({
  label: 'x (ours)',
  size: BATCH * IN * 4,
  usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
});
const fill = device.createComputePipeline({
  layout: 'auto',
  compute: {
    module: device.createShaderModule({
      code: `@group(0) @binding(0) var<storage, read_write> x: array<f32>;
        @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) {
          if (id.x < arrayLength(&x)) { x[id.x] = f32(id.x % 11u) * 0.25 - 1.0; }
        }`,
    }),
    entryPoint: 'main',
  },
});
const encoder = device.createCommandEncoder();
const pass = encoder.beginComputePass();
pass.setPipeline(fill);
pass.setBindGroup(0, device.createBindGroup({ layout: fill.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: xBuffer } }] }));
pass.dispatchWorkgroups(Math.ceil((BATCH * IN) / 64));
pass.end();
device.queue.submit([encoder.finish()]); // submitted before the engine's work, so it runs first

// The engine on the same device: it neither destroys the device nor replaces its error handler.
const engine = await createEngine({ device });
const weights = Float32Array.from({ length: IN * OUT }, (_, i) => Math.cos(i) / 2);
const bias = Float32Array.from({ length: OUT }, (_, i) => i / 10 - 0.1);
const x = engine.wrapGpuBuffer(xBuffer, [BATCH, IN]); // no copy: the tensor reads our buffer
const y = engine.scope(() => linear(x, engine.tensor(weights, [IN, OUT]), engine.tensor(bias), { relu: true }));
const yBuffer = await y.gpuBuffer(); // the engine's work is submitted; the buffer is ours to read

// Plain WebGPU again: copy the engine's output into a mappable buffer of our own and read it.
const readback = device.createBuffer({ size: y.byteLength, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
const copy = device.createCommandEncoder();
copy.copyBufferToBuffer(yBuffer, 0, readback, 0, y.byteLength);
device.queue.submit([copy.finish()]);
await readback.mapAsync(GPUMapMode.READ);
const got = new Float32Array(readback.getMappedRange().slice(0));
readback.unmap();

// The same layer in plain JavaScript (float64).
let worst = 0;
for (let b = 0; b < BATCH; b++) {
  for (let o = 0; o < OUT; o++) {
    let s = bias[o]!;
    for (let i = 0; i < IN; i++) s += (((b * IN + i) % 11) / 4 - 1) * weights[i * OUT + o]!;
    const want = Math.max(0, s);
    worst = Math.max(worst, Math.abs(got[b * OUT + o]! - want) / Math.max(1, Math.abs(want)));
  }
}
// float32 sums of 7 products against float64: 1e-5 is room for rounding.
console.log(`largest relative difference from plain JavaScript: ${worst.toExponential(2)}`);

y.dispose();
x.dispose(); // our buffer stays ours: the engine neither pools nor destroys it
engine.destroy(); // frees the engine's buffers only; the device lives on
xBuffer.destroy();
readback.destroy();
device.destroy();
void gpu;
if (!(worst < 1e-5)) {
  console.error(`share-device: FAIL (${worst} > 1e-5)`);
  process.exit(1);
}
console.log('share-device: PASS');
