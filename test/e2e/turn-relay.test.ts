/**
 * The TURN harness: Debian coturn on 127.0.0.1 (test/helpers/coturn.ts) and
 * headless Chromium forced to relay (`iceTransportPolicy: 'relay'`) calling a
 * werift peer that echoes its audio. The call must connect over a relay
 * candidate, coturn must have made the allocation, and the 440 Hz microphone
 * tone must come back through it. Both credential kinds the gateway hands
 * the page are exercised: long-term static users and TURN REST credentials
 * from a shared secret (and a wrong one is refused).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isLoopbackPair, launchBrowser, pageAnswer, pageOffer, remoteTone, requireBrowser, selectedPair, serveHtml, type PageIceServer, type StaticServer, type TestBrowser } from '../helpers/browser.js';
import { startCoturn, turnRestCredentials, type Coturn } from '../helpers/coturn.js';
import { requirePeers } from '../helpers/peers.js';
import { echoAnswer, type EchoPeer } from '../helpers/werift-peer.js';

const skip = requireBrowser() ?? requirePeers('turnserver');
const USER = 'alice';
const PASS = 'Turn-long-pass-4471';
const SECRET = 'shared-turn-secret-9c2e71';

describe('TURN relay through coturn (Chromium forced to relay, werift echo peer)', { skip, timeout: 180_000 }, () => {
  let site: StaticServer;
  let browser: TestBrowser;
  before(async () => {
    site = await serveHtml();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await site?.close();
  });

  async function relayedCall(turn: Coturn, server: PageIceServer): Promise<void> {
    const page = await browser.newPage();
    let peer: EchoPeer | undefined;
    try {
      await page.goto(site.url);
      const offer = await pageOffer(page, { iceServers: [server], iceTransportPolicy: 'relay' });
      assert.match(offer, /^a=candidate:.* typ relay/m, `Chromium got a relay candidate from coturn:\n${offer}\n--- coturn:\n${turn.log().slice(-2000)}`);
      assert.doesNotMatch(offer, /^a=candidate:.* typ (host|srflx)/m, 'relay policy: no host candidate is offered');
      peer = await echoAnswer(offer);
      await pageAnswer(page, peer.answer);
      const sel = await selectedPair(page, 'window.pc');
      assert.equal(sel?.localType, 'relay', `the selected pair is relayed: ${JSON.stringify(sel)}`);
      assert.ok(isLoopbackPair(sel), `relayed on loopback: ${JSON.stringify(sel)}`);
      assert.ok(turn.allocations() >= 1, `coturn logged an allocation:\n${turn.log().slice(-2000)}`);

      const heard = await remoteTone(page, 440, 2000);
      assert.ok(peer.received() > 50, `werift received ${peer.received()} RTP packets through the relay`);
      assert.ok(heard.presence >= 0.9, `440 Hz back through the relay in ${(heard.presence * 100).toFixed(0)}% of frames (level ${heard.levelDbfs.toFixed(1)} dBFS)`);
    } finally {
      await peer?.close();
      await page.close();
    }
  }

  test('long-term credentials (static user): connects over a relay candidate and audio crosses', async () => {
    const turn = await startCoturn({ auth: { kind: 'static', users: { [USER]: PASS } } });
    try {
      await relayedCall(turn, { urls: turn.url, username: USER, credential: PASS });
    } finally {
      await turn.stop();
    }
  });

  test('TURN REST credentials from the shared secret: connect; ones made with another secret get no relay', async () => {
    const turn = await startCoturn({ auth: { kind: 'secret', secret: SECRET } });
    try {
      await relayedCall(turn, { urls: turn.url, ...turnRestCredentials(SECRET, '1001') });

      const page = await browser.newPage();
      try {
        await page.goto(site.url);
        const offer = await pageOffer(page, { iceServers: [{ urls: turn.url, ...turnRestCredentials('not-the-secret', '1001') }], iceTransportPolicy: 'relay' });
        assert.doesNotMatch(offer, /^a=candidate:/m, 'a wrong credential gets no relay candidate');
      } finally {
        await page.close();
      }
    } finally {
      await turn.stop();
    }
  });
});
