/**
 * RFC 8866 parser. Liberal where real phones differ harmlessly (bare LF,
 * blank lines, extra spaces, lines out of the RFC's order, a missing t=
 * taken as t=0 0),
 * strict where a wrong guess would put audio in the wrong place (ports,
 * payload types, addresses, the attributes we act on). Every rejection is an
 * SdpError naming the line, because it ends up in a 488's Warning header.
 */
import {
  parseFmtp,
  parsePayloadType,
  parsePort,
  parsePtime,
  parseRtcp,
  parseRtpMap,
} from './attributes.js';
import { parseCrypto } from './crypto.js';
import { SdpError, quote } from './errors.js';
import type { Attribute, Bandwidth, Connection, MediaDescription, Origin, SessionDescription, Timing } from './model.js';

const DIGITS = /^[0-9]{1,20}$/;
const TOKEN = /^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+$/;

/** Bigger than any SIP message we accept; bounds the work a hostile body can cause. */
const MAX_SDP_LENGTH = 65536;

interface Line {
  n: number;
  type: string;
  value: string;
}

export function parseSdp(text: string): SessionDescription {
  if (text.length > MAX_SDP_LENGTH) throw new SdpError(`session description longer than ${MAX_SDP_LENGTH} characters`);
  const lines = splitLines(text);
  if (lines.length === 0) throw new SdpError('empty session description', 1);
  const first = lines[0];
  if (first.type !== 'v') throw new SdpError(`expected "v=0" first, got ${quote(first.type + '=' + first.value)}`, first.n);
  if (first.value !== '0') throw new SdpError(`unsupported SDP version ${quote(first.value)}`, first.n);

  let origin: Origin | undefined;
  let sessionName: string | undefined;
  const sd: Omit<SessionDescription, 'origin' | 'sessionName'> = {
    version: 0,
    emails: [],
    phones: [],
    bandwidths: [],
    timing: [],
    attributes: [],
    extra: [],
    media: [],
  };
  let media: MediaDescription | undefined;
  const mediaLines: number[] = [];

  for (let i = 1; i < lines.length; i++) {
    const { n, type, value } = lines[i];
    if (type === 'm') {
      media = parseMediaLine(value, n);
      sd.media.push(media);
      mediaLines.push(n);
      continue;
    }
    if (media) {
      parseMediaField(media, lines[i]);
      continue;
    }
    switch (type) {
      case 'v':
        throw new SdpError('second v= line', n);
      case 'o':
        if (origin) throw new SdpError('second o= line', n);
        origin = parseOrigin(value, n);
        break;
      case 's':
        if (sessionName !== undefined) throw new SdpError('second s= line', n);
        sessionName = value;
        break;
      case 'i':
      case 'u':
      case 'z':
      case 'k': {
        const field = ({ i: 'information', u: 'uri', z: 'timeZones', k: 'key' } as const)[type];
        if (sd[field] === undefined) sd[field] = value;
        else sd.extra.push({ type, value });
        break;
      }
      case 'e':
        sd.emails.push(value);
        break;
      case 'p':
        sd.phones.push(value);
        break;
      case 'c':
        if (sd.connection) sd.extra.push({ type, value });
        else sd.connection = parseConnection(value, n);
        break;
      case 'b':
        sd.bandwidths.push(parseBandwidth(value, n));
        break;
      case 't':
        sd.timing.push(parseTiming(value, n));
        break;
      case 'r': {
        const last = sd.timing[sd.timing.length - 1];
        if (!last) throw new SdpError('r= line without a preceding t= line', n);
        last.repeats.push(value);
        break;
      }
      case 'a':
        sd.attributes.push(parseAttribute(value, n));
        break;
      default:
        sd.extra.push({ type, value });
    }
  }
  const lastLine = lines[lines.length - 1].n;
  if (!origin) throw new SdpError('missing o= line', lastLine);
  if (sessionName === undefined) throw new SdpError('missing s= line', lastLine);

  sd.media.forEach((m, i) => {
    // RFC 8866 §5.7: every stream needs an address. A rejected stream
    // (port 0) is exempt because nobody will send to it.
    if (m.port !== 0 && !m.connection && !sd.connection) {
      throw new SdpError(`m=${m.type} has no c= line and there is no session-level c= line`, mediaLines[i]);
    }
  });
  // t= is mandatory, but some gateways leave it out; "0 0" (unbounded) is
  // the only value a phone call ever uses.
  if (sd.timing.length === 0) sd.timing.push({ start: 0, stop: 0, repeats: [] });
  return { ...sd, version: 0, origin, sessionName };
}

