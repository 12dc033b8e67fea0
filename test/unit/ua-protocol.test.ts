/** The user agent against a bare SIP socket: exact messages in, exact behaviour out (RFC 3261 timers in virtual time). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createOffer, formatSdp } from '../../src/sdp/index.js';
import { SipMessage } from '../../src/sip/message.js';
import { VirtualClock } from '../../src/util/clock.js';
import { RawSipClient } from '../helpers/raw-sip.js';
import { next, startUa, until, within, type TestUa } from '../helpers/ua.js';

const OFFER = formatSdp(createOffer({ address: '127.0.0.1', port: 40000, codecs: [{ name: 'PCMU', clockRate: 8000 }], sessionId: '1', sessionVersion: '1' }));

function ackFor(raw: RawSipClient, invite: SipMessage, ok: SipMessage, body = ''): SipMessage {
  const contact = /<([^>]+)>/.exec(ok.get('contact') ?? '')?.[1] ?? invite.uri;
  return SipMessage.request('ACK', contact, [
    ['Via', `SIP/2.0/UDP ${raw.hostPort};branch=z9hG4bKack${Math.random().toString(36).slice(2)}`],
    ['Max-Forwards', '70'], ['From', invite.get('from') ?? ''], ['To', ok.get('to') ?? ''], ['Call-ID', invite.callId], ['CSeq', `${invite.cseq.seq} ACK`],
    ...(body ? ([['Content-Type', 'application/sdp']] as [string, string][]) : []),
  ], body);
}

/** A response to `req` from the raw peer, its To carrying `tag`. */
function replyTo(req: SipMessage, status: number, reason: string, tag: string, extra: [string, string][] = [], body = ''): SipMessage {
  return SipMessage.response(status, reason, [
    ...req.getAll('via').map((v) => ['Via', v] as [string, string]),
    ['From', req.get('from') ?? ''], ['To', `${req.get('to')};tag=${tag}`], ['Call-ID', req.callId], ['CSeq', req.get('cseq') ?? ''],
    ...extra,
  ], body);
}

/** 200 OK to `req` from the raw peer, with a To tag and our offer/answer. */
function okFor(raw: RawSipClient, req: SipMessage, tag: string, body = OFFER): SipMessage {
  return replyTo(req, 200, 'OK', tag, [['Contact', `<sip:raw@${raw.hostPort}>`], ['Content-Type', 'application/sdp']], body);
}

/** A user agent on a virtual clock facing a raw SIP socket; `to` is the agent's address; both are closed afterwards. */
async function withRawPeer(
  name: string,
  body: (t: { u: TestUa; raw: RawSipClient; clock: VirtualClock; to: string }) => Promise<void>,
): Promise<void> {
  const clock = new VirtualClock();
  const u = await startUa(clock, name);
  const raw = await RawSipClient.open();
  try {
    await body({ u, raw, clock, to: `127.0.0.1:${u.ua.local.port}` });
  } finally {
    raw.close();
    await u.ua.close();
  }
}

test('OPTIONS outside a call gets 200 with Allow and Accept', { timeout: 10_000 }, () => withRawPeer('bob', async ({ u: b, raw, to }) => {
  const req = raw.request('OPTIONS', b.uri);
  raw.send(req, to);
  const res = (await raw.finalFor(req)).msg;
  assert.equal(res.status, 200);
  assert.ok(res.getAll('allow').includes('REFER'));
  assert.equal(res.get('accept'), 'application/sdp');
  const bye = raw.request('BYE', b.uri, { to: `<${b.uri}>;tag=gone` });
  raw.send(bye, to);
  assert.equal((await raw.finalFor(bye)).msg.status, 481);
}));

