/**
 * A werift RTCPeerConnection playing the browser in WebRTC tests: loopback
 * candidates only, no ICE servers, one audio m-line. It sends a tone in the
 * codec the answer picked and keeps what it receives, decoded, plus every
 * RFC 4733 packet by payload type.
 */
import { RtpHeader, RtpPacket, RTCPeerConnection, RTCRtpCodecParameters, type RTCRtpTransceiver } from 'werift';
import { codecForRtpmap } from '../../src/media/codecs/registry.js';
import type { Codec } from '../../src/media/codecs/types.js';
import { openSource } from '../../src/media/players/index.js';

export type PeerCodec = 'opus' | 'pcmu';

const PARAMS: Record<PeerCodec, () => RTCRtpCodecParameters> = {
  opus: () => new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: 111, parameters: 'minptime=10;useinbandfec=1' }),
  pcmu: () => new RTCRtpCodecParameters({ mimeType: 'audio/PCMU', clockRate: 8000, channels: 1, payloadType: 0 }),
};

export interface ReceivedEvent {
  pt: number;
  event: number;
  end: boolean;
}

export class BrowserPeer {
  readonly pc: RTCPeerConnection;
  readonly transceiver: RTCRtpTransceiver;
  /** Decoded audio received, at the codec's sample rate. */
  readonly heard: Int16Array[] = [];
  readonly events: ReceivedEvent[] = [];
  readonly ptsReceived = new Map<number, number>();
  sampleRate = 8000;
  private codec: Codec | undefined;
  private audioPt = -1;
  private timer: NodeJS.Timeout | undefined;

  constructor(codecs: PeerCodec[], private readonly toneHz = 440) {
    const audio = codecs.map((c) => PARAMS[c]());
    if (codecs.includes('opus')) audio.push(new RTCRtpCodecParameters({ mimeType: 'audio/telephone-event', clockRate: 48000, payloadType: 110 }));
    audio.push(new RTCRtpCodecParameters({ mimeType: 'audio/telephone-event', clockRate: 8000, payloadType: 101 }));
    this.pc = new RTCPeerConnection({
      iceServers: [],
      iceUseIpv4: false,
      iceUseIpv6: false,
      iceAdditionalHostAddresses: ['127.0.0.1'],
      iceInterfaceAddresses: { udp4: '127.0.0.1' },
      codecs: { audio },
      headerExtensions: { audio: [] },
    });
    this.transceiver = this.pc.addTransceiver('audio', { direction: 'sendrecv' });
  }

  async offer(): Promise<string> {
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await this.gathered();
    return this.pc.localDescription?.sdp ?? '';
  }

  async answer(offer: string): Promise<string> {
    await this.pc.setRemoteDescription({ type: 'offer', sdp: offer });
    for (const t of this.pc.getTransceivers()) t.setDirection('sendrecv');
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    await this.gathered();
    this.start(this.pc.localDescription?.sdp ?? '');
    return this.pc.localDescription?.sdp ?? '';
  }

  async setAnswer(answer: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'answer', sdp: answer });
    this.start(answer);
  }

  /** Both sides send with the first codec of the answer. */
  private start(answer: string): void {
    const m = /^m=audio \d+ \S+ (.*)$/m.exec(answer);
    const pts = (m?.[1] ?? '').trim().split(/\s+/).map(Number);
    for (const pt of pts) {
      const map = new RegExp(`^a=rtpmap:${pt} ([^/\\s]+)/(\\d+)(?:/(\\d+))?`, 'm').exec(answer);
      if (!map || map[1].toLowerCase() === 'telephone-event') continue;
      const codec = codecForRtpmap(map[1], Number(map[2]), map[3] === undefined ? undefined : Number(map[3]));
      if (!codec) continue;
      this.codec = codec;
      this.audioPt = pt;
      this.sampleRate = codec.sampleRate;
      break;
    }
    const dtls = this.pc.dtlsTransports[0];
    dtls.onRtp.subscribe((rtp) => this.onRtp(rtp));
    const codec = this.codec;
    if (!codec) throw new Error('no codec in the answer');
    const src = openSource({ kind: 'tone', hz: this.toneHz }, codec.sampleRate, codec.frameSamples(20));
    const out = Buffer.alloc(1500);
    const header = new RtpHeader({ payloadType: this.audioPt, ssrc: this.transceiver.sender.ssrc, sequenceNumber: 1000, timestamp: 5000 });
    const step = codec.clockRate / 50;
    this.timer = setInterval(() => {
      if (!dtls.srtpStarted) return;
      const frame = src.read();
      if (!frame) return;
      const len = codec.encode(frame, out);
      header.sequenceNumber = (header.sequenceNumber + 1) & 0xffff;
      header.timestamp = (header.timestamp + step) >>> 0;
      dtls.sendRtp(Buffer.from(out.subarray(0, len)), header).catch(() => undefined);
    }, 20);
  }

  private onRtp(rtp: RtpPacket): void {
    const pt = rtp.header.payloadType;
    this.ptsReceived.set(pt, (this.ptsReceived.get(pt) ?? 0) + 1);
    if (pt === this.audioPt && this.codec) {
      const pcm = new Int16Array(this.codec.frameSamples(60));
      const n = this.codec.decode(rtp.payload, pcm);
      this.heard.push(pcm.slice(0, n));
    } else if (rtp.payload.length >= 4) {
      this.events.push({ pt, event: rtp.payload[0], end: (rtp.payload[1] & 0x80) !== 0 });
    }
  }

  private gathered(): Promise<void> {
    if (this.pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      this.pc.iceGatheringStateChange.subscribe((s) => {
        if (s === 'complete') resolve();
      });
    });
  }

  /** Stops sending and closes the peer connection without a word (werift sends no DTLS alert). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.pc.close();
  }
}
