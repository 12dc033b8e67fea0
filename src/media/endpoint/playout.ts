/**
 * The receive side of an endpoint after the socket: a jitter buffer, the
 * decoder and packet-loss concealment, producing one PCM frame per ptime.
 * Concealment is the codec's own when it has one (Opus: libopus PLC, or FEC
 * from the next packet when the jitter buffer already holds it), else pitch
 * repetition over the last good audio (plc.ts).
 *
 * Buffers are allocated once per configuration; `read` fills the same
 * Int16Array every time, so callers copy what they keep.
 */
import type { Codec } from '../codecs/types.js';
import { JitterBuffer, type JitterStats } from '../jitter/jitter-buffer.js';
import { blendResumed, concealFrame } from '../jitter/plc.js';

/** Concealment looks back this far for a pitch period (plc.ts needs at least 2 × 15 ms). */
const HISTORY_MS = 40;
/** Largest packet we decode: a peer may send longer frames than our own ptime. */
const MAX_DECODE_MS = 200;

export class Playout {
  readonly frameSamples: number;
  private readonly jitter: JitterBuffer;
  private readonly frame: Int16Array;
  private readonly decodeBuf: Int16Array;
  private readonly history: Int16Array;
  private consecutiveLost = 0;
  /** Frames that did not decode (wrong size, codec error); counted, played as concealment. */
  decodeErrors = 0;

  constructor(
    private readonly codec: Codec,
    ptimeMs: number,
  ) {
    this.frameSamples = codec.frameSamples(ptimeMs);
    const ch = codec.channels;
    this.jitter = new JitterBuffer({ clockRate: codec.clockRate, frameSamples: Math.round((codec.clockRate * ptimeMs) / 1000) });
    this.frame = new Int16Array(this.frameSamples * ch);
    this.decodeBuf = new Int16Array(Math.max(this.frame.length, Math.round((codec.sampleRate * MAX_DECODE_MS) / 1000) * ch));
    this.history = new Int16Array(Math.round((codec.sampleRate * HISTORY_MS) / 1000) * ch);
  }

  /** Hands a received audio payload to the jitter buffer (which keeps it, not a copy). */
  put(seq: number, timestamp: number, payload: Uint8Array, arrivalMs: number, marker: boolean): void {
    this.jitter.put(seq, timestamp, payload, arrivalMs, marker);
  }

  /**
   * The frame to play at `nowMs`, or undefined while there is nothing to play
   * (before the stream starts and between talk spurts).
   */
  read(nowMs: number): Int16Array | undefined {
    const r = this.jitter.get(nowMs);
    if (r.kind === 'waiting') {
      this.consecutiveLost = 0;
      return undefined;
    }
    if (r.kind === 'frame' && this.decode(r.payload)) {
      // A codec that conceals itself resumes smoothly from its own state; a seam only follows pitch repetition.
      if (this.consecutiveLost > 0 && this.codec.channels === 1 && !this.codec.conceal) {
        blendResumed(this.history, this.frame, this.consecutiveLost, this.codec.sampleRate);
      }
      this.consecutiveLost = 0;
      this.remember();
      return this.frame;
    }
    this.consecutiveLost++;
    // Only a packet that will never play is worth rebuilding from its successor's FEC: a frame
    // inserted to stretch time, or one that failed to decode, has no successor to ask.
    const next = r.kind === 'missing' && r.lost ? this.jitter.peekNext() : undefined;
    if (this.codecConceal(next)) return this.frame;
    if (this.codec.channels === 1) concealFrame(this.history, this.frame, this.consecutiveLost, this.codec.sampleRate);
    else this.frame.fill(0);
    return this.frame;
  }

  stats(): JitterStats {
    return this.jitter.stats();
  }

  private decode(payload: Uint8Array): boolean {
    let n: number;
    try {
      n = this.codec.decode(payload, this.decodeBuf);
    } catch {
      this.decodeErrors++;
      return false;
    }
    // A peer with a different ptime: play what fits our frame, pad a short one with silence.
    const len = this.frame.length;
    if (n >= len) {
      this.frame.set(this.decodeBuf.subarray(0, len));
    } else {
      this.frame.set(this.decodeBuf.subarray(0, n));
      this.frame.fill(0, n);
    }
    return true;
  }

  /** The codec's own concealment (Opus PLC/FEC); false when it has none or it failed. */
  private codecConceal(next: Uint8Array | undefined): boolean {
    const codec = this.codec;
    if (!codec.conceal) return false;
    try {
      codec.conceal(this.frame, next);
    } catch {
      this.decodeErrors++;
      return false;
    }
    return true;
  }

  /** Slides the last good audio into the concealment history, without allocating. */
  private remember(): void {
    const h = this.history;
    const f = this.frame;
    if (f.length >= h.length) {
      h.set(f.subarray(f.length - h.length));
    } else {
      h.copyWithin(0, f.length);
      h.set(f, h.length - f.length);
    }
  }
}
