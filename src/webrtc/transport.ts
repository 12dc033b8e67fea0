/**
 * One WebRTC media leg's transport: a werift RTCPeerConnection with one
 * audio m-line (rtcp-mux, BUNDLE), whose ICE candidates are exactly the
 * configured addresses, and whose decrypted RTP/RTCP is carried to and
 * from a media endpoint through `socket` (see packet-socket.ts).
 *
 * SIP carries no trickle here, so offers and answers are written once ICE
 * gathering is complete (host candidates: at once; with TURN: bounded by the
 * connect timeout).
 *
 * It watches the leg and reports, once, why it ended (`failed`): ICE or
 * DTLS not up within connectTimeoutMs of both descriptions being known,
 * ICE failed, the DTLS handshake failed or presented a certificate whose
 * fingerprint is not the one signalled, the peer closed DTLS, or nothing
 * heard from the peer (media or consent responses) for consentTimeoutMs.
 * Timers are the injected Clock's; werift keeps its own internal ones,
 * which close() ends with the peer connection.
 */
import { createHash } from 'node:crypto';
import { RTCPeerConnection, type RTCDtlsTransport, type RTCIceTransport, type RTCRtpTransceiver } from 'werift';
import type { CodecName } from '../media/codecs/registry.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { silentLogger, type Logger } from '../util/log.js';
import { webrtcCodecs } from './codecs.js';
import { WebRtcPacketSocket } from './packet-socket.js';
import { fingerprintsOf, webRtcSdpProblem } from './sdp.js';
import type { WebRtcConfig, WebRtcFailure, WebRtcState } from './types.js';

export interface WebRtcTransportOptions extends WebRtcConfig {
  codecs: readonly CodecName[];
  telephoneEvent: boolean;
  clock: Clock;
  log?: Logger;
  /** The leg's one owner hears why it ended (at most once). */
  onFailed(reason: WebRtcFailure, detail: string): void;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 15000;
const DEFAULT_CONSENT_TIMEOUT_MS = 30000;
const WATCH_INTERVAL_MS = 1000;

/** werift's configuration: our addresses only, our ICE servers only (its default list names a public STUN host). */
function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1';
}

function peerConfig(opts: WebRtcTransportOptions): ConstructorParameters<typeof RTCPeerConnection>[0] {
  const v4 = opts.addresses.filter((a) => !a.includes(':'));
  const v6 = opts.addresses.filter((a) => a.includes(':'));
  // werift binds every candidate's socket to the one interface address of its
  // family; with several addresses of a family it must bind the wildcard.
  const iface: { udp4?: string; udp6?: string } = {};
  if (v4.length === 1) iface.udp4 = v4[0];
  if (v6.length === 1) iface.udp6 = v6[0];
  return {
    iceServers: (opts.iceServers ?? []).map((s) => ({ ...s })),
    // Gathering from the host's interfaces is off: the candidates are exactly `addresses`.
    iceUseIpv4: false,
    iceUseIpv6: false,
    iceAdditionalHostAddresses: [...opts.addresses],
    iceInterfaceAddresses: iface,
    icePortRange: opts.portRange ? [opts.portRange.min, opts.portRange.max] : undefined,
    // Browsers offer every interface they have; from loopback addresses only loopback peers are
    // reachable, and checks sent elsewhere would leave the machine (tests send only to 127/8).
    iceFilterCandidatePair: v4.concat(v6).every(isLoopback) ? (pair) => isLoopback(pair.remoteCandidate.host) : undefined,
    codecs: { audio: webrtcCodecs(opts.codecs, opts.telephoneEvent) },
    headerExtensions: { audio: [] },
    bundlePolicy: 'max-bundle',
  };
}

/** A description werift would take and then never connect with is refused here (the caller answers 488). */
function usable(sdp: string, what: string): void {
  const problem = webRtcSdpProblem(sdp);
  if (problem !== undefined) throw new Error(`the ${what} has ${problem}`);
}

