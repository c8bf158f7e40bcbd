/** What every part of the TF.js layers importer shares: its error, and JSON helpers for messages. */
import { GraphError } from '../../graph/ir.js';

/** The model file is not a layers model the engine can run; the message names the file and,
 * where one is at fault, the layer and what it uses. */
export class TfjsLayersError extends GraphError {
  constructor(
    readonly source: string,
    readonly problem: string,
  ) {
    super(`${source}: ${problem}`);
  }
}

export type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
export const fmt = (shape: readonly number[]): string => `[${shape.join(', ')}]`;
export const show = (v: unknown): string => (v === undefined ? 'undefined' : JSON.stringify(v));
