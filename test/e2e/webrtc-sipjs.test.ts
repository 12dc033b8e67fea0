/**
 * Interop beyond our own page: SIP.js 0.21 in headless Chromium against the
 * WebRTC gateway (the README's contract config). SIP.js differs from the
 * JsSIP page on the wire — the Via transport named after the URL scheme
 * (`SIP/2.0/WS` over ws://, `SIP/2.0/WSS` over wss://) with a random
 * `.invalid` host, a random Contact user with `;ob` on dialogs, its own SDP
 * and auth order — so the contract's cases run here with SIP.js: register,
 * call a `switchboard phone` (PCMU, 1000 Hz) and hear each other (over ws://
 * and over wss://, the listener's self-signed certificate), DTMF both as
 * RFC 4733 (RTCDTMFSender) and as SIP INFO, be called and auto-answer, and
 * a BYE from either side ends both. The page (test/e2e/pages/sipjs-phone.ts)
 * is bundled with esbuild when the test starts, inlined into one HTML page
 * served from 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { build } from 'esbuild';
import type { Page } from 'playwright-core';
import { CliSession, explain, ROOT, started } from '../helpers/cli.js';
import { heard } from '../helpers/pbx.js';
import { phoneTracker } from '../helpers/phone.js';
import { freePort } from '../helpers/ports.js';
import { isLoopbackPair, launchBrowser, remoteTone, requireBrowser, selectedPair, serveHtml, type StaticServer, type TestBrowser } from '../helpers/browser.js';
import type { StatusReport } from '../../src/cli/server.js';
import { contractWebRtcYaml, waitStatus } from '../helpers/webrtc.js';

const ALICE = 'Al1ce-long-pass-77';
const BOB = 'B0b-long-pass-88';
const CAROL = 'C4rol-long-pass-99';

/** SIP.js and the page around it as one HTML document (the bundle inlined: no second file to serve). */
async function sipJsPageHtml(): Promise<string> {
  const out = await build({
    entryPoints: [path.join(ROOT, 'test/e2e/pages/sipjs-phone.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome109'],
    write: false,
    logLevel: 'warning',
  });
  const js = out.outputFiles[0].text;
  assert.ok(!/<\/script/i.test(js), 'the bundle can be inlined in a <script> element');
  return `<!doctype html><html><head><meta charset="utf-8"><title>SIP.js phone</title></head><body>
<div id="status" role="status" aria-live="polite"></div><audio id="remote-audio" autoplay></audio>
<script type="module">${js}</script></body></html>`;
}

async function sipLog(page: Page): Promise<string> {
  const lines = await page.evaluate(() => (window as unknown as { sipjs: { log: string[] } }).sipjs.log.slice(-12));
  return lines.join('\n').slice(-6000);
}

describe('SIP.js 0.21 in Chromium through the WebRTC gateway', { skip: requireBrowser(), timeout: 300_000 }, () => {
  let cli: CliSession;
  let browser: TestBrowser;
  let site: StaticServer;
  let page: Page;
  let admin: string;
  let ws: string;
  let wss: string;
  const phones = phoneTracker();
  const bob = ['--server', '', '--user', '1002', '--password', BOB];

  before(async () => {
    cli = new CliSession();
    const ports = { sip: await freePort('both'), ws: await freePort('tcp'), admin: await freePort('tcp') };
    const wssPort = await freePort('tcp');
    admin = `127.0.0.1:${ports.admin}`;
    ws = `ws://127.0.0.1:${ports.ws}`;
    wss = `wss://127.0.0.1:${wssPort}`;
    bob[1] = `127.0.0.1:${ports.sip}`;
    const configFile = path.join(cli.dir, 'switchboard.yaml');
    // The contract plus a wss: listener (its self-signed certificate) and a third user, which
    // ends the contract's `users:` map.
    const yaml = contractWebRtcYaml(ports, `  "1003": { password: "${CAROL}" }\n`).replace(`ws:127.0.0.1:${ports.ws}`, `ws:127.0.0.1:${ports.ws}, wss:127.0.0.1:${wssPort}`);
    assert.match(yaml, /wss:127\.0\.0\.1/);
    writeFileSync(configFile, yaml);
    await started(cli.serve(['--config', configFile], /serving|listening/));
    site = await serveHtml(await sipJsPageHtml());
    // The wss: listener's certificate is self-signed.
    browser = await launchBrowser({ micToneHz: 440, args: ['--ignore-certificate-errors'] });
    page = await browser.newPage();
    await page.goto(site.url);
    await waitStatus(page, /^Ready$/, 10_000);
  });
  after(async () => {
    await phones.stopAll();
    await browser?.close();
    await site?.close();
    await cli?.close();
  });

  const statusJson = async (): Promise<StatusReport> => {
    const r = await cli.run(['status', '--json', '--admin', admin]);
    assert.equal(r.exitCode, 0, explain(r));
    return JSON.parse(r.stdout) as StatusReport;
  };

  /** Polls until no browser leg is left (the gateway tears legs down after the BYE). */
  async function noLegsLeft(): Promise<void> {
    let s = await statusJson();
    for (let i = 0; i < 20 && (s.webrtc?.legs.length ?? 0) > 0; i++) {
      await page.waitForTimeout(250);
      s = await statusJson();
    }
    assert.deepEqual(s.webrtc?.legs, [], `no WebRTC leg left after the call: ${JSON.stringify(s.webrtc)}`);
  }

  test('SIP.js registers as 1001 over the WebSocket (status --json: transport ws)', async () => {
    await page.evaluate(
      (o) => (window as unknown as { sipjs: { register(x: typeof o): Promise<void> } }).sipjs.register(o),
      { server: ws, user: '1001', password: ALICE, domain: '127.0.0.1' },
    );
    await waitStatus(page, /^Registered$/, 5000);
    const s = await statusJson();
    const reg = s.registrations.find((r) => r.aor.startsWith('sip:1001@'));
    assert.ok(reg, `1001 is registered: ${JSON.stringify(s.registrations)}`);
    assert.equal(reg.transport, 'ws');
    // SIP.js's Contact is an unreachable `.invalid` host: calls to it must use the WebSocket flow.
    assert.match(reg.contact, /\.invalid/, `SIP.js's own Contact is stored: ${reg.contact}`);
    // What makes this interop: SIP.js's transport tokens, not JsSIP's.
    const sent = (await page.evaluate(() => (window as unknown as { sipjs: { log: string[] } }).sipjs.log)).find((l) => /^Sending WebSocket message:\s+REGISTER /.test(l));
    // (SIP.js names the Via transport after the URL scheme: WS over ws://, WSS over wss:// below.)
    assert.match(sent ?? '', /^Via: SIP\/2\.0\/WS [^\r\n]*\.invalid;/m, `SIP.js's REGISTER: ${sent}`);
  });

  test('SIP.js calls 1002 (PCMU phone): both tones cross, DTMF as RFC 4733 and as INFO, SIP.js BYE ends both', async () => {
    const rec = path.join(cli.dir, 'bob-from-sipjs.wav');
    const phone = phones.start(['listen', ...bob, '--codec', 'pcmu', '--play', 'tone:1000', '--auto-answer', '--record', rec, '--calls', '1']);
    await phone.waitFor(/^registered at/, 15_000);
    await page.evaluate(() => (window as unknown as { sipjs: { call(t: string): void } }).sipjs.call('1002'));
    try {
      await waitStatus(page, /^In call$/, 20_000);
    } catch (err) {
      assert.fail(`SIP.js call to 1002 not answered (${String(err)}):\n${await sipLog(page)}\n--- phone:\n${phone.output().slice(-2000)}`);
    }
    await page.waitForTimeout(1000);
    const tone = await remoteTone(page, 1000, 3000);
    assert.ok(tone.presence >= 0.7, `SIP.js heard 1000 Hz in ${Math.round(tone.presence * 100)}% of frames (${tone.levelDbfs.toFixed(1)} dBFS)`);
    const pair = await selectedPair(page, 'window.sipjs.pc()');
    assert.ok(isLoopbackPair(pair), `SIP.js's pair runs on loopback: ${JSON.stringify(pair)}`);
    const s = await statusJson();
    const leg = s.webrtc?.legs.find((l) => l.user === '1001');
    assert.ok(leg, `a WebRTC leg for 1001: ${JSON.stringify(s.webrtc)}`);
    assert.equal(leg.ice, 'connected');
    assert.equal(leg.dtls, 'connected');

    const dtmf = (digit: string, how: 'rfc4733' | 'info'): Promise<boolean> =>
      page.evaluate(({ digit, how }) => (window as unknown as { sipjs: { dtmf(d: string, h: string): Promise<boolean> } }).sipjs.dtmf(digit, how), { digit, how });
    assert.equal(await dtmf('5', 'rfc4733'), true, 'RTCDTMFSender took the key');
    await phone.waitFor(/DTMF received: 5/, 5000);
    assert.equal(await dtmf('7', 'info'), true, 'the INFO was sent');
    try {
      await phone.waitFor(/DTMF received: 7/, 5000);
    } catch (err) {
      assert.fail(`SIP.js's INFO key 7 did not reach the phone (${String(err)}):\n${await sipLog(page)}\n--- phone:\n${phone.output().slice(-1500)}`);
    }

    await page.evaluate(() => (window as unknown as { sipjs: { hangup(): Promise<void> } }).sipjs.hangup());
    await waitStatus(page, /^Call ended$/, 10_000);
    const r = await phone.exited;
    assert.equal(r.exitCode, 0, explain(r));
    const got = await heard(rec, 440, 1);
    assert.ok(got >= 0.7, `1002 heard SIP.js's 440 Hz in ${Math.round(got * 100)}% of frames`);
    await noLegsLeft();
  });

  test('1002 calls SIP.js: it answers by itself, both tones cross, the phone BYE ends both', async () => {
    const rec = path.join(cli.dir, 'bob-to-sipjs.wav');
    const phone = phones.start(['call', '1001', ...bob, '--codec', 'pcmu', '--play', 'tone:1000', '--record', rec, '--duration', '6']);
    try {
      await waitStatus(page, /^Incoming call from 1002$/, 15_000);
      await waitStatus(page, /^In call$/, 10_000);
    } catch (err) {
      assert.fail(`the call to SIP.js did not connect (${String(err)}):\n${await sipLog(page)}\n--- phone:\n${phone.output().slice(-2000)}`);
    }
    await page.waitForTimeout(1000);
    const tone = await remoteTone(page, 1000, 2500);
    assert.ok(tone.presence >= 0.7, `SIP.js heard 1000 Hz in ${Math.round(tone.presence * 100)}% of frames`);
    const r = await phone.exited;
    assert.equal(r.exitCode, 0, explain(r));
    await waitStatus(page, /^Call ended$/, 10_000);
    const got = await heard(rec, 440, 1);
    assert.ok(got >= 0.7, `1002 heard SIP.js's 440 Hz in ${Math.round(got * 100)}% of frames`);
    await noLegsLeft();
  });

  test('SIP.js over wss:// (Via SIP/2.0/WSS) registers as 1003 and calls 1002: both tones cross, SIP.js BYE ends both', async () => {
    const p2 = await browser.newPage();
    try {
      await p2.goto(site.url);
      await waitStatus(p2, /^Ready$/, 10_000);
      await p2.evaluate(
        (o) => (window as unknown as { sipjs: { register(x: typeof o): Promise<void> } }).sipjs.register(o),
        { server: wss, user: '1003', password: CAROL, domain: '127.0.0.1' },
      );
      await waitStatus(p2, /^Registered$/, 5000);
      const sent = (await p2.evaluate(() => (window as unknown as { sipjs: { log: string[] } }).sipjs.log)).find((l) => /^Sending WebSocket message:\s+REGISTER /.test(l));
      assert.match(sent ?? '', /^Via: SIP\/2\.0\/WSS [^\r\n]*\.invalid;/m, `SIP.js's REGISTER over wss: ${sent}`);
      const s = await statusJson();
      const reg = s.registrations.find((r) => r.aor.startsWith('sip:1003@'));
      assert.equal(reg?.transport, 'wss', JSON.stringify(s.registrations));

      const rec = path.join(cli.dir, 'bob-from-sipjs-wss.wav');
      const phone = phones.start(['listen', ...bob, '--codec', 'pcmu', '--play', 'tone:1000', '--auto-answer', '--record', rec, '--calls', '1']);
      await phone.waitFor(/^registered at/, 15_000);
      await p2.evaluate(() => (window as unknown as { sipjs: { call(t: string): void } }).sipjs.call('1002'));
      try {
        await waitStatus(p2, /^In call$/, 20_000);
      } catch (err) {
        assert.fail(`SIP.js (wss) call to 1002 not answered (${String(err)}):\n${await sipLog(p2)}\n--- phone:\n${phone.output().slice(-2000)}`);
      }
      await p2.waitForTimeout(1000);
      const tone = await remoteTone(p2, 1000, 2500);
      assert.ok(tone.presence >= 0.7, `SIP.js (wss) heard 1000 Hz in ${Math.round(tone.presence * 100)}% of frames`);
      await p2.evaluate(() => (window as unknown as { sipjs: { hangup(): Promise<void> } }).sipjs.hangup());
      await waitStatus(p2, /^Call ended$/, 10_000);
      const r = await phone.exited;
      assert.equal(r.exitCode, 0, explain(r));
      const got = await heard(rec, 440, 1);
      assert.ok(got >= 0.7, `1002 heard SIP.js's 440 Hz in ${Math.round(got * 100)}% of frames`);
      await noLegsLeft();
    } finally {
      await p2.close();
    }
  });
});
