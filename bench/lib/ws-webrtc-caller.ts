/**
 * The "browser" of bench:webrtc, without a browser: a werift
 * RTCPeerConnection (ICE, DTLS-SRTP, rtcp-mux, loopback only) whose offer a
 * small SIP-over-WebSocket client (RFC 7118, subprotocol `sip`) sends in an
 * INVITE, as JsSIP does. One WebSocket per caller, like one browser tab.
 * Once the call is up it sends 20 ms packets (stamped, or a 440 Hz Opus
 * tone when the relay transcodes) and measures what arrives.
 */
import { randomBytes } from 'node:crypto';
import { RTCPeerConnection, RtpHeader, RtpPacket } from 'werift';
import WebSocket from 'ws';
import { buildAuthorization, selectChallenge } from '../../src/sip/auth/client.js';
import { parseMessage, type SipMessage } from '../../src/sip/message.js';
import { realClock } from '../../src/util/clock.js';
import { gathered, loopbackPeerConfig } from '../../test/helpers/werift-peer.js';
import { nowMs, opusFrames, PT_OPUS, type CallMode, type CallPairs, type Direction } from './webrtc-media.js';

const tag = (): string => randomBytes(4).toString('hex');
const branch = (): string => `z9hG4bK${randomBytes(6).toString('hex')}`;

export interface CallTimes {
  /** INVITE sent -> 200 OK received. */
  answerMs: number;
  /** INVITE sent -> ICE connected. */
  iceMs: number;
  /** INVITE sent -> ICE and DTLS connected. */
  connectedMs: number;
  /** INVITE sent -> the first RTP packet from the far end at the werift peer. */
  firstAudioMs: number;
}

export class WsWebRtcCaller {
  private ws!: WebSocket;
  private readonly host = `${randomBytes(5).toString('hex')}.invalid`;
  private readonly pending = new Map<string, (m: SipMessage) => void>();
  private pc: RTCPeerConnection | undefined;
  private dialog: { callId: string; fromTag: string; toHeader: string; routes: string[]; target: string; cseq: number } | undefined;
  private ticker: ReturnType<typeof setInterval> | undefined;
  readonly out: Direction;
  readonly in: Direction;
  measuring = false;
  private frame = 0;
  /** INVITE sent -> ICE connected, of the last call (DTLS follows). */
  iceMs = NaN;

  constructor(
    readonly user: string,
    private readonly wsUrl: string,
    private readonly domain: string,
    private readonly mode: CallMode,
    pairs: CallPairs,
    /** Answers a digest challenge with it (Switchboard asks; the Kamailio reference does not). */
    private readonly password?: string,
  ) {
    const m = pairs.open(user, mode);
    this.out = m.toPhone;
    this.in = m.toBrowser;
  }