function splitLines(text: string): Line[] {
  const out: Line[] = [];
  const raw = text.split('\n');
  for (let i = 0; i < raw.length; i++) {
    let line = raw[i];
    if (line.endsWith('\r')) line = line.slice(0, -1);
    // Trailing blanks are a common sloppiness that changes no meaning.
    line = line.replace(/[ \t]+$/, '');
    if (line === '') continue;
    const n = i + 1;
    const c = line.charCodeAt(0);
    if (line.length < 2 || line[1] !== '=' || c < 0x61 || c > 0x7a) {
      throw new SdpError(`expected "<letter>=<value>", got ${quote(line)}`, n);
    }
    // RFC 8866 §9 byte-string excludes NUL and CR; a stray CR would also
    // turn into a line break when written back.
    if (/[\0\r]/.test(line)) throw new SdpError(`NUL or stray CR in ${quote(line)}`, n);
    out.push({ n, type: line[0], value: line.slice(2) });
  }
  return out;
}

function fields(value: string): string[] {
  return value.split(' ').filter((f) => f !== '');
}

function parseOrigin(value: string, n: number): Origin {
  const f = fields(value);
  if (f.length !== 6) throw new SdpError(`o= needs 6 fields, got ${f.length}`, n);
  const [username, sessId, sessVersion, netType, addrType, address] = f;
  if (!DIGITS.test(sessId)) throw new SdpError(`o= session id ${quote(sessId)} is not a number`, n);
  if (!DIGITS.test(sessVersion)) throw new SdpError(`o= session version ${quote(sessVersion)} is not a number`, n);
  return { username, sessId, sessVersion, netType, addrType, address };
}

function parseConnection(value: string, n: number): Connection {
  const f = fields(value);
  if (f.length !== 3) throw new SdpError(`c= needs 3 fields, got ${quote(value)}`, n);
  const [netType, addrType, address] = f;
  // RFC 8866 allows a domain name where an address would go, so only the
  // character set is checked; resolving is up to whoever sends media.
  if (!/^[A-Za-z0-9.:_%-]+(?:\/[0-9]{1,5}){0,2}$/.test(address)) {
    throw new SdpError(`bad c= address ${quote(address)}`, n);
  }
  return { netType, addrType, address };
}

function parseBandwidth(value: string, n: number): Bandwidth {
  const colon = value.indexOf(':');
  const type = value.slice(0, colon);
  const bw = value.slice(colon + 1);
  if (colon <= 0 || !TOKEN.test(type) || !/^[0-9]{1,10}$/.test(bw)) {
    throw new SdpError(`b= must be <type>:<number>, got ${quote(value)}`, n);
  }
  return { type, value: Number(bw) };
}

function parseTiming(value: string, n: number): Timing {
  const f = fields(value);
  if (f.length !== 2 || !DIGITS.test(f[0]) || !DIGITS.test(f[1])) {
    throw new SdpError(`t= must be "<start> <stop>", got ${quote(value)}`, n);
  }
  const start = Number(f[0]);
  const stop = Number(f[1]);
  // NTP seconds need 10 digits; past 2^53 a number would be kept (and written back) as another one.
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(stop)) throw new SdpError(`t= time too large in ${quote(value)}`, n);
  return { start, stop, repeats: [] };
}

