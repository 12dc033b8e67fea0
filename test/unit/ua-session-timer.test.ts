/** Session timers (RFC 4028) and UPDATE (RFC 3311) between agents and against a raw SIP socket, in virtual time. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createOffer, formatSdp } from '../../src/sdp/index.js';
import { SipMessage } from '../../src/sip/message.js';
import { VirtualClock } from '../../src/util/clock.js';
import { RawSipClient, type Received } from '../helpers/raw-sip.js';
import { count, next, startUa, until, within, type TestUa } from '../helpers/ua.js';

const sdp = (port: number, version = '1') =>
  formatSdp(createOffer({ address: '127.0.0.1', port, codecs: [{ name: 'PCMU', clockRate: 8000 }], sessionId: '1', sessionVersion: version }));
const OFFER = sdp(40000);
const isReq = (method: string) => (r: Received): boolean => r.msg.isRequest && r.msg.method === method;
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

function replyTo(req: SipMessage, status: number, reason: string, tag: string, extra: [string, string][] = [], body = ''): SipMessage {
  return SipMessage.response(status, reason, [
    ...req.getAll('via').map((v) => ['Via', v] as [string, string]),
    ['From', req.get('from') ?? ''], ['To', /;tag=/.test(req.get('to') ?? '') ? (req.get('to') ?? '') : `${req.get('to')};tag=${tag}`],
    ['Call-ID', req.callId], ['CSeq', req.get('cseq') ?? ''], ...extra,
  ], body);
}

function ackFor(raw: RawSipClient, invite: SipMessage, ok: SipMessage): SipMessage {
  const contact = /<([^>]+)>/.exec(ok.get('contact') ?? '')?.[1] ?? invite.uri;
  return SipMessage.request('ACK', contact, [
    ['Via', `SIP/2.0/UDP ${raw.hostPort};branch=z9hG4bKack${Math.random().toString(36).slice(2)}`],
    ['Max-Forwards', '70'], ['From', invite.get('from') ?? ''], ['To', ok.get('to') ?? ''], ['Call-ID', invite.callId], ['CSeq', `${invite.cseq.seq} ACK`],
  ]);
}

async function connect(a: TestUa, b: TestUa) {
  const incoming = next(b.ua, 'incoming');
  const call = a.ua.call(b.uri);
  const [inc] = await incoming;
  const answered = next(call, 'answered');
  await within(inc.accept());
  await answered;
  return { call, inc };
}

test('two agents: the caller asks 1800 s, the callee makes it the refresher; UPDATEs at half the interval keep the call', { timeout: 10_000 }, async () => {
  const clock = new VirtualClock();
  const a = await startUa(clock, 'alice');
  const b = await startUa(clock, 'bob');
  try {
    const { call, inc } = await connect(a, b);
    const invite = a.trace.find((t) => t.startsWith('out INVITE')) ?? '';
    assert.match(invite, /\r\nSession-Expires: 1800\r\n/);
    assert.match(invite, /\r\nMin-SE: 90\r\n/);
    assert.match(invite, /\r\nSupported: 100rel, replaces, timer\r\n/);
    const ok = b.trace.find((t) => t.startsWith('out SIP/2.0 200') && /CSeq: \d+ INVITE/.test(t)) ?? '';
    assert.match(ok, /\r\nSession-Expires: 1800;refresher=uac\r\n/);
    assert.match(ok, /\r\nRequire: timer\r\n/);
    assert.deepEqual(call.sessionExpires, { seconds: 1800, weRefresh: true });
    assert.deepEqual(inc.sessionExpires, { seconds: 1800, weRefresh: false });
    for (let round = 1; round <= 3; round++) {
      clock.advance(899_000);
      await tick();
      assert.equal(count(a.trace, 'out UPDATE'), round - 1);
      clock.advance(1000);
      await until(() => count(a.trace, 'in SIP/2.0 200 OK') >= round + 1 && count(a.trace, 'out UPDATE') === round, 3000, `refresh ${round}`);
      // The callee's own limit (1800 - 32 s) never passes: each refresh restarted it.
    }
    const update = a.trace.filter((t) => t.startsWith('out UPDATE')).at(-1) ?? '';
    assert.match(update, /\r\nSession-Expires: 1800;refresher=uac\r\n/);
    assert.doesNotMatch(update, /\r\nContent-Type:/, 'a refresh UPDATE carries no offer');
    assert.equal(count(b.trace, 'out BYE'), 0);
    assert.equal(call.state, 'answered');
    assert.equal(inc.state, 'answered');
    assert.equal(count(a.trace, 'out INVITE'), 1, 'no re-INVITE was needed');
  } finally {
    await Promise.all([a.ua.close(), b.ua.close()]);
  }
});

test('the side that does not refresh sends BYE at the interval minus min(32 s, a third)', { timeout: 10_000 }, async () => {
  const clock = new VirtualClock();
  const b = await startUa(clock, 'bob');
  const raw = await RawSipClient.open();
  const to = `127.0.0.1:${b.ua.local.port}`;
  try {
    b.ua.on('incoming', (c) => void c.accept().catch(() => undefined));
    const ended = new Promise<string | undefined>((resolve) => b.ua.on('incoming', (c) => c.on('ended', (i) => resolve(i.reason))));
    const inv = raw.request('INVITE', b.uri, { headers: [['Session-Expires', '90;refresher=uac'], ['Supported', 'timer'], ['Content-Type', 'application/sdp']], body: OFFER });
    raw.send(inv, to);
    const ok = (await raw.finalFor(inv)).msg;
    assert.equal(ok.get('session-expires'), '90;refresher=uac');
    assert.equal(ok.get('require'), 'timer');
    raw.send(ackFor(raw, inv, ok), to);
    await until(() => b.ua.activeCalls[0]?.state === 'answered', 3000, 'answered');
    // 90 s - min(32, 30) = 60 s.
    clock.advance(59_900);
    await tick();
    assert.equal(raw.received.filter((r) => r.msg.method === 'BYE').length, 0);
    clock.advance(100);
    const bye = (await raw.waitFor(isReq('BYE'))).msg;
    assert.equal(bye.callId, inv.callId);
    assert.equal(await within(ended), 'Session timer expired');
  } finally {
    raw.close();
    await b.ua.close();
  }
});

test('a refresh from the peer (UPDATE, then re-INVITE) restarts the interval', { timeout: 10_000 }, async () => {
  const clock = new VirtualClock();
  const b = await startUa(clock, 'bob');
  const raw = await RawSipClient.open();
  const to = `127.0.0.1:${b.ua.local.port}`;
  try {
    b.ua.on('incoming', (c) => void c.accept().catch(() => undefined));
    const inv = raw.request('INVITE', b.uri, { headers: [['Session-Expires', '120'], ['Supported', 'timer'], ['Content-Type', 'application/sdp']], body: OFFER });
    raw.send(inv, to);
    const ok = (await raw.finalFor(inv)).msg;
    assert.equal(ok.get('session-expires'), '120;refresher=uac');
    raw.send(ackFor(raw, inv, ok), to);
    await until(() => b.ua.activeCalls[0]?.state === 'answered', 3000, 'answered');
    const inDialog = (method: string, cseq: number, headers: [string, string][], body = ''): SipMessage =>
      raw.request(method, `sip:bob@127.0.0.1:${b.ua.local.port}`, { callId: inv.callId, from: inv.get('from'), to: ok.get('to'), cseq, headers, body });
    clock.advance(60_000);
    const update = inDialog('UPDATE', 2, [['Session-Expires', '120;refresher=uac'], ['Supported', 'timer']]);
    raw.send(update, to);
    const uok = (await raw.finalFor(update)).msg;
    assert.equal(uok.status, 200);
    assert.equal(uok.get('session-expires'), '120;refresher=uac');
    assert.equal(uok.body.length, 0);
    // The limit is 120 - min(32, 40) = 88 s: at 120 s the first one (88) has passed, but the UPDATE restarted it.
    clock.advance(60_000);
    const reinvite = inDialog('INVITE', 3, [['Session-Expires', '120;refresher=uac'], ['Supported', 'timer'], ['Content-Type', 'application/sdp']], sdp(40000, '2'));
    raw.send(reinvite, to);
    const rok = (await raw.finalFor(reinvite)).msg;
    assert.equal(rok.status, 200);
    assert.equal(rok.get('session-expires'), '120;refresher=uac');
    raw.send(ackFor(raw, reinvite, rok), to);
    await until(() => count(b.trace, 'in ACK') === 2, 3000, 'the ACK of the re-INVITE');
    clock.advance(87_000);
    await tick();
    assert.equal(raw.received.filter((r) => r.msg.method === 'BYE').length, 0);
    clock.advance(1000);
    await raw.waitFor(isReq('BYE'));
  } finally {
    raw.close();
    await b.ua.close();
  }
});

test('422: too brief an interval from a caller that knows timers; raised for one that does not', { timeout: 10_000 }, async () => {
  const clock = new VirtualClock();
  const b = await startUa(clock, 'bob');
  const raw = await RawSipClient.open();
  const to = `127.0.0.1:${b.ua.local.port}`;
  try {
    b.ua.on('incoming', (c) => void c.accept().catch(() => undefined));
    const brief = raw.request('INVITE', b.uri, { headers: [['Session-Expires', '30'], ['Supported', 'timer'], ['Content-Type', 'application/sdp']], body: OFFER });
    raw.send(brief, to);
    const r422 = (await raw.finalFor(brief)).msg;
    assert.equal(r422.status, 422);
    assert.equal(r422.get('min-se'), '90');
    // A proxy put Session-Expires in for a caller that knows nothing of timers: we raise it and refresh ourselves.
    const inv = raw.request('INVITE', b.uri, { headers: [['Session-Expires', '30'], ['Content-Type', 'application/sdp']], body: OFFER });
    raw.send(inv, to);
    const ok = (await raw.finalFor(inv)).msg;
    assert.equal(ok.status, 200);
    assert.equal(ok.get('session-expires'), '90;refresher=uas');
    assert.equal(ok.get('require'), undefined);
    raw.send(ackFor(raw, inv, ok), to);
    await until(() => b.ua.activeCalls[0]?.state === 'answered', 3000, 'answered');
    assert.deepEqual(b.ua.activeCalls[0]?.sessionExpires, { seconds: 90, weRefresh: true });
    const bad = raw.request('INVITE', b.uri, { headers: [['Session-Expires', 'soon'], ['Content-Type', 'application/sdp']], body: OFFER });
    raw.send(bad, to);
    assert.equal((await raw.finalFor(bad)).msg.status, 400);
  } finally {
    raw.close();
    await b.ua.close();
  }
});

test('as UAC: a 422 is retried with its Min-SE; a peer without UPDATE is refreshed by re-INVITE', { timeout: 10_000 }, async () => {
  const clock = new VirtualClock();
  const a = await startUa(clock, 'alice');
  const raw = await RawSipClient.open();
  const to = `127.0.0.1:${a.ua.local.port}`;
  try {
    const call = a.ua.call(`sip:raw@${raw.hostPort}`);
    const inv = (await raw.waitFor(isReq('INVITE'))).msg;
    raw.send(replyTo(inv, 422, 'Session Interval Too Small', 'x', [['Min-SE', '2000']]), to);
    const inv2 = (await raw.waitFor((r) => isReq('INVITE')(r) && r.msg.cseq.seq > inv.cseq.seq)).msg;
    assert.equal(inv2.get('session-expires'), '2000');
    assert.equal(inv2.callId, inv.callId);
    assert.equal(inv2.fromTag, inv.fromTag);
    const answered = next(call, 'answered');
    const contact: [string, string] = ['Contact', `<sip:raw@${raw.hostPort}>`];
    raw.send(replyTo(inv2, 200, 'OK', 'st', [contact, ['Allow', 'INVITE, ACK, BYE, CANCEL'], ['Session-Expires', '2000;refresher=uac'], ['Require', 'timer'], ['Content-Type', 'application/sdp']], OFFER), to);
    await answered;
    assert.deepEqual(call.sessionExpires, { seconds: 2000, weRefresh: true });
    clock.advance(1_000_000);
    const re = (await raw.waitFor((r) => isReq('INVITE')(r) && r.msg.toTag === 'st')).msg;
    assert.equal(re.get('session-expires'), '2000;refresher=uac');
    assert.match(re.body.toString(), /^v=0/);
    raw.send(replyTo(re, 200, 'OK', 'st', [contact, ['Session-Expires', '2000;refresher=uac'], ['Content-Type', 'application/sdp']], sdp(40000, '2')), to);
    await raw.waitFor((r) => isReq('ACK')(r) && r.msg.cseq.seq === re.cseq.seq);
    assert.equal(call.state, 'answered');
    assert.equal(count(a.trace, 'out UPDATE'), 0);
  } finally {
    raw.close();
    await a.ua.close();
  }
});

test('a peer that lists UPDATE but refuses it (501) is refreshed by re-INVITE instead', { timeout: 10_000 }, async () => {
  const clock = new VirtualClock();
  const a = await startUa(clock, 'alice');
  const raw = await RawSipClient.open();
  const to = `127.0.0.1:${a.ua.local.port}`;
  try {
    const call = a.ua.call(`sip:raw@${raw.hostPort}`);
    const inv = (await raw.waitFor(isReq('INVITE'))).msg;
    const answered = next(call, 'answered');
    const contact: [string, string] = ['Contact', `<sip:raw@${raw.hostPort}>`];
    raw.send(replyTo(inv, 200, 'OK', 'n', [contact, ['Allow', 'INVITE, ACK, BYE, UPDATE'], ['Session-Expires', '100;refresher=uac'], ['Content-Type', 'application/sdp']], OFFER), to);
    await answered;
    clock.advance(50_000);
    const upd = (await raw.waitFor(isReq('UPDATE'))).msg;
    raw.send(replyTo(upd, 501, 'Not Implemented', 'n'), to);
    const re = (await raw.waitFor((r) => isReq('INVITE')(r) && r.msg.toTag === 'n')).msg;
    assert.equal(re.get('session-expires'), '100;refresher=uac');
    raw.send(replyTo(re, 200, 'OK', 'n', [contact, ['Session-Expires', '100;refresher=uac'], ['Content-Type', 'application/sdp']], sdp(40000, '2')), to);
    await raw.waitFor((r) => isReq('ACK')(r) && r.msg.cseq.seq === re.cseq.seq);
    // The next refresh goes straight to re-INVITE.
    clock.advance(50_000);
    await raw.waitFor((r) => isReq('INVITE')(r) && r.msg.cseq.seq > re.cseq.seq);
    assert.equal(count(a.trace, 'out UPDATE'), 1);
    assert.equal(call.state, 'answered');
  } finally {
    raw.close();
    await a.ua.close();
  }
});

test('our refresh UPDATE answered 481 ends the call', { timeout: 10_000 }, async () => {
  const clock = new VirtualClock();
  const a = await startUa(clock, 'alice');
  const raw = await RawSipClient.open();
  const to = `127.0.0.1:${a.ua.local.port}`;
  try {
    const call = a.ua.call(`sip:raw@${raw.hostPort}`);
    const inv = (await raw.waitFor(isReq('INVITE'))).msg;
    const answered = next(call, 'answered');
    raw.send(replyTo(inv, 200, 'OK', 'u', [['Contact', `<sip:raw@${raw.hostPort}>`], ['Allow', 'INVITE, ACK, BYE, UPDATE'], ['Session-Expires', '100;refresher=uac'], ['Content-Type', 'application/sdp']], OFFER), to);
    await answered;
    const ended = next(call, 'ended');
    clock.advance(50_000);
    const upd = (await raw.waitFor(isReq('UPDATE'))).msg;
    raw.send(replyTo(upd, 481, 'Call/Transaction Does Not Exist', 'u'), to);
    const [info] = await ended;
    assert.equal(info.status, 481);
    assert.equal(count(a.trace, 'out BYE'), 0);
  } finally {
    raw.close();
    await a.ua.close();
  }
});

test('UPDATE with SDP in an answered call is an offer: answered in its 200, hold seen', { timeout: 10_000 }, async () => {
  const clock = new VirtualClock();
  const a = await startUa(clock, 'alice');
  const b = await startUa(clock, 'bob');
  const raw = await RawSipClient.open();
  try {
    // A real exchange first, then the raw socket speaks inside B's dialog as A would.
    const { inc } = await connect(a, b);
    const d = inc.dialog;
    assert.ok(d);
    const held = next(inc, 'held');
    const upd = raw.request('UPDATE', `sip:bob@127.0.0.1:${b.ua.local.port}`, {
      callId: d.id.callId, from: `<${a.ua.aor}>;tag=${d.id.remoteTag}`, to: `<${b.uri}>;tag=${d.id.localTag}`, cseq: 2 ** 30 + 10,
      headers: [['Content-Type', 'application/sdp']],
      body: sdp(40010, '5').replace('a=sendrecv', 'a=sendonly'),
    });
    raw.send(upd, `127.0.0.1:${b.ua.local.port}`);
    const res = (await raw.finalFor(upd)).msg;
    assert.equal(res.status, 200);
    assert.match(res.body.toString(), /a=recvonly/);
    await held;
    assert.equal(b.medias[0].received.length, 2);
  } finally {
    raw.close();
    await Promise.all([a.ua.close(), b.ua.close()]);
  }
});
