/** Two user agents call each other on loopback: connect, BYE, reject, CANCEL, 488, hold, INFO. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CallEndedError } from '../../src/ua/errors.js';
import { VirtualClock } from '../../src/util/clock.js';
import { CallStateError, SipStatusError, type IncomingCall } from '../../src/ua/index.js';
import { count, directionOf, next, startUa, until, within, type TestUa } from '../helpers/ua.js';

async function pair(aExtra: Parameters<typeof startUa>[2] = {}, bExtra: Parameters<typeof startUa>[2] = {}) {
  const clock = new VirtualClock();
  const a = await startUa(clock, 'alice', aExtra);
  const b = await startUa(clock, 'bob', bExtra);
  return { clock, a, b, close: () => Promise.all([a.ua.close(), b.ua.close()]) };
}

/** A calls B and B answers; resolves with both ends of the call. */
async function connect(a: TestUa, b: TestUa) {
  const incoming = next(b.ua, 'incoming');
  const call = a.ua.call(b.uri);
  const [inc] = await incoming;
  const answered = next(call, 'answered');
  await within(inc.accept(), 3000, 'accept');
  await answered;
  return { call, inc };
}

test('a call connects, both sides negotiate media, and the caller hangs up', { timeout: 10_000 }, async () => {
  const { a, b, close } = await pair();
  try {
    const incoming = next(b.ua, 'incoming');
    const call = a.ua.call(b.uri);
    const [inc] = await incoming;
    assert.equal(inc.from, a.ua.aor);
    assert.equal(inc.uri, b.uri);
    const ringing = next(call, 'ringing');
    inc.ringing();
    await ringing;
    assert.equal(call.state, 'ringing');
    const answered = next(call, 'answered');
    await within(inc.accept());
    await answered;
    assert.equal(call.state, 'answered');
    assert.equal(inc.state, 'answered');
    // A applied B's answer; B answered A's offer.
    assert.equal(a.medias[0].received.length, 1);
    assert.equal(b.medias[0].received[0], a.medias[0].sent[0]);
    const ended = next(inc, 'ended');
    await call.hangup();
    const [info] = await ended;
    assert.equal(info.by, 'remote');
    assert.equal(call.endInfo?.by, 'local');
    assert.ok(a.medias[0].closed && b.medias[0].closed, 'both media endpoints are closed');
    assert.equal(a.ua.activeCalls.length + b.ua.activeCalls.length, 0);
  } finally {
    await close();
  }
});

test('the callee hangs up: the caller sees the call ended by the remote side', { timeout: 10_000 }, async () => {
  const { a, b, close } = await pair();
  try {
    const { call, inc } = await connect(a, b);
    const ended = next(call, 'ended');
    await inc.hangup();
    const [info] = await ended;
    assert.deepEqual(info, { by: 'remote' });
    assert.equal(count(b.trace, 'out BYE'), 1);
  } finally {
    await close();
  }
});

test('a reject with 486 reaches the caller as status 486', { timeout: 10_000 }, async () => {
  const { a, b, close } = await pair();
  try {
    b.ua.on('incoming', (c) => c.reject(486));
    const call = a.ua.call(b.uri);
    const [info] = await next(call, 'ended');
    assert.equal(info.status, 486);
    assert.equal(info.reason, 'Busy Here');
    assert.equal(info.by, 'remote');
    assert.ok(a.medias[0].closed);
  } finally {
    await close();
  }
});

test('with nobody listening for calls, the agent answers 480', { timeout: 10_000 }, async () => {
  const { a, b, close } = await pair();
  try {
    const call = a.ua.call(b.uri);
    const [info] = await next(call, 'ended');
    assert.equal(info.status, 480);
  } finally {
    await close();
  }
});

