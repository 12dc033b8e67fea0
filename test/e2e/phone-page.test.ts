/**
 * Smoke test of the browser phone page in headless Debian Chromium: every
 * control is found by the accessible name the issue promises, the keypad types
 * into Number outside a call, settings are remembered (the password only when
 * asked), and Register against a server that is not there says so in the
 * status region. No SIP server runs here: calls are the contract tests' job.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { defaultPhoneRoot, servePhone } from '../../src/web/static.js';
import { launchBrowser, requireBrowser, type TestBrowser } from '../helpers/browser.js';

const skip = requireBrowser();
let server: http.Server;
let origin: string;
let browser: TestBrowser | undefined;
let page: Page;
const problems: string[] = [];

before(async () => {
  if (skip) return;
  assert.ok(existsSync(path.join(defaultPhoneRoot(), 'index.html')), 'the page is not built: run npm run build');
  server = http.createServer(servePhone({ root: defaultPhoneRoot(), config: () => ({ domain: '127.0.0.1', iceServers: [] }) }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchBrowser();
  page = browser.context.pages()[0] ?? (await browser.newPage());
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    // The failed WebSocket to a server that is not there is the point of one test.
    if (msg.type() === 'error' && !/WebSocket connection to .* failed/.test(msg.text())) problems.push(`console: ${msg.text()} (${msg.location().url})`);
  });
});

after(async () => {
  await browser?.close();
  if (!server) return;
  await new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
});

async function waitFor<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  let v = await read();
  while (!ok(v)) {
    if (Date.now() > until) assert.fail(`${what}: still ${JSON.stringify(v)} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
    v = await read();
  }
  return v;
}

const status = (): Locator => page.getByRole('status');
const statusText = async (): Promise<string> => ((await status().textContent()) ?? '').trim();
const button = (name: string): Locator => page.getByRole('button', { name, exact: true });
const field = (name: string): Locator => page.getByLabel(name, { exact: true });

async function open(): Promise<void> {
  await page.goto(`${origin}/phone/`);
  // config.json has arrived when the domain shows the server's.
  await waitFor('Domain from config.json', () => field('Domain').inputValue(), (v) => v === '127.0.0.1');
}

test('every control has the accessible name the issue promises, exactly once', { skip }, async () => {
  await open();
  assert.equal(await status().count(), 1, 'one role=status region');
  assert.equal(await statusText(), 'Not registered');
  for (const name of ['User', 'Password', 'Server', 'Number']) {
    assert.equal(await field(name).count(), 1, `field ${name}`);
    assert.equal(await field(name).evaluate((e) => e.tagName), 'INPUT', `field ${name}`);
  }
  const keys = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '0', '*', '#'];
  for (const name of ['Register', 'Call', 'Answer', 'Hang up', 'Hold', 'Mute', ...keys]) {
    assert.equal(await button(name).count(), 1, `button ${name}`);
  }
  assert.equal(await page.getByRole('checkbox', { name: 'Remember password', exact: true }).count(), 1);
  // Nothing to answer, hang up, hold or mute before a call; Hold and Mute are toggles.
  for (const name of ['Answer', 'Hang up', 'Hold', 'Mute']) assert.equal(await button(name).isDisabled(), true, name);
  assert.equal(await button('Hold').getAttribute('aria-pressed'), 'false');
  assert.equal(await button('Mute').getAttribute('aria-pressed'), 'false');
  assert.equal(await field('Server').inputValue(), origin.replace(/^http/, 'ws'), 'Server defaults to the page origin');
  assert.equal(await page.locator('audio#remote-audio[autoplay]').count(), 1);
  assert.deepEqual(problems, []);
});

test('the keypad types into Number when there is no call; Call without registering says so', { skip }, async () => {
  await open();
  for (const k of ['1', '0', '0', '2', '*', '#']) await button(k).click();
  assert.equal(await field('Number').inputValue(), '1002*#');
  await button('Call').click();
  await waitFor('status after Call', statusText, (s) => s === 'Not registered: Register first');
});

test('Register without a reachable server, or with none, shows the failure in the status region', { skip }, async () => {
  await open();
  await field('User').fill('1001');
  await field('Password').fill('Al1ce-long-pass-77');
  // This HTTP server answers no WebSocket upgrade: there is no SIP server at the page's origin.
  await button('Register').click();
  const s = await waitFor('status after Register', statusText, (v) => v.startsWith('Registration failed'));
  assert.equal(s, `Registration failed: cannot connect to ${origin.replace(/^http/, 'ws')}`);
  await field('Server').fill('');
  await button('Register').click();
  await waitFor('status with no server', statusText, (v) => /^Registration failed: no server given/.test(v));
  await field('Server').fill('http://127.0.0.1:1');
  await button('Register').click();
  await waitFor('status with an http server', statusText, (v) => v === 'Registration failed: Server must be a ws:// or wss:// URL');
  assert.deepEqual(problems, []);
});

test('user and server are remembered; the password only with Remember password ticked', { skip }, async () => {
  await open();
  await field('User').fill('1002');
  await field('Password').fill('B0b-long-pass-88');
  await field('Server').fill('ws://127.0.0.1:9');
  await button('Register').click();
  await waitFor('status', statusText, (v) => v.startsWith('Registration failed'));
  await open();
  assert.equal(await field('User').inputValue(), '1002');
  assert.equal(await field('Server').inputValue(), 'ws://127.0.0.1:9');
  assert.equal(await field('Password').inputValue(), '', 'password not kept without asking');
  assert.doesNotMatch(await page.evaluate(() => JSON.stringify(localStorage)), /B0b-long-pass-88/);

  await field('Password').fill('B0b-long-pass-88');
  await page.getByRole('checkbox', { name: 'Remember password', exact: true }).check();
  await button('Register').click();
  await waitFor('status', statusText, (v) => v.startsWith('Registration failed'));
  await open();
  assert.equal(await field('Password').inputValue(), 'B0b-long-pass-88');
  await page.getByRole('checkbox', { name: 'Remember password', exact: true }).uncheck();
  await open();
  assert.equal(await field('Password').inputValue(), '', 'unticking forgets the stored password');
  assert.deepEqual(problems, []);
});
