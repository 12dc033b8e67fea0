/**
 * A phone's media for one call: SDP offer/answer (src/sdp) applied to one
 * RTP endpoint (src/media). This is the `MediaHandler` the signalling code
 * drives; the audio source and what is heard are plugged in by the caller
 * (the softphone CLI, later a PBX leg).
 */
import { MediaEndpoint, type MediaEndpointSrtpConfig, type MediaEndpointStats, type PortRange } from '../media/endpoint/index.js';
import { generateSdesKey, isSrtpSuite, parseSdesKey, type SdesKey, type SrtpSuite } from '../media/srtp/index.js';
import type { Codec } from '../media/codecs/types.js';
import { codecForRtpmap, sdpSpec, type CodecName } from '../media/codecs/registry.js';
import { openSource, type AudioSource, type AudioSourceSpec } from '../media/players/index.js';
import { InbandDtmfDetector, type DtmfDigitEvent } from '../media/dtmf/index.js';
import {
  answerDirection,
  codecsOf,
  cryptosOf,
  createAnswer,
  createOffer,
  effectiveDirection,
  formatSdp,
  negotiated,
  parseSdp,
  receives,
  sends,
  SdpError,
  WarnCode,
  type CryptoSpec,
  type Direction,
  type NegotiatedMedia,
  type SessionDescription,
} from '../sdp/index.js';
import { realClock, type Clock } from '../util/clock.js';
import { Emitter } from '../util/emitter.js';
import type { Logger } from '../util/log.js';
import type { MediaHandler } from './media-handler.js';
import {
  iceUfragOf,
  originVersionOf,
  WEBRTC_PEER,
  WebRtcTransport,
  withDirection as sdpWithDirection,
  type WebRtcConfig,
  type WebRtcFailure,
  type WebRtcState,
} from '../webrtc/index.js';

export interface MediaSessionOptions {
  /** Codecs we offer and accept, best first. */
  codecs: readonly CodecName[];
  /** Local address the RTP socket binds to. */
  bindAddress: string;
  /** Address written in SDP c= (a public address learnt by STUN); the bind address by default. */
  advertiseAddress?: string;
  /** Port written in SDP m= when a NAT maps ours to another; our own port by default. */
  advertisePort?: number;
  port?: number | PortRange;
  ptime?: number;
  clock?: Clock;
  /** What we play; silence when omitted. */
  source?: AudioSourceSpec;
  /** Offer and accept RFC 4733 events (default true). */
  telephoneEvent?: boolean;
  /** Detect DTMF tones in the audio when the peer has no RFC 4733 and the codec is G.711 (default true). */
  inbandDtmf?: boolean;
  /**
   * Offer SRTP with SDES keys (RTP/SAVP, RFC 4568). Answers accept an SRTP
   * offer whatever this says; an offer without it is plain RTP.
   */
  srtp?: boolean;
  /** Where a listener that threw is reported. */
  log?: Logger;
}

export type MediaSessionEvents = {
  /** Offer/answer completed (again after each re-INVITE). */
  negotiated: [info: MediaInfo];
  /** Each 20 ms frame heard (decoded or concealed), mono at `sampleRate`; the array is reused, copy what you keep. */
  frame: [pcm: Int16Array, sampleRate: number];
  /** A key the peer pressed: RFC 4733, or a tone found in the audio. */
  digit: [ev: DtmfDigitEvent];
  /** Something the user should know that does not end the call. */
  warning: [message: string];
  /**
   * A WebRTC leg is gone (ICE failed or timed out, DTLS failed, fingerprint
   * mismatch, consent lost, the browser closed): the owner hangs the call up.
   */
  failed: [reason: string];
};

/** A WebRTC leg's offer/answer state: werift made the first descriptions, we edit them for re-offers. */
interface WebRtcLeg {
  transport: WebRtcTransport;
  /** Our last description as sent (werift's, or its direction-edited copy). */
  local: string;
  /** The remote description ICE and DTLS run with (the first one). */
  remote: string | undefined;
  /** The offer the factory already answered, until createAnswer returns that answer. */
  preparedFor: string | undefined;
  /** Waiting for the answer to werift's own offer. */
  awaitingFirstAnswer: boolean;
  version: number;
}

/** What was agreed, for the "codec chosen" line and the stats. */
export interface MediaInfo {
  codec: string;
  clockRate: number;
  sampleRate: number;
  payloadType: number;
  remote: string;
  direction: Direction;
  telephoneEvent: boolean;
  /** The SRTP suite in use, when the media is encrypted. */
  srtp?: string;
}

