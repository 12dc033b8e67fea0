import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../../src/util/clock.js';
import { SipMessage } from '../../src/sip/message.js';
import type { Peer, Proto } from '../../src/sip/transport/types.js';
import { TransactionLayer, type ServerTransaction } from '../../src/sip/transaction/index.js';

interface Sent { msg: SipMessage; dest: Peer; at: number }

/** What the layer's owner heard, per transaction. */
const heard = new Map<ServerTransaction, string[]>();
function events(tx: ServerTransaction): string[] {
  let list = heard.get(tx);
  if (!list) heard.set(tx, (list = []));
  return list;
}

function setup(opts: { autoTrying?: boolean; failSend?: () => boolean } = {}) {
  const clock = new VirtualClock();
  const sent: Sent[] = [];
  const layer = new TransactionLayer({
    clock,
    autoTrying: opts.autoTrying,
    server: {
      ackTimeout: (tx) => events(tx).push('ack-timeout'),
      transportError: (tx) => events(tx).push('transport-error'),
      terminated: (tx) => events(tx).push('terminated'),
    },
    send: (msg, dest) => {
      if (opts.failSend?.()) throw new Error('EPIPE');
      sent.push({ msg, dest, at: clock.now() });
    },
  });
  return { clock, sent, layer };
}

const SRC_PORT = 5062;
function peer(proto: Proto = 'udp'): Peer {
  return { proto, address: '127.0.0.1', port: SRC_PORT };
}

interface ReqOpts { branch?: string | null; sentBy?: string; toTag?: string; seq?: number; proto?: Proto; cseqMethod?: string }

function request(method: string, o: ReqOpts = {}): SipMessage {
  const branch = o.branch === null ? '' : `;branch=${o.branch ?? 'z9hG4bKsrv1'}`;
  return SipMessage.request(method, 'sip:bob@example.com', [
    ['Via', `SIP/2.0/${(o.proto ?? 'udp').toUpperCase()} ${o.sentBy ?? '127.0.0.1:5062'}${branch}`],
    ['Max-Forwards', '70'],
    ['From', '<sip:alice@example.com>;tag=fa'],
    ['To', '<sip:bob@example.com>' + (o.toTag ? `;tag=${o.toTag}` : '')],
    ['Call-ID', 'srv-call@example.com'],
    ['CSeq', `${o.seq ?? 1} ${o.cseqMethod ?? method}`],
    ['Timestamp', '54'],
  ]);
}

function response(req: SipMessage, status: number, toTag?: string): SipMessage {
  const headers: [string, string][] = req.getAll('via').map((v) => ['Via', v]);
  const to = req.get('to') ?? '';
  headers.push(['From', req.get('from') ?? ''], ['To', to + (toTag && !req.toTag ? `;tag=${toTag}` : '')]);
  headers.push(['Call-ID', req.callId], ['CSeq', req.get('cseq') ?? '']);
  return SipMessage.response(status, 'Reason', headers);
}

/** The ACK a UAC sends for a non-2xx: same branch, To tag of the response. */
function ackFor(req: SipMessage, res: SipMessage, o: ReqOpts = {}): SipMessage {
  const ack = request('ACK', { ...o, seq: req.cseq.seq });
  ack.set('to', res.get('to') ?? '');
  return ack;
}

function newTx(layer: TransactionLayer, req: SipMessage, source = peer()): ServerTransaction {
  const r = layer.receiveRequest(req, source);
  assert.ok('tx' in r && r.isNew, 'a new transaction');
  return r.tx;
}

