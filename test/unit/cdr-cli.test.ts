import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cdrRequest, CdrUsageError, formatCdrTable, parseWhen, TABLE_LIMIT, toCsv } from '../../src/cli/cdr.js';
import { cdrTimes, type CdrRow } from '../../src/store/cdr.js';

const NOW = Date.UTC(2026, 11, 4, 12, 0, 0);

test('WHEN: ages, dates at midnight UTC, date-times in UTC unless a zone is given', () => {
  assert.equal(parseWhen('--since', '30m', NOW), NOW - 30 * 60_000);
  assert.equal(parseWhen('--since', '2h', NOW), NOW - 2 * 3_600_000);
  assert.equal(parseWhen('--since', '7d', NOW), NOW - 7 * 86_400_000);
  assert.equal(parseWhen('--since', '1w', NOW), NOW - 7 * 86_400_000);
  assert.equal(parseWhen('--since', '45s', NOW), NOW - 45_000);
  assert.equal(parseWhen('--since', '2026-12-04', NOW), Date.UTC(2026, 11, 4));
  assert.equal(parseWhen('--since', '2026-12-04T09:30', NOW), Date.UTC(2026, 11, 4, 9, 30));
  assert.equal(parseWhen('--since', '2026-12-04 09:30:15', NOW), Date.UTC(2026, 11, 4, 9, 30, 15));
  assert.equal(parseWhen('--since', '2026-12-04T09:30:15.250Z', NOW), Date.UTC(2026, 11, 4, 9, 30, 15, 250));
  assert.equal(parseWhen('--since', '2026-12-04T09:30+01:00', NOW), Date.UTC(2026, 11, 4, 8, 30));
  assert.equal(parseWhen('--since', '2026-12-04T09:30-0500', NOW), Date.UTC(2026, 11, 4, 14, 30));
  for (const bad of ['yesterday', '', '2026-02-30', '2026-13-01', '2026-12-04T25:00', '12/04/2026', '-5m', '5 minutes', '2026-12-04T09']) {
    assert.throws(() => parseWhen('--until', bad, NOW), (e: unknown) => e instanceof CdrUsageError && e.message.startsWith(`--until ${bad}:`), bad);
  }
});

test('flags become a query: the table asks for one row more than it shows; JSON and CSV take all; --limit 0 is all', () => {
  assert.deepEqual(cdrRequest({}, NOW), { query: { limit: TABLE_LIMIT + 1 }, format: 'table', limitGiven: false });
  assert.deepEqual(cdrRequest({ json: true }, NOW).query, {});
  assert.deepEqual(cdrRequest({ csv: true, limit: '0' }, NOW).query, {});
  assert.deepEqual(cdrRequest({ limit: '0' }, NOW).query, {});
  assert.deepEqual(cdrRequest({ json: true, since: '1h', src: ' 1001 ', dst: '*98', disposition: 'No Answer', limit: '5' }, NOW).query, {
    since: NOW - 3_600_000,
    src: '1001',
    dst: '*98',
    disposition: 'NO ANSWER',
    limit: 5,
  });
  for (const d of ['noanswer', 'NO_ANSWER', 'no-answer']) assert.equal(cdrRequest({ disposition: d }, NOW).query.disposition, 'NO ANSWER');
  assert.throws(() => cdrRequest({ disposition: 'CONGESTION' }, NOW), /^CdrUsageError: --disposition CONGESTION/);
  assert.throws(() => cdrRequest({ limit: '-1' }, NOW), /--limit -1/);
  assert.throws(() => cdrRequest({ src: '' }, NOW), /--src needs a number/);
  assert.throws(() => cdrRequest({ json: true, csv: true }, NOW), /choose one/);
});

const row = (over: Partial<CdrRow>): CdrRow => ({
  uniqueid: 'u1',
  linkedid: 'u1',
  ...cdrTimes(NOW, NOW + 1000, NOW + 63_000),
  disposition: 'ANSWERED',
  src: '1001',
  dst: '1002',
  context: 'internal',
  channel: 'a',
  dstchannel: 'b',
  lastapp: 'dial',
  trunk: '',
  clid: '',
  hangupcause: '',
  ...over,
});

test('CSV quotes what needs quoting and nothing else; a null answer is an empty field', () => {
  const csv = toCsv([row({ clid: 'Cole, "CC" Carol\nline2', answer: null, billsec: 0 })]);
  const [head, line, end, ...rest] = csv.split('\r\n');
  assert.deepEqual(rest, []);
  assert.equal(head, 'uniqueid,linkedid,start,answer,end,duration,billsec,disposition,src,dst,context,channel,dstchannel,lastapp,trunk,clid,hangupcause');
  assert.equal(end, '', 'the text ends with CRLF');
  assert.equal(line, 'u1,u1,2026-12-04T12:00:00.000Z,,2026-12-04T12:01:03.000Z,63,0,ANSWERED,1001,1002,internal,a,b,dial,,"Cole, ""CC"" Carol\nline2",');
});

test('the table keeps control characters a caller sent away from the terminal', () => {
  const text = formatCdrTable([row({ src: '\x1b[2J1001' })], false);
  assert.ok(!text.includes('\x1b'));
  assert.match(text, /\?\[2J1001/);
  assert.match(text, /1m03s\s+1m02s/);
});
