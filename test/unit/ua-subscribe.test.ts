/** SUBSCRIBE/NOTIFY (RFC 6665) between user agents on loopback and against a raw SIP socket, in virtual time. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SipMessage } from '../../src/sip/message.js';
import { VirtualClock } from '../../src/util/clock.js';
import type { IncomingSubscription, Subscription } from '../../src/ua/index.js';
import { RawSipClient, type Received } from '../helpers/raw-sip.js';
import { count, next, startUa, until, within, type TestUa } from '../helpers/ua.js';

const MWI = 'application/simple-message-summary';
const summary = (n: number, o: number): string => `Messages-Waiting: ${n > 0 ? 'yes' : 'no'}\r\nVoice-Message: ${n}/${o} (0/0)\r\n`;

async function pair() {
  const clock = new VirtualClock();
  const a = await startUa(clock, 'alice');
  const b = await startUa(clock, 'bob');
  return { clock, a, b, close: () => Promise.all([a.ua.close(), b.ua.close()]) };
}

/** A subscribes to B's message-summary; B accepts with one new message; resolves once A heard the first NOTIFY. */
async function subscribed(a: TestUa, b: TestUa, max = 3600): Promise<{ sub: Subscription; inc: IncomingSubscription }> {
  b.ua.on('subscribe', (s) => s.accept(max, summary(1, 0), MWI));
  const offered = next(b.ua, 'subscribe');
  const sub = a.ua.subscribe(b.uri, 'message-summary', { expires: 600, accept: MWI });
  const notified = next(sub, 'notify');
  const [inc] = await offered;
  const [body, type, state] = await notified;
  assert.equal(body, summary(1, 0));
  assert.equal(type, MWI);
  assert.equal(state, 'active');
  return { sub, inc };
}

/** A response from the raw peer to `req`, its To tagged. */
function answer(req: SipMessage, status: number, reason: string, tag: string, extra: [string, string][] = []): SipMessage {
  return SipMessage.response(status, reason, [
    ...req.getAll('via').map((v) => ['Via', v] as [string, string]),
    ['From', req.get('from') ?? ''], ['To', /;tag=/.test(req.get('to') ?? '') ? (req.get('to') ?? '') : `${req.get('to')};tag=${tag}`],
    ['Call-ID', req.callId], ['CSeq', req.get('cseq') ?? ''], ...extra,
  ]);
}

/** The raw peer's NOTIFY inside the subscription that `subscribe` opened (its tag is `tag`). */
function notifyFor(raw: RawSipClient, subscribe: SipMessage, tag: string, cseq: number, state: string, body = ''): SipMessage {
  const contact = /<([^>]+)>/.exec(subscribe.get('contact') ?? '')?.[1] ?? subscribe.uri;
  return raw.request('NOTIFY', contact, {
    from: `<${subscribe.uri}>;tag=${tag}`,
    to: subscribe.get('from'),
    callId: subscribe.callId,
    cseq,
    headers: [['Event', 'message-summary'], ['Subscription-State', state], ...(body ? ([['Content-Type', MWI]] as [string, string][]) : [])],
    body,
  });
}

const isReq = (method: string) => (r: Received): boolean => r.msg.isRequest && r.msg.method === method;

