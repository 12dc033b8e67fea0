/**
 * Call detail records on disk: a row per leg, as Asterisk's CDR backends keep
 * them, written when the leg ends. A row is committed before insert() returns;
 * when the database cannot take it (disk full, locked by another writer) it
 * waits in a small queue in memory and is retried on a timer, so the call that
 * ended is not held up and rows already stored are never touched.
 */
import Database from 'better-sqlite3';
import { realClock, type Clock, type TimerHandle } from '../util/clock.js';
import { silentLogger, type Logger } from '../util/log.js';
import { hasTable, type Db } from './db.js';

export const DISPOSITIONS = ['ANSWERED', 'NO ANSWER', 'BUSY', 'FAILED'] as const;
export type Disposition = (typeof DISPOSITIONS)[number];

/**
 * One CDR. The first fifteen keys are Asterisk's, with the same meaning; times
 * are ISO-8601 UTC with milliseconds. Text that does not apply is ''.
 */
export interface CdrRow {
  /** This leg's id. */
  uniqueid: string;
  /** The uniqueid of the call's first leg: every leg of one call shares it. */
  linkedid: string;
  start: string;
  /** null when the leg was never answered. */
  answer: string | null;
  end: string;
  /** Whole seconds from start to end (truncated, as Asterisk does). */
  duration: number;
  /** Whole seconds from answer to end (truncated, as Asterisk does); 0 when unanswered. */
  billsec: number;
  disposition: Disposition;
  /** Caller's number. */
  src: string;
  /** Number dialled. */
  dst: string;
  /** Dialplan context the call was in. */
  context: string;
  channel: string;
  dstchannel: string;
  /** The last verb run (`dial`, `voicemail`, `enqueue`, ...). */
  lastapp: string;
  /** The trunk the call came in on or went out through. */
  trunk: string;
  /** Caller ID as shown: `"Alice Archer" <1001>`. */
  clid: string;
  /** Why the leg ended: the final SIP status (`486`), or `caller` / `callee` for a BYE. */
  hangupcause: string;
}

/** The row's keys in their order: JSON, CSV and the table print them so. */
/** What a producer hands insert(): clid and hangupcause may be left out. */
export type CdrInput = Omit<CdrRow, 'clid' | 'hangupcause'> & Partial<Pick<CdrRow, 'clid' | 'hangupcause'>>;

export const CDR_KEYS: readonly (keyof CdrRow)[] = [
  'uniqueid', 'linkedid', 'start', 'answer', 'end', 'duration', 'billsec', 'disposition',
  'src', 'dst', 'context', 'channel', 'dstchannel', 'lastapp', 'trunk', 'clid', 'hangupcause',
];

const TEXT_KEYS = ['uniqueid', 'linkedid', 'src', 'dst', 'context', 'channel', 'dstchannel', 'lastapp', 'trunk', 'clid', 'hangupcause'] as const;

export interface CdrQuery {
  /** Calls that started at or after this wall-clock ms. */
  since?: number;
  /** Calls that started before this wall-clock ms. */
  until?: number;
  src?: string;
  dst?: string;
  disposition?: Disposition;
  /** At most this many rows (newest first); all when undefined. */
  limit?: number;
}

/** A row the store refuses: the producer's mistake, named by the field. */
export class InvalidCdrError extends Error {
  override name = 'InvalidCdrError';
  constructor(readonly field: string, detail: string) {
    super(`CDR ${field}: ${detail}`);
  }
}

/** A second row with a uniqueid already stored. */
export class DuplicateCdrError extends Error {
  override name = 'DuplicateCdrError';
  constructor(readonly uniqueid: string) {
    super(`CDR ${uniqueid} is already stored`);
  }
}

/**
 * start/answer/end, duration and billsec from wall-clock ms. Seconds are
 * truncated, as Asterisk does unless `initiatedseconds` is set.
 */
export function cdrTimes(startMs: number, answerMs: number | undefined, endMs: number): Pick<CdrRow, 'start' | 'answer' | 'end' | 'duration' | 'billsec'> {
  const end = Math.max(endMs, startMs);
  const answer = answerMs === undefined ? undefined : Math.min(Math.max(answerMs, startMs), end);
  return {
    start: new Date(startMs).toISOString(),
    answer: answer === undefined ? null : new Date(answer).toISOString(),
    end: new Date(end).toISOString(),
    duration: Math.floor((end - startMs) / 1000),
    billsec: answer === undefined ? 0 : Math.floor((end - answer) / 1000),
  };
}

