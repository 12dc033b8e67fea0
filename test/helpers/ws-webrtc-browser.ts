/**
 * A browser without a browser, for the gateway's bad-input tests: a werift
 * RTCPeerConnection (loopback only) whose offer a small SIP-over-WebSocket
 * UA (RFC 7118, JsSIP's spelling, digest auth) sends in an INVITE. It can
 * misbehave the ways real browsers do: vanish from the network without a
 * word (its UDP sockets closed, no DTLS close_notify), drop its WebSocket,
 * never answer ICE checks, or sign its offer with a foreign fingerprint.
 */
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { RTCPeerConnection, RtpHeader, RtpPacket, type RTCRtpTransceiver } from 'werift';
import WebSocket from 'ws';
import { OpusCodec } from '../../src/media/codecs/opus.js';
import { buildAuthorization } from '../../src/sip/auth/index.js';
import { parseMessage, SipMessage } from '../../src/sip/message.js';
import { gathered, loopbackPeerConfig, type WeriftCodec } from './werift-peer.js';

const WAIT_MS = 10_000;
const hex = (n: number): string => randomBytes(n).toString('hex');

/** 20 ms Opus frames of a 440 Hz tone (one second, looped). */
function opusTone(): Uint8Array[] {
  const codec = new OpusCodec({ sampleRate: 48000, fec: false });
  const frames: Uint8Array[] = [];
  for (let f = 0; f < 50; f++) {
    const pcm = new Int16Array(960);
    for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * (f * 960 + i)) / 48000));
    const out = new Uint8Array(400);
    frames.push(out.slice(0, codec.encode(pcm, out)));
  }
  return frames;
}

export interface WsInviteResult {
  final: SipMessage;
  /** Every response to the INVITE, provisional ones included. */
  responses: SipMessage[];
}

export class WsWebRtcBrowser {
  readonly viaHost = `${hex(6)}.invalid`;
  readonly received: SipMessage[] = [];
  closed = false;
  pc: RTCPeerConnection | undefined;
  transceiver: RTCRtpTransceiver | undefined;
  /** RTP packets from the gateway, counted at the DTLS transport. */
  rtpIn = 0;
  private ticker: ReturnType<typeof setInterval> | undefined;
  private waiters = new Set<() => void>();
  private dialog: { callId: string; from: string; to: string; routes: string[]; target: string; cseq: number } | undefined;

  private constructor(
    readonly ws: WebSocket,
    readonly user: string,
    private readonly password: string,
    readonly domain: string,
  ) {
    ws.on('message', (data: Buffer) => {
      let m: SipMessage;
      try {
        m = parseMessage(Buffer.from(data));
      } catch {
        return;
      }
      this.received.push(m);
      // In-dialog requests (BYE, re-INVITE, OPTIONS): 200, as a browser's UA would.
      if (m.isRequest && m.method !== 'ACK') this.send(this.response(m, 200, 'OK'));
      this.changed();
    });
    ws.on('close', () => {
      this.closed = true;
      this.changed();
    });
    ws.on('error', () => {});
  }

  static async open(url: string, user: string, password: string, domain: string): Promise<WsWebRtcBrowser> {
    const ws = new WebSocket(url, 'sip');
    const b = new WsWebRtcBrowser(ws, user, password, domain);
    await once(ws, 'open', { signal: AbortSignal.timeout(WAIT_MS) });
    return b;
  }