test('subscribe, accept with a body, NOTIFY of a change, refresh at 90% of the expiry, unsubscribe', { timeout: 10_000 }, async () => {
  const { clock, a, b, close } = await pair();
  try {
    const { sub, inc } = await subscribed(a, b, 300);
    assert.equal(inc.event, 'message-summary');
    assert.equal(inc.from, a.ua.aor);
    assert.equal(inc.requestedExpires, 600);
    assert.deepEqual(inc.accepts, [MWI]);
    assert.equal(sub.state, 'active');
    // The notifier granted at most 300 s of the 600 asked.
    await until(() => sub.expires > 0, 3000, 'accepted');
    assert.equal(sub.expires, 300);

    const changed = next(sub, 'notify');
    assert.equal(await within(inc.notify(summary(2, 1), MWI)), 200);
    assert.equal((await changed)[0], summary(2, 1));

    // 90% of 300 s: the subscriber refreshes; the notifier answers with a NOTIFY of the current state.
    const refreshed = next(inc, 'refreshed');
    const afterRefresh = next(sub, 'notify');
    clock.advance(269_000);
    assert.equal(count(a.trace, 'out SUBSCRIBE'), 1);
    clock.advance(1000);
    assert.deepEqual(await refreshed, [300]);
    assert.equal((await afterRefresh)[0], summary(2, 1));
    assert.equal(count(a.trace, 'out SUBSCRIBE'), 2);

    const ended = next(inc, 'terminated');
    const subEnded = next(sub, 'terminated');
    await within(sub.unsubscribe());
    assert.deepEqual(await ended, ['unsubscribed']);
    assert.equal((await subEnded)[0], 'unsubscribed');
    // The notifier's last NOTIFY (terminated) got a 200, not a 481.
    await until(() => a.trace.some((t) => t.startsWith('in NOTIFY') && /Subscription-State: terminated;reason=timeout/.test(t)), 3000, 'final NOTIFY');
    const last = [...a.trace].reverse().find((t) => t.startsWith('out SIP/2.0'));
    assert.match(last ?? '', /^out SIP\/2\.0 200 OK\r\n[\s\S]*CSeq: \d+ NOTIFY/);
    assert.equal(count(a.trace, 'out SIP/2.0 481'), 0);
    assert.equal(a.ua.activeSubscriptions.length + b.ua.activeSubscriptions.length, 0);
  } finally {
    await close();
  }
});

test('with nobody serving events, a SUBSCRIBE gets 489 and the subscription ends with that reason', { timeout: 10_000 }, async () => {
  const { a, b, close } = await pair();
  try {
    const sub = a.ua.subscribe(b.uri, 'message-summary');
    const [reason, end] = await next(sub, 'terminated');
    assert.equal(reason, '489 Bad Event');
    assert.equal(end.status, 489);
    assert.equal(sub.state, 'terminated');
    assert.equal(a.ua.activeSubscriptions.length, 0);
  } finally {
    await close();
  }
});

test('a rejected SUBSCRIBE ends with the status the notifier chose', { timeout: 10_000 }, async () => {
  const { a, b, close } = await pair();
  try {
    b.ua.on('subscribe', (s) => s.reject(403));
    const sub = a.ua.subscribe(b.uri, 'presence');
    const [reason, end] = await next(sub, 'terminated');
    assert.equal(reason, '403 Forbidden');
    assert.equal(end.status, 403);
  } finally {
    await close();
  }
});

test('the notifier ends a subscription: terminated NOTIFY with its reason reaches the subscriber', { timeout: 10_000 }, async () => {
  const { a, b, close } = await pair();
  try {
    const { sub, inc } = await subscribed(a, b);
    const notified = next(sub, 'notify');
    const ended = next(sub, 'terminated');
    await within(inc.terminate('noresource'));
    assert.equal((await notified)[2], 'terminated');
    assert.equal((await ended)[0], 'noresource');
    assert.equal(inc.state, 'terminated');
    await assert.rejects(inc.notify('x', 'text/plain'), /subscription is terminated/);
  } finally {
    await close();
  }
});

