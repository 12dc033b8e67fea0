/**
 * When the proxy hands a call to the WebRTC gateway (the PBX's B2BUA) rather
 * than forwarding it phone to phone: a browser's media (ICE, DTLS-SRTP, Opus)
 * cannot reach a SIP phone's plain RTP, so every call with a browser on one
 * side only is anchored; two browsers may talk directly.
 */
import { createHmac } from 'node:crypto';
import type { IceServerConfig } from '../config/schema.js';
import type { Proto } from '../sip/transport/types.js';

export function isBrowserTransport(proto: Proto | string): boolean {
  return proto === 'ws' || proto === 'wss';
}

export function gatewayWants(fromBrowser: boolean, toBrowser: boolean, browserToBrowser: 'direct' | 'anchored'): boolean {
  if (fromBrowser && toBrowser) return browserToBrowser === 'anchored';
  return fromBrowser || toBrowser;
}

/** Browser legs whose media failed, by reason (ICE timeout, DTLS failure, fingerprint mismatch, consent lost). */
export class WebRtcFailures {
  readonly byReason: Record<string, number> = {};

  failed(reason: string): void {
    this.byReason[reason] = (this.byReason[reason] ?? 0) + 1;
  }

  get total(): number {
    return Object.values(this.byReason).reduce((a, b) => a + b, 0);
  }
}

export interface PageIceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

/**
 * The ICE servers handed to the browser phone. A `secret` entry becomes
 * TURN REST credentials (draft-uberti-behave-turn-rest, what coturn's
 * use-auth-secret checks): username `EXPIRY:switchboard`, password the
 * base64 HMAC-SHA1 of the username under the shared secret.
 */
export function pageIceServers(servers: readonly IceServerConfig[], nowMs: number): PageIceServer[] {
  return servers.map((s) => {
    if (s.secret === undefined) return { urls: s.urls, username: s.username, credential: s.credential };
    const username = `${Math.floor(nowMs / 1000) + s.ttl}:switchboard`;
    return { urls: s.urls, username, credential: createHmac('sha1', s.secret).update(username).digest('base64') };
  });
}
