/**
 * Compound RTCP (RFC 3550 §6.4–6.6): sender and receiver reports with their
 * report blocks, SDES and BYE. Other packet types (APP, the RFC 4585 feedback
 * messages, XR) are handed through as raw bodies so a feedback module can
 * read them without this file knowing their layout.
 *
 * RTCP arrives a few times per second per stream, so parsing builds plain
 * objects; building still writes into a caller-provided buffer.
 */
import { RtcpParseError, type RtcpErrorReason } from './errors.js';

export const RTCP_SR = 200;
export const RTCP_RR = 201;
export const RTCP_SDES = 202;
export const RTCP_BYE = 203;
export const RTCP_APP = 204;

/** SDES item types (RFC 3550 §6.5). */
export const SDES_END = 0;
export const SDES_CNAME = 1;
export const SDES_NAME = 2;
export const SDES_EMAIL = 3;
export const SDES_PHONE = 4;
export const SDES_LOC = 5;
export const SDES_TOOL = 6;
export const SDES_NOTE = 7;
export const SDES_PRIV = 8;

/** Five bits of RC / SC. */
export const MAX_RTCP_COUNT = 31;
const REPORT_BLOCK_LENGTH = 24;
const SENDER_INFO_LENGTH = 20;

/** Reception statistics about one source (RFC 3550 §6.4.1). */
export interface ReportBlock {
  ssrc: number;
  /** Fraction of packets lost since the previous report, 8-bit fixed point (lost/expected × 256). */
  fractionLost: number;
  /** Cumulative packets lost: 24-bit signed (duplicates can make it negative). */
  cumulativeLost: number;
  /** Extended highest sequence number received: cycles << 16 | highest seq. */
  highestSeq: number;
  /** Interarrival jitter in RTP timestamp units. */
  jitter: number;
  /** Middle 32 bits of the NTP timestamp of the last SR from this source, 0 if none. */
  lsr: number;
  /** Delay since that SR was received, in 1/65536 s; 0 if none. */
  dlsr: number;
}

/** The sender-info section of an SR. */
export interface SenderInfo {
  ntpSeconds: number;
  ntpFraction: number;
  /** The same instant as the NTP timestamp, in the media clock. */
  rtpTimestamp: number;
  packetCount: number;
  /** Payload octets sent (no headers, no padding), modulo 2^32. */
  octetCount: number;
}

export interface SenderReport extends SenderInfo {
  type: 'sr';
  ssrc: number;
  reports: ReportBlock[];
  /** Profile-specific extension after the report blocks, if any. */
  extension?: Buffer;
}

export interface ReceiverReport {
  type: 'rr';
  ssrc: number;
  reports: ReportBlock[];
  extension?: Buffer;
}

export interface SdesItem {
  type: number;
  /** UTF-8 text, at most 255 octets encoded. */
  value: string;
}

export interface SdesChunk {
  ssrc: number;
  items: SdesItem[];
}

export interface SourceDescription {
  type: 'sdes';
  chunks: SdesChunk[];
}

export interface Goodbye {
  type: 'bye';
  ssrcs: number[];
  reason?: string;
}

/** Any packet type this module does not model (APP, RTPFB, PSFB, XR ...). */
export interface OtherRtcp {
  type: 'other';
  packetType: number;
  /** The 5-bit count/subtype field (FMT for feedback messages). */
  count: number;
  /** Everything after the 4-octet common header, padding removed. */
  body: Buffer;
}

export type RtcpPacket = SenderReport | ReceiverReport | SourceDescription | Goodbye | OtherRtcp;

export interface ParseRtcpOptions {
  /**
   * Apply the RFC 3550 A.2 compound check: the first packet is an SR or RR
   * without padding. Off by default because reduced-size RTCP (RFC 5506,
   * used by WebRTC for feedback) sends lone feedback packets.
   */
  strict?: boolean;
}

function fail(reason: RtcpErrorReason, message: string): never {
  throw new RtcpParseError(reason, message);
}

function readReportBlocks(buf: Buffer, off: number, count: number): ReportBlock[] {
  const out: ReportBlock[] = [];
  for (let i = 0; i < count; i++, off += REPORT_BLOCK_LENGTH) {
    const raw = (buf[off + 5] << 16) | (buf[off + 6] << 8) | buf[off + 7];
    out.push({
      ssrc: buf.readUInt32BE(off),
      fractionLost: buf[off + 4],
      cumulativeLost: raw & 0x800000 ? raw - 0x1000000 : raw,
      highestSeq: buf.readUInt32BE(off + 8),
      jitter: buf.readUInt32BE(off + 12),
      lsr: buf.readUInt32BE(off + 16),
      dlsr: buf.readUInt32BE(off + 20),
    });
  }
  return out;
}

