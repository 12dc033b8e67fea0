/**
 * The browser phone's tab goes away mid-call, in headless Debian Chromium:
 * the page (src/web/phone) calls 1002 (`switchboard phone listen`), the call
 * is answered, then the tab is closed; then, on a second call, the whole
 * browser goes. Either way the phone must get its BYE within seconds (JsSIP
 * may send one on unload; if not, the WebSocket closing ends the call,
 * counted flow-closed) and the gateway must hold no channel, port or timer.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { startServer, type RunningServer } from '../../src/cli/server.js';
import { launchBrowser, requireBrowser, type TestBrowser } from '../helpers/browser.js';
import { phoneTracker } from '../helpers/phone.js';
import { freePort } from '../helpers/ports.js';
import { contractWebRtcYaml, waitStatus } from '../helpers/webrtc.js';

const ALICE = 'Al1ce-long-pass-77';
const BOB = 'B0b-long-pass-88';

async function eventually(check: () => boolean, what: () => string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail(`not within ${ms} ms: ${what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the browser phone\'s tab goes away mid-call', { timeout: 180_000, skip: requireBrowser() }, () => {
  let server: RunningServer;
  let dataDir: string;
  let wsPort: number;
  let sip: string;
  const phones = phoneTracker();
  const browsers: TestBrowser[] = [];

  before(async () => {
    const ports = { sip: await freePort('both'), ws: await freePort('tcp'), admin: await freePort('tcp') };
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'sb-tab-close-'));
    server = await startServer(parseConfig(contractWebRtcYaml(ports).replace('data: ./data', `data: ${dataDir}`), path.join(dataDir, 'switchboard.yaml')));
    wsPort = ports.ws;
    sip = `127.0.0.1:${ports.sip}`;
  });
  after(async () => {
    for (const b of browsers) await b.close();
    await phones.stopAll();
    await server?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const idle = (): boolean => {
    const c = server.pbx!.counts();
    return c.channels === 0 && c.mediaPorts === 0 && c.timers === 0;
  };

  /** A fresh Chromium whose page is in a call with 1002; resolves with both. */
  const inCall = async () => {
    const phone = phones.start(['listen', '--server', sip, '--user', '1002', '--password', BOB, '--codec', 'pcmu', '--play', 'tone:1000', '--auto-answer', '--trace-sip', '--calls', '1']);
    await phone.waitFor(/^registered at/, 15_000);
    const browser = await launchBrowser({ micToneHz: 440 });
    browsers.push(browser);
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${wsPort}/phone/`);
    await page.getByLabel('User', { exact: true }).fill('1001');
    await page.getByLabel('Password', { exact: true }).fill(ALICE);
    await page.getByRole('button', { name: 'Register', exact: true }).click();
    await waitStatus(page, /^Registered$/, 15_000);
    await page.getByLabel('Number', { exact: true }).fill('1002');
    await page.getByRole('button', { name: 'Call', exact: true }).click();
    await waitStatus(page, /^In call$/, 20_000);
    await eventually(() => (server.status().webrtc?.legs.some((l) => l.dtls === 'connected') ?? false), () => JSON.stringify(server.status().webrtc), 5000);
    return { phone, browser, page };
  };

  const ends = async (t: TestContext, phone: Awaited<ReturnType<typeof inCall>>['phone'], gone: () => Promise<void>): Promise<void> => {
    const flowClosed = server.status().webrtc?.failures['flow-closed'] ?? 0;
    const t0 = Date.now();
    await gone();
    await phone.waitFor(/^BYE sip:/, 10_000);
    const took = Date.now() - t0;
    assert.ok(took < 5000, `the phone got BYE ${took} ms after the browser went`);
    await eventually(idle, () => JSON.stringify(server.pbx!.counts()), 5000);
    const byUs = (server.status().webrtc?.failures['flow-closed'] ?? 0) - flowClosed;
    t.diagnostic(`BYE after ${took} ms; ${byUs === 1 ? 'the page sent nothing: its WebSocket closing ended the call' : 'the page hung up itself'}`);
  };

  test('page.close() mid-call: the phone gets BYE, nothing is left', async (t) => {
    const { phone, page } = await inCall();
    await ends(t, phone, () => page.close());
  });

  test('the browser closed mid-call: the phone gets BYE, nothing is left', async (t) => {
    const { phone, browser } = await inCall();
    await ends(t, phone, () => browser.close());
  });
});
