/**
 * `switchboard cdr` as a user runs it: the built CLI in a child process
 * against a data directory holding CDR rows, with a server running on that
 * directory (and a writer holding the database's write lock) and with it
 * stopped; table, JSON and CSV output; filters; bad flags exit 2 naming the flag.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CdrStore, cdrTimes, type CdrInput, type CdrRow } from '../../src/store/cdr.js';
import { openDatabase } from '../../src/store/db.js';
import { CliSession, explain, started } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';

let session: CliSession;
let config = '';
const rows: CdrInput[] = [];
const MIN = 60_000;

function cdr(i: number, agoMin: number, over: Partial<CdrInput> = {}): CdrInput {
  const start = Date.now() - agoMin * MIN;
  const answered = (over.disposition ?? 'ANSWERED') === 'ANSWERED';
  return {
    uniqueid: `cli.${i}`,
    linkedid: `cli.${i - (i % 2)}`,
    ...cdrTimes(start, answered ? start + 2_500 : undefined, start + 47_900),
    disposition: 'ANSWERED',
    src: '1001',
    dst: '1002',
    context: 'internal',
    channel: `PJSIP/1001-${i}`,
    dstchannel: `PJSIP/1002-${i}`,
    lastapp: 'dial',
    trunk: '',
    ...over,
  };
}

/** RFC 4180 reader, just enough for the test: quoted fields with "" escapes, commas and line breaks. */
function parseCsv(text: string): string[][] {
  const out: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      out.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  assert.equal(field, '', 'the CSV ends with CRLF');
  return out;
}