  private changed(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves with the first received message matching `pred` (earlier ones count). */
  next(pred: (m: SipMessage) => boolean, ms = WAIT_MS): Promise<SipMessage> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const m = this.received.find(pred);
        if (!m) return;
        done();
        resolve(m);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching SIP message in ${ms} ms; got: ${this.received.map((r) => (r.isRequest ? r.method : r.status)).join(', ')}`));
      }, ms);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  send(msg: SipMessage): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(msg.toBuffer().toString('utf8'));
  }

  private via(): string {
    return `SIP/2.0/WSS ${this.viaHost};branch=z9hG4bK${hex(6)}`;
  }

  private get contact(): string {
    return `<sip:${this.user}@${this.viaHost};transport=ws;ob>`;
  }

  private response(req: SipMessage, status: number, reason: string): SipMessage {
    const to = req.get('to') ?? '';
    return SipMessage.response(status, reason, [
      ...req.getAll('via').map((v): [string, string] => ['Via', v]),
      ['From', req.get('from') ?? ''],
      ['To', /;tag=/.test(to) ? to : `${to};tag=${hex(4)}`],
      ['Call-ID', req.callId],
      ['CSeq', req.get('cseq') ?? ''],
      ['Content-Length', '0'],
    ]);
  }

  async register(): Promise<void> {
    const callId = hex(8);
    const uri = `sip:${this.domain}`;
    const build = (cseq: number, auth?: string): SipMessage =>
      SipMessage.request('REGISTER', uri, [
        ['Via', this.via()],
        ['Max-Forwards', '69'],
        ['To', `<sip:${this.user}@${this.domain}>`],
        ['From', `<sip:${this.user}@${this.domain}>;tag=${hex(4)}`],
        ['Call-ID', callId],
        ['CSeq', `${cseq} REGISTER`],
        ...(auth ? ([['Authorization', auth]] as [string, string][]) : []),
        ['Contact', `<sip:${this.user}@${this.viaHost};transport=ws>;expires=600`],
        ['Expires', '600'],
      ]);
    this.send(build(1));
    const challenge = await this.next((m) => !m.isRequest && m.callId === callId && m.cseq.seq === 1 && m.status >= 200);
    let final = challenge;
    if (challenge.status === 401) {
      this.send(build(2, buildAuthorization(challenge.get('www-authenticate') ?? '', { user: this.user, password: this.password }, 'REGISTER', uri, 1)));
      final = await this.next((m) => !m.isRequest && m.callId === callId && m.cseq.seq === 2 && m.status >= 200);
    }
    if (final.status !== 200) throw new Error(`REGISTER over WebSocket: ${final.status} ${final.reason}`);
  }

  /** A werift peer connection with its complete (non-trickle) offer. */
  async makeOffer(codecs: WeriftCodec[] = ['opus']): Promise<string> {
    const pc = new RTCPeerConnection(loopbackPeerConfig({}, codecs));
    this.pc = pc;
    this.transceiver = pc.addTransceiver('audio', { direction: 'sendrecv' });
    this.transceiver.dtlsTransport.onRtp.subscribe(() => this.rtpIn++);
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    return pc.localDescription!.sdp;
  }

  /**
   * INVITE `target` with `sdp` (digest auth on 407), ACK a 2xx and keep its
   * dialog. The 2xx's answer is not applied: see applyAnswer().
   */
  async invite(target: string, sdp: string, ms = 20_000): Promise<WsInviteResult> {
    const callId = hex(8);
    const from = `<sip:${this.user}@${this.domain}>;tag=${hex(4)}`;
    const uri = `sip:${target}@${this.domain}`;
    const build = (cseq: number, auth?: string): SipMessage =>
      SipMessage.request(
        'INVITE',
        uri,
        [
          ['Via', this.via()],
          ['Max-Forwards', '69'],
          ['To', `<${uri}>`],
          ['From', from],
          ['Call-ID', callId],
          ['CSeq', `${cseq} INVITE`],
          ...(auth ? ([['Proxy-Authorization', auth]] as [string, string][]) : []),
          ['Contact', this.contact],
          ['Content-Type', 'application/sdp'],
        ],
        sdp,
      );
    const first = build(1);
    this.send(first);
    const isFinal = (seq: number) => (m: SipMessage) => !m.isRequest && m.callId === callId && m.cseq.seq === seq && m.status >= 200;
    let seq = 1;
    let final = await this.next(isFinal(1), ms);
    if (final.status === 407) {
      this.ackFailure(first, final);
      seq = 2;
      this.send(build(2, buildAuthorization(final.get('proxy-authenticate') ?? '', { user: this.user, password: this.password }, 'INVITE', uri, 1)));
      final = await this.next(isFinal(2), ms);
    }
    const responses = this.received.filter((m) => !m.isRequest && m.callId === callId && m.cseq.seq === seq);
    if (final.status >= 300) {
      this.ackFailure(build(seq), final);
      return { final, responses };
    }
    const contact = /<([^>]+)>/.exec(final.get('contact') ?? '')?.[1] ?? uri;
    this.dialog = { callId, from, to: final.get('to') ?? '', routes: final.getAll('record-route').reverse(), target: contact, cseq: seq };
    this.inDialog('ACK', seq);
    return { final, responses };
  }

  /** RFC 3261 §17.1.1.3: the ACK of a non-2xx final response, on the INVITE's branch. */
  private ackFailure(invite: SipMessage, res: SipMessage): void {
    this.send(
      SipMessage.request('ACK', invite.uri, [
        ['Via', invite.get('via') ?? ''],
        ['Max-Forwards', '69'],
        ['To', res.get('to') ?? ''],
        ['From', invite.get('from') ?? ''],
        ['Call-ID', invite.callId],
        ['CSeq', `${invite.cseq.seq} ACK`],
        ['Content-Length', '0'],
      ]),
    );
  }

  private inDialog(method: 'ACK' | 'BYE', cseq: number): void {
    const d = this.dialog;
    if (!d) return;
    this.send(
      SipMessage.request(method, d.target, [
        ['Via', this.via()],
        ['Max-Forwards', '69'],
        ...d.routes.map((r): [string, string] => ['Route', r]),
        ['From', d.from],
        ['To', d.to],
        ['Call-ID', d.callId],
        ['CSeq', `${cseq} ${method}`],
        ['Content-Length', '0'],
      ]),
    );
  }

  /** Applies the gateway's answer and resolves once ICE and DTLS are up. */
  async applyAnswer(answer: string, ms = WAIT_MS): Promise<void> {
    const pc = this.pc!;
    const connected = pc.connectionStateChange.watch((s) => s === 'connected');
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    await Promise.race([connected, new Promise((_, reject) => setTimeout(() => reject(new Error(`ICE/DTLS not connected in ${ms} ms`)), ms).unref())]);
  }

  /** Sends a 440 Hz Opus tone every 20 ms until vanish()/close(). */
  startTone(): void {
    const frames = opusTone();
    let seq = 0;
    let ts = 0;
    const sender = this.transceiver!.sender;
    this.ticker = setInterval(() => {
      const header = new RtpHeader({ payloadType: 111, sequenceNumber: seq++ & 0xffff, timestamp: ts >>> 0, marker: false });
      ts += 960;
      sender.sendRtp(new RtpPacket(header, Buffer.from(frames[seq % frames.length]))).catch(() => undefined);
    }, 20);
  }

  /**
   * The network is gone: the peer's UDP sockets close without a DTLS
   * close_notify or anything else on the wire. werift's own timers then have
   * nothing to send on.
   */
  async vanishMedia(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    const conn = this.pc?.iceTransports[0]?.connection as unknown as { protocols?: { close(): Promise<void> }[] } | undefined;
    for (const p of conn?.protocols ?? []) await p.close().catch(() => undefined);
  }

  /** The WebSocket dies without a close frame (TCP reset), as when the tab's process is killed. */
  dropWebSocket(): void {
    this.ws.terminate();
  }

  async bye(): Promise<void> {
    const d = this.dialog;
    if (!d) return;
    this.inDialog('BYE', ++d.cseq);
    await this.next((m) => !m.isRequest && m.callId === d.callId && m.cseq.method === 'BYE', 5000).catch(() => undefined);
    this.dialog = undefined;
  }

  async close(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    await this.pc?.close().catch(() => undefined);
    this.pc = undefined;
    this.ws.terminate();
  }
}
