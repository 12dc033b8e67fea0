/** Reliable provisional responses (RFC 3262) both ways, early media by 183, and 420 for extensions we lack; virtual time. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createOffer, formatSdp } from '../../src/sdp/index.js';
import { SipMessage } from '../../src/sip/message.js';
import { VirtualClock } from '../../src/util/clock.js';
import { RawSipClient, type Received } from '../helpers/raw-sip.js';
import { count, next, startUa, until, within } from '../helpers/ua.js';

const OFFER = formatSdp(createOffer({ address: '127.0.0.1', port: 40000, codecs: [{ name: 'PCMU', clockRate: 8000 }], sessionId: '1', sessionVersion: '1' }));
const isReq = (method: string) => (r: Received): boolean => r.msg.isRequest && r.msg.method === method;

function replyTo(req: SipMessage, status: number, reason: string, tag: string, extra: [string, string][] = [], body = ''): SipMessage {
  return SipMessage.response(status, reason, [
    ...req.getAll('via').map((v) => ['Via', v] as [string, string]),
    ['From', req.get('from') ?? ''], ['To', /;tag=/.test(req.get('to') ?? '') ? (req.get('to') ?? '') : `${req.get('to')};tag=${tag}`],
    ['Call-ID', req.callId], ['CSeq', req.get('cseq') ?? ''], ...extra,
  ], body);
}

test('as UAC: a reliable 183 with SDP is PRACKed once (not its retransmission), its answer starts early media', { timeout: 10_000 }, async () => {
  const clock = new VirtualClock();
  const a = await startUa(clock, 'alice');
  const raw = await RawSipClient.open();
  const to = `127.0.0.1:${a.ua.local.port}`;
  try {
    const call = a.ua.call(`sip:raw@${raw.hostPort}`);
    const inv = (await raw.waitFor(isReq('INVITE'))).msg;
    assert.match(inv.get('supported') ?? '', /\b100rel\b/);
    assert.match(inv.getAll('allow').join(','), /PRACK/);
    const contact: [string, string] = ['Contact', `<sip:raw@${raw.hostPort}>`];
    const p183 = replyTo(inv, 183, 'Session Progress', 'rel', [contact, ['Require', '100rel'], ['RSeq', '7'], ['Content-Type', 'application/sdp']], OFFER);
    const early = next(call, 'earlyMedia');
    raw.send(p183, to);
    await early;
    const prack = (await raw.waitFor(isReq('PRACK'))).msg;
    assert.equal(prack.get('rack'), `7 ${inv.cseq.seq} INVITE`);
    assert.equal(prack.toTag, 'rel');
    assert.equal(prack.uri, `sip:raw@${raw.hostPort}`);
    raw.send(replyTo(prack, 200, 'OK', 'rel'), to);
    // The same 183 again (as if our PRACK were late): no second PRACK, no second progress.
    let progress = 0;
    call.on('progress', () => progress++);
    raw.send(p183, to);
    // Then the next one in order: PRACKed.
    raw.send(replyTo(inv, 180, 'Ringing', 'rel', [contact, ['Require', '100rel'], ['RSeq', '8']]), to);
    const prack2 = (await raw.waitFor(isReq('PRACK'))).msg;
    assert.equal(prack2.get('rack'), `8 ${inv.cseq.seq} INVITE`);
    assert.ok(prack2.cseq.seq > prack.cseq.seq);
    assert.equal(progress, 1, 'the retransmitted 183 was not processed again');
    assert.equal(count(a.trace, 'out PRACK'), 2);
    raw.send(replyTo(prack2, 200, 'OK', 'rel'), to);
    const answered = next(call, 'answered');
    raw.send(replyTo(inv, 200, 'OK', 'rel', [contact, ['Content-Type', 'application/sdp']], OFFER), to);
    await answered;
    assert.equal(a.medias[0].received.length, 1, 'the 200 repeating the early answer is not applied twice');
  } finally {
    raw.close();
    await a.ua.close();
  }
});

test('as UAS: with Require: 100rel our 180 goes reliably, resent at T1 doubling until the PRACK', { timeout: 10_000 }, async () => {
  const clock = new VirtualClock();
  const b = await startUa(clock, 'bob');
  const raw = await RawSipClient.open();
  const to = `127.0.0.1:${b.ua.local.port}`;
  try {
    const incoming = next(b.ua, 'incoming');
    const inv = raw.request('INVITE', b.uri, { headers: [['Require', '100rel'], ['Supported', '100rel'], ['Content-Type', 'application/sdp']], body: OFFER });
    raw.send(inv, to);
    const [call] = await incoming;
    call.ringing();
    const ringing = (await raw.waitFor((r) => r.msg.status === 180)).msg;
    assert.equal(ringing.get('require'), '100rel');
    const rseq = Number(ringing.get('rseq'));
    assert.ok(rseq >= 1 && rseq < 2 ** 31);
    const rings = (): number => raw.received.filter((r) => r.msg.status === 180).length;
    clock.advance(499);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(rings(), 0);
    clock.advance(1);
    await until(() => rings() === 1, 3000, 'first resend at T1');
    clock.advance(1000);
    await until(() => rings() === 2, 3000, 'second resend at 2*T1');
    const prack = raw.request('PRACK', b.uri, {
      callId: inv.callId, from: inv.get('from'), to: ringing.get('to'), cseq: inv.cseq.seq + 1, headers: [['RAck', `${rseq} ${inv.cseq.seq} INVITE`]],
    });
    raw.send(prack, to);
    assert.equal((await raw.finalFor(prack)).msg.status, 200);
    clock.advance(10_000);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(rings(), 2, 'no resend after the PRACK');
    // A PRACK naming nothing we sent.
    const stray = raw.request('PRACK', b.uri, {
      callId: inv.callId, from: inv.get('from'), to: ringing.get('to'), cseq: inv.cseq.seq + 2, headers: [['RAck', `${rseq + 5} ${inv.cseq.seq} INVITE`]],
    });
    raw.send(stray, to);
    assert.equal((await raw.finalFor(stray)).msg.status, 481);
    const accepted = call.accept();
    const ok = (await raw.waitFor((r) => r.msg.status === 200 && r.msg.cseq.method === 'INVITE')).msg;
    const ack = SipMessage.request('ACK', b.uri, [
      ['Via', `SIP/2.0/UDP ${raw.hostPort};branch=z9hG4bKack1`], ['Max-Forwards', '70'], ['From', inv.get('from') ?? ''], ['To', ok.get('to') ?? ''],
      ['Call-ID', inv.callId], ['CSeq', `${inv.cseq.seq} ACK`],
    ]);
    raw.send(ack, to);
    await within(accepted);
    assert.equal(call.state, 'answered');
  } finally {
    raw.close();
    await b.ua.close();
  }
});

test('as UAS: no PRACK within 64*T1 gives the INVITE up with 504', { timeout: 10_000 }, async () => {
  const clock = new VirtualClock();
  const b = await startUa(clock, 'bob');
  const raw = await RawSipClient.open();
  try {
    const incoming = next(b.ua, 'incoming');
    const inv = raw.request('INVITE', b.uri, { headers: [['Require', '100rel'], ['Content-Type', 'application/sdp']], body: OFFER });
    raw.send(inv, `127.0.0.1:${b.ua.local.port}`);
    const [call] = await incoming;
    call.ringing();
    await raw.waitFor((r) => r.msg.status === 180);
    const ended = next(call, 'ended');
    clock.advance(32_000);
    const [info] = await ended;
    assert.equal(info.status, 504);
    assert.equal(info.by, 'error');
    assert.equal((await raw.finalFor(inv)).msg.status, 504);
  } finally {
    raw.close();
    await b.ua.close();
  }
});

test('two agents: a caller requiring 100rel gets a reliable 183 with early media, PRACKs it, then the 200 repeats the answer', { timeout: 10_000 }, async () => {
  const clock = new VirtualClock();
  const a = await startUa(clock, 'alice');
  const b = await startUa(clock, 'bob');
  try {
    const incoming = next(b.ua, 'incoming');
    const call = a.ua.call(b.uri, { headers: [['Require', '100rel']] });
    const [inc] = await incoming;
    const early = next(call, 'earlyMedia');
    await within(inc.progress());
    await early;
    assert.equal(count(a.trace, 'out PRACK'), 1);
    assert.equal(count(b.trace, 'out SIP/2.0 200 OK'), 1, 'the PRACK was answered');
    const answered = next(call, 'answered');
    await within(inc.accept());
    await answered;
    // One media each, one offer/answer: the 200 carried the same answer as the 183.
    assert.equal(b.medias.length, 1);
    assert.equal(b.medias[0].sent.length, 1);
    assert.equal(a.medias[0].received.length, 1);
    await call.hangup();
  } finally {
    await Promise.all([a.ua.close(), b.ua.close()]);
  }
});

test('an INVITE requiring an extension we lack gets 420 naming it', { timeout: 10_000 }, async () => {
  const clock = new VirtualClock();
  const b = await startUa(clock, 'bob');
  const raw = await RawSipClient.open();
  try {
    b.ua.on('incoming', () => assert.fail('no call may be offered'));
    const inv = raw.request('INVITE', b.uri, { headers: [['Require', '100rel, precondition'], ['Content-Type', 'application/sdp']], body: OFFER });
    raw.send(inv, `127.0.0.1:${b.ua.local.port}`);
    const res = (await raw.finalFor(inv)).msg;
    assert.equal(res.status, 420);
    assert.equal(res.get('unsupported'), 'precondition');
  } finally {
    raw.close();
    await b.ua.close();
  }
});
