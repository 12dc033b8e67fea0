/**
 * A call's trace as a classic libpcap file, for Wireshark/tshark/sngrep.
 *
 * Link type LINKTYPE_RAW (101): each record starts with the IP header, so
 * IPv4 and IPv6 packets mix in one file without inventing MAC addresses.
 *
 * Every message is written as one UDP datagram, including those that went
 * over TCP, TLS or WebSocket: this is an export of the call flow, not a
 * byte-exact capture. Writing TCP would mean inventing handshakes, sequence
 * numbers and segment boundaries that never existed, and TLS/WS messages were
 * never on the wire in clear text anyway; as UDP each SIP message is one
 * self-contained packet that dissects on its own.
 *
 * tshark finds SIP on UDP port 5060 and, through the SIP-over-UDP heuristic
 * (on by default), on any other port that no other UDP dissector claims.
 * If a party used a port registered to another protocol, open the file with
 * `-o udp.try_heuristic_first:TRUE` (or `-d udp.port==PORT,sip`).
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { TraceEndpoint, TraceEntry } from './recorder.js';

/** Fields the export reads; a TraceEntry has them all. */
export type PcapEntry = Pick<TraceEntry, 'dir' | 'local' | 'remote' | 'data' | 'wallMs'> & { size?: number };

const LINKTYPE_RAW = 101;
const SNAPLEN = 262_144;
const UDP_HEADER = 8;
const IPV4_HEADER = 20;
const IPV6_HEADER = 40;
const PROTO_UDP = 17;

export function toPcap(entries: readonly PcapEntry[]): Buffer {
  const parts: Buffer[] = [globalHeader()];
  let ident = 0;
  for (const e of entries) {
    // Inbound: the remote party sent it to our socket; outbound: the reverse.
    const [src, dst] = e.dir === 'in' ? [e.remote, e.local] : [e.local, e.remote];
    const { a, b } = sameFamily(parseIp(src.address), parseIp(dst.address));
    const header = a.length === 4 ? IPV4_HEADER : IPV6_HEADER;
    // An IP packet holds at most 65535 bytes (IPv6 counts only what follows its header).
    const maxPayload = 0xffff - UDP_HEADER - (a.length === 4 ? IPV4_HEADER : 0);
    const origPayload = Math.min(Math.max(e.size ?? e.data.length, e.data.length), maxPayload);
    const payload = e.data.subarray(0, Math.min(e.data.length, origPayload));
    const udpLen = UDP_HEADER + origPayload;

    const packet = Buffer.alloc(header + UDP_HEADER + payload.length);
    if (a.length === 4) writeIpv4(packet, a, b, IPV4_HEADER + udpLen, ident++ & 0xffff);
    else writeIpv6(packet, a, b, udpLen);
    const udp = header;
    packet.writeUInt16BE(port(src), udp);
    packet.writeUInt16BE(port(dst), udp + 2);
    packet.writeUInt16BE(udpLen, udp + 4);
    payload.copy(packet, udp + UDP_HEADER);
    // A message the recorder cut short cannot carry a true checksum. IPv4 may say
    // "none" (0); IPv6 may not, and tshark does not verify UDP checksums by default.
    const complete = payload.length === origPayload;
    if (complete || a.length === 16) {
      const sum = udpChecksum(a, b, packet.subarray(udp));
      packet.writeUInt16BE(sum === 0 ? 0xffff : sum, udp + 6); // 0 means "no checksum" (RFC 768)
    }
    parts.push(recordHeader(e.wallMs, packet.length, header + udpLen), packet);
  }
  return Buffer.concat(parts);
}

function globalHeader(): Buffer {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0); // microsecond timestamps; readers detect byte order from it
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeInt32LE(0, 8); // thiszone: timestamps are UTC
  h.writeUInt32LE(0, 12); // sigfigs
  h.writeUInt32LE(SNAPLEN, 16);
  h.writeUInt32LE(LINKTYPE_RAW, 20);
  return h;
}

function recordHeader(wallMs: number, inclLen: number, origLen: number): Buffer {
  const h = Buffer.alloc(16);
  const ms = Number.isFinite(wallMs) && wallMs > 0 ? wallMs : 0;
  const sec = Math.floor(ms / 1000);
  const usec = Math.min(999_999, Math.round((ms - sec * 1000) * 1000));
  h.writeUInt32LE(sec >>> 0, 0);
  h.writeUInt32LE(usec, 4);
  h.writeUInt32LE(inclLen, 8);
  h.writeUInt32LE(origLen, 12);
  return h;
}

