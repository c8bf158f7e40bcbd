#!/usr/bin/env node
// Checks the npm package as a user gets it: builds and packs it, installs the tarball into a
// fresh project outside the checkout, and there
//   - lists what the tarball holds (dist, bin, types, README, LICENSE; no tests, sources or maps),
//   - measures the tarball, its unpacked size and the install size (incept-gpu and its dependencies),
//   - checks that dist loads no package it does not declare as a dependency,
//   - type-checks TypeScript consumers (the examples and README's snippets) with --strict under
//     "nodenext" and "bundler",
//   - measures the bundle cost of a minimal import with esbuild and fails above BUNDLE_BUDGET,
//   - runs the `incept` command and every example from the installed package: the Node ones
//     directly, the browser page in headless Chromium (and the minimal bundle there too).
// Run: npm run pack:check [-- --keep]   (--keep leaves the temporary project for a look)
// CI runs it after npm test; it needs the registry for typescript, @types/node and @webgpu/types
// (the versions the checkout uses; npm's cache serves them offline after the first run) and takes
// about 1.5 minutes on 2 cores.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { builtinModules, createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { snippetModule, typescriptSnippets } from './readme-snippets.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep');

/** The most a bundle of `import { createEngine, add } from 'incept-gpu'` may weigh, minified,
 * for browsers and for Node (measured 269 KB and 275 KB; before the package was made
 * tree-shakable, 617 KB). Most of it is wgsl_reflect (the engine reflects every kernel's bindings). */
const BUNDLE_BUDGET = 300_000;
/** A wait for Chromium that has run this long has hung (the page itself takes seconds). */
const BROWSER_WAIT_MS = 10 * 60_000;
/** Sample photos for the classify examples, when the shared data is there; make-model.js
 * also writes a generated picture, so the examples run without them. */
const SAMPLES = join(root, '..', 'shared', 'data', 'imagenet-sample');

const repoRequire = createRequire(join(root, 'package.json'));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const installedVersion = (name) => JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version;

const kb = (bytes) => `${(bytes / 1000).toFixed(0)} KB`;
const mb = (bytes) => `${(bytes / 1e6).toFixed(2)} MB`;
const step = (title) => console.log(`\n== ${title}`);
const failures = [];
const fail = (message) => {
  failures.push(message);
  console.log(`FAIL: ${message}`);
};

/** Runs a command, streaming its output; throws on a non-zero exit. */
function run(command, args, cwd) {
  console.log(`$ ${command} ${args.join(' ')}${cwd === root ? '' : `   (in ${cwd})`}`);
  execFileSync(command, args, { cwd, stdio: 'inherit' });
}

/** Runs a Node script, echoes its output and returns its stdout; records a failure on a non-zero
 * exit (and returns '') instead of throwing, so every example gets its turn. */
function runExample(name, args, cwd) {
  console.log(`$ node ${args.join(' ')}`);
  const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8' });
  const output = `${r.stdout}${r.stderr}`;
  // Dawn's two "artificially reduced" warnings on software adapters are noise here.
  process.stdout.write(
    output
      .split('\n')
      .filter((l) => !/artificially reduced/.test(l))
      .join('\n'),
  );
  if (r.status !== 0) fail(`${name} exited with ${r.status ?? r.signal}`);
  return r.status === 0 ? r.stdout : '';
}

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath ?? d.path, d.name));
}

const sizeOf = (dir) => filesUnder(dir).reduce((sum, f) => sum + statSync(f).size, 0);

// ---------------------------------------------------------------------------------------------
step('build and pack');
run('npm', ['run', 'build'], root);
const work = mkdtempSync(join(tmpdir(), 'incept-pack-'));
const packed = JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: root, encoding: 'utf8' }))[0];
const tarball = join(work, packed.filename);
const paths = packed.files.map((f) => f.path);
console.log(`${packed.filename}: ${mb(packed.size)} tarball, ${mb(packed.unpackedSize)} unpacked, ${packed.entryCount} files`);

const required = [
  'package.json',
  'README.md',
  'LICENSE',
  'bin/incept.js',
  'dist/index.js',
  'dist/bench.js',
  'dist/incept.js',
  'dist/browser/incept.js',
  'dist/browser/esm/index.js',
  'dist/types/src/index.d.ts',
  'dist/types/src/bench.d.ts',
];
for (const path of required) if (!paths.includes(path)) fail(`the tarball lacks ${path}`);
const stray = paths.filter((p) => p.endsWith('.map') || /^(src|test|bench|scripts|examples|kernels|reports|runs)\//.test(p));
if (stray.length > 0)
  fail(`the tarball holds files users do not need: ${stray.slice(0, 5).join(', ')}${stray.length > 5 ? ` and ${stray.length - 5} more` : ''}`);

// ---------------------------------------------------------------------------------------------
step('install into a fresh project');
const project = join(work, 'consumer');
mkdirSync(project);
writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'incept-gpu-consumer', private: true, type: 'module' }, null, 2));
run('npm', ['install', '--no-audit', '--no-fund', tarball], project);
const modules = join(project, 'node_modules');
const installBytes = sizeOf(modules);
const byPackage = readdirSync(modules)
  .filter((n) => !n.startsWith('.'))
  .flatMap((n) => (n.startsWith('@') ? readdirSync(join(modules, n)).map((m) => `${n}/${m}`) : [n]))
  .map((n) => [n, sizeOf(join(modules, n))])
  .sort((a, b) => b[1] - a[1]);