/** The bytes left after the fixed fields and report blocks, or undefined when there are none. */
function trailing(buf: Buffer, from: number, end: number): Buffer | undefined {
  return from < end ? buf.subarray(from, end) : undefined;
}

function parseSdes(buf: Buffer, start: number, end: number, count: number): SourceDescription {
  const chunks: SdesChunk[] = [];
  let off = start;
  for (let c = 0; c < count; c++) {
    if (off + 4 > end) fail('bad-sdes', `SDES chunk ${c + 1} of ${count} missing`);
    const chunk: SdesChunk = { ssrc: buf.readUInt32BE(off), items: [] };
    off += 4;
    for (;;) {
      if (off >= end) fail('bad-sdes', 'SDES chunk not terminated by a null item');
      const type = buf[off];
      if (type === SDES_END) {
        // The null octet, then padding to the next 32-bit boundary of the packet.
        off = start + ((off + 1 - start + 3) & ~3);
        if (off > end) fail('bad-sdes', 'SDES chunk padding runs past the end');
        break;
      }
      if (off + 2 > end) fail('bad-sdes', 'SDES item header runs past the end');
      const len = buf[off + 1];
      if (off + 2 + len > end) fail('bad-sdes', `SDES item of ${len} octets runs past the end`);
      chunk.items.push({ type, value: buf.toString('utf8', off + 2, off + 2 + len) });
      off += 2 + len;
    }
    chunks.push(chunk);
  }
  return { type: 'sdes', chunks };
}

function parseBye(buf: Buffer, start: number, end: number, count: number): Goodbye {
  if (start + count * 4 > end) fail('bad-bye', `BYE lists ${count} sources but has room for fewer`);
  const ssrcs: number[] = [];
  for (let i = 0; i < count; i++) ssrcs.push(buf.readUInt32BE(start + i * 4));
  const bye: Goodbye = { type: 'bye', ssrcs };
  const off = start + count * 4;
  if (off < end) {
    const len = buf[off];
    if (off + 1 + len > end) fail('bad-bye', `BYE reason of ${len} octets runs past the end`);
    bye.reason = buf.toString('utf8', off + 1, off + 1 + len);
  }
  return bye;
}

/**
 * Parses a compound RTCP packet (or a lone one). Throws RtcpParseError on
 * anything malformed: one bad packet spoils the compound, as RFC 3550 A.2
 * requires, because its length can no longer be trusted to find the next.
 */
export function parseRtcp(buf: Buffer, options: ParseRtcpOptions = {}): RtcpPacket[] {
  const packets: RtcpPacket[] = [];
  const len = buf.length;
  if (len === 0) fail('too-short', 'empty RTCP packet');
  let off = 0;
  while (off < len) {
    if (off + 4 > len) fail('too-short', `${len - off} stray octets after the last RTCP packet`);
    const b0 = buf[off];
    if (b0 >> 6 !== 2) fail('bad-version', `RTCP version is ${b0 >> 6}, not 2`);
    const padded = (b0 & 0x20) !== 0;
    const count = b0 & 0x1f;
    const pt = buf[off + 1];
    const pktEnd = off + (buf.readUInt16BE(off + 2) + 1) * 4;
    if (pktEnd > len) fail('bad-length', `RTCP packet type ${pt} claims ${pktEnd - off} octets, ${len - off} left`);
    if (options.strict && off === 0 && ((pt !== RTCP_SR && pt !== RTCP_RR) || padded)) {
      fail('bad-first-packet', `compound RTCP starts with packet type ${pt}${padded ? ' with padding' : ''}`);
    }
    const start = off + 4;
    let end = pktEnd;
    if (padded) {
      const pad = buf[pktEnd - 1];
      if (pad === 0 || pad > pktEnd - start) fail('bad-padding', `RTCP padding count ${pad} does not fit the packet`);
      end -= pad;
    }

    switch (pt) {
      case RTCP_SR: {
        const fixed = start + 4 + SENDER_INFO_LENGTH;
        const blocks = fixed + count * REPORT_BLOCK_LENGTH;
        if (blocks > end) fail('bad-sr', `SR with ${count} report blocks needs ${blocks - off} octets, has ${end - off}`);
        const sr: SenderReport = {
          type: 'sr',
          ssrc: buf.readUInt32BE(start),
          ntpSeconds: buf.readUInt32BE(start + 4),
          ntpFraction: buf.readUInt32BE(start + 8),
          rtpTimestamp: buf.readUInt32BE(start + 12),
          packetCount: buf.readUInt32BE(start + 16),
          octetCount: buf.readUInt32BE(start + 20),
          reports: readReportBlocks(buf, fixed, count),
        };
        const ext = trailing(buf, blocks, end);
        if (ext) sr.extension = ext;
        packets.push(sr);
        break;
      }
      case RTCP_RR: {
        const fixed = start + 4;
        const blocks = fixed + count * REPORT_BLOCK_LENGTH;
        if (blocks > end) fail('bad-rr', `RR with ${count} report blocks needs ${blocks - off} octets, has ${end - off}`);
        const rr: ReceiverReport = { type: 'rr', ssrc: buf.readUInt32BE(start), reports: readReportBlocks(buf, fixed, count) };
        const ext = trailing(buf, blocks, end);
        if (ext) rr.extension = ext;
        packets.push(rr);
        break;
      }
      case RTCP_SDES:
        packets.push(parseSdes(buf, start, end, count));
        break;
      case RTCP_BYE:
        packets.push(parseBye(buf, start, end, count));
        break;
      default:
        packets.push({ type: 'other', packetType: pt, count, body: buf.subarray(start, end) });
    }
    off = pktEnd;
  }
  return packets;
}

