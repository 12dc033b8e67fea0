/**
 * G.711 (ITU-T G.711, 11/88) µ-law and A-law, bit-exact with the ITU reference
 * implementation (G.191 STL) on 16-bit linear input.
 *
 * G.711 itself quantizes 14-bit (µ-law) and 13-bit (A-law) values; the low
 * bits of 16-bit input are dropped. Negative input is taken in one's
 * complement (-x-1) before that, as the reference does, so x and -x-1 always
 * land on codes that differ only in the sign bit.
 *
 * Decoding is a 256-entry table. Encoding is a 65536-entry table per law
 * (64 KiB each, built once at load): one indexed load per sample, which
 * measured faster than computing the segment even with Math.clz32.
 */
import type { Codec } from './types.js';

/** µ-law code for one 16-bit linear sample (computed, not from the table). */
export function linearToUlaw(x: number): number {
  let sign: number;
  let mag: number;
  if (x < 0) {
    sign = 0x00;
    mag = ~x >> 2;
  } else {
    sign = 0x80;
    mag = x >> 2;
  }
  // The bias of 33 puts every segment boundary on a power of two, so the
  // segment is the position of the highest set bit.
  mag += 33;
  if (mag > 0x1fff) mag = 0x1fff;
  const seg = 26 - Math.clz32(mag); // highest bit 5..12 -> segment 0..7
  const mant = (mag >> (seg + 1)) & 0x0f;
  // µ-law transmits every bit but the sign inverted.
  return (sign | (seg << 4) | mant) ^ 0x7f;
}

/** 16-bit linear value of one µ-law code (computed, not from the table). */
export function ulawToLinearComputed(code: number): number {
  const c = ~code & 0xff;
  const seg = (c >> 4) & 0x07;
  const mant = c & 0x0f;
  // ((2m + 33) << seg) - 33 in 14-bit units, times 4 for 16 bits.
  const mag = (((mant << 1) + 33) << (seg + 2)) - 132;
  return c & 0x80 ? 0 - mag : mag; // 0 - 0 is +0, not -0
}

/** A-law code for one 16-bit linear sample (computed, not from the table). */
export function linearToAlaw(x: number): number {
  let sign: number;
  let mag: number;
  if (x < 0) {
    sign = 0x00;
    mag = ~x >> 3;
  } else {
    sign = 0x80;
    mag = x >> 3;
  }
  let code: number;
  if (mag < 32) {
    // Segments 0 and 1 share the finest step (2 in 13-bit units).
    code = mag >> 1;
  } else {
    const seg = 27 - Math.clz32(mag); // highest bit 5..11 -> segment 1..7
    code = (seg << 4) | ((mag >> seg) & 0x0f);
  }
  // A-law inverts the even bits (0x55) so that silence is not a run of zeros.
  return (sign | code) ^ 0x55;
}

/** 16-bit linear value of one A-law code (computed, not from the table). */
export function alawToLinearComputed(code: number): number {
  const c = (code ^ 0x55) & 0xff;
  const seg = (c >> 4) & 0x07;
  const mant = c & 0x0f;
  const mag13 = seg === 0 ? (mant << 1) + 1 : ((mant << 1) + 33) << (seg - 1);
  const mag = mag13 << 3;
  return c & 0x80 ? mag : 0 - mag;
}

function buildDecode(fn: (code: number) => number): Int16Array {
  const t = new Int16Array(256);
  for (let c = 0; c < 256; c++) t[c] = fn(c);
  return t;
}

/** Indexed by the sample's 16 bits as unsigned (`x & 0xffff`). */
function buildEncode(fn: (x: number) => number): Uint8Array {
  const t = new Uint8Array(65536);
  for (let x = -32768; x < 32768; x++) t[x & 0xffff] = fn(x);
  return t;
}

const ULAW_DECODE = buildDecode(ulawToLinearComputed);
const ALAW_DECODE = buildDecode(alawToLinearComputed);
const ULAW_ENCODE = buildEncode(linearToUlaw);
const ALAW_ENCODE = buildEncode(linearToAlaw);

export function ulawToLinear(code: number): number {
  return ULAW_DECODE[code & 0xff];
}

export function alawToLinear(code: number): number {
  return ALAW_DECODE[code & 0xff];
}

function checkRoom(need: number, have: number, what: string): void {
  if (have < need) throw new RangeError(`${what}: output holds ${have}, needs ${need}`);
}

/** Encodes all of `pcm` into `out` as µ-law; returns bytes written. */
export function encodeUlaw(pcm: Int16Array, out: Uint8Array): number {
  const n = pcm.length;
  checkRoom(n, out.length, 'encodeUlaw');
  for (let i = 0; i < n; i++) out[i] = ULAW_ENCODE[pcm[i] & 0xffff];
  return n;
}

/** Decodes all of `bytes` (µ-law) into `out`; returns samples written. */
export function decodeUlaw(bytes: Uint8Array, out: Int16Array): number {
  const n = bytes.length;
  checkRoom(n, out.length, 'decodeUlaw');
  for (let i = 0; i < n; i++) out[i] = ULAW_DECODE[bytes[i]];
  return n;
}

/** Encodes all of `pcm` into `out` as A-law; returns bytes written. */
export function encodeAlaw(pcm: Int16Array, out: Uint8Array): number {
  const n = pcm.length;
  checkRoom(n, out.length, 'encodeAlaw');
  for (let i = 0; i < n; i++) out[i] = ALAW_ENCODE[pcm[i] & 0xffff];
  return n;
}

/** Decodes all of `bytes` (A-law) into `out`; returns samples written. */
export function decodeAlaw(bytes: Uint8Array, out: Int16Array): number {
  const n = bytes.length;
  checkRoom(n, out.length, 'decodeAlaw');
  for (let i = 0; i < n; i++) out[i] = ALAW_DECODE[bytes[i]];
  return n;
}

/** Encoded silence, for comfort fill and lost packets: µ-law 0xFF, A-law 0xD5. */
export const ULAW_SILENCE = 0xff;
export const ALAW_SILENCE = 0xd5;

function g711FrameSamples(ptimeMs: number): number {
  if (!(ptimeMs > 0) || !Number.isFinite(ptimeMs)) throw new RangeError(`ptime must be positive, got ${ptimeMs}`);
  return Math.round(ptimeMs * 8);
}

/** G.711 at 8 kHz mono behind the Codec interface; the two laws differ only in their tables. */
class G711Codec implements Codec {
  readonly clockRate = 8000;
  readonly sampleRate = 8000;
  readonly channels = 1;

  constructor(
    readonly name: 'PCMU' | 'PCMA',
    readonly payloadType: number,
    private readonly encodeLaw: (pcm: Int16Array, out: Uint8Array) => number,
    private readonly decodeLaw: (bytes: Uint8Array, out: Int16Array) => number,
  ) {}

  frameSamples(ptimeMs: number): number {
    return g711FrameSamples(ptimeMs);
  }

  encode(pcm: Int16Array, out: Uint8Array): number {
    return this.encodeLaw(pcm, out);
  }

  decode(payload: Uint8Array, out: Int16Array): number {
    return this.decodeLaw(payload, out);
  }
}

/** PCMU: G.711 µ-law, static payload type 0 (RFC 3551). */
export class PcmuCodec extends G711Codec {
  constructor() {
    super('PCMU', 0, encodeUlaw, decodeUlaw);
  }
}

/** PCMA: G.711 A-law, static payload type 8 (RFC 3551). */
export class PcmaCodec extends G711Codec {
  constructor() {
    super('PCMA', 8, encodeAlaw, decodeAlaw);
  }
}