/** A call's media (the owner is its Call); whoever shows or records it listens to its events. */
export class MediaSession extends Emitter<MediaSessionEvents> implements MediaHandler {
  info: MediaInfo | undefined;
  remoteHold = false;

  private local: SessionDescription | undefined;
  /** The codec in use and the rtpmap it was made for (`pcmu/8000`), kept across re-INVITEs that keep it. */
  private codec: { key: string; codec: Codec } | undefined;
  private source: AudioSource | undefined;
  /** Rate and frame size `source` was opened for. */
  private sourceFrame = '';
  private sourceSpec: AudioSourceSpec;
  private readonly sessionId = String(Date.now());
  private version = 1;
  /** Packetization in use: the peer's a=ptime when we can send it (see sendPtime). */
  private ptimeMs = 20;
  private closed = false;
  /**
   * Keys played as tones in the audio, listened for when the peer has no
   * RFC 4733 and the codec is 8 kHz G.711 (where tones survive), as
   * Asterisk's dtmfmode=auto does.
   */
  private inband: InbandDtmfDetector | undefined;
  /** True while another session relays its packets out through ours: our own source is silent then. */
  private fed = false;
  private relayPeer: MediaSession | undefined;

  private rtc: WebRtcLeg | undefined;

  private constructor(
    readonly endpoint: MediaEndpoint,
    private readonly opts: MediaSessionOptions,
  ) {
    super(opts.log);
    this.sourceSpec = opts.source ?? { kind: 'silence' };
  }

  /**
   * A WebRTC leg: ICE + DTLS-SRTP with a browser through werift, the same
   * endpoint (codecs, jitter buffer, DTMF, relay) above it. With `offer` we
   * answer it (createAnswer(offer) then returns the prepared answer), else we
   * offer (createOffer returns werift's offer, ICE already gathered). Throws
   * SdpError for an offer werift cannot use.
   */
  static async openWebRtc(opts: MediaSessionOptions & { webrtc: WebRtcConfig }, offer?: string): Promise<MediaSession> {
    if (opts.codecs.length === 0) throw new RangeError('a media session needs at least one codec');
    const owner: { session?: MediaSession } = {};
    const transport = WebRtcTransport.open({
      ...opts.webrtc,
      codecs: opts.codecs,
      telephoneEvent: opts.telephoneEvent ?? true,
      clock: opts.clock ?? realClock,
      log: opts.log,
      onFailed: (reason) => owner.session?.emit('failed', reason),
    });
    let local: string;
    try {
      local = offer === undefined ? await transport.offer() : await transport.answer(offer);
    } catch (err) {
      await transport.close();
      if (err instanceof SdpError) throw err;
      throw new SdpError(`WebRTC offer not usable: ${(err as Error).message}`, undefined, WarnCode.incompatibleTransport);
    }
    const endpoint = await MediaEndpoint.open({
      socket: transport.socket,
      clock: opts.clock,
      handlers: {
        digit: (ev) => owner.session?.emit('digit', ev),
        frame: (pcm) => owner.session?.heard(pcm),
      },
    });
    const session = new MediaSession(endpoint, opts);
    session.rtc = {
      transport,
      local,
      remote: offer,
      preparedFor: offer,
      awaitingFirstAnswer: offer === undefined,
      version: originVersionOf(local),
    };
    owner.session = session;
    return session;
  }

  /**
   * Ends a WebRTC leg for a reason found outside its media (the browser's
   * WebSocket closed): counted and reported as `failed`, like the leg's own
   * failures. Does nothing for plain RTP or once the leg ended.
   */
  failWebRtc(reason: WebRtcFailure, detail: string): void {
    this.rtc?.transport.fail(reason, detail);
  }

  /** ICE, DTLS, the selected pair and codec of a WebRTC leg; undefined for plain RTP. */
  get webrtc(): WebRtcState | undefined {
    return this.rtc?.transport.state;
  }

  static async open(opts: MediaSessionOptions): Promise<MediaSession> {
    // Checked before a socket is opened, so a bad call leaks none.
    if (opts.codecs.length === 0) throw new RangeError('a media session needs at least one codec');
    // The endpoint's one owner is this session, which exists once the endpoint is open.
    const owner: { session?: MediaSession } = {};
    const endpoint = await MediaEndpoint.open({
      address: opts.bindAddress,
      port: opts.port ?? 0,
      clock: opts.clock,
      handlers: {
        digit: (ev) => owner.session?.emit('digit', ev),
        frame: (pcm) => owner.session?.heard(pcm),
      },
    });
    owner.session = new MediaSession(endpoint, opts);
    return owner.session;
  }

