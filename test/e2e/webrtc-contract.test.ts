/**
 * Issue 9's contract, as a new user tries it: `switchboard serve` with the
 * README's WebRTC config (ports moved to free ones), the browser phone at
 * /phone/ in headless Debian Chromium whose fake microphone plays 440 Hz, and
 * `switchboard phone` as 1002 playing 1000 Hz. Audio is checked by tone on
 * both sides: the page's remote stream through WebAudio, the phone's
 * recording from its WAV.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { CliSession, explain, started } from '../helpers/cli.js';
import { heard } from '../helpers/pbx.js';
import { phoneTracker } from '../helpers/phone.js';
import { freePort } from '../helpers/ports.js';
import { launchBrowser, remoteTone, requireBrowser, type TestBrowser } from '../helpers/browser.js';
import type { StatusReport } from '../../src/cli/server.js';
import { contractWebRtcYaml, waitStatus } from '../helpers/webrtc.js';

const ALICE = 'Al1ce-long-pass-77';
const BOB = 'B0b-long-pass-88';

async function status(page: Page): Promise<string> {
  return (await page.getByRole('status').innerText()).trim();
}

describe('the WebRTC contract: the browser phone and switchboard phone', { timeout: 240_000 }, () => {
  let cli: CliSession;
  let browser: TestBrowser;
  let page: Page;
  let sip: string;
  let admin: string;
  let configFile: string;
  const phones = phoneTracker();
  const bob = ['--server', '', '--user', '1002', '--password', BOB];

  before(async () => {
    const missing = requireBrowser();
    if (missing) return;
    cli = new CliSession();
    const ports = { sip: await freePort('both'), ws: await freePort('tcp'), admin: await freePort('tcp') };
    sip = `127.0.0.1:${ports.sip}`;
    admin = `127.0.0.1:${ports.admin}`;
    bob[1] = sip;
    configFile = path.join(cli.dir, 'switchboard.yaml');
    writeFileSync(configFile, contractWebRtcYaml(ports));
    await started(cli.serve(['--config', configFile], /serving|listening/));
    browser = await launchBrowser({ micToneHz: 440 });
    page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${ports.ws}/phone/`);
    await page.getByLabel('User', { exact: true }).fill('1001');
    await page.getByLabel('Password', { exact: true }).fill(ALICE);
    await page.getByRole('button', { name: 'Register', exact: true }).click();
    await waitStatus(page, /^Registered$/, 15_000);
  });
  after(async () => {
    await phones.stopAll();
    await browser?.close();
    await cli?.close();
  });

  const statusJson = async (): Promise<StatusReport> => {
    const r = await cli.run(['status', '--json', '--admin', admin]);
    assert.equal(r.exitCode, 0, explain(r));
    return JSON.parse(r.stdout) as StatusReport;
  };

  test('switchboard status --json lists 1001 with transport ws', async () => {
    const s = await statusJson();
    const reg = s.registrations.find((r) => r.aor.startsWith('sip:1001@'));
    assert.ok(reg, `1001 is registered: ${JSON.stringify(s.registrations)}`);
    assert.equal(reg.transport, 'ws');
  });

  test('the page calls 1002 (PCMU phone): both tones cross, keypad 5 reaches the phone', async () => {
    const rec = path.join(cli.dir, 'bob-pcmu.wav');
    const phone = phones.start(['listen', ...bob, '--codec', 'pcmu', '--play', 'tone:1000', '--auto-answer', '--record', rec, '--calls', '1']);
    await phone.waitFor(/^registered at/, 15_000);
    await page.getByLabel('Number', { exact: true }).fill('1002');
    await page.getByRole('button', { name: 'Call', exact: true }).click();
    await waitStatus(page, /^In call$/, 20_000);
    // The first packets take a moment to fill the browser's jitter buffer.
    await page.waitForTimeout(1000);
    const tone = await remoteTone(page, 1000, 3000);
    assert.ok(tone.presence >= 0.7, `the page heard 1000 Hz in ${Math.round(tone.presence * 100)}% of frames (${tone.levelDbfs.toFixed(1)} dBFS)`);
    const s = await statusJson();
    assert.ok(s.webrtc, 'status has a webrtc section');
    const leg = s.webrtc.legs.find((l) => l.user === '1001');
    assert.ok(leg, `a WebRTC leg for 1001: ${JSON.stringify(s.webrtc)}`);
    assert.equal(leg.ice, 'connected');
    assert.equal(leg.dtls, 'connected');
    assert.ok(leg.selectedPair?.local.startsWith('127.0.0.1:'), `selected pair ${JSON.stringify(leg.selectedPair)}`);
    await page.getByRole('button', { name: '5', exact: true }).click();
    await phone.waitFor(/DTMF received: 5/, 5000);
    await page.getByRole('button', { name: 'Hang up', exact: true }).click();
    await waitStatus(page, /^Call ended$/, 10_000);
    const r = await phone.exited;
    assert.equal(r.exitCode, 0, explain(r));
    const got = await heard(rec, 440, 1);
    assert.ok(got >= 0.7, `1002 heard the browser's 440 Hz in ${Math.round(got * 100)}% of frames`);
  });

  test('1002 calls 1001: the page shows the caller, Answer connects, both tones cross', async () => {
    const rec = path.join(cli.dir, 'bob-calls.wav');
    const phone = phones.start(['call', '1001', ...bob, '--codec', 'pcmu', '--play', 'tone:1000', '--record', rec, '--duration', '6']);
    await waitStatus(page, /^Incoming call from 1002$/, 15_000);
    await page.getByRole('button', { name: 'Answer', exact: true }).click();
    await waitStatus(page, /^In call$/, 10_000);
    await page.waitForTimeout(1000);
    const tone = await remoteTone(page, 1000, 2500);
    assert.ok(tone.presence >= 0.7, `the page heard 1000 Hz in ${Math.round(tone.presence * 100)}% of frames`);
    const r = await phone.exited;
    assert.equal(r.exitCode, 0, explain(r));
    await waitStatus(page, /^Call ended$/, 10_000);
    const got = await heard(rec, 440, 1);
    assert.ok(got >= 0.7, `1002 heard the browser's 440 Hz in ${Math.round(got * 100)}% of frames`);
  });

  test('with --codec opus on the phone the Opus packets cross untranscoded', async () => {
    const rec = path.join(cli.dir, 'bob-opus.wav');
    const phone = phones.start(['listen', ...bob, '--codec', 'opus', '--play', 'tone:1000', '--auto-answer', '--record', rec, '--calls', '1']);
    await phone.waitFor(/^registered at/, 15_000);
    await page.getByLabel('Number', { exact: true }).fill('1002');
    await page.getByRole('button', { name: 'Call', exact: true }).click();
    await waitStatus(page, /^In call$/, 20_000);
    await page.waitForTimeout(1000);
    const tone = await remoteTone(page, 1000, 2500);
    assert.ok(tone.presence >= 0.7, `the page heard 1000 Hz in ${Math.round(tone.presence * 100)}% of frames`);
    const s = await statusJson();
    const leg = s.webrtc?.legs.find((l) => l.user === '1001');
    assert.match(leg?.codec ?? '', /^opus/, JSON.stringify(s.webrtc));
    assert.equal(leg?.bridge, 'relay', 'the two Opus legs are relayed, not transcoded');
    await page.getByRole('button', { name: 'Hang up', exact: true }).click();
    await waitStatus(page, /^Call ended$/, 10_000);
    const r = await phone.exited;
    assert.equal(r.exitCode, 0, explain(r));
    const got = await heard(rec, 440, 1);
    assert.ok(got >= 0.7, `1002 heard the browser's 440 Hz in ${Math.round(got * 100)}% of frames`);
    assert.equal(await status(page), 'Call ended');
  });
});
