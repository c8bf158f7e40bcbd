/**
 * The HTML report's table of every number: one row group per conv × batch, a row per side
 * (full, factorized, fused), so a reader can check each chart's bars against exact values.
 */
import { escapeHtml } from '../../io/html-report.js';
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
  hasTarget,
  type Num,
} from './format.js';
import type { FactorizationResult, FusedResult, SideResult } from './result.js';

function percentOfPeak(gflops: Num, peak: Num): string {
  return finite(gflops) && finite(peak) && peak > 0 ? `${((100 * gflops) / peak).toFixed(0)}%` : DASH;
}

export function tableHtml(r: FactorizationResult): string {
  const target = hasTarget(r);
  const head = [
    'Conv',
    'Batch',
    'Predicted',
    ...(target ? ['Target'] : []),
    'Side',
    'Convs',
    'MACs',
    'Params',
    'ms (median)',
    'ms min–max',
    'Time ratio (side / full)',
    'GFLOP/s',
    '% of peak',
    'Variant',
    'Max rel err',
    'Runs',
  ];
  const body: string[] = [];
  r.rows.forEach((row, i) => {
    type Side = { label: string; cls: string; side: SideResult | FusedResult; convs: string; macs: Num; params: Num; timeRatio: string };
    const sides: Side[] = [
      { label: 'full', cls: 'full', side: row.full, convs: row.full.convs, macs: row.full.macs, params: row.full.params, timeRatio: DASH },
      {
        label: 'factorized',
        cls: 'fact',
        side: row.factorized,
        convs: row.factorized.convs,
        macs: row.factorized.macs,
        params: row.factorized.params,
        timeRatio: formatRatio(row.measuredRatio),
      },
    ];
    if (row.fused) {
      sides.push({
        label: 'fused BN+ReLU',
        cls: 'fused',
        side: row.fused,
        convs: row.factorized.convs,
        macs: row.factorized.macs,
        params: row.factorized.params,
        timeRatio: formatRatio(fusedRatio(row)),
      });
    }
    sides.forEach((s, j) => {
      const cells: string[] = [];
      if (j === 0) {
        const span = `rowspan="${sides.length}"`;
        cells.push(
          `<th scope="rowgroup" ${span} class="conv"><span class="name">${escapeHtml(row.name)}</span>` +
            `<span class="sub">${escapeHtml(row.group ?? '')}</span><span class="sub">${escapeHtml(row.shape ?? '')}</span></th>`,
          `<td ${span} class="num">${escapeHtml(row.batch)}</td>`,
          `<td ${span} class="num">${escapeHtml(formatRatio(row.predictedRatio))}${row.paperRatio !== undefined ? `<span class="sub">paper ${escapeHtml(formatRatio(row.paperRatio))}</span>` : ''}</td>`,
          ...(target ? [`<td ${span} class="num">${escapeHtml(formatTarget(row))}</td>`] : []),
        );
      }
      cells.push(
        `<td class="side ${s.cls}">${escapeHtml(s.label)}</td>`,
        `<td class="convs">${escapeHtml(s.convs ?? DASH)}</td>`,
        `<td class="num">${escapeHtml(formatCount(s.macs))}</td>`,
        `<td class="num">${escapeHtml(formatCount(s.params))}</td>`,
        `<td class="num">${escapeHtml(formatMs(s.side.ms))}</td>`,
        `<td class="num">${escapeHtml(formatMsRange(s.side.msMin, s.side.msMax))}</td>`,
        `<td class="num">${escapeHtml(s.timeRatio)}</td>`,
        `<td class="num">${escapeHtml(formatGflops(s.side.gflops))}</td>`,
        `<td class="num">${escapeHtml(percentOfPeak(s.side.gflops, r.peakGflops))}</td>`,
        `<td>${escapeHtml(s.side.variant ?? DASH)}</td>`,
        `<td class="num">${escapeHtml(formatRelErr(s.side.maxRelErr))}</td>`,
        `<td class="num">${escapeHtml(finite(s.side.runs) ? String(s.side.runs) : DASH)}</td>`,
      );
      body.push(`<tr class="${i % 2 ? 'odd' : 'even'}${j === 0 ? ' first' : ''}">${cells.join('')}</tr>`);
    });
  });
  return (
    `<table id="results">\n<thead><tr>${head.map((h) => `<th scope="col">${escapeHtml(h)}</th>`).join('')}</tr></thead>\n` +
    `<tbody>\n${body.join('\n')}\n</tbody>\n</table>`
  );
}
