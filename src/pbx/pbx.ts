/**
 * The B2BUA: a `ua/` agent on an internal address behind our own proxy, as
 * Asterisk sits behind Kamailio. The proxy hands it the calls for dialplan
 * numbers (with the caller's identity asserted); every call it takes or places
 * becomes a Channel with its own dialog and media. What runs on a new call is
 * its owner's business (the verb engine): the PBX offers channels, legs to
 * phones and trunks, and bridges.
 */
import type { CodecName } from '../media/codecs/registry.js';
import { parseNameAddr } from '../sip/headers.js';
import type { Peer } from '../sip/transport/types.js';
import { parseUri } from '../sip/uri.js';
import type { CallEnd } from '../ua/call.js';
import type { IncomingCall } from '../ua/incoming.js';
import { MediaSession } from '../ua/media-session.js';
import { UserAgent } from '../ua/user-agent.js';
import type { ReferTarget } from '../ua/replaces.js';
import type { Clock } from '../util/clock.js';
import { uriHost } from '../sip/uri.js';
import type { Logger } from '../util/log.js';
import type { PortRange } from '../media/endpoint/types.js';
import type { AudioSourceSpec } from '../media/players/index.js';
import { Channel, type ChannelHost, type LegMedia, type Party } from './channel.js';
import { isWebRtcSdp, webRtcSdpProblem, type WebRtcConfig } from '../webrtc/index.js';

/** Headers the proxy adds for us (and strips from everyone else): see proxy.ts. */
const ASSERTED = 'p-asserted-identity';
const TRUNK = 'p-switchboard-trunk';

export interface PbxOptions {
  domain: string;
  clock: Clock;
  /** The SIP agent's clock when it differs from `clock` (so counts of the PBX's own timers leave out SIP transactions). */
  sipClock?: Clock;
  log: Logger;
  /** Internal SIP address of the PBX agent, e.g. `udp:127.0.0.1:0`. */
  listen: string;
  /** Our proxy: every leg toward a phone goes through it (location, NAT). */
  proxy: { host: string; port: number };
  /** Where RTP sockets bind, and the address written in SDP when it differs (wildcard binds). */
  mediaAddress: string;
  advertiseAddress?: string;
  rtpPorts?: PortRange;
  codecs: readonly CodecName[];
  userAgent: string;
  /** Display names of our users, for caller ID. */
  displayName(user: string): string | undefined;
  /** A new call for the PBX; the handler owns it from here. */
  onCall(ch: Channel, info: NewCall): void;
  /** A channel ended (CDR, counts). */
  onChannelEnded?(ch: Channel): void;
  /** Music on hold for held calls. */
  moh?(): AudioSourceSpec;
  /** A REFER on one of our legs: true when it was carried out (see UserAgentOptions.onTransfer). */
  onTransfer?(ch: Channel, target: ReferTarget): boolean;
  /** The WebRTC gateway: browsers' legs get ICE + DTLS-SRTP media. Absent: no browser can call. */
  webrtc?: PbxWebRtc;
}

export interface PbxWebRtc {
  config: WebRtcConfig;
  /** Whether `user` is reached only in a browser (every binding over ws/wss): legs to it offer WebRTC. */
  isBrowser(user: string): boolean;
}

/** What we know about a call the proxy handed over. */
export interface NewCall {
  /** The number dialled (Request-URI user). */
  exten: string;
  /** The authenticated user who called, if one of ours. */
  user: string | undefined;
  /** The trunk it came in on, if any. */
  trunk: string | undefined;
}

/** How a leg is placed. */
export interface LegOptions {
  /** Caller ID shown to the called party. */
  from: Party;
  /** The user this leg rings, for channel names and CDRs. */
  endpoint: string;
  user?: string;
  codecs?: readonly CodecName[];
  /** Extra INVITE headers. */
  headers?: [string, string][];
  /** Place it through this agent (a trunk's) instead of the PBX agent. */
  via?: UserAgent;
  /** Host of the From URI instead of our domain (a carrier that wants its own domain there). */
  fromHost?: string;
  /** The trunk this leg goes out on (CDR, caps). */
  trunk?: string;
  /** Offer WebRTC media (default: when `user` is registered only from browsers). */
  webrtc?: boolean;
}

/** Asterisk's rtptimeout: an answered leg that sends no RTP this long (and is not on hold) has vanished. */
export const RTP_TIMEOUT_MS = 60_000;
const RTP_CHECK_MS = 10_000;

