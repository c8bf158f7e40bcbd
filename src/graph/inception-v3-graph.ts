/**
 * The engine's own Inception-v3 as an IR graph whose weights are the model's GPU tensors, built
 * from the model's layer table (inception-v3-spec.ts): every variant the spec builds (classes,
 * input size, the CIFAR-10 stem, the paper's stem and low-resolution ablations, any width), the
 * inference graph without the aux head (training only). Synchronous: nothing is read back, so
 * the model compiles its inference plan from it (models/inception-v3.ts), and the ONNX
 * exporter's host graph (from-inception-v3.ts) is this one with the tensors read.
 *
 * Every conv is kept as three nodes, Conv → BatchNormalization → Relu, named as torchvision's
 * modules are (`Mixed_6b.branch7x7_2.conv`, `….bn`, `….relu`), so an exported file reads like
 * torchvision's; compileGraph folds them back into one kernel. Each layer's output value carries
 * the layer's own name ('Mixed_6b' for a module's concat), the image is 'input' and the logits
 * 'fc'. `layerOf` maps each node back to its layer, the name the model's profiles use.
 *
 * It takes the model's parts structurally (not the class) so that the model can import it.
 */
import { InvalidArgumentError } from '../runtime/errors.js';
import type { Tensor } from '../runtime/tensor.js';
import type { LayerSpec } from '../models/inception-v3-spec.js';
import type { Graph, GraphNode, GraphPadding, GraphTensorWeight } from './ir.js';

export const INCEPTION_V3_SOURCE = 'incept:inception-v3';

/** What the graph needs of an InceptionV3 (the class has all of it). */
export interface InceptionV3Parts {
  readonly layers: readonly LayerSpec[];
  readonly convs: ReadonlyMap<string, { w: Tensor; gamma?: Tensor; beta?: Tensor; runningMean?: Tensor; runningVar?: Tensor; bias?: Tensor }>;
  readonly linears: ReadonlyMap<string, { w: Tensor; b: Tensor }>;
  readonly inputSize: number;
}

export interface InceptionV3TensorGraph {
  graph: Graph<GraphTensorWeight>;
  /** Node name → the spec layer it belongs to ('Mixed_6b.branch7x7_2.bn' → 'Mixed_6b.branch7x7_2'). */
  layerOf: Map<string, string>;
}

export function inceptionV3TensorGraph(model: InceptionV3Parts, constants: { batchNormEps: number; dropoutRate: number }): InceptionV3TensorGraph {
  const layers = model.layers.filter((l) => !l.aux);
  const nodes: GraphNode[] = [];
  const weights = new Map<string, GraphTensorWeight>();
  const layerOf = new Map<string, string>();
  const weight = (name: string, tensor: Tensor): string => {
    weights.set(name, { shape: [...tensor.shape], tensor });
    return name;
  };
  /** Whether each layer's output is [H, W, C] (the spec keeps [C, H, W]), to flatten or not. */
  const spatial = new Map<string, boolean>([['input', true]]);
  const unsupported = (what: string): never => {
    throw new InvalidArgumentError(`inceptionV3Graph: ${what}; the graph IR cannot express this variant of the model`);
  };
  const poolWindow = (l: LayerSpec) => ({
    kernel: [...l.kernel!] as [number, number],
    stride: [...l.stride!] as [number, number],
    padding: [...l.padding!] as GraphPadding,
  });
  const push = (layer: string, node: GraphNode): void => {
    nodes.push(node);
    layerOf.set(node.name, layer);
  };

  for (const l of layers) {
    const input = l.inputs[0]!;
    switch (l.kind) {
      case 'conv': {
        const p = model.convs.get(l.name) ?? unsupported(`layer ${l.name} has no parameters in the model`);
        const conv = `${l.name}.conv`;
        push(l.name, {
          op: 'conv2d',
          name: conv,
          inputs: [input],
          output: conv,
          weight: weight(`${conv}.weight`, p.w),
          ...(p.bias ? { bias: weight(`${conv}.bias`, p.bias) } : {}),
          stride: [...l.stride!],
          padding: [...l.padding!],
        });
        let last = conv;
        if (p.gamma) {
          const bn = `${l.name}.bn`;
          push(l.name, {
            op: 'batchNorm',
            name: bn,
            inputs: [conv],
            output: bn,
            gamma: weight(`${bn}.weight`, p.gamma),
            beta: weight(`${bn}.bias`, p.beta!),
            mean: weight(`${bn}.running_mean`, p.runningMean!),
            variance: weight(`${bn}.running_var`, p.runningVar!),
            eps: constants.batchNormEps,
          });
          last = bn;
        }
        // The model applies ReLU after every conv, BatchNorm or not.
        push(l.name, { op: 'relu', name: `${l.name}.relu`, inputs: [last], output: l.name });
        spatial.set(l.name, true);
        break;
      }
      case 'maxpool':
        push(l.name, { op: 'maxPool', name: l.name, inputs: [input], output: l.name, ...poolWindow(l) });
        spatial.set(l.name, true);
        break;
      case 'avgpool':
        // The model pools as torchvision does, padding counted in the divisor.
        push(l.name, { op: 'avgPool', name: l.name, inputs: [input], output: l.name, ...poolWindow(l), countIncludePad: true });
        spatial.set(l.name, true);
        break;
      case 'concat':
        push(l.name, { op: 'concat', name: l.name, inputs: [...l.inputs], output: l.name });
        spatial.set(l.name, true);
        break;
      case 'globalavgpool':
        push(l.name, { op: 'globalAvgPool', name: l.name, inputs: [input], output: l.name });
        spatial.set(l.name, false);
        break;
      case 'dropout':
        push(l.name, { op: 'dropout', name: l.name, inputs: [input], output: l.name, rate: constants.dropoutRate });
        spatial.set(l.name, spatial.get(input) ?? unsupported(`layer ${l.name} reads ${input}, which comes later`));
        break;
      case 'linear': {
        const fc = model.linears.get(l.name) ?? unsupported(`layer ${l.name} has no parameters in the model`);
        let flat = input;
        if (spatial.get(input) ?? unsupported(`layer ${l.name} reads ${input}, which comes later`)) {
          // The model flattens NHWC rows as they lie, with weights in that order.
          flat = `${l.name}.flatten`;
          push(l.name, { op: 'flatten', name: flat, inputs: [input], output: flat, order: 'hwc' });
        }
        push(l.name, {
          op: 'dense',
          name: l.name,
          inputs: [flat],
          output: l.name,
          weight: weight(`${l.name}.weight`, fc.w),
          bias: weight(`${l.name}.bias`, fc.b),
        });
        spatial.set(l.name, false);
        break;
      }
      default:
        unsupported(`layer ${l.name} is of kind '${String(l.kind)}'`);
    }
  }
  const last = layers.at(-1);
  if (!last || last.kind !== 'linear') unsupported(`the network does not end in a linear classifier`);
  return {
    graph: {
      source: INCEPTION_V3_SOURCE,
      input: { name: 'input', shape: [model.inputSize, model.inputSize, 3] },
      output: last!.name,
      nodes,
      weights,
      outputIsProbabilities: false,
    },
    layerOf,
  };
}
