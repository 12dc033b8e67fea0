/**
 * The call controls a softphone test drives baresip 1.0 with, checked
 * baresip to baresip with no server in between (`dial sip:b@127.0.0.1:PORT`):
 * RFC 4733 DTMF, hold and resume as the other side sees them, a blind
 * transfer (REFER) that makes a third phone ring from the transferee, and
 * answering and hanging up by command. What these tests pin down is what the
 * softphone's own interop tests rely on (see the comment atop
 * test/helpers/baresip.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startBaresip, type Baresip } from '../helpers/baresip.js';
import { requirePeers } from '../helpers/peers.js';

const skip = requirePeers('baresip');
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('baresip call controls, phone to phone', { skip, timeout: 120_000 }, () => {
  const phones: Baresip[] = [];
  let a: Baresip;
  let b: Baresip;
  let c: Baresip;

  async function phone(name: string, answermode: 'auto' | 'manual'): Promise<Baresip> {
    const p = await startBaresip({
      name,
      account: `<sip:${name}@127.0.0.1>;regint=0;answermode=${answermode};audio_codecs=PCMU/8000/1`,
      // A call ends when the tone file does: outlast every test.
      toneSeconds: 60,
    });
    phones.push(p);
    return p;
  }
  const uri = (p: Baresip): string => `sip:${p.name}@127.0.0.1:${p.sipPort}`;

  before(async () => {
    [a, b, c] = await Promise.all([phone('a', 'auto'), phone('b', 'auto'), phone('c', 'manual')]);
  });
  after(async () => {
    await Promise.all(phones.splice(0).map((p) => p.stop()));
  });

  /** A calls B and both see the call up; returns B's and A's event marks from before the call. */
  async function connectAtoB(): Promise<{ a: number; b: number }> {
    const marks = { a: a.events().length, b: b.events().length };
    const r = await a.dial(uri(b));
    assert.equal(r.ok, true, `dial refused: ${r.data}`);
    await a.waitForEvent('CALL_ESTABLISHED', 10_000, marks.a);
    await b.waitForEvent('CALL_ESTABLISHED', 10_000, marks.b);
    return marks;
  }

  async function hangupBoth(from: Baresip, other: Baresip): Promise<void> {
    const marks = [from.events().length, other.events().length];
    await from.hangup();
    await from.waitForEvent('CALL_CLOSED', 10_000, marks[0]);
    await other.waitForEvent('CALL_CLOSED', 10_000, marks[1]);
  }

  test('DTMF 123# sent by A arrives at B as those keys, in order, once each', async () => {
    const marks = await connectAtoB();
    try {
      const logFrom = b.log().length;
      assert.equal((await a.sendDtmf('123#')).ok, true);
      assert.equal(await b.waitForDtmf(4, 10_000, marks.b), '123#');
      // The last key's end closes the burst; nothing may be repeated after it.
      await b.waitFor(/received event: '#' \(end=1\)/, 5000, logFrom);
      assert.equal(b.receivedDtmf(marks.b), '123#');
      assert.equal(a.receivedDtmf(marks.a), '', 'A sent, it did not receive');
      await assert.rejects(a.sendDtmf('12x'), /cannot send DTMF/);
    } finally {
      await hangupBoth(a, b);
    }
  });

  test('hold by A is seen by B as recvonly audio, resume as sendrecv again', async () => {
    await connectAtoB();
    try {
      assert.equal(await b.mediaDirection(), 'sendrecv');
      assert.equal(await a.isHolding(), false);

      const logFrom = b.log().length;
      assert.equal((await a.hold()).ok, true);
      assert.equal(await b.waitForMediaDirection(['recvonly', 'inactive'], 10_000), 'recvonly');
      await b.waitFor(/call: got re-INVITE \(SDP Offer\)/, 5000, logFrom);
      assert.equal(await a.isHolding(), true, 'A lists its call as (on hold)');
      assert.equal(await a.mediaDirection(), 'sendonly');
      assert.equal(await b.isHolding(), false, 'B did not hold anything itself');

      assert.equal((await a.resume()).ok, true);
      assert.equal(await b.waitForMediaDirection('sendrecv', 10_000), 'sendrecv');
      assert.equal(await a.isHolding(), false);
    } finally {
      await hangupBoth(a, b);
    }
  });

  test('blind transfer: A transfers its call with B to C, C rings from B, answers, and A is out', async () => {
    const marks = await connectAtoB();
    const cFrom = c.events().length;
    const bLog0 = b.log().length;
    assert.equal((await a.transfer(uri(c))).ok, true);

    const transfer = await b.waitForEvent('TRANSFER', 10_000, marks.b);
    assert.equal(transfer.param, uri(c), 'B was referred to C');

    // C answers by hand (answermode=manual): it rings first, and the caller is B.
    const incoming = await c.waitForEvent('CALL_INCOMING', 10_000, cFrom);
    assert.match(String(incoming.peeruri), new RegExp(`^sip:b@127\\.0\\.0\\.1(:${b.sipPort})?$`));
    assert.equal(c.events().slice(cFrom).some((e) => e.type === 'CALL_ESTABLISHED'), false, 'C must not answer on its own');
    // A's call lasts until the transfer succeeds (B's NOTIFY with a 200 sipfrag).
    assert.equal(a.events().slice(marks.a).some((e) => e.type === 'CALL_CLOSED'), false, 'A left before C answered');
    assert.equal((await c.accept()).ok, true);
    await c.waitForEvent('CALL_ESTABLISHED', 10_000, cFrom);
    const closedA = await a.waitForEvent('CALL_CLOSED', 10_000, marks.a);
    assert.equal(closedA.param, 'Call transfered');
    await b.waitFor(new RegExp(`Call established: ${escape(uri(c))}`), 10_000);

    // A hung up its leg after the NOTIFY: B's call with A is gone, the one with C stays.
    await b.waitFor(/^sip:a@127\.0\.0\.1: session closed/, 10_000, bLog0);
    assert.equal((await c.ctrl('listcalls')).data.match(/ESTABLISHED/g)?.length, 1, 'C has one call');

    // C hangs up: B sees the call with C close.
    const bLog = b.log().length;
    await c.hangup();
    await b.waitFor(new RegExp(`^${escape(uri(c))}: session closed`), 10_000, bLog);
  });
});
