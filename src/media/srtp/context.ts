/**
 * One SRTP/SRTCP cryptographic context (RFC 3711 §3.2): the session keys
 * derived from one master key, plus per-SSRC packet index state for each
 * direction. With SDES each side sends under its own key, so a call uses two
 * contexts: one built from our key (protect) and one from the peer's (unprotect).
 *
 * Incoming packets that fail are never thrown about: the receive loop gets
 * `undefined` and the reason lands in `stats`. Receive state for an SSRC is
 * created only after a packet from it authenticates, so spoofed SSRCs cannot
 * grow the maps.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { RTP_HEADER_LENGTH, RTP_VERSION } from '../rtp/packet.js';
import { AesCm, writeSrtpIv } from './aes-cm.js';
import { deriveSessionKeys } from './kdf.js';
import { ReplayWindow, estimatePacketIndex } from './replay.js';
import { SRTP_SUITES, type SrtpSuite, type SrtpSuiteParams } from './suites.js';

export interface SrtpContextOptions {
  suite: SrtpSuite;
  masterKey: Uint8Array;
  masterSalt: Uint8Array;
}

/** Why incoming packets were dropped; counters only grow. */
export interface SrtpStats {
  /** The HMAC did not match: wrong key, corruption or forgery. */
  authFailures: number;
  /** Index already received, or too old for the 64-packet window. */
  replays: number;
  /** Too short for header and tag, or not version 2. */
  malformed: number;
}

/** Octets of the SRTCP E-flag and index word (§3.4). */
const SRTCP_INDEX_LENGTH = 4;
const RTCP_HEADER_LENGTH = 8;
const SRTCP_INDEX_MASK = 0x7fffffff;
const E_FLAG = 0x80000000;

interface Direction {
  readonly cipher: AesCm;
  readonly authKey: Buffer;
  readonly salt: Buffer;
}

function direction(masterKey: Uint8Array, masterSalt: Uint8Array, kind: 'rtp' | 'rtcp'): Direction {
  const keys = deriveSessionKeys(masterKey, masterSalt, kind);
  return { cipher: new AesCm(keys.encryptionKey), authKey: keys.authKey, salt: keys.salt };
}

/**
 * Where the RTP payload starts (after CSRCs and header extension), or -1 when
 * the header does not fit in `length`. Padding is not looked at: on receive
 * the padding count is still encrypted.
 */
function rtpPayloadOffset(buf: Uint8Array, length: number): number {
  if (length < RTP_HEADER_LENGTH || buf[0] >> 6 !== RTP_VERSION) return -1;
  let off = RTP_HEADER_LENGTH + (buf[0] & 0x0f) * 4;
  if ((buf[0] & 0x10) !== 0) {
    if (off + 4 > length) return -1;
    off += 4 + ((buf[off + 2] << 8) | buf[off + 3]) * 4;
  }
  return off <= length ? off : -1;
}

export class SrtpContext {
  readonly suite: SrtpSuite;
  readonly stats: SrtpStats = { authFailures: 0, replays: 0, malformed: 0 };
  readonly #params: SrtpSuiteParams;
  readonly #rtp: Direction;
  readonly #rtcp: Direction;
  /** Highest SRTP index sent, per SSRC: the sender's ROC and s_l. */
  readonly #rtpSent = new Map<number, number>();
  readonly #rtpReceived = new Map<number, ReplayWindow>();
  /** Next SRTCP index to send, per SSRC. */
  readonly #rtcpSent = new Map<number, number>();
  readonly #rtcpReceived = new Map<number, ReplayWindow>();
  // Scratch reused by every packet: all work here is synchronous.
  readonly #iv = Buffer.alloc(16);
  readonly #word = Buffer.alloc(4);

  constructor(options: SrtpContextOptions) {
    const params = SRTP_SUITES[options.suite];
    if (!params) throw new RangeError(`unknown SRTP suite ${String(options.suite)}`);
    if (options.masterKey.length !== params.keyLength) {
      throw new RangeError(`${options.suite} master key must be ${params.keyLength} octets, got ${options.masterKey.length}`);
    }
    if (options.masterSalt.length !== params.saltLength) {
      throw new RangeError(`${options.suite} master salt must be ${params.saltLength} octets, got ${options.masterSalt.length}`);
    }
    this.suite = options.suite;
    this.#params = params;
    this.#rtp = direction(options.masterKey, options.masterSalt, 'rtp');
    this.#rtcp = direction(options.masterKey, options.masterSalt, 'rtcp');
  }

  /** Octets an SRTP packet carries beyond the RTP packet: room to leave for protectRtpInPlace. */
  get rtpOverhead(): number {
    return this.#params.rtpTagLength;
  }

  /** Octets an SRTCP packet carries beyond the RTCP compound: E flag, index and tag. */
  get rtcpOverhead(): number {
    return SRTCP_INDEX_LENGTH + this.#params.rtcpTagLength;
  }

