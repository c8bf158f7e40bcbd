/**
 * The factorization result as a table for stdout: aligned plain text (fitted to a terminal's
 * width by leaving out the less important columns), markdown, or CSV with every value at full precision.
 */
import {
  DASH,
  finite,
  formatCount,
  formatGflops,
  formatMs,
  formatMsRange,
  formatRatio,
  formatRelErr,
  formatTarget,
  fusedRatio,
  hasFused,
  hasTarget,
  meetsTarget,
  timingText,
  tuningText,
  type Num,
} from './format.js';
import type { FactorizationResult, FactorizationRow, FusedResult, SideResult } from './result.js';
import { csvNumber, csvTable, droppedNote, markdownTable, textTable, type TableColumn, type TableFormat } from './table.js';

function msCell(s: { ms: Num; msMin: Num; msMax: Num }): string {
  return `${formatMs(s.ms)} (${formatMsRange(s.msMin, s.msMax)})`;
}

export interface FactorizationTableOptions {
  /** 'text' (default): aligned plain text; 'md': a markdown table; 'csv': CSV of raw values. */
  format?: TableFormat;
  /** For text: fit lines to this width (a terminal's) by leaving out less important columns. */
  width?: number;
}

/**
 * An aligned plain-text table, one line per row (conv × batch), under a header line with the
 * adapter, its matmul peak and the timing source. Ratios are factorized / full (< 1: the
 * factorized version is cheaper or faster; 'meas. fused' is fused / full); ms is the median
 * with min–max in parentheses. When some row has a target ratio, a 'target' column shows it
 * with ✓ if the measured ratio is at most the target and ✗ if not.
 */
export function formatFactorizationTable(r: FactorizationResult, options: FactorizationTableOptions = {}): string {
  const format = options.format ?? 'text';
  if (format === 'csv') return csvTable(factorizationCsvColumns(r), r.rows).join('\n') + '\n';
  const fused = hasFused(r);
  const target = hasTarget(r);
  type Col = TableColumn<FactorizationRow>;
  // Priorities: what a narrow terminal loses first (lowest first); conv, batch and the
  // predicted and measured ratios always stay.
  const cols: Col[] = [
    { head: 'conv', cell: (row) => row.name },
    { head: 'batch', right: true, cell: (row) => String(row.batch) },
    { head: 'MACs full', right: true, priority: 4, cell: (row) => formatCount(row.full.macs) },
    { head: 'MACs fact', right: true, priority: 4, cell: (row) => formatCount(row.factorized.macs) },
    { head: 'params full', right: true, priority: 1, cell: (row) => formatCount(row.full.params) },
    { head: 'params fact', right: true, priority: 1, cell: (row) => formatCount(row.factorized.params) },
    ...(r.rows.some((row) => row.paperRatio !== undefined)
      ? [{ head: 'paper', right: true, priority: 5, cell: (row: FactorizationRow) => (row.paperRatio !== undefined ? formatRatio(row.paperRatio) : DASH) }]
      : []),
    { head: 'predicted', right: true, cell: (row) => formatRatio(row.predictedRatio) },
    { head: 'measured', right: true, cell: (row) => formatRatio(row.measuredRatio) },
    ...(target ? [{ head: 'target', right: true, priority: 9, cell: (row: FactorizationRow) => formatTarget(row) }] : []),
    ...(fused ? [{ head: 'meas. fused', right: true, priority: 8, cell: (row: FactorizationRow) => formatRatio(fusedRatio(row)) }] : []),
    { head: 'ms full (min–max)', right: true, priority: 7, cell: (row) => msCell(row.full) },
    { head: 'ms fact (min–max)', right: true, priority: 7, cell: (row) => msCell(row.factorized) },
    ...(fused ? [{ head: 'ms fused (min–max)', right: true, priority: 6, cell: (row: FactorizationRow) => (row.fused ? msCell(row.fused) : DASH) }] : []),
    {
      head: fused ? 'GFLOP/s full/fact/fused' : 'GFLOP/s full/fact',
      right: true,
      priority: 3,
      cell: (row) => [row.full.gflops, row.factorized.gflops, ...(fused ? [row.fused?.gflops] : [])].map(formatGflops).join(' / '),
    },
    {
      head: fused ? 'variants full | fact | fused' : 'variants full | fact',
      priority: 0,
      cell: (row) => [row.full.variant, row.factorized.variant, ...(fused ? [row.fused?.variant ?? DASH] : [])].join(' | '),
    },
    {
      head: 'max rel err',
      priority: 2,
      cell: (row) => [row.full.maxRelErr, row.factorized.maxRelErr, ...(fused ? [row.fused?.maxRelErr] : [])].map(formatRelErr).join(' / '),
    },
  ];

  const header = [
    `Factorization on ${r.adapter}${r.driver ? ` (${r.driver})` : ''}`,
    `matmul peak ${finite(r.peakGflops) ? `${formatGflops(r.peakGflops)} GFLOP/s` : 'not measured'}`,
    `timing: ${timingText(r.timing)}`,
    ...(r.quick ? ['quick run (rough numbers)'] : []),
    ...(r.tuning ? [tuningText(r.tuning)] : []),
  ].join(' · ');
  const legend = `ratios are factorized / full (< 1: factorized is cheaper or faster${target ? '; target: ✓ when measured is at most it' : ''}); ms: median of runs (min–max); ${r.date}, incept-gpu ${r.engineVersion}`;
  if (format === 'md') return [header, '', legend, '', ...markdownTable(cols, r.rows)].join('\n') + '\n';
  const table = textTable(cols, r.rows, { width: options.width });
  return [header, legend, '', ...table.lines, ...droppedNote(table.dropped, options.width)].join('\n') + '\n';
}

