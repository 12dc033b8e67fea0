import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../../src/util/clock.js';
import { SipMessage } from '../../src/sip/message.js';
import type { Peer, Proto } from '../../src/sip/transport/types.js';
import { TransactionLayer, type ClientHandlers } from '../../src/sip/transaction/index.js';

interface Sent { msg: SipMessage; dest: Peer; at: number }

function setup(opts: { T1?: number; failSend?: () => boolean } = {}) {
  const clock = new VirtualClock();
  const sent: Sent[] = [];
  const layer = new TransactionLayer({
    clock,
    timers: opts.T1 ? { T1: opts.T1 } : undefined,
    send: (msg, dest) => {
      if (opts.failSend?.()) throw new Error('ECONNREFUSED');
      sent.push({ msg, dest, at: clock.now() });
    },
  });
  return { clock, sent, layer };
}

function peer(proto: Proto = 'udp'): Peer {
  return { proto, address: '127.0.0.1', port: 5070 };
}

function request(method: string, branch = 'z9hG4bKabc1', proto: Proto = 'udp'): SipMessage {
  return SipMessage.request(method, 'sip:bob@127.0.0.1:5070', [
    ['Via', `SIP/2.0/${proto.toUpperCase()} 127.0.0.1:5060;branch=${branch}`],
    ['Via', 'SIP/2.0/UDP 10.0.0.9:5062;branch=z9hG4bKupstream'],
    ['Max-Forwards', '69'],
    ['Route', '<sip:p1.example;lr>'],
    ['Route', '<sip:p2.example;lr>'],
    ['From', '<sip:alice@example.com>;tag=fa'],
    ['To', '<sip:bob@example.com>'],
    ['Call-ID', 'call-1@example.com'],
    ['CSeq', `7 ${method}`],
    ['Contact', '<sip:alice@127.0.0.1:5060>'],
  ]);
}

function response(req: SipMessage, status: number, toTag?: string): SipMessage {
  const headers: [string, string][] = req.getAll('via').map((v) => ['Via', v]);
  headers.push(['From', req.get('from') ?? ''], ['To', (req.get('to') ?? '') + (toTag ? `;tag=${toTag}` : '')]);
  headers.push(['Call-ID', req.callId], ['CSeq', req.get('cseq') ?? '']);
  return SipMessage.response(status, 'Reason', headers);
}

function recorder() {
  const log: string[] = [];
  const handlers: ClientHandlers = {
    onResponse: (res) => log.push(`response ${res.status}`),
    onTimeout: () => log.push('timeout'),
    onTransportError: () => log.push('transport-error'),
    onTerminated: () => log.push('terminated'),
  };
  return { log, handlers };
}

test('INVITE over UDP: Timer A doubles from T1 and Timer B times out at 64*T1', () => {
  const { clock, sent, layer } = setup();
  const { log, handlers } = recorder();
  const tx = layer.createClient(request('INVITE'), peer(), handlers);
  assert.equal(tx.state, 'calling');
  assert.equal(tx.id, 'z9hG4bKabc1');
  clock.advance(31_999);
  // §17.1.1.2: intervals 0.5, 1, 2, 4, 8, 16 s -> sends at 0 and 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s.
  assert.deepEqual(sent.map((s) => s.at), [0, 500, 1500, 3500, 7500, 15500, 31500]);
  assert.ok(sent.every((s) => s.msg.method === 'INVITE' && s.dest.port === 5070));
  assert.deepEqual(log, []);
  clock.advance(1);
  assert.deepEqual(log, ['timeout', 'terminated']);
  assert.equal(tx.state, 'terminated');
  assert.deepEqual(layer.stats(), { client: 0, server: 0 });
  assert.equal(clock.pending(), 0);
});

test('INVITE over TCP: no retransmission, Timer B still fires', () => {
  const { clock, sent, layer } = setup();
  const { log, handlers } = recorder();
  layer.createClient(request('INVITE', 'z9hG4bKtcp', 'tcp'), peer('tcp'), handlers);
  clock.advance(31_999);
  assert.equal(sent.length, 1);
  clock.advance(1);
  assert.deepEqual(log, ['timeout', 'terminated']);
  assert.equal(clock.pending(), 0);
});

