/**
 * IP address text <-> bytes for STUN address attributes. Node has no public
 * API for the 16 raw bytes of an IPv6 address, and the mapped address a
 * phone writes into SDP must be the canonical text form (RFC 5952), so both
 * directions live here.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** A transport address as STUN reports it (the family follows from the text). */
export interface StunAddress {
  address: string;
  port: number;
}

/** Writes the 4 bytes of a dotted IPv4 address at `off`. The caller has validated it. */
export function writeIPv4(text: string, out: Uint8Array, off: number): void {
  let part = 0;
  let value = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      out[off + part++] = value;
      value = 0;
    } else {
      value = value * 10 + (c - 0x30);
    }
  }
}

/** Writes the 16 bytes of an IPv6 address (with `::`, an embedded IPv4 tail or a %zone) at `off`. */
export function writeIPv6(text: string, out: Uint8Array, off: number): void {
  const zone = text.indexOf('%');
  const addr = zone >= 0 ? text.slice(0, zone) : text;
  const groups: number[] = [];
  const tail: number[] = [];
  const gap = addr.indexOf('::');
  const parse = (s: string, into: number[]): void => {
    if (s === '') return;
    for (const g of s.split(':')) {
      if (g.includes('.')) {
        const v4 = new Uint8Array(4);
        writeIPv4(g, v4, 0);
        into.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        into.push(parseInt(g, 16));
      }
    }
  };
  if (gap >= 0) {
    parse(addr.slice(0, gap), groups);
    parse(addr.slice(gap + 2), tail);
  } else {
    parse(addr, groups);
  }
  const zeros = 8 - groups.length - tail.length;
  const all = [...groups, ...new Array<number>(zeros).fill(0), ...tail];
  for (let i = 0; i < 8; i++) {
    out[off + i * 2] = all[i] >> 8;
    out[off + i * 2 + 1] = all[i] & 0xff;
  }
}

/** Address family number used on the wire: 0x01 IPv4, 0x02 IPv6; throws for text that is neither. */
export function addressFamily(text: string): 1 | 2 {
  if (isIPv4(text)) return 1;
  if (isIPv6(text)) return 2;
  throw new TypeError(`not an IP address: ${JSON.stringify(text.slice(0, 60))}`);
}

export function formatIPv4(b: Uint8Array, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** RFC 5952 text: lowercase, no leading zeros, the longest run (>= 2) of zero groups as `::`. */
export function formatIPv6(b: Uint8Array, off: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[off + i * 2] << 8) | b[off + i * 2 + 1]);
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string => g.slice(from, to).map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}
