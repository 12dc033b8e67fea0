/**
 * The media both ends of a bench:webrtc call send and what they measure.
 *
 * Relayed Opus: every payload carries a marker and its send time, so the
 * receiver reads each packet's transit (both ends live in this process,
 * one clock). Transcoded: the payloads must be real audio (a 440 Hz tone,
 * Opus one way, PCMU the other) and the relay re-encodes them, so the
 * receiver matches packets to send times in order: with 20 ms frames in and
 * out, and rtpengine keeps the RTP sequence numbers while it transcodes, so
 * the receiver matches packets to send times by sequence number.
 */
import { encodeUlaw } from '../../src/media/codecs/g711.js';
import { OpusCodec } from '../../src/media/codecs/opus.js';
import { ToneGenerator } from '../../src/media/dsp/tone.js';
import { Histogram } from './media-load.js';

export type CallMode = 'relay' | 'transcode';

export const FRAME_MS = 20;
export const PT_OPUS = 111;
export const PT_PCMU = 0;
const MAGIC = 0x5b0be5c1;
/** Frames of tone pre-encoded once (one second, looped). */
const LOOP_FRAMES = 50;

export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** One direction of one call: counts, and per-packet transit times, of the packets sent while measuring. */
export class Direction {
  sent = 0;
  received = 0;
  /** Transcoded: send time by RTP sequence number on the wire (0 = not measured, or already received). */
  private readonly sentAt = new Float64Array(65536);
  private pending = 0;
  constructor(
    private readonly hist: Histogram,
    private readonly stamped: boolean,
  ) {}

  /**
   * The payload of the next packet: stamped, or `base` (a codec frame) when
   * the relay transcodes; then commit() says which sequence number it went
   * out with.
   */
  payload(base: Uint8Array | undefined, measuring: boolean): Buffer {
    const t = nowMs();
    if (measuring) this.sent++;
    if (this.stamped || !base) {
      const b = Buffer.alloc(160);
      b.writeUInt32BE(MAGIC, 0);
      b.writeDoubleBE(t, 4);
      b.writeUInt8(measuring ? 1 : 0, 12);
      return b;
    }
    this.pending = measuring ? t : 0;
    return Buffer.from(base);
  }

  /** The wire sequence number of the packet payload() just made. */
  commit(seq: number): void {
    if (!this.stamped) this.sentAt[seq & 0xffff] = this.pending;
  }

  /**
   * Every packet that arrives, in or out of the window: only those sent
   * while measuring count. A transcoding relay re-encodes the payload but
   * (rtpengine does) keeps the sequence numbers: that is the match.
   */
  onPacket(payload: Uint8Array, seq: number): void {
    const at = nowMs();
    if (this.stamped) {
      if (payload.length < 13) return;
      const b = Buffer.from(payload.buffer, payload.byteOffset, payload.length);
      if (b.readUInt32BE(0) !== MAGIC || b.readUInt8(12) !== 1) return;
      this.received++;
      this.hist.record((at - b.readDoubleBE(4)) * 1e6);
      return;
    }
    const t = this.sentAt[seq & 0xffff];
    if (t === 0) return;
    this.sentAt[seq & 0xffff] = 0;
    this.received++;
    this.hist.record((at - t) * 1e6);
  }
}

/** Both directions of one call, shared by its two ends so a receiver can read the sender's send times. */
export interface CallMedia {
  toPhone: Direction;
  toBrowser: Direction;
}

/**
 * The calls of a run by caller (the From user, which a proxy and a B2BUA
 * both keep, unlike the Call-ID): the phone finds its call's directions here.
 */
export class CallPairs {
  private readonly byUser = new Map<string, CallMedia>();
  private all: CallMedia[] = [];
  constructor(private readonly hist: { toPhone: Histogram; toBrowser: Histogram }) {}

  open(user: string, mode: CallMode): CallMedia {
    const m = { toPhone: new Direction(this.hist.toPhone, mode === 'relay'), toBrowser: new Direction(this.hist.toBrowser, mode === 'relay') };
    this.byUser.set(user, m);
    this.all.push(m);
    return m;
  }

  find(user: string): CallMedia | undefined {
    return this.byUser.get(user);
  }

  /** Sent and received in the measuring windows, every call of the run. */
  totals(): { toPhone: { sent: number; received: number }; toBrowser: { sent: number; received: number } } {
    const t = { toPhone: { sent: 0, received: 0 }, toBrowser: { sent: 0, received: 0 } };
    for (const m of this.all) {
      t.toPhone.sent += m.toPhone.sent;
      t.toPhone.received += m.toPhone.received;
      t.toBrowser.sent += m.toBrowser.sent;
      t.toBrowser.received += m.toBrowser.received;
    }
    return t;
  }

  reset(): void {
    this.all = [];
    this.byUser.clear();
  }
}

let opusLoop: Uint8Array[] | undefined;
let pcmuLoop: Uint8Array[] | undefined;

function tone(sampleRate: number): Int16Array[] {
  const gen = new ToneGenerator({ freqs: [440], levelDbfs: -16 }, sampleRate);
  const frames: Int16Array[] = [];
  for (let i = 0; i < LOOP_FRAMES; i++) {
    const f = new Int16Array((sampleRate * FRAME_MS) / 1000);
    gen.fill(f);
    frames.push(f);
  }
  return frames;
}

/** 20 ms Opus frames of a 440 Hz tone (48 kHz mono), encoded once. */
export function opusFrames(): Uint8Array[] {
  if (!opusLoop) {
    const codec = new OpusCodec({ sampleRate: 48000, fec: false });
    opusLoop = tone(48000).map((pcm) => {
      const out = new Uint8Array(400);
      return out.slice(0, codec.encode(pcm, out));
    });
  }
  return opusLoop;
}

/** 20 ms PCMU frames of a 440 Hz tone. */
export function pcmuFrames(): Uint8Array[] {
  if (!pcmuLoop) {
    pcmuLoop = tone(8000).map((pcm) => {
      const out = new Uint8Array(160);
      encodeUlaw(pcm, out);
      return out;
    });
  }
  return pcmuLoop;
}
