import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkMessage } from '../../src/sip/check.js';

const INVITE_LINES = [
  'INVITE sip:bob@example.com SIP/2.0',
  'Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds',
  'Max-Forwards: 70',
  'To: Bob <sip:bob@example.com>',
  'From: Alice <sip:alice@example.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710@pc33.example.com',
  'CSeq: 314159 INVITE',
  'Contact: <sip:alice@pc33.example.com>',
  'Require: 100rel',
  'Content-Type: application/sdp',
];
const SDP = ['v=0', 'o=alice 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', 'm=audio 49170 RTP/AVP 0', ''];

function invite(eol: string, opts: { body?: boolean; trailing?: string } = {}): string {
  const body = opts.body ? SDP.join('\r\n') : '';
  return [...INVITE_LINES, `Content-Length: ${Buffer.byteLength(body)}`].join(eol) + eol + eol + body + (opts.trailing ?? '');
}

test('a valid INVITE is reported with its headers in order and its body length', () => {
  const r = checkMessage(Buffer.from(invite('\r\n', { body: true })));
  assert.equal(r.exitCode, 0);
  assert.equal(r.json.valid, true);
  if (!r.json.valid || r.json.kind !== 'request') throw new Error('expected a request');
  assert.equal(r.json.method, 'INVITE');
  assert.equal(r.json.uri, 'sip:bob@example.com');
  assert.deepEqual(r.json.headers.map((h) => h.name), [
    'Via', 'Max-Forwards', 'To', 'From', 'Call-ID', 'CSeq', 'Contact', 'Require', 'Content-Type', 'Content-Length',
  ]);
  assert.deepEqual(r.json.headers[2], { name: 'To', value: 'Bob <sip:bob@example.com>' });
  assert.equal(r.json.bodyLength, Buffer.byteLength(SDP.join('\r\n')));
});

test('a response is reported with status and reason', () => {
  const text = [
    'SIP/2.0 180 Ringing',
    'Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds',
    'To: Bob <sip:bob@example.com>;tag=a6c85cf',
    'From: Alice <sip:alice@example.com>;tag=1928301774',
    'Call-ID: a84b4c76e66710',
    'CSeq: 314159 INVITE',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  const r = checkMessage(text);
  assert.equal(r.exitCode, 0);
  assert.deepEqual({ ...r.json, headers: undefined }, {
    valid: true, kind: 'response', status: 180, reason: 'Ringing', headers: undefined, bodyLength: 0,
  });
});

test('bare LF line ends, a trailing newline and a missing blank line are tolerated', () => {
  const lf = checkMessage(invite('\n', { trailing: '\n' }));
  assert.equal(lf.exitCode, 0, JSON.stringify(lf.json));
  // The same message cut right after the last header line, as copied from a log.
  const cut = [...INVITE_LINES, 'Content-Length: 0'].join('\n') + '\n';
  const r = checkMessage(cut);
  assert.equal(r.exitCode, 0, JSON.stringify(r.json));
  assert.deepEqual(r.json, lf.json);
  const noNewline = checkMessage([...INVITE_LINES, 'Content-Length: 0'].join('\n'));
  assert.deepEqual(noNewline.json, lf.json);
});

test('a body pasted with bare LF still matches a Content-Length counted with CRLF', () => {
  const text = invite('\r\n', { body: true }).replace(/\r\n/g, '\n');
  const r = checkMessage(text);
  assert.equal(r.exitCode, 0, JSON.stringify(r.json));
  assert.ok(r.json.valid && r.json.bodyLength === Buffer.byteLength(SDP.join('\r\n')));
});

test('binary garbage is invalid with 400, never a crash', () => {
  const garbage = Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0a, 0xde, 0xad, 0xbe, 0xef, 0x0d, 0x0a, 0x0d, 0x0a, 0x01]);
  const r = checkMessage(garbage);
  assert.equal(r.exitCode, 1);
  assert.equal(r.json.valid, false);
  assert.ok(!r.json.valid && r.json.status === 400);
  // The reason is printable text a user can read, not the raw bytes echoed back.
  const reason = r.json.valid ? '' : r.json.reason;
  assert.ok([...reason].every((ch) => ch.charCodeAt(0) >= 0x20 && ch.charCodeAt(0) !== 0x7f && ch !== '\ufffd'), reason);
});

test('empty and blank inputs are invalid with 400', () => {
  for (const input of ['', '\r\n\r\n', Buffer.alloc(0)]) {
    const r = checkMessage(input);
    assert.equal(r.exitCode, 1);
    assert.ok(!r.json.valid && r.json.status === 400);
  }
});

test('SIP/3.0 is answered 505 Version Not Supported', () => {
  const r = checkMessage(invite('\r\n').replace('SIP/2.0\r\n', 'SIP/3.0\r\n'));
  assert.equal(r.exitCode, 1);
  assert.ok(!r.json.valid);
  assert.equal(r.json.status, 505);
  const resp = checkMessage('SIP/3.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n\r\n');
  assert.ok(!resp.json.valid && resp.json.status === 505);
});

test('an unsupported Request-URI scheme is answered 416', () => {
  for (const uri of ['http://example.com/', 'foo:bar']) {
    const r = checkMessage(invite('\r\n').replace('sip:bob@example.com SIP/2.0', `${uri} SIP/2.0`));
    assert.equal(r.exitCode, 1, uri);
    assert.ok(!r.json.valid);
    assert.equal(r.json.status, 416, uri);
  }
  const tel = checkMessage(invite('\r\n').replace('sip:bob@example.com SIP/2.0', 'tel:+14155550100 SIP/2.0'));
  assert.equal(tel.exitCode, 0, JSON.stringify(tel.json));
});

test('missing mandatory headers and a CSeq mismatch are answered 400', () => {
  const noCallId = checkMessage(invite('\r\n').replace(/Call-ID:[^\r]*\r\n/, ''));
  assert.ok(!noCallId.json.valid && noCallId.json.status === 400 && /Call-ID/.test(noCallId.json.reason));
  const mismatch = checkMessage(invite('\r\n').replace('CSeq: 314159 INVITE', 'CSeq: 314159 ACK'));
  assert.ok(!mismatch.json.valid && mismatch.json.status === 400 && /CSeq/.test(mismatch.json.reason));
});

test('a body shorter than Content-Length is answered 400', () => {
  const text = invite('\r\n', { body: true }).replace(/Content-Length: \d+/, 'Content-Length: 500');
  const r = checkMessage(text);
  assert.ok(!r.json.valid && r.json.status === 400 && /Content-Length/.test(r.json.reason));
});
