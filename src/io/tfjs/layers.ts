/**
 * One converter per Keras layer class: each checks its layer's config against what the engine
 * runs and emits the IR nodes (builder.ts). A ZeroPadding2D is no node of its own: it marks its
 * output, and the convolution reading it takes the padding as its own.
 */
import type { Conv2dNode, DenseNode, GraphPadding } from '../../graph/ir.js';
import { activate, fusedActivation, one, resolvePadding, spatial, windowOutput, type Converter, type LayerReader } from './builder.js';
import { fmt, show } from './errors.js';

function checkConvOptions(layer: LayerReader): void {
  layer.channelsLast();
  const dilation = layer.int2('dilation_rate', [1, 1]);
  if (dilation[0] !== 1 || dilation[1] !== 1) layer.error(`dilation_rate ${fmt(dilation)} is not supported (only 1)`);
  const groups = layer.raw('groups');
  if (groups !== undefined && groups !== null && groups !== 1) layer.error(`groups ${show(groups)} is not supported (only 1)`);
}

const convert2d: Converter = (layer, inputs, b, valueName) => {
  const padded = one(layer, inputs);
  const [h, w, cin] = spatial(layer, padded);
  checkConvOptions(layer);
  const kernel = layer.int2('kernel_size');
  const stride = layer.int2('strides', [1, 1]);
  const own = resolvePadding(layer.padding(), h, w, kernel, stride);
  // Zeros added before a convolution are the convolution's own padding.
  const x = padded.zeroPadded?.from ?? padded;
  const extra = padded.zeroPadded?.padding ?? [0, 0, 0, 0];
  const padding = own.map((p, i) => p + extra[i]!) as GraphPadding;
  const [oh, ow] = windowOutput(h, w, kernel, stride, own);
  if (!(oh >= 1 && ow >= 1)) layer.error(`a ${kernel.join('×')} window does not fit its ${h}×${w} input with 'valid' padding`);
  const { act, output } = fusedActivation(layer, valueName, false);
  let cout: number;
  let weight: string;
  if (layer.className === 'DepthwiseConv2D') {
    const mult = layer.num('depth_multiplier', 1);
    if (!Number.isInteger(mult) || mult < 1) layer.error(`depth_multiplier ${mult} must be a positive integer`);
    cout = cin * mult;
    // The IR has no depthwise convolution: the kernel becomes a full one that is zero except where
    // output channel c·mult + j reads input channel c (TensorFlow's channel order). Exact, at
    // Cin times the multiply-adds.
    const [kh, kw] = kernel;
    const expand = (d: Float32Array): Float32Array => {
      const full = new Float32Array(kh * kw * cin * cout);
      for (let p = 0; p < kh * kw; p++) {
        for (let c = 0; c < cin; c++) {
          for (let j = 0; j < mult; j++) full[(p * cin + c) * cout + c * mult + j] = d[(p * cin + c) * mult + j]!;
        }
      }
      return full;
    };
    const key = `${layer.entry.name}/depthwise_kernel`;
    weight = b.weight(layer, 'depthwise_kernel', [kh, kw, cin, mult], `${key}/expanded`, expand, [kh, kw, cin, cout]);
  } else {
    const filters = layer.num('filters', NaN);
    if (!Number.isInteger(filters) || filters < 1) layer.error(`filters must be a positive integer, got ${show(layer.raw('filters'))}`);
    cout = filters;
    weight = b.weight(layer, 'kernel', [kernel[0], kernel[1], cin, cout]);
  }
  const bias = layer.bool('use_bias', true) ? b.weight(layer, 'bias', [cout]) : undefined;
  const node = b.emit<Conv2dNode>({ op: 'conv2d', name: b.uniqueName(output), inputs: [x.name], output, weight, ...(bias ? { bias } : {}), stride, padding });
  return activate(layer, b, { name: output, shape: [oh, ow, cout] }, act, valueName, node);
};

const dense: Converter = (layer, inputs, b, valueName) => {
  const x = one(layer, inputs);
  if (x.shape.length !== 1) layer.error(`needs a flat input [F] (add Flatten or a global pooling before it), got ${fmt(x.shape)}`);
  const units = layer.num('units', NaN);
  if (!Number.isInteger(units) || units < 1) layer.error(`units must be a positive integer, got ${show(layer.raw('units'))}`);
  const { act, output } = fusedActivation(layer, valueName, true);
  const weight = b.weight(layer, 'kernel', [x.shape[0]!, units]);
  const bias = layer.bool('use_bias', true) ? b.weight(layer, 'bias', [units]) : undefined;
  const node = b.emit<DenseNode>({ op: 'dense', name: b.uniqueName(output), inputs: [x.name], output, weight, ...(bias ? { bias } : {}) });
  return activate(layer, b, { name: output, shape: [units] }, act, valueName, node);
};