test('INVITE: a provisional stops A and B; a 486 is ACKed, retransmissions re-ACKed, Timer D ends it after 32 s', () => {
  const { clock, sent, layer } = setup();
  const { log, handlers } = recorder();
  const inv = request('INVITE');
  const tx = layer.createClient(inv, peer(), handlers);
  clock.advance(600); // one retransmission at 500
  assert.equal(layer.receiveResponse(response(inv, 180, 'tb')), true);
  assert.equal(tx.state, 'proceeding');
  clock.advance(120_000);
  assert.equal(sent.length, 2, 'no retransmission in Proceeding');
  assert.deepEqual(log, ['response 180'], 'no Timer B in Proceeding');

  const busy = response(inv, 486, 'tb');
  assert.equal(layer.receiveResponse(busy), true);
  assert.equal(tx.state, 'completed');
  assert.deepEqual(log, ['response 180', 'response 486']);
  const ack = sent[2].msg;
  assert.equal(ack.method, 'ACK');
  assert.equal(ack.uri, inv.uri);
  assert.equal(ack.callId, inv.callId);
  assert.equal(ack.get('from'), inv.get('from'));
  assert.equal(ack.get('to'), '<sip:bob@example.com>;tag=tb');
  assert.deepEqual(ack.getAll('via'), ['SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKabc1']);
  assert.equal(ack.get('cseq'), '7 ACK');
  assert.deepEqual(ack.getAll('route'), ['<sip:p1.example;lr>', '<sip:p2.example;lr>']);
  assert.equal(ack.has('contact'), false);
  assert.equal(sent[2].dest.port, 5070);

  const startD = clock.now();
  layer.receiveResponse(busy);
  layer.receiveResponse(busy);
  assert.equal(sent.length, 5, 'each retransmitted final gets the ACK again');
  assert.ok(sent[4].msg.toBuffer().equals(ack.toBuffer()), 'the same ACK is sent again');
  assert.deepEqual(log, ['response 180', 'response 486'], 'retransmissions are not passed up');

  clock.advance(startD + 31_999 - clock.now());
  assert.equal(tx.state, 'completed');
  clock.advance(1);
  assert.equal(tx.state, 'terminated');
  assert.deepEqual(log, ['response 180', 'response 486', 'terminated']);
  assert.equal(layer.receiveResponse(busy), false);
  assert.equal(clock.pending(), 0);
  assert.deepEqual(layer.stats(), { client: 0, server: 0 });
});

test('INVITE: every 3xx-6xx class is ACKed by the transaction', () => {
  for (const status of [302, 404, 503, 603]) {
    const { clock, sent, layer } = setup();
    const { log, handlers } = recorder();
    const inv = request('INVITE');
    layer.createClient(inv, peer(), handlers);
    layer.receiveResponse(response(inv, status, 'x'));
    assert.equal(sent[1].msg.method, 'ACK', `ACK for ${status}`);
    assert.deepEqual(log, [`response ${status}`]);
    clock.advance(32_000);
    assert.equal(clock.pending(), 0);
  }
});

test('INVITE over TCP: a non-2xx is ACKed and the transaction ends at once (D = 0)', () => {
  const { clock, sent, layer } = setup();
  const { log, handlers } = recorder();
  const inv = request('INVITE', 'z9hG4bKt2', 'tcp');
  const tx = layer.createClient(inv, peer('tcp'), handlers);
  layer.receiveResponse(response(inv, 404, 'x'));
  assert.equal(sent[1].msg.method, 'ACK');
  assert.equal(tx.state, 'terminated');
  assert.deepEqual(log, ['response 404', 'terminated']);
  assert.equal(clock.pending(), 0);
  assert.equal(layer.stats().client, 0);
});

test('INVITE: a 2xx is passed up, not ACKed, and ends the transaction; its retransmission is unmatched', () => {
  const { clock, sent, layer } = setup();
  const { log, handlers } = recorder();
  const inv = request('INVITE');
  const tx = layer.createClient(inv, peer(), handlers);
  const ok = response(inv, 200, 'tb');
  assert.equal(layer.receiveResponse(ok), true);
  assert.equal(tx.state, 'terminated');
  assert.deepEqual(log, ['response 200', 'terminated']);
  assert.equal(sent.length, 1, 'the ACK for a 2xx belongs to the TU');
  assert.equal(layer.receiveResponse(ok), false, 'stray 2xx is left to the caller');
  assert.equal(clock.pending(), 0);
});

