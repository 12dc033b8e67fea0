/**
 * RTP fixed header, CSRC list, header extension and padding (RFC 3550 §5.1,
 * §5.3.1) — parse and serialize without copying or allocating per packet.
 *
 * Parsing fills an `RtpView` the caller owns and reuses: every field is a
 * number, the CSRC array is reused, and the payload and extension body are
 * offsets into the received buffer (the `payload` getter hands out a
 * subarray, which shares memory with the datagram). A receive loop therefore
 * keeps one view per socket and allocates nothing for well-formed packets.
 */
import { RtpParseError, type RtpErrorReason } from './errors.js';

export const RTP_VERSION = 2;
export const RTP_HEADER_LENGTH = 12;
/** Four bits of CSRC count. */
export const MAX_CSRCS = 15;

const EMPTY = Buffer.alloc(0);

/** A parsed packet: a window onto `buffer`, valid only while that buffer is. */
export class RtpView {
  /** The datagram the fields were read from; `payload` points into it. */
  buffer: Buffer = EMPTY;
  /** The P bit. When set, `paddingLength` octets (including the count octet) ended the packet. */
  padding = false;
  paddingLength = 0;
  /** The X bit. When set, `extensionProfile` and the extension body are meaningful. */
  extension = false;
  csrcCount = 0;
  marker = false;
  payloadType = 0;
  sequence = 0;
  timestamp = 0;
  ssrc = 0;
  /** Contributing sources; the same array is refilled on every parse. */
  readonly csrcs: number[] = [];
  /** The 16-bit "defined by profile" field (0xBEDE for RFC 8285 one-byte headers). */
  extensionProfile = 0;
  /** Offset of the extension body (after its 4-octet header) in `buffer`. */
  extensionOffset = 0;
  /** Extension body length in octets (the length field times 4). */
  extensionLength = 0;
  /** Octets of fixed header, CSRCs and extension: where the payload starts. */
  headerLength = 0;
  payloadOffset = 0;
  payloadLength = 0;

  get version(): number {
    return RTP_VERSION;
  }

  /** The payload without padding, sharing memory with `buffer`. */
  get payload(): Buffer {
    return this.buffer.subarray(this.payloadOffset, this.payloadOffset + this.payloadLength);
  }

  /** The extension body (without its 4-octet header), or undefined when X is clear. */
  get extensionData(): Buffer | undefined {
    if (!this.extension) return undefined;
    return this.buffer.subarray(this.extensionOffset, this.extensionOffset + this.extensionLength);
  }
}

/**
 * Reads `buf` into `view`. Returns undefined on success or the reason the
 * packet is malformed; `view` is then partially filled and must not be used.
 * This is the hot-path entry point: no exception, no allocation.
 */
export function readRtp(buf: Buffer, view: RtpView): RtpErrorReason | undefined {
  const len = buf.length;
  if (len < RTP_HEADER_LENGTH) return 'too-short';
  const b0 = buf[0];
  if (b0 >> 6 !== RTP_VERSION) return 'bad-version';
  const cc = b0 & 0x0f;
  let off = RTP_HEADER_LENGTH + cc * 4;
  if (off > len) return 'truncated-csrc';

  const b1 = buf[1];
  view.buffer = buf;
  view.padding = (b0 & 0x20) !== 0;
  view.extension = (b0 & 0x10) !== 0;
  view.csrcCount = cc;
  view.marker = (b1 & 0x80) !== 0;
  view.payloadType = b1 & 0x7f;
  view.sequence = buf.readUInt16BE(2);
  view.timestamp = buf.readUInt32BE(4);
  view.ssrc = buf.readUInt32BE(8);
  const csrcs = view.csrcs;
  csrcs.length = cc;
  for (let i = 0; i < cc; i++) csrcs[i] = buf.readUInt32BE(RTP_HEADER_LENGTH + i * 4);

  if (view.extension) {
    if (off + 4 > len) return 'bad-extension';
    view.extensionProfile = buf.readUInt16BE(off);
    const extLen = buf.readUInt16BE(off + 2) * 4;
    off += 4;
    if (off + extLen > len) return 'bad-extension';
    view.extensionOffset = off;
    view.extensionLength = extLen;
    off += extLen;
  } else {
    view.extensionProfile = 0;
    view.extensionOffset = 0;
    view.extensionLength = 0;
  }

  let end = len;
  if (view.padding) {
    // The count includes itself, so 0 is meaningless; it may not eat into the header.
    const pad = buf[len - 1];
    if (pad === 0 || pad > len - off) return 'bad-padding';
    end -= pad;
    view.paddingLength = pad;
  } else {
    view.paddingLength = 0;
  }

  view.headerLength = off;
  view.payloadOffset = off;
  view.payloadLength = end - off;
  return undefined;
}

const MESSAGES: Record<RtpErrorReason, string> = {
  'too-short': 'RTP packet shorter than the 12-octet fixed header',
  'bad-version': 'RTP version is not 2',
  'truncated-csrc': 'RTP CSRC list runs past the end of the packet',
  'bad-extension': 'RTP header extension runs past the end of the packet',
  'bad-padding': 'RTP padding count is zero or longer than the payload',
};

/** Parses into `view` (a fresh one by default); throws RtpParseError on malformed input. */
export function parseRtp(buf: Buffer, view: RtpView = new RtpView()): RtpView {
  const reason = readRtp(buf, view);
  if (reason !== undefined) throw new RtpParseError(reason, `${MESSAGES[reason]} (${buf.length} octets)`);
  return view;
}