console.log(
  `install size: ${mb(installBytes)} in ${byPackage.length} packages (${byPackage
    .slice(0, 4)
    .map(([n, s]) => `${n} ${mb(s)}`)
    .join(', ')}, …)`,
);
const installed = join(modules, 'incept-gpu');

// What dist imports, statically or dynamically, must be Node's own or a declared dependency.
const declared = new Set(Object.keys(pkg.dependencies ?? {}));
const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const undeclared = new Set();
for (const file of filesUnder(join(installed, 'dist')).filter((f) => f.endsWith('.js'))) {
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\b__require\(\s*)["']([@\w][\w@./:-]*)["']/g)) {
    const spec = m[1];
    const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
    if (!builtins.has(spec) && !builtins.has(name) && !declared.has(name)) undeclared.add(`${name} (${relative(installed, file)})`);
  }
}
if (undeclared.size > 0) fail(`dist loads packages that are not dependencies: ${[...undeclared].join(', ')}`);
else console.log(`dist loads no undeclared package; dependencies: ${[...declared].join(', ')}`);

// ---------------------------------------------------------------------------------------------
step('type-check the examples as a TypeScript consumer (--strict, nodenext and bundler)');
const tools = ['typescript', '@types/node', '@webgpu/types'].map((n) => `${n}@${installedVersion(n)}`);
run('npm', ['install', '--no-audit', '--no-fund', '--save-dev', ...tools], project);
cpSync(join(root, 'examples'), project, { recursive: true, filter: (src) => !/[/\\](build|models)$/.test(src) && !src.endsWith('.gitignore') });
// The prebuilt browser file, by its subpath, as a bundler user imports it.
writeFileSync(
  join(project, 'browser-subpath.ts'),
  "import { createEngine, type Engine } from 'incept-gpu/browser';\nexport const engine: Engine = await createEngine();\n",
);
writeFileSync(
  join(project, 'tsconfig.bundler.json'),
  JSON.stringify({ extends: './tsconfig.json', compilerOptions: { module: 'esnext', moduleResolution: 'bundler', noEmit: true } }, null, 2),
);
// README's TypeScript snippets, each a module of its own, compiled with the examples against the
// installed declarations (test/readme-snippets.test.ts checks them against the sources).
const snippets = typescriptSnippets(readFileSync(join(root, 'README.md'), 'utf8')).filter((s) => s.skip === undefined);
for (const s of snippets) writeFileSync(join(project, `readme-snippet-line-${s.line}.ts`), snippetModule(s));
console.log(`${snippets.length} README snippets (files readme-snippet-line-N.ts, N the fence's line in README.md)`);
const tsc = join(project, 'node_modules', 'typescript', 'bin', 'tsc');
for (const [label, config] of [
  ['nodenext (and emit the examples)', 'tsconfig.json'],
  ['bundler', 'tsconfig.bundler.json'],
]) {
  console.log(`tsc --strict, ${label}`);
  const r = spawnSync(process.execPath, [tsc, '-p', config, '--strict'], { cwd: project, encoding: 'utf8' });
  process.stdout.write(r.stdout + r.stderr);
  if (r.status !== 0) fail(`the consumer does not type-check under ${label}`);
}

