// Bundles bench/matmul-variants.ts into node_modules/.cache/mmv.mjs (inside the project, so Node
// finds the native `webgpu` package), with the kernels' includes expanded as in the engine's builds.
// Run: node bench/build-matmul-variants.mjs && node node_modules/.cache/mmv.mjs
import * as esbuild from 'esbuild';
import { fileURLToPath } from 'node:url';
import { wgslIncludes } from '../scripts/wgsl-include.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
await esbuild.build({
  absWorkingDir: root,
  entryPoints: ['bench/matmul-variants.ts'],
  outfile: 'node_modules/.cache/mmv.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  plugins: [wgslIncludes],
  external: ['webgpu'],
  logLevel: 'warning',
});
