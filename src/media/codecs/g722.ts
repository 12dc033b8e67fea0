/**
 * G.722 (ITU-T G.722, sub-band ADPCM) at 64 kbit/s: 16 kHz wideband audio,
 * one byte per two samples — the high band's 2 bits above the low band's 6.
 *
 * RTP states its clock as 8000 Hz although the codec samples at 16000 (an
 * error in RFC 1890 that RFC 3551 kept for compatibility), so an RTP
 * timestamp advances by 8 per millisecond while a frame holds 16 samples per
 * millisecond.
 *
 * One instance = one encoder state + one decoder state, independent of each
 * other: encode() serves the stream we send, decode() the stream we
 * receive, and neither disturbs the other. Two streams must not share an
 * instance. Both states persist across calls; an odd sample left over from
 * encode() waits for the next call, so the bitstream does not depend on how
 * the caller slices the input.
 */
import type { Codec } from './types.js';
import {
  BAND_STATE_SIZE,
  adaptHigh,
  adaptLow,
  quantizeHigh,
  quantizeLow,
  reconstructHigh,
  reconstructLow,
  resetBand,
} from './g722-adpcm.js';
import { QmfAnalysis, QmfSynthesis } from './g722-qmf.js';

function checkRoom(need: number, have: number, what: string): void {
  if (have < need) throw new RangeError(`${what}: output holds ${have}, needs ${need}`);
}

export class G722Codec implements Codec {
  readonly name = 'G722';
  readonly clockRate = 8000;
  readonly sampleRate = 16000;
  readonly channels = 1;
  readonly payloadType = 9;

  private readonly encQmf = new QmfAnalysis();
  private readonly encLow = new Int32Array(BAND_STATE_SIZE);
  private readonly encHigh = new Int32Array(BAND_STATE_SIZE);
  /** An odd input sample still waiting for its partner. */
  private pending = 0;
  private hasPending = false;

  private readonly decQmf = new QmfSynthesis();
  private readonly decLow = new Int32Array(BAND_STATE_SIZE);
  private readonly decHigh = new Int32Array(BAND_STATE_SIZE);

  constructor() {
    this.reset();
  }

  frameSamples(ptimeMs: number): number {
    if (!(ptimeMs > 0) || !Number.isFinite(ptimeMs)) throw new RangeError(`ptime must be positive, got ${ptimeMs}`);
    return Math.round(ptimeMs * 16);
  }

  /** Both directions back to the initial state (a new stream, or after a re-INVITE changes the codec). */
  reset(): void {
    this.resetEncoder();
    this.resetDecoder();
  }

  resetEncoder(): void {
    this.encQmf.reset();
    resetBand(this.encLow, false);
    resetBand(this.encHigh, true);
    this.pending = 0;
    this.hasPending = false;
  }

  resetDecoder(): void {
    this.decQmf.reset();
    resetBand(this.decLow, false);
    resetBand(this.decHigh, true);
  }

  /** Bytes that encode() writes for `samples` more input samples. */
  encodedLength(samples: number): number {
    return (samples + (this.hasPending ? 1 : 0)) >> 1;
  }

  encode(pcm: Int16Array, out: Uint8Array): number {
    const n = pcm.length;
    const bytes = this.encodedLength(n);
    checkRoom(bytes, out.length, 'G722 encode');
    let i = 0;
    let k = 0;
    if (this.hasPending && n > 0) {
      this.encodePair(this.pending, pcm[0], out, k++);
      this.hasPending = false;
      i = 1;
    }
    for (; i + 1 < n; i += 2) this.encodePair(pcm[i], pcm[i + 1], out, k++);
    if (i < n) {
      this.pending = pcm[i];
      this.hasPending = true;
    }
    return bytes;
  }

  private encodePair(x0: number, x1: number, out: Uint8Array, at: number): void {
    this.encQmf.split(x0, x1);
    const il = quantizeLow(this.encLow, this.encQmf.low);
    const ih = quantizeHigh(this.encHigh, this.encQmf.high);
    adaptLow(this.encLow, il);
    adaptHigh(this.encHigh, ih);
    out[at] = (ih << 6) | il;
  }

  decode(payload: Uint8Array, out: Int16Array): number {
    const n = payload.length;
    checkRoom(2 * n, out.length, 'G722 decode');
    const qmf = this.decQmf;
    const low = this.decLow;
    const high = this.decHigh;
    for (let k = 0; k < n; k++) {
      const b = payload[k];
      const il = b & 0x3f;
      const ih = b >> 6;
      const rl = reconstructLow(low, il);
      const rh = reconstructHigh(high, ih);
      adaptLow(low, il);
      adaptHigh(high, ih);
      qmf.merge(rl, rh, out, 2 * k);
    }
    return 2 * n;
  }
}