export class Pbx implements ChannelHost {
  readonly ua: UserAgent;
  readonly clock: Clock;
  readonly log: Logger;
  private readonly channelSet = new Set<Channel>();
  private closed = false;
  /** Per answered leg: packets received at the last check, and when that count last moved. */
  private readonly rtpSeen = new WeakMap<Channel, { packets: number; since: number }>();
  private rtpTimer: { cancel(): void } | undefined;
  /** Legs hung up because their far end stopped sending RTP. */
  rtpTimeouts = 0;
  private mediaOpen = 0;

  constructor(private readonly opts: PbxOptions) {
    this.clock = opts.clock;
    this.log = opts.log;
    this.ua = new UserAgent({
      listen: opts.listen,
      server: opts.proxy,
      domain: opts.domain,
      user: 'pbx',
      displayName: 'Switchboard PBX',
      clock: opts.sipClock ?? opts.clock,
      userAgent: opts.userAgent,
      log: opts.log.child({ layer: 'pbx-sip' }),
      newMedia: () => this.openMedia(),
      closeTimeoutMs: 1500,
      onTransfer: (call, target) => {
        const ch = this.channels.find((c) => c.call === call);
        return ch !== undefined && (opts.onTransfer?.(ch, target) ?? false);
      },
    });
    this.ua.on('incoming', (call) => this.incoming(call));
  }

  async start(): Promise<void> {
    await this.ua.start();
  }

  /** The check runs only while there are legs, so an idle PBX holds no timer. */
  private ensureRtpCheck(): void {
    if (!this.rtpTimer && !this.closed) this.scheduleRtpCheck();
  }

  /** Hangs up answered legs whose far end vanished (no RTP, no BYE), once every RTP_CHECK_MS. */
  private scheduleRtpCheck(): void {
    this.rtpTimer = this.clock.setTimer(RTP_CHECK_MS, () => {
      const now = this.clock.now();
      for (const ch of this.channelSet) {
        const media = ch.media;
        if (!ch.up || !media || ch.call.onHold || ch.call.heldByRemote) {
          this.rtpSeen.delete(ch);
          continue;
        }
        const packets = media.stats().received.packets;
        const seen = this.rtpSeen.get(ch);
        if (!seen || seen.packets !== packets) this.rtpSeen.set(ch, { packets, since: now });
        else if (now - seen.since >= RTP_TIMEOUT_MS) {
          this.rtpTimeouts++;
          this.log.warn({ channel: ch.name, callId: ch.call.callId, seconds: Math.round((now - seen.since) / 1000) }, 'no RTP from the far end: hanging up');
          ch.hangup();
        }
      }
      this.rtpTimer = undefined;
      if (!this.closed && this.channelSet.size > 0) this.scheduleRtpCheck();
    });
  }

  /** The agent's address: the proxy trusts what comes from here and hands calls to it. */
  get peer(): Peer {
    const l = this.ua.local;
    return { proto: l.proto, address: l.address, port: l.port };
  }

  get channels(): Channel[] {
    return [...this.channelSet];
  }

  get domain(): string {
    return this.opts.domain;
  }

  moh(): AudioSourceSpec {
    return this.opts.moh?.() ?? { kind: 'silence' };
  }

  /** Media sessions (RTP ports) opened for legs and not closed yet: 0 when no call is up. */
  get mediaPorts(): number {
    return this.mediaOpen;
  }

  /** A media session for a new leg: WebRTC when it answers a browser's offer or offers to one. */
  async openMedia(codecs?: readonly string[], leg: LegMedia = {}): Promise<MediaSession> {
    const options = {
      codecs: (codecs as readonly CodecName[] | undefined) ?? this.opts.codecs,
      bindAddress: this.opts.mediaAddress,
      advertiseAddress: this.opts.advertiseAddress,
      port: this.opts.rtpPorts ?? 0,
      clock: this.clock,
      log: this.log,
    };
    const wr = this.opts.webrtc;
    const browser = wr !== undefined && (leg.offer !== undefined ? isWebRtcSdp(leg.offer) : leg.webrtc === true);
    // Browsers prefer Opus, and so do we toward them: relayed untouched when the other leg has it too.
    const session = browser
      ? await MediaSession.openWebRtc({ ...options, codecs: webRtcCodecs(options.codecs), webrtc: wr.config }, leg.offer)
      : await MediaSession.open(options);
    // A session tells nobody when it closes: its close() is wrapped so the count follows it.
    this.mediaOpen++;
    const close = session.close.bind(session);
    let open = true;
    session.close = (): Promise<void> => {
      if (open) {
        open = false;
        this.mediaOpen--;
      }
      return close();
    };
    return session;
  }

