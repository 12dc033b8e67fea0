import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SipMessage } from '../../src/sip/message.js';
import { TraceRecorder, type TraceEndpoint, type TraceEntry } from '../../src/sip/trace/recorder.js';
import { renderLadder, shouldColor } from '../../src/sip/trace/ladder.js';
import { VirtualClock } from '../../src/util/clock.js';

const CALL_ID = 'f81d4fae-7dec@127.0.0.1';
const proxy = { address: '127.0.0.1', port: 5060 };
const caller = { address: '127.0.0.1', port: 5070 };
const callee = { address: '127.0.0.1', port: 5080 };
const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';

function headers(method: string, seq: number, sdp = false): [string, string][] {
  const h: [string, string][] = [
    ['Via', 'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK74bf9'],
    ['From', '<sip:1001@127.0.0.1>;tag=9fxced76sl'],
    ['To', '<sip:1002@127.0.0.1>'],
    ['Call-ID', CALL_ID],
    ['CSeq', `${seq} ${method}`],
  ];
  if (sdp) h.push(['Content-Type', 'application/sdp']);
  return h;
}
const req = (method: string, seq: number, sdp = false): Buffer =>
  SipMessage.request(method, 'sip:1002@127.0.0.1', headers(method, seq, sdp), sdp ? SDP : '').toBuffer();
const res = (status: number, reason: string, method: string, seq: number, sdp = false): Buffer =>
  SipMessage.response(status, reason, headers(method, seq, sdp), sdp ? SDP : '').toBuffer();

/** caller → proxy → callee, as the proxy in the middle records it; the callee hangs up. */
const FLOW: { dir: 'in' | 'out'; remote: TraceEndpoint; data: Buffer; label: string; from: number; to: number }[] = [
  { dir: 'in', remote: caller, data: req('INVITE', 1, true), label: 'INVITE (1) SDP', from: 0, to: 1 },
  { dir: 'out', remote: caller, data: res(100, 'Trying', 'INVITE', 1), label: '100 Trying (1 INVITE)', from: 1, to: 0 },
  { dir: 'out', remote: callee, data: req('INVITE', 1, true), label: 'INVITE (1) SDP', from: 1, to: 2 },
  { dir: 'in', remote: callee, data: res(100, 'Trying', 'INVITE', 1), label: '100 Trying (1 INVITE)', from: 2, to: 1 },
  { dir: 'in', remote: callee, data: res(180, 'Ringing', 'INVITE', 1), label: '180 Ringing (1 INVITE)', from: 2, to: 1 },
  { dir: 'out', remote: caller, data: res(180, 'Ringing', 'INVITE', 1), label: '180 Ringing (1 INVITE)', from: 1, to: 0 },
  { dir: 'in', remote: callee, data: res(200, 'OK', 'INVITE', 1, true), label: '200 OK (1 INVITE) SDP', from: 2, to: 1 },
  { dir: 'out', remote: caller, data: res(200, 'OK', 'INVITE', 1, true), label: '200 OK (1 INVITE) SDP', from: 1, to: 0 },
  { dir: 'in', remote: caller, data: req('ACK', 1), label: 'ACK (1)', from: 0, to: 1 },
  { dir: 'out', remote: callee, data: req('ACK', 1), label: 'ACK (1)', from: 1, to: 2 },
  { dir: 'in', remote: callee, data: req('BYE', 2), label: 'BYE (2)', from: 2, to: 1 },
  { dir: 'out', remote: caller, data: req('BYE', 2), label: 'BYE (2)', from: 1, to: 0 },
  { dir: 'in', remote: caller, data: res(200, 'OK', 'BYE', 2), label: '200 OK (2 BYE)', from: 0, to: 1 },
  { dir: 'out', remote: callee, data: res(200, 'OK', 'BYE', 2), label: '200 OK (2 BYE)', from: 1, to: 2 },
];

function recordFlow(stepMs = 40): TraceEntry[] {
  const clock = new VirtualClock();
  const rec = new TraceRecorder({ clock });
  for (const step of FLOW) {
    assert.ok(rec.record({ dir: step.dir, proto: 'udp', local: proxy, remote: step.remote, data: step.data }));
    clock.advance(stepMs);
  }
  return rec.get(CALL_ID);
}

/** Positions of the lifelines, read off the first row that is nothing but lifelines. */
function lifelines(lines: string[]): number[] {
  const row = lines.find((l) => /^\s*│[\s│]*$/.test(l));
  assert.ok(row, 'no lifeline row');
  return [...row].flatMap((c, i) => (c === '│' ? [i] : []));
}

