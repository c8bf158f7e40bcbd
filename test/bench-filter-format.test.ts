/**
 * `incept bench … --filter` takes 'x', 'X' and '×' alike (pair and conv names use '×'), and the
 * factorization and convs tables fit a terminal's width or come as markdown or CSV (--format).
 * Pure functions and flag checks: nothing here starts a GPU benchmark.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { matchesFilter, normalizeDims, terminalWidth } from '../src/cli/args.js';
import { benchConvs } from '../src/cli/bench-convs.js';
import { benchFactorization } from '../src/cli/bench-factorization.js';
import { benchOps } from '../src/cli/bench-ops.js';
import { buildProgram } from '../src/cli/main.js';
import { formatFactorizationTable } from '../src/bench/factorization/report.js';
import type { FactorizationResult, SideResult } from '../src/bench/factorization/result.js';
import { formatConvBenchTable, type ConvBenchResult } from '../src/bench/convs/run.js';

const dir = mkdtempSync(join(tmpdir(), 'incept-filter-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('--filter: x, X and × are interchangeable', () => {
  it('matchesFilter normalises both sides', () => {
    expect(normalizeDims('7x7 1X7 3×3')).toBe('7×7 1×7 3×3');
    expect(matchesFilter('7x7', 'Mixed_6b 7×7 (768→768)')).toBe(true);
    expect(matchesFilter('1X7', '1×7 17²×128→128')).toBe(true);
    expect(matchesFilter('3×3', 'maxPool2d 3x3/2 147²×64')).toBe(true);
    expect(matchesFilter('softmax', 'softmax cross-entropy')).toBe(true);
    expect(matchesFilter('9x9', 'Mixed_6b 7×7')).toBe(false);
    expect(matchesFilter(undefined, 'anything')).toBe(true);
    // Any of the names may match (a conv shape or one of its layers).
    expect(matchesFilter('Mixed_6b', '1×7 17²×128→128', 'Mixed_6b', 'Mixed_6c')).toBe(true);
  });

  // The --json check comes right after the filter's: a directory there stops the command with
  // its own error, so reaching it shows the filter matched (and nothing is benchmarked).
  it('bench factorization, convs and ops accept 7x7 / 1x7 / 3x3 for ×', async () => {
    await expect(benchFactorization({ tune: true, filter: '7x7', json: dir })).rejects.toThrow(/--json .* is a directory/);
    await expect(benchFactorization({ tune: true, filter: '7X7', json: dir })).rejects.toThrow(/--json .* is a directory/);
    await expect(benchConvs({ tune: true, filter: '1x7', json: dir })).rejects.toThrow(/--json .* is a directory/);
    await expect(benchOps({ filter: '3x3/2', json: dir })).rejects.toThrow(/--json .* is a directory/);
    await expect(benchFactorization({ tune: true, filter: '9x9', json: dir })).rejects.toThrow(/--filter '9x9' matches no pair/);
  });
});

function side(ms: number, variant: string): SideResult {
  return {
    macs: 94_080_000,
    params: 409_600,
    ms,
    msMin: ms * 0.9,
    msMax: ms * 1.2,
    runs: 10,
    gflops: 12.5,
    variant,
    maxRelErr: 3.2e-7,
    convs: '7×7 (768→768)',
  };
}

const RESULT: FactorizationResult = {
  adapter: 'llvmpipe (LLVM 15.0.7, 256 bits)',
  driver: 'lavapipe',
  peakGflops: 40.2,
  date: '2025-01-01T00:00:00.000Z',
  timing: 'timestamp',
  quick: true,
  engineVersion: '0.0.0',
  tuning: { ms: 29_000, budgetMs: 30_000, problems: 6, store: 'memory' },
  rows: [1, 8].map((batch) => ({
    name: 'Mixed_6b 7×7 (128→128)',
    group: 'n×n',
    shape: '17×17, 128→128',
    batch,
    full: side(12.5, 'conv2d_tile8x8_vec4_with_a_long_name'),
    factorized: side(4.25, 'asym_1x7_subgroup16x8 + asym_7x1_subgroup16x8'),
    fused: { ms: 4.1, msMin: 4, msMax: 4.5, gflops: 13, variant: 'asym_1x7_subgroup16x8 + asym_7x1_subgroup16x8', maxRelErr: 4e-7, runs: 10 },
    predictedRatio: 2 / 7,
    measuredRatio: 0.34,
    paperRatio: 2 / 7,
    targetRatio: 0.43,
  })),
};

/** A small CSV reader (quoted fields with doubled quotes), enough to check the output. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  for (const line of text.trimEnd().split('\n')) {
    const cells: string[] = [];
    let cur = '';
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
      const ch = line[i]!;
      if (quoted) {
        if (ch === '"' && line[i + 1] === '"') {
          cur += '"';
          i++;
        } else if (ch === '"') quoted = false;
        else cur += ch;
      } else if (ch === '"') quoted = true;
      else if (ch === ',') {
        cells.push(cur);
        cur = '';
      } else cur += ch;
    }
    cells.push(cur);
    rows.push(cells);
  }
  return rows;
}

describe('bench tables: fitted text, markdown, CSV', () => {
  it('the factorization table fits a terminal width and says what it left out', () => {
    const full = formatFactorizationTable(RESULT);
    const widest = Math.max(
      ...full
        .split('\n')
        .slice(3)
        .map((l) => [...l].length),
    );
    expect(widest).toBeGreaterThan(150); // unfitted: every column
    for (const width of [80, 120]) {
      const text = formatFactorizationTable(RESULT, { width });
      const lines = text.split('\n');
      const table = lines.slice(3, 3 + 2 + RESULT.rows.length);
      for (const l of table) expect([...l].length, l).toBeLessThanOrEqual(width);
      // The essentials stay: the conv, the batch, the predicted and measured ratios.
      expect(table[0]).toMatch(/conv\s+batch.*predicted\s+measured/);
      expect(table[2]).toContain('Mixed_6b 7×7');
      expect(text).toMatch(new RegExp(`left out to fit ${width} columns: variants full \\| fact \\| fused.*--format md or csv`));
    }
  });

  it('--format md: a markdown table with every column; csv: every value, one column each', () => {
    const md = formatFactorizationTable(RESULT, { format: 'md' }).trimEnd().split('\n');
    const table = md.filter((l) => l.startsWith('|'));
    expect(table).toHaveLength(2 + RESULT.rows.length);
    expect(table[0]).toMatch(/\| conv \| batch \|.*\| variants full \\\| fact \\\| fused \| max rel err \|/);
    expect(table[1]).toMatch(/^\| --- \| ---: \|/);
    // Escaped pipes: every row has as many cells as the header.
    const cells = (l: string) => l.split(/(?<!\\)\|/).length;
    for (const l of table) expect(cells(l)).toBe(cells(table[0]!));

    const csv = parseCsv(formatFactorizationTable(RESULT, { format: 'csv' }));
    expect(csv).toHaveLength(1 + RESULT.rows.length);
    const head = csv[0]!;
    for (const row of csv) expect(row).toHaveLength(head.length);
    const at = (row: string[], col: string) => row[head.indexOf(col)];
    expect(at(csv[1]!, 'conv')).toBe('Mixed_6b 7×7 (128→128)');
    expect(at(csv[2]!, 'batch')).toBe('8');
    expect(Number(at(csv[1]!, 'full_ms'))).toBe(12.5);
    expect(Number(at(csv[1]!, 'predicted_ratio'))).toBeCloseTo(2 / 7, 12);
    expect(at(csv[1]!, 'factorized_variant')).toBe('asym_1x7_subgroup16x8 + asym_7x1_subgroup16x8');
    expect(at(csv[1]!, 'target_met')).toBe('true');
    expect(at(csv[1]!, 'fused_ms_max')).toBe('4.5');
  });

  it('the convs table takes the same formats', () => {
    const r: ConvBenchResult = {
      adapter: 'llvmpipe',
      date: '2025-01-01T00:00:00.000Z',
      timing: 'timestamp',
      batch: 1,
      peakGflops: 40,
      peakKernel: 'subgroup16x8',
      rows: [
        {
          shape: '1×7 17²×128→128',
          layers: ['Mixed_6b', 'Mixed_6c', 'Mixed_6d'],
          kind: 'asymmetric',
          kh: 1,
          kw: 7,
          batch: 1,
          macs: 1_000_000,
          variant: 'asym_subgroup16x8_long_variant_name',
          ms: 1.5,
          msMin: 1.4,
          msMax: 1.9,
          gflops: 30,
          shareOfPeak: 0.75,
          maxRelErr: 1e-7,
        },
      ],
    };
    const text = formatConvBenchTable(r, { width: 40 }).split('\n');
    const table = text.slice(3, 6);
    for (const l of table) expect([...l].length, l).toBeLessThanOrEqual(40);
    expect(table[2]).toMatch(/^1×7 17²×128→128\s+75%$/);
    expect(text.join('\n')).toMatch(/left out to fit 40 columns: layers, max rel err, kind, variant/);
    const md = formatConvBenchTable(r, { format: 'md' });
    expect(md).toContain('| 1×7 17²×128→128 | asymmetric | asym_subgroup16x8_long_variant_name |');
    expect(md).toContain('Mixed_6b, Mixed_6c, Mixed_6d |');
    const csv = parseCsv(formatConvBenchTable(r, { format: 'csv' }));
    expect(csv[0]).toContain('share_of_peak');
    expect(csv[1]![csv[0]!.indexOf('layers')]).toBe('Mixed_6b; Mixed_6c; Mixed_6d');
  });

  it('--format is a choice of text, md and csv on bench factorization and convs; text fits only a terminal', () => {
    const bench = buildProgram().commands.find((c) => c.name() === 'bench')!;
    for (const name of ['factorization', 'convs']) {
      const option = bench.commands.find((c) => c.name() === name)!.options.find((o) => o.long === '--format');
      expect(option?.argChoices, name).toEqual(['text', 'md', 'csv']);
    }
    expect(terminalWidth({ isTTY: true, columns: 100 })).toBe(100);
    expect(terminalWidth({ isTTY: false, columns: 100 })).toBeUndefined();
    expect(terminalWidth({})).toBeUndefined();
  });
});