test('INVITE over UDP: auto 100 after 200 ms, retransmissions re-send the last response, G doubles to T2, ACK confirms, Timer I = T4', () => {
  const { clock, sent, layer } = setup();
  const inv = request('INVITE');
  const tx = newTx(layer, inv);
  assert.equal(tx.state, 'proceeding');
  clock.advance(199);
  assert.equal(sent.length, 0);
  clock.advance(1);
  assert.equal(sent.length, 1);
  const trying = sent[0].msg;
  assert.equal(trying.status, 100);
  assert.equal(trying.get('timestamp'), '54');
  assert.equal(trying.toTag, undefined);
  assert.deepEqual(sent[0].dest, peer());

  // One copy of the last provisional per retransmitted INVITE.
  for (let i = 0; i < 2; i++) {
    const r = layer.receiveRequest(request('INVITE'), peer());
    assert.ok('tx' in r && r.tx === tx && !r.isNew);
  }
  assert.deepEqual(sent.map((s) => s.msg.status), [100, 100, 100]);
  assert.equal(tx.respond(response(inv, 180, 'tt')), true);
  layer.receiveRequest(request('INVITE'), peer());
  assert.deepEqual(sent.map((s) => s.msg.status), [100, 100, 100, 180, 180]);

  const busy = response(inv, 486, 'tt');
  const t0 = clock.now();
  assert.equal(tx.respond(busy), true);
  assert.equal(tx.state, 'completed');
  assert.equal(tx.respond(response(inv, 200, 'tt')), false, 'one final response only');
  clock.advance(7_600);
  const retrans = sent.filter((s) => s.msg.toBuffer().equals(busy.toBuffer())).map((s) => s.at - t0);
  assert.deepEqual(retrans, [0, 500, 1500, 3500, 7500], 'G: 500, 1000, 2000, 4000');
  layer.receiveRequest(request('INVITE'), peer());
  assert.ok(sent[sent.length - 1].msg.toBuffer().equals(busy.toBuffer()), 'a retransmitted INVITE gets the final again');

  const count = sent.length;
  assert.deepEqual(layer.receiveRequest(ackFor(inv, busy), peer()), { ack: 'absorbed' });
  assert.equal(tx.state, 'confirmed');
  assert.deepEqual(layer.receiveRequest(ackFor(inv, busy), peer()), { ack: 'absorbed' }, 'ACK retransmission absorbed');
  clock.advance(4_999);
  assert.equal(sent.length, count, 'Timer G stopped by the ACK');
  assert.equal(tx.state, 'confirmed');
  clock.advance(1);
  assert.equal(tx.state, 'terminated');
  assert.equal(clock.pending(), 0);
  assert.deepEqual(layer.stats(), { client: 0, server: 0 });
});

