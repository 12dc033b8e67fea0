/**
 * Transcoding one stream's payloads from one codec to another, packet by
 * packet: decode → resample (when the PCM rates differ) → encode. A packet
 * in gives a packet of the same duration out, so RTP timestamps only need
 * rescaling by the two clock rates.
 *
 * Every buffer is allocated in the constructor; views of the lengths in use
 * are cached, so a steady stream allocates nothing per packet.
 *
 * A lost input packet is replaced by `conceal`: the source codec's own
 * concealment when it has one (Opus PLC, or FEC from the next packet), pitch
 * repetition over the last decoded audio otherwise — then encoded like any
 * other frame, so the far side hears a continuous stream.
 */
import { createCodec, type CodecName, type CodecOptions } from './codecs/registry.js';
import type { OpusSampleRate } from './codecs/opus.js';
import type { Codec } from './codecs/types.js';
import { blendResumed, concealFrame } from './jitter/plc.js';
import { Resampler } from './resample.js';

export interface TranscoderOptions {
  /** Longest packet to transcode, ms (default 120, the longest Opus packet). */
  maxPacketMs?: number;
  /** Packet duration assumed by `conceal` before the first packet arrives, ms (default 20). */
  ptimeMs?: number;
}

/** Pitch repetition looks back this far (plc.ts needs at least 2 × 15 ms). */
const HISTORY_MS = 40;

/** A length-`n` view of `buf`, reused while the length stays the same. */
class ViewCache {
  private view: Int16Array;
  constructor(private readonly buf: Int16Array) {
    this.view = buf.subarray(0, 0);
  }
  of(n: number): Int16Array {
    if (this.view.length !== n) this.view = this.buf.subarray(0, n);
    return this.view;
  }
}

export class Transcoder {
  private readonly decoded: Int16Array;
  private readonly decodedViews: ViewCache;
  private readonly resampler: Resampler | undefined;
  private readonly resampled: Int16Array;
  private readonly resampledViews: ViewCache;
  /** Pitch-repetition state, only for a source codec without its own concealment. */
  private readonly history: Int16Array | undefined;
  private consecutiveLost = 0;
  /** Samples (all channels) in the last decoded packet: the size of a concealed one. */
  private lastSamples: number;

  /**
   * `from` decodes what arrives, `to` encodes what leaves; both must be
   * mono or of the same channel count, and neither may be used by anything
   * else (codecs keep state).
   */
  constructor(
    readonly from: Codec,
    readonly to: Codec,
    opts: TranscoderOptions = {},
  ) {
    if (from.channels !== to.channels) throw new RangeError(`cannot transcode ${from.channels} to ${to.channels} channels`);
    const maxMs = opts.maxPacketMs ?? 120;
    const ch = from.channels;
    this.decoded = new Int16Array(Math.ceil((from.sampleRate * maxMs) / 1000) * ch);
    this.decodedViews = new ViewCache(this.decoded);
    if (from.sampleRate !== to.sampleRate) {
      this.resampler = new Resampler(from.sampleRate, to.sampleRate, { channels: ch });
      // One frame more than the exact ratio: the polyphase output count varies by one between calls.
      this.resampled = new Int16Array((Math.ceil((to.sampleRate * maxMs) / 1000) + 1) * ch);
    } else {
      this.resampled = new Int16Array(0);
    }
    this.resampledViews = new ViewCache(this.resampled);
    if (!from.conceal && ch === 1) this.history = new Int16Array(Math.round((from.sampleRate * HISTORY_MS) / 1000));
    this.lastSamples = from.frameSamples(opts.ptimeMs ?? 20) * ch;
  }

  /** Source-to-destination delay added by resampling, ms (codec delays not included). */
  get delayMs(): number {
    return this.resampler?.delayMs ?? 0;
  }

  /** Transcodes one packet into `out`; returns the bytes written. Throws when `payload` does not decode. */
  transcode(payload: Uint8Array, out: Uint8Array): number {
    const n = this.from.decode(payload, this.decoded);
    const pcm = this.decodedViews.of(n);
    if (this.history) {
      if (this.consecutiveLost > 0) blendResumed(this.history, pcm, this.consecutiveLost, this.from.sampleRate);
      this.remember(pcm);
    }
    this.consecutiveLost = 0;
    this.lastSamples = n;
    return this.encode(pcm, out);
  }

  /**
   * Encodes a replacement for one lost input packet (as long as the last one
   * received) into `out`; returns the bytes written. `next` is the input
   * packet after the lost one, if already at hand (Opus recovers the loss
   * from its FEC).
   */
  conceal(out: Uint8Array, next?: Uint8Array): number {
    const pcm = this.decodedViews.of(this.lastSamples);
    this.consecutiveLost++;
    const codec = this.from;
    if (codec.conceal) codec.conceal(pcm, next);
    else if (this.history) concealFrame(this.history, pcm, this.consecutiveLost, codec.sampleRate);
    else pcm.fill(0);
    return this.encode(pcm, out);
  }

  private encode(pcm: Int16Array, out: Uint8Array): number {
    if (!this.resampler) return this.to.encode(pcm, out);
    const m = this.resampler.process(pcm, this.resampled);
    return this.to.encode(this.resampledViews.of(m), out);
  }

  private remember(pcm: Int16Array): void {
    const h = this.history as Int16Array;
    if (pcm.length >= h.length) {
      h.set(pcm.subarray(pcm.length - h.length));
    } else {
      h.copyWithin(0, pcm.length);
      h.set(pcm, h.length - pcm.length);
    }
  }
}

/**
 * A transcoder between two registry codecs, with fresh codec instances.
 * Opus runs at the other side's PCM rate where libopus can (8 or 16 kHz for
 * G.711 and G.722), which spares the resampler and encodes only the band
 * the other side carries.
 */
export function createTranscoder(from: CodecName, to: CodecName, opts: CodecOptions = {}, transcoderOpts: TranscoderOptions = {}): Transcoder {
  const rate = (name: CodecName): OpusSampleRate => (name === 'g722' ? 16000 : name === 'opus' ? 48000 : 8000);
  const make = (name: CodecName, other: CodecName): Codec =>
    createCodec(name, name === 'opus' ? { ...opts, sampleRate: opts.sampleRate ?? rate(other) } : opts);
  return new Transcoder(make(from, to), make(to, from), transcoderOpts);
}