export class WebRtcTransport {
  readonly socket = new WebRtcPacketSocket();
  private readonly pc: RTCPeerConnection;
  private transceiver: RTCRtpTransceiver;
  private readonly log: Logger;
  private remoteSdp: string | undefined;
  private connectTimer: TimerHandle | undefined;
  private watchTimer: TimerHandle | undefined;
  private lastHeard = { count: -1, at: 0 };
  private connected = false;
  private ended = false;
  private closing = false;
  codec: string | undefined;

  private constructor(private readonly opts: WebRtcTransportOptions) {
    this.log = opts.log ?? silentLogger;
    this.pc = new RTCPeerConnection(peerConfig(opts));
    this.transceiver = this.pc.addTransceiver('audio', { direction: 'sendrecv' });
    this.pc.connectionStateChange.subscribe((s) => this.onConnectionState(s));
  }

  static open(opts: WebRtcTransportOptions): WebRtcTransport {
    if (opts.addresses.length === 0) throw new RangeError('webrtc: no candidate addresses configured');
    return new WebRtcTransport(opts);
  }

  /** The SSRC werift advertises in a=ssrc: the endpoint sends under it. */
  get ssrc(): number {
    return this.transceiver.sender.ssrc;
  }

  get state(): WebRtcState {
    const ice = this.iceTransport();
    const pair = ice?.connection.nominated;
    const st: WebRtcState = { ice: this.pc.iceConnectionState, dtls: this.dtlsTransport()?.state ?? 'new' };
    if (pair) {
      const [ra, rp] = pair.remoteAddr;
      st.selectedPair = { local: `${pair.localCandidate.host}:${pair.localCandidate.port}`, remote: `${ra}:${rp}` };
    }
    if (this.codec) st.codec = this.codec;
    return st;
  }

  /** Answerer: applies the browser's offer and returns our complete answer. */
  async answer(offer: string): Promise<string> {
    usable(offer, 'offer');
    await this.pc.setRemoteDescription({ type: 'offer', sdp: offer });
    this.remoteSdp = offer;
    // werift makes a transceiver for the offered m-line; ours was added before, so it is matched
    // when free, else the new one is used. Either way it must send too.
    for (const t of this.pc.getTransceivers()) t.setDirection('sendrecv');
    this.transceiver = this.pc.getTransceivers().find((t) => t.kind === 'audio' && t.mid !== null) ?? this.transceiver;
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    await this.gathered();
    this.bindSocket();
    return this.localSdp();
  }

  /** Offerer: our complete offer (ICE gathered). */
  async offer(): Promise<string> {
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    await this.gathered();
    this.bindSocket();
    return this.localSdp();
  }

  /** Offerer: the browser's answer. */
  async setAnswer(answer: string): Promise<void> {
    usable(answer, 'answer');
    this.remoteSdp = answer;
    await this.pc.setRemoteDescription({ type: 'answer', sdp: answer });
    this.bindSocket();
  }

  /** Both descriptions are exchanged: ICE + DTLS must now come up within the connect timeout. */
  startConnectTimer(): void {
    if (this.connectTimer || this.connected || this.ended) return;
    const ms = this.opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.connectTimer = this.opts.clock.setTimer(ms, () => {
      this.connectTimer = undefined;
      if (!this.connected) this.fail('connect-timeout', `ICE/DTLS not connected within ${ms} ms`);
    });
  }

  /** Reports a failure found outside (an answer werift refused). */
  fail(reason: WebRtcFailure, detail: string): void {
    if (this.ended || this.closing) return;
    this.ended = true;
    this.stopTimers();
    this.opts.counters?.failed(reason);
    this.log.warn({ reason, detail }, 'webrtc leg failed');
    this.opts.onFailed(reason, detail);
  }

