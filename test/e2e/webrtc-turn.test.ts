/**
 * The gateway's ICE servers in use: `webrtc.ice_servers` names a Debian
 * coturn on 127.0.0.1 and `webrtc.ice_transport_policy: relay` makes the
 * browser phone (src/web/phone, which learns both from /phone/config.json)
 * use relay candidates only. The page calls a `switchboard phone` and the
 * tones cross both ways through coturn; that the media really went through
 * the relay is read from outside the page: the gateway's browser leg
 * (`status --json` webrtc.legs[].selectedPair) has coturn's relayed address
 * (127.0.0.1 on coturn's relay port range) as its remote end, and coturn
 * logged an allocation for the call. Our side (werift) uses no TURN itself.
 * Both credential kinds: TURN REST from coturn's static-auth-secret, and a
 * static username/credential; and a wrong secret makes the call fail
 * cleanly (page `Call ended`, no leg left, a failure counted, the phone
 * released by BYE or CANCEL).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { CliSession, explain, started } from '../helpers/cli.js';
import { startCoturn, type Coturn } from '../helpers/coturn.js';
import { heard } from '../helpers/pbx.js';
import { requirePeers } from '../helpers/peers.js';
import { phoneTracker } from '../helpers/phone.js';
import { freePort } from '../helpers/ports.js';
import { launchBrowser, remoteTone, requireBrowser, type TestBrowser } from '../helpers/browser.js';
import type { StatusReport } from '../../src/cli/server.js';
import { contractWebRtcYaml, waitStatus } from '../helpers/webrtc.js';

const ALICE = 'Al1ce-long-pass-77';
const BOB = 'B0b-long-pass-88';
const SECRET = 'coturn-static-auth-7f3a91c2';
const TURN_USER = 'webphone';
const TURN_PASS = 'Turn-long-pass-5128';

interface Gateway {
  cli: CliSession;
  page: Page;
  admin: string;
  bob: string[];
  status(): Promise<StatusReport>;
  close(): Promise<void>;
}

interface PageConfigJson {
  iceServers?: { urls: string | string[]; username?: string; credential?: string }[];
  iceTransportPolicy?: string;
}

describe('TURN relay through coturn: the browser phone forced to relay by the gateway config', { skip: requireBrowser() ?? requirePeers('turnserver'), timeout: 300_000 }, () => {
  let browser: TestBrowser;
  const phones = phoneTracker();
  before(async () => {
    browser = await launchBrowser({ micToneHz: 440 });
  });
  after(async () => {
    await phones.stopAll();
    await browser?.close();
  });

  /** `switchboard serve` with the contract config plus `webrtcYaml`, and the page registered as 1001. */
  async function gateway(webrtcYaml: string): Promise<Gateway> {
    const cli = new CliSession();
    const ports = { sip: await freePort('both'), ws: await freePort('tcp'), admin: await freePort('tcp') };
    const admin = `127.0.0.1:${ports.admin}`;
    const configFile = path.join(cli.dir, 'switchboard.yaml');
    writeFileSync(configFile, contractWebRtcYaml(ports, webrtcYaml));
    const page = await browser.newPage();
    const close = async (): Promise<void> => {
      await page.close();
      await cli.close();
    };
    try {
      await started(cli.serve(['--config', configFile], /serving|listening/));
      await page.goto(`http://127.0.0.1:${ports.ws}/phone/`);
      await page.getByLabel('User', { exact: true }).fill('1001');
      await page.getByLabel('Password', { exact: true }).fill(ALICE);
      await page.getByRole('button', { name: 'Register', exact: true }).click();
      await waitStatus(page, /^Registered$/, 15_000);
    } catch (err) {
      await close();
      throw err;
    }
    return {
      cli,
      page,
      admin,
      bob: ['--server', `127.0.0.1:${ports.sip}`, '--user', '1002', '--password', BOB],
      async status() {
        const r = await cli.run(['status', '--json', '--admin', admin]);
        assert.equal(r.exitCode, 0, explain(r));
        return JSON.parse(r.stdout) as StatusReport;
      },
      close,
    };
  }

  async function pageConfig(page: Page): Promise<PageConfigJson> {
    return page.evaluate(async () => (await (await fetch('/phone/config.json', { cache: 'no-store' })).json()) as PageConfigJson);
  }

  /** The page calls 1002; both tones cross; the gateway's leg is paired with coturn's relayed address. */
  async function relayedCall(gw: Gateway, turn: Coturn): Promise<void> {
    const allocationsBefore = turn.allocations();
    const rec = path.join(gw.cli.dir, `bob-${turn.port}.wav`);
    const phone = phones.start(['listen', ...gw.bob, '--codec', 'pcmu', '--play', 'tone:1000', '--auto-answer', '--record', rec, '--calls', '1']);
    await phone.waitFor(/^registered at/, 15_000);
    await gw.page.getByLabel('Number', { exact: true }).fill('1002');
    await gw.page.getByRole('button', { name: 'Call', exact: true }).click();
    try {
      await waitStatus(gw.page, /^In call$/, 25_000);
    } catch (err) {
      const s = await gw.status();
      assert.fail(`the relayed call did not connect (${String(err)}); webrtc ${JSON.stringify(s.webrtc)}\n--- coturn:\n${turn.log().slice(-2500)}`);
    }
    await gw.page.waitForTimeout(1000);
    const tone = await remoteTone(gw.page, 1000, 3000);
    assert.ok(tone.presence >= 0.7, `the page heard 1000 Hz through the relay in ${Math.round(tone.presence * 100)}% of frames (${tone.levelDbfs.toFixed(1)} dBFS)`);

    const s = await gw.status();
    const leg = s.webrtc?.legs.find((l) => l.user === '1001');
    assert.ok(leg, `a WebRTC leg for 1001: ${JSON.stringify(s.webrtc)}`);
    assert.equal(leg.ice, 'connected');
    assert.equal(leg.dtls, 'connected');
    // The browser's only candidates are relayed ones: our side sees coturn's relay address as the browser.
    const m = /^127\.0\.0\.1:(\d+)$/.exec(leg.selectedPair?.remote ?? '');
    assert.ok(m, `the leg's remote end is on 127.0.0.1: ${JSON.stringify(leg.selectedPair)}`);
    const port = Number(m[1]);
    assert.ok(port >= turn.relayPorts.min && port <= turn.relayPorts.max, `the leg's remote end ${leg.selectedPair?.remote} is a coturn relay port (${turn.relayPorts.min}-${turn.relayPorts.max})`);
    assert.ok(turn.allocations() > allocationsBefore, `coturn allocated a relay for the call:\n${turn.log().slice(-2000)}`);

    await gw.page.getByRole('button', { name: 'Hang up', exact: true }).click();
    await waitStatus(gw.page, /^Call ended$/, 10_000);
    const r = await phone.exited;
    assert.equal(r.exitCode, 0, explain(r));
    const got = await heard(rec, 440, 1);
    assert.ok(got >= 0.7, `1002 heard the browser's 440 Hz through the relay in ${Math.round(got * 100)}% of frames`);
  }

  test('TURN REST credentials from the shared secret: the page relays through coturn, tones cross both ways', async () => {
    const turn = await startCoturn({ auth: { kind: 'secret', secret: SECRET } });
    let gw: Gateway | undefined;
    try {
      gw = await gateway(`webrtc:\n  ice_transport_policy: relay\n  ice_servers:\n    - { urls: "turn:127.0.0.1:${turn.port}", secret: ${SECRET} }\n`);
      const cfg = await pageConfig(gw.page);
      assert.equal(cfg.iceTransportPolicy, 'relay', JSON.stringify(cfg));
      const server = cfg.iceServers?.[0];
      assert.match(server?.username ?? '', /^\d{10,}:/, `time-limited TURN REST username: ${JSON.stringify(cfg)}`);
      assert.ok(Number(server?.username?.split(':')[0]) > Date.now() / 1000, 'the credential expires in the future');
      assert.ok(!JSON.stringify(cfg).includes(SECRET), 'the shared secret itself never reaches the page');
      await relayedCall(gw, turn);
    } finally {
      await gw?.close();
      await turn.stop();
    }
  });

  test('static username/credential in ice_servers: the page relays through coturn, tones cross both ways', async () => {
    const turn = await startCoturn({ auth: { kind: 'static', users: { [TURN_USER]: TURN_PASS } } });
    let gw: Gateway | undefined;
    try {
      gw = await gateway(
        `webrtc:\n  ice_transport_policy: relay\n  ice_servers:\n    - { urls: "turn:127.0.0.1:${turn.port}", username: ${TURN_USER}, credential: ${TURN_PASS} }\n`,
      );
      const cfg = await pageConfig(gw.page);
      const server = cfg.iceServers?.[0];
      assert.deepEqual(
        { urls: [server?.urls ?? []].flat(), username: server?.username, credential: server?.credential },
        { urls: [`turn:127.0.0.1:${turn.port}`], username: TURN_USER, credential: TURN_PASS },
        JSON.stringify(cfg),
      );
      await relayedCall(gw, turn);
    } finally {
      await gw?.close();
      await turn.stop();
    }
  });

  test('a wrong secret: no relay, the call fails cleanly (Call ended, no leg left, a failure counted, the phone released)', async () => {
    const turn = await startCoturn({ auth: { kind: 'secret', secret: SECRET } });
    let gw: Gateway | undefined;
    try {
      gw = await gateway(`webrtc:\n  ice_transport_policy: relay\n  ice_servers:\n    - { urls: "turn:127.0.0.1:${turn.port}", secret: not-${SECRET} }\n`);
      const before = await gw.status();
      const failuresBefore = Object.values(before.webrtc?.failures ?? {}).reduce((a, b) => a + b, 0);
      const phone = phones.start(['listen', ...gw.bob, '--codec', 'pcmu', '--play', 'tone:1000', '--auto-answer', '--calls', '1']);
      await phone.waitFor(/^registered at/, 15_000);
      await gw.page.getByLabel('Number', { exact: true }).fill('1002');
      await gw.page.getByRole('button', { name: 'Call', exact: true }).click();
      // ICE + DTLS must be up within the leg's connect timeout (15 s); then the gateway ends the call.
      await waitStatus(gw.page, /^Call ended$/, 40_000);
      assert.equal(turn.allocations(), 0, `coturn refused every allocation:\n${turn.log().slice(-2000)}`);
      await phone.waitFor(/call ended by the other side|cancel/i, 10_000);
      let s = await gw.status();
      for (let i = 0; i < 20 && (s.webrtc?.legs.length ?? 0) > 0; i++) {
        await gw.page.waitForTimeout(250);
        s = await gw.status();
      }
      assert.deepEqual(s.webrtc?.legs, [], `no WebRTC leg left: ${JSON.stringify(s.webrtc)}`);
      const failures = Object.values(s.webrtc?.failures ?? {}).reduce((a, b) => a + b, 0);
      assert.equal(failures, failuresBefore + 1, `one WebRTC failure counted: ${JSON.stringify(s.webrtc?.failures)}`);
      assert.equal(s.dialogs.length, 0, `no dialog left: ${JSON.stringify(s.dialogs)}`);
      await phone.stop();
    } finally {
      await gw?.close();
      await turn.stop();
    }
  });
});