/** A row as SQLite keeps it: times as wall-clock ms. */
type DbRow = Omit<CdrRow, 'start' | 'answer' | 'end' | 'disposition'> & {
  start: number;
  answer: number | null;
  end: number;
  disposition: string;
};

const COLUMNS = 'uniqueid, linkedid, start, answer, "end", duration, billsec, disposition, src, dst, context, channel, dstchannel, lastapp, trunk, clid, hangupcause';

export interface CdrStoreOptions {
  clock?: Clock;
  log?: Logger;
  /** How often rows waiting in memory are retried, ms. */
  retryMs?: number;
  /** Rows kept in memory while the database refuses writes; more are dropped (and counted). */
  maxQueued?: number;
}

/** Reads CDRs; works on a read-only connection (the `cdr` command) and on a database without the table yet. */
export class CdrReader {
  constructor(private readonly db: Db) {}

  query(q: CdrQuery = {}): CdrRow[] {
    if (!hasTable(this.db, 'cdr')) return [];
    const where: string[] = [];
    const args: (string | number)[] = [];
    const add = (cond: string, v: string | number | undefined): void => {
      if (v === undefined) return;
      where.push(cond);
      args.push(v);
    };
    add('start >= ?', q.since);
    add('start < ?', q.until);
    add('src = ?', q.src);
    add('dst = ?', q.dst);
    add('disposition = ?', q.disposition);
    let sql = `SELECT ${COLUMNS} FROM cdr${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY start DESC, rowid DESC`;
    if (q.limit !== undefined) {
      sql += ' LIMIT ?';
      args.push(q.limit);
    }
    return (this.db.prepare(sql).all(...args) as DbRow[]).map(fromDb);
  }
}

export class CdrStore extends CdrReader {
  /** Failed write attempts (each retry of a waiting batch counts once). */
  writeFailures = 0;
  /** Rows lost because the queue was full. */
  dropped = 0;
  private readonly stmt;
  private readonly insertMany;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly retryMs: number;
  private readonly maxQueued: number;
  private queue: DbRow[] = [];
  private retry?: TimerHandle;
  private closed = false;
  private failing = false;

  constructor(db: Db, opts: CdrStoreOptions = {}) {
    super(db);
    this.clock = opts.clock ?? realClock;
    this.log = opts.log ?? silentLogger;
    this.retryMs = opts.retryMs ?? 5000;
    this.maxQueued = opts.maxQueued ?? 10_000;
    this.stmt = db.prepare(`INSERT INTO cdr (${COLUMNS}) VALUES
      (@uniqueid, @linkedid, @start, @answer, @end, @duration, @billsec, @disposition, @src, @dst, @context, @channel, @dstchannel, @lastapp, @trunk, @clid, @hangupcause)`);
    this.insertMany = db.transaction((rows: DbRow[]) => {
      for (const r of rows) this.stmt.run(r);
    });
  }

  /** Rows waiting in memory for the database to take them. */
  get pending(): number {
    return this.queue.length;
  }

  /**
   * Stores a row: true when it is on disk, false when the database refused it
   * and it waits in memory for the next retry. A malformed row throws
   * InvalidCdrError, a repeated uniqueid DuplicateCdrError.
   */
  insert(row: CdrInput): boolean {
    if (this.closed) throw new Error('the CDR store is closed');
    const r = toDb(row);
    if (this.queue.length > 0) {
      // Already failing: keep the order and do not make this caller wait on a lock too.
      this.enqueue(r);
      return false;
    }
    try {
      this.stmt.run(r);
      return true;
    } catch (err) {
      if (isDuplicate(err)) throw new DuplicateCdrError(row.uniqueid);
      this.failed(err, 1);
      this.enqueue(r);
      this.armRetry();
      return false;
    }
  }

  /** Tries to write the waiting rows now; true when none is left waiting. */
  flush(): boolean {
    if (this.queue.length === 0) return true;
    const batch = this.queue;
    try {
      this.insertMany(batch);
    } catch (err) {
      if (isDuplicate(err)) return this.flushOneByOne();
      this.failed(err, batch.length);
      return false;
    }
    this.queue = [];
    this.recovered(batch.length);
    return true;
  }