  /** Ends the peer connection: its sockets, werift's timers and DTLS state. Idempotent. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.stopTimers();
    this.socket.close();
    await this.pc.close();
  }

  private stopTimers(): void {
    this.connectTimer?.cancel();
    this.connectTimer = undefined;
    this.watchTimer?.cancel();
    this.watchTimer = undefined;
  }

  private localSdp(): string {
    const sdp = this.pc.localDescription?.sdp;
    if (!sdp) throw new Error('webrtc: no local description');
    return sdp;
  }

  private iceTransport(): RTCIceTransport | undefined {
    return this.pc.iceTransports[0];
  }

  private dtlsTransport(): RTCDtlsTransport | undefined {
    return this.pc.dtlsTransports[0];
  }

  /** Subscribes once the DTLS transport exists (after the first local description). */
  private bindSocket(): void {
    const dtls = this.pc.dtlsTransports[0];
    if (!dtls) return;
    this.socket.attach(dtls);
    if (this.boundDtls === dtls) return;
    this.boundDtls = dtls;
    dtls.onStateChange.subscribe((s) => this.onDtlsState(dtls, s));
  }

  private boundDtls: RTCDtlsTransport | undefined;

  private gathered(): Promise<void> {
    if (this.pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const sub = this.pc.iceGatheringStateChange.subscribe((s) => {
        if (s !== 'complete') return;
        sub.unSubscribe();
        timer.cancel();
        resolve();
      });
      // A TURN server that does not answer must not hold the call: offer what we have.
      const timer = this.opts.clock.setTimer(this.opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, () => {
        sub.unSubscribe();
        resolve();
      });
    });
  }

  private onConnectionState(s: string): void {
    if (this.closing || this.ended) return;
    if (s === 'connected') {
      this.connected = true;
      this.connectTimer?.cancel();
      this.connectTimer = undefined;
      const pair = this.iceTransport()?.connection.nominated;
      if (pair) this.socket.setLocal({ address: pair.localCandidate.host, port: pair.localCandidate.port });
      this.startWatch();
      return;
    }
    if (s === 'failed') {
      const dtls = this.dtlsTransport();
      if (dtls?.state === 'failed') this.onDtlsState(dtls, 'failed');
      else this.fail(this.connected ? 'consent-lost' : 'ice-failed', `ICE ${this.pc.iceConnectionState}`);
    }
  }

  private onDtlsState(dtls: RTCDtlsTransport, s: string): void {
    if (this.closing || this.ended) return;
    if (s === 'failed') {
      if (this.fingerprintMismatch(dtls)) this.fail('fingerprint-mismatch', 'DTLS certificate does not match a=fingerprint');
      else this.fail('dtls-failed', 'DTLS handshake failed');
    } else if (s === 'closed' && this.connected) {
      this.fail('peer-closed', 'the peer closed DTLS');
    }
  }

  /** werift checks the fingerprint but reports only "failed"; we tell the cases apart for the counter. */
  private fingerprintMismatch(dtls: RTCDtlsTransport): boolean {
    const cert = dtls.dtls?.remoteCertificate;
    if (!cert || !this.remoteSdp) return false;
    const expected = fingerprintsOf(this.remoteSdp);
    return !expected.some((f) => {
      const alg = f.algorithm.replace('-', '');
      try {
        return createHash(alg).update(cert).digest('hex').toUpperCase().match(/../g)?.join(':') === f.value;
      } catch {
        return false;
      }
    });
  }

  /** Consent freshness on our clock: packets or consent responses from the peer must keep coming. */
  private startWatch(): void {
    const timeout = this.opts.consentTimeoutMs ?? DEFAULT_CONSENT_TIMEOUT_MS;
    const tick = (): void => {
      this.watchTimer = undefined;
      if (this.closing || this.ended) return;
      const pair = this.iceTransport()?.connection.nominated;
      const count = pair ? pair.packetsReceived + pair.responsesReceived : 0;
      const now = this.opts.clock.now();
      if (count !== this.lastHeard.count) this.lastHeard = { count, at: now };
      else if (now - this.lastHeard.at >= timeout) {
        this.fail('consent-lost', `nothing from the peer for ${timeout} ms`);
        return;
      }
      this.watchTimer = this.opts.clock.setTimer(Math.min(WATCH_INTERVAL_MS, timeout), tick);
    };
    tick();
  }
}