test('non-INVITE over UDP: Timer E doubles up to T2, Timer F times out at 64*T1', () => {
  const { clock, sent, layer } = setup();
  const { log, handlers } = recorder();
  layer.createClient(request('OPTIONS'), peer(), handlers);
  clock.advance(31_999);
  assert.deepEqual(sent.map((s) => s.at), [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
  clock.advance(1);
  assert.deepEqual(log, ['timeout', 'terminated']);
  assert.equal(clock.pending(), 0);
  assert.equal(layer.stats().client, 0);
});

test('non-INVITE: in Proceeding Timer E fires every T2', () => {
  const { clock, sent, layer } = setup();
  const { log, handlers } = recorder();
  const reg = request('REGISTER');
  const tx = layer.createClient(reg, peer(), handlers);
  clock.advance(100);
  layer.receiveResponse(response(reg, 100));
  assert.equal(tx.state, 'proceeding');
  clock.advance(12_000 - 100);
  assert.deepEqual(sent.map((s) => s.at), [0, 500, 4500, 8500]);
  clock.advance(20_000);
  assert.deepEqual(log, ['response 100', 'timeout', 'terminated'], 'Timer F still runs in Proceeding');
  assert.equal(clock.pending(), 0);
});

test('non-INVITE over UDP: a final goes up once, retransmissions are absorbed, Timer K = T4', () => {
  const { clock, sent, layer } = setup();
  const { log, handlers } = recorder();
  const bye = request('BYE');
  const tx = layer.createClient(bye, peer(), handlers);
  const ok = response(bye, 200, 'tb');
  layer.receiveResponse(ok);
  assert.equal(tx.state, 'completed');
  assert.equal(layer.receiveResponse(ok), true);
  assert.deepEqual(log, ['response 200']);
  clock.advance(4_999);
  assert.equal(sent.length, 1, 'no retransmission after the final');
  assert.equal(tx.state, 'completed');
  clock.advance(1);
  assert.equal(tx.state, 'terminated');
  assert.equal(clock.pending(), 0);
  assert.equal(layer.stats().client, 0);
});

test('non-INVITE over TCP: no Timer E, F at 64*T1, K = 0', () => {
  const { clock, sent, layer } = setup();
  const a = recorder();
  layer.createClient(request('OPTIONS', 'z9hG4bKo1', 'tcp'), peer('tcp'), a.handlers);
  clock.advance(32_000);
  assert.equal(sent.length, 1);
  assert.deepEqual(a.log, ['timeout', 'terminated']);

  const b = recorder();
  const msg = request('MESSAGE', 'z9hG4bKo2', 'tcp');
  const tx = layer.createClient(msg, peer('tcp'), b.handlers);
  layer.receiveResponse(response(msg, 202));
  assert.equal(tx.state, 'terminated');
  assert.deepEqual(b.log, ['response 202', 'terminated']);
  assert.equal(clock.pending(), 0);
});

test('responses match on branch and CSeq method: INVITE and CANCEL with one branch stay apart', () => {
  const { layer } = setup();
  const inv = recorder();
  const can = recorder();
  const invite = request('INVITE');
  const cancel = request('CANCEL');
  layer.createClient(invite, peer(), inv.handlers);
  layer.createClient(cancel, peer(), can.handlers);
  assert.deepEqual(layer.stats(), { client: 2, server: 0 });
  layer.receiveResponse(response(cancel, 200, 'tb'));
  assert.deepEqual(can.log, ['response 200']);
  assert.deepEqual(inv.log, []);
  layer.receiveResponse(response(invite, 487, 'tb'));
  assert.deepEqual(inv.log, ['response 487']);
  assert.equal(layer.receiveResponse(response(request('INVITE', 'z9hG4bKother'), 200)), false);
  const noBranch = response(invite, 200);
  noBranch.set('via', 'SIP/2.0/UDP 127.0.0.1:5060');
  assert.equal(layer.receiveResponse(noBranch), false);
});

test('custom T1 scales Timers A and B; a custom T2 caps Timer E', () => {
  const { clock, sent, layer } = setup({ T1: 100 });
  const { log, handlers } = recorder();
  layer.createClient(request('INVITE'), peer(), handlers);
  clock.advance(6_399);
  assert.deepEqual(sent.map((s) => s.at), [0, 100, 300, 700, 1500, 3100, 6300]);
  clock.advance(1);
  assert.deepEqual(log, ['timeout', 'terminated']);

  const clock2 = new VirtualClock();
  const at: number[] = [];
  const layer2 = new TransactionLayer({ clock: clock2, timers: { T2: 2000 }, send: () => at.push(clock2.now()) });
  layer2.createClient(request('OPTIONS'), peer(), recorder().handlers);
  clock2.advance(8_000);
  assert.deepEqual(at, [0, 500, 1500, 3500, 5500, 7500]);
});

test('timer values are checked', () => {
  const clock = new VirtualClock();
  assert.throws(() => new TransactionLayer({ clock, send: () => {}, timers: { T1: 0 } }), RangeError);
  assert.throws(() => new TransactionLayer({ clock, send: () => {}, timers: { T1: 5000, T2: 4000 } }), RangeError);
  assert.deepEqual(new TransactionLayer({ clock, send: () => {} }).timers, { T1: 500, T2: 4000, T4: 5000 });
});

test('a send that throws is reported as a transport error, after createClient returned', () => {
  let fail = true;
  const { clock, layer } = setup({ failSend: () => fail });
  const { log, handlers } = recorder();
  const tx = layer.createClient(request('INVITE', 'z9hG4bKe1', 'tcp'), peer('tcp'), handlers);
  assert.deepEqual(log, []);
  clock.advance(0);
  assert.deepEqual(log, ['transport-error', 'terminated']);
  assert.equal(tx.state, 'terminated');
  assert.equal(layer.stats().client, 0);

  // A failure on a retransmission ends the transaction as well.
  fail = false;
  const r2 = recorder();
  layer.createClient(request('OPTIONS', 'z9hG4bKe2'), peer(), r2.handlers);
  fail = true;
  clock.advance(500);
  assert.deepEqual(r2.log, ['transport-error', 'terminated']);
  assert.equal(clock.pending(), 0);
});

test('without onTransportError the TU hears onTimeout', () => {
  const { clock, layer } = setup({ failSend: () => true });
  const log: string[] = [];
  layer.createClient(request('OPTIONS'), peer(), { onResponse: () => log.push('r'), onTimeout: () => log.push('timeout') });
  clock.advance(0);
  assert.deepEqual(log, ['timeout']);
});

test('terminate() stops timers and frees the slot; ACK and branchless requests are refused', () => {
  const { clock, sent, layer } = setup();
  const { log, handlers } = recorder();
  const tx = layer.createClient(request('INVITE'), peer(), handlers);
  assert.throws(() => layer.createClient(request('INVITE'), peer(), handlers), /exists/);
  tx.terminate();
  assert.deepEqual(log, ['terminated']);
  clock.advance(60_000);
  assert.equal(sent.length, 1);
  assert.equal(clock.pending(), 0);
  assert.throws(() => layer.createClient(request('ACK'), peer(), handlers), /ACK/);
  assert.throws(() => layer.createClient(request('INVITE', 'old-style'), peer(), handlers), /z9hG4bK/);
  assert.deepEqual(layer.stats(), { client: 0, server: 0 });
});

test('a peer the transport cannot reach fails its waiting client transactions at once; answered ones go on', () => {
  const { clock, layer } = setup();
  const events: string[] = [];
  const handlers = (name: string): ClientHandlers => ({
    onResponse: (r) => events.push(`${name} ${r.status}`),
    onTimeout: () => events.push(`${name} timeout`),
    onTransportError: (cause) => events.push(`${name} transport error${cause ? `: ${cause.message}` : ''}`),
  });
  const tcp = peer('tcp');
  layer.createClient(request('INVITE', 'z9hG4bKt1', 'tcp'), tcp, handlers('invite'));
  layer.createClient(request('OPTIONS', 'z9hG4bKt2', 'tcp'), tcp, handlers('options'));
  const ringing = layer.createClient(request('INVITE', 'z9hG4bKt3', 'tcp'), tcp, handlers('ringing'));
  layer.receiveResponse(response(ringing.request, 180));
  layer.createClient(request('INVITE', 'z9hG4bKt4', 'tcp'), { ...tcp, port: 5071 }, handlers('elsewhere'));

  // What the transport said (a refused certificate, a refused connection) reaches each transaction's owner.
  assert.equal(layer.transportFailed(tcp, new Error('connect ECONNREFUSED')), 2);
  assert.deepEqual(events, ['ringing 180', 'invite transport error: connect ECONNREFUSED', 'options transport error: connect ECONNREFUSED']);
  assert.equal(layer.stats().client, 2, 'the ringing one and the one to another port remain');
  clock.advance(1);
});
