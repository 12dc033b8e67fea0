/**
 * What a media endpoint needs from a codec: how it is named in SDP, how many
 * samples make one packet, and encode/decode into buffers the caller owns so
 * the RTP loop allocates nothing per packet.
 */
export interface Codec {
  /** Encoding name as written in SDP a=rtpmap (e.g. "PCMU"). */
  readonly name: string;
  /** RTP timestamp rate in Hz (what a=rtpmap states; G.722 says 8000 but samples at 16000). */
  readonly clockRate: number;
  /** Rate of the linear PCM that encode() takes and decode() returns, in Hz. */
  readonly sampleRate: number;
  readonly channels: number;
  /** Static RTP payload type (RFC 3551), when the codec has one. */
  readonly payloadType?: number;
  /** PCM samples (per channel) in one packet of `ptimeMs` milliseconds. */
  frameSamples(ptimeMs: number): number;
  /**
   * Encodes all of `pcm` (interleaved 16-bit linear) into `out`.
   * Returns the number of bytes written; throws RangeError if `out` is too small.
   */
  encode(pcm: Int16Array, out: Uint8Array): number;
  /**
   * Decodes all of `payload` into `out` (interleaved 16-bit linear).
   * Returns the number of samples written; throws RangeError if `out` is too small.
   */
  decode(payload: Uint8Array, out: Int16Array): number;
  /**
   * For codecs that conceal a lost packet better than generic pitch repetition
   * (their decoder state knows the signal): fills `out` — one packet's worth
   * of samples — in place of the packet that did not arrive and returns the
   * number of samples written. `next`, the packet after the lost one when it
   * is already at hand, lets a codec with in-band FEC (Opus) recover the lost
   * audio from the redundancy it carries.
   */
  conceal?(out: Int16Array, next?: Uint8Array): number;
}
