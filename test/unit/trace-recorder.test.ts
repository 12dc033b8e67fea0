import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TraceRecorder, type TraceInput } from '../../src/sip/trace/recorder.js';
import { PEEK_LIMIT, peekSip } from '../../src/sip/trace/peek.js';
import { VirtualClock } from '../../src/util/clock.js';

const server = { address: '127.0.0.1', port: 5060 };
const phone = { address: '127.0.0.1', port: 5070 };

function request(method: string, callId: string, seq = 1, extra = ''): Buffer {
  return Buffer.from(
    `${method} sip:1002@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK${seq}\r\n` +
    `From: <sip:1001@example.com>;tag=a\r\nTo: <sip:1002@example.com>\r\nCall-ID: ${callId}\r\n` +
    `CSeq: ${seq} ${method}\r\n${extra}Content-Length: 0\r\n\r\n`,
  );
}

function response(status: number, reason: string, callId: string, method = 'INVITE', seq = 1): Buffer {
  return Buffer.from(
    `SIP/2.0 ${status} ${reason}\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK${seq}\r\n` +
    `From: <sip:1001@example.com>;tag=a\r\nTo: <sip:1002@example.com>;tag=b\r\nCall-ID: ${callId}\r\n` +
    `CSeq: ${seq} ${method}\r\nContent-Length: 0\r\n\r\n`,
  );
}

function input(data: Buffer, dir: 'in' | 'out' = 'in'): TraceInput {
  return { dir, proto: 'udp', local: server, remote: phone, data };
}

test('groups messages by Call-ID and summarises the call by its first request and final answer', () => {
  const clock = new VirtualClock();
  const rec = new TraceRecorder({ clock });
  const start = clock.wallNow();
  assert.equal(rec.record(input(request('INVITE', 'call-1'))), true);
  clock.advance(20);
  rec.record(input(response(100, 'Trying', 'call-1'), 'out'));
  rec.record(input(request('OPTIONS', 'other'))); // another call in between
  clock.advance(30);
  rec.record(input(response(180, 'Ringing', 'call-1'), 'out'));
  clock.advance(1000);
  rec.record(input(response(200, 'OK', 'call-1'), 'out'));
  rec.record(input(response(200, 'OK', 'call-1'), 'out')); // a retransmission changes nothing
  rec.record(input(request('ACK', 'call-1')));

  const calls = rec.calls();
  assert.deepEqual(calls.map((c) => c.callId), ['other', 'call-1']);
  const call = calls[1];
  assert.equal(call.summary, 'INVITE sip:1002@example.com → 200');
  assert.equal(call.count, 6);
  assert.equal(call.firstMs, start);
  assert.equal(call.lastMs, start + 1050);
  const entries = rec.get('call-1');
  assert.deepEqual(entries.map((e) => e.sip.method || e.sip.status), ['INVITE', 100, 180, 200, 200, 'ACK']);
  assert.deepEqual(entries.map((e) => e.ms), [0, 20, 50, 1050, 1050, 1050]);
  assert.deepEqual(entries.map((e) => e.dir), ['in', 'out', 'out', 'out', 'out', 'in']);
  assert.equal(rec.calls()[0].summary, 'OPTIONS sip:1002@example.com');
});

test('a call still ringing shows its provisional answer; a rejected one its error', () => {
  const rec = new TraceRecorder({ clock: new VirtualClock() });
  rec.record(input(request('INVITE', 'ringing')));
  rec.record(input(response(180, 'Ringing', 'ringing'), 'out'));
  rec.record(input(request('INVITE', 'busy')));
  rec.record(input(response(486, 'Busy Here', 'busy'), 'out'));
  // A response to a later transaction (the BYE) does not count as the INVITE's answer.
  rec.record(input(request('BYE', 'ringing', 2)));
  rec.record(input(response(200, 'OK', 'ringing', 'BYE', 2), 'out'));
  assert.deepEqual(rec.calls().map((c) => c.summary), ['INVITE sip:1002@example.com → 486', 'INVITE sip:1002@example.com → 180']);
});

