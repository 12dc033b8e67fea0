/**
 * The parser only cuts lines on parse; a header nobody asks about is never
 * reinterpreted and goes back out exactly as it came in.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SipParseError } from '../../src/sip/errors.js';
import { parseMessage } from '../../src/sip/message.js';

const HEAD = [
  'INVITE sip:bob@example.com SIP/2.0',
  'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1',
  'From: <sip:alice@example.com>;tag=1',
  'To: <sip:bob@example.com>',
  'Call-ID: lazy-1',
  'CSeq: 1 INVITE',
];

test('an unknown header with odd spacing keeps its value through a round trip', () => {
  const raw = [...HEAD, 'X-Foo:   a  ,b', 'Content-Length: 0', '', ''].join('\r\n');
  const m = parseMessage(Buffer.from(raw));
  assert.equal(m.get('x-foo'), 'a  ,b');
  const out = m.toString();
  assert.ok(out.includes('\r\nX-Foo: a  ,b\r\n'), out);
  assert.equal(parseMessage(m.toBuffer()).get('x-foo'), 'a  ,b');
});

test('malformed values are only noticed when read: parse succeeds, the getter throws', () => {
  const raw = [...HEAD.slice(0, 1), 'Via: not a via', ...HEAD.slice(2, 5), 'CSeq: many INVITE', 'Content-Length: 0', '', ''].join('\r\n');
  const m = parseMessage(Buffer.from(raw));
  assert.equal(m.callId, 'lazy-1');
  assert.throws(() => m.via, SipParseError);
  assert.throws(() => m.cseq, SipParseError);
  // Untouched, the malformed lines are forwarded as they are.
  assert.ok(m.toString().includes('\r\nVia: not a via\r\nFrom:'));
});

test('parsed values are cached and refreshed after an edit', () => {
  const m = parseMessage(Buffer.from([...HEAD, '', ''].join('\r\n')));
  const first = m.via;
  assert.equal(m.via, first, 'second read returns the cached object');
  m.prepend('Via', 'SIP/2.0/TCP proxy.example.com;branch=z9hG4bKp');
  assert.equal(m.via.host, 'proxy.example.com');
  m.removeFirst('via');
  assert.equal(m.via.host, '192.0.2.1');
});
