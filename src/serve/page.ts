/**
 * The page `incept serve` hands out: pick or drop an image and a model file (torchvision
 * safetensors, ONNX, or a TF.js model.json selected together with its shards), and see the top
 * five classes and the GPU time of every layer, all computed in the browser with WebGPU by the
 * browser bundle (served as /incept.js). Chart.js comes from /chart.js, as the reports inline it.
 *
 * With `incept serve --weights FILE` the server names that model (ServePageOptions.model) and the
 * page fetches and loads it as it opens (state 'ready'), so picking an image classifies at once;
 * without it the page says how to get a model. The image preview stays hidden until an image
 * is chosen. A 10-class CIFAR-10 variant gets CIFAR-10's class names.
 *
 * Everything user-controlled (file names, labels, error messages) reaches the page through
 * textContent, never innerHTML; the server-side values are escaped or embedded with
 * jsonForScript. The page's state is mirrored in `body[data-state]` (idle, loading, running,
 * done, error) and `window.__inceptServe`, so scripts and tests can tell where it is.
 */
import { CHART_PAGE_PRELUDE, escapeHtml, jsonForScript } from '../io/html-report.js';
import { CIFAR10_LABELS } from '../api/labels.js';

/** The model the server hands out (`incept serve --weights`): the model file first, then a TF.js
 * model's shards, each fetched from `url` and named `name` for loadClassifier. */
export interface ServedModelInfo {
  format: string;
  files: { name: string; url: string; bytes: number }[];
}

export interface ServePageOptions {
  /** ImageNet labels to name the classes of 1000-class models with, if any. */
  labels?: readonly string[];
  /** Shown in the footer, e.g. '875 KB (210 KB gzip)'. */
  bundleSize?: string;
  version?: string;
  /** A model the page loads as it opens. */
  model?: ServedModelInfo;
}

const STYLE = String.raw`
  [hidden] { display: none !important; }
  :root { color-scheme: light dark; --accent: #2f6fdf; --muted: #777; --bad: #c0392b; }
  body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; margin: 0 auto; max-width: 980px; padding: 1.2rem; }
  h1 { font-size: 1.35rem; margin: 0 0 .3rem; }
  .muted { color: var(--muted); font-size: .9rem; }
  #drop { border: 2px dashed var(--muted); border-radius: 10px; padding: 1rem 1.2rem; margin: 1rem 0; }
  #drop.over { border-color: var(--accent); background: rgba(47, 111, 223, .08); }
  #drop label { display: block; margin: .45rem 0; }
  #drop label span { display: inline-block; min-width: 8.5rem; }
  #error { color: var(--bad); white-space: pre-wrap; border-left: 4px solid var(--bad); padding: .4rem .8rem; margin: 1rem 0; }
  #result { display: grid; grid-template-columns: minmax(160px, 260px) 1fr; gap: 1.2rem; align-items: start; }
  #preview { max-width: 100%; border-radius: 6px; }
  table { border-collapse: collapse; width: 100%; }
  td { padding: .25rem .4rem; vertical-align: middle; }
  td.p { text-align: right; font-variant-numeric: tabular-nums; width: 5.5rem; }
  .bar { height: .8rem; background: var(--accent); border-radius: 3px; min-width: 1px; }
  #chart-box { position: relative; margin-top: 1rem; }
  footer { margin-top: 2rem; }
  #model-help { border-left: 4px solid var(--accent); padding: .4rem .8rem; margin: 1rem 0; }
  #model-help code { font-size: .85rem; }
`;