function parseMediaLine(value: string, n: number): MediaDescription {
  const f = fields(value);
  if (f.length < 4) throw new SdpError(`m= needs "<media> <port> <proto> <format>...", got ${quote(value)}`, n);
  const [type, portText, proto, ...formats] = f;
  if (!TOKEN.test(type)) throw new SdpError(`bad media type ${quote(type)} in m= line`, n);
  const slash = portText.indexOf('/');
  const port = parsePort(slash < 0 ? portText : portText.slice(0, slash));
  if (port === undefined) throw new SdpError(`bad port ${quote(portText)} in m= line`, n);
  const m: MediaDescription = { type, port, proto, formats, bandwidths: [], attributes: [], extra: [] };
  if (slash >= 0) {
    const count = portText.slice(slash + 1);
    if (!/^[0-9]{1,5}$/.test(count) || Number(count) === 0) throw new SdpError(`bad port count ${quote(portText)} in m= line`, n);
    m.numPorts = Number(count);
  }
  if (!/^[A-Za-z0-9/_.-]+$/.test(proto)) throw new SdpError(`bad transport protocol ${quote(proto)} in m= line`, n);
  if (proto.toUpperCase().includes('RTP/')) {
    // There are 128 payload types; a longer list repeats some, and answering it costs
    // work in proportion (20,000 formats fit in 64 KiB).
    if (formats.length > 128) throw new SdpError(`m= line lists ${formats.length} payload types; RTP has 128`, n);
    for (const fmt of formats) {
      if (parsePayloadType(fmt) === undefined) throw new SdpError(`bad RTP payload type ${quote(fmt)} in m= line`, n);
    }
  }
  return m;
}

function parseMediaField(m: MediaDescription, { n, type, value }: Line): void {
  switch (type) {
    case 'i':
    case 'k': {
      const field = type === 'i' ? 'information' : 'key';
      if (m[field] === undefined) m[field] = value;
      else m.extra.push({ type, value });
      return;
    }
    case 'c':
      if (m.connection) m.extra.push({ type, value });
      else m.connection = parseConnection(value, n);
      return;
    case 'b':
      m.bandwidths.push(parseBandwidth(value, n));
      return;
    case 'a': {
      const a = parseAttribute(value, n);
      checkMediaAttribute(m, a, n);
      m.attributes.push(a);
      return;
    }
    case 'v':
    case 'o':
    case 's':
    case 't':
      throw new SdpError(`${type}= line inside a media section`, n);
    default:
      m.extra.push({ type, value });
  }
}

function parseAttribute(value: string, n: number): Attribute {
  const colon = value.indexOf(':');
  const name = colon < 0 ? value : value.slice(0, colon);
  if (!TOKEN.test(name)) throw new SdpError(`bad attribute name ${quote(name)}`, n);
  return colon < 0 ? { name } : { name, value: value.slice(colon + 1) };
}

/** The attributes negotiation acts on must parse, or we would act on a guess. */
function checkMediaAttribute(m: MediaDescription, a: Attribute, n: number): void {
  const v = a.value;
  let ok = true;
  switch (a.name) {
    case 'rtpmap':
      ok = v !== undefined && parseRtpMap(v) !== undefined;
      break;
    case 'fmtp':
      ok = v !== undefined && parseFmtp(v) !== undefined;
      break;
    case 'ptime':
    case 'maxptime':
      ok = v !== undefined && parsePtime(v) !== undefined;
      break;
    case 'rtcp':
      ok = v !== undefined && parseRtcp(v) !== undefined;
      break;
    case 'crypto':
      ok = v !== undefined && parseCrypto(v) !== undefined;
      break;
    default:
      return;
  }
  if (!ok) throw new SdpError(`bad a=${a.name} value ${quote(v ?? '')} in m=${m.type} section`, n);
}