test('a subscription nobody refreshes ends at its expiry with a NOTIFY saying timeout', { timeout: 10_000 }, async () => {
  const clock = new VirtualClock();
  const b = await startUa(clock, 'bob');
  const raw = await RawSipClient.open();
  try {
    const offered = next(b.ua, 'subscribe');
    b.ua.on('subscribe', (s) => s.accept(3600, summary(0, 3), MWI));
    const req = raw.request('SUBSCRIBE', b.uri, { headers: [['Event', 'message-summary'], ['Expires', '120']] });
    raw.send(req, `127.0.0.1:${b.ua.local.port}`);
    const ok = (await raw.finalFor(req)).msg;
    assert.equal(ok.status, 200);
    assert.equal(ok.get('expires'), '120');
    const [inc] = await offered;
    const first = await raw.waitFor(isReq('NOTIFY'));
    assert.match(first.msg.get('subscription-state') ?? '', /^active;expires=120$/);
    assert.equal(first.msg.body.toString(), summary(0, 3));
    raw.send(answer(first.msg, 200, 'OK', 'x'), `127.0.0.1:${b.ua.local.port}`);
    await until(() => count(b.trace, 'in SIP/2.0 200') === 1, 3000, 'the 200 to the NOTIFY');
    const ended = next(inc, 'terminated');
    clock.advance(119_000);
    assert.equal(inc.state, 'active');
    clock.advance(1000);
    assert.deepEqual(await ended, ['timeout']);
    const last = await raw.waitFor((r) => isReq('NOTIFY')(r) && r.msg.cseq.seq > first.msg.cseq.seq);
    assert.equal(last.msg.get('subscription-state'), 'terminated;reason=timeout');
    // A refresh that comes too late finds no subscription.
    const late = raw.request('SUBSCRIBE', b.uri, { callId: req.callId, from: req.get('from'), to: ok.get('to'), cseq: 5, headers: [['Event', 'message-summary'], ['Expires', '120']] });
    raw.send(late, `127.0.0.1:${b.ua.local.port}`);
    assert.equal((await raw.finalFor(late)).msg.status, 481);
  } finally {
    raw.close();
    await b.ua.close();
  }
});

test('a SUBSCRIBE with Expires: 0 is a fetch: 200, one NOTIFY saying terminated, nothing kept', { timeout: 10_000 }, async () => {
  const clock = new VirtualClock();
  const b = await startUa(clock, 'bob');
  const raw = await RawSipClient.open();
  try {
    b.ua.on('subscribe', (s) => s.accept(3600, summary(1, 1), MWI));
    const req = raw.request('SUBSCRIBE', b.uri, { headers: [['Event', 'message-summary'], ['Expires', '0']] });
    raw.send(req, `127.0.0.1:${b.ua.local.port}`);
    assert.equal((await raw.finalFor(req)).msg.status, 200);
    const n = await raw.waitFor(isReq('NOTIFY'));
    assert.equal(n.msg.get('subscription-state'), 'terminated;reason=timeout');
    assert.equal(n.msg.body.toString(), summary(1, 1));
    assert.equal(b.ua.activeSubscriptions.length, 0);
  } finally {
    raw.close();
    await b.ua.close();
  }
});

test('SUBSCRIBE without Event is a 400; with a malformed Expires a 400', { timeout: 10_000 }, async () => {
  const clock = new VirtualClock();
  const b = await startUa(clock, 'bob');
  const raw = await RawSipClient.open();
  try {
    b.ua.on('subscribe', (s) => s.accept());
    const to = `127.0.0.1:${b.ua.local.port}`;
    const noEvent = raw.request('SUBSCRIBE', b.uri);
    raw.send(noEvent, to);
    const r1 = (await raw.finalFor(noEvent)).msg;
    assert.equal(r1.status, 400);
    assert.match(r1.reason, /Event/);
    const badExpires = raw.request('SUBSCRIBE', b.uri, { headers: [['Event', 'presence'], ['Expires', 'soon']] });
    raw.send(badExpires, to);
    const r2 = (await raw.finalFor(badExpires)).msg;
    assert.equal(r2.status, 400);
    assert.match(r2.reason, /Expires/);
  } finally {
    raw.close();
    await b.ua.close();
  }
});

test('the first NOTIFY may come before the 2xx: it makes the dialog, refreshes go to its Contact with a higher CSeq', { timeout: 10_000 }, async () => {
  const clock = new VirtualClock();
  const a = await startUa(clock, 'alice');
  const raw = await RawSipClient.open();
  const to = `127.0.0.1:${a.ua.local.port}`;
  try {
    const sub = a.ua.subscribe(`sip:vm@${raw.hostPort}`, 'message-summary', { expires: 100 });
    const req = (await raw.waitFor(isReq('SUBSCRIBE'))).msg;
    assert.equal(req.get('event'), 'message-summary');
    assert.equal(req.get('expires'), '100');
    const notified = next(sub, 'notify');
    raw.send(notifyFor(raw, req, 'vmtag', 1, 'active;expires=100', summary(3, 0)), to);
    const [body] = await notified;
    assert.equal(body, summary(3, 0));
    assert.equal((await raw.waitFor((r) => !r.msg.isRequest && r.msg.cseq.method === 'NOTIFY')).msg.status, 200);
    // The 2xx arrives after the NOTIFY: same dialog.
    raw.send(answer(req, 200, 'OK', 'vmtag', [['Expires', '100'], ['Contact', `<sip:vm@${raw.hostPort}>`]]), to);
    await next(sub, 'accepted');
    assert.equal(sub.dialog?.id.remoteTag, 'vmtag');
    clock.advance(90_000);
    const refresh = (await raw.waitFor(isReq('SUBSCRIBE'))).msg;
    assert.equal(refresh.toTag, 'vmtag');
    assert.ok(refresh.cseq.seq > req.cseq.seq, 'the refresh counts on from the first SUBSCRIBE');
    raw.send(answer(refresh, 481, 'Call/Transaction Does Not Exist', 'vmtag'), to);
    const [reason, end] = await next(sub, 'terminated');
    assert.equal(reason, '481 Call/Transaction Does Not Exist');
    assert.equal(end.status, 481);
  } finally {
    raw.close();
    await a.ua.close();
  }
});