  private heard(pcm: Int16Array): void {
    if (!this.codec || this.closed) return;
    this.inband?.process(pcm);
    if (this.listenerCount('frame') > 0) this.emit('frame', pcm, this.codec.codec.sampleRate);
  }

  get localPort(): number {
    return this.endpoint.localPort;
  }

  /** Changes what we play (takes effect at the next frame). */
  play(spec: AudioSourceSpec): void {
    this.sourceSpec = spec;
    // Only while we send: on hold the new source waits for the resume; while relayed into, the relay plays.
    if (this.codec && this.source && !this.fed) this.openSource();
  }

  /** Whether packets can go between this session and `other` undecoded: one codec at one rate on both. */
  canRelayTo(other: MediaSession): boolean {
    const a = this.info;
    const b = other.info;
    return !!a && !!b && a.codec.toLowerCase() === b.codec.toLowerCase() && a.clockRate === b.clockRate;
  }

  /**
   * Sends what this session receives out through `other`, undecoded (a B2BUA
   * bridge of one codec); `other` stops playing its own source meanwhile.
   * `undefined` ends it and `other` plays its source again.
   */
  relayTo(other: MediaSession | undefined): void {
    const prev = this.relayPeer;
    if (prev === other) return;
    if (prev) {
      prev.fed = false;
      if (prev.codec && prev.info && sends(prev.info.direction)) prev.openSource();
    }
    this.relayPeer = other;
    this.endpoint.relayTo(other?.endpoint);
    if (other) {
      other.fed = true;
      other.source?.close?.();
      other.source = undefined;
      other.endpoint.stop();
    }
  }

  /** RFC 4733 keys; throws when the peer did not accept telephone-event. */
  sendDigits(digits: string): void {
    this.endpoint.sendDigits(digits);
  }

  stats(): MediaEndpointStats {
    return this.endpoint.stats();
  }

  createOffer(opts: { hold: boolean }): string {
    const rtc = this.rtc;
    if (rtc) {
      // The first offer is werift's as prepared; later ones (hold, resume) edit our last description.
      if (!rtc.awaitingFirstAnswer || opts.hold) rtc.local = sdpWithDirection(rtc.local, this.wanted(opts.hold), ++rtc.version);
      return rtc.local;
    }
    // Plain RTP offers carry no keys: a=crypto on RTP/AVP means nothing (RFC 4568 §3.1.4).
    const crypto = this.opts.srtp ? this.cryptoSpecs() : undefined;
    const sd = createOffer({ ...this.endpointOptions(this.wanted(opts.hold)), crypto, codecs: this.specs() });
    this.local = sd;
    return formatSdp(sd);
  }

  setAnswer(sdp: string): void {
    const rtc = this.rtc;
    if (rtc) {
      const remote = parseSdp(sdp);
      this.apply(negotiated(parseSdp(rtc.local), remote), remote);
      if (rtc.awaitingFirstAnswer) {
        rtc.awaitingFirstAnswer = false;
        rtc.remote = sdp;
        const t = rtc.transport;
        // werift applies it asynchronously; a refusal ends the leg like any other failure.
        t.setAnswer(sdp).then(
          () => t.startConnectTimer(),
          (err: unknown) => t.fail('bad-answer', (err as Error).message),
        );
      }
      return;
    }
    if (!this.local) throw new Error('setAnswer without an offer');
    const remote = parseSdp(sdp);
    this.apply(negotiated(this.local, remote), remote);
  }

  createAnswer(offer: string, opts: { hold: boolean }): string {
    if (this.rtc) return this.createWebRtcAnswer(this.rtc, offer, opts.hold);
    const remote = parseSdp(offer);
    // remoteHold still describes the previous offer here; answerDirection() narrows
    // sendonly to inactive by itself when this offer holds us too.
    // Keys are made only for an offer that brings a=crypto: every SRTP offer is accepted.
    const crypto = remote.media.some((m) => cryptosOf(m).length > 0) ? this.cryptoSpecs() : undefined;
    const answer = createAnswer(remote, { ...this.endpointOptions(opts.hold ? 'sendonly' : 'sendrecv'), crypto, codecs: this.specs() });
    this.apply(negotiated(answer, remote), remote);
    this.local = answer;
    return formatSdp(answer);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.relayTo(undefined);
    this.source?.close?.();
    await this.endpoint.close();
    await this.rtc?.transport.close();
  }

