/**
 * The examples' setup step: a small model file to classify with, and a picture to classify.
 *
 *   node make-model.js [out-folder]      (default: models/)
 *
 * Writes the CIFAR-10 variant of Inception-v3 at width 0.125 (357,552 parameters, 32×32 input,
 * 10 classes) with seeded random weights, twice: as ONNX (the inference graph, what
 * `loadClassifier` reads from any exporter) and as torchvision-layout safetensors (the state dict
 * PyTorch's Inception-v3 loads). The weights are untrained, so the examples' classes are
 * arbitrary; give them a trained model file of your own to classify for real. It also writes
 * generated.png, a 64×48 colour test pattern, for machines without sample photos.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { createEngine, encodeSafetensors, exportInceptionV3Onnx, InceptionV3, torchvisionStateDict } from 'incept-gpu';

const out = process.argv[2] ?? 'models';
mkdirSync(out, { recursive: true });

const engine = await createEngine();
try {
  const model = new InceptionV3(engine, { variant: 'cifar10', width: 0.125, auxLogits: false, seed: 1 });
  try {
    // BatchNorm statistics from a batch of noise, so activations keep a normal scale through the
    // layers (with the initial statistics every class comes out at about 10%).
    const noise = engine.randomNormal([16, 32, 32, 3], { seed: 2 });
    await model.calibrate(noise);
    noise.dispose();
    const onnx = await exportInceptionV3Onnx(model);
    writeFileSync(join(out, 'cifar10-w0125.onnx'), onnx);
    // The metadata names the architecture, which the tensor shapes alone leave open.
    const safetensors = encodeSafetensors(await torchvisionStateDict(model), { format: 'pt', 'incept.variant': 'cifar10', 'incept.width': '0.125' });
    writeFileSync(join(out, 'cifar10-w0125.safetensors'), safetensors);
    console.log(`wrote ${out}/cifar10-w0125.onnx (${onnx.length} bytes) and .safetensors (${safetensors.length} bytes), adapter ${engine.adapterName}`);
  } finally {
    model.dispose();
  }
} finally {
  engine.destroy();
}

writeFileSync(join(out, 'generated.png'), testPatternPng(64, 48));
console.log(`wrote ${out}/generated.png`);

/** An RGB PNG of colour bands: red across, green down, blue in a checkerboard. */
function testPatternPng(width: number, height: number): Uint8Array {
  const rows = Buffer.alloc(height * (1 + width * 3));
  for (let y = 0; y < height; y++) {
    const row = y * (1 + width * 3); // each row starts with filter type 0 (none)
    for (let x = 0; x < width; x++) {
      const p = row + 1 + x * 3;
      rows[p] = Math.round((255 * x) / (width - 1));
      rows[p + 1] = Math.round((255 * y) / (height - 1));
      rows[p + 2] = ((x >> 3) + (y >> 3)) % 2 === 0 ? 220 : 40;
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8 bits per channel, colour type 2 (RGB), no interlace
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, pngChunk('IHDR', header), pngChunk('IDAT', deflateSync(rows)), pngChunk('IEND', Buffer.alloc(0))]);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const chunk = Buffer.alloc(8 + data.length + 4);
  chunk.writeUInt32BE(data.length, 0);
  body.copy(chunk, 4);
  chunk.writeUInt32BE(crc32(body), 8 + data.length);
  return chunk;
}

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