  /** @internal A channel ended. */
  ended(ch: Channel): void {
    if (!this.channelSet.delete(ch)) return;
    if (this.channelSet.size === 0) {
      this.rtpTimer?.cancel();
      this.rtpTimer = undefined;
    }
    this.opts.onChannelEnded?.(ch);
  }

  /**
   * Places a leg to `uri` (`sip:1003@domain` through the proxy, or a
   * carrier's URI through a trunk's agent). Returns at once; watch the channel.
   */
  dial(uri: string, leg: LegOptions): Channel {
    if (this.closed) throw new Error('the PBX is shutting down');
    const agent = leg.via ?? this.ua;
    const holder: { ch?: Channel } = {};
    const from = `${leg.from.name ? `"${leg.from.name.replace(/["\\]/g, '')}" ` : ''}<sip:${leg.from.number}@${uriHost(leg.fromHost ?? this.opts.domain)}>`;
    const call = agent.call(uri, {
      from,
      headers: leg.headers,
      // Called as the call starts, before `call()` returns and the channel exists: wait one turn.
      media: () => Promise.resolve().then(() => (holder.ch as Channel).mediaFactory()),
    });
    const webrtc = leg.webrtc ?? (leg.user !== undefined && leg.via === undefined && (this.opts.webrtc?.isBrowser(leg.user) ?? false));
    const ch = new Channel(this, call, leg.from, leg.endpoint, leg.user, leg.codecs, webrtc);
    ch.trunk = leg.trunk;
    holder.ch = ch;
    if (!ch.ended) this.track(ch);
    return ch;
  }

  private track(ch: Channel): void {
    this.channelSet.add(ch);
    this.ensureRtpCheck();
  }

  /**
   * A carrier's call that arrived on a registering trunk's own agent (not
   * through the proxy): a channel on `trunk`, run like any new call.
   */
  takeTrunkCall(call: IncomingCall, info: { trunk: string; exten: string; codecs?: readonly CodecName[] }): void {
    let number = '';
    try {
      number = parseUri(call.from).user ?? '';
    } catch {
      number = '';
    }
    const ch = new Channel(this, call, { number, name: call.fromDisplayName }, info.trunk, undefined, info.codecs);
    if (ch.ended) return;
    ch.trunk = info.trunk;
    call.mediaFactory = ch.mediaFactory;
    this.track(ch);
    this.opts.onCall(ch, { exten: info.exten, user: undefined, trunk: info.trunk });
  }

  private incoming(call: IncomingCall): void {
    const req = call.invite;
    let exten = '';
    try {
      exten = parseUri(call.uri).user ?? '';
    } catch {
      /* an unreadable Request-URI dials nothing: the `i` extension answers */
    }
    const trunk = req.get(TRUNK);
    let user: string | undefined;
    const asserted = req.get(ASSERTED);
    if (asserted && trunk === undefined) {
      try {
        user = parseUri(parseNameAddr(asserted).uri).user;
      } catch {
        user = undefined;
      }
    }
    let callerNumber = user ?? '';
    let callerName = user ? this.opts.displayName(user) : undefined;
    if (!user) {
      try {
        callerNumber = parseUri(call.from).user ?? '';
      } catch {
        callerNumber = '';
      }
      callerName = call.fromDisplayName;
    }
    // A browser's offer the gateway cannot use is refused before the dialplan runs, so no phone rings for it.
    const offer = req.body.length > 0 ? req.body.toString('utf8') : undefined;
    const problem = this.opts.webrtc && offer !== undefined && isWebRtcSdp(offer) ? webRtcSdpProblem(offer, webRtcCodecs(this.opts.codecs)) : undefined;
    if (problem !== undefined) {
      this.log.info({ callId: call.callId, problem }, 'WebRTC offer not usable: 488');
      call.reject(488, `Not Acceptable Here (WebRTC offer: ${problem})`);
      return;
    }
    const ch = new Channel(this, call, { number: callerNumber, name: callerName }, user ?? trunk ?? (callerNumber || 'anonymous'), user);
    if (ch.ended) return;
    ch.trunk = trunk;
    call.mediaFactory = ch.mediaFactory;
    this.track(ch);
    this.opts.onCall(ch, { exten, user, trunk });
  }

  /** Hangs up every channel and stops the agent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.rtpTimer?.cancel();
    for (const ch of this.channelSet) ch.hangup(503, 'Service Unavailable');
    await this.ua.close();
  }
}

/** Opus first: what a browser prefers and what crosses to an Opus phone untranscoded. */
function webRtcCodecs(codecs: readonly CodecName[]): CodecName[] {
  return codecs.includes('opus') ? ['opus', ...codecs.filter((c) => c !== 'opus')] : [...codecs];
}

export type { CallEnd };
