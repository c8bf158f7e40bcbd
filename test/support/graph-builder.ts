/** Builds graph-IR graphs node by node with seeded random weights, for the tests of everything
 * that runs or converts the IR (the graph executor, the peer benchmark's TF.js translation). */
import { inferShapes, type Graph, type GraphNode, type GraphPadding } from '../../src/graph/ir.js';
import { randomArray, type Rng } from './random.js';

/** A node without its name (optional here) and output (derived from the name). */
type NodeInit = GraphNode extends infer N ? (N extends GraphNode ? Omit<N, 'name' | 'output'> & { name?: string } : never) : never;

/** Builds a graph node by node with random weights; each method returns the value it writes. */
export class Builder {
  readonly nodes: GraphNode[] = [];
  readonly weights: Graph['weights'] = new Map();
  private count = 0;

  constructor(
    private readonly rng: Rng,
    readonly inputShape: [number, number, number],
    readonly source = 'test-graph',
  ) {}

  graph(output: string, outputIsProbabilities = false): Graph {
    return {
      source: this.source,
      input: { name: 'x', shape: [...this.inputShape] },
      output,
      nodes: [...this.nodes],
      weights: this.weights,
      outputIsProbabilities,
    };
  }

  shape(v: string): number[] {
    return inferShapes(this.graph(v)).get(v)!;
  }

  private add(node: NodeInit): string {
    const name = node.name ?? `${node.op}_${++this.count}`;
    this.nodes.push({ ...node, name, output: `${name}:0` } as GraphNode);
    return `${name}:0`;
  }

  private weight(name: string, shape: number[], lo = -1, hi = 1): string {
    this.weights.set(name, {
      shape,
      data: randomArray(
        this.rng,
        shape.reduce((a, b) => a * b, 1),
        lo,
        hi,
      ),
    });
    return name;
  }

  conv(
    input: string,
    cout: number,
    kernel: [number, number],
    options: { stride?: [number, number]; padding?: GraphPadding; bias?: boolean; relu?: boolean; name?: string } = {},
  ): string {
    const cin = this.shape(input).at(-1)!;
    const name = options.name ?? `conv_${++this.count}`;
    const std = 1 / Math.sqrt(kernel[0] * kernel[1] * cin);
    return this.add({
      op: 'conv2d',
      name,
      inputs: [input],
      weight: this.weight(`${name}.w`, [kernel[0], kernel[1], cin, cout], -std * 1.7, std * 1.7),
      ...(options.bias ? { bias: this.weight(`${name}.b`, [cout]) } : {}),
      stride: options.stride ?? [1, 1],
      padding: options.padding ?? [0, 0, 0, 0],
      ...(options.relu ? { relu: true } : {}),
    });
  }

  batchNorm(input: string, options: { gamma?: boolean; beta?: boolean; name?: string } = {}): string {
    const c = this.shape(input).at(-1)!;
    const name = options.name ?? `bn_${++this.count}`;
    return this.add({
      op: 'batchNorm',
      name,
      inputs: [input],
      ...((options.gamma ?? true) ? { gamma: this.weight(`${name}.gamma`, [c], 0.5, 1.5) } : {}),
      ...((options.beta ?? true) ? { beta: this.weight(`${name}.beta`, [c], -0.5, 0.5) } : {}),
      mean: this.weight(`${name}.mean`, [c], -0.5, 0.5),
      variance: this.weight(`${name}.var`, [c], 0.5, 1.5),
      eps: 1e-3,
    });
  }

  dense(input: string, units: number, options: { bias?: boolean; relu?: boolean } = {}): string {
    const fin = this.shape(input)[0]!;
    const name = `dense_${++this.count}`;
    const std = 1 / Math.sqrt(fin);
    return this.add({
      op: 'dense',
      name,
      inputs: [input],
      weight: this.weight(`${name}.w`, [fin, units], -std * 1.7, std * 1.7),
      ...(options.bias ? { bias: this.weight(`${name}.b`, [units]) } : {}),
      ...(options.relu ? { relu: true } : {}),
    });
  }

  pool(op: 'maxPool' | 'avgPool', input: string, kernel: [number, number], stride: [number, number], padding: GraphPadding, countIncludePad = true): string {
    return op === 'maxPool'
      ? this.add({ op, inputs: [input], kernel, stride, padding })
      : this.add({ op, inputs: [input], kernel, stride, padding, countIncludePad });
  }

  relu(input: string, name?: string): string {
    return this.add({ op: 'relu', inputs: [input], ...(name ? { name } : {}) });
  }

  globalAvgPool(input: string): string {
    return this.add({ op: 'globalAvgPool', inputs: [input] });
  }

  concat(inputs: string[], name?: string): string {
    return this.add({ op: 'concat', inputs, ...(name ? { name } : {}) });
  }

  flatten(input: string, order: 'hwc' | 'chw'): string {
    return this.add({ op: 'flatten', inputs: [input], order });
  }

  addValues(a: string, b: string): string {
    return this.add({ op: 'add', inputs: [a, b] });
  }

  softmax(input: string): string {
    return this.add({ op: 'softmax', inputs: [input] });
  }

  dropout(input: string): string {
    return this.add({ op: 'dropout', inputs: [input], rate: 0.3 });
  }
}
