/**
 * Tables of the benchmark commands in three formats: aligned plain text for a terminal (fitted to
 * its width by leaving out the least important columns), a markdown table, and CSV (RFC 4180).
 * Used by `incept bench factorization` and `incept bench convs`.
 */

export type TableFormat = 'text' | 'md' | 'csv';
export const TABLE_FORMATS: readonly TableFormat[] = ['text', 'md', 'csv'];

export interface TableColumn<R> {
  head: string;
  /** Right-aligned in text (numbers), and in markdown. */
  right?: boolean;
  cell: (row: R) => string;
  /** Which columns a narrow terminal loses first: the lowest priority goes first; a column
   * without one is always kept. */
  priority?: number;
}

export interface TextTableOptions {
  /** Fit lines to this many characters (a terminal's width) by leaving columns out. */
  width?: number;
}

function displayWidth(s: string): number {
  return [...s].length;
}

function pad(s: string, width: number, right: boolean): string {
  const n = displayWidth(s);
  if (n >= width) return s;
  const fill = ' '.repeat(width - n);
  return right ? fill + s : s + fill;
}

/** Aligned text: header, dashes, one line per row. With `width`, the lowest-priority columns are
 * left out until the lines fit (or only the kept-always columns are left); `dropped` names them. */
export function textTable<R>(cols: readonly TableColumn<R>[], rows: readonly R[], options: TextTableOptions = {}): { lines: string[]; dropped: string[] } {
  const all = cols.map((c) => ({ c, cells: rows.map((r) => c.cell(r)) }));
  const widthOf = (col: (typeof all)[number]) => Math.max(displayWidth(col.c.head), ...col.cells.map(displayWidth));
  let kept = all;
  const dropped: string[] = [];
  const total = (cs: typeof all) => cs.reduce((s, col) => s + widthOf(col), 0) + 2 * Math.max(0, cs.length - 1);
  if (options.width !== undefined && options.width > 0) {
    const order = all.filter((col) => col.c.priority !== undefined).sort((a, b) => a.c.priority! - b.c.priority!);
    for (const col of order) {
      if (total(kept) <= options.width) break;
      kept = kept.filter((k) => k !== col);
      dropped.push(col.c.head);
    }
  }
  const widths = kept.map(widthOf);
  const line = (values: string[]) =>
    values
      .map((v, i) => pad(v, widths[i]!, kept[i]!.c.right ?? false))
      .join('  ')
      .trimEnd();
  return {
    lines: [line(kept.map((k) => k.c.head)), line(widths.map((w) => '-'.repeat(w))), ...rows.map((_, r) => line(kept.map((k) => k.cells[r]!)))],
    dropped,
  };
}

function mdCell(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** A GitHub-flavoured markdown table with every column. */
export function markdownTable<R>(cols: readonly TableColumn<R>[], rows: readonly R[]): string[] {
  return [
    `| ${cols.map((c) => mdCell(c.head)).join(' | ')} |`,
    `|${cols.map((c) => (c.right ? ' ---: ' : ' --- ')).join('|')}|`,
    ...rows.map((r) => `| ${cols.map((c) => mdCell(c.cell(r))).join(' | ')} |`),
  ];
}

function csvCell(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** CSV (RFC 4180): a header line, then one line per row. */
export function csvTable<R>(cols: readonly TableColumn<R>[], rows: readonly R[]): string[] {
  return [cols.map((c) => csvCell(c.head)).join(','), ...rows.map((r) => cols.map((c) => csvCell(c.cell(r))).join(','))];
}

/** A raw number for CSV: full precision, '' for a missing value. */
export function csvNumber(v: number | null | undefined): string {
  return typeof v === 'number' && Number.isFinite(v) ? String(v) : '';
}

/** The note under a fitted text table that says what was left out. */
export function droppedNote(dropped: readonly string[], width: number | undefined): string[] {
  return dropped.length === 0 ? [] : [`(left out to fit ${width} columns: ${dropped.join(', ')}; --format md or csv shows every column)`];
}
