/**
 * incept-gpu/bench: the factorization benchmark as a library (Node only: its HTML report reads
 * Chart.js from node_modules). `incept bench factorization` is a thin command over these; a
 * program can run the same measurement with its own options and read the rows as data.
 */
export { runFactorization, targetRatio, TARGET_SHARE_OF_SAVING, type FactorizationOptions } from './bench/factorization/run.js';
export { FACTORIZATION_PAIRS, middleWidth, describeConv, convParams, type FactorizationPair, type ConvSpec } from './bench/factorization/pairs.js';
export { formatFactorizationTable, renderFactorizationHtml, meetsTarget } from './bench/factorization/report.js';
export type { FactorizationResult, FactorizationRow, SideResult, FusedResult, TimingSource } from './bench/factorization/result.js';