test('Timer N: a 2xx with no NOTIFY within 64*T1 ends the subscription', { timeout: 10_000 }, async () => {
  const clock = new VirtualClock();
  const a = await startUa(clock, 'alice');
  const raw = await RawSipClient.open();
  try {
    const sub = a.ua.subscribe(`sip:vm@${raw.hostPort}`, 'message-summary');
    const req = (await raw.waitFor(isReq('SUBSCRIBE'))).msg;
    raw.send(answer(req, 200, 'OK', 'quiet', [['Expires', '3600'], ['Contact', `<sip:vm@${raw.hostPort}>`]]), `127.0.0.1:${a.ua.local.port}`);
    await next(sub, 'accepted');
    const ended = next(sub, 'terminated');
    clock.advance(32_000);
    const [reason, end] = await ended;
    assert.equal(reason, '408 No NOTIFY');
    assert.equal(end.status, 408);
    // It told the notifier it is gone.
    const bye = (await raw.waitFor(isReq('SUBSCRIBE'))).msg;
    assert.equal(bye.get('expires'), '0');
  } finally {
    raw.close();
    await a.ua.close();
  }
});

test('SUBSCRIBE through the server answers its digest challenge', { timeout: 10_000 }, async () => {
  const clock = new VirtualClock();
  const raw = await RawSipClient.open();
  const a = await startUa(clock, '1001', { server: { host: '127.0.0.1', port: raw.port }, password: 'Al1ce-long-pass-77' });
  try {
    const sub = a.ua.subscribe('1001', 'message-summary');
    const first = (await raw.waitFor(isReq('SUBSCRIBE'))).msg;
    assert.equal(first.uri, 'sip:1001@127.0.0.1');
    raw.send(answer(first, 407, 'Proxy Authentication Required', 'px', [['Proxy-Authenticate', 'Digest realm="127.0.0.1", nonce="abc123", algorithm=MD5, qop="auth"']]), `127.0.0.1:${a.ua.local.port}`);
    const second = (await raw.waitFor(isReq('SUBSCRIBE'))).msg;
    assert.match(second.get('proxy-authorization') ?? '', /^Digest username="1001"/);
    assert.ok(second.cseq.seq > first.cseq.seq);
    raw.send(answer(second, 489, 'Bad Event', 'px'), `127.0.0.1:${a.ua.local.port}`);
    assert.equal((await next(sub, 'terminated'))[0], '489 Bad Event');
  } finally {
    raw.close();
    await a.ua.close();
  }
});

