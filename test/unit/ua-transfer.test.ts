/** REFER: blind and attended transfer between three user agents, and Replaces matching. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../../src/util/clock.js';
import { formatReplaces, parseReferTo, parseReplaces, parseSipfrag, referToWithReplaces, type Call, type IncomingCall } from '../../src/ua/index.js';
import { RawSipClient } from '../helpers/raw-sip.js';
import { count, next, startUa, within, type TestUa } from '../helpers/ua.js';

async function three() {
  const clock = new VirtualClock();
  const a = await startUa(clock, 'alice');
  const b = await startUa(clock, 'bob');
  const c = await startUa(clock, 'carol');
  return { a, b, c, close: () => Promise.all([a.ua.close(), b.ua.close(), c.ua.close()]) };
}

async function connect(from: TestUa, to: TestUa): Promise<{ call: Call; inc: IncomingCall }> {
  const incoming = next(to.ua, 'incoming');
  const call = from.ua.call(to.uri);
  const [inc] = await incoming;
  const answered = next(call, 'answered');
  await within(inc.accept());
  await answered;
  return { call, inc };
}

test('blind transfer: A transfers B to C, C gets a call from B, A leaves with 200', { timeout: 10_000 }, async () => {
  const { a, b, c, close } = await three();
  try {
    const { call: ab, inc: ba } = await connect(a, b);
    const transferred = next(ba, 'transferred');
    const cIncoming = next(c.ua, 'incoming');
    const result = ab.transfer(c.uri);
    const [bc] = await transferred;
    const [cb] = await cIncoming;
    assert.equal(cb.from, b.ua.aor, 'C is called by B');
    assert.match(cb.invite.get('referred-by') ?? '', /sip:alice@/);
    await within(cb.accept());
    assert.equal(await within(result), 200);
    assert.equal(ab.state, 'ended');
    if (ba.state !== 'ended') await next(ba, 'ended');
    assert.equal(bc.state, 'answered');
    // B reported progress to A: 100 Trying then 200 OK, in sipfrag NOTIFYs.
    const frags = b.trace.filter((t) => t.startsWith('out NOTIFY')).map((t) => parseSipfrag(t.slice(t.indexOf('\r\n\r\n') + 4))?.status);
    assert.deepEqual(frags, [100, 200]);
  } finally {
    await close();
  }
});

test('blind transfer to a busy target reports 486 and keeps the original call', { timeout: 10_000 }, async () => {
  const { a, b, c, close } = await three();
  try {
    c.ua.on('incoming', (call) => call.reject(486));
    const { call: ab, inc: ba } = await connect(a, b);
    assert.equal(await within(ab.transfer(c.uri)), 486);
    assert.equal(ab.state, 'answered');
    assert.equal(ba.state, 'answered');
  } finally {
    await close();
  }
});

test('attended transfer: B replaces A in the call with C (INVITE with Replaces)', { timeout: 10_000 }, async () => {
  const { a, b, c, close } = await three();
  try {
    const { call: ab, inc: ba } = await connect(a, b);
    await within(ab.hold());
    const { call: ac, inc: ca } = await connect(a, c);
    const replaced = next(ca, 'replaced');
    const acEnded = next(ac, 'ended');
    const transferred = next(ba, 'transferred');
    const status = await within(ab.attendedTransfer(ac));
    assert.equal(status, 200);
    const [bc] = await transferred;
    const [cb] = await replaced;
    assert.equal((cb as IncomingCall).replaces, ca);
    assert.equal(cb.state, 'answered');
    assert.equal(bc.state, 'answered');
    const [acInfo] = await acEnded;
    assert.equal(acInfo.by, 'remote', "C hung up A's leg after the replacement");
    assert.equal(ab.state, 'ended');
    // The Replaces in B's INVITE names the A-C dialog as C knows it.
    const inv = c.trace.find((t) => t.startsWith('in INVITE') && /\r\nReplaces: /i.test(t)) ?? '';
    const rep = parseReplaces(/\r\nReplaces: ([^\r]+)/i.exec(inv)?.[1] ?? '');
    assert.deepEqual(rep && [rep.callId, rep.toTag, rep.fromTag], [ca.callId, ca.dialog?.id.localTag, ca.dialog?.id.remoteTag]);
  } finally {
    await close();
  }
});

test('an INVITE with Replaces naming no dialog gets 481', { timeout: 10_000 }, async () => {
  const clock = new VirtualClock();
  const b = await startUa(clock, 'bob');
  const raw = await RawSipClient.open();
  try {
    let rang = 0;
    b.ua.on('incoming', () => rang++);
    const req = raw.request('INVITE', b.uri, { headers: [['Replaces', 'nosuchcall;to-tag=1;from-tag=2']] });
    raw.send(req, `127.0.0.1:${b.ua.local.port}`);
    const res = (await raw.finalFor(req)).msg;
    assert.equal(res.status, 481);
    assert.equal(rang, 0);
  } finally {
    raw.close();
    await b.ua.close();
  }
});

test('Refer-To with Replaces escapes the dialog id and parses back to the same header', () => {
  const replaces = formatReplaces('abc@host;x', 'tt', 'ff');
  const referTo = referToWithReplaces('sip:carol@127.0.0.1:5080', replaces);
  assert.equal(referTo, '<sip:carol@127.0.0.1:5080?Replaces=abc%40host%3Bx%3Bto-tag%3Dtt%3Bfrom-tag%3Dff>');
  const parsed = parseReferTo(referTo);
  assert.equal(parsed.uri, 'sip:carol@127.0.0.1:5080');
  assert.deepEqual(parsed.headers, [['Replaces', replaces]]);
  // Headers that would forge the new request are dropped.
  assert.deepEqual(parseReferTo('<sip:x@h?Via=evil&Call-ID=1>').headers, []);
  assert.deepEqual(parseReplaces('id1;from-tag=F;to-tag=T;early-only'), { callId: 'id1', toTag: 'T', fromTag: 'F', earlyOnly: true });
  assert.equal(parseReplaces('id1;to-tag=T'), undefined);
  assert.deepEqual(parseSipfrag('SIP/2.0 180 Ringing\r\n'), { status: 180, reason: 'Ringing' });
  assert.equal(parseSipfrag('INVITE sip:x SIP/2.0'), undefined);
});

test('a REFER outside any call is refused with 481', { timeout: 10_000 }, async () => {
  const clock = new VirtualClock();
  const b = await startUa(clock, 'bob');
  const raw = await RawSipClient.open();
  try {
    const req = raw.request('REFER', b.uri, { headers: [['Refer-To', '<sip:carol@127.0.0.1>']], to: `<${b.uri}>;tag=nosuch` });
    raw.send(req, `127.0.0.1:${b.ua.local.port}`);
    assert.equal((await raw.finalFor(req)).msg.status, 481);
    assert.equal(count(b.trace, 'out INVITE'), 0);
  } finally {
    raw.close();
    await b.ua.close();
  }
});