  async connect(timeoutMs = 5000): Promise<void> {
    const deadline = realClock.now() + timeoutMs;
    for (;;) {
      try {
        this.ws = await new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(this.wsUrl, 'sip');
          ws.once('open', () => resolve(ws));
          ws.once('error', reject);
        });
        break;
      } catch (err) {
        if (realClock.now() > deadline) throw err;
        await new Promise<void>((r) => setTimeout(r, 100));
      }
    }
    this.ws.on('message', (data: Buffer) => {
      let m: SipMessage;
      try {
        m = parseMessage(Buffer.from(data));
      } catch {
        return;
      }
      if (m.isRequest) return this.onRequest(m);
      const key = `${m.get('call-id')} ${m.get('cseq')}`;
      if (m.status! >= 200) this.pending.get(key)?.(m);
    });
  }

  private send(lines: string[], body = ''): void {
    this.ws.send([...lines, `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n'));
  }

  private transaction(callId: string, cseq: string, lines: string[], body = '', timeoutMs = 10_000): Promise<SipMessage> {
    const key = `${callId} ${cseq}`;
    return new Promise<SipMessage>((resolve, reject) => {
      const timer = realClock.setTimer(timeoutMs, () => {
        this.pending.delete(key);
        reject(new Error(`${cseq}: no final response in ${timeoutMs} ms`));
      });
      this.pending.set(key, (m) => {
        timer.cancel();
        this.pending.delete(key);
        resolve(m);
      });
      this.send(lines, body);
    });
  }

  private onRequest(m: SipMessage): void {
    // Only in-dialog requests reach us (BYE from the far end, OPTIONS): answer 200.
    const lines = ['SIP/2.0 200 OK', ...m.getAll('via').map((v) => `Via: ${v}`), `From: ${m.get('from')}`, `To: ${m.get('to')}`, `Call-ID: ${m.get('call-id')}`, `CSeq: ${m.get('cseq')}`];
    this.send(lines);
  }

  /**
   * The request again with the credentials a 401/407 asked for (same Call-ID,
   * next CSeq), or undefined when `r` is no challenge we can answer.
   */
  private authorized(r: SipMessage, method: string, uri: string): string | undefined {
    if ((r.status !== 401 && r.status !== 407) || this.password === undefined) return undefined;
    const challenge = selectChallenge(r.getAll(r.status === 401 ? 'www-authenticate' : 'proxy-authenticate'));
    if (!challenge) return undefined;
    const value = buildAuthorization(challenge, { user: this.user, password: this.password }, method, uri, 1);
    return `${r.status === 401 ? 'Authorization' : 'Proxy-Authorization'}: ${value}`;
  }

  async register(): Promise<void> {
    const callId = randomBytes(8).toString('hex');
    const fromTag = tag();
    const uri = `sip:${this.domain}`;
    const lines = (cseq: number, extra: string[]): string[] => [
      `REGISTER ${uri} SIP/2.0`,
      `Via: SIP/2.0/WS ${this.host};branch=${branch()}`,
      'Max-Forwards: 70',
      `From: <sip:${this.user}@${this.domain}>;tag=${fromTag}`,
      `To: <sip:${this.user}@${this.domain}>`,
      `Call-ID: ${callId}`,
      `CSeq: ${cseq} REGISTER`,
      `Contact: <sip:${this.user}@${this.host};transport=ws>;expires=600`,
      'Expires: 600',
      ...extra,
    ];
    let r = await this.transaction(callId, '1 REGISTER', lines(1, []));
    const auth = this.authorized(r, 'REGISTER', uri);
    if (auth) r = await this.transaction(callId, '2 REGISTER', lines(2, [auth]));
    if (r.status !== 200) throw new Error(`REGISTER over WebSocket: ${r.status} ${r.reason}`);
  }

  /** Places the call and resolves once the first far-end RTP packet arrived. */
  async call(target: string, extraHeaders: string[] = []): Promise<CallTimes> {
    const pc = new RTCPeerConnection(loopbackPeerConfig({}, this.mode === 'relay' ? ['opus'] : ['opus']));
    this.pc = pc;
    const transceiver = pc.addTransceiver('audio', { direction: 'sendrecv' });
    let firstAudio: number | undefined;
    let onFirst: (() => void) | undefined;
    const firstAudioP = new Promise<void>((resolve) => {
      onFirst = resolve;
    });
    // At the DTLS transport, not the track: werift routes RTP to a track by SSRC only, and a
    // transcoding relay sends an SSRC the answer never announced.
    const onRtp = (rtp: RtpPacket): void => {
      if (firstAudio === undefined) {
        firstAudio = nowMs();
        onFirst?.();
      }

      this.in.onPacket(rtp.payload);
    };

    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const offer = pc.localDescription!.sdp;

    const callId = randomBytes(8).toString('hex');
    const fromTag = tag();
    const invite = (cseq: number, extra: string[]): string[] => [
      `INVITE ${target} SIP/2.0`,
      `Via: SIP/2.0/WS ${this.host};branch=${branch()}`,
      'Max-Forwards: 70',
      `From: <sip:${this.user}@${this.domain}>;tag=${fromTag}`,
      `To: <${target}>`,
      `Call-ID: ${callId}`,
      `CSeq: ${cseq} INVITE`,
      `Contact: <sip:${this.user}@${this.host};transport=ws;ob>`,
      'Content-Type: application/sdp',
      ...extraHeaders,
      ...extra,
    ];
    // The call action: the first INVITE leaves now; a digest round trip (Switchboard's) counts in the setup time.
    const t0 = nowMs();
    let cseq = 1;
    let res = await this.transaction(callId, '1 INVITE', invite(1, []), offer);
    const auth = this.authorized(res, 'INVITE', target);
    if (auth) {
      this.ackFailure(res, target);
      cseq = 2;
      res = await this.transaction(callId, '2 INVITE', invite(2, [auth]), offer);
    }
    const answered = nowMs();
    if (res.status !== 200) throw new Error(`INVITE: ${res.status} ${res.reason}`);
    // Route set: the Record-Route of the 2xx, reversed (RFC 3261 12.1.2).
    const routes = res.getAll('record-route').reverse();
    const contact = /<([^>]+)>/.exec(res.get('contact') ?? '')?.[1] ?? target;
    this.dialog = { callId, fromTag, toHeader: res.get('to')!, routes, target: contact, cseq };
    this.sendInDialog('ACK', cseq);
    const connected = pc.connectionStateChange.watch((s) => s === 'connected');
    // werift 0.24 throws on an `a=rtcp:PORT` without an address (RFC 3605 allows it; rtpengine writes it).
    const answer = res.body.toString('utf8').replace(/^a=rtcp:(\d+)\r?$/gm, 'a=rtcp:$1 IN IP4 127.0.0.1');
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    transceiver.dtlsTransport.onRtp.subscribe(onRtp);
    const iceUp = pc.iceConnectionStateChange.watch((s) => s === 'connected' || s === 'completed').then(() => nowMs());
    // Bounded: an overrun relay may never finish ICE/DTLS, and the ramp must go on (or stop) rather than hang.
    await within(connected, 10_000, 'ICE + DTLS not up 10 s after the answer');
    this.iceMs = (await within(iceUp, 1000, 'ICE state never said connected')) - t0;
    const connectedAt = nowMs();
    this.startSending(transceiver);
    await within(firstAudioP, 10_000, 'no audio 10 s after the answer');
    return { answerMs: answered - t0, iceMs: this.iceMs, connectedMs: connectedAt - t0, firstAudioMs: firstAudio! - t0 };
  }

  private startSending(transceiver: ReturnType<RTCPeerConnection['addTransceiver']>): void {
    const frames = this.mode === 'transcode' ? opusFrames() : undefined;
    let seq = 0;
    let ts = 0;
    this.ticker = setInterval(() => {
      const payload = this.out.payload(frames?.[this.frame++ % frames.length], this.measuring);
      const header = new RtpHeader({ payloadType: PT_OPUS, sequenceNumber: seq++ & 0xffff, timestamp: ts >>> 0, marker: false });
      ts += 960;
      const pkt = new RtpPacket(header, payload);
      transceiver.sender.sendRtp(pkt).catch(() => undefined);
    }, 20);
  }

  /** The ACK of a non-2xx final response (RFC 3261 17.1.1.3): same branch as the INVITE. */
  private ackFailure(res: SipMessage, target: string): void {
    this.send([
      `ACK ${target} SIP/2.0`,
      `Via: ${res.getAll('via')[0]}`,
      'Max-Forwards: 70',
      `From: ${res.get('from')}`,
      `To: ${res.get('to')}`,
      `Call-ID: ${res.get('call-id')}`,
      `CSeq: ${(res.get('cseq') ?? '1').split(' ')[0]} ACK`,
    ]);
  }

  private sendInDialog(method: 'ACK' | 'BYE', cseq: number): void {
    const d = this.dialog!;
    this.send([
      `${method} ${d.target} SIP/2.0`,
      `Via: SIP/2.0/WS ${this.host};branch=${branch()}`,
      'Max-Forwards: 70',
      ...d.routes.map((r) => `Route: ${r}`),
      `From: <sip:${this.user}@${this.domain}>;tag=${d.fromTag}`,
      `To: ${d.toHeader}`,
      `Call-ID: ${d.callId}`,
      `CSeq: ${cseq} ${method}`,
    ]);
  }

  /** BYE (not waited for beyond 2 s), the peer connection and the WebSocket closed. */
  async hangup(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    const d = this.dialog;
    if (d) {
      d.cseq++;
      const key = `${d.callId} ${d.cseq} BYE`;
      const done = new Promise<void>((resolve) => {
        const timer = realClock.setTimer(2000, () => {
          this.pending.delete(key);
          resolve();
        });
        this.pending.set(key, () => {
          timer.cancel();
          this.pending.delete(key);
          resolve();
        });
      });
      this.sendInDialog('BYE', d.cseq);
      await done;
      this.dialog = undefined;
    }
    await this.pc?.close();
    this.pc = undefined;
  }

  close(): void {
    this.ws?.close();
  }
}

/** `p`, or a rejection saying `what` once `ms` pass first. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: { cancel(): void } | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = realClock.setTimer(ms, () => reject(new Error(what)));
  });
  return Promise.race([p, expired]).finally(() => timer?.cancel());
}