test('a NOTIFY the subscriber answers 481 ends the notifier\'s subscription', { timeout: 10_000 }, async () => {
  const clock = new VirtualClock();
  const b = await startUa(clock, 'bob');
  const raw = await RawSipClient.open();
  try {
    const offered = next(b.ua, 'subscribe');
    b.ua.on('subscribe', (s) => s.accept(600));
    const req = raw.request('SUBSCRIBE', b.uri, { headers: [['Event', 'presence'], ['Expires', '600']] });
    raw.send(req, `127.0.0.1:${b.ua.local.port}`);
    await raw.finalFor(req);
    const [inc] = await offered;
    const first = await raw.waitFor(isReq('NOTIFY'));
    assert.equal(first.msg.body.length, 0, 'no state given: a NOTIFY without a body');
    raw.send(answer(first.msg, 200, 'OK', 'x'), `127.0.0.1:${b.ua.local.port}`);
    const status = inc.notify('<presence/>', 'application/pidf+xml');
    const second = await raw.waitFor(isReq('NOTIFY'));
    assert.equal(second.msg.get('content-type'), 'application/pidf+xml');
    raw.send(answer(second.msg, 481, 'Subscription Does Not Exist', 'x'), `127.0.0.1:${b.ua.local.port}`);
    const ended = next(inc, 'terminated');
    assert.equal(await within(status), 481);
    assert.deepEqual(await ended, ['481 Subscription Does Not Exist']);
  } finally {
    raw.close();
    await b.ua.close();
  }
});

test('an unsolicited NOTIFY (message-summary) is answered 200 and emitted; other packages and no listener get 489', { timeout: 10_000 }, async () => {
  const clock = new VirtualClock();
  const b = await startUa(clock, 'bob');
  const raw = await RawSipClient.open();
  const to = `127.0.0.1:${b.ua.local.port}`;
  const send = async (headers: [string, string][], body = ''): Promise<SipMessage> => {
    const req = raw.request('NOTIFY', b.uri, { headers, body });
    raw.send(req, to);
    return (await raw.finalFor(req)).msg;
  };
  try {
    // Nobody listens yet.
    assert.equal((await send([['Event', 'message-summary']], summary(1, 0))).status, 489);
    const heard: [string, string, string, string][] = [];
    b.ua.on('notify', (...args) => heard.push(args));
    const res = await send([['Event', 'message-summary'], ['Content-Type', MWI]], summary(1, 0));
    assert.equal(res.status, 200);
    assert.deepEqual(heard, [['message-summary', summary(1, 0), MWI, `sip:tester@${raw.hostPort}`]]);
    const other = await send([['Event', 'presence']]);
    assert.equal(other.status, 489);
    assert.equal(other.get('allow-events'), 'message-summary');
    assert.equal((await send([])).status, 400);
    assert.equal(heard.length, 1);
  } finally {
    raw.close();
    await b.ua.close();
  }
});

test('sendNotify: an out-of-dialog NOTIFY resolves with the peer\'s status', { timeout: 10_000 }, async () => {
  const { a, b, close } = await pair();
  try {
    assert.equal(await within(a.ua.sendNotify(b.uri, 'message-summary', summary(1, 0), MWI)), 489);
    const heard = next(b.ua, 'notify');
    assert.equal(await within(a.ua.sendNotify(b.uri, 'message-summary', summary(1, 0), MWI)), 200);
    const [event, body, type, from] = await heard;
    assert.deepEqual([event, body, type, from], ['message-summary', summary(1, 0), MWI, a.ua.aor]);
    const sent = a.trace.filter((t) => t.startsWith('out NOTIFY')).at(-1) ?? '';
    assert.match(sent, /\r\nSubscription-State: active\r\n/);
    assert.match(sent, /\r\nEvent: message-summary\r\n/);
  } finally {
    await close();
  }
});

test('a SUBSCRIBE nobody decides on gets 480; closing the agent ends subscriptions with a NOTIFY', { timeout: 10_000 }, async () => {
  const { clock, a, b, close } = await pair();
  try {
    let undecided: IncomingSubscription | undefined;
    b.ua.on('subscribe', (s) => {
      undecided ??= s;
    });
    const sub = a.ua.subscribe(b.uri, 'presence');
    await until(() => undecided !== undefined, 3000, 'offer');
    const ended = next(sub, 'terminated');
    clock.advance(8000);
    assert.equal((await ended)[0], '480 Temporarily Unavailable');

    const c = await startUa(clock, 'carol');
    c.ua.on('subscribe', (s) => s.accept(600, summary(0, 0), MWI));
    const sub2 = a.ua.subscribe(c.uri, 'message-summary');
    await next(sub2, 'notify');
    const over = next(sub2, 'terminated');
    await c.ua.close();
    assert.equal((await over)[0], 'deactivated');
  } finally {
    await close();
  }
});