describe('switchboard cdr', { timeout: 120_000 }, () => {
  before(async () => {
    session = new CliSession();
    const sipPort = await freePort('both');
    const admin = await freePort('tcp');
    config = path.join(session.dir, 'cdr.yaml');
    writeFileSync(config, ['domain: 127.0.0.1', 'sip:', '  listen:', `    - udp:127.0.0.1:${sipPort}`, 'admin:', `  listen: 127.0.0.1:${admin}`, 'data: ./cdr-data', ''].join('\n'));
    rows.push(
      cdr(1, 3 * 24 * 60, { src: '1003', dst: '500', context: 'main-menu', lastapp: 'enqueue' }),
      cdr(2, 5 * 60, { disposition: 'NO ANSWER', dstchannel: '', lastapp: 'voicemail', hangupcause: '480' }),
      cdr(3, 90, { dst: '6000', lastapp: 'conference', clid: '"Archer, Alice ""Al""" <1001>' }),
      cdr(4, 20, { src: '1002', dst: '01130123456', disposition: 'FAILED', trunk: 'carrier', lastapp: 'dial', hangupcause: '503' }),
      cdr(5, 5, { disposition: 'BUSY', hangupcause: '486' }),
    );
  });
  after(async () => {
    await session?.close();
  });

  test('with the server running on the data directory and a writer holding the lock: rows as JSON, newest first, with the CDR keys', async () => {
    const s = session.serve(['--config', config], /^ {2}users /m);
    await started(s);
    // The server made the database (and the cdr table) at its start; rows come in through a second writer as the PBX will write them.
    const db = openDatabase(path.join(session.dir, 'cdr-data'));
    const store = new CdrStore(db);
    try {
      for (const r of rows) assert.equal(store.insert(r), true);
      db.exec('BEGIN IMMEDIATE');
      store.insert(cdr(6, 1, { uniqueid: 'uncommitted' }));

      const r = await session.run(['cdr', '--config', config, '--json']);
      assert.equal(r.exitCode, 0, explain(r));
      const got = JSON.parse(r.stdout) as CdrRow[];
      assert.deepEqual(got.map((x) => x.uniqueid), ['cli.5', 'cli.4', 'cli.3', 'cli.2', 'cli.1'], 'committed rows, newest first; the open transaction is not seen');
      const keys = ['uniqueid', 'linkedid', 'start', 'answer', 'end', 'duration', 'billsec', 'disposition', 'src', 'dst', 'context', 'channel', 'dstchannel', 'lastapp', 'trunk'];
      for (const x of got) for (const k of keys) assert.ok(k in x, `${k} in ${JSON.stringify(x)}`);
      const two = got.find((x) => x.uniqueid === 'cli.2');
      assert.deepEqual(two, { ...rows[1], clid: '', hangupcause: '480' });
      assert.equal(two?.answer, null);
      assert.equal(got.find((x) => x.uniqueid === 'cli.3')?.billsec, 45);
      db.exec('ROLLBACK');
    } finally {
      db.close();
      await s.proc.kill('SIGTERM', 5000);
    }
  });

  test('filters: --since as an age or a date, --until, --src, --dst, --disposition in any case, --limit', async () => {
    const ids = async (...args: string[]): Promise<string[]> => {
      const r = await session.run(['cdr', '--config', config, '--json', ...args]);
      assert.equal(r.exitCode, 0, explain(r));
      return (JSON.parse(r.stdout) as CdrRow[]).map((x) => x.uniqueid);
    };
    assert.deepEqual(await ids('--since', '2h'), ['cli.5', 'cli.4', 'cli.3']);
    assert.deepEqual(await ids('--since', '6h', '--until', '30m'), ['cli.3', 'cli.2']);
    const fourDaysAgo = new Date(Date.now() - 4 * 86_400_000).toISOString().slice(0, 10);
    assert.deepEqual(await ids('--since', fourDaysAgo, '--until', '1d'), ['cli.1'], 'a date is midnight UTC');
    assert.deepEqual(await ids('--src', '1002'), ['cli.4']);
    assert.deepEqual(await ids('--dst', '1002'), ['cli.5', 'cli.2']);
    assert.deepEqual(await ids('--disposition', 'no-answer'), ['cli.2']);
    assert.deepEqual(await ids('--disposition', 'busy'), ['cli.5']);
    assert.deepEqual(await ids('--limit', '2'), ['cli.5', 'cli.4']);
    assert.deepEqual(await ids('--src', '1001', '--disposition', 'ANSWERED'), ['cli.3']);
    assert.deepEqual(await ids('--dst', '9999'), []);
  });

  test('--csv: a header, then one RFC 4180 line per row, quoting a caller name with a comma and quotes', async () => {
    const r = await session.run(['cdr', '--data', path.join(session.dir, 'cdr-data'), '--csv']);
    assert.equal(r.exitCode, 0, explain(r));
    const [head, ...lines] = parseCsv(r.stdout);
    assert.deepEqual(head.slice(0, 15), ['uniqueid', 'linkedid', 'start', 'answer', 'end', 'duration', 'billsec', 'disposition', 'src', 'dst', 'context', 'channel', 'dstchannel', 'lastapp', 'trunk']);
    assert.equal(lines.length, 5);
    const byId = new Map(lines.map((l) => [l[0], Object.fromEntries(head.map((h, i) => [h, l[i]]))]));
    assert.equal(byId.get('cli.3')?.clid, '"Archer, Alice ""Al""" <1001>', 'the name survives quoting');
    assert.equal(byId.get('cli.2')?.answer, '', 'an unanswered leg has an empty answer');
    assert.equal(byId.get('cli.2')?.disposition, 'NO ANSWER');
    assert.equal(byId.get('cli.4')?.trunk, 'carrier');
    assert.equal(byId.get('cli.4')?.start, rows[3].start);
  });

  test('the table (server stopped): a line per call with start, numbers, disposition and times', async () => {
    const r = await session.run(['cdr', '--config', config]);
    assert.equal(r.exitCode, 0, explain(r));
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^5 calls, newest first:$/);
    assert.match(lines[1], /START \(UTC\)\s+SRC\s+DST\s+CONTEXT\s+DISPOSITION\s+DURATION\s+BILLED/);
    assert.equal(lines.length, 7);
    assert.match(lines[2], /^ {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+1001\s+1002\s+internal\s+BUSY\s+47s\s+0s\s+dial\s+-\s+cli\.5$/);
    assert.match(lines[3], /1002\s+01130123456\s+internal\s+FAILED\s+.*carrier\s+cli\.4$/);
    assert.match(lines[4], /1001\s+6000\s+internal\s+ANSWERED\s+47s\s+45s\s+conference/);
    const limited = await session.run(['cdr', '--config', config, '--limit', '1']);
    assert.equal(limited.stdout.trimEnd().split('\n').length, 3, explain(limited));
    const none = await session.run(['cdr', '--config', config, '--src', '4242']);
    assert.equal(none.stdout.trim(), 'No calls match.');
  });

  test('bad flags exit 2 with a message naming the flag; no database exits 1 saying where it looked', async () => {
    const cases: [string[], RegExp][] = [
      [['--since', 'yesterday'], /--since yesterday: give an age/],
      [['--until', '2026-02-30'], /--until 2026-02-30/],
      [['--disposition', 'HUNG UP'], /--disposition HUNG UP: one of ANSWERED/],
      [['--limit', 'ten'], /--limit ten/],
      [['--json', '--csv'], /--json and --csv/],
      [['--since', '1h', '--until', '2h'], /--since 1h is not before --until 2h/],
      [['--frobnicate'], /unknown option '--frobnicate'/],
      [['--since'], /'--since <when>' argument missing/],
    ];
    for (const [args, msg] of cases) {
      const r = await session.run(['cdr', '--config', config, ...args]);
      assert.equal(r.exitCode, 2, `${args.join(' ')}: ${explain(r)}`);
      assert.match(r.stderr, msg, explain(r));
      assert.equal(r.stdout, '');
    }
    const missing = await session.run(['cdr', '--data', path.join(session.dir, 'nothing-here')]);
    assert.equal(missing.exitCode, 1, explain(missing));
    assert.match(missing.stderr, /no database in .*nothing-here/);
    const help = await session.run(['cdr', '--help']);
    assert.equal(help.exitCode, 0);
    assert.match(help.stdout, /Examples:\n {2}switchboard cdr /);
  });
});
