/**
 * Switchboard's user agent against a real softphone (baresip 1.0), peer to
 * peer on loopback: calls both ways, hold/resume both ways, and a blind
 * transfer that baresip sends. Media here is the SDP-only fake of the unit
 * tests: this checks signalling, the audio path is the CLI's interop test.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { realClock } from '../../src/util/clock.js';
import { startBaresip, type Baresip } from '../helpers/baresip.js';
import { requirePeers } from '../helpers/peers.js';
import { next, startUa, within, type TestUa } from '../helpers/ua.js';

const skip = requirePeers('baresip');

describe('user agent and baresip', { skip, timeout: 60_000 }, () => {
  let bare: Baresip;
  let alice: TestUa;
  let carol: TestUa;
  const clock = realClock;

  before(async () => {
    bare = await startBaresip({
      name: 'ua-bob',
      account: '<sip:bob@127.0.0.1;transport=udp>;regint=0;answermode=auto;audio_codecs=PCMU/8000/1',
      toneSeconds: 60,
    });
    alice = await startUa(clock, 'alice');
    carol = await startUa(clock, 'carol');
  });
  after(async () => {
    await Promise.all([alice?.ua.close(), carol?.ua.close()]);
    await bare?.stop();
  });

  test('we call baresip: it answers, holds and resumes us, we hang up', async () => {
    const from = bare.events().length;
    const call = alice.ua.call(`sip:bob@127.0.0.1:${bare.sipPort}`);
    await next(call, 'answered', 10_000);
    await bare.waitForEvent('CALL_ESTABLISHED', 5000, from);
    const held = next(call, 'held', 10_000);
    await bare.hold();
    await held;
    const resumed = next(call, 'resumed', 10_000);
    await bare.resume();
    await resumed;
    // Our own hold: baresip sees a sendonly offer and answers recvonly.
    await within(call.hold(), 5000);
    assert.equal(await bare.waitForMediaDirection(['recvonly', 'inactive'], 5000), 'recvonly');
    await within(call.resume(), 5000);
    const closed = bare.events().length;
    await call.hangup();
    await bare.waitForEvent('CALL_CLOSED', 5000, closed);
  });

  test('baresip calls us and transfers us (REFER) to a third phone', async () => {
    const incoming = next(alice.ua, 'incoming', 10_000);
    await bare.dial(`sip:alice@127.0.0.1:${alice.ua.local.port}`);
    const [inc] = await incoming;
    inc.ringing();
    await within(inc.accept(), 5000);
    const transferred = next(inc, 'transferred', 10_000);
    const carolRings = next(carol.ua, 'incoming', 10_000);
    await bare.transfer(carol.uri);
    const [toCarol] = await transferred;
    const [atCarol] = await carolRings;
    assert.equal(atCarol.from, alice.ua.aor);
    await within(atCarol.accept(), 5000);
    if (inc.state !== 'ended') await next(inc, 'ended', 10_000);
    assert.equal(toCarol.state, 'answered');
    await toCarol.hangup();
  });
});
