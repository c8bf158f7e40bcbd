/**
 * The engine's own Inception-v3 as an IR graph: what the ONNX exporter writes and what
 * compileGraph runs. Built from the model's layer table (inception-v3-spec.ts), so every
 * variant the spec builds (classes, input size, the CIFAR-10 stem, the paper's stem and
 * low-resolution ablations, any width) comes out as the model runs it in `forward(x)`:
 * the inference graph, without the aux head (training only).
 *
 * Every conv is kept as three nodes, Conv → BatchNormalization → Relu, named as torchvision's
 * modules are (`Mixed_6b.branch7x7_2.conv`, `….bn`, `….relu`), with the running statistics and
 * eps of the model, so an exported file reads like torchvision's; compileGraph folds them back
 * into one kernel. Each layer's output value carries the layer's own name ('Mixed_6b' for a
 * module's concat), the image is 'input' and the logits 'fc'.
 */
import type { Tensor } from '../runtime/tensor.js';
import { InvalidArgumentError } from '../runtime/errors.js';
import { BATCHNORM_EPS, DROPOUT_RATE, type InceptionV3 } from '../models/inception-v3.js';
import type { Graph, GraphNode, GraphWeight } from './ir.js';

export const INCEPTION_V3_SOURCE = 'incept:inception-v3';

export async function inceptionV3Graph(model: InceptionV3): Promise<Graph> {
  const layers = model.layers.filter((l) => !l.aux);
  const nodes: GraphNode[] = [];
  const pending: { name: string; tensor: Tensor }[] = [];
  const weight = (name: string, tensor: Tensor): string => {
    pending.push({ name, tensor });
    return name;
  };
  /** [H, W, C] of each layer's output (the spec keeps [C, H, W]), to pick flatten or not. */
  const spatial = new Map<string, boolean>([['input', true]]);
  const unsupported = (what: string): never => {
    throw new InvalidArgumentError(`inceptionV3Graph: ${what}; the graph IR cannot express this variant of the model`);
  };

  for (const l of layers) {
    const input = l.inputs[0]!;
    switch (l.kind) {
      case 'conv': {
        const p = model.convs.get(l.name);
        if (!p) unsupported(`layer ${l.name} has no parameters in the model`);
        const conv = `${l.name}.conv`;
        nodes.push({
          op: 'conv2d',
          name: conv,
          inputs: [input],
          output: conv,
          weight: weight(`${conv}.weight`, p!.w),
          ...(p!.bias ? { bias: weight(`${conv}.bias`, p!.bias) } : {}),
          stride: [...l.stride!],
          padding: [...l.padding!],
        });
        let last = conv;
        if (p!.gamma) {
          const bn = `${l.name}.bn`;
          nodes.push({
            op: 'batchNorm',
            name: bn,
            inputs: [conv],
            output: bn,
            gamma: weight(`${bn}.weight`, p!.gamma),
            beta: weight(`${bn}.bias`, p!.beta!),
            mean: weight(`${bn}.running_mean`, p!.runningMean!),
            variance: weight(`${bn}.running_var`, p!.runningVar!),
            eps: BATCHNORM_EPS,
          });
          last = bn;
        }
        // The model's folded forward applies ReLU after every conv, BatchNorm or not.
        nodes.push({ op: 'relu', name: `${l.name}.relu`, inputs: [last], output: l.name });
        spatial.set(l.name, true);
        break;
      }
      case 'maxpool':
        nodes.push({ op: 'maxPool', name: l.name, inputs: [input], output: l.name, kernel: [...l.kernel!], stride: [...l.stride!], padding: [...l.padding!] });
        spatial.set(l.name, true);
        break;
      case 'avgpool':
        // The model pools as torchvision does, padding counted in the divisor.
        nodes.push({
          op: 'avgPool',
          name: l.name,
          inputs: [input],
          output: l.name,
          kernel: [...l.kernel!],
          stride: [...l.stride!],
          padding: [...l.padding!],
          countIncludePad: true,
        });
        spatial.set(l.name, true);
        break;
      case 'concat':
        nodes.push({ op: 'concat', name: l.name, inputs: [...l.inputs], output: l.name });
        spatial.set(l.name, true);
        break;
      case 'globalavgpool':
        nodes.push({ op: 'globalAvgPool', name: l.name, inputs: [input], output: l.name });
        spatial.set(l.name, false);
        break;
      case 'dropout':
        nodes.push({ op: 'dropout', name: l.name, inputs: [input], output: l.name, rate: DROPOUT_RATE });
        spatial.set(l.name, spatial.get(input) ?? unsupported(`layer ${l.name} reads ${input}, which comes later`));
        break;
      case 'linear': {
        const fc = model.linears.get(l.name);
        if (!fc) unsupported(`layer ${l.name} has no parameters in the model`);
        let flat = input;
        if (spatial.get(input) ?? unsupported(`layer ${l.name} reads ${input}, which comes later`)) {
          // The model flattens NHWC rows as they lie, with weights in that order.
          flat = `${l.name}.flatten`;
          nodes.push({ op: 'flatten', name: flat, inputs: [input], output: flat, order: 'hwc' });
        }
        nodes.push({
          op: 'dense',
          name: l.name,
          inputs: [flat],
          output: l.name,
          weight: weight(`${l.name}.weight`, fc!.w),
          bias: weight(`${l.name}.bias`, fc!.b),
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

  const data = await Promise.all(pending.map((p) => p.tensor.read()));
  const weights = new Map<string, GraphWeight>();
  pending.forEach((p, i) => weights.set(p.name, { shape: [...p.tensor.shape], data: data[i] as Float32Array }));
  return {
    source: INCEPTION_V3_SOURCE,
    input: { name: 'input', shape: [model.inputSize, model.inputSize, 3] },
    output: last!.name,
    nodes,
    weights,
    outputIsProbabilities: false,
  };
}
