import assert from 'node:assert/strict';
import type { RemoteInfo } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import {
  StunErrorResponse,
  StunTimeoutError,
  bindingSchedule,
  decodeStun,
  encodeStun,
  newTransactionId,
  stunBinding,
} from '../../src/stun/index.js';
import { VirtualClock } from '../../src/util/clock.js';

const SERVER = { address: '192.0.2.10', port: 3478 };
const RINFO: RemoteInfo = { address: SERVER.address, port: SERVER.port, family: 'IPv4', size: 0 };

/** A socket that records what is sent; `deliver` plays the network handing it a datagram. */
class FakeSocket extends EventEmitter {
  sent: Array<{ at: number; bytes: Buffer; port: number; address: string }> = [];
  sendError: Error | null = null;
  constructor(private readonly clock: VirtualClock) {
    super();
  }
  send(msg: Uint8Array, port: number, address: string, cb?: (error: Error | null, bytes: number) => void): void {
    this.sent.push({ at: this.clock.now(), bytes: Buffer.from(msg), port, address });
    const err = this.sendError;
    queueMicrotask(() => cb?.(err, msg.length));
  }
  deliver(msg: Buffer): void {
    this.emit('message', msg, RINFO);
  }
  lastTid(): Buffer {
    return decodeStun(this.sent[this.sent.length - 1].bytes).transactionId;
  }
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

function track<T>(p: Promise<T>): { state: () => 'pending' | 'resolved' | 'rejected'; value: () => T; error: () => unknown } {
  let state: 'pending' | 'resolved' | 'rejected' = 'pending';
  let value: T;
  let error: unknown;
  p.then(
    (v) => {
      state = 'resolved';
      value = v;
    },
    (e) => {
      state = 'rejected';
      error = e;
    },
  );
  return { state: () => state, value: () => value, error: () => error };
}

test('RFC 5389 §7.2.1 schedule: 7 sends at 0, 500, 1500, 3500, 7500, 15500, 31500 ms, give up at 39500', async () => {
  assert.deepEqual(bindingSchedule(), { sends: [0, 500, 1500, 3500, 7500, 15500, 31500], timeout: 39500 });
  const clock = new VirtualClock();
  const sock = new FakeSocket(clock);
  const t = track(stunBinding(sock, SERVER, { clock }));
  clock.advance(39_499);
  await settle();
  assert.deepEqual(
    sock.sent.map((s) => s.at),
    [0, 500, 1500, 3500, 7500, 15500, 31500],
  );
  assert.equal(t.state(), 'pending');
  // Every retransmission is the same request: same transaction id, to the server.
  assert.equal(new Set(sock.sent.map((s) => s.bytes.toString('hex'))).size, 1);
  assert.deepEqual({ port: sock.sent[0].port, address: sock.sent[0].address }, SERVER);
  clock.advance(1);
  await settle();
  assert.equal(t.state(), 'rejected');
  assert.ok(t.error() instanceof StunTimeoutError);
  assert.equal(sock.listenerCount('message'), 0);
  assert.equal(clock.pending(), 0);
});

test('rto and maxTransmits are honoured', async () => {
  const clock = new VirtualClock();
  const sock = new FakeSocket(clock);
  const t = track(stunBinding(sock, SERVER, { clock, rto: 100, maxTransmits: 3, lastWaitFactor: 2 }));
  clock.advance(499);
  await settle();
  assert.deepEqual(sock.sent.map((s) => s.at), [0, 100, 300]);
  assert.equal(t.state(), 'pending');
  clock.advance(1);
  await settle();
  assert.equal(t.state(), 'rejected');
});

test('resolves with XOR-MAPPED-ADDRESS from the answer with our transaction id; ignores the rest', async () => {
  const clock = new VirtualClock();
  const sock = new FakeSocket(clock);
  const others: Buffer[] = [];
  const sip = (m: Buffer): void => void others.push(m);
  sock.on('message', sip);
  const t = track(stunBinding(sock, SERVER, { clock, software: 'switchboard' }));
  clock.advance(600);
  const tid = sock.lastTid();
  const answer = (transactionId: Uint8Array, port: number): Buffer =>
    encodeStun({ cls: 'success', transactionId, xorMappedAddress: { address: '203.0.113.7', port }, fingerprint: true });

  sock.deliver(Buffer.from('SIP/2.0 200 OK\r\nCall-ID: x\r\n\r\n'));
  sock.deliver(answer(newTransactionId(), 1111));
  sock.deliver(Buffer.from([0x80, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4]));
  const damaged = answer(tid, 2222);
  damaged[damaged.length - 1] ^= 0xff;
  sock.deliver(damaged);
  await settle();
  assert.equal(t.state(), 'pending', 'nothing so far was our answer');
  sock.deliver(answer(tid, 40000));
  await settle();
  assert.equal(t.state(), 'resolved');
  assert.deepEqual(t.value(), { address: '203.0.113.7', port: 40000 });
  assert.equal(others.length, 5, 'the other listener saw every datagram, ours included');
  assert.deepEqual(sock.listeners('message'), [sip], 'only our listener was removed');
  assert.equal(clock.pending(), 0, 'no retransmission left scheduled');
  assert.equal(decodeStun(sock.sent[0].bytes).fingerprint, true);
});

test('an error response rejects with its code', async () => {
  const clock = new VirtualClock();
  const sock = new FakeSocket(clock);
  const t = track(stunBinding(sock, SERVER, { clock }));
  sock.deliver(encodeStun({ cls: 'error', transactionId: sock.lastTid(), errorCode: { code: 420, reason: 'Unknown Attribute' } }));
  await settle();
  assert.equal(t.state(), 'rejected');
  const e = t.error();
  assert.ok(e instanceof StunErrorResponse);
  assert.equal(e.code, 420);
  assert.equal(sock.listenerCount('message'), 0);
});

test('a send error and an abort both end the transaction and stop retransmitting', async () => {
  const clock = new VirtualClock();
  const failing = new FakeSocket(clock);
  failing.sendError = new Error('ENETUNREACH');
  const t1 = track(stunBinding(failing, SERVER, { clock }));
  await settle();
  assert.equal(t1.state(), 'rejected');
  assert.match(String(t1.error()), /ENETUNREACH/);

  const sock = new FakeSocket(clock);
  const ac = new AbortController();
  const t2 = track(stunBinding(sock, SERVER, { clock, signal: ac.signal }));
  clock.advance(600);
  ac.abort(new Error('call ended'));
  await settle();
  assert.equal(t2.state(), 'rejected');
  assert.match(String(t2.error()), /call ended/);
  clock.advance(60_000);
  assert.equal(sock.sent.length, 2);
  assert.equal(clock.pending(), 0);
});