test('INVITE over UDP: Timer H fires at 64*T1 without ACK; G keeps at T2 meanwhile', () => {
  const { clock, sent, layer } = setup();
  const inv = request('INVITE');
  const tx = newTx(layer, inv);
  tx.respond(response(inv, 404, 'tt'));
  clock.advance(31_999);
  assert.deepEqual(sent.map((s) => s.at), [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
  assert.deepEqual(events(tx), []);
  clock.advance(1);
  assert.deepEqual(events(tx), ['ack-timeout', 'terminated']);
  assert.equal(clock.pending(), 0);
  assert.equal(layer.stats().server, 0);
  // After termination a late ACK finds no transaction.
  assert.deepEqual(layer.receiveRequest(ackFor(inv, sent[0].msg), peer()), { ack: 'no-transaction' });
});

test('INVITE over TCP: no Timer G, Timer H still runs, ACK ends it at once (I = 0)', () => {
  const { clock, sent, layer } = setup();
  const inv = request('INVITE', { proto: 'tcp' });
  const tx = newTx(layer, inv, peer('tcp'));
  tx.respond(response(inv, 100));
  const busy = response(inv, 603, 'tt');
  tx.respond(busy);
  clock.advance(10_000);
  assert.equal(sent.length, 2);
  assert.deepEqual(layer.receiveRequest(ackFor(inv, busy, { proto: 'tcp' }), peer('tcp')), { ack: 'absorbed' });
  assert.equal(tx.state, 'terminated');
  assert.equal(clock.pending(), 0);

  const inv2 = request('INVITE', { proto: 'tcp', branch: 'z9hG4bKsrv2' });
  const tx2 = newTx(layer, inv2, peer('tcp'));
  const timedOut = (): boolean => events(tx2).includes('ack-timeout');
  tx2.respond(response(inv2, 480, 'tt'));
  clock.advance(31_999);
  assert.equal(timedOut(), false);
  clock.advance(1);
  assert.equal(timedOut(), true);
  assert.equal(clock.pending(), 0);
});

test('INVITE: auto 100 can be switched off, and is skipped when the TU answers within 200 ms', () => {
  const off = setup({ autoTrying: false });
  newTx(off.layer, request('INVITE'));
  off.clock.advance(1_000);
  assert.equal(off.sent.length, 0);

  const on = setup();
  const inv = request('INVITE');
  const tx = newTx(on.layer, inv);
  on.clock.advance(150);
  tx.respond(response(inv, 180, 'tt'));
  on.clock.advance(1_000);
  assert.deepEqual(on.sent.map((s) => s.msg.status), [180]);
  // A retransmission before any provisional exists gets nothing.
  const quiet = setup({ autoTrying: false });
  newTx(quiet.layer, request('INVITE'));
  quiet.layer.receiveRequest(request('INVITE'), peer());
  assert.equal(quiet.sent.length, 0);
});

test('INVITE 2xx (RFC 6026 Accepted): retransmitted INVITE absorbed, more 2xx sent, ACK passed on, Timer L ends it', () => {
  const { clock, sent, layer } = setup();
  const inv = request('INVITE');
  const tx = newTx(layer, inv);
  const ok = response(inv, 200, 'tt');
  tx.respond(ok);
  assert.equal(tx.state, 'accepted');
  const r = layer.receiveRequest(request('INVITE'), peer());
  assert.ok('tx' in r && r.tx === tx && !r.isNew, 'not a new call');
  assert.equal(sent.length, 1, 'the 2xx is retransmitted by the TU, not the transaction');
  assert.equal(tx.respond(ok), true, 'TU retransmission of the 2xx goes out');
  assert.equal(tx.respond(response(inv, 486, 'tt')), false);
  assert.equal(sent.length, 2);
  // ACK for a 2xx has its own branch (§17.1.1.3); a buggy peer may reuse the INVITE's.
  assert.deepEqual(layer.receiveRequest(ackFor(inv, ok, { branch: 'z9hG4bKack2xx' }), peer()), { ack: 'no-transaction' });
  assert.deepEqual(layer.receiveRequest(ackFor(inv, ok), peer()), { ack: 'no-transaction' });
  clock.advance(31_999);
  assert.equal(tx.state, 'accepted');
  clock.advance(1);
  assert.equal(tx.state, 'terminated');
  assert.equal(clock.pending(), 0);
  assert.deepEqual(layer.stats(), { client: 0, server: 0 });
});

test('non-INVITE over UDP: Trying absorbs, Proceeding and Completed re-send, Timer J = 64*T1', () => {
  const { clock, sent, layer } = setup();
  const reg = request('REGISTER');
  const tx = newTx(layer, reg);
  assert.equal(tx.state, 'trying');
  clock.advance(1_000);
  assert.equal(sent.length, 0, 'no automatic 100 for non-INVITE');
  layer.receiveRequest(request('REGISTER'), peer());
  assert.equal(sent.length, 0, 'Trying absorbs retransmissions silently');
  tx.respond(response(reg, 100));
  assert.equal(tx.state, 'proceeding');
  layer.receiveRequest(request('REGISTER'), peer());
  assert.deepEqual(sent.map((s) => s.msg.status), [100, 100]);
  const ok = response(reg, 200, 'tt');
  tx.respond(ok);
  assert.equal(tx.state, 'completed');
  assert.equal(tx.respond(response(reg, 500, 'tt')), false);
  assert.equal(tx.respond(response(reg, 180, 'tt')), false);
  layer.receiveRequest(request('REGISTER'), peer());
  layer.receiveRequest(request('REGISTER'), peer());
  assert.deepEqual(sent.map((s) => s.msg.status), [100, 100, 200, 200, 200]);
  assert.ok(sent.every((s) => s.dest.port === SRC_PORT));
  const t0 = clock.now();
  clock.advance(31_999);
  assert.equal(tx.state, 'completed');
  assert.equal(sent.length, 5, 'no retransmission timer on the server side of non-INVITE');
  clock.advance(1);
  assert.equal(clock.now() - t0, 32_000);
  assert.equal(tx.state, 'terminated');
  assert.equal(clock.pending(), 0);
  const again = layer.receiveRequest(request('REGISTER'), peer());
  assert.ok('tx' in again && again.isNew, 'after Timer J the same branch is a new transaction');
});

test('non-INVITE over TCP: the final ends the transaction at once (J = 0)', () => {
  const { clock, layer } = setup();
  const opt = request('OPTIONS', { proto: 'tcp' });
  const tx = newTx(layer, opt, peer('tcp'));
  tx.respond(response(opt, 200, 'tt'));
  assert.equal(tx.state, 'terminated');
  assert.equal(clock.pending(), 0);
  assert.deepEqual(layer.stats(), { client: 0, server: 0 });
});

test('matching uses sent-by and method: same branch from another host or with another method is new', () => {
  const { layer } = setup();
  const a = newTx(layer, request('INVITE'));
  const b = newTx(layer, request('INVITE', { sentBy: '192.0.2.7:5062' }));
  const c = newTx(layer, request('CANCEL'));
  assert.notEqual(a, b);
  assert.notEqual(a, c);
  const same = layer.receiveRequest(request('INVITE', { sentBy: '127.0.0.1:5062' }), peer());
  assert.ok('tx' in same && same.tx === a);
  assert.deepEqual(layer.stats(), { client: 0, server: 3 });
  assert.deepEqual(layer.list().map((t) => `${t.side} ${t.method} ${t.state}`).sort(),
    ['server CANCEL trying', 'server INVITE proceeding', 'server INVITE proceeding']);
});

test('CANCEL is its own transaction and findForCancel finds the INVITE it refers to', () => {
  const { clock, layer } = setup();
  const inv = request('INVITE');
  const invTx = newTx(layer, inv);
  const cancel = request('CANCEL', { seq: 1 });
  const cancelTx = newTx(layer, cancel);
  assert.equal(cancelTx.state, 'trying');
  assert.equal(layer.findForCancel(cancel), invTx);
  assert.equal(layer.findForCancel(request('CANCEL', { branch: 'z9hG4bKnope' })), undefined);
  assert.equal(layer.findForCancel(request('CANCEL', { sentBy: '192.0.2.1' })), undefined);
  cancelTx.respond(response(cancel, 200, 'tt'));
  invTx.respond(response(inv, 487, 'tt'));
  assert.deepEqual(layer.receiveRequest(ackFor(inv, response(inv, 487, 'tt')), peer()), { ack: 'absorbed' });
  clock.advance(40_000);
  assert.equal(layer.findForCancel(cancel), undefined, 'nothing to cancel after the INVITE ended');
  assert.equal(clock.pending(), 0);
  assert.deepEqual(layer.stats(), { client: 0, server: 0 });
});

test('RFC 2543 peers (no magic cookie): retransmission, ACK by To tag, CANCEL lookup', () => {
  const { clock, sent, layer } = setup();
  const old = { branch: '1a2b3c' };
  const inv = request('INVITE', old);
  const tx = newTx(layer, inv);
  const r = layer.receiveRequest(request('INVITE', old), peer());
  assert.ok('tx' in r && r.tx === tx && !r.isNew);
  // Another top Via or CSeq is another transaction.
  const other = layer.receiveRequest(request('INVITE', { branch: '1a2b3c', sentBy: '127.0.0.1:5099' }), peer());
  assert.ok('tx' in other && other.isNew);
  const next = layer.receiveRequest(request('INVITE', { ...old, seq: 2 }), peer());
  assert.ok('tx' in next && next.isNew);

  const cancel = request('CANCEL', old);
  assert.equal(layer.findForCancel(cancel), tx);
  const cancelTx = newTx(layer, cancel);
  assert.notEqual(cancelTx, tx);

  const busy = response(inv, 486, 'uas1');
  tx.respond(busy);
  const wrongTag = request('ACK', { ...old, toTag: 'someone-else' });
  assert.deepEqual(layer.receiveRequest(wrongTag, peer()), { ack: 'no-transaction' });
  assert.equal(tx.state, 'completed');
  assert.deepEqual(layer.receiveRequest(ackFor(inv, busy, old), peer()), { ack: 'absorbed' });
  assert.equal(tx.state, 'confirmed');
  clock.advance(5_000);
  assert.equal(tx.state, 'terminated');
  assert.equal(sent.filter((x) => x.msg.toBuffer().equals(busy.toBuffer())).length, 1, 'no retransmission of the 486 after the ACK');

  // Without any branch at all the same rules apply; a re-INVITE carries the To tag already.
  const reinv = request('INVITE', { branch: null, toTag: 'uas1', seq: 5 });
  const reTx = newTx(layer, reinv);
  assert.ok('tx' in layer.receiveRequest(request('INVITE', { branch: null, toTag: 'uas1', seq: 5 }), peer()));
  const rej = response(reinv, 491);
  reTx.respond(rej);
  assert.deepEqual(layer.receiveRequest(ackFor(reinv, rej, { branch: null, seq: 5 }), peer()), { ack: 'absorbed' });
  assert.equal(reTx.state, 'confirmed');

  layer.terminateAll();
  assert.equal(clock.pending(), 0);
  assert.deepEqual(layer.stats(), { client: 0, server: 0 });
});

test('ACK that matches nothing is left to the caller', () => {
  const { layer } = setup();
  assert.deepEqual(layer.receiveRequest(request('ACK', { branch: 'z9hG4bKfresh' }), peer()), { ack: 'no-transaction' });
  assert.deepEqual(layer.receiveRequest(request('ACK', { branch: 'legacy' }), peer()), { ack: 'no-transaction' });
  assert.deepEqual(layer.stats(), { client: 0, server: 0 });
});

test('a send that throws ends the server transaction with a transport error to the owner', () => {
  let fail = false;
  const { clock, layer } = setup({ failSend: () => fail });
  const inv = request('INVITE');
  const tx = newTx(layer, inv);
  fail = true;
  assert.equal(tx.respond(response(inv, 500, 'tt')), false);
  assert.deepEqual(events(tx), ['transport-error', 'terminated']);
  assert.equal(clock.pending(), 0);
  assert.equal(layer.stats().server, 0);
});

test('memory stays bounded: 1,000 calls over UDP all end and leave nothing behind', () => {
  const { clock, layer } = setup();
  for (let i = 0; i < 1_000; i++) {
    const inv = request('INVITE', { branch: `z9hG4bKbulk${i}` });
    const tx = newTx(layer, inv);
    if (i % 2) tx.respond(response(inv, 200, 'tt'));
    else {
      const res = response(inv, 486, 'tt');
      tx.respond(res);
      layer.receiveRequest(ackFor(inv, res, { branch: `z9hG4bKbulk${i}` }), peer());
    }
  }
  assert.equal(layer.stats().server, 1_000);
  clock.advance(32_000);
  assert.equal(layer.stats().server, 0);
  assert.equal(clock.pending(), 0);
});

test('drain() waits for the ACK of a failure response, and gives up at its timeout', async () => {
  const { clock, sent, layer } = setup();
  let drained = false;
  await layer.drain(4000); // nothing waits: resolves at once
  const inv = request('INVITE');
  const tx = newTx(layer, inv);
  tx.respond(response(inv, 486, 'tt'));
  const waiting = layer.drain(4000).then(() => { drained = true; });
  clock.advance(1000);
  await Promise.resolve();
  assert.equal(drained, false, 'the 486 is still unacknowledged');
  layer.receiveRequest(ackFor(inv, sent[0].msg), peer());
  await waiting;
  assert.equal(drained, true);

  const inv2 = request('INVITE', { branch: 'z9hG4bKsrv9' });
  const tx2 = newTx(layer, inv2);
  tx2.respond(response(inv2, 603, 'tt'));
  let gaveUp = false;
  const bounded = layer.drain(4000).then(() => { gaveUp = true; });
  clock.advance(3999);
  await Promise.resolve();
  assert.equal(gaveUp, false);
  clock.advance(1);
  await bounded;
  assert.equal(gaveUp, true);
  assert.equal(tx2.state, 'completed', 'the transaction itself still runs to Timer H');
});