const batchNorm: Converter = (layer, inputs, b, valueName) => {
  const x = one(layer, inputs);
  const rank = x.shape.length + 1;
  const axis = layer.axis('axis', rank, -1);
  if (axis !== rank - 1) layer.error(`axis ${show(layer.raw('axis'))} is not supported (only the channel axis, -1)`);
  if (layer.bool('renorm', false)) layer.error(`renorm is not supported`);
  const c = x.shape[x.shape.length - 1]!;
  const eps = layer.num('epsilon', 1e-3);
  const gamma = layer.bool('scale', true) ? b.weight(layer, 'gamma', [c]) : undefined;
  const beta = layer.bool('center', true) ? b.weight(layer, 'beta', [c]) : undefined;
  const mean = b.weight(layer, 'moving_mean', [c]);
  const variance = b.weight(layer, 'moving_variance', [c]);
  b.emit({
    op: 'batchNorm',
    name: b.uniqueName(valueName),
    inputs: [x.name],
    output: valueName,
    ...(gamma ? { gamma } : {}),
    ...(beta ? { beta } : {}),
    mean,
    variance,
    eps,
  });
  return { name: valueName, shape: x.shape };
};

const pool: Converter = (layer, inputs, b, valueName) => {
  const x = one(layer, inputs);
  const [h, w, c] = spatial(layer, x);
  layer.channelsLast();
  const kernel = layer.int2('pool_size', [2, 2]);
  const stride = layer.int2('strides', kernel);
  const padding = resolvePadding(layer.padding(), h, w, kernel, stride);
  const [oh, ow] = windowOutput(h, w, kernel, stride, padding);
  if (!(oh >= 1 && ow >= 1)) layer.error(`a ${kernel.join('×')} window does not fit its ${h}×${w} input with 'valid' padding`);
  const common = { name: b.uniqueName(valueName), inputs: [x.name], output: valueName, kernel, stride, padding };
  // Keras leaves padded pixels out of an average's divisor.
  b.emit(layer.className === 'MaxPooling2D' ? { op: 'maxPool', ...common } : { op: 'avgPool', ...common, countIncludePad: false });
  return { name: valueName, shape: [oh, ow, c] };
};

const globalPool: Converter = (layer, inputs, b, valueName) => {
  const x = one(layer, inputs);
  const [h, w, c] = spatial(layer, x);
  layer.channelsLast();
  const keepdims = layer.bool('keepdims', false);
  const max = layer.className === 'GlobalMaxPooling2D';
  if (!max && !keepdims) {
    b.emit({ op: 'globalAvgPool', name: b.uniqueName(valueName), inputs: [x.name], output: valueName });
    return { name: valueName, shape: [c] };
  }
  // A window over the whole grid gives the [1, 1, C] that keepdims keeps; the maximum has no
  // global node, so it is that window followed by a flatten.
  const pooled = keepdims ? valueName : `${valueName}/pool`;
  const common = {
    name: b.uniqueName(pooled),
    inputs: [x.name],
    output: pooled,
    kernel: [h, w] as [number, number],
    stride: [1, 1] as [number, number],
    padding: [0, 0, 0, 0] as GraphPadding,
  };
  b.emit(max ? { op: 'maxPool', ...common } : { op: 'avgPool', ...common, countIncludePad: false });
  if (keepdims) return { name: valueName, shape: [1, 1, c] };
  b.emit({ op: 'flatten', name: b.uniqueName(valueName), inputs: [pooled], output: valueName, order: 'hwc' });
  return { name: valueName, shape: [c] };
};

const activationLayer: Converter = (layer, inputs, b, valueName) => {
  const x = one(layer, inputs);
  return activate(layer, b, x, layer.activation(), valueName);
};

const reluLayer: Converter = (layer, inputs, b, valueName) => {
  const x = one(layer, inputs);
  const maxValue = layer.raw('max_value');
  if (maxValue !== undefined && maxValue !== null) layer.error(`max_value ${show(maxValue)} is not supported (only a plain ReLU)`);
  for (const key of ['negative_slope', 'threshold']) {
    if (layer.num(key, 0) !== 0) layer.error(`${key} ${show(layer.raw(key))} is not supported (only a plain ReLU, 0)`);
  }
  return activate(layer, b, x, 'relu', valueName);
};

const softmaxLayer: Converter = (layer, inputs, b, valueName) => {
  const x = one(layer, inputs);
  const rank = x.shape.length + 1;
  if (layer.axis('axis', rank, -1) !== rank - 1) layer.error(`axis ${show(layer.raw('axis'))} is not supported (only the last, -1)`);
  return activate(layer, b, x, 'softmax', valueName);
};

const concatenate: Converter = (layer, inputs, b, valueName) => {
  if (inputs.length < 1) layer.error(`has no inputs`);
  const rank = inputs[0]!.shape.length + 1;
  const axis = layer.axis('axis', rank, -1);
  if (axis !== rank - 1) layer.error(`axis ${show(layer.raw('axis'))} is not supported (only the channel axis, -1)`);
  const first = inputs[0]!.shape;
  for (const v of inputs) {
    if (v.shape.length !== first.length || v.shape.slice(0, -1).some((d, i) => d !== first[i])) {
      layer.error(`inputs must agree on every axis but the last, got ${inputs.map((i) => fmt(i.shape)).join(', ')}`);
    }
  }
  b.emit({ op: 'concat', name: b.uniqueName(valueName), inputs: inputs.map((v) => v.name), output: valueName });
  return { name: valueName, shape: [...first.slice(0, -1), inputs.reduce((s, v) => s + v.shape[v.shape.length - 1]!, 0)] };
};