  /** Stops retrying after one last attempt; rows that still cannot be written are logged in full, so they can be recovered from the log. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.retry?.cancel();
    this.retry = undefined;
    if (!this.flush()) {
      this.log.error({ rows: this.queue.map(fromDb) }, `${this.queue.length} CDRs could not be saved before shutdown`);
      this.queue = [];
    }
  }

  /** A queued row whose uniqueid reached the disk after all (a failed commit that did commit) is not written twice. */
  private flushOneByOne(): boolean {
    const left: DbRow[] = [];
    let written = 0;
    for (const r of this.queue) {
      try {
        this.stmt.run(r);
        written++;
      } catch (err) {
        if (isDuplicate(err)) continue;
        left.push(r);
      }
    }
    this.queue = left;
    if (left.length === 0) this.recovered(written);
    return left.length === 0;
  }

  private enqueue(r: DbRow): void {
    if (this.queue.length >= this.maxQueued) {
      if (this.dropped++ === 0) this.log.error({ uniqueid: r.uniqueid }, `CDR queue is full (${this.maxQueued} rows waiting): further CDRs are lost until the database takes writes again`);
      return;
    }
    this.queue.push(r);
  }

  private failed(err: unknown, rows: number): void {
    this.writeFailures++;
    if (this.failing) return; // logged when the trouble starts, not at every retry
    this.failing = true;
    this.log.error({ err, waiting: rows }, `CDRs cannot be saved (${(err as Error).message}); keeping them in memory and retrying every ${this.retryMs / 1000} s`);
  }

  private recovered(rows: number): void {
    if (!this.failing) return;
    this.failing = false;
    this.log.info({ written: rows, dropped: this.dropped }, 'CDRs are saved again');
  }

  private armRetry(): void {
    if (this.retry || this.closed) return;
    this.retry = this.clock.setTimer(this.retryMs, () => {
      this.retry = undefined;
      if (!this.flush()) this.armRetry();
    });
  }
}

function isDuplicate(err: unknown): boolean {
  return err instanceof Database.SqliteError && err.code.startsWith('SQLITE_CONSTRAINT');
}

function toDb(input: CdrInput): DbRow {
  if (typeof input !== 'object' || input === null) throw new InvalidCdrError('row', 'expected an object');
  const row: CdrRow = { ...input, clid: input.clid ?? '', hangupcause: input.hangupcause ?? '' };
  for (const k of TEXT_KEYS) {
    const v = (row as unknown as Record<string, unknown>)[k];
    if (typeof v !== 'string') throw new InvalidCdrError(k, `expected a string, got ${v === null ? 'null' : typeof v}`);
  }
  if (row.uniqueid === '') throw new InvalidCdrError('uniqueid', 'must not be empty');
  if (!DISPOSITIONS.includes(row.disposition)) throw new InvalidCdrError('disposition', `"${String(row.disposition)}" is not one of ${DISPOSITIONS.join(', ')}`);
  for (const k of ['duration', 'billsec'] as const) {
    if (!Number.isSafeInteger(row[k]) || row[k] < 0) throw new InvalidCdrError(k, `expected whole seconds, got ${String(row[k])}`);
  }
  const start = time('start', row.start);
  const end = time('end', row.end);
  const answer = row.answer === null ? null : time('answer', row.answer);
  if (end < start) throw new InvalidCdrError('end', `${row.end} is before start ${row.start}`);
  return {
    uniqueid: row.uniqueid,
    linkedid: row.linkedid,
    start,
    answer,
    end,
    duration: row.duration,
    billsec: row.billsec,
    disposition: row.disposition,
    src: row.src,
    dst: row.dst,
    context: row.context,
    channel: row.channel,
    dstchannel: row.dstchannel,
    lastapp: row.lastapp,
    trunk: row.trunk,
    clid: row.clid,
    hangupcause: row.hangupcause,
  };
}

function time(field: string, v: unknown): number {
  const ms = typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v) ? Date.parse(v) : NaN;
  if (!Number.isFinite(ms)) throw new InvalidCdrError(field, `expected an ISO-8601 time, got ${JSON.stringify(v)}`);
  return ms;
}

function fromDb(r: DbRow): CdrRow {
  return {
    uniqueid: r.uniqueid,
    linkedid: r.linkedid,
    start: new Date(r.start).toISOString(),
    answer: r.answer === null ? null : new Date(r.answer).toISOString(),
    end: new Date(r.end).toISOString(),
    duration: r.duration,
    billsec: r.billsec,
    disposition: r.disposition as Disposition,
    src: r.src,
    dst: r.dst,
    context: r.context,
    channel: r.channel,
    dstchannel: r.dstchannel,
    lastapp: r.lastapp,
    trunk: r.trunk,
    clid: r.clid,
    hangupcause: r.hangupcause,
  };
}
