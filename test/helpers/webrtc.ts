/** The WebRTC contract's config (README) and the browser phone's status region, for e2e tests. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { ROOT } from './cli.js';

/** The README's contract block, verbatim. */
function readmeContract(): string {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf('## The browser phone (WebRTC gateway)');
  assert.ok(at >= 0, 'README has the browser phone section');
  const m = /```yaml\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(m, 'the section starts with the contract config');
  return m[1];
}

export function contractWebRtcYaml(ports: { sip: number; ws: number; admin: number }, extra = ''): string {
  const text = readmeContract()
    .replace('udp:127.0.0.1:5060', `udp:127.0.0.1:${ports.sip}`)
    .replace('ws:127.0.0.1:8080', `ws:127.0.0.1:${ports.ws}`)
    .replace('127.0.0.1:8089', `127.0.0.1:${ports.admin}`);
  return text + extra;
}

/** Waits until the page's live region (role=status) reads something matching `re`. */
export async function waitStatus(page: Page, re: RegExp, ms: number): Promise<void> {
  await page.waitForFunction(
    (src) => new RegExp(src).test(document.querySelector('[role="status"]')?.textContent?.trim() ?? ''),
    re.source,
    { timeout: ms },
  );
}

