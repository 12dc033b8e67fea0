import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_HEADER_BYTES } from '../../src/sip/message.js';
import { MAX_BODY_BYTES, StreamFramer } from '../../src/sip/transport/framer.js';

interface Captured {
  messages: string[];
  buffers: Buffer[];
  pings: number;
  errors: { status: number; reason: string; head: string }[];
  framer: StreamFramer;
}

function capture(): Captured {
  const c: Captured = { messages: [], buffers: [], pings: 0, errors: [], framer: undefined as unknown as StreamFramer };
  c.framer = new StreamFramer({
    message: (d) => {
      c.buffers.push(d);
      c.messages.push(d.toString('latin1'));
    },
    ping: () => c.pings++,
    error: (status, reason, head) => c.errors.push({ status, reason, head: head.toString('latin1') }),
  });
  return c;
}

function sipMessage(callId: string, body = '', clName = 'Content-Length'): string {
  return (
    `INVITE sip:bob@example.com SIP/2.0\r\n` +
    `Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK${callId}\r\n` +
    `Call-ID: ${callId}\r\n` +
    `CSeq: 1 INVITE\r\n` +
    `${clName}: ${Buffer.byteLength(body)}\r\n\r\n` +
    body
  );
}

const SDP = 'v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';

test('a message fed one byte at a time comes out once, whole', () => {
  const c = capture();
  const msg = sipMessage('a1', SDP);
  for (const byte of Buffer.from(msg)) c.framer.push(Buffer.from([byte]));
  assert.deepEqual(c.messages, [msg]);
  assert.equal(c.framer.pending, 0);
});

test('two messages in one chunk come out as two', () => {
  const c = capture();
  const m1 = sipMessage('b1', SDP);
  const m2 = sipMessage('b2');
  c.framer.push(Buffer.from(m1 + m2));
  assert.deepEqual(c.messages, [m1, m2]);
});

test('a body split across chunks waits for its last byte', () => {
  const c = capture();
  const msg = sipMessage('c1', SDP);
  const cut = msg.length - 10;
  c.framer.push(Buffer.from(msg.slice(0, cut)));
  assert.equal(c.messages.length, 0);
  c.framer.push(Buffer.from(msg.slice(cut, cut + 9)));
  assert.equal(c.messages.length, 0);
  c.framer.push(Buffer.from(msg.slice(cut + 9) + sipMessage('c2').slice(0, 20)));
  assert.deepEqual(c.messages, [msg]);
  c.framer.push(Buffer.from(sipMessage('c2').slice(20)));
  assert.deepEqual(c.messages, [msg, sipMessage('c2')]);
});

test('a message assembled from several chunks is not overwritten by later input', () => {
  const c = capture();
  const msg = sipMessage('d1', SDP);
  c.framer.push(Buffer.from(msg.slice(0, 30)));
  c.framer.push(Buffer.from(msg.slice(30) + 'OPTIONS sip:x SIP/2.0\r\n'));
  const first = c.buffers[0];
  c.framer.push(Buffer.from('X'.repeat(msg.length)));
  assert.equal(first.toString('latin1'), msg);
});

test('Content-Length is found in any case and in compact form "l"', () => {
  const c = capture();
  const m1 = sipMessage('e1', 'hello', 'content-LENGTH');
  const m2 = sipMessage('e2', 'world!', 'l');
  const m3 = sipMessage('e3', 'x', 'L ');
  c.framer.push(Buffer.from(m1 + m2 + m3));
  assert.deepEqual(c.messages, [m1, m2, m3]);
});

test('a missing Content-Length on a stream means an empty body', () => {
  const c = capture();
  const noCl = 'OPTIONS sip:a@example.com SIP/2.0\r\nCall-ID: f1\r\n\r\n';
  const next = sipMessage('f2', 'abc');
  c.framer.push(Buffer.from(noCl + next));
  assert.deepEqual(c.messages, [noCl, next]);
});

test('CRLFs between messages are skipped; a double CRLF is a keep-alive ping', () => {
  const c = capture();
  const m1 = sipMessage('g1');
  const m2 = sipMessage('g2');
  c.framer.push(Buffer.from(`${m1}\r\n${m2}`));
  assert.deepEqual(c.messages, [m1, m2]);
  assert.equal(c.pings, 0);

  c.framer.push(Buffer.from('\r\n\r\n'));
  assert.equal(c.pings, 1);
  // A ping split over two reads is still one ping.
  c.framer.push(Buffer.from('\r\n'));
  assert.equal(c.pings, 1);
  c.framer.push(Buffer.from('\r\n'));
  assert.equal(c.pings, 2);
  // A CRLF inside a message is never a ping.
  const m3 = sipMessage('g3', '\r\n\r\n');
  c.framer.push(Buffer.from(m3));
  assert.equal(c.pings, 2);
  assert.equal(c.messages.at(-1), m3);
});

