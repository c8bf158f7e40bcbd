/**
 * The engine's graph IR → an ONNX model (NCHW, as every ONNX runtime expects), opset 13 by
 * default (7–21 accepted). The input keeps the graph's input name with the shape
 * [batch, C, H, W], `batch` symbolic; the output is [batch, F]. Weights become initializers in
 * raw little-endian float32 under the IR's names, conv weights back in OIHW and dense weights
 * as Gemm's B ([in, out], transB 0), so nothing is transposed twice on a round trip.
 *
 * Nodes keep their IR names. Where one IR node needs two ONNX nodes the second is named after
 * the first: a conv or dense layer with a fused ReLU adds `<name>/relu`, a global average pool
 * adds `<name>/flatten` (the IR's pooled value is flat, ONNX's is [N, C, 1, 1]), and an 'hwc'
 * flatten is `<name>/transpose` (to NHWC) then the Flatten, which reproduces the engine's order.
 */
import { GraphError, inferShapes, type Graph, type GraphNode } from '../../graph/ir.js';
import { hwioToOihw } from '../../models/inception-v3-weights.js';
import { inceptionV3Graph } from '../../graph/from-inception-v3.js';
import type { InceptionV3 } from '../../models/inception-v3.js';
import { InvalidArgumentError } from '../../runtime/errors.js';
import { AttributeType, DataType, encodeModelProto, type AttributeProto, type NodeProto, type TensorProto, type ValueInfoProto } from './schema.js';
import { ONNX_MAX_OPSET, ONNX_MIN_OPSET } from './import.js';

export interface OnnxExportOptions {
  /** Opset of the default domain, 7–21; default 13. */
  opset?: number;
  /** producer_name in the file; default 'incept-gpu'. */
  producer?: string;
  /** producer_version in the file; default empty. */
  producerVersion?: string;
}

export const DEFAULT_ONNX_OPSET = 13;

/** The IR version each opset was released with (onnx/helper.py's table), so older runtimes load the file. */
const IR_VERSION_OF_OPSET: Record<number, number> = { 7: 3, 8: 3, 9: 4, 10: 5, 11: 6, 12: 7, 13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };

const intAttr = (name: string, i: number): AttributeProto => ({ name, type: AttributeType.INT, i });
const intsAttr = (name: string, ints: number[]): AttributeProto => ({ name, type: AttributeType.INTS, ints });
const floatAttr = (name: string, f: number): AttributeProto => ({ name, type: AttributeType.FLOAT, f });

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** ONNX's raw_data is little-endian. */
function float32Bytes(data: Float32Array): Uint8Array {
  if (HOST_LITTLE_ENDIAN) return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true);
  return out;
}

/**
 * Writes the graph as an ONNX model. Throws GraphError if the graph does not check
 * (inferShapes) and InvalidArgumentError for an opset outside 7–21.
 */