test('a 3-party call draws one arrow per message, in order, from sender to receiver', () => {
  const out = renderLadder(recordFlow(), { width: 80 });
  const lines = out.trimEnd().split('\n');
  for (const l of lines) assert.ok([...l].length <= 80, `wider than 80 columns: "${l}"`);
  assert.ok(!out.includes('\x1b'), 'no colour unless asked for');
  assert.equal(lines[0], `Call-ID: ${CALL_ID}`);

  // Caller on the left (seen first), then the switchboard, then the callee.
  const header = lines.slice(1, 3).join('\n');
  const cols = lifelines(lines);
  assert.equal(cols.length, 3);
  const titles = lines[1];
  assert.ok(titles.indexOf('127.0.0.1:5070') < titles.indexOf('switchboard'));
  assert.ok(titles.indexOf('switchboard') < titles.indexOf('127.0.0.1:5080'));
  assert.match(header, /switchboard[\s\S]*127\.0\.0\.1:5060/);
  // Each label sits over its own lifeline.
  const over = (line: string, text: string, col: number): boolean => {
    const at = line.indexOf(text);
    return at >= 0 && at <= col && col < at + text.length;
  };
  assert.ok(over(lines[1], '127.0.0.1:5070', cols[0]));
  assert.ok(over(lines[1], 'switchboard', cols[1]));
  assert.ok(over(lines[2], '127.0.0.1:5060', cols[1]));
  assert.ok(over(lines[1], '127.0.0.1:5080', cols[2]));

  const rows = lines.filter((l) => l.startsWith('+'));
  assert.equal(rows.length, FLOW.length);
  rows.forEach((row, i) => {
    const step = FLOW[i];
    const what = `row ${i} "${row}"`;
    assert.ok(row.startsWith(`+${((i * 40) / 1000).toFixed(3)}s`), what);
    assert.ok(row.includes(step.label), `${what} should say ${step.label}`);
    const a = cols[step.from];
    const b = cols[step.to];
    if (b > a) {
      assert.equal(row[b - 1], '▶', what);
      assert.ok(!row.includes('◀'), what);
    } else {
      assert.equal(row[b + 1], '◀', what);
      assert.ok(!row.includes('▶'), what);
    }
    // The shaft runs from one lifeline to the other and no further.
    const lo = Math.min(a, b);
    const hi = Math.max(a, b);
    assert.equal(row[lo], '│', what);
    assert.equal(row[hi], '│', what);
    assert.ok(row.slice(lo + 1, hi).startsWith(b > a ? '─' : '◀─'), what);
    assert.ok(row.slice(lo + 1, hi).endsWith(b > a ? '─▶' : '─'), what);
    const label = row.indexOf(step.label);
    assert.ok(label > lo && label + step.label.length < hi, `${what}: label outside its arrow`);
    // The third lifeline, untouched by this arrow, keeps running through the row.
    const other = [0, 1, 2].find((c) => c !== step.from && c !== step.to) as number;
    assert.equal(row[cols[other]], '│', what);
  });
});

test('time offsets count from the first message', () => {
  const rows = renderLadder(recordFlow(1234)).split('\n').filter((l) => l.startsWith('+'));
  assert.ok(rows[0].startsWith('+0.000s'));
  assert.ok(rows[1].startsWith('+1.234s'));
  assert.ok(rows[13].startsWith('+16.042s'));
});

test('an arrow to a far party crosses the lifelines between', () => {
  const entries = recordFlow();
  // The proxy forks the INVITE to the callee's second phone, which gets a fourth column.
  const fork: TraceEntry = { ...entries[2], remote: { address: '127.0.0.1', port: 5090 } };
  const lines = renderLadder([entries[0], entries[2], fork]).split('\n');
  const cols = lifelines(lines);
  assert.equal(cols.length, 4);
  const row = lines.filter((l) => l.startsWith('+'))[2];
  assert.equal(row[cols[3] - 1], '▶');
  assert.notEqual(row[cols[2]], '│', 'the arrow passes over the first callee');
  assert.ok(!row.slice(cols[1] + 1, cols[3]).includes('│'));
  assert.ok(row.slice(cols[1] + 1, cols[3]).includes('INVITE (1) SDP'));
});

test('narrow terminals shorten labels but keep the method or status', () => {
  const out = renderLadder(recordFlow(), { width: 50 });
  const rows = out.split('\n').filter((l) => l.startsWith('+'));
  for (const l of out.trimEnd().split('\n')) assert.ok([...l].length <= 50, `wider than 50: "${l}"`);
  assert.match(rows[0], /INVITE/);
  assert.match(rows[4], /180/);
  assert.match(rows[10], /BYE/);
});

test('colour only when asked, and peer text cannot inject terminal escapes', () => {
  const entries = recordFlow();
  const coloured = renderLadder(entries, { color: true });
  assert.ok(coloured.includes('\x1b[36m'), 'requests coloured');
  assert.ok(coloured.includes('\x1b[32m'), '2xx coloured');
  // Stripped of its colour codes the drawing is the plain one.
  assert.equal(coloured.replace(/\x1b\[\d+m/g, ''), renderLadder(entries, { color: false })); // eslint-disable-line no-control-regex

  const evil = Buffer.from(`SIP/2.0 486 Busy\x1b]0;pwned\x07\x1b[2J\r\nCall-ID: ${CALL_ID}\r\nCSeq: 1 INVITE\r\n\r\n`);
  const rec = new TraceRecorder({ clock: new VirtualClock() });
  rec.record({ dir: 'in', proto: 'udp', local: proxy, remote: callee, data: evil });
  const out = renderLadder(rec.get(CALL_ID), { width: 120 });
  assert.ok(!out.includes('\x1b') && !out.includes('\x07'), out);
  assert.match(out, /486 Busy\?\]0;pwned/);

  assert.equal(shouldColor({ isTTY: false }, {}), false);
  assert.equal(shouldColor({ isTTY: true }, {}), true);
  assert.equal(shouldColor({ isTTY: true }, { NO_COLOR: '1' }), false);
  assert.equal(shouldColor({ isTTY: true }, { TERM: 'dumb' }), false);
});

test('IPv6 parties are bracketed; IPv4-mapped addresses read as IPv4; no messages, no crash', () => {
  const entries = recordFlow().slice(0, 3).map((e, i): TraceEntry => ({
    ...e,
    local: i === 2 ? { address: '::1', port: 5060 } : { address: '::ffff:127.0.0.1', port: 5060 },
    remote: i === 2 ? { address: '::1', port: 5080 } : { address: '::ffff:127.0.0.1', port: 5070 },
  }));
  const lines = renderLadder(entries).split('\n');
  assert.match(lines[1], /^\s*127\.0\.0\.1:5070\s+switchboard\s+\[::1\]:5080$/);
  assert.match(lines[2], /127\.0\.0\.1:5060 \+1$/, 'the switchboard used two sockets');
  assert.equal(renderLadder([]), '(no messages)\n');
});
