/** The comparison table: one metric per row, Switchboard next to Kamailio and their ratio. */

export interface Row {
  metric: string;
  switchboard?: number;
  kamailio?: number;
  /** Digits after the point for the two values. */
  digits?: number;
  note?: string;
}

function fmt(v: number | undefined, digits: number): string {
  if (v === undefined || !Number.isFinite(v)) return '-';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function ratio(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return undefined;
  return a / b;
}

/** Column headings: the reference system (the `kamailio` values) and the ratio. */
export interface TableHeads {
  reference: string;
  ratio: string;
}

export function formatTable(rows: Row[], heads: TableHeads = { reference: 'Kamailio', ratio: 'SB/Kam' }): string {
  const head = ['metric', 'Switchboard', heads.reference, heads.ratio, 'note'];
  const cells = rows.map((r) => {
    const q = ratio(r.switchboard, r.kamailio);
    return [r.metric, fmt(r.switchboard, r.digits ?? 0), fmt(r.kamailio, r.digits ?? 0), q === undefined ? '-' : `${q.toFixed(2)}x`, r.note ?? ''];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]): string =>
    c.map((v, i) => (i === 0 || i === 4 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}
