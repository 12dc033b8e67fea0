/** The WebRTC contract's config (README) and the browser phone's status region, for e2e tests. */
import type { Page } from 'playwright-core';
import { readmeYaml } from './cli.js';

export function contractWebRtcYaml(ports: { sip: number; ws: number; admin: number }, extra = ''): string {
  const text = readmeYaml('## The browser phone (WebRTC gateway)')
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