  /**
   * The first offer was answered by werift in openWebRtc; a re-offer (hold,
   * resume, a session refresh) with the same ICE credentials is answered here
   * by editing our last answer's direction, since ICE and DTLS carry on.
   */
  private createWebRtcAnswer(rtc: WebRtcLeg, offer: string, hold: boolean): string {
    const remote = parseSdp(offer);
    if (rtc.preparedFor !== undefined && offer === rtc.preparedFor) {
      rtc.preparedFor = undefined;
      if (hold) {
        const rm = remote.media.find((m) => m.type === 'audio' && m.port !== 0);
        const offered = rm ? effectiveDirection(remote, rm) : 'sendrecv';
        rtc.local = sdpWithDirection(rtc.local, answerDirection(offered, 'sendonly'), ++rtc.version);
      }
      this.apply(negotiated(parseSdp(rtc.local), remote), remote);
      rtc.transport.startConnectTimer();
      return rtc.local;
    }
    if (rtc.remote === undefined) {
      throw new SdpError('a WebRTC offer must reach the media factory before it is answered', undefined, WarnCode.miscellaneous);
    }
    if (iceUfragOf(offer) !== iceUfragOf(rtc.remote)) {
      throw new SdpError('ICE restart (new a=ice-ufrag) is not supported', undefined, WarnCode.incompatibleTransport);
    }
    const rm = remote.media.find((m) => m.type === 'audio' && m.port !== 0);
    if (!rm) throw new SdpError('no audio stream in the re-offer', undefined, WarnCode.mediaTypeNotAvailable);
    const direction = answerDirection(effectiveDirection(remote, rm), hold ? 'sendonly' : 'sendrecv');
    rtc.local = sdpWithDirection(rtc.local, direction, ++rtc.version);
    this.apply(negotiated(parseSdp(rtc.local), remote), remote);
    return rtc.local;
  }

  /** For an offer: hold means sendonly; if the peer holds us too, nobody sends: inactive. */
  private wanted(hold: boolean): Direction {
    if (!hold) return 'sendrecv';
    return this.remoteHold ? 'inactive' : 'sendonly';
  }

  private specs() {
    return this.opts.codecs.map((c) => sdpSpec(c));
  }

  /** Our SDES keys, one per suite, made once: re-offers keep them so the ROC and replay state carry on. */
  private readonly keys = new Map<SrtpSuite, SdesKey & { inline: string }>();

  private cryptoSpecs(): CryptoSpec[] {
    return SUITES.map((suite, i) => {
      let key = this.keys.get(suite);
      if (!key) this.keys.set(suite, (key = generateSdesKey(suite)));
      return { suite, keySalt: key.inline.slice('inline:'.length), tag: i + 1 };
    });
  }

  private endpointOptions(direction: Direction) {
    return {
      address: this.opts.advertiseAddress ?? this.opts.bindAddress,
      port: this.opts.advertisePort ?? this.endpoint.localPort,
      telephoneEvent: this.opts.telephoneEvent ?? true,
      ptime: this.opts.ptime ?? 20,
      direction,
      rtcpMux: true,
      sessionId: this.sessionId,
      // RFC 3264 §8: every new description from us carries a higher version.
      sessionVersion: String(this.version++),
      username: 'switchboard',
    };
  }