/** The page's own script (a module importing the browser bundle). Plain JavaScript. */
const SCRIPT = String.raw`
import { createEngine, loadClassifier, decodeImageAsync, parseLabels, labelsForClasses, InceptionV3, torchvisionStateDict, encodeSafetensors } from '/incept.js';

var $ = function (id) { return document.getElementById(id); };
var imagenetLabels = JSON.parse($('imagenet-labels').textContent || 'null');
var cifar10Labels = JSON.parse($('cifar10-labels').textContent || 'null');
var servedModel = JSON.parse($('served-model').textContent || 'null');
var state = { state: 'idle' };
window.__inceptServe = state;
var engine = null;
var model = null;
var modelKey = '';
var modelLabels;
var chart = null;
var busy = false;
var again = false;
var files = { image: null, weights: [], labels: null };

function setState(s, extra) {
  state.state = s;
  if (extra) Object.assign(state, extra);
  document.body.setAttribute('data-state', s);
  $('status').textContent = {
    idle: files.weights.length ? 'Pick or drop an image.' : 'Pick or drop an image and a model file.',
    loading: 'Loading the model…',
    ready: 'Model loaded. Pick or drop an image to classify it.',
    running: 'Running on the GPU…',
    done: 'Done.',
    error: 'Failed.',
  }[s] + (state.adapter ? ' Adapter: ' + state.adapter + '.' : '');
}

function showError(message) {
  $('error').textContent = message;
  $('error').hidden = false;
  setState('error', { error: message });
}

function messageOf(e) {
  return e && e.message ? String(e.message) : String(e);
}

function isImage(f) {
  return /^image\/(jpeg|png)$/.test(f.type) || /\.(jpe?g|png)$/i.test(f.name);
}

function fileKey(list) {
  return list.map(function (f) { return f.name + ':' + f.size + ':' + f.lastModified; }).join('|');
}

async function bytesOf(f) {
  return new Uint8Array(await f.arrayBuffer());
}

async function getEngine() {
  if (engine) return engine;
  if (!navigator.gpu) {
    throw new Error('This browser has no WebGPU (navigator.gpu is undefined). Use a recent Chrome or Edge (or Chromium started with --enable-unsafe-webgpu), and open the page from http://localhost or https.');
  }
  try {
    engine = await createEngine({ profile: true });
  } catch (e) {
    throw new Error('WebGPU is present but no device could be created: ' + messageOf(e));
  }
  state.adapter = engine.adapterName;
  return engine;
}

async function labelsFor(loaded) {
  var classes = loaded.numClasses;
  if (files.labels) return labelsForClasses(parseLabels(await files.labels.text(), files.labels.name), classes, files.labels.name);
  if (imagenetLabels && (classes === imagenetLabels.length || classes === imagenetLabels.length + 1)) return labelsForClasses(imagenetLabels, classes, 'ImageNet labels');
  // The CIFAR-10 variant of Inception-v3 (as its file says) with 10 classes: CIFAR-10's names.
  if (cifar10Labels && classes === cifar10Labels.length && /CIFAR-10 variant/.test(loaded.description)) return cifar10Labels.slice();
  return undefined;
}

var pending = null;
async function getModel() {
  var preset = $('preset').value;
  var key = fileKey(files.weights) + '#' + preset + '#' + (files.labels ? fileKey([files.labels]) : '');
  if (model && key === modelKey) return model;
  // One load at a time: a second caller for the same files waits for the first.
  if (pending && pending.key === key) return pending.promise;
  var promise = loadModel(key, preset);
  pending = { key: key, promise: promise };
  try {
    return await promise;
  } finally {
    if (pending && pending.promise === promise) pending = null;
  }
}

async function loadModel(key, preset) {
  if (model) { model.dispose(); model = null; }
  var named = await Promise.all(files.weights.map(async function (f) { return { name: f.name, bytes: await bytesOf(f) }; }));
  var t0 = performance.now();
  var loaded = await loadClassifier(await getEngine(), Object.assign({ weights: named.length === 1 ? named[0] : named }, preset ? { preset: preset } : {}));
  try {
    modelLabels = await labelsFor(loaded);
  } catch (e) {
    loaded.dispose();
    throw e;
  }
  state.loadMs = performance.now() - t0;
  model = loaded;
  modelKey = key;
  return model;
}

function drawTop(top) {
  var body = $('top').querySelector('tbody');
  body.textContent = '';
  top.forEach(function (t) {
    var tr = document.createElement('tr');
    var name = document.createElement('td');
    name.textContent = t.label;
    name.title = 'class ' + t.index;
    var barCell = document.createElement('td');
    var bar = document.createElement('div');
    bar.className = 'bar';
    bar.style.width = (100 * t.probability).toFixed(1) + '%';
    barCell.appendChild(bar);
    var p = document.createElement('td');
    p.className = 'p';
    p.textContent = (100 * t.probability).toFixed(2) + '%';
    tr.append(name, barCell, p);
    body.appendChild(tr);
  });
}

function drawLayers(layers) {
  if (chart) { chart.destroy(); chart = null; }
  window.__chartsDrawn = undefined;
  document.body.removeAttribute('data-charts-drawn');
  $('chart-box').style.height = Math.max(160, 14 * layers.length + 70) + 'px';
  if (typeof Chart === 'undefined') throw new Error('Chart.js did not load (/chart.js)');
  chart = new Chart($('layers'), {
    type: 'bar',
    data: { labels: layers.map(function (l) { return l.layer; }), datasets: [{ label: 'GPU ms', data: layers.map(function (l) { return l.ms; }), backgroundColor: '#2f6fdf' }] },
    options: {
      indexAxis: 'y',
      plugins: { legend: { display: false }, title: { display: true, text: 'GPU time per layer (ms), ' + layers.length + ' layers' } },
      scales: { x: { title: { display: true, text: 'ms' } }, y: { ticks: { autoSkip: false, font: { size: 10 } } } },
    },
    plugins: [chartCounter(1)],
  });
}

async function run() {
  if (!files.image || files.weights.length === 0) { setState(model && files.weights.length ? 'ready' : 'idle'); return; }
  if (busy) { again = true; return; }
  busy = true;
  $('error').hidden = true;
  state.error = undefined;
  try {
    var image = await decodeImageAsync(await bytesOf(files.image), files.image.name);
    $('preview').src = URL.createObjectURL(files.image);
    $('preview').hidden = false;
    setState('loading');
    var m = await getModel();
    setState('running');
    engine.profiler.clear();
    var detailed = await m.classifyDetailed(image, { topk: Math.min(5, m.numClasses) });
    var r = detailed.results[0];
    if (modelLabels) r.top.forEach(function (t) { t.label = modelLabels[t.index]; });
    var layers = (detailed.layers || []).filter(function (l) { return l.ms > 0 || l.calls > 0; });
    drawTop(r.top);
    $('result').hidden = false;
    $('timing').textContent = m.description + ' (' + m.format + ', ' + m.numClasses + ' classes, ' + m.inputShape.join('×') + ' input): load ' + state.loadMs.toFixed(0) + ' ms, preprocess ' + detailed.timing.preprocessMs.toFixed(0) + ' ms, forward ' + detailed.timing.forwardMs.toFixed(0) + ' ms' + (layers.length ? ', GPU ' + layers.reduce(function (s, l) { return s + l.ms; }, 0).toFixed(1) + ' ms in layers' : '');
    drawLayers(layers);
    setState('done', { top: r.top, layers: layers.map(function (l) { return { layer: l.layer, ms: l.ms, calls: l.calls }; }), timing: detailed.timing, model: { description: m.description, format: m.format, classes: m.numClasses, inputShape: m.inputShape.slice() } });
  } catch (e) {
    console.warn(e);
    showError(messageOf(e));
  } finally {
    busy = false;
    if (again) { again = false; run(); }
  }
}

function showChosen() {
  $('chosen').textContent = (files.image ? 'image: ' + files.image.name : 'no image') + ' · ' + (files.weights.length ? 'model: ' + files.weights.map(function (f) { return f.name; }).join(', ') : 'no model file');
}

/** Loads the model that got() gives (a list of Files) as the page opens, unless the user has picked
 * one meanwhile, and says where it came from. */
async function loadStartModel(got, describe) {
  setState('loading');
  try {
    var chosen = await got();
    if (files.weights.length) return; // the user picked a model meanwhile
    files.weights = chosen;
    showChosen();
    var m = await getModel();
    $('model-help').textContent = describe(m);
    if (files.image) run();
    else setState('ready', { model: { description: m.description, format: m.format, classes: m.numClasses, inputShape: m.inputShape.slice() } });
  } catch (e) {
    console.warn(e);
    showError('Could not load the start model: ' + messageOf(e));
  }
}

/** The model the server names (incept serve --weights). */
function loadServedModel() {
  return loadStartModel(
    function () {
      return Promise.all(servedModel.files.map(async function (f) {
        var r = await fetch(f.url);
        if (!r.ok) throw new Error(f.name + ': the server answered HTTP ' + r.status);
        return new File([await r.blob()], f.name, { lastModified: 0 });
      }));
    },
    function (m) {
      return 'Model from the server: ' + servedModel.files[0].name + ' (' + m.description + ', ' + m.numClasses + ' classes). Pick or drop an image; another model file replaces it.';
    },
  );
}

/** Without --weights: a demo model built here, the CIFAR-10 variant at width 0.125 with seeded
 * random weights (what incept export --cifar10 --width 0.125 writes), so the page works at once. */
var DEMO_NAME = 'demo-cifar10-w0125-random.safetensors';
function loadDemoModel() {
  return loadStartModel(
    async function () {
      var net = new InceptionV3(await getEngine(), { variant: 'cifar10', width: 0.125, auxLogits: false, seed: 0 });
      try {
        var bytes = encodeSafetensors(await torchvisionStateDict(net), { format: 'pt', producer: 'incept-gpu serve demo', 'incept.variant': 'cifar10' });
        return [new File([bytes], DEMO_NAME, { lastModified: 0 })];
      } finally {
        net.dispose();
      }
    },
    function (m) {
      return 'Demo model: ' + m.description + ' with random weights, built in this page because incept serve was started without --weights. It runs every kernel, but its answers mean nothing. Pick a model file above, or restart with incept serve --weights FILE (a torchvision .safetensors, an .onnx, or a TF.js model.json); a trained CIFAR-10 model comes from incept train, an untrained one from incept export --cifar10 --width 0.125 --out cifar10.safetensors.';
    },
  );
}

function take(list) {
  var arr = Array.prototype.slice.call(list);
  var images = arr.filter(isImage);
  var others = arr.filter(function (f) { return !isImage(f); });
  if (images.length) files.image = images[images.length - 1];
  if (others.length) files.weights = others;
  showChosen();
  run();
}

$('image').addEventListener('change', function (e) { take(e.target.files); });
$('weights').addEventListener('change', function (e) { if (e.target.files.length) { files.weights = Array.prototype.slice.call(e.target.files); take([]); } });
$('labels').addEventListener('change', function (e) { files.labels = e.target.files[0] || null; modelKey = ''; run(); });
$('preset').addEventListener('change', function () { run(); });
var drop = $('drop');
['dragenter', 'dragover'].forEach(function (t) { drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.add('over'); }); });
['dragleave', 'drop'].forEach(function (t) { drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.remove('over'); }); });
drop.addEventListener('drop', function (e) { take(e.dataTransfer.files); });
window.addEventListener('error', function (e) { showError(messageOf(e.error || e.message)); });
window.addEventListener('unhandledrejection', function (e) { showError(messageOf(e.reason)); });
if (!navigator.gpu) showError('This browser has no WebGPU (navigator.gpu is undefined). Use a recent Chrome or Edge (or Chromium started with --enable-unsafe-webgpu), and open the page from http://localhost or https.');
else if (servedModel) loadServedModel();
else loadDemoModel();
`;

