import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import {
  CDR_KEYS, CdrReader, CdrStore, cdrTimes, DuplicateCdrError, InvalidCdrError, type CdrInput,
} from '../../src/store/cdr.js';
import { openDatabase, openDatabaseReadOnly } from '../../src/store/db.js';
import { VirtualClock } from '../../src/util/clock.js';
import { captureLog } from '../helpers/log-capture.js';
import { repoRoot } from '../helpers/repo.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'sb-cdr-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const T0 = Date.UTC(2026, 11, 4, 9, 0, 0);
let seq = 0;
function row(over: Partial<CdrInput> = {}, startMs = T0 + seq * 60_000): CdrInput {
  seq++;
  return {
    uniqueid: `1764838800.${seq}`,
    linkedid: `1764838800.${seq}`,
    ...cdrTimes(startMs, startMs + 3_000, startMs + 45_600),
    disposition: 'ANSWERED',
    src: '1001',
    dst: '1002',
    context: 'internal',
    channel: 'SIP/1001-0001',
    dstchannel: 'SIP/1002-0002',
    lastapp: 'dial',
    trunk: '',
    ...over,
  };
}

test('cdrTimes truncates to whole seconds as Asterisk does; an unanswered leg bills 0 and has answer null', () => {
  const t = cdrTimes(T0, T0 + 2_999, T0 + 12_998);
  assert.deepEqual(t, {
    start: '2026-12-04T09:00:00.000Z',
    answer: '2026-12-04T09:00:02.999Z',
    end: '2026-12-04T09:00:12.998Z',
    duration: 12,
    billsec: 9,
  });
  const unanswered = cdrTimes(T0, undefined, T0 + 30_000);
  assert.equal(unanswered.answer, null);
  assert.equal(unanswered.billsec, 0);
  assert.equal(unanswered.duration, 30);
});

test('a stored row reads back with exactly the CDR keys, visible at once to a separate read-only connection', () => {
  const dir = tmp();
  const db = openDatabase(dir);
  const store = new CdrStore(db);
  const answered = row({ clid: '"Alice Archer" <1001>', hangupcause: 'caller' });
  const missed = row({ ...cdrTimes(T0 + 3_600_000, undefined, T0 + 3_615_000), disposition: 'NO ANSWER', dstchannel: '', lastapp: 'voicemail' });
  assert.equal(store.insert(answered), true);
  assert.equal(store.insert(missed), true);

  const reader = openDatabaseReadOnly(dir);
  assert.ok(reader);
  const rows = new CdrReader(reader).query();
  assert.deepEqual(rows.map((r) => Object.keys(r)), [CDR_KEYS, CDR_KEYS]);
  for (const k of ['uniqueid', 'linkedid', 'start', 'answer', 'end', 'duration', 'billsec', 'disposition', 'src', 'dst', 'context', 'channel', 'dstchannel', 'lastapp', 'trunk']) {
    assert.ok(CDR_KEYS.includes(k as (typeof CDR_KEYS)[number]), `${k} is a CDR key`);
  }
  assert.deepEqual(rows[0], { ...missed, clid: '', hangupcause: '' }, 'newest first; left-out extras read back as empty');
  assert.deepEqual(rows[1], answered);
  assert.equal(rows[0].answer, null);
  assert.equal(rows[1].billsec, 42);
  reader.close();
  db.close();
});