export function exportOnnx(graph: Graph, options: OnnxExportOptions = {}): Uint8Array {
  const opset = options.opset ?? DEFAULT_ONNX_OPSET;
  if (!Number.isInteger(opset) || opset < ONNX_MIN_OPSET || opset > ONNX_MAX_OPSET) {
    throw new InvalidArgumentError(`exportOnnx: opset must be an integer from ${ONNX_MIN_OPSET} to ${ONNX_MAX_OPSET}, got ${String(opset)}`);
  }
  const shapes = inferShapes(graph);
  const source = graph.source;

  // Every name in the file, so helper values and nodes never collide with the graph's own.
  const taken = new Set<string>([graph.input.name, ...graph.nodes.map((n) => n.output), ...graph.weights.keys()]);
  const nodeNames = new Set<string>(graph.nodes.map((n) => n.name));
  const fresh = (base: string, used: Set<string> = taken): string => {
    let name = base;
    for (let k = 1; used.has(name); k++) name = `${base}_${k}`;
    used.add(name);
    return name;
  };

  const initializers: TensorProto[] = [];
  const valueNames = new Set<string>([graph.input.name, ...graph.nodes.map((n) => n.output)]);
  const initializerNames = new Set<string>();
  /** Initializer name per (weight, layout) pair, so a weight shared by nodes is written once. */
  const written = new Map<string, string>();
  const initializer = (weight: string, layout: 'as-is' | 'oihw', at: GraphNode): string => {
    const key = `${layout}:${weight}`;
    const done = written.get(key);
    if (done) return done;
    const w = graph.weights.get(weight);
    if (!w) throw new GraphError(`${source}: node '${at.name}' (${at.op}) reads the weight '${weight}', which the graph does not hold`);
    const dims = layout === 'oihw' ? [w.shape[3]!, w.shape[2]!, w.shape[0]!, w.shape[1]!] : [...w.shape];
    const data = layout === 'oihw' ? hwioToOihw(w.data, w.shape) : w.data;
    // The same weight read in another layout, or a weight named like a value, needs another name.
    const name = initializerNames.has(weight) || valueNames.has(weight) ? fresh(`${weight}_${layout}`) : weight;
    initializerNames.add(name);
    written.set(key, name);
    initializers.push({ name, dims, data_type: DataType.FLOAT, raw_data: float32Bytes(data) });
    return name;
  };
  const constant = (base: string, dims: number[], data: Float32Array): string => {
    const name = fresh(base);
    initializerNames.add(name);
    initializers.push({ name, dims, data_type: DataType.FLOAT, raw_data: float32Bytes(data) });
    return name;
  };

  const onnxNodes: NodeProto[] = [];
  /** The ONNX value holding each IR value (they differ where a flat IR value is 4-D in ONNX first). */
  const onnxValue = new Map<string, string>([[graph.input.name, graph.input.name]]);
  const read = (name: string): string => onnxValue.get(name)!;
  const push = (opType: string, name: string, inputs: string[], output: string, attribute: AttributeProto[] = []): void => {
    onnxNodes.push({ op_type: opType, name, input: inputs, output: [output], ...(attribute.length > 0 ? { attribute } : {}) });
  };
  /** A node with an optional ReLU after it: the ReLU writes the IR value's name. */
  const withRelu = (node: GraphNode, relu: boolean | undefined, write: (output: string) => void): void => {
    if (!relu) {
      write(node.output);
    } else {
      const pre = fresh(`${node.output}/pre_relu`);
      write(pre);
      push('Relu', fresh(`${node.name}/relu`, nodeNames), [pre], node.output);
    }
    onnxValue.set(node.output, node.output);
  };

  for (const node of graph.nodes) {
    const x = read(node.inputs[0]!);
    const inShape = shapes.get(node.inputs[0]!)!;
    switch (node.op) {
      case 'conv2d': {
        const w = initializer(node.weight, 'oihw', node);
        const [kh, kw] = graph.weights.get(node.weight)!.shape as [number, number];
        const inputs = [x, w, ...(node.bias ? [initializer(node.bias, 'as-is', node)] : [])];
        const [top, bottom, left, right] = node.padding;
        const attrs = [
          intsAttr('kernel_shape', [kh, kw]),
          intsAttr('strides', [...node.stride]),
          intsAttr('pads', [top, left, bottom, right]),
          intsAttr('dilations', [1, 1]),
          intAttr('group', 1),
        ];
        withRelu(node, node.relu, (out) => push('Conv', node.name, inputs, out, attrs));
        break;
      }
      case 'dense': {
        const units = graph.weights.get(node.weight)!.shape[1]!;
        const w = initializer(node.weight, 'as-is', node);
        // Gemm's C is optional from opset 11; before, a zero bias stands in.
        const bias = node.bias
          ? initializer(node.bias, 'as-is', node)
          : opset < 11
            ? constant(`${node.name}.zero_bias`, [units], new Float32Array(units))
            : undefined;
        const attrs = [floatAttr('alpha', 1), floatAttr('beta', 1), intAttr('transA', 0), intAttr('transB', 0)];
        withRelu(node, node.relu, (out) => push('Gemm', node.name, bias ? [x, w, bias] : [x, w], out, attrs));
        break;
      }
      case 'batchNorm': {
        const c = inShape[inShape.length - 1]!;
        const gamma = node.gamma ? initializer(node.gamma, 'as-is', node) : constant(`${node.name}.weight`, [c], new Float32Array(c).fill(1));
        const beta = node.beta ? initializer(node.beta, 'as-is', node) : constant(`${node.name}.bias`, [c], new Float32Array(c));
        const inputs = [x, gamma, beta, initializer(node.mean, 'as-is', node), initializer(node.variance, 'as-is', node)];
        withRelu(node, false, (out) => push('BatchNormalization', node.name, inputs, out, [floatAttr('epsilon', node.eps)]));
        break;
      }
      case 'relu':
        withRelu(node, false, (out) => push('Relu', node.name, [x], out));
        break;
      case 'maxPool':
      case 'avgPool': {
        const [top, bottom, left, right] = node.padding;
        const attrs = [intsAttr('kernel_shape', [...node.kernel]), intsAttr('strides', [...node.stride]), intsAttr('pads', [top, left, bottom, right])];
        if (node.op === 'avgPool') attrs.push(intAttr('count_include_pad', node.countIncludePad ? 1 : 0));
        withRelu(node, false, (out) => push(node.op === 'maxPool' ? 'MaxPool' : 'AveragePool', node.name, [x], out, attrs));
        break;
      }
      case 'globalAvgPool': {
        const pooled = fresh(`${node.output}/pooled`);
        push('GlobalAveragePool', node.name, [x], pooled);
        push('Flatten', fresh(`${node.name}/flatten`, nodeNames), [pooled], node.output, [intAttr('axis', 1)]);
        onnxValue.set(node.output, node.output);
        break;
      }
      case 'concat':
        // Channels are axis 1 of both [N, C, H, W] and [N, F].
        withRelu(node, false, (out) =>
          push(
            'Concat',
            node.name,
            node.inputs.map((i) => read(i)),
            out,
            [intAttr('axis', 1)],
          ),
        );
        break;
      case 'flatten': {
        let from = x;
        if (node.order === 'hwc' && inShape.length === 3) {
          from = fresh(`${node.output}/nhwc`);
          push('Transpose', fresh(`${node.name}/transpose`, nodeNames), [x], from, [intsAttr('perm', [0, 2, 3, 1])]);
        }
        withRelu(node, false, (out) => push('Flatten', node.name, [from], out, [intAttr('axis', 1)]));
        break;
      }
      case 'add':
        withRelu(node, false, (out) => push('Add', node.name, [x, read(node.inputs[1]!)], out));
        break;
      case 'softmax':
        // [N, F]: axis 1 is the last axis in every opset's reading of Softmax.
        withRelu(node, false, (out) => push('Softmax', node.name, [x], out, [intAttr('axis', 1)]));
        break;
      case 'dropout':
        if (opset >= 12) {
          // From opset 12 the ratio is an input; without training_mode the node is the identity.
          const ratio = constant(`${node.name}.ratio`, [], new Float32Array([node.rate]));
          withRelu(node, false, (out) => push('Dropout', node.name, [x, ratio], out));
        } else {
          withRelu(node, false, (out) => push('Dropout', node.name, [x], out, [floatAttr('ratio', node.rate)]));
        }
        break;
    }
  }

  const [h, w, c] = graph.input.shape as [number, number, number];
  const dims = (d: (number | string)[]): ValueInfoProto['type'] => ({
    tensor_type: { elem_type: DataType.FLOAT, shape: { dim: d.map((v) => (typeof v === 'string' ? { dim_param: v } : { dim_value: v })) } },
  });
  const outShape = shapes.get(graph.output)!;
  const outDims = outShape.length === 3 ? ['batch', outShape[2]!, outShape[0]!, outShape[1]!] : ['batch', ...outShape];
  const irVersion = IR_VERSION_OF_OPSET[opset]!;
  const inputs: ValueInfoProto[] = [{ name: graph.input.name, type: dims(['batch', c, h, w]) }];
  // Before IR version 4 every initializer had to be listed as a graph input too.
  if (irVersion < 4) for (const t of initializers) inputs.push({ name: t.name, type: dims((t.dims ?? []) as number[]) });

  return encodeModelProto({
    ir_version: irVersion,
    opset_import: [{ domain: '', version: opset }],
    producer_name: options.producer ?? 'incept-gpu',
    producer_version: options.producerVersion ?? '',
    graph: {
      name: source.replace(/[^A-Za-z0-9_.:-]+/g, '_'),
      node: onnxNodes,
      initializer: initializers,
      input: inputs,
      output: [{ name: read(graph.output), type: dims(outDims) }],
    },
  });
}

/** The engine's Inception-v3 (inference graph, no aux head) as ONNX; see exportOnnx. */
export async function exportInceptionV3Onnx(model: InceptionV3, options: OnnxExportOptions = {}): Promise<Uint8Array> {
  return exportOnnx(await inceptionV3Graph(model), options);
}