test('CANCEL while ringing: the callee sees 487 from the remote, the caller ends with 487', { timeout: 10_000 }, async () => {
  const { a, b, close } = await pair();
  try {
    const incoming = next(b.ua, 'incoming');
    const call = a.ua.call(b.uri);
    const [inc] = await incoming;
    const ringing = next(call, 'ringing');
    inc.ringing();
    await ringing;
    const calleeEnded = next(inc, 'ended');
    const callerEnded = next(call, 'ended');
    call.cancel();
    const [ci] = await calleeEnded;
    assert.equal(ci.status, 487);
    assert.equal(ci.by, 'remote');
    const [ai] = await callerEnded;
    assert.equal(ai.status, 487);
    assert.equal(ai.by, 'local');
    assert.equal(count(a.trace, 'out CANCEL'), 1);
    await assert.rejects(inc.accept(), (e: unknown) => e instanceof SipStatusError && e.status === 487);
  } finally {
    await close();
  }
});

test('a garbage offer is refused with 488 and a Warning, and counted', { timeout: 10_000 }, async () => {
  const { a, b, close } = await pair({ media: { garbageOffer: true } });
  try {
    let offered = 0;
    b.ua.on('incoming', () => offered++);
    const call = a.ua.call(b.uri);
    const [info] = await next(call, 'ended');
    assert.equal(info.status, 488);
    assert.match(info.warning ?? '', /^3\d\d 127\.0\.0\.1 ".+"$/);
    assert.equal(b.ua.counters.sdpRejected, 1);
    assert.equal(offered, 0, 'an unreadable offer never rings the user');
  } finally {
    await close();
  }
});

test('no codec in common: accept() fails with 488 and the caller sees warn-code 305', { timeout: 10_000 }, async () => {
  const { a, b, close } = await pair({ media: { codec: 'PCMA' } }, { media: { codec: 'PCMU' } });
  try {
    const incoming = next(b.ua, 'incoming');
    const call = a.ua.call(b.uri);
    const [inc] = await incoming;
    await assert.rejects(inc.accept(), (e: unknown) => e instanceof SipStatusError && e.status === 488);
    const [info] = await next(call, 'ended');
    assert.equal(info.status, 488);
    assert.match(info.warning ?? '', /^305 /);
    assert.equal(b.ua.counters.sdpRejected, 1);
  } finally {
    await close();
  }
});

test('hold and resume by re-INVITE: the peer hears held/resumed and SDP directions follow', { timeout: 10_000 }, async () => {
  const { a, b, close } = await pair();
  try {
    const { call, inc } = await connect(a, b);
    const held = next(inc, 'held');
    await within(call.hold());
    await held;
    assert.equal(call.onHold, true);
    assert.equal(inc.heldByRemote, true);
    assert.equal(directionOf(a.medias[0].sent.at(-1) ?? ''), 'sendonly');
    assert.equal(directionOf(b.medias[0].sent.at(-1) ?? ''), 'recvonly');
    const resumed = next(inc, 'resumed');
    await within(call.resume());
    await resumed;
    assert.equal(inc.heldByRemote, false);
    assert.equal(directionOf(a.medias[0].sent.at(-1) ?? ''), 'sendrecv');
    assert.equal(directionOf(b.medias[0].sent.at(-1) ?? ''), 'sendrecv');
    // The callee can hold too (a re-INVITE from the UAS side of the dialog).
    const aHeld = next(call, 'held');
    await within(inc.hold());
    await aHeld;
    assert.equal(call.heldByRemote, true);
  } finally {
    await close();
  }
});

test('re-INVITE glare: both get 491 and both retry after the RFC 3261 §14.1 waits', { timeout: 10_000 }, async () => {
  const { clock, a, b, close } = await pair();
  try {
    const { call, inc } = await connect(a, b);
    const pa = call.hold();
    const pb = inc.hold();
    await until(() => count(a.trace, 'in SIP/2.0 491') === 1 && count(b.trace, 'in SIP/2.0 491') === 1, 3000, 'two 491s');
    // The callee (not the Call-ID owner) retries within 2 s, the caller between 2.1 and 4 s.
    clock.advance(2000);
    await within(pb, 3000, 'callee re-INVITE');
    assert.equal(call.heldByRemote, true);
    clock.advance(2000);
    await within(pa, 3000, 'caller re-INVITE');
    assert.equal(inc.heldByRemote, true);
    assert.equal(call.onHold && inc.onHold, true);
    // Initial INVITE, the refused hold, its retry (Timer A may have resent some while the clock jumped).
    const cseqs = new Set(a.trace.filter((t) => t.startsWith('out INVITE')).map((t) => /CSeq: (\d+)/.exec(t)?.[1]));
    assert.equal(cseqs.size, 3);
  } finally {
    await close();
  }
});

