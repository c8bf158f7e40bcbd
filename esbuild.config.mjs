// Builds the CLI and library for Node and a bundle for browsers. Kernels (.wgsl) are inlined as
// text. Run: node esbuild.config.mjs [--watch]
import * as esbuild from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('.', import.meta.url));

/** In the browser bundle, the Node-only modules (adapter discovery with fs and Dawn; the tuning
 * file) are replaced by stubs. */
export const browserStubs = {
  name: 'browser-stubs',
  setup(build) {
    build.onResolve({ filter: /gpu-node\.js$/ }, () => ({ path: 'gpu-node-stub', namespace: 'stub' }));
    build.onResolve({ filter: /tuning-file\.js$/ }, () => ({ path: 'tuning-file-stub', namespace: 'stub' }));
    build.onResolve({ filter: /data\/cifar10\.js$/ }, () => ({ path: 'cifar10-stub', namespace: 'stub' }));
    build.onLoad({ filter: /^gpu-node-stub$/, namespace: 'stub' }, () => ({
      contents: "export function selectNodeAdapter() { throw new Error('Node adapter discovery is not available in the browser'); }",
      loader: 'js',
    }));
    build.onLoad({ filter: /^cifar10-stub$/, namespace: 'stub' }, () => ({
      contents:
        "export const DEFAULT_CIFAR10_DIRECTORY = '../shared/data/cifar-10-batches-bin'; export async function loadCifar10() { throw new Error('loadCifar10 reads files and is Node-only; in a browser, decode the records yourself (decodeRecords) and use BatchLoader'); }",
      loader: 'js',
    }));
    build.onLoad({ filter: /^tuning-file-stub$/, namespace: 'stub' }, () => ({
      contents: "export class FileTuningStore { constructor() { throw new Error('tuning files are Node-only; browsers use localStorage'); } }",
      loader: 'js',
    }));
  },
};

export const common = {
  bundle: true,
  format: 'esm',
  loader: { '.wgsl': 'text' },
  sourcemap: true,
  logLevel: 'warning',
  absWorkingDir: root,
};

export const builds = [
  {
    ...common,
    entryPoints: { incept: 'src/cli/main.ts', index: 'src/index.ts' },
    outdir: 'dist',
    platform: 'node',
    target: 'node20',
    // The native Dawn binding and the puppeteer driver stay as packages.
    external: ['webgpu', 'puppeteer-core'],
    banner: { js: "import { createRequire as __incept_cr } from 'node:module'; const require = __incept_cr(import.meta.url);" },
  },
  {
    ...common,
    entryPoints: { incept: 'src/index.ts' },
    outdir: 'dist/browser',
    platform: 'browser',
    target: 'chrome120',
    plugins: [browserStubs],
  },
];

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--watch')) {
    for (const b of builds) await (await esbuild.context(b)).watch();
  } else {
    await Promise.all(builds.map((b) => esbuild.build(b)));
  }
}
