/**
 * Switchboard's user agent against a real softphone (baresip 1.0), peer to
 * peer on loopback: calls both ways, hold/resume both ways, and a blind
 * transfer that baresip sends. Media here is the SDP-only fake of the unit
 * tests: this checks signalling, the audio path is the CLI's interop test.
 * And our notifier against baresip's message-waiting subscriber (mwi.so).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { realClock } from '../../src/util/clock.js';
import { startBaresip, type Baresip } from '../helpers/baresip.js';
import { requirePeers } from '../helpers/peers.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
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

describe('baresip subscribes to message-summary (mwi=yes) and shows our NOTIFYs', { skip, timeout: 90_000 }, () => {
  const PASS = 'B0b-mwi-long-pass-64';
  const MWI = 'application/simple-message-summary';
  const summary = (n: number, o: number): string => `Messages-Waiting: ${n > 0 ? 'yes' : 'no'}\r\nVoice-Message: ${n}/${o} (0/0)\r\n`;
  let server: TestServer;
  let vm: TestUa;
  let bare: Baresip | undefined;

  before(async () => {
    server = await startTestServer({ users: { bob: PASS } });
    const port = Number(server.sip.split(':')[1]);
    // The "voicemail" agent registers as bob too: the proxy forks bob's own SUBSCRIBE to it (and to baresip, which never answers).
    vm = await startUa(realClock, 'bob', { server: { host: '127.0.0.1', port }, password: PASS });
    await vm.ua.register(300);
  });
  after(async () => {
    await vm?.ua.close();
    await bare?.stop();
    await server?.stop();
  });

  test('baresip subscribes after registering; our first NOTIFY and a change reach it; it unsubscribes when it quits', async () => {
    vm.ua.on('subscribe', (s) => s.accept(3600, summary(1, 0), MWI));
    const offered = next(vm.ua, 'subscribe', 20_000);
    bare = await startBaresip({
      name: 'mwi-bob',
      account: `<sip:bob@${server.sip};transport=udp>;auth_pass=${PASS};regint=300;mwi=yes;answermode=manual;audio_codecs=PCMU/8000/1`,
      extraConfig: ['module_app      mwi.so'],
    });
    const [inc] = await offered.catch((e: unknown) => {
      throw new Error(`${(e as Error).message}; baresip log tail: ${bare?.log().slice(-3000)}`);
    });
    assert.equal(inc.event, 'message-summary');
    assert.match(inc.from, /^sip:bob@127\.0\.0\.1/);
    assert.deepEqual(inc.accepts, [MWI]);
    // baresip 1.0 reports message waiting in its log (menu.so: "----- MWI for <aor> -----" and the body), not on ctrl_tcp.
    await bare.waitFor(/----- MWI for sip:bob@127\.0\.0\.1:\d+ -----/, 10_000);
    await bare.waitFor(/Voice-Message: 1\/0 \(0\/0\)/, 10_000);
    const from = bare.log().length;
    assert.equal(await within(inc.notify(summary(2, 1), MWI), 5000), 200);
    await bare.waitFor(/Voice-Message: 2\/1 \(0\/0\)/, 10_000, from);
    const ended = next(inc, 'terminated', 10_000);
    await bare.stop();
    bare = undefined;
    assert.deepEqual(await ended, ['unsubscribed']);
  });
});
