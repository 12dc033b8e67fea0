/**
 * What keeps a busy proxy's memory bounded: finished transactions wait in one
 * queue per interval and hold only frozen stand-ins, dialogs whose ACK never
 * came are dropped, and the server collects garbage once it falls quiet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CallLedger } from '../../src/proxy/call-ledger.js';
import { parseMessage, SipMessage } from '../../src/sip/message.js';
import { TransactionLayer } from '../../src/sip/transaction/index.js';
import type { Peer } from '../../src/sip/transport/types.js';
import { VirtualClock } from '../../src/util/clock.js';
import { IdleCollector, v8Collector } from '../../src/util/idle-gc.js';

const PEER: Peer = { proto: 'udp', address: '127.0.0.1', port: 5062 };

function options(i: number): SipMessage {
  return SipMessage.request('OPTIONS', 'sip:bob@example.com', [
    ['Via', `SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKq${i}`],
    ['Max-Forwards', '70'],
    ['From', '<sip:alice@example.com>;tag=fa'],
    ['To', '<sip:bob@example.com>'],
    ['Call-ID', `q${i}@example.com`],
    ['CSeq', '1 OPTIONS'],
  ]);
}

function ok(req: SipMessage): SipMessage {
  return SipMessage.response(200, 'OK', [
    ['Via', req.get('via') ?? ''], ['From', req.get('from') ?? ''], ['To', `${req.get('to') ?? ''};tag=b1`],
    ['Call-ID', req.callId], ['CSeq', req.get('cseq') ?? ''], ['Contact', '<sip:bob@127.0.0.1:5070>'],
  ], 'v=0\r\n');
}

test('finished transactions wait out Timer J in one queue: one clock timer for all, each ending on time', () => {
  const clock = new VirtualClock();
  const sent: SipMessage[] = [];
  const layer = new TransactionLayer({ clock, send: (m) => sent.push(m) });
  for (let i = 0; i < 100; i++) {
    const r = layer.receiveRequest(options(i), PEER);
    assert.ok('tx' in r);
    r.tx.respond(ok(options(i)));
    clock.advance(10);
  }
  assert.equal(layer.stats().server, 100);
  assert.equal(clock.pending(), 1, 'one timer, not one per transaction');
  // The first ends 32 s after its 200 (sent at 0 ms), the last 990 ms later; it is 1000 ms now.
  clock.advance(31_000 - 1);
  assert.equal(layer.stats().server, 100);
  clock.advance(1);
  assert.equal(layer.stats().server, 99);
  clock.advance(990);
  assert.equal(layer.stats().server, 0);
  assert.equal(clock.pending(), 0);
});

test('transactions ended early leave no timer behind', () => {
  const clock = new VirtualClock();
  const layer = new TransactionLayer({ clock, send: () => undefined });
  for (let i = 0; i < 10; i++) {
    const r = layer.receiveRequest(options(i), PEER);
    assert.ok('tx' in r);
    r.tx.respond(ok(options(i)));
  }
  assert.equal(clock.pending(), 1);
  layer.terminateAll();
  assert.equal(clock.pending(), 0);
});

test('a finished transaction resends the same bytes from its frozen response', () => {
  const clock = new VirtualClock();
  const sent: Buffer[] = [];
  const layer = new TransactionLayer({ clock, send: (m) => sent.push(m.toBuffer()) });
  const req = options(1);
  const r = layer.receiveRequest(req, PEER);
  assert.ok('tx' in r);
  const res = ok(req);
  const wire = res.toBuffer();
  r.tx.respond(res);
  layer.receiveRequest(options(1), PEER);
  assert.equal(sent.length, 2);
  assert.deepEqual(sent[0], wire);
  assert.deepEqual(sent[1], wire, 'the retransmission is byte for byte the response');
  assert.equal(r.tx.lastResponse?.status, 200);
  assert.equal(r.tx.request.method, 'OPTIONS');
  assert.equal(r.tx.request.callId, 'q1@example.com', 'a stand-in still answers about its request');
});

test('frozen stand-ins: with the wire they resend it; without, they answer questions but cannot be sent', () => {
  const text = 'SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@x>;tag=1\r\nTo: "Bö" <sip:b@y>;tag=2\r\nCall-ID: c1\r\nCSeq: 7 INVITE\r\nContent-Length: 3\r\n\r\nabc';
  const msg = parseMessage(Buffer.from(text, 'utf8'));
  const wire = msg.freeze();
  assert.deepEqual(wire.toBuffer(), msg.toBuffer());
  assert.equal(wire.freeze(), wire, 'freezing twice is free');
  const stub = msg.freeze(false);
  assert.equal(stub.status, 180);
  assert.equal(stub.reason, 'Ringing');
  assert.equal(stub.toTag, '2');
  assert.equal(stub.get('to'), '"Bö" <sip:b@y>;tag=2', 'non-ASCII survives');
  assert.equal(stub.cseq.seq, 7);
  assert.equal(stub.callId, 'c1');
  assert.equal(stub.get('via'), undefined, 'only To, Call-ID and CSeq are kept');
  assert.throws(() => stub.toBuffer(), /cannot be sent/);
  assert.equal(wire.get('via'), 'SIP/2.0/UDP h;branch=z9hG4bKx', 'a wire stand-in reads every header');
});

test('dialog rows whose ACK never came go 64*T1 after the 2xx; acknowledged ones stay until BYE', () => {
  const clock = new VirtualClock();
  const t = new CallLedger(clock);
  t.established('a', 'f', 't');
  t.established('b', 'f', 't');
  t.acknowledged('b');
  clock.advance(31_999);
  assert.equal(t.size, 2);
  clock.advance(1);
  assert.equal(t.size, 1);
  assert.deepEqual(t.active().map((d) => d.callId), ['b']);
  t.ended('b');
  assert.equal(t.size, 0);
  assert.equal(t.callsAnswered, 2);
});

test('an answered call whose BYE never passed us leaves the ledger after 12 hours, so it never fills max_dialogs', () => {
  const clock = new VirtualClock();
  const t = new CallLedger(clock);
  t.established('lost-bye', 'f', 't');
  t.acknowledged('lost-bye');
  clock.advance(6 * 3600_000);
  t.established('young', 'f', 't');
  t.acknowledged('young');
  clock.advance(6 * 3600_000);
  assert.deepEqual(t.active().map((d) => d.callId), ['young'], 'the 12-hour-old row is gone; the 6-hour-old one stays');
  assert.equal(t.size, 1, 'and it no longer counts toward the dialog limit');
});

test('the idle collector collects once load is over and transactions have ended, never under load', () => {
  const clock = new VirtualClock();
  let received = 0;
  let held = 0;
  let heap = 50 * 2 ** 20;
  let collected = 0;
  const gc = new IdleCollector({
    clock,
    activity: () => received,
    held: () => held,
    heapUsed: () => heap,
    collect: () => {
      collected++;
      heap = 40 * 2 ** 20;
    },
  });
  gc.start();
  // Load: 2,000 messages a second, transactions piling up, the heap growing.
  for (let s = 0; s < 10; s++) {
    received += 2000;
    held += 1000;
    heap += 20 * 2 ** 20;
    clock.advance(1000);
  }
  assert.equal(collected, 0, 'never under load');
  // Quiet, transactions still held: the grown heap is collected once.
  clock.advance(2000);
  assert.equal(collected, 1);
  clock.advance(20_000);
  assert.equal(collected, 1, 'nothing new to collect while the transactions are held');
  // They end (32 s after the burst): collected again.
  held = 0;
  clock.advance(2000);
  assert.equal(collected, 2);
  clock.advance(60_000);
  assert.equal(collected, 2);
  gc.stop();
  assert.equal(clock.pending(), 0);
});

test('the default collector is V8\'s and frees what nothing holds', () => {
  const collect = v8Collector();
  assert.ok(collect, 'a full collection is reachable without --expose-gc');
  let big: number[][] | undefined = Array.from({ length: 200 }, () => new Array<number>(10_000).fill(1));
  const before = process.memoryUsage().heapUsed;
  assert.equal(big.length, 200);
  big = undefined;
  collect();
  assert.ok(process.memoryUsage().heapUsed < before - 8 * 2 ** 20, 'the arrays were collected');
});

/**
 * What a user notices when a table keeps a substring of a message: the
 * whole message stays in memory as long as the entry. Each request here
 * carries a 20 KB header; 1,000 of them held whole would be 20 MB.
 */
