/**
 * The media both ends of a bench:webrtc call send and what they measure.
 *
 * Relayed Opus: every payload carries a marker and its send time, so the
 * receiver reads each packet's transit (both ends live in this process,
 * one clock). Transcoded: the payloads must be real audio (Opus one way,
 * PCMU the other) and the relay re-encodes them; a relay that decodes into a
 * jitter buffer and re-encodes on its own 20 ms clock (Switchboard's B2BUA)
 * keeps neither sequence numbers nor a packet-for-packet correspondence, so
 * the audio itself is the marker: silence with an 80 ms 440 Hz burst every
 * 500 ms, and the receiver times each burst's onset (a PCMU frame's energy,
 * an Opus packet's size: silence encodes to about half the bytes of the
 * tone). Transit there is audio in -> audio out, loss is bursts never heard.
 */
import { encodeUlaw, ulawToLinear } from '../../src/media/codecs/g711.js';
import { OpusCodec } from '../../src/media/codecs/opus.js';
import { ToneGenerator } from '../../src/media/dsp/tone.js';
import { Histogram } from './media-load.js';

export type CallMode = 'relay' | 'transcode';

export const FRAME_MS = 20;
export const PT_OPUS = 111;
export const PT_PCMU = 0;
const MAGIC = 0x5b0be5c1;
/** Frames of audio pre-encoded once (500 ms, looped): a burst of tone, then silence. */
const LOOP_FRAMES = 25;
const BURST_FRAMES = 4;
/** A burst not heard within this long is lost. */
const BURST_DEADLINE_MS = 1000;

/** Whether a received transcoded payload carries the burst (the receiver's codec decides how to tell). */
export type Loudness = (payload: Uint8Array) => boolean;

/** PCMU: any sample above about -30 dBFS (the tone is -16, silence decodes to near 0). */
export const pcmuLoud: Loudness = (p) => {
  for (let i = 0; i < p.length; i += 4) if (Math.abs(ulawToLinear(p[i])) > 1000) return true;
  return false;
};

/** Opus: silence encodes to about 35 bytes at 32 kbit/s, the tone to about 80. */
export const opusLoud: Loudness = (p) => p.length >= 60;

export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** One direction of one call: counts, and per-packet transit times, of the packets sent while measuring. */
export class Direction {
  sent = 0;
  received = 0;
  /** Transcoded: the send times of bursts not heard yet (0 = sent outside the window). */
  private readonly bursts: number[] = [];
  private frames = 0;
  private loud = false;
  constructor(
    private readonly hist: Histogram,
    private readonly stamped: boolean,
    private readonly isLoud: Loudness = opusLoud,
  ) {}

  /**
   * The payload of the next packet: stamped, or `base` (the next codec frame
   * of the burst loop) when the relay transcodes.
   */
  payload(base: Uint8Array | undefined, measuring: boolean): Buffer {
    const t = nowMs();
    if (this.stamped || !base) {
      if (measuring) this.sent++;
      const b = Buffer.alloc(160);
      b.writeUInt32BE(MAGIC, 0);
      b.writeDoubleBE(t, 4);
      b.writeUInt8(measuring ? 1 : 0, 12);
      return b;
    }
    if (this.frames++ % LOOP_FRAMES === 0) {
      if (measuring) this.sent++;
      this.bursts.push(measuring ? t : 0);
      // Bounded: a relay that never passes audio leaves at most a few seconds of bursts here.
      if (this.bursts.length > 16) this.bursts.shift();
    }
    return Buffer.from(base);
  }

  /** Every packet that arrives, in or out of the window: only those sent while measuring count. */
  onPacket(payload: Uint8Array): void {
    const at = nowMs();
    if (this.stamped) {
      if (payload.length < 13) return;
      const b = Buffer.from(payload.buffer, payload.byteOffset, payload.length);
      if (b.readUInt32BE(0) !== MAGIC || b.readUInt8(12) !== 1) return;
      this.received++;
      this.hist.record((at - b.readDoubleBE(4)) * 1e6);
      return;
    }
    const loud = this.isLoud(payload);
    const onset = loud && !this.loud;
    this.loud = loud;
    if (!onset) return;
    while (this.bursts.length > 0 && this.bursts[0] < at - BURST_DEADLINE_MS) this.bursts.shift();
    const t = this.bursts.shift();
    if (t === undefined || t === 0) return;
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
    // Transcoded, the phone hears PCMU and the browser Opus.
    const m = { toPhone: new Direction(this.hist.toPhone, mode === 'relay', pcmuLoud), toBrowser: new Direction(this.hist.toBrowser, mode === 'relay', opusLoud) };
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
    if (i < BURST_FRAMES) gen.fill(f);
    frames.push(f);
  }
  return frames;
}

/** 20 ms Opus frames of the burst loop (48 kHz mono), encoded once. */
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

/** 20 ms PCMU frames of the burst loop. */
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
