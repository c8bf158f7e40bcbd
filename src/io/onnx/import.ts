/**
 * ONNX → the engine's graph IR (src/graph/ir.ts), for image classifiers built from the ops the
 * engine runs (ONNX_IMPORT_OPS) in the default domain at opsets 7–21.
 *
 * ONNX computes in NCHW; the IR in NHWC with per-example shapes. The importer converts once:
 * the input [N, C, H, W] becomes [H, W, C], conv weights OIHW → HWIO, Gemm/MatMul weights to
 * [in, out] (with alpha and transB applied), and a Flatten or Reshape of an image-like value
 * becomes the IR's 'chw' flatten, which yields NCHW's order, so dense weights stay as they are.
 * GlobalAveragePool's [N, C, 1, 1] is the IR's flat [C]; flattening it again is a no-op.
 *
 * The import runs in steps: decode the protobuf; check the opset and the one input and output;
 * find the patterns that span nodes (patterns.ts: bias Adds, PyTorch's transform_input, tf2onnx's
 * NHWC input); convert node by node, each with the pattern's converter or the op's in the table
 * (converters.ts, ops/); assemble the Graph and check it.
 *
 * Errors are GraphErrors (OnnxImportError) that start with the file's name and name the node
 * by index, name and op_type.
 */
import { GraphError, inferShapes, weightValueProblem, type Graph, type GraphNode, type GraphWeight } from '../../graph/ir.js';
import { NodeContext, nodeLabel, OnnxImportError, type Activation, type ImportState, type Value } from './context.js';
import { converterFor } from './converters.js';
import { ONNX_IMPORT_OPS } from './op-names.js';
import { detectNhwcInput, findPatterns } from './patterns.js';
import { DataType, DATA_TYPE_NAMES, decodeModelProto, int64ToNumber, type ModelProto, type TensorProto, type ValueInfoProto } from './schema.js';
import { fmt } from './tensor.js';

export { OnnxImportError } from './errors.js';
export { ONNX_IMPORT_OPS } from './op-names.js';

/** The opsets of the default domain whose semantics the importer implements. */
export const ONNX_MIN_OPSET = 7;
export const ONNX_MAX_OPSET = 21;

/** The opset the model imports for the default domain. */
function defaultOpset(model: ModelProto, fail: (p: string) => never): number {
  const entry = (model.opset_import ?? []).find((o) => (o.domain ?? '') === '' || o.domain === 'ai.onnx');
  if (!entry)
    fail(
      `the model imports no opset of the default ONNX domain (opset_import: ${JSON.stringify((model.opset_import ?? []).map((o) => `${o.domain ?? ''}:${int64ToNumber(o.version)}`))})`,
    );
  const version = int64ToNumber(entry.version);
  if (version < ONNX_MIN_OPSET || version > ONNX_MAX_OPSET)
    fail(`opset ${version} of the default domain is not supported; importOnnx reads opsets ${ONNX_MIN_OPSET}–${ONNX_MAX_OPSET}`);
  return version;
}

/**
 * Reads an ONNX model (the bytes of a .onnx file) into the engine's graph IR. `source` names
 * the file in errors. Throws OnnxImportError for a file that is not ONNX or is truncated, a
 * graph with several inputs or outputs, an op or attribute value the engine does not run,
 * external tensor data, inputs that nothing provides (a missing initializer), and weights
 * holding NaN or infinities or a negative BatchNorm variance (naming the initializer).
 */