/** Like parseRtp but returns undefined for malformed input. */
export function tryParseRtp(buf: Buffer, view: RtpView = new RtpView()): RtpView | undefined {
  return readRtp(buf, view) === undefined ? view : undefined;
}

/** What the sender chooses for one packet's header. */
export interface RtpHeaderFields {
  marker?: boolean;
  payloadType: number;
  sequence: number;
  timestamp: number;
  ssrc: number;
  csrcs?: readonly number[];
  /** Header extension; `data.length` must be a multiple of 4 (the length field counts words). */
  extension?: { profile: number; data: Uint8Array };
  /** Octets of padding to append, 1..255, counting the final count octet (e.g. to fill a cipher block). */
  padding?: number;
}

/** Octets the header (fixed part, CSRCs, extension) will take: where to encode a payload in place. */
export function rtpHeaderLength(fields: RtpHeaderFields): number {
  const cc = fields.csrcs?.length ?? 0;
  const ext = fields.extension ? 4 + fields.extension.data.length : 0;
  return RTP_HEADER_LENGTH + cc * 4 + ext;
}

/**
 * Serializes one packet into `into` starting at `offset` and returns the
 * number of octets written. Nothing is allocated. If `payload` already sits
 * in `into` right where the payload belongs (the codec encoded in place after
 * `rtpHeaderLength(fields)` octets), it is not copied again.
 *
 * Invalid fields or a too-small buffer are programming errors: RangeError.
 */
export function writeRtp(into: Buffer, fields: RtpHeaderFields, payload: Uint8Array, offset = 0): number {
  const csrcs = fields.csrcs;
  const cc = csrcs ? csrcs.length : 0;
  if (cc > MAX_CSRCS) throw new RangeError(`at most ${MAX_CSRCS} CSRCs fit an RTP header, got ${cc}`);
  const pt = fields.payloadType;
  if (!Number.isInteger(pt) || pt < 0 || pt > 127) throw new RangeError(`RTP payload type must be 0..127, got ${pt}`);
  const ext = fields.extension;
  if (ext && (ext.data.length % 4 !== 0 || ext.data.length > 0xffff * 4)) {
    throw new RangeError(`RTP header extension must be a multiple of 4 octets, got ${ext.data.length}`);
  }
  const pad = fields.padding ?? 0;
  if (!Number.isInteger(pad) || pad < 0 || pad > 255) throw new RangeError(`RTP padding must be 0..255 octets, got ${pad}`);

  const headerLen = rtpHeaderLength(fields);
  const total = headerLen + payload.length + pad;
  if (offset + total > into.length) {
    throw new RangeError(`RTP packet needs ${total} octets, buffer has ${into.length - offset} from offset ${offset}`);
  }

  into[offset] = (RTP_VERSION << 6) | (pad > 0 ? 0x20 : 0) | (ext ? 0x10 : 0) | cc;
  stampRtp(into, fields.marker ?? false, pt, fields.sequence, fields.timestamp, fields.ssrc, offset);
  let off = offset + RTP_HEADER_LENGTH;
  for (let i = 0; i < cc; i++, off += 4) into.writeUInt32BE((csrcs as readonly number[])[i] >>> 0, off);
  if (ext) {
    into.writeUInt16BE(ext.profile & 0xffff, off);
    into.writeUInt16BE(ext.data.length / 4, off + 2);
    into.set(ext.data, off + 4);
    off += 4 + ext.data.length;
  }
  const inPlace = payload.buffer === into.buffer && payload.byteOffset === into.byteOffset + off;
  if (!inPlace) into.set(payload, off);
  off += payload.length;
  if (pad > 0) {
    into.fill(0, off, off + pad - 1);
    into[off + pad - 1] = pad;
    off += pad;
  }
  return off - offset;
}

/**
 * Writes marker, payload type, sequence number, timestamp and SSRC into the
 * fixed header at `offset`, leaving its first octet (version, P, X, CSRC
 * count) and everything after it as they are: how a bridge restamps a
 * packet in place. No checks (`payloadType` must be 0..127), no allocation.
 */
export function stampRtp(into: Buffer, marker: boolean, payloadType: number, sequence: number, timestamp: number, ssrc: number, offset = 0): void {
  into[offset + 1] = (marker ? 0x80 : 0) | payloadType;
  into.writeUInt16BE(sequence & 0xffff, offset + 2);
  into.writeUInt32BE(timestamp >>> 0, offset + 4);
  into.writeUInt32BE(ssrc >>> 0, offset + 8);
}

/**
 * rtcp-mux demultiplexing (RFC 5761 §4): with RTP and RTCP on one port, a
 * second octet of 192..223 (RTCP packet types SR 200, RR 201 ... up to 223)
 * means RTCP, because RTP payload types 64..95 are not used on a muxed
 * session. The version bits are checked too so that STUN or DTLS that slipped
 * past the RFC 7983 first-octet demux is not mistaken for RTCP.
 */
export function isRtcp(buf: Uint8Array): boolean {
  if (buf.length < 2 || buf[0] >> 6 !== RTP_VERSION) return false;
  const pt = buf[1] & 0x7f;
  return pt >= 64 && pt <= 95;
}
