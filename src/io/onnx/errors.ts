/**
 * The importer's error class, in a module of its own: the public API exports it, and its
 * declaration must not pull in the converters' types (they name protobufjs's generated message
 * types, which a consumer's type check cannot resolve).
 */
import { GraphError } from '../../graph/ir.js';

/** An ONNX file the importer cannot read or does not support; the message says which node and why. */
export class OnnxImportError extends GraphError {
  constructor(
    readonly source: string,
    readonly problem: string,
  ) {
    super(`${source}: ${problem}`);
  }
}
