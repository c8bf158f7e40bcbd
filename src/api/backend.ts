/** What the model formats have in common once loaded: the classifier (classifier.ts) runs any of
 * them, the graph formats through graph-backend.ts. @internal */
import type { Tensor } from '../runtime/tensor.js';
import type { InputConvention } from '../io/preprocess.js';

export interface Backend {
  description: string;
  inputShape: readonly [number, number, number];
  numClasses: number;
  outputIsProbabilities: boolean;
  parameterCount: number;
  /** The input convention the file implies when the caller names none, and why (the graph
   * formats leave it to their preset). */
  defaultInputConvention?: { convention: InputConvention; reason: string };
  /** [N, H, W, C] → [N, classes]. */
  forward(x: Tensor): Tensor;
  dispose(): void;
}