test('a row is on disk when insert returns: a process killed right after keeps it', () => {
  const dir = tmp();
  const storeUrl = pathToFileURL(path.join(repoRoot(), 'dist', 'src', 'store', 'cdr.js')).href;
  const dbUrl = pathToFileURL(path.join(repoRoot(), 'dist', 'src', 'store', 'db.js')).href;
  const script = `
    const { CdrStore, cdrTimes } = await import(${JSON.stringify(storeUrl)});
    const { openDatabase } = await import(${JSON.stringify(dbUrl)});
    const store = new CdrStore(openDatabase(${JSON.stringify(dir)}));
    store.insert({ uniqueid: 'killed.1', linkedid: 'killed.1', ...cdrTimes(${T0}, ${T0 + 1000}, ${T0 + 5000}), disposition: 'ANSWERED',
      src: '1001', dst: '1002', context: 'internal', channel: 'c', dstchannel: 'd', lastapp: 'dial', trunk: '' });
    process.kill(process.pid, 'SIGKILL');`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 10_000 });
  assert.equal(r.signal, 'SIGKILL', r.stderr.toString());
  const db = openDatabase(dir);
  assert.deepEqual(new CdrReader(db).query().map((x) => [x.uniqueid, x.billsec]), [['killed.1', 4]]);
  db.close();
});

test('query filters by start time, src, dst and disposition, newest first, with a limit', () => {
  const db = openDatabase(tmp());
  const store = new CdrStore(db);
  const hour = 3_600_000;
  const rows = [
    row({ src: '1001', dst: '1002' }, T0),
    row({ src: '1001', dst: '500', disposition: 'BUSY' }, T0 + hour),
    row({ src: '1003', dst: '1002', disposition: 'NO ANSWER' }, T0 + 2 * hour),
    row({ src: '1001', dst: '1002', disposition: 'FAILED' }, T0 + 3 * hour),
    row({ src: '1001', dst: '1002' }, T0 + 3 * hour), // same start: the later insert is newer
  ];
  for (const r of rows) store.insert(r);
  const ids = (q: Parameters<CdrStore['query']>[0]): string[] => store.query(q).map((r) => r.uniqueid);
  const id = (i: number): string => rows[i].uniqueid;

  assert.deepEqual(ids({}), [id(4), id(3), id(2), id(1), id(0)]);
  assert.deepEqual(ids({ since: T0 + hour }), [id(4), id(3), id(2), id(1)], 'since is inclusive');
  assert.deepEqual(ids({ until: T0 + 2 * hour }), [id(1), id(0)], 'until is exclusive');
  assert.deepEqual(ids({ since: T0 + hour, until: T0 + 3 * hour }), [id(2), id(1)]);
  assert.deepEqual(ids({ src: '1003' }), [id(2)]);
  assert.deepEqual(ids({ dst: '1002', src: '1001' }), [id(4), id(3), id(0)]);
  assert.deepEqual(ids({ disposition: 'BUSY' }), [id(1)]);
  assert.deepEqual(ids({ limit: 2 }), [id(4), id(3)]);
  assert.deepEqual(ids({ dst: 'nobody' }), []);
  db.close();
});

test('a malformed row is refused with the field named; a repeated uniqueid is refused; neither is queued', () => {
  const db = openDatabase(tmp());
  const store = new CdrStore(db);
  const bad = (over: Record<string, unknown>): unknown => {
    try {
      store.insert({ ...row(), ...over } as CdrInput);
    } catch (err) {
      return err;
    }
    return undefined;
  };
  const e1 = bad({ disposition: 'HUNG UP' });
  assert.ok(e1 instanceof InvalidCdrError && e1.field === 'disposition', String(e1));
  const e2 = bad({ start: 'yesterday' });
  assert.ok(e2 instanceof InvalidCdrError && e2.field === 'start', String(e2));
  const e3 = bad({ billsec: 1.5 });
  assert.ok(e3 instanceof InvalidCdrError && e3.field === 'billsec', String(e3));
  const e4 = bad({ src: undefined });
  assert.ok(e4 instanceof InvalidCdrError && e4.field === 'src', String(e4));
  const e5 = bad({ end: '2026-12-04T08:00:00.000Z', start: '2026-12-04T09:00:00.000Z' });
  assert.ok(e5 instanceof InvalidCdrError && e5.field === 'end', String(e5));

  const ok = row();
  store.insert(ok);
  assert.throws(() => store.insert({ ...ok }), DuplicateCdrError);
  assert.equal(store.pending, 0);
  assert.equal(store.query().length, 1);
  db.close();
});