test('finds the Call-ID in any spelling, compact form included', () => {
  const rec = new TraceRecorder({ clock: new VirtualClock() });
  const compact = Buffer.from('MESSAGE sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bKx\r\ni : compact-1\r\nCSeq: 7 MESSAGE\r\n\r\n');
  const lower = Buffer.from('SIP/2.0 200 OK\r\nvia: SIP/2.0/UDP h;branch=z9hG4bKx\r\ncall-id:lower-1\r\ncseq: 7 MESSAGE\r\n\r\n');
  // A datagram may end right after its last header line, without the blank line.
  const noBlank = Buffer.from('\r\n\r\nNOTIFY sip:a@b SIP/2.0\nCALL-ID: bare-lf\nCSeq: 1 NOTIFY');
  assert.equal(rec.record(input(compact)), true);
  assert.equal(rec.record(input(lower)), true);
  assert.equal(rec.record(input(noBlank)), true);
  assert.deepEqual(rec.calls().map((c) => c.callId), ['compact-1', 'lower-1', 'bare-lf']);
  assert.deepEqual(rec.get('compact-1')[0].sip.cseq, { seq: 7, method: 'MESSAGE' });
  assert.equal(rec.get('lower-1')[0].sip.status, 200);
  assert.equal(rec.get('bare-lf')[0].sip.method, 'NOTIFY');
  // "Identity:" starts with an i but is not the compact Call-ID.
  assert.equal(peekSip(Buffer.from('BYE sip:a@b SIP/2.0\r\nIdentity: x\r\n\r\n')), undefined);
});

test('garbage is not recorded and never throws', () => {
  const rec = new TraceRecorder({ clock: new VirtualClock() });
  const junk: Buffer[] = [
    Buffer.alloc(0),
    Buffer.from('\r\n\r\n'), // keep-alive
    Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nCall-ID: nope\r\n\r\n'),
    Buffer.from('INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nCSeq: 1 INVITE\r\n\r\n'), // no Call-ID
    Buffer.from('INVITE sip:a@b SIP/2.0\r\nCall-ID: \r\n\r\n'), // empty Call-ID
    Buffer.from(`INVITE sip:a@b SIP/2.0\r\nCall-ID: ${'x'.repeat(600)}\r\n\r\n`), // absurdly long
    Buffer.from('INVITE sip:a@b SIP/2.0\r\n\r\nCall-ID: in-the-body\r\n'), // after the header section
    Buffer.concat([Buffer.from('INVITE sip:a@b SIP/2.0\r\nX-Pad: '), Buffer.alloc(PEEK_LIMIT, 0x61), Buffer.from('\r\nCall-ID: too-far\r\n\r\n')]),
    Buffer.from('SIP/2.0 999 Weird\r\nCall-ID: bad-status\r\n\r\n'),
  ];
  // Deterministic pseudo-random bytes, some starting like SIP.
  let seed = 12345;
  for (let n = 0; n < 200; n++) {
    const b = Buffer.alloc(1 + (n * 37) % 300);
    for (let i = 0; i < b.length; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      b[i] = seed & 0xff;
    }
    junk.push(n % 2 ? Buffer.concat([Buffer.from('SIP/2.0 200 OK\r\n'), b]) : b);
  }
  for (const data of junk) assert.equal(rec.record(input(data)), false, data.toString('latin1', 0, 60));
  assert.deepEqual(rec.calls(), []);
  assert.deepEqual(rec.stats(), { calls: 0, messages: 0, bytes: 0 });
});

test('evicts the least recently active call beyond maxCalls; a message makes a call recent again', () => {
  const rec = new TraceRecorder({ maxCalls: 3, clock: new VirtualClock() });
  for (const id of ['a', 'b', 'c']) rec.record(input(request('INVITE', id)));
  rec.record(input(response(180, 'Ringing', 'a'), 'out')); // a is now the most recent
  rec.record(input(request('INVITE', 'd'))); // evicts b
  rec.record(input(request('INVITE', 'e'))); // evicts c
  assert.deepEqual(rec.calls().map((c) => c.callId), ['a', 'd', 'e']);
  assert.deepEqual(rec.get('b'), []);
  assert.equal(rec.get('a').length, 2);
});