test('a hold waiting out a glare fails with CallEndedError when the call ends meanwhile, instead of never settling', { timeout: 10_000 }, async () => {
  const { a, b, close } = await pair();
  try {
    const { call, inc } = await connect(a, b);
    const pa = call.hold();
    const pb = inc.hold();
    await until(() => count(a.trace, 'in SIP/2.0 491') === 1 && count(b.trace, 'in SIP/2.0 491') === 1, 3000, 'two 491s');
    // Both wait out the glare on the virtual clock, which does not move: the caller hangs up instead.
    const outcomes = Promise.allSettled([pa, pb]);
    await call.hangup();
    const [ra, rb] = await within(outcomes, 3000, 'both holds to settle');
    assert.equal(ra.status, 'rejected');
    assert.ok(ra.status === 'rejected' && ra.reason instanceof CallEndedError, String(ra.status === 'rejected' && ra.reason));
    assert.equal(rb.status, 'rejected', "the callee's hold fails too once the BYE ends its call");
  } finally {
    await close();
  }
});

test('INFO DTMF (dtmf-relay and dtmf) becomes a dtmf event; other INFO types get 415', { timeout: 10_000 }, async () => {
  const { a, b, close } = await pair();
  try {
    const { call, inc } = await connect(a, b);
    const digits: string[] = [];
    inc.on('dtmf', (d, ev) => digits.push(`${d}:${ev.durationMs}`));
    await call.sendDtmfInfo('5', 200);
    assert.equal(await call.sendInfo('application/dtmf', '#'), 200);
    assert.deepEqual(digits, ['5:200', '#:250']);
    assert.equal(await call.sendInfo('text/plain', 'hello'), 415);
    assert.equal(await call.sendInfo('application/dtmf-relay', 'Signal=X'), 400);
  } finally {
    await close();
  }
});

test('close() hangs up live calls with BYE', { timeout: 10_000 }, async () => {
  const { a, b, close } = await pair();
  try {
    const { inc } = await connect(a, b);
    const ended = next(inc, 'ended');
    await a.ua.close();
    const [info] = await ended;
    assert.equal(info.by, 'remote');
  } finally {
    await close();
  }
});

test('an incoming call is offered with the caller identity and display name', { timeout: 10_000 }, async () => {
  const { a, b, close } = await pair({ displayName: 'Alice Smith' });
  try {
    let got: IncomingCall | undefined;
    b.ua.on('incoming', (c) => {
      got = c;
      c.reject(603);
    });
    const call = a.ua.call(b.uri);
    const [info] = await next(call, 'ended');
    assert.equal(info.status, 603);
    assert.equal(got?.fromDisplayName, 'Alice Smith');
    assert.equal(got?.to, b.uri);
  } finally {
    await close();
  }
});

test('operations a call cannot do now fail with typed errors a caller can tell apart, in words the phone prints', { timeout: 10_000 }, async () => {
  const { a, b, close } = await pair();
  try {
    const incoming = next(b.ua, 'incoming');
    const call = a.ua.call(b.uri);
    const [inc] = await incoming;
    await assert.rejects(call.hold(), (err: unknown) => {
      assert.ok(err instanceof CallStateError);
      assert.equal(err.state, 'calling');
      assert.equal(err.needed, 'answered');
      assert.equal(err.message, 'the call is calling, not answered');
      return true;
    });
    const answered = next(call, 'answered');
    await within(inc.accept());
    await answered;
    const other = a.ua.call(b.uri);
    const [second] = await next(b.ua, 'incoming');
    await assert.rejects(call.attendedTransfer(other), (err: unknown) => err instanceof CallStateError && /the other call is \w+, not answered/.test(err.message));
    second.reject(486);
    await call.hangup();
    await assert.rejects(call.resume(), (err: unknown) => err instanceof CallStateError && err.state === 'ended');
  } finally {
    await close();
  }
});