/** Every value of a row as its own CSV column, numbers at full precision. */
function factorizationCsvColumns(r: FactorizationResult): TableColumn<FactorizationRow>[] {
  type Col = TableColumn<FactorizationRow>;
  const side = (name: string, get: (row: FactorizationRow) => SideResult | FusedResult | undefined | null, withCosts: boolean): Col[] => [
    ...(withCosts
      ? [
          { head: `${name}_macs`, cell: (row: FactorizationRow) => csvNumber((get(row) as SideResult | undefined)?.macs) },
          { head: `${name}_params`, cell: (row: FactorizationRow) => csvNumber((get(row) as SideResult | undefined)?.params) },
          { head: `${name}_convs`, cell: (row: FactorizationRow) => (get(row) as SideResult | undefined)?.convs ?? '' },
        ]
      : []),
    { head: `${name}_ms`, cell: (row) => csvNumber(get(row)?.ms) },
    { head: `${name}_ms_min`, cell: (row) => csvNumber(get(row)?.msMin) },
    { head: `${name}_ms_max`, cell: (row) => csvNumber(get(row)?.msMax) },
    { head: `${name}_runs`, cell: (row) => csvNumber(get(row)?.runs) },
    { head: `${name}_gflops`, cell: (row) => csvNumber(get(row)?.gflops) },
    { head: `${name}_variant`, cell: (row) => get(row)?.variant ?? '' },
    { head: `${name}_max_rel_err`, cell: (row) => csvNumber(get(row)?.maxRelErr) },
  ];
  return [
    { head: 'conv', cell: (row) => row.name },
    { head: 'group', cell: (row) => String(row.group ?? '') },
    { head: 'shape', cell: (row) => row.shape },
    { head: 'batch', cell: (row) => String(row.batch) },
    { head: 'paper_ratio', cell: (row) => csvNumber(row.paperRatio) },
    { head: 'predicted_ratio', cell: (row) => csvNumber(row.predictedRatio) },
    { head: 'measured_ratio', cell: (row) => csvNumber(row.measuredRatio) },
    { head: 'target_ratio', cell: (row) => csvNumber(row.targetRatio) },
    { head: 'target_met', cell: (row) => String(meetsTarget(row) ?? '') },
    { head: 'fused_ratio', cell: (row) => csvNumber(fusedRatio(row)) },
    ...side('full', (row) => row.full, true),
    ...side('factorized', (row) => row.factorized, true),
    ...side('fused', (row) => row.fused, false),
    { head: 'adapter', cell: () => r.adapter },
    { head: 'timing', cell: () => r.timing },
    { head: 'peak_gflops', cell: () => csvNumber(r.peakGflops) },
    { head: 'date', cell: () => r.date },
  ];
}