  private apply(n: NegotiatedMedia, remote: SessionDescription): void {
    const rm = remote.media[n.mediaIndex];
    this.remoteHold = !receives(effectiveDirection(remote, rm));
    const key = `${n.codec.name.toLowerCase()}/${n.codec.clockRate}`;
    if (this.codec?.key !== key) {
      const codec = codecForRtpmap(n.codec.name, n.codec.clockRate, n.codec.channels);
      // negotiated() only picks codecs we listed, and we list only codecs the registry makes.
      if (!codec) throw new Error(`negotiated codec ${n.codec.name}/${n.codec.clockRate} has no implementation`);
      this.codec = { key, codec };
    }
    const codec = this.codec.codec;
    this.ptimeMs = sendPtime(codec, n.ptime);
    const rtc = this.rtc;
    if (rtc) {
      rtc.transport.codec = `${n.codec.name}/${n.codec.clockRate}`;
      // Browsers send their keys as telephone-event/8000 even beside Opus (Chromium 156), whatever
      // else both sides listed: that is the one we must listen to (and send, which they also take).
      const at8000 = codecsOf(rm).find((c) => c.name.toLowerCase() === 'telephone-event' && c.clockRate === 8000);
      if (n.telephoneEvent !== undefined && at8000) n = { ...n, telephoneEvent: at8000.pt };
    }
    this.endpoint.configure({
      // A WebRTC leg's packets have no address of their own: ICE chose the path.
      remote: rtc ? WEBRTC_PEER : { address: n.remoteAddress, port: n.remotePort },
      ssrc: rtc?.transport.ssrc,
      codec,
      payloadType: n.payloadType,
      telephoneEventPt: n.telephoneEvent,
      telephoneEventClockRate: n.telephoneEvent === undefined ? undefined : codecsOf(rm).find((c) => c.pt === n.telephoneEvent)?.clockRate,
      ptimeMs: this.ptimeMs,
      srtp: rtc ? undefined : srtpConfig(n),
    });
    if (sends(n.direction)) {
      // A re-INVITE that keeps rate and frame size (a session refresh) must not restart the file.
      if (!this.fed && (!this.source || this.sourceFrame !== this.frameKey())) this.openSource();
    } else {
      this.source?.close?.();
      this.source = undefined;
      this.endpoint.stop();
    }
    const wantInband = (this.opts.inbandDtmf ?? true) && n.telephoneEvent === undefined && codec.sampleRate === 8000;
    if (!wantInband) this.inband = undefined;
    else this.inband ??= new InbandDtmfDetector({ onDigit: (ev) => this.emit('digit', ev) });
    this.info = {
      codec: n.codec.name,
      clockRate: n.codec.clockRate,
      sampleRate: codec.sampleRate,
      payloadType: n.payloadType,
      remote: `${n.remoteAddress}:${n.remotePort}`,
      direction: n.direction,
      telephoneEvent: n.telephoneEvent !== undefined,
      srtp: n.crypto?.suite,
    };
    this.emit('negotiated', this.info);
  }

  private frameKey(): string {
    const c = this.codec;
    return c ? `${c.codec.sampleRate}/${c.codec.frameSamples(this.ptimeMs)}` : '';
  }

  private openSource(): void {
    const c = this.codec;
    if (!c) return;
    this.sourceFrame = this.frameKey();
    this.source?.close?.();
    const rate = c.codec.sampleRate;
    const frame = c.codec.frameSamples(this.ptimeMs);
    let src: AudioSource;
    try {
      src = openSource(this.sourceSpec, rate, frame);
    } catch (err) {
      // A tone above what the codec carries (tone:5000 on PCMU) costs the sound, not the call.
      this.emit('warning', `${(err as Error).message}; sending silence`);
      src = openSource({ kind: 'silence' }, rate, frame);
    }
    this.source = src;
    this.endpoint.start(() => src.read());
  }
}

/**
 * The packetization we send: the peer's a=ptime when it is one phones use
 * and our codec can encode (Opus has no 30 ms frame), else 20 ms. ptime is
 * only a wish (RFC 4566 §6), and an odd one (25 ms Opus, 200 ms PCMU beyond
 * one datagram, 0.1 ms floods) must not break the call.
 */
function sendPtime(codec: Codec, asked: number): number {
  const ok = asked === 10 || asked === 20 || asked === 40 || asked === 60 || (asked === 30 && codec.name !== 'opus');
  return ok ? asked : 20;
}

const SUITES: readonly SrtpSuite[] = ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'];

/** Endpoint keys from the agreed a=crypto lines: each side sends under the key it wrote itself. */
function srtpConfig(n: NegotiatedMedia): MediaEndpointSrtpConfig | undefined {
  const c = n.crypto;
  if (!c) return undefined;
  const suite = c.suite.toUpperCase();
  if (!isSrtpSuite(suite)) throw new SdpError(`SRTP suite ${c.suite} is not supported`, undefined, WarnCode.incompatibleMediaFormat);
  try {
    const local = parseSdesKey(`inline:${c.local.keySalt}`, suite);
    const remote = parseSdesKey(`inline:${c.remote.keySalt}`, suite);
    return { suite, local, remote };
  } catch (err) {
    throw new SdpError(`bad a=crypto key: ${(err as Error).message}`, undefined, WarnCode.incompatibleMediaFormat);
  }
}