test('a header section over 64 KiB is a 513 framing error and stops the framer', () => {
  const c = capture();
  const start = 'INVITE sip:bob@example.com SIP/2.0\r\nCall-ID: h1\r\n';
  c.framer.push(Buffer.from(start));
  const line = `X-Filler: ${'a'.repeat(1000)}\r\n`;
  // Bounded: enough lines to pass the limit, never a blank line.
  for (let i = 0; i < 70 && c.errors.length === 0; i++) c.framer.push(Buffer.from(line));
  assert.equal(c.errors.length, 1);
  assert.equal(c.errors[0].status, 513);
  assert.match(c.errors[0].reason, /header/i);
  assert.ok(c.errors[0].head.startsWith(start), 'head keeps the start of the message');
  assert.ok(c.errors[0].head.endsWith('\r\n'), 'head ends on a whole line');
  assert.ok(c.errors[0].head.length <= MAX_HEADER_BYTES);
  assert.ok(c.framer.failed);
  c.framer.push(Buffer.from(sipMessage('h2')));
  assert.equal(c.messages.length, 0, 'nothing is framed after the error');
  assert.equal(c.errors.length, 1);
});

test('an oversized header section that arrives in one chunk with its blank line is also 513', () => {
  const c = capture();
  const big = `INVITE sip:b@example.com SIP/2.0\r\nX-Big: ${'b'.repeat(MAX_HEADER_BYTES)}\r\nContent-Length: 0\r\n\r\n`;
  c.framer.push(Buffer.from(big));
  assert.equal(c.errors[0]?.status, 513);
  assert.equal(c.messages.length, 0);
});

test('a non-numeric Content-Length is a 400 framing error with the header section as head', () => {
  const c = capture();
  const bad = 'MESSAGE sip:b@example.com SIP/2.0\r\nCall-ID: i1\r\nContent-Length: ten\r\n\r\nhello';
  c.framer.push(Buffer.from(bad));
  assert.equal(c.errors.length, 1);
  assert.equal(c.errors[0].status, 400);
  assert.match(c.errors[0].reason, /Content-Length/);
  assert.ok(c.errors[0].head.includes('Call-ID: i1'));
  assert.ok(!c.errors[0].head.includes('hello'));
});

test('Content-Length over the body limit is 513; conflicting values are 400', () => {
  const big = capture();
  big.framer.push(Buffer.from(`MESSAGE sip:b@example.com SIP/2.0\r\nContent-Length: ${MAX_BODY_BYTES + 1}\r\n\r\n`));
  assert.equal(big.errors[0]?.status, 513);
  const huge = capture();
  huge.framer.push(Buffer.from('MESSAGE sip:b@example.com SIP/2.0\r\nl: 99999999999999999999\r\n\r\n'));
  assert.equal(huge.errors[0]?.status, 513);
  const conflict = capture();
  conflict.framer.push(Buffer.from('MESSAGE sip:b@example.com SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\nab'));
  assert.equal(conflict.errors[0]?.status, 400);
});

test('headers that merely start like Content-Length are not mistaken for it', () => {
  const c = capture();
  const msg = 'OPTIONS sip:a@example.com SIP/2.0\r\nLocation: 55\r\nContent-Lengthy: 7\r\nContent-Length: 2\r\n\r\nok';
  c.framer.push(Buffer.from(msg));
  assert.deepEqual(c.messages, [msg]);
});

test('any split of a stream of messages yields the same messages', () => {
  const stream = [sipMessage('j1', SDP), '\r\n', sipMessage('j2'), '\r\n\r\n', sipMessage('j3', 'x'.repeat(3000))].join('');
  const bytes = Buffer.from(stream);
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let round = 0; round < 200; round++) {
    const c = capture();
    let pos = 0;
    while (pos < bytes.length) {
      const len = 1 + rand(round % 2 === 0 ? 16 : 900);
      c.framer.push(bytes.subarray(pos, pos + len));
      pos += len;
    }
    assert.deepEqual(c.messages, [sipMessage('j1', SDP), sipMessage('j2'), sipMessage('j3', 'x'.repeat(3000))]);
    assert.equal(c.pings, 1);
    assert.equal(c.errors.length, 0);
  }
});