/** Like parseRtcp but returns undefined for malformed input. */
export function tryParseRtcp(buf: Buffer, options?: ParseRtcpOptions): RtcpPacket[] | undefined {
  try {
    return parseRtcp(buf, options);
  } catch (e) {
    if (e instanceof RtcpParseError) return undefined;
    throw e;
  }
}

/** The CNAME of an SDES chunk, if it carries one. */
export function sdesCname(chunk: SdesChunk): string | undefined {
  for (const item of chunk.items) if (item.type === SDES_CNAME) return item.value;
  return undefined;
}

function checkCount(what: string, n: number): void {
  if (n > MAX_RTCP_COUNT) throw new RangeError(`at most ${MAX_RTCP_COUNT} ${what} fit one RTCP packet, got ${n}`);
}

/** Length of an opaque section that must fill whole 32-bit words (the length field counts words). */
function wordLength(what: string, data: Buffer | undefined): number {
  if (!data) return 0;
  if (data.length % 4 !== 0) throw new RangeError(`RTCP ${what} must be a multiple of 4 octets, got ${data.length}`);
  return data.length;
}

function sdesChunkLength(chunk: SdesChunk): number {
  let n = 4;
  for (const item of chunk.items) {
    const bytes = Buffer.byteLength(item.value, 'utf8');
    if (bytes > 255) throw new RangeError(`SDES item type ${item.type} is ${bytes} octets, at most 255 fit`);
    if (item.type === SDES_END || item.type > 255) throw new RangeError(`SDES item type must be 1..255, got ${item.type}`);
    n += 2 + bytes;
  }
  // At least one null octet, then up to the next word.
  return (n + 1 + 3) & ~3;
}

/** Octets `packet` takes on the wire (a multiple of 4). */
export function rtcpPacketLength(packet: RtcpPacket): number {
  switch (packet.type) {
    case 'sr':
      checkCount('report blocks', packet.reports.length);
      return 8 + SENDER_INFO_LENGTH + packet.reports.length * REPORT_BLOCK_LENGTH + wordLength('profile extension', packet.extension);
    case 'rr':
      checkCount('report blocks', packet.reports.length);
      return 8 + packet.reports.length * REPORT_BLOCK_LENGTH + wordLength('profile extension', packet.extension);
    case 'sdes': {
      checkCount('SDES chunks', packet.chunks.length);
      let n = 4;
      for (const chunk of packet.chunks) n += sdesChunkLength(chunk);
      return n;
    }
    case 'bye': {
      checkCount('BYE sources', packet.ssrcs.length);
      let n = 4 + packet.ssrcs.length * 4;
      if (packet.reason !== undefined) {
        const bytes = Buffer.byteLength(packet.reason, 'utf8');
        if (bytes > 255) throw new RangeError(`BYE reason is ${bytes} octets, at most 255 fit`);
        n += (1 + bytes + 3) & ~3;
      }
      return n;
    }
    case 'other':
      if (packet.count > MAX_RTCP_COUNT || packet.packetType > 255) throw new RangeError('RTCP count must be 0..31 and type 0..255');
      return 4 + wordLength('packet body', packet.body);
  }
}

