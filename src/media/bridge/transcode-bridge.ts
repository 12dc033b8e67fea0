/**
 * TranscodeBridge: joins two call legs that negotiated different codecs
 * (PCMU on a trunk, Opus towards a browser, say). Like RtpRelay it owns one
 * UDP socket per leg, latches on each peer and sends each leg one
 * continuous stream of its own (SSRC, sequence, timestamp, payload type);
 * unlike it, every audio payload goes through a Transcoder (decode →
 * resample when the PCM rates differ → encode), one per direction.
 *
 * No jitter buffer: each packet is transcoded and sent as it arrives, so the
 * bridge adds no delay beyond the codecs' and the resampler's. A small gap
 * (a packet or three lost before the bridge) is filled right away, when the
 * packet after it arrives: from that packet's in-band FEC when the source is
 * Opus, by concealment otherwise — the far leg then hears a whole stream.
 * Longer gaps are left as gaps for the receiver to conceal.
 *
 * RFC 4733 events pass through with their payload type mapped and their
 * duration rescaled to the other leg's clock. RTCP is ended here, as in
 * RtpRelay. SRTP is not supported here.
 */
import type { CodecName, CodecOptions } from '../codecs/registry.js';
import { RTP_HEADER_LENGTH, RTP_VERSION, stampRtp, type RtpView } from '../rtp/packet.js';
import { createTranscoder, type Transcoder } from '../transcode.js';
import type { Clock } from '../../util/clock.js';
import { OutboundStream, type BridgeLeg, type BridgeLegConfig, type BridgeLegStats, type PacketTimer } from './leg.js';
import { openLegs, TwoLegBridge, type BridgeDirection } from './two-leg.js';

export interface TranscodeLegConfig extends BridgeLegConfig {
  codec: CodecName;
  /** Codec settings for this leg (Opus bitrate, FEC, ...). */
  codecOptions?: CodecOptions;
}

export interface TranscodeBridgeOptions {
  a: TranscodeLegConfig;
  b: TranscodeLegConfig;
  clock?: Clock;
  /** When given, every datagram's handling time is reported to it (process.hrtime around the handler). */
  timer?: PacketTimer;
}

export interface TranscodeBridgeStats {
  a: BridgeLegStats & { codec: CodecName; concealed: number };
  b: BridgeLegStats & { codec: CodecName; concealed: number };
}

/** Gaps up to this many packets are filled by the bridge; longer ones are left to the receiver. */
const MAX_FILL = 3;
/** Send buffers in rotation per leg: the kernel may still hold one while the next is built. */
const SEND_RING = 16;
const MAX_PACKET = 1500;

/** One direction: what arrives on `from` is transcoded and sent on `to`. */
class Direction implements BridgeDirection {
  readonly out: OutboundStream;
  /** Packets made up by concealment and sent on `to`. */
  concealed = 0;
  private lastSsrc = -1;
  private lastSeq = 0;
  private lastTs = 0;
  private lastWasAudio = false;
  private readonly ring: Buffer[] = [];
  private readonly ringPayload: Buffer[] = [];
  private ringIndex = 0;

  constructor(
    readonly from: BridgeLeg,
    readonly to: BridgeLeg,
    readonly transcoder: Transcoder,
    ssrc: number | undefined,
  ) {
    this.out = new OutboundStream(ssrc, transcoder.to.clockRate, transcoder.from.clockRate);
    for (let i = 0; i < SEND_RING; i++) {
      const b = Buffer.alloc(MAX_PACKET);
      this.ring.push(b);
      this.ringPayload.push(b.subarray(RTP_HEADER_LENGTH));
    }
  }

  /** Handles one accepted packet from `from`. */
  onRtp(v: RtpView, isAudio: boolean, now: () => number): void {
    const from = this.from;
    const to = this.to;
    const sameSource = v.ssrc === this.lastSsrc;
    const dSeq = sameSource ? ((v.sequence - this.lastSeq) << 16) >> 16 : 0;
    if (isAudio && sameSource && this.lastWasAudio && dSeq > 1 && dSeq <= MAX_FILL + 1) {
      this.fill(v, dSeq, now);
    }
    if (!sameSource || dSeq > 0) {
      this.lastSsrc = v.ssrc;
      this.lastSeq = v.sequence;
      this.lastTs = v.timestamp;
      this.lastWasAudio = isAudio;
    }
    const i = this.nextBuffer();
    let len: number;
    let pt: number;
    if (isAudio) {
      try {
        len = this.transcoder.transcode(v.payload, this.ringPayload[i]);
      } catch {
        // A corrupt or foreign payload costs this packet, not the call.
        from.drop('bad-payload');
        return;
      }
      pt = to.payloadType;
    } else {
      len = this.event(v, this.ringPayload[i]);
      if (len === 0) {
        from.drop('bad-payload');
        return;
      }
      pt = to.telephoneEventPt as number;
    }
    this.out.map(v.ssrc, v.sequence, v.timestamp, v.marker, now);
    this.send(i, pt, this.out.marker, len);
  }