// ---------------------------------------------------------------------------------------------
step('bundle cost of a minimal import (esbuild, minified)');
const esbuild = await import(pathToFileURL(repoRequire.resolve('esbuild')).href);
writeFileSync(
  join(project, 'minimal.js'),
  "import { createEngine, add } from 'incept-gpu';\nconst engine = await createEngine();\nconsole.log(`1 + 2 = ${(await add(engine.tensor([1]), engine.tensor([2])).read())[0]}`);\n",
);
writeFileSync(join(project, 'everything.js'), "import * as incept from 'incept-gpu';\nconsole.log(Object.keys(incept).length);\n");
const bundleCost = {};
for (const platform of ['browser', 'node']) {
  for (const entry of ['minimal', 'everything']) {
    const result = await esbuild.build({
      absWorkingDir: project,
      entryPoints: [`${entry}.js`],
      bundle: true,
      minify: true,
      format: 'esm',
      platform,
      external: ['webgpu'],
      write: false,
      logLevel: 'warning',
    });
    const code = result.outputFiles[0].contents;
    bundleCost[`${entry}, ${platform}`] = { bytes: code.length, gzip: gzipSync(code, { level: 9 }).length };
    // The tree-shaken browser bundle runs in Chromium below, from a page of its own.
    if (entry === 'minimal' && platform === 'browser') writeFileSync(join(project, 'minimal.bundle.js'), code);
  }
}
for (const [what, { bytes, gzip }] of Object.entries(bundleCost)) console.log(`${what}: ${kb(bytes)} (${kb(gzip)} gzipped)`);
for (const platform of ['browser', 'node']) {
  const { bytes } = bundleCost[`minimal, ${platform}`];
  if (bytes > BUNDLE_BUDGET) fail(`a minimal import costs ${kb(bytes)} for ${platform}, over the budget of ${kb(BUNDLE_BUDGET)}`);
}

// ---------------------------------------------------------------------------------------------
step('the incept command from the installed package');
const incept = join(project, 'node_modules', '.bin', 'incept');
const version = execFileSync(incept, ['--version'], { cwd: project, encoding: 'utf8' }).trim();
if (version !== pkg.version) fail(`incept --version printed ${version}, expected ${pkg.version}`);
const summary = execFileSync(incept, ['summary', '--cifar10', '--width', '0.125'], { cwd: project, encoding: 'utf8' });
console.log(summary.trim().split('\n').slice(-2).join('\n'));
if (!/total parameters/.test(summary)) fail('incept summary printed no parameter count');

// ---------------------------------------------------------------------------------------------
step('the Node examples');
const images = join(project, 'images');
mkdirSync(images);
const samples = existsSync(SAMPLES)
  ? readdirSync(SAMPLES)
      .filter((f) => /\.jpe?g$/i.test(f))
      .slice(0, 2)
  : [];
for (const f of samples) cpSync(join(SAMPLES, f), join(images, f));
if (samples.length === 0) console.log(`(no sample photos at ${SAMPLES}: the examples classify the generated picture only)`);
const photos = ['models/generated.png', ...samples.map((f) => `images/${f}`)];

runExample('make-model', ['build/make-model.js', 'models'], project);
for (const model of ['models/cifar10-w0125.onnx', 'models/cifar10-w0125.safetensors']) {
  const out = runExample(`classify ${model}`, ['build/classify.js', model, ...photos], project);
  const classified = photos.filter((p) => new RegExp(`^${p.split('/').pop().replace(/\./g, '\\.')}: \\w`, 'm').test(out));
  if (out && classified.length !== photos.length) fail(`classify ${model} printed results for ${classified.length} of ${photos.length} images`);
}
// The input convention: the file's default (CIFAR-10 variant: imagenet), then chosen.
for (const [convention, expected] of [
  [undefined, 'imagenet'],
  ['inception', 'inception'],
]) {
  const args = ['build/pretrained.js', 'models/cifar10-w0125.safetensors', photos.at(-1), ...(convention ? [convention] : [])];
  const out = runExample(`pretrained ${convention ?? '(default convention)'}`, args, project);
  if (out && !new RegExp(`^input convention: ${expected} `, 'm').test(out))
    fail(`pretrained ${convention ?? ''} did not print 'input convention: ${expected}'`);
  if (out && !/^\S+: \w+ \d/m.test(out)) fail(`pretrained ${convention ?? ''} printed no classes`);
}
const graphOut = runExample('onnx-graph', ['build/onnx-graph.js'], project);
if (graphOut && !/largest relative difference from the plain-JavaScript forward/.test(graphOut)) fail('onnx-graph printed no comparison');
const shareOut = runExample('share-device', ['build/share-device.js'], project);
if (shareOut && !/^share-device: PASS$/m.test(shareOut)) fail('share-device printed no PASS line');
const customOut = runExample('custom-kernel', ['build/custom-kernel.js'], project);
if (customOut && !/^PASS: depthwise 3×3 matches the float64 reference/m.test(customOut)) fail('custom-kernel printed no PASS line');
if (customOut && !/built-in conv2d on the dense weight .*: \d+\.\d+ ms/.test(customOut)) fail('custom-kernel printed no timing against conv2d');
const factorizationOut = runExample('factorization', ['build/factorization.js'], project);
if (factorizationOut && !/Mixed_6b 7×7 \(c7=128\): factorized \/ full = \d/.test(factorizationOut)) fail('factorization printed no measured ratio');
// Its HTML report inlines Chart.js, which the package reads from node_modules at run time.
const report = join(project, 'factorization.html');
if (factorizationOut && !(existsSync(report) && /Chart\.js v\d/.test(readFileSync(report, 'utf8'))))
  fail('factorization.html is missing or has no Chart.js inlined');

