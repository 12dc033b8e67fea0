/**
 * The SIP phone of bench:webrtc: a plain-RTP user agent on 127.0.0.1 UDP
 * that registers to the system under test, answers every INVITE at once
 * with Opus or PCMU (whatever the offer puts first of the two), sends 20 ms
 * packets from the moment it answers and measures what arrives.
 */
import type { RemoteInfo, Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { buildAuthorization, selectChallenge } from '../../src/sip/auth/client.js';
import { parseMessage, type SipMessage } from '../../src/sip/message.js';
import { realClock } from '../../src/util/clock.js';
import { bindLoopback } from './rtp-probe.js';
import { sleep } from '../../test/helpers/process.js';
import { opusFrames, pcmuFrames, PT_OPUS, PT_PCMU, type CallMode, type CallPairs, type Direction } from './webrtc-media.js';

export interface CalleeCall {
  callId: string;
  pt: number;
  rtp: Socket;
  remote?: { address: string; port: number };
  /** SIP side -> WebRTC side. */
  out: Direction;
  /** WebRTC side -> SIP side. */
  in: Direction;
  seq: number;
  ts: number;
  ssrc: number;
  frame: number;
}

/**
 * What the SDP offer asks for: media address and the codec to answer. A
 * relayed call's phone takes Opus; a transcoded call's phone only speaks PCMU
 * (as rtpengine's offer with Opus masked leaves it no choice).
 */
function readOffer(sdp: string, mode: CallMode): { address: string; port: number; pt: number } {
  const c = /^c=IN IP4 (\S+)/m.exec(sdp)?.[1];
  const m = /^m=audio (\d+) \S+ ([\d ]+)/m.exec(sdp);
  if (!c || !m) throw new Error(`offer without c= or m=audio:\n${sdp}`);
  const pts = m[2].trim().split(' ').map(Number);
  const opusPt = Number(/^a=rtpmap:(\d+) opus\/48000/im.exec(sdp)?.[1] ?? -1);
  // Relayed: Opus wherever the offer lists it (Switchboard's puts PCMU first); transcoded: PCMU only.
  const pt = mode === 'relay' && pts.includes(opusPt) ? opusPt : pts.find((p) => p === PT_PCMU);
  if (pt === undefined) throw new Error(`offer has ${mode === 'relay' ? 'neither Opus nor PCMU' : 'no PCMU'}: ${m[0]}`);
  return { address: c, port: Number(m[1]), pt: pt === PT_PCMU ? PT_PCMU : PT_OPUS };
}

export class SipRtpCallee {
  readonly calls = new Map<string, CalleeCall>();
  private sip!: Socket;
  private ticker: ReturnType<typeof setInterval> | undefined;
  measuring = false;

  constructor(
    readonly user: string,
    private readonly registrar: { address: string; port: number },
    private readonly pairs: CallPairs,
    private readonly mode: () => CallMode,
    /** Answers the registrar's digest challenge with it, when it sends one. */
    private readonly password?: string,
  ) {}

  get port(): number {
    return this.sip.address().port;
  }

  async start(): Promise<void> {
    this.sip = await bindLoopback();
    this.sip.on('message', (buf, rinfo) => this.onSip(buf, rinfo));
    await this.register();
    // One timer for every call: the packets of a frame go out together, as a busy phone farm's would.
    this.ticker = setInterval(() => this.tick(), 20);
  }

  private async register(): Promise<void> {
    const callId = randomBytes(8).toString('hex');
    const fromTag = randomBytes(4).toString('hex');
    const uri = `sip:${this.registrar.address}:${this.registrar.port}`;
    let r = await this.registerOnce(callId, fromTag, uri, 1, []);
    if ((r.status === 401 || r.status === 407) && this.password !== undefined) {
      const challenge = selectChallenge(r.getAll(r.status === 401 ? 'www-authenticate' : 'proxy-authenticate'));
      if (challenge) {
        const value = buildAuthorization(challenge, { user: this.user, password: this.password }, 'REGISTER', uri, 1);
        r = await this.registerOnce(callId, fromTag, uri, 2, [`${r.status === 401 ? 'Authorization' : 'Proxy-Authorization'}: ${value}`]);
      }
    }
    if (r.status !== 200) throw new Error(`REGISTER of ${this.user}: ${r.status} ${r.reason}`);
  }

  private registerOnce(callId: string, fromTag: string, uri: string, cseq: number, extra: string[]): Promise<SipMessage> {
    const msg = [
      `REGISTER ${uri} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${this.port};branch=z9hG4bK${randomBytes(6).toString('hex')};rport`,
      'Max-Forwards: 70',
      `From: <sip:${this.user}@127.0.0.1>;tag=${fromTag}`,
      `To: <sip:${this.user}@127.0.0.1>`,
      `Call-ID: ${callId}`,
      `CSeq: ${cseq} REGISTER`,
      `Contact: <sip:${this.user}@127.0.0.1:${this.port}>`,
      'Expires: 3600',
      ...extra,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    return new Promise<SipMessage>((resolve, reject) => {
      const timer = realClock.setTimer(5000, () => {
        this.sip.off('message', onMsg);
        reject(new Error(`REGISTER of ${this.user} not answered`));
      });
      const onMsg = (buf: Buffer): void => {
        const m = parseMessage(buf);
        if (!m.isRequest && m.get('call-id') === callId && m.get('cseq') === `${cseq} REGISTER` && m.status! >= 200) {
          this.sip.off('message', onMsg);
          timer.cancel();
          resolve(m);
        }
      };
      this.sip.on('message', onMsg);
      this.sip.send(msg, this.registrar.port, this.registrar.address);
    });
  }

  private reply(req: SipMessage, rinfo: RemoteInfo, status: number, reason: string, extra: string[] = [], body = ''): void {
    const lines = [`SIP/2.0 ${status} ${reason}`];
    for (const v of req.getAll('via')) lines.push(`Via: ${v}`);
    for (const rr of req.getAll('record-route')) lines.push(`Record-Route: ${rr}`);
    const to = req.get('to')!;
    lines.push(`From: ${req.get('from')}`, `To: ${/;tag=/.test(to) ? to : `${to};tag=${randomBytes(4).toString('hex')}`}`);
    lines.push(`Call-ID: ${req.get('call-id')}`, `CSeq: ${req.get('cseq')}`, ...extra);
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`, '', body);
    this.sip.send(lines.join('\r\n'), rinfo.port, rinfo.address);
  }

  private onSip(buf: Buffer, rinfo: RemoteInfo): void {
    let m: SipMessage;
    try {
      m = parseMessage(buf);
    } catch {
      return;
    }
    if (!m.isRequest) return;
    const callId = m.get('call-id') ?? '';
    if (m.method === 'INVITE') {
      const existing = this.calls.get(callId);
      if (existing) return; // a retransmission: our 200 is on its way
      // The callee's port is only known after the socket is bound: answer from the continuation.
      this.answer(m, rinfo).catch((e: unknown) => process.stderr.write(`callee ${this.user}: ${(e as Error).message}\n`));
    } else if (m.method === 'BYE') {
      this.reply(m, rinfo, 200, 'OK');
      const call = this.calls.get(callId);
      if (call) {
        this.calls.delete(callId);
        call.rtp.close();
      }
    } else if (m.method !== 'ACK') {
      this.reply(m, rinfo, 200, 'OK');
    }
  }

  private async answer(m: SipMessage, rinfo: RemoteInfo): Promise<void> {
    const callId = m.get('call-id')!;
    const offer = readOffer(m.body.toString('utf8'), this.mode());
    const rtp = await bindLoopback();
    const caller = /sip:([^@;>]+)@/.exec(m.get('from') ?? '')?.[1] ?? callId;
    const media = this.pairs.find(caller) ?? this.pairs.open(caller, this.mode());
    const call: CalleeCall = {
      callId,
      pt: offer.pt,
      rtp,
      remote: { address: offer.address, port: offer.port },
      out: media.toBrowser,
      in: media.toPhone,
      seq: 0,
      ts: 0,
      ssrc: randomBytes(4).readUInt32BE(0),
      frame: 0,
    };
    this.calls.set(callId, call);
    rtp.on('message', (pkt) => {
      // RTP only (RTCP's second byte is 200..204); the payload after the 12-byte header (no CSRC/extension from rtpengine here).
      if (pkt.length < 12 || (pkt[1] & 0x7f) >= 72 && (pkt[1] & 0x7f) <= 76) return;
      const cc = pkt[0] & 0x0f;
      let off = 12 + cc * 4;
      if (pkt[0] & 0x10) off += 4 + pkt.readUInt16BE(off + 2) * 4;
      call.in.onPacket(pkt.subarray(off));
    });
    const rtpmap = offer.pt === PT_PCMU ? 'a=rtpmap:0 PCMU/8000' : `a=rtpmap:${PT_OPUS} opus/48000/2`;
    const sdp = [
      'v=0',
      `o=- ${Date.now()} 1 IN IP4 127.0.0.1`,
      's=-',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      `m=audio ${rtp.address().port} RTP/AVP ${offer.pt}`,
      rtpmap,
      'a=ptime:20',
      'a=sendrecv',
      // werift routes incoming RTP by SSRC only (no MID fallback): the relay passes this on to it.
      `a=ssrc:${call.ssrc} cname:phone-${this.user}`,
      '',
    ].join('\r\n');
    this.reply(m, rinfo, 200, 'OK', [`Contact: <sip:${this.user}@127.0.0.1:${this.port}>`, 'Content-Type: application/sdp'], sdp);
  }

  private tick(): void {
    const opus = opusFrames();
    const pcmu = pcmuFrames();
    for (const call of this.calls.values()) {
      if (!call.remote) continue;
      const frames = call.pt === PT_PCMU ? pcmu : opus;
      const payload = call.out.payload(frames[call.frame++ % frames.length], this.measuring);
      const head = Buffer.alloc(12);
      head[0] = 0x80;
      head[1] = call.pt;
      head.writeUInt16BE(call.seq++ & 0xffff, 2);
      head.writeUInt32BE(call.ts >>> 0, 4);
      head.writeUInt32BE(call.ssrc, 8);
      call.ts += call.pt === PT_PCMU ? 160 : 960;
      call.rtp.send(Buffer.concat([head, payload]), call.remote.port, call.remote.address);
    }
  }

  async stop(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    for (const c of this.calls.values()) c.rtp.close();
    this.calls.clear();
    this.sip.close();
    await sleep(0);
  }
}