/** Octets a compound packet made of `packets` takes. */
export function rtcpLength(packets: readonly RtcpPacket[]): number {
  let n = 0;
  for (const p of packets) n += rtcpPacketLength(p);
  return n;
}

function writeHeader(into: Buffer, off: number, count: number, pt: number, length: number): void {
  into[off] = 0x80 | count;
  into[off + 1] = pt;
  into.writeUInt16BE(length / 4 - 1, off + 2);
}

function writeReportBlocks(into: Buffer, off: number, reports: readonly ReportBlock[]): number {
  for (const r of reports) {
    into.writeUInt32BE(r.ssrc >>> 0, off);
    into[off + 4] = r.fractionLost & 0xff;
    // Clamp rather than wrap: a wrapped count would report a huge gain as a loss.
    const lost = Math.max(-0x800000, Math.min(0x7fffff, Math.trunc(r.cumulativeLost))) & 0xffffff;
    into[off + 5] = lost >> 16;
    into[off + 6] = (lost >> 8) & 0xff;
    into[off + 7] = lost & 0xff;
    into.writeUInt32BE(r.highestSeq >>> 0, off + 8);
    into.writeUInt32BE(r.jitter >>> 0, off + 12);
    into.writeUInt32BE(r.lsr >>> 0, off + 16);
    into.writeUInt32BE(r.dlsr >>> 0, off + 20);
    off += REPORT_BLOCK_LENGTH;
  }
  return off;
}

function writeTrailing(into: Buffer, off: number, ext: Buffer | undefined): number {
  if (!ext) return off;
  into.set(ext, off);
  return off + ext.length;
}

/**
 * Serializes `packets` as one compound RTCP packet into `into` at `offset`
 * and returns the number of octets written. Field ranges that cannot be
 * encoded (more than 31 report blocks, SDES text over 255 octets, a buffer
 * too small) are programming errors: RangeError.
 */
export function writeRtcp(into: Buffer, packets: readonly RtcpPacket[], offset = 0): number {
  const total = rtcpLength(packets);
  if (offset + total > into.length) {
    throw new RangeError(`compound RTCP needs ${total} octets, buffer has ${into.length - offset} from offset ${offset}`);
  }
  let off = offset;
  for (const p of packets) {
    const len = rtcpPacketLength(p);
    const start = off;
    switch (p.type) {
      case 'sr':
        writeHeader(into, off, p.reports.length, RTCP_SR, len);
        into.writeUInt32BE(p.ssrc >>> 0, off + 4);
        into.writeUInt32BE(p.ntpSeconds >>> 0, off + 8);
        into.writeUInt32BE(p.ntpFraction >>> 0, off + 12);
        into.writeUInt32BE(p.rtpTimestamp >>> 0, off + 16);
        into.writeUInt32BE(p.packetCount >>> 0, off + 20);
        into.writeUInt32BE(p.octetCount >>> 0, off + 24);
        off = writeTrailing(into, writeReportBlocks(into, off + 28, p.reports), p.extension);
        break;
      case 'rr':
        writeHeader(into, off, p.reports.length, RTCP_RR, len);
        into.writeUInt32BE(p.ssrc >>> 0, off + 4);
        off = writeTrailing(into, writeReportBlocks(into, off + 8, p.reports), p.extension);
        break;
      case 'sdes':
        writeHeader(into, off, p.chunks.length, RTCP_SDES, len);
        off += 4;
        for (const chunk of p.chunks) {
          const chunkEnd = off + sdesChunkLength(chunk);
          into.writeUInt32BE(chunk.ssrc >>> 0, off);
          off += 4;
          for (const item of chunk.items) {
            into[off] = item.type;
            const bytes = into.write(item.value, off + 2, 'utf8');
            into[off + 1] = bytes;
            off += 2 + bytes;
          }
          into.fill(0, off, chunkEnd); // null item plus padding
          off = chunkEnd;
        }
        break;
      case 'bye':
        writeHeader(into, off, p.ssrcs.length, RTCP_BYE, len);
        off += 4;
        for (const ssrc of p.ssrcs) {
          into.writeUInt32BE(ssrc >>> 0, off);
          off += 4;
        }
        if (p.reason !== undefined) {
          const bytes = into.write(p.reason, off + 1, 'utf8');
          into[off] = bytes;
          into.fill(0, off + 1 + bytes, start + len);
          off = start + len;
        }
        break;
      case 'other':
        writeHeader(into, off, p.count, p.packetType, len);
        into.set(p.body, off + 4);
        off += len;
        break;
    }
  }
  return off - offset;
}
