// Bundles the peer benchmark next to its own node_modules, so Node finds the peers there and
// the engine's `webgpu` package in the project's node_modules above. Run: node bench/peers/build.mjs
import * as esbuild from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { wgslIncludes } from '../../scripts/wgsl-include.mjs';

const here = dirname(fileURLToPath(import.meta.url));
await esbuild.build({
  entryPoints: [join(here, 'main.ts')],
  outfile: join(here, 'node_modules/.cache/peers.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Kernels with their kernels/common/ includes expanded, as the engine's own builds have them.
  plugins: [wgslIncludes],
  // onnxruntime-node is a native addon: Node loads it from the project's node_modules.
  external: ['webgpu', '@tensorflow/*', 'onnxruntime-node'],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});
