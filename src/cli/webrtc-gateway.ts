/**
 * When the proxy hands a call to the WebRTC gateway (the PBX's B2BUA) rather
 * than forwarding it phone to phone: a browser's media (ICE, DTLS-SRTP, Opus)
 * cannot reach a SIP phone's plain RTP, so every call with a browser on one
 * side only is anchored; two browsers may talk directly.
 */
import { createHmac } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config, IceServerConfig } from '../config/schema.js';
import { MediaBridge } from '../pbx/bridge.js';
import type { Pbx, PbxWebRtc } from '../pbx/pbx.js';
import type { Proxy } from '../proxy/proxy.js';
import type { Registrar } from '../proxy/registrar.js';
import type { SipMessage } from '../sip/message.js';
import type { Peer, Proto } from '../sip/transport/types.js';
import { hostAddress } from '../util/net.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { gatewayEnabled } from '../voice/dialplan/dialplan.js';
import { defaultPhoneRoot, servePhone } from '../web/static.js';
import { WEBRTC_FAILURES } from '../webrtc/index.js';

/** What `switchboard status` shows of the gateway. */
export interface WebRtcStatus {
  legs: {
    channel: string;
    user: string;
    callId: string;
    ice: string;
    dtls: string;
    selectedPair?: { local: string; remote: string };
    codec?: string;
    /** How its audio reaches the other leg: packets relayed untouched, or decoded and re-encoded. */
    bridge?: 'relay' | 'transcode';
  }[];
  /** Browser legs whose media failed, by reason. */
  failures: Record<string, number>;
}

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

/**
 * The gateway as the composition root wires it: which calls the proxy hands
 * over, the page served beside SIP over WebSocket, the browser legs' media
 * settings, calls ended with their browser's WebSocket, status and metrics.
 */
export class BrowserGateway {
  /** Calls with browsers are anchored (a ws/wss listener, and webrtc.gateway not false). */
  readonly enabled: boolean;
  readonly failures = new WebRtcFailures();
  private readonly webSocket: boolean;

  constructor(
    private readonly config: Config,
    private readonly registrar: Registrar,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.enabled = gatewayEnabled(config);
    this.webSocket = config.sip.listen.some((l) => isBrowserTransport(l.proto));
  }

  /** Whether `user` is reached only in browsers (every binding over ws/wss). */
  browserOnly(user: string): boolean {
    const bindings = this.registrar.lookup(user);
    return bindings.length > 0 && bindings.every((b) => isBrowserTransport(b.source.proto));
  }

  /** Whether a new request from `source` for our user `user` is the gateway's. */
  wants(req: SipMessage, user: string, source: Peer): boolean {
    if (!this.enabled || req.method !== 'INVITE' || !this.config.users.has(user)) return false;
    return gatewayWants(isBrowserTransport(source.proto), this.browserOnly(user), this.config.webrtc.browserToBrowser);
  }

  /** The ws/wss listeners' plain HTTP side: the browser phone, which finds its SIP server at its own origin. */
  httpHandler(): ((req: IncomingMessage, res: ServerResponse) => void) | undefined {
    if (!this.webSocket) return undefined;
    const { config, clock } = this;
    return servePhone({
      root: defaultPhoneRoot(),
      config: () => ({
        domain: config.domain,
        iceServers: pageIceServers(config.webrtc.iceServers, clock.wallNow()),
        iceTransportPolicy: config.webrtc.iceTransportPolicy,
      }),
      log: this.log,
    });
  }

  /** The browser legs' media settings; `host` is where the PBX binds (its advertised address on a wildcard). */
  pbxOptions(host: string, wildcard: boolean): PbxWebRtc | undefined {
    if (!this.enabled) return undefined;
    const w = this.config.webrtc;
    return {
      config: {
        addresses: w.rtpAddresses.length > 0 ? w.rtpAddresses : [wildcard ? this.config.sip.advertise ?? hostAddress(4) : host],
        portRange: w.rtpPorts,
        iceServers: [],
        connectTimeoutMs: w.connectTimeoutMs,
        consentTimeoutMs: w.consentTimeoutMs,
        counters: this.failures,
      },
      isBrowser: (user) => this.browserOnly(user),
    };
  }

  /** A browser's WebSocket is the only way to it: with it gone no BYE can reach it, so its calls end now. */
  connectionClosed(id: number, pbx: Pbx | undefined, proxy: Proxy): void {
    for (const ch of pbx?.channels ?? []) {
      if (!ch.media?.webrtc || ch.ended) continue;
      const routes = ch.call.dialog?.routeSet.map((r) => r.value) ?? [];
      if (proxy.flowsIn(routes).includes(id)) ch.media.failWebRtc('flow-closed', `the browser's WebSocket (connection ${id}) closed`);
    }
  }

  status(pbx: Pbx | undefined): WebRtcStatus | null {
    if (!this.enabled) return null;
    const legs: WebRtcStatus['legs'] = [];
    for (const ch of pbx?.channels ?? []) {
      const state = ch.media?.webrtc;
      if (state) legs.push({ channel: ch.name, user: ch.user ?? ch.endpoint, callId: ch.call.callId, ...state, bridge: ch.bridge instanceof MediaBridge ? ch.bridge.mode : undefined });
    }
    return { legs, failures: { ...this.failures.byReason } };
  }

  /** Failures by reason for /metrics: every reason from the start, so a rate() over one that never happened reads 0. */
  metrics(): Record<string, number> | undefined {
    if (!this.enabled) return undefined;
    return { ...Object.fromEntries(WEBRTC_FAILURES.map((r) => [r, 0])), ...this.failures.byReason };
  }
}