const addLayer: Converter = (layer, inputs, b, valueName) => {
  if (inputs.length < 2) layer.error(`needs at least two inputs, got ${inputs.length}`);
  for (const v of inputs) {
    if (v.shape.length !== inputs[0]!.shape.length || v.shape.some((d, i) => d !== inputs[0]!.shape[i])) {
      layer.error(`inputs must have the same shape (broadcasting is not supported), got ${inputs.map((i) => fmt(i.shape)).join(', ')}`);
    }
  }
  // The IR adds two values; more are summed left to right, as Keras does.
  let acc = inputs[0]!.name;
  for (let i = 1; i < inputs.length; i++) {
    const output = i === inputs.length - 1 ? valueName : `${valueName}/sum${i}`;
    b.emit({ op: 'add', name: b.uniqueName(output), inputs: [acc, inputs[i]!.name], output });
    acc = output;
  }
  return { name: valueName, shape: inputs[0]!.shape };
};

const flatten: Converter = (layer, inputs, b, valueName) => {
  const x = one(layer, inputs);
  layer.channelsLast();
  b.emit({ op: 'flatten', name: b.uniqueName(valueName), inputs: [x.name], output: valueName, order: 'hwc' });
  return { name: valueName, shape: [x.shape.reduce((a, d) => a * d, 1)] };
};

const dropout: Converter = (layer, inputs, b, valueName) => {
  const x = one(layer, inputs);
  const rate = layer.num('rate', 0);
  b.emit({ op: 'dropout', name: b.uniqueName(valueName), inputs: [x.name], output: valueName, rate });
  return { name: valueName, shape: x.shape };
};

const zeroPadding: Converter = (layer, inputs, _b, valueName) => {
  const x = one(layer, inputs);
  const [h, w, c] = spatial(layer, x);
  layer.channelsLast();
  const raw = layer.raw('padding') ?? 1;
  const nonNegative = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;
  let padding: GraphPadding | undefined;
  if (nonNegative(raw)) padding = [raw, raw, raw, raw];
  else if (Array.isArray(raw) && raw.length === 2 && raw.every(nonNegative)) padding = [raw[0], raw[0], raw[1], raw[1]] as GraphPadding;
  else if (Array.isArray(raw) && raw.length === 2 && raw.every((p) => Array.isArray(p) && p.length === 2 && p.every(nonNegative)))
    padding = [...(raw[0] as number[]), ...(raw[1] as number[])] as GraphPadding;
  if (!padding) return layer.error(`padding ${show(raw)} is not understood (an integer, [rows, cols] or [[top, bottom], [left, right]])`);
  return { name: valueName, shape: [h + padding[0] + padding[1], w + padding[2] + padding[3], c], zeroPadded: { from: x, padding, layer: layer.where } };
};

/** The converters by layer class, in the order TFJS_SUPPORTED_LAYERS lists them. */
export const LAYER_CONVERTERS: Readonly<Record<string, Converter>> = {
  Conv2D: convert2d,
  DepthwiseConv2D: convert2d,
  BatchNormalization: batchNorm,
  Activation: activationLayer,
  ReLU: reluLayer,
  ZeroPadding2D: zeroPadding,
  Softmax: softmaxLayer,
  MaxPooling2D: pool,
  AveragePooling2D: pool,
  GlobalAveragePooling2D: globalPool,
  GlobalMaxPooling2D: globalPool,
  Concatenate: concatenate,
  Add: addLayer,
  Flatten: flatten,
  Dense: dense,
  Dropout: dropout,
  SpatialDropout2D: dropout,
};

/** The layer classes this importer maps to IR nodes: the input, then the converter table's keys. */
export const TFJS_SUPPORTED_LAYERS: readonly string[] = ['InputLayer', ...Object.keys(LAYER_CONVERTERS)];

/** Keras 2 and 3 spell some classes differently (aliases from both). */
export const CLASS_ALIASES: Readonly<Record<string, string>> = {
  Convolution2D: 'Conv2D',
  MaxPool2D: 'MaxPooling2D',
  AvgPool2D: 'AveragePooling2D',
  GlobalAvgPool2D: 'GlobalAveragePooling2D',
  GlobalMaxPool2D: 'GlobalMaxPooling2D',
};

/** The converter of a layer class (after aliases), or undefined for one the engine does not run. */
export function layerConverter(className: string): Converter | undefined {
  return Object.hasOwn(LAYER_CONVERTERS, className) ? LAYER_CONVERTERS[className] : undefined;
}
