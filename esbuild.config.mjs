// Builds the CLI and library for Node and the library for browsers. Kernels (.wgsl) are inlined
// as text, their include directives expanded (scripts/wgsl-include.mjs). Run: node esbuild.config.mjs [--watch]
//
// Outputs (the package's `exports` map points at them):
//   dist/index.js, dist/bench.js, dist/incept.js (the CLI) and dist/chunks/   Node
//   dist/browser/esm/index.js and its chunks/                                  browsers, for bundlers
//   dist/browser/incept.js                                                     browsers, one file
// The two chunked builds make every source module reachable from the entries an entry point of
// its own, with code splitting: each module's code then lands in its own chunk, and a bundler
// that builds an app from the package (sideEffects: false) drops the chunks the app does not
// use. One bundled file cannot be cut that way: its modules' top-level statements (the
// KernelFamily of each op, the CommonJS wrappers of protobufjs and jpeg-js, the `autograd`
// namespace object) count as side effects, and an app importing one op kept almost all of it.
// With --types it also writes the declarations (dist/types, tsc with tsconfig.types.json), as
// `npm run build` does (and so `prepare` and `npm pack`).
import * as esbuild from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { wgslIncludes } from './scripts/wgsl-include.mjs';

const root = fileURLToPath(new URL('.', import.meta.url));

/** Kernels load as text with their `// #include` lines expanded (scripts/wgsl-include.mjs). Part
 * of `common`, and of browserStubs (below) for builds that replace `common`'s plugins with that
 * one alone. */
export { wgslIncludes };

/** In the browser builds, the Node-only modules (adapter discovery with fs and Dawn; the tuning
 * file; CIFAR-10 files) are replaced by stubs. */
export const browserStubs = {
  name: 'browser-stubs',
  setup(build) {
    // test/browser/harness.ts and bench/peers/browser.ts build with `{ ...common, plugins: [browserStubs] }`.
    wgslIncludes.setup(build);
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
  plugins: [wgslIncludes],
  sourcemap: true,
  logLevel: 'warning',
  absWorkingDir: root,
};

const nodeOptions = {
  ...common,
  platform: 'node',
  target: 'node20',
  // The native Dawn binding stays a package (a dependency); the puppeteer driver is only ever
  // loaded by the tests.
  external: ['webgpu', 'puppeteer-core'],
  banner: { js: "import { createRequire as __incept_cr } from 'node:module'; const require = __incept_cr(import.meta.url);" },
};

const browserOptions = { ...common, platform: 'browser', target: 'chrome120', plugins: [browserStubs] };

/** The public entries of each build: output name (without .js) → source. */
const NODE_ENTRIES = { index: 'src/index.ts', bench: 'src/bench.ts', incept: 'src/cli/main.ts' };
const BROWSER_ENTRIES = { index: 'src/index.ts' };

/** Prefix of the per-module entry points; their outputs only re-export a chunk, and the build
 * removes those that nothing imports (see pruneModuleEntries). */
const MODULE_PREFIX = 'modules/';

/** The source modules the public entries reach, as they resolve in `options` (so a browser
 * build leaves out what its stubs replace): one entry point each. */
async function moduleEntries(options, entries) {
  const result = await esbuild.build({
    ...options,
    entryPoints: entries,
    outdir: 'unused',
    write: false,
    metafile: true,
    sourcemap: false,
    logLevel: 'silent',
  });
  const modules = {};
  for (const input of Object.keys(result.metafile.inputs)) {
    if (!/^src\/.*\.ts$/.test(input) || input.endsWith('.d.ts') || Object.values(entries).includes(input)) continue;
    modules[MODULE_PREFIX + input.slice('src/'.length, -'.ts'.length)] = input;
  }
  return modules;
}

async function chunkedBuild(options, entries, outdir) {
  return {
    ...options,
    entryPoints: { ...entries, ...(await moduleEntries(options, entries)) },
    outdir,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    metafile: true,
  };
}

export const builds = [
  await chunkedBuild(nodeOptions, NODE_ENTRIES, 'dist'),
  await chunkedBuild(browserOptions, BROWSER_ENTRIES, 'dist/browser/esm'),
  { ...browserOptions, entryPoints: { incept: 'src/index.ts' }, outdir: 'dist/browser', metafile: true },
];

/** Per-module entry outputs only re-export their chunk, and the public entries import the chunks
 * directly; those that no output imports (all but the targets of dynamic imports) are removed,
 * with their source maps. Returns the output files kept. */
function pruneModuleEntries(metafile) {
  const imported = new Set(Object.values(metafile.outputs).flatMap((o) => o.imports.map((i) => i.path)));
  const kept = new Set();
  for (const path of Object.keys(metafile.outputs)) {
    const js = path.replace(/\.map$/, '');
    const unusedModuleEntry = metafile.outputs[js]?.entryPoint !== undefined && js.includes(`/${MODULE_PREFIX}`) && !imported.has(js);
    if (unusedModuleEntry) rmSync(join(root, path), { force: true });
    else kept.add(path);
  }
  return kept;
}

/** Removes what earlier builds left in dist/ and this one did not write (chunks under old
 * hashes, entries since removed), then the folders left empty; dist/types belongs to tsc. Files
 * newer than this build's start are left alone: another build running at the same time wrote
 * them. */
function removeStale(kept, started) {
  const sweep = (dir) => {
    for (const d of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${d.name}`;
      if (path === 'dist/types') continue;
      if (d.isDirectory()) {
        sweep(path);
        if (readdirSync(join(root, path)).length === 0) rmSync(join(root, path), { recursive: true, force: true });
      } else if (!kept.has(path) && statSync(join(root, path)).mtimeMs < started) {
        rmSync(join(root, path), { force: true });
      }
    }
  };
  sweep('dist');
}

/** Builds everything, then prunes; returns the output files kept. */
export async function buildAll() {
  const started = Date.now();
  const results = await Promise.all(builds.map((b) => esbuild.build(b)));
  const kept = new Set();
  for (const r of results) for (const path of pruneModuleEntries(r.metafile)) kept.add(path);
  removeStale(kept, started);
  return kept;
}

/** The declaration files of the public entries that reference WebGPU's types. */
export const TYPE_ENTRIES = ['dist/types/src/index.d.ts', 'dist/types/src/bench.d.ts'];

/** Writes dist/types with tsc (a fresh folder: no declaration of a removed module stays). The
 * declarations use WebGPU's global types (GPUDevice, GPUBuffer, …), which @webgpu/types
 * declares; the entries reference it so that a consumer needs only to have it installed, not
 * listed in its tsconfig. */
export function buildTypes() {
  rmSync(join(root, 'dist/types'), { recursive: true, force: true });
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.types.json'], { cwd: root, stdio: 'inherit' });
  for (const file of TYPE_ENTRIES) {
    const path = join(root, file);
    writeFileSync(path, `/// <reference types="@webgpu/types" />\n${readFileSync(path, 'utf8')}`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--watch')) {
    for (const b of builds) await (await esbuild.context(b)).watch();
  } else {
    await buildAll();
    if (process.argv.includes('--types')) buildTypes();
  }
}
