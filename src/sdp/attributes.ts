/**
 * Reading meaning out of attributes: rtpmap, fmtp, ptime, direction,
 * rtcp-mux, rtcp and crypto. The value parsers return undefined on bad
 * syntax; parseSdp uses them to reject a description naming the line, and the
 * helpers skip bad entries in descriptions built by hand.
 */
import { parseCrypto, type CryptoAttribute } from './crypto.js';
import type { Attribute, Connection, Direction, MediaDescription, SessionDescription } from './model.js';
import { STATIC_PAYLOAD_TYPES, type RtpFormat } from './payload-types.js';

export interface RtpMap extends RtpFormat {
  pt: number;
}

/** A payload type of a media section with everything known about it. */
export interface RtpCodec extends RtpMap {
  fmtp?: string;
}

export interface RtcpAttribute {
  port: number;
  connection?: Connection;
}

const DIGITS = /^[0-9]{1,10}$/;
const TOKEN = /^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+$/;

export function parsePayloadType(text: string): number | undefined {
  if (!DIGITS.test(text)) return undefined;
  const n = Number(text);
  return n <= 127 ? n : undefined;
}

export function parsePort(text: string): number | undefined {
  if (!DIGITS.test(text)) return undefined;
  const n = Number(text);
  return n <= 65535 ? n : undefined;
}

/** `a=rtpmap:<pt> <name>/<clock rate>[/<channels>]`. */
export function parseRtpMap(value: string): RtpMap | undefined {
  const space = value.indexOf(' ');
  if (space < 0) return undefined;
  const pt = parsePayloadType(value.slice(0, space));
  const enc = value.slice(space + 1).trim().split('/');
  if (pt === undefined || enc.length < 2 || enc.length > 3) return undefined;
  const [name, rate, channels] = enc;
  if (!TOKEN.test(name) || !DIGITS.test(rate) || Number(rate) === 0) return undefined;
  if (channels !== undefined && (!DIGITS.test(channels) || Number(channels) === 0)) return undefined;
  return { pt, name, clockRate: Number(rate), channels: channels === undefined ? 1 : Number(channels) };
}

export function formatRtpMap(m: RtpMap): string {
  return `${m.pt} ${m.name}/${m.clockRate}${m.channels > 1 ? `/${m.channels}` : ''}`;
}

/** `a=fmtp:<format> <parameters>`: the format token and the parameters verbatim. */
export function parseFmtp(value: string): { format: string; params: string } | undefined {
  const space = value.indexOf(' ');
  const format = space < 0 ? value : value.slice(0, space);
  if (!TOKEN.test(format)) return undefined;
  return { format, params: space < 0 ? '' : value.slice(space + 1).trim() };
}

/** `a=ptime:` / `a=maxptime:` in milliseconds; fractions are allowed by RFC 8866 §6.4. */
export function parsePtime(value: string): number | undefined {
  if (!/^[0-9]{1,6}(?:\.[0-9]{1,6})?$/.test(value)) return undefined;
  const n = Number(value);
  return n > 0 ? n : undefined;
}

/** RFC 3605 `a=rtcp:<port> [<nettype> <addrtype> <address>]`. */
export function parseRtcp(value: string): RtcpAttribute | undefined {
  const parts = value.split(' ').filter((p) => p !== '');
  const port = parts.length > 0 ? parsePort(parts[0]) : undefined;
  if (port === undefined) return undefined;
  if (parts.length === 1) return { port };
  if (parts.length !== 4) return undefined;
  return { port, connection: { netType: parts[1], addrType: parts[2], address: parts[3] } };
}

export function attributeValue(attrs: readonly Attribute[], name: string): string | undefined {
  for (const a of attrs) if (a.name === name) return a.value ?? '';
  return undefined;
}

export function hasAttribute(attrs: readonly Attribute[], name: string): boolean {
  return attrs.some((a) => a.name === name);
}

/** The a=rtpmap entries of a section, plus the static types it lists without one. */
export function rtpMaps(media: MediaDescription): Map<number, RtpMap> {
  const maps = new Map<number, RtpMap>();
  for (const a of media.attributes) {
    if (a.name !== 'rtpmap' || a.value === undefined) continue;
    const m = parseRtpMap(a.value);
    if (m && !maps.has(m.pt)) maps.set(m.pt, m);
  }
  for (const fmt of media.formats) {
    const pt = parsePayloadType(fmt);
    if (pt === undefined || maps.has(pt)) continue;
    const known = STATIC_PAYLOAD_TYPES.get(pt);
    if (known) maps.set(pt, { pt, ...known });
  }
  return maps;
}

/** Parameters of `a=fmtp:<pt>` for one format, if any. */
export function fmtpOf(media: MediaDescription, format: string | number): string | undefined {
  const want = String(format);
  for (const a of media.attributes) {
    if (a.name !== 'fmtp' || a.value === undefined) continue;
    const f = parseFmtp(a.value);
    if (f && f.format === want) return f.params;
  }
  return undefined;
}

/**
 * The payload types of a section in the order of its m= line (the sender's
 * preference), each resolved through rtpmap or the static table. Dynamic
 * types without an rtpmap cannot be used and are left out.
 */
export function codecsOf(media: MediaDescription): RtpCodec[] {
  const maps = rtpMaps(media);
  const out: RtpCodec[] = [];
  for (const fmt of media.formats) {
    const pt = parsePayloadType(fmt);
    const m = pt === undefined ? undefined : maps.get(pt);
    if (!m) continue;
    const fmtp = fmtpOf(media, m.pt);
    out.push(fmtp === undefined ? { ...m } : { ...m, fmtp });
  }
  return out;
}

export function ptimeOf(media: MediaDescription): number | undefined {
  const v = attributeValue(media.attributes, 'ptime');
  return v === undefined ? undefined : parsePtime(v);
}

export function isDirection(name: string): name is Direction {
  return name === 'sendrecv' || name === 'sendonly' || name === 'recvonly' || name === 'inactive';
}

function directionIn(attrs: readonly Attribute[]): Direction | undefined {
  for (const a of attrs) if (a.value === undefined && isDirection(a.name)) return a.name;
  return undefined;
}

/** Media-level direction, else the session-level one, else sendrecv (RFC 8866 §6.7). */
export function directionOf(media: MediaDescription, session?: SessionDescription): Direction {
  return directionIn(media.attributes) ?? (session && directionIn(session.attributes)) ?? 'sendrecv';
}

export function rtcpMuxOf(media: MediaDescription): boolean {
  return hasAttribute(media.attributes, 'rtcp-mux');
}

export function rtcpOf(media: MediaDescription): RtcpAttribute | undefined {
  const v = attributeValue(media.attributes, 'rtcp');
  return v === undefined ? undefined : parseRtcp(v);
}

export function cryptosOf(media: MediaDescription): CryptoAttribute[] {
  const out: CryptoAttribute[] = [];
  for (const a of media.attributes) {
    if (a.name !== 'crypto' || a.value === undefined) continue;
    const c = parseCrypto(a.value);
    if (c) out.push(c);
  }
  return out;
}

/** Media-level c= wins over session-level c= (RFC 8866 §5.7). */
export function connectionOf(media: MediaDescription, session: SessionDescription): Connection | undefined {
  return media.connection ?? session.connection;
}

/** The address part of c= without a multicast /ttl or /count suffix. */
export function hostOf(c: Connection): string {
  const slash = c.address.indexOf('/');
  return slash < 0 ? c.address : c.address.slice(0, slash);
}