export function servePageHtml(options: ServePageOptions = {}): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>incept-gpu: classify an image in the browser</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body data-state="loading-page">
<h1>Classify an image with WebGPU</h1>
<div class="muted">incept-gpu${options.version ? ` ${escapeHtml(options.version)}` : ''}: every kernel runs in this browser; nothing is uploaded anywhere.</div>
<div id="drop">
  <label><span>Image</span> <input type="file" id="image" accept="image/jpeg,image/png,.jpg,.jpeg,.png"></label>
  <label><span>Model file(s)</span> <input type="file" id="weights" multiple accept=".safetensors,.onnx,.json,.bin"></label>
  <label><span>Preprocessing</span> <select id="preset"><option value="">the format's default</option><option value="torchvision">torchvision</option><option value="keras">keras</option><option value="tf-slim">tf-slim</option></select></label>
  <label><span>Labels (optional)</span> <input type="file" id="labels" accept=".json,.txt"></label>
  <div class="muted">Or drop them here. Models: an Inception-v3 state dict as .safetensors (torchvision/timm names), an .onnx file, or a TF.js model.json selected together with its .bin shards.</div>
  <div class="muted" id="chosen"></div>
</div>
<div id="model-help">${
    options.model
      ? `Loading the model the server was started with (<code>--weights</code>): ${escapeHtml(options.model.files[0]!.name)}…`
      : `Building a demo model (<code>incept serve</code> was started without <code>--weights</code>): the CIFAR-10 variant of Inception-v3 at
  width 0.125 with random weights, which runs but whose answers mean nothing. Pick a model file above, or restart the server with one:
  <code>incept serve --weights inception_v3.safetensors</code> (also <code>.onnx</code> or a TF.js <code>model.json</code>).`
  }</div>
<div id="status" class="muted" role="status"></div>
<div id="error" role="alert" hidden></div>
<div id="result" hidden>
  <img id="preview" alt="the image classified" hidden>
  <div>
    <table id="top"><tbody></tbody></table>
    <div id="timing" class="muted"></div>
  </div>
</div>
<div id="chart-box"><canvas id="layers"></canvas></div>
<footer class="muted">Browser bundle /incept.js${options.bundleSize ? `: ${escapeHtml(options.bundleSize)}` : ''}.</footer>
<script type="application/json" id="imagenet-labels">${jsonForScript(options.labels ?? null)}</script>
<script type="application/json" id="cifar10-labels">${jsonForScript(CIFAR10_LABELS)}</script>
<script type="application/json" id="served-model">${jsonForScript(options.model ?? null)}</script>
<script src="/chart.js"></script>
<script>${CHART_PAGE_PRELUDE}</script>
<script type="module">${SCRIPT}</script>
</body>
</html>
`;
}