const PAD = 'x'.repeat(20_000);
const N = 1000;

function heapAfterGc(collect: () => void): number {
  collect();
  return process.memoryUsage().heapUsed;
}

function parsedRegister(i: number): SipMessage {
  return parseMessage(Buffer.from(
    `REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:40000;branch=z9hG4bKreg${i}\r\nFrom: <sip:u${i}@example.com>;tag=1\r\n` +
      `To: <sip:u${i}@example.com>\r\nCall-ID: register-call-id-${i}@192.0.2.10\r\nCSeq: 1 REGISTER\r\n` +
      `Contact: <sip:u${i}@192.0.2.10:5060;transport=udp>\r\nUser-Agent: Retention Test Phone 1.0\r\nX-Pad: ${PAD}\r\nContent-Length: 0\r\n\r\n`,
  ));
}

test('registrations keep nothing of the REGISTER text: 1,000 bindings from 20 KB requests hold well under 2 MB', async () => {
  const collect = v8Collector();
  assert.ok(collect);
  const { Registrar } = await import('../../src/proxy/registrar.js');
  const reg = new Registrar(new VirtualClock(), { minExpires: 60, maxExpires: 7200, defaultExpires: 3600, maxContacts: 3 });
  const local = { proto: 'udp' as const, address: '127.0.0.1', port: 5060 };
  const before = heapAfterGc(collect);
  for (let i = 0; i < N; i++) {
    const out = await reg.register(parsedRegister(i), `u${i}`, { proto: 'udp', address: '192.0.2.10', port: 40000 }, local);
    assert.equal(out.status, 200);
  }
  const grown = heapAfterGc(collect) - before;
  assert.equal(reg.all().length, N);
  assert.ok(grown < 2 * 2 ** 20, `bindings hold ${(grown / 2 ** 20).toFixed(1)} MB`);
});