export function importOnnx(bytes: Uint8Array, source = 'model.onnx'): Graph {
  const fail = (problem: string): never => {
    throw new OnnxImportError(source, problem);
  };
  if (!(bytes instanceof Uint8Array)) fail('expected the file contents as a Uint8Array');
  if (bytes.length === 0) fail('the file is empty');
  let model: ModelProto;
  try {
    model = decodeModelProto(bytes);
  } catch (e) {
    return fail(
      `not a readable ONNX model: the protobuf decoder stopped with "${(e as Error).message}" (${bytes.length} bytes); the file is truncated, damaged or not ONNX`,
    );
  }
  const g = model.graph;
  if (!g || (g.node?.length ?? 0) === 0 || int64ToNumber(model.ir_version) <= 0) {
    fail(
      `not an ONNX model: ${!g ? 'no graph' : (g.node?.length ?? 0) === 0 ? 'the graph has no nodes' : 'no ir_version'} (${bytes.length} bytes; is this a .onnx file, and complete?)`,
    );
  }
  const graph = g!;
  const opset = defaultOpset(model, fail);

  const initializers = new Map<string, TensorProto>();
  for (const t of graph.initializer ?? []) initializers.set(t.name ?? '', t);

  // ---------------------------------------------------------------- the one input and output
  const realInputs = (graph.input ?? []).filter((v) => !initializers.has(v.name ?? ''));
  if (realInputs.length !== 1) {
    fail(
      `the graph has ${realInputs.length} inputs (${realInputs.map((v) => `'${v.name}'`).join(', ') || 'none'}); importOnnx takes graphs with exactly one input, an NCHW image batch`,
    );
  }
  const outputs = graph.output ?? [];
  if (outputs.length !== 1)
    fail(
      `the graph has ${outputs.length} outputs (${outputs.map((v) => `'${v.name}'`).join(', ') || 'none'}); importOnnx takes graphs with exactly one output`,
    );
  const input = realInputs[0]!;
  const inputName = input.name ?? '';
  const graphNodes = graph.node ?? [];
  const nhwcInput = detectNhwcInput(graphNodes, inputName);
  const inputShape = imageInputShape(input, nhwcInput ? 'nhwc' : 'nchw', fail);
  const outputName = outputs[0]!.name ?? '';

  // How often each value is read, to know when an Add may fold into its producer.
  const readers = new Map<string, number>();
  for (const n of graphNodes) for (const i of n.input ?? []) if (i) readers.set(i, (readers.get(i) ?? 0) + 1);
  readers.set(outputName, (readers.get(outputName) ?? 0) + 1);

  const values = new Map<string, Value>();
  values.set(inputName, { kind: 'activation', ir: inputName, layout: 'nchw', shape: [inputShape[1], inputShape[2], inputShape[0]] });
  const state: ImportState = {
    fail,
    opset,
    initializers,
    inputName,
    nhwcInput,
    readers,
    values,
    pendingReads: new Map<string, number>([[inputName, readers.get(inputName) ?? 0]]),
    producers: new Map<string, GraphNode>(),
    nodes: [],
    weights: new Map<string, GraphWeight>(),
    nodeNames: new Set<string>(),
  };
  const { producers, nodes, weights } = state;

  const patterns = findPatterns(graphNodes, initializers, inputName);

  graphNodes.forEach((node, index) => {
    const opType = node.op_type ?? '';
    const nodeFail = (problem: string): never => fail(`${nodeLabel(node, index)}: ${problem}`);
    const domain = node.domain ?? '';
    if (domain !== '' && domain !== 'ai.onnx')
      nodeFail(`op '${opType}' of domain '${domain}' is not supported; importOnnx runs ops of the default ONNX domain only`);
    const converter = converterFor(opType);
    if (!converter) return nodeFail(`op '${opType}' is not supported; supported ops: ${ONNX_IMPORT_OPS.join(', ')}`);
    const outs = node.output ?? [];
    if (!outs[0]) nodeFail('it has no output');
    for (const extra of outs.slice(1)) {
      if (extra && (readers.get(extra) ?? 0) > 0)
        nodeFail(
          `its output '${extra}' (output ${outs.indexOf(extra)}) is read, but only the first output is supported (a training-mode output, a mask or indices)`,
        );
    }
    (patterns.get(index) ?? converter)(new NodeContext(state, node, index));
  });

  const result = values.get(outputName);
  if (!result) fail(`the graph output '${outputName}' is written by no node`);
  if (result!.kind !== 'activation') fail(`the graph output '${outputName}' is a constant (${result!.origin}); it must be computed from the input`);
  const outputValue = (result as Activation).ir;
  if (outputValue === inputName) fail(`the graph output '${outputName}' is the input itself; the graph computes nothing`);
  const last = producers.get(outputValue);
  const ir: Graph = {
    source,
    input: { name: inputName, shape: [inputShape[1], inputShape[2], inputShape[0]] },
    output: outputValue,
    nodes,
    weights,
    outputIsProbabilities: last?.op === 'softmax',
  };
  try {
    inferShapes(ir);
  } catch (e) {
    if (e instanceof GraphError) fail(`the imported graph does not check: ${e.message}`);
    throw e;
  }
  const badValue = weightValueProblem(ir);
  if (badValue) fail(badValue);
  return ir;
}

/** [C, H, W] of the graph input, whose dims are [N, C, H, W] or, before a tf2onnx transpose, [N, H, W, C]. */
function imageInputShape(input: ValueInfoProto, layout: 'nchw' | 'nhwc', fail: (p: string) => never): [number, number, number] {
  const name = input.name ?? '';
  const tensor = input.type?.tensor_type;
  if (!tensor) return fail(`the graph input '${name}' is not a tensor`);
  if ((tensor.elem_type ?? 0) !== DataType.FLOAT)
    fail(`the graph input '${name}' has type ${DATA_TYPE_NAMES[tensor.elem_type ?? 0] ?? tensor.elem_type}; importOnnx takes a FLOAT input`);
  const dims = tensor.shape?.dim ?? [];
  const text = fmt(dims.map((d) => (d.dim_param ? d.dim_param : int64ToNumber(d.dim_value) || '?')));
  if (dims.length !== 4)
    fail(
      `the graph input '${name}' has shape ${text}; importOnnx takes an NCHW image batch [N, C, H, W] (or an NHWC one that a Transpose turns into NCHW first)`,
    );
  const rest = dims.slice(1).map((d) => int64ToNumber(d.dim_value));
  if (rest.some((d) => !(d >= 1)))
    fail(`the graph input '${name}' has shape ${text}; its channels, height and width must be fixed numbers (only the batch may be symbolic)`);
  const [a, b, c] = rest as [number, number, number];
  return layout === 'nchw' ? [a, b, c] : [c, a, b];
}