  /** The rollover counter for `ssrc` in one direction, or undefined before its first packet. */
  rolloverCounter(ssrc: number, direction: 'send' | 'receive'): number | undefined {
    const highest = direction === 'send' ? this.#rtpSent.get(ssrc >>> 0) : this.#rtpReceived.get(ssrc >>> 0)?.highest;
    return highest === undefined ? undefined : Math.floor(highest / 0x10000);
  }

  /** Encrypts and authenticates an RTP packet into a new buffer. Throws RangeError on a malformed header. */
  protectRtp(packet: Buffer): Buffer {
    const out = Buffer.allocUnsafe(packet.length + this.#params.rtpTagLength);
    this.#protectRtp(packet, packet.length, out);
    return out;
  }

  /**
   * Protects the RTP packet in `buf[0, length)` in place; `buf` needs
   * `rtpOverhead` spare octets after it for the tag. Returns the SRTP length.
   */
  protectRtpInPlace(buf: Buffer, length: number = buf.length - this.#params.rtpTagLength): number {
    return this.#protectRtp(buf, length, buf);
  }

  /** Verifies and decrypts an SRTP packet into a new buffer; undefined (and counted) when it must be dropped. */
  unprotectRtp(packet: Buffer): Buffer | undefined {
    const plain = this.#checkRtp(packet, packet.length);
    if (plain === undefined) return undefined;
    const out = Buffer.allocUnsafe(plain.length);
    packet.copy(out, 0, 0, plain.length);
    this.#finishRtp(out, plain);
    return out;
  }

  /** Like unprotectRtp but decrypts inside `buf`; returns the RTP packet's length or undefined. */
  unprotectRtpInPlace(buf: Buffer, length: number = buf.length): number | undefined {
    const plain = this.#checkRtp(buf, length);
    if (plain === undefined) return undefined;
    this.#finishRtp(buf, plain);
    return plain.length;
  }

  /** Encrypts and authenticates an RTCP compound packet into a new buffer. */
  protectRtcp(packet: Buffer): Buffer {
    const out = Buffer.allocUnsafe(packet.length + this.rtcpOverhead);
    this.#protectRtcp(packet, packet.length, out);
    return out;
  }

  /** Protects `buf[0, length)` in place, with `rtcpOverhead` spare octets after it. Returns the SRTCP length. */
  protectRtcpInPlace(buf: Buffer, length: number = buf.length - this.rtcpOverhead): number {
    return this.#protectRtcp(buf, length, buf);
  }

  /** Verifies and decrypts an SRTCP packet into a new buffer; undefined (and counted) when it must be dropped. */
  unprotectRtcp(packet: Buffer): Buffer | undefined {
    const length = this.#checkRtcp(packet, packet.length);
    if (length < 0) return undefined;
    const out = Buffer.allocUnsafe(length);
    packet.copy(out, 0, 0, length);
    this.#finishRtcp(out, packet, length);
    return out;
  }

  /** Like unprotectRtcp but decrypts inside `buf`; returns the RTCP length or undefined. */
  unprotectRtcpInPlace(buf: Buffer, length: number = buf.length): number | undefined {
    const plain = this.#checkRtcp(buf, length);
    if (plain < 0) return undefined;
    this.#finishRtcp(buf, buf, plain);
    return plain;
  }

  #protectRtp(src: Buffer, length: number, dst: Buffer): number {
    const payloadAt = rtpPayloadOffset(src, length);
    if (payloadAt < 0) throw new RangeError(`not an RTP packet or header runs past ${length} octets`);
    const total = length + this.#params.rtpTagLength;
    if (dst.length < total) throw new RangeError(`SRTP packet needs ${total} octets, buffer has ${dst.length}`);
    if (dst !== src) src.copy(dst, 0, 0, length);
    const seq = dst.readUInt16BE(2);
    const ssrc = dst.readUInt32BE(8);
    const highest = this.#rtpSent.get(ssrc);
    let index = seq;
    if (highest !== undefined) {
      const estimate = estimatePacketIndex(highest, seq);
      if (estimate >= 0) index = estimate;
    }
    if (highest === undefined || index > highest) this.#rtpSent.set(ssrc, index);
    const rtp = this.#rtp;
    writeSrtpIv(this.#iv, rtp.salt, ssrc, index);
    rtp.cipher.apply(this.#iv, dst, payloadAt, length);
    const tag = this.#rtpTag(dst, length, Math.floor(index / 0x10000));
    tag.copy(dst, length, 0, this.#params.rtpTagLength);
    return total;
  }

  /** Validates, checks replay and authenticates; nothing is modified. */
  #checkRtp(buf: Buffer, length: number): PendingRtp | undefined {
    const tagLength = this.#params.rtpTagLength;
    const end = length - tagLength;
    const payloadAt = end >= RTP_HEADER_LENGTH ? rtpPayloadOffset(buf, end) : -1;
    if (payloadAt < 0) {
      this.stats.malformed++;
      return undefined;
    }
    const seq = buf.readUInt16BE(2);
    const ssrc = buf.readUInt32BE(8);
    const window = this.#rtpReceived.get(ssrc);
    // An unknown SSRC starts at ROC 0 (§3.3.1: s_l is initialised from the first packet).
    const index = window ? estimatePacketIndex(window.highest, seq) : seq;
    if (window && !window.check(index)) {
      this.stats.replays++;
      return undefined;
    }
    const tag = this.#rtpTag(buf, end, Math.floor(index / 0x10000));
    if (!timingSafeEqual(tag.subarray(0, tagLength), buf.subarray(end, length))) {
      this.stats.authFailures++;
      return undefined;
    }
    return { length: end, payloadAt, ssrc, index, window };
  }

  #finishRtp(dst: Buffer, p: PendingRtp): void {
    const rtp = this.#rtp;
    writeSrtpIv(this.#iv, rtp.salt, p.ssrc, p.index);
    rtp.cipher.apply(this.#iv, dst, p.payloadAt, p.length);
    let window = p.window;
    if (!window) {
      window = new ReplayWindow();
      this.#rtpReceived.set(p.ssrc, window);
    }
    window.accept(p.index);
  }

  #rtpTag(buf: Buffer, length: number, roc: number): Buffer {
    // §4.2: the authenticated portion is header and encrypted payload, then the ROC.
    this.#word.writeUInt32BE(roc >>> 0, 0);
    return createHmac('sha1', this.#rtp.authKey).update(buf.subarray(0, length)).update(this.#word).digest();
  }

  #protectRtcp(src: Buffer, length: number, dst: Buffer): number {
    if (length < RTCP_HEADER_LENGTH || src[0] >> 6 !== RTP_VERSION) {
      throw new RangeError(`not an RTCP packet (${length} octets)`);
    }
    const total = length + this.rtcpOverhead;
    if (dst.length < total) throw new RangeError(`SRTCP packet needs ${total} octets, buffer has ${dst.length}`);
    if (dst !== src) src.copy(dst, 0, 0, length);
    const ssrc = dst.readUInt32BE(4);
    const index = this.#rtcpSent.get(ssrc) ?? 0;
    // 2^31 packets need a new master key (§9.2); wrapping keeps us running, as libsrtp's callers expect rekeying first.
    this.#rtcpSent.set(ssrc, (index + 1) & SRTCP_INDEX_MASK);
    const rtcp = this.#rtcp;
    writeSrtpIv(this.#iv, rtcp.salt, ssrc, index);
    rtcp.cipher.apply(this.#iv, dst, RTCP_HEADER_LENGTH, length);
    dst.writeUInt32BE((E_FLAG | index) >>> 0, length);
    const tag = this.#rtcpTag(dst, length + SRTCP_INDEX_LENGTH);
    tag.copy(dst, length + SRTCP_INDEX_LENGTH, 0, this.#params.rtcpTagLength);
    return total;
  }

  /** Returns the RTCP length when the packet may be accepted, else -1 (counted). */
  #checkRtcp(buf: Buffer, length: number): number {
    const tagLength = this.#params.rtcpTagLength;
    const plain = length - tagLength - SRTCP_INDEX_LENGTH;
    if (plain < RTCP_HEADER_LENGTH || buf[0] >> 6 !== RTP_VERSION) {
      this.stats.malformed++;
      return -1;
    }
    const ssrc = buf.readUInt32BE(4);
    const index = buf.readUInt32BE(plain) & SRTCP_INDEX_MASK;
    const window = this.#rtcpReceived.get(ssrc);
    if (window && !window.check(index)) {
      this.stats.replays++;
      return -1;
    }
    const authenticated = plain + SRTCP_INDEX_LENGTH;
    const tag = this.#rtcpTag(buf, authenticated);
    if (!timingSafeEqual(tag.subarray(0, tagLength), buf.subarray(authenticated, length))) {
      this.stats.authFailures++;
      return -1;
    }
    return plain;
  }

  /** Decrypts `dst` (already holding the RTCP octets) per the E flag in `src`, then records the index. */
  #finishRtcp(dst: Buffer, src: Buffer, plain: number): void {
    const word = src.readUInt32BE(plain);
    const index = word & SRTCP_INDEX_MASK;
    const ssrc = dst.readUInt32BE(4);
    if ((word & E_FLAG) !== 0) {
      const rtcp = this.#rtcp;
      writeSrtpIv(this.#iv, rtcp.salt, ssrc, index);
      rtcp.cipher.apply(this.#iv, dst, RTCP_HEADER_LENGTH, plain);
    }
    let window = this.#rtcpReceived.get(ssrc);
    if (!window) {
      window = new ReplayWindow();
      this.#rtcpReceived.set(ssrc, window);
    }
    window.accept(index);
  }

  #rtcpTag(buf: Buffer, length: number): Buffer {
    // §3.4: the tag covers the whole packet including the E flag and SRTCP index.
    return createHmac('sha1', this.#rtcp.authKey).update(buf.subarray(0, length)).digest();
  }
}

interface PendingRtp {
  length: number;
  payloadAt: number;
  ssrc: number;
  index: number;
  window: ReplayWindow | undefined;
}