test('a database that refuses writes: rows wait in memory, logged once, and reach the disk in order when it recovers', () => {
  const db = openDatabase(tmp());
  const clock = new VirtualClock();
  const captured = captureLog();
  const store = new CdrStore(db, { clock, log: captured.log });
  const before = row();
  store.insert(before);

  db.pragma('query_only = ON');
  const waiting = [row(), row(), row()];
  assert.deepEqual(waiting.map((r) => store.insert(r)), [false, false, false]);
  assert.equal(store.pending, 3);
  clock.advance(5_000);
  clock.advance(5_000);
  assert.equal(store.pending, 3, 'still refused: still waiting');
  const errors = captured.records().filter((r) => r.level === 50);
  assert.equal(errors.length, 1, 'logged when the trouble starts, not per row or retry');
  assert.match(String(errors[0].msg), /CDRs cannot be saved/);
  assert.deepEqual(store.query().map((r) => r.uniqueid), [before.uniqueid], 'what was stored before is untouched');

  db.pragma('query_only = OFF');
  clock.advance(5_000);
  assert.equal(store.pending, 0);
  assert.equal(clock.pending(), 0, 'no retry timer left');
  assert.deepEqual(store.query().map((r) => r.uniqueid), [...waiting].reverse().concat(before).map((r) => r.uniqueid));
  assert.ok(captured.records().some((r) => r.msg === 'CDRs are saved again' && r.written === 3));
  db.close();
});

test('a database locked by another writer: the first insert waits out busy_timeout, the next ones do not wait at all', () => {
  const dir = tmp();
  const db = openDatabase(dir);
  const clock = new VirtualClock();
  const store = new CdrStore(db, { clock });
  const other = new Database(path.join(dir, 'switchboard.db'));
  other.exec('BEGIN IMMEDIATE');
  assert.equal(store.insert(row()), false);
  const t = performance.now();
  for (let i = 0; i < 20; i++) assert.equal(store.insert(row()), false);
  assert.ok(performance.now() - t < 100, `queued inserts took ${(performance.now() - t).toFixed(1)} ms`);
  other.exec('COMMIT');
  other.close();
  clock.advance(5_000);
  assert.equal(store.pending, 0);
  assert.equal(store.query().length, 21);
  db.close();
});

test('the queue is bounded; close() makes a last attempt and logs rows it could not save in full', () => {
  const db = openDatabase(tmp());
  const clock = new VirtualClock();
  const captured = captureLog();
  const store = new CdrStore(db, { clock, log: captured.log, maxQueued: 2 });
  db.pragma('query_only = ON');
  const rows = [row(), row(), row(), row()];
  for (const r of rows) store.insert(r);
  assert.equal(store.pending, 2);
  assert.equal(store.dropped, 2);
  assert.equal(captured.records().filter((r) => /queue is full/.test(String(r.msg))).length, 1);
  store.close();
  assert.equal(clock.pending(), 0);
  const lost = captured.records().find((r) => /could not be saved before shutdown/.test(String(r.msg)));
  assert.ok(lost, 'the rows are in the log');
  assert.deepEqual((lost.rows as { uniqueid: string }[]).map((r) => r.uniqueid), [rows[0].uniqueid, rows[1].uniqueid]);
  db.close();
});

test('a reader on a database the server has not upgraded yet finds no CDRs instead of failing', () => {
  const dir = tmp();
  new Database(path.join(dir, 'switchboard.db')).close();
  const db = openDatabaseReadOnly(dir);
  assert.ok(db);
  assert.deepEqual(new CdrReader(db).query({ src: '1001' }), []);
  db.close();
  assert.equal(openDatabaseReadOnly(path.join(dir, 'none')), undefined);
});