test('a 200 OK without ACK is resent with backoff and the call is ended with BYE after 64*T1', { timeout: 10_000 }, () => withRawPeer('bob', async ({ u: b, raw, clock, to }) => {
  b.ua.on('incoming', (c) => void c.accept().catch(() => undefined));
  const inv = raw.request('INVITE', b.uri, { headers: [['Content-Type', 'application/sdp']], body: OFFER });
  const ended = new Promise<number | undefined>((resolve) => b.ua.on('incoming', (c) => c.on('ended', (i) => resolve(i.status))));
  raw.send(inv, to);
  await raw.finalFor(inv);
  const oks = (): number => raw.received.filter((r) => r.msg.status === 200).length;
  // Resends at 0.5, 1.5, 3.5, 7.5, 11.5 ... s (T1 doubling up to T2 = 4 s).
  clock.advance(500);
  await until(() => oks() >= 1, 3000, 'first resend');
  clock.advance(3000);
  await until(() => oks() >= 3, 3000, 'doubling resends');
  clock.advance(28_500);
  const bye = await raw.waitFor((r) => r.msg.method === 'BYE');
  assert.equal(bye.msg.callId, inv.callId);
  assert.equal(await within(ended), 408);
}));

test('a retransmitted 2xx gets our ACK again', { timeout: 10_000 }, () => withRawPeer('alice', async ({ u: a, raw, to }) => {
  const call = a.ua.call(`sip:raw@${raw.hostPort}`);
  const inv = (await raw.waitFor((r) => r.msg.method === 'INVITE')).msg;
  const ok = okFor(raw, inv, 'rawtag');
  raw.send(ok, to);
  await next(call, 'answered');
  await raw.waitFor((r) => r.msg.method === 'ACK');
  raw.send(ok, to);
  const again = await raw.waitFor((r) => r.msg.method === 'ACK');
  assert.equal(again.msg.cseq.seq, inv.cseq.seq);
  assert.equal(call.state, 'answered');
}));

test('an INVITE without SDP gets our offer in the 200; the answer in the ACK starts media', { timeout: 10_000 }, () => withRawPeer('bob', async ({ u: b, raw, to }) => {
  const incoming = next(b.ua, 'incoming');
  const inv = raw.request('INVITE', b.uri);
  raw.send(inv, to);
  const [call] = await incoming;
  const accepted = call.accept();
  const ok = (await raw.finalFor(inv)).msg;
  assert.equal(ok.status, 200);
  assert.match(ok.body.toString(), /^v=0/);
  const answer = formatSdp(createOffer({ address: '127.0.0.1', port: 40002, codecs: [{ name: 'PCMU', clockRate: 8000 }], sessionId: '2', sessionVersion: '1' }));
  raw.send(ackFor(raw, inv, ok, answer), to);
  await within(accepted);
  assert.equal(call.state, 'answered');
  assert.equal(b.medias[0].received[0], answer);
}));

test('no answer at all: Timer B ends the call with 408', { timeout: 10_000 }, () => withRawPeer('alice', async ({ u: a, raw, clock }) => {
  const call = a.ua.call(`sip:raw@${raw.hostPort}`);
  await raw.waitFor((r) => r.msg.method === 'INVITE');
  const ended = next(call, 'ended');
  clock.advance(32_000);
  const [info] = await ended;
  assert.equal(info.status, 408);
  // Timer A resent the INVITE while nobody answered.
  await until(() => raw.received.filter((r) => r.msg.method === 'INVITE').length >= 5, 3000, 'INVITE resends');
}));

test('a late 2xx after CANCEL is acknowledged and ended with BYE', { timeout: 10_000 }, () => withRawPeer('alice', async ({ u: a, raw, to }) => {
  const call = a.ua.call(`sip:raw@${raw.hostPort}`);
  const inv = (await raw.waitFor((r) => r.msg.method === 'INVITE')).msg;
  raw.send(replyTo(inv, 180, 'Ringing', 'late'), to);
  await next(call, 'ringing');
  call.cancel();
  await raw.waitFor((r) => r.msg.method === 'CANCEL');
  raw.send(okFor(raw, inv, 'late'), to);
  await raw.waitFor((r) => r.msg.method === 'ACK');
  await raw.waitFor((r) => r.msg.method === 'BYE');
  assert.equal(call.endInfo?.status, 487);
}));