test('a long call keeps its first and its latest messages, up to maxMessagesPerCall', () => {
  const rec = new TraceRecorder({ maxMessagesPerCall: 10, clock: new VirtualClock() });
  for (let seq = 1; seq <= 25; seq++) rec.record(input(request('INFO', 'long', seq)));
  const [summary] = rec.calls();
  assert.equal(summary.count, 10);
  assert.equal(summary.dropped, 15);
  assert.deepEqual(rec.get('long').map((e) => e.sip.cseq?.seq), [1, 2, 3, 4, 5, 21, 22, 23, 24, 25]);
  assert.equal(rec.stats().messages, 10);
});

test('memory stays bounded under a flood of calls, by count and by bytes', () => {
  const maxBytes = 256 * 1024;
  const rec = new TraceRecorder({ maxCalls: 100, maxMessagesPerCall: 8, maxBytes, clock: new VirtualClock() });
  const pad = `X-Pad: ${'p'.repeat(1500)}\r\n`;
  let peakCalls = 0;
  let peakBytes = 0;
  for (let i = 0; i < 5000; i++) {
    for (let m = 0; m < 12; m++) rec.record(input(request('INFO', `flood-${i}`, m + 1, i % 3 === 0 ? pad : '')));
    const s = rec.stats();
    peakCalls = Math.max(peakCalls, s.calls);
    peakBytes = Math.max(peakBytes, s.bytes);
  }
  assert.ok(peakCalls <= 100, `calls peaked at ${peakCalls}`);
  assert.ok(peakBytes <= maxBytes, `bytes peaked at ${peakBytes}`);
  // Count what is really held through the public API, not only the recorder's own books.
  const held = rec.calls();
  let messages = 0;
  let bytes = 0;
  for (const c of held) {
    const entries = rec.get(c.callId);
    assert.ok(entries.length <= 8);
    messages += entries.length;
    for (const e of entries) bytes += e.data.length;
  }
  assert.equal(messages, rec.stats().messages);
  assert.ok(bytes <= maxBytes, `message bytes held: ${bytes}`);
  assert.equal(held[held.length - 1].callId, 'flood-4999');
});

test('keeps a private copy that does not pin the transport buffer, cut at maxMessageBytes', () => {
  const rec = new TraceRecorder({ maxMessageBytes: 1000, clock: new VirtualClock() });
  const big = Buffer.alloc(1024 * 1024, 0x20);
  const msg = request('INVITE', 'view');
  msg.copy(big, 4096);
  rec.record(input(big.subarray(4096, 4096 + msg.length)));
  const [kept] = rec.get('view');
  assert.equal(kept.data.toString(), msg.toString());
  assert.equal(kept.data.buffer.byteLength, msg.length, 'entry must own its bytes, not a view of the 1 MiB buffer');
  big.fill(0, 4096, 4096 + msg.length); // the transport reuses its buffer
  assert.equal(kept.data.toString(), msg.toString());

  const huge = request('MESSAGE', 'huge', 1, `X-Big: ${'b'.repeat(5000)}\r\n`);
  rec.record({ ...input(huge), proto: 'tcp', wallMs: 1234 });
  const [cut] = rec.get('huge');
  assert.equal(cut.data.length, 1000);
  assert.equal(cut.size, huge.length);
  assert.equal(cut.wallMs, 1234);
  assert.equal(cut.proto, 'tcp');
});

test('a call that was challenged first is summed up by the answer to the retried INVITE', () => {
  const rec = new TraceRecorder({ clock: new VirtualClock() });
  rec.record(input(request('INVITE', 'auth-call', 1)));
  rec.record(input(response(407, 'Proxy Authentication Required', 'auth-call', 'INVITE', 1), 'out'));
  rec.record(input(request('ACK', 'auth-call', 1)));
  rec.record(input(request('INVITE', 'auth-call', 2)));
  rec.record(input(response(180, 'Ringing', 'auth-call', 'INVITE', 2), 'out'));
  assert.equal(rec.calls()[0].summary, 'INVITE sip:1002@example.com → 407', 'still ringing: the challenge is all we know');
  rec.record(input(response(200, 'OK', 'auth-call', 'INVITE', 2), 'out'));
  rec.record(input(response(603, 'Decline', 'auth-call', 'INVITE', 2), 'out'));
  assert.equal(rec.calls()[0].summary, 'INVITE sip:1002@example.com → 200');
});