// ---------------------------------------------------------------------------------------------
step('the browser example and the minimal bundle in headless Chromium');
writeFileSync(
  join(project, 'minimal.html'),
  '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="minimal.bundle.js"></script>',
);
await runInChromium(project, photos);

// ---------------------------------------------------------------------------------------------
step('summary');
console.log(
  `tarball ${mb(packed.size)}, unpacked ${mb(packed.unpackedSize)}, ${packed.entryCount} files; install size ${mb(installBytes)} (${byPackage.length} packages)`,
);
console.log(
  `minimal import, minified: browser ${kb(bundleCost['minimal, browser'].bytes)}, Node ${kb(bundleCost['minimal, node'].bytes)} (budget ${kb(BUNDLE_BUDGET)}); everything: ${kb(bundleCost['everything, browser'].bytes)}`,
);
if (keep || failures.length > 0) console.log(`the temporary project is at ${project}`);
else rmSync(work, { recursive: true, force: true });
if (failures.length > 0) {
  console.log(`\npack check failed:\n${failures.map((f) => `- ${f}`).join('\n')}`);
  process.exit(1);
}
console.log('pack check passed');

/** Serves the project folder on 127.0.0.1 (WebGPU needs an http origin) and opens, in Chromium,
 * the example page (naming the model and pictures in its address; it fails on an error state, a
 * page error or a missing result line), then the page of the minimal bundle (which must log
 * 1 + 2 = 3). */
async function runInChromium(dir, pictures) {
  const types = {
    '.html': 'text/html; charset=utf-8',
    '.js': 'text/javascript; charset=utf-8',
    '.png': 'image/png',
    '.jpg': 'image/jpeg',
    '.jpeg': 'image/jpeg',
  };
  const server = createServer((req, res) => {
    const path = resolve(dir, `.${decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)}`);
    if (!path.startsWith(dir + sep) || !existsSync(path) || !statSync(path).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': types[extname(path).toLowerCase()] ?? 'application/octet-stream' });
    createReadStream(path).pipe(res);
  });
  await new Promise((ready) => server.listen(0, '127.0.0.1', ready));
  const { CHROMIUM_ARGS } = await loadChromiumArgs();
  const { default: puppeteer } = await import(pathToFileURL(repoRequire.resolve('puppeteer-core')).href);
  const profile = mkdtempSync(join(tmpdir(), 'incept-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: [...CHROMIUM_ARGS, `--user-data-dir=${profile}`],
  });
  try {
    const page = await browser.newPage();
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()));
    const query = `model=../models/cifar10-w0125.onnx&images=${pictures.map((p) => `../${p}`).join(',')}`;
    const url = `http://127.0.0.1:${server.address().port}/browser/index.html?${query}`;
    console.log(`open ${url}`);
    await page.goto(url);
    await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state ?? ''), { timeout: BROWSER_WAIT_MS });
    const state = await page.evaluate(() => document.body.dataset.state);
    const text = await page.evaluate(() => document.getElementById('output')?.textContent ?? '');
    console.log(text);
    if (state !== 'done') fail(`the browser example ended in state '${state}'`);
    if (pageErrors.length > 0) fail(`the browser example's page reported errors: ${pageErrors.join('; ')}`);
    const lines = pictures.filter((p) => text.includes(`${p.split('/').pop()}: `));
    if (state === 'done' && lines.length !== pictures.length) fail(`the browser example showed results for ${lines.length} of ${pictures.length} images`);

    const minimal = await browser.newPage();
    const logged = new Promise((done) => minimal.on('console', (m) => m.text().startsWith('1 + 2 = ') && done(m.text())));
    minimal.on('pageerror', (e) => pageErrors.push(e.message));
    await minimal.goto(`http://127.0.0.1:${server.address().port}/minimal.html`);
    let timer;
    const sum = await Promise.race([logged, new Promise((done) => (timer = setTimeout(() => done('(no answer)'), BROWSER_WAIT_MS)))]);
    clearTimeout(timer);
    console.log(`minimal bundle in Chromium: ${sum}`);
    if (sum !== '1 + 2 = 3') fail(`the minimal browser bundle printed ${sum}${pageErrors.length ? ` (${pageErrors.join('; ')})` : ''}`);
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
    server.closeAllConnections();
    server.close();
  }
}

/** The Chromium flags the project's tests use (src/serve/chromium.ts), compiled on the fly. */
async function loadChromiumArgs() {
  const { transform } = await import(pathToFileURL(repoRequire.resolve('esbuild')).href);
  const { code } = await transform(readFileSync(join(root, 'src', 'serve', 'chromium.ts'), 'utf8'), { loader: 'ts', format: 'esm' });
  return import(`data:text/javascript,${encodeURIComponent(code)}`);
}