  /** Packets lastSeq+1 .. v.sequence-1 were lost: make them up, the first from `v`'s FEC when Opus has it. */
  private fill(v: RtpView, dSeq: number, now: () => number): void {
    const step = (((v.timestamp - this.lastTs) | 0) / dSeq) | 0;
    if (step <= 0) return;
    const next = v.payload;
    for (let k = 1; k < dSeq; k++) {
      const i = this.nextBuffer();
      let len: number;
      try {
        len = this.transcoder.conceal(this.ringPayload[i], k === dSeq - 1 ? next : undefined);
      } catch {
        return;
      }
      this.out.map(v.ssrc, (this.lastSeq + k) & 0xffff, (this.lastTs + k * step) >>> 0, false, now);
      this.send(i, this.to.payloadType, false, len);
      this.concealed++;
    }
  }

  /** RFC 4733 event with its duration on the outgoing clock; 0 when malformed. */
  private event(v: RtpView, out: Buffer): number {
    const p = v.payload;
    if (p.length < 4) return 0;
    out[0] = p[0];
    out[1] = p[1];
    const d = Math.round((p.readUInt16BE(2) * this.transcoder.to.clockRate) / this.transcoder.from.clockRate);
    out.writeUInt16BE(d > 0xffff ? 0xffff : d, 2);
    return 4;
  }

  private nextBuffer(): number {
    const i = this.ringIndex;
    this.ringIndex = (i + 1) % SEND_RING;
    return i;
  }

  private send(i: number, pt: number, marker: boolean, payloadLen: number): void {
    const b = this.ring[i];
    b[0] = RTP_VERSION << 6;
    stampRtp(b, marker, pt, this.out.seq, this.out.timestamp, this.out.ssrc);
    this.to.send(b, RTP_HEADER_LENGTH + payloadLen, payloadLen);
  }
}

export class TranscodeBridge extends TwoLegBridge<Direction> {
  readonly codecA: CodecName;
  readonly codecB: CodecName;
  private readonly aToB: Direction;
  private readonly bToA: Direction;

  private constructor(a: BridgeLeg, b: BridgeLeg, opts: TranscodeBridgeOptions) {
    super(a, b, opts.clock, opts.timer);
    this.codecA = opts.a.codec;
    this.codecB = opts.b.codec;
    // Only Opus takes options; its leg's settings apply to both of its directions.
    const codecOptions = (opts.a.codec === 'opus' ? opts.a.codecOptions : opts.b.codecOptions) ?? {};
    const ab = createTranscoder(opts.a.codec, opts.b.codec, codecOptions);
    const ba = createTranscoder(opts.b.codec, opts.a.codec, codecOptions);
    this.aToB = new Direction(a, b, ab, opts.b.ssrc);
    this.bToA = new Direction(b, a, ba, opts.a.ssrc);
    this.listen(this.aToB, this.bToA);
  }

  /** Opens both legs; RangeError for an unknown codec or payload type. */
  static open(opts: TranscodeBridgeOptions): Promise<TranscodeBridge> {
    return openLegs(opts.a, opts.b, (a, b) => new TranscodeBridge(a, b, opts));
  }

  stats(): TranscodeBridgeStats {
    return {
      a: { ...this.a.stats(), codec: this.codecA, concealed: this.bToA.concealed },
      b: { ...this.b.stats(), codec: this.codecB, concealed: this.aToB.concealed },
    };
  }

  protected override released(): void {
    // Opus keeps its state in WebAssembly memory: give it back now rather than at garbage collection.
    for (const t of [this.aToB.transcoder, this.bToA.transcoder]) {
      for (const c of [t.from, t.to]) (c as { close?: () => void }).close?.();
    }
  }

  protected override forward(dir: Direction, v: RtpView, isAudio: boolean): void {
    dir.onRtp(v, isAudio, this.now);
  }
}