function writeIpv4(p: Buffer, src: Uint8Array, dst: Uint8Array, totalLen: number, ident: number): void {
  p[0] = 0x45; // version 4, 5 words of header
  p[1] = 0;
  p.writeUInt16BE(totalLen, 2);
  p.writeUInt16BE(ident, 4);
  p.writeUInt16BE(0x4000, 6); // don't fragment, offset 0
  p[8] = 64; // TTL
  p[9] = PROTO_UDP;
  p.set(src, 12);
  p.set(dst, 16);
  p.writeUInt16BE(finish(sum16(p.subarray(0, IPV4_HEADER), 0)), 10);
}

function writeIpv6(p: Buffer, src: Uint8Array, dst: Uint8Array, payloadLen: number): void {
  p.writeUInt32BE(0x60000000, 0); // version 6, traffic class 0, flow label 0
  p.writeUInt16BE(payloadLen, 4);
  p[6] = PROTO_UDP;
  p[7] = 64; // hop limit
  p.set(src, 8);
  p.set(dst, 24);
}

/** UDP checksum over the pseudo-header (RFC 768 / RFC 8200 §8.1), the UDP header and data. */
function udpChecksum(src: Uint8Array, dst: Uint8Array, udp: Buffer): number {
  let sum = sum16(src, 0);
  sum = sum16(dst, sum);
  sum += PROTO_UDP + udp.readUInt16BE(4);
  // The checksum field reads as zero while summing.
  sum = sum16(udp, sum);
  return finish(sum);
}

/** Adds big-endian 16-bit words (odd tail padded with zero) to a running sum. */
function sum16(bytes: Uint8Array, sum: number): number {
  const even = bytes.length & ~1;
  for (let i = 0; i < even; i += 2) {
    // A double holds the sum of 32768 words exactly; finish() folds the carries.
    sum += (bytes[i] << 8) | bytes[i + 1];
  }
  if (bytes.length & 1) sum += bytes[bytes.length - 1] << 8;
  return sum;
}

function finish(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

function port(ep: TraceEndpoint): number {
  return Number.isInteger(ep.port) && ep.port >= 0 && ep.port <= 0xffff ? ep.port : 0;
}

/**
 * Both ends in one family: IPv4-mapped IPv6 (::ffff:a.b.c.d, what a dual-stack
 * socket reports) becomes IPv4 when the other end is IPv4, otherwise an IPv4
 * end is mapped into IPv6. Unreadable addresses become the unspecified address.
 */
function sameFamily(a: Uint8Array | undefined, b: Uint8Array | undefined): { a: Uint8Array; b: Uint8Array } {
  const v4 = (x: Uint8Array | undefined): Uint8Array | undefined => (x?.length === 4 ? x : x && isMapped(x) ? x.subarray(12) : undefined);
  const a4 = v4(a);
  const b4 = v4(b);
  if ((a4 || !a) && (b4 || !b)) return { a: a4 ?? new Uint8Array(4), b: b4 ?? new Uint8Array(4) };
  const v6 = (x: Uint8Array | undefined): Uint8Array => {
    if (!x) return new Uint8Array(16);
    if (x.length === 16) return x;
    const m = new Uint8Array(16);
    m[10] = 0xff;
    m[11] = 0xff;
    m.set(x, 12);
    return m;
  };
  return { a: v6(a), b: v6(b) };
}

function isMapped(x: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (x[i] !== 0) return false;
  return x[10] === 0xff && x[11] === 0xff;
}

/** IPv4 as 4 bytes, IPv6 as 16 (brackets and a %zone are ignored); undefined when not an IP. */
export function parseIp(text: string): Uint8Array | undefined {
  let s = text.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (isIPv4(s)) return Uint8Array.from(s.split('.').map(Number));
  if (!isIPv6(s)) return undefined;
  // node:net has validated the syntax; expand "::" and a dotted IPv4 tail.
  const groups = (half: string): number[] => {
    if (!half) return [];
    const out: number[] = [];
    for (const g of half.split(':')) {
      if (g.includes('.')) {
        const [w, x, y, z] = g.split('.').map(Number);
        out.push((w << 8) | x, (y << 8) | z);
      } else out.push(parseInt(g, 16));
    }
    return out;
  };
  const dbl = s.indexOf('::');
  const head = groups(dbl >= 0 ? s.slice(0, dbl) : s);
  const tail = dbl >= 0 ? groups(s.slice(dbl + 2)) : [];
  const words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  words.forEach((w, i) => { bytes[2 * i] = w >> 8; bytes[2 * i + 1] = w & 0xff; });
  return bytes;
}
