/**
 * `switchboard cdr`: the call detail records, filtered, as a table, JSON or
 * CSV. It reads the database directly through a read-only connection, so it
 * works the same with the server running (WAL lets both at once) or stopped.
 */
import path from 'node:path';
import { loadConfigFile } from '../config/load.js';
import { CDR_KEYS, CdrReader, DISPOSITIONS, type CdrQuery, type CdrRow, type Disposition } from '../store/cdr.js';
import { openDatabaseReadOnly } from '../store/db.js';
import { duration, table } from './text-table.js';

export interface CdrOptions {
  config?: string;
  data?: string;
  since?: string;
  until?: string;
  src?: string;
  dst?: string;
  disposition?: string;
  limit?: string;
  json?: boolean;
  csv?: boolean;
}

/** Rows shown in the table when --limit is not given (JSON and CSV print every match). */
export const TABLE_LIMIT = 100;

/** A flag with a value we cannot use: exit code 2, the message names the flag. */
export class CdrUsageError extends Error {
  override name = 'CdrUsageError';
}

/** The query the flags ask for, and how to print it. */
export interface CdrRequest {
  query: CdrQuery;
  format: 'table' | 'json' | 'csv';
  /** The table asks for one row more than it shows, to say that there are more. */
  limitGiven: boolean;
}

export function cdrRequest(opts: CdrOptions, nowMs: number): CdrRequest {
  if (opts.json && opts.csv) throw new CdrUsageError('--json and --csv: choose one');
  const format = opts.json ? 'json' : opts.csv ? 'csv' : 'table';
  const query: CdrQuery = {};
  if (opts.since !== undefined) query.since = parseWhen('--since', opts.since, nowMs);
  if (opts.until !== undefined) query.until = parseWhen('--until', opts.until, nowMs);
  if (query.since !== undefined && query.until !== undefined && query.since >= query.until) {
    throw new CdrUsageError(`--since ${opts.since} is not before --until ${opts.until}`);
  }
  for (const flag of ['src', 'dst'] as const) {
    const v = opts[flag];
    if (v === undefined) continue;
    if (v.trim() === '') throw new CdrUsageError(`--${flag} needs a number, e.g. --${flag} 1001`);
    query[flag] = v.trim();
  }
  if (opts.disposition !== undefined) query.disposition = parseDisposition(opts.disposition);
  let limitGiven = false;
  if (opts.limit !== undefined) {
    const n = /^\d+$/.test(opts.limit.trim()) ? Number(opts.limit.trim()) : NaN;
    if (!Number.isSafeInteger(n)) throw new CdrUsageError(`--limit ${opts.limit}: give a number of rows (0 for all), e.g. --limit 50`);
    if (n > 0) query.limit = n;
    limitGiven = true;
  } else if (format === 'table') {
    query.limit = TABLE_LIMIT + 1;
  }
  return { query, format, limitGiven };
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * A point in time as a user writes it: an age (`30m`, `2h`, `7d`), a date
 * (`2026-12-04`, midnight UTC) or a date and time (`2026-12-04T09:30`,
 * `2026-12-04 09:30:00+01:00`; UTC when no zone is given, as the rows are).
 */
export function parseWhen(flag: string, text: string, nowMs: number): number {
  const t = text.trim();
  const hint = `${flag} ${text}: give an age (30m, 2h, 7d), a date (2026-12-04, UTC) or a date and time (2026-12-04T09:30, UTC unless a zone like +01:00 is given)`;
  const rel = /^(\d{1,9})\s*([smhdw])$/i.exec(t);
  if (rel) return nowMs - Number(rel[1]) * UNITS[rel[2].toLowerCase()];
  const m = /^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(\.\d{1,3})?)?\s*(Z|[+-]\d\d:?\d\d)?)?$/i.exec(t);
  if (!m) throw new CdrUsageError(hint);
  const [, y, mo, d, hh = '00', mi = '00', ss = '00', frac = '', zone = 'Z'] = m;
  const z = zone.toUpperCase() === 'Z' ? 'Z' : `${zone.slice(0, 3)}:${zone.slice(-2)}`;
  const ms = Date.parse(`${y}-${mo}-${d}T${hh}:${mi}:${ss}${frac}${z}`);
  // Date.parse rolls 2026-02-30 over into March; a date that does not exist is a typo.
  const real = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (!Number.isFinite(ms) || real.getUTCMonth() !== Number(mo) - 1 || real.getUTCDate() !== Number(d) || Number(hh) > 23 || Number(mi) > 59 || Number(ss) > 59) {
    throw new CdrUsageError(hint);
  }
  return ms;
}

function parseDisposition(text: string): Disposition {
  const norm = text.trim().toUpperCase().replace(/[-_]/g, ' ').replace(/\s+/g, ' ').replace(/^NOANSWER$/, 'NO ANSWER');
  const d = DISPOSITIONS.find((x) => x === norm);
  if (!d) throw new CdrUsageError(`--disposition ${text}: one of ${DISPOSITIONS.map((x) => (x.includes(' ') ? `"${x}"` : x)).join(', ')} (also no-answer), e.g. --disposition busy`);
  return d;
}

/** Runs the command; a CdrUsageError means bad flags (exit 2), any other error exit 1. */
export function runCdr(opts: CdrOptions): void {
  const req = cdrRequest(opts, Date.now());
  const dataDir = opts.data ? path.resolve(opts.data) : opts.config ? loadConfigFile(opts.config).data : path.resolve('./data');
  const db = openDatabaseReadOnly(dataDir);
  if (!db) {
    throw new Error(`there is no database in ${dataDir} (the server makes it at its first start); pass the --config the server runs with, or --data DIR`);
  }
  let rows: CdrRow[];
  try {
    rows = new CdrReader(db).query(req.query);
  } finally {
    db.close();
  }
  if (req.format === 'json') process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
  else if (req.format === 'csv') process.stdout.write(toCsv(rows));
  else {
    const more = !req.limitGiven && rows.length > TABLE_LIMIT;
    console.log(formatCdrTable(more ? rows.slice(0, TABLE_LIMIT) : rows, more));
  }
}

/** RFC 4180: a header line, CRLF line ends, fields with a comma, quote or line break quoted. */
export function toCsv(rows: CdrRow[]): string {
  const field = (v: string | number | null): string => {
    const s = v === null ? '' : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const lines = [CDR_KEYS.join(','), ...rows.map((r) => CDR_KEYS.map((k) => field(r[k])).join(','))];
  return lines.join('\r\n') + '\r\n';
}

export function formatCdrTable(rows: CdrRow[], more: boolean): string {
  if (rows.length === 0) return 'No calls match.';
  const cells = rows.map((r) => [
    r.start.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    r.src,
    r.dst,
    r.context,
    r.disposition,
    duration(r.duration),
    duration(r.billsec),
    r.lastapp,
    r.trunk || '-',
    r.uniqueid,
  ].map(printable));
  const head = more ? `The newest ${rows.length} calls (more match: --limit N or --limit 0 for all):` : `${rows.length} call${rows.length === 1 ? '' : 's'}, newest first:`;
  return [head, ...table(['START (UTC)', 'SRC', 'DST', 'CONTEXT', 'DISPOSITION', 'DURATION', 'BILLED', 'LASTAPP', 'TRUNK', 'UNIQUEID'], cells)].join('\n');
}

/** Numbers and names come from callers: nothing they send may move a terminal's cursor. */
function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x1f\x7f-\x9f]/g, '?');
}
