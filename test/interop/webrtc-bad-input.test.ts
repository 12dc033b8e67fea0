/**
 * Issue 9's bad input, against a real server (startServer with the README's
 * WebRTC contract config, connect and consent timeouts shortened through
 * `webrtc:`) and a real `switchboard phone listen` as 1002: werift peers play
 * browsers that vanish mid-call (media gone; WebSocket gone), never complete
 * ICE, sign their offer with a fingerprint that is not their certificate's, or
 * offer what the gateway cannot use. Each must end with the SIP side told
 * (BYE/CANCEL, seen in the phone's --trace-sip), the failure counted by
 * reason (status and /metrics), the PBX's channels, ports and timers back to
 * 0 and the leg's UDP socket released.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { startServer, type RunningServer } from '../../src/cli/server.js';
import { heard } from '../helpers/pbx.js';
import { phoneTracker, type PhoneProcess } from '../helpers/phone.js';
import { freePort, isPortFree } from '../helpers/ports.js';
import { contractWebRtcYaml } from '../helpers/webrtc.js';
import { WsWebRtcBrowser } from '../helpers/ws-webrtc-browser.js';

const ALICE = 'Al1ce-long-pass-77';
const BOB = 'B0b-long-pass-88';
const CONNECT_S = 3;
const CONSENT_S = 3;

function udpHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'UDPWRAP').length;
}

async function eventually(check: () => boolean, what: () => string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail(`not within ${ms} ms: ${what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('WebRTC gateway: browsers that misbehave', { timeout: 180_000 }, () => {
  let server: RunningServer;
  let dataDir: string;
  let wsUrl: string;
  let sip: string;
  const phones = phoneTracker();
  const browsers: WsWebRtcBrowser[] = [];

  before(async () => {
    const ports = { sip: await freePort('both'), ws: await freePort('tcp'), admin: await freePort('tcp') };
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'sb-webrtc-bad-'));
    const yaml = contractWebRtcYaml(ports, `webrtc:\n  connect_timeout: ${CONNECT_S}\n  consent_timeout: ${CONSENT_S}\n`).replace('data: ./data', `data: ${dataDir}`);
    server = await startServer(parseConfig(yaml, path.join(dataDir, 'switchboard.yaml')));
    wsUrl = `ws://127.0.0.1:${ports.ws}/`;
    sip = `127.0.0.1:${ports.sip}`;
  });
  afterEach(async () => {
    for (const b of browsers.splice(0)) await b.close();
    await phones.stopAll();
  });
  after(async () => {
    await server?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const failures = (): Record<string, number> => server.status().webrtc?.failures ?? {};
  const counts = () => server.pbx!.counts();
  const idle = (): boolean => {
    const c = counts();
    return c.channels === 0 && c.mediaPorts === 0 && c.timers === 0;
  };

  const browser = async (): Promise<WsWebRtcBrowser> => {
    const b = await WsWebRtcBrowser.open(wsUrl, '1001', ALICE, '127.0.0.1');
    browsers.push(b);
    return b;
  };

  /** 1002 as `switchboard phone listen`, printing every SIP message it gets. */
  const bob = async (extra: string[]): Promise<PhoneProcess> => {
    const p = phones.start(['listen', '--server', sip, '--user', '1002', '--password', BOB, '--codec', 'pcmu', '--play', 'tone:1000', '--trace-sip', '--calls', '1', ...extra]);
    await p.waitFor(/^registered at/, 15_000);
    return p;
  };

  const metric = async (reason: string): Promise<number> => {
    const res = await fetch(`http://${server.admin.address}:${server.admin.port}/metrics`);
    const text = await res.text();
    const m = new RegExp(`^switchboard_webrtc_failures_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(text);
    assert.ok(m, `/metrics has switchboard_webrtc_failures_total{reason="${reason}"}`);
    return Number(m[1]);
  };

  /** Everything the leg held is released: PBX counts, the leg's UDP port, the process's UDP handles. */
  const cleanedUp = async (handlesBefore: number, legPort: number | undefined): Promise<void> => {
    await eventually(idle, () => JSON.stringify(counts()), 5000);
    for (const b of browsers.splice(0)) await b.close();
    if (legPort !== undefined) assert.ok(await isPortFree(legPort, 'udp'), `the leg's UDP port ${legPort} is free again`);
    await eventually(() => udpHandles() <= handlesBefore, () => `UDP handles ${udpHandles()}, before the call ${handlesBefore}`, 5000);
  };

  const legPort = (): number | undefined => {
    const leg = server.status().webrtc?.legs.find((l) => l.user === '1001');
    const local = leg?.selectedPair?.local;
    return local ? Number(local.slice(local.lastIndexOf(':') + 1)) : undefined;
  };

  test('offers the gateway cannot use get 488, leak nothing, and the server serves the next call', async () => {
    const handles = udpHandles();
    const phone = await bob(['--auto-answer']);
    const b = await browser();
    const offer = await b.makeOffer(['pcmu']);
    // No codec we speak.
    const noCodec = offer.replace(/^m=audio (\d+) (\S+) .*$/m, 'm=audio $1 $2 98').replace(/^a=rtpmap:0 PCMU\/8000\r?$/m, 'a=rtpmap:98 iLBC/8000');
    const r1 = await b.invite('1002', noCodec);
    assert.equal(r1.final.status, 488, `no common codec: ${r1.final.status} ${r1.final.reason}`);
    // No ICE credentials.
    const noIce = offer.replace(/^a=ice-(ufrag|pwd):.*\r?\n/gm, '');
    const r2 = await b.invite('1002', noIce);
    assert.equal(r2.final.status, 488, `no ICE credentials: ${r2.final.status} ${r2.final.reason}`);
    // No fingerprint: nothing to check the DTLS certificate against.
    const noFp = offer.replace(/^a=fingerprint:.*\r?\n/gm, '');
    const r3 = await b.invite('1002', noFp);
    assert.equal(r3.final.status, 488, `no fingerprint: ${r3.final.status} ${r3.final.reason}`);
    await b.close();
    browsers.length = 0;
    await eventually(idle, () => JSON.stringify(counts()), 5000);
    await eventually(() => udpHandles() <= handles, () => `UDP handles ${udpHandles()}, before ${handles}`, 5000);

    assert.doesNotMatch(phone.output(), /^INVITE sip:/m, 'the phone never rang for an offer the gateway cannot use');
    // The next call is served.
    const good = await browser();
    const res = await good.invite('1002', await good.makeOffer());
    assert.equal(res.final.status, 200, `${res.final.status} ${res.final.reason}`);
    await good.applyAnswer(res.final.body.toString('utf8'));
    await eventually(() => good.rtpIn > 10, () => `${good.rtpIn} RTP packets from the gateway`, 5000);
    await good.bye();
    await phone.waitFor(/^BYE sip:/, 5000);
    await eventually(idle, () => JSON.stringify(counts()), 5000);
  });

  test('a browser that never answers ICE checks: the call ends after connect_timeout, BYE both ways, counted connect-timeout', async () => {
    const before = failures()['connect-timeout'] ?? 0;
    const handles = udpHandles();
    const phone = await bob(['--auto-answer']);
    const b = await browser();
    const offer = await b.makeOffer();
    // Its sockets are gone before the first check arrives: nothing answers.
    await b.vanishMedia();
    const res = await b.invite('1002', offer);
    const t0 = Date.now();
    if (res.final.status === 200) {
      await b.next((m) => m.isRequest && m.method === 'BYE', (CONNECT_S + 5) * 1000);
    } else {
      assert.equal(res.final.status, 488, `${res.final.status} ${res.final.reason}`);
    }
    await phone.waitFor(/^(BYE|CANCEL) sip:/, (CONNECT_S + 5) * 1000);
    const took = Date.now() - t0;
    assert.ok(took <= (CONNECT_S + 3) * 1000, `the call ended ${took} ms after the answer (connect_timeout ${CONNECT_S} s)`);
    assert.equal(failures()['connect-timeout'], before + 1, JSON.stringify(failures()));
    assert.equal(await metric('connect-timeout'), before + 1);
    await cleanedUp(handles, undefined);
  });

  test('a DTLS certificate that does not match the offer\'s fingerprint ends the call, counted fingerprint-mismatch', async () => {
    const before = failures()['fingerprint-mismatch'] ?? 0;
    const handles = udpHandles();
    const phone = await bob(['--auto-answer']);
    const b = await browser();
    const offer = await b.makeOffer();
    const forged = offer.replace(/^(a=fingerprint:sha-256 )([0-9A-F:]+)/m, (_, head: string, fp: string) => head + fp.split(':').map((x) => ((parseInt(x, 16) + 1) & 0xff).toString(16).toUpperCase().padStart(2, '0')).join(':'));
    assert.notEqual(forged, offer, 'the fingerprint was changed');
    const res = await b.invite('1002', forged);
    assert.equal(res.final.status, 200, `${res.final.status} ${res.final.reason}`);
    // The peer does its part (ICE, its DTLS certificate); the gateway must refuse the certificate.
    await b.applyAnswer(res.final.body.toString('utf8'), 8000).catch(() => undefined);
    await phone.waitFor(/^BYE sip:/, (CONNECT_S + 5) * 1000);
    await b.next((m) => m.isRequest && m.method === 'BYE', 5000);
    assert.equal(failures()['fingerprint-mismatch'], before + 1, JSON.stringify(failures()));
    assert.equal(await metric('fingerprint-mismatch'), before + 1);
    await cleanedUp(handles, undefined);
  });

  test('a browser that vanishes mid-call (network gone, WebSocket still open): BYE to the phone within consent_timeout, counted consent-lost', async () => {
    const before = failures()['consent-lost'] ?? 0;
    const handles = udpHandles();
    const rec = path.join(dataDir, 'vanish.wav');
    const phone = await bob(['--auto-answer', '--record', rec]);
    const b = await browser();
    const res = await b.invite('1002', await b.makeOffer());
    assert.equal(res.final.status, 200, `${res.final.status} ${res.final.reason}`);
    await b.applyAnswer(res.final.body.toString('utf8'));
    b.startTone();
    await eventually(() => b.rtpIn >= 100, () => `${b.rtpIn} RTP packets from the gateway`, 8000);
    const port = legPort();
    assert.ok(port, 'status shows the leg\'s selected pair');
    const t0 = Date.now();
    await b.vanishMedia();
    await phone.waitFor(/^BYE sip:/, (CONSENT_S + 5) * 1000);
    const took = Date.now() - t0;
    assert.ok(took >= (CONSENT_S - 1) * 1000 && took <= (CONSENT_S + 3) * 1000, `BYE ${took} ms after the browser vanished (consent_timeout ${CONSENT_S} s)`);
    assert.equal(failures()['consent-lost'], before + 1, JSON.stringify(failures()));
    assert.equal(await metric('consent-lost'), before + 1);
    const r = await phone.exited;
    assert.equal(r.exitCode, 0, r.stdout);
    const got = await heard(rec, 440, 0.3, 1.5);
    assert.ok(got >= 0.6, `1002 heard the browser's 440 Hz in ${Math.round(got * 100)}% of frames before it vanished`);
    await cleanedUp(handles, port);
  });

  test('the browser\'s WebSocket dies while its media flows: the call ends at once, BYE to the phone, counted flow-closed', async () => {
    const before = failures()['flow-closed'] ?? 0;
    const handles = udpHandles();
    const phone = await bob(['--auto-answer']);
    const b = await browser();
    await b.register();
    const res = await b.invite('1002', await b.makeOffer());
    assert.equal(res.final.status, 200, `${res.final.status} ${res.final.reason}`);
    await b.applyAnswer(res.final.body.toString('utf8'));
    b.startTone();
    await eventually(() => b.rtpIn >= 50, () => `${b.rtpIn} RTP packets from the gateway`, 8000);
    const port = legPort();
    const t0 = Date.now();
    b.dropWebSocket();
    await phone.waitFor(/^BYE sip:/, 5000);
    const took = Date.now() - t0;
    assert.ok(took < 2000, `BYE ${took} ms after the WebSocket died`);
    assert.equal(failures()['flow-closed'], before + 1, JSON.stringify(failures()));
    assert.equal(await metric('flow-closed'), before + 1);
    assert.equal(server.registrar.lookup('1001').length, 0, 'the browser\'s registration went with its WebSocket');
    await cleanedUp(handles, port);
  });
});