test('finished transactions keep nothing of the request text: 1,000 of them from 20 KB requests hold well under 4 MB', () => {
  const collect = v8Collector();
  assert.ok(collect);
  const clock = new VirtualClock();
  const layer = new TransactionLayer({ clock, send: () => undefined });
  const before = heapAfterGc(collect);
  for (let i = 0; i < N; i++) {
    const req = parsedRegister(i);
    const r = layer.receiveRequest(req, PEER);
    assert.ok('tx' in r);
    r.tx.respond(ok(req));
  }
  const grown = heapAfterGc(collect) - before;
  assert.equal(layer.stats().server, N, 'all waiting out Timer J');
  assert.ok(grown < 4 * 2 ** 20, `transactions hold ${(grown / 2 ** 20).toFixed(1)} MB`);
  clock.advance(32_000);
  assert.equal(layer.stats().server, 0);
});

test('dialog rows keep nothing of the INVITE and 2xx text', () => {
  const collect = v8Collector();
  assert.ok(collect);
  const table = new CallLedger(new VirtualClock());
  const before = heapAfterGc(collect);
  for (let i = 0; i < N; i++) {
    const msg = parsedRegister(i);
    table.established(msg.callId, msg.get('from') ?? '', msg.get('to') ?? '');
  }
  const grown = heapAfterGc(collect) - before;
  assert.equal(table.size, N);
  assert.ok(grown < 2 * 2 ** 20, `dialog rows hold ${(grown / 2 ** 20).toFixed(1)} MB`);
});
