/**
 * Header names, compact forms and the small grammars (params, name-addr, Via,
 * CSeq) that routing needs. Everything here works on strings already cut out
 * of a message; nothing allocates unless asked for a value.
 */
import { excerpt, SipParseError } from './errors.js';

const COMPACT: Record<string, string> = {
  i: 'call-id', m: 'contact', e: 'content-encoding', l: 'content-length', c: 'content-type',
  f: 'from', s: 'subject', k: 'supported', t: 'to', v: 'via', o: 'event', r: 'refer-to',
  u: 'allow-events', b: 'referred-by', x: 'session-expires', y: 'identity', a: 'accept-contact',
  j: 'reject-contact', d: 'request-disposition',
};

/** Canonical spelling used when we create a header ourselves. */
const CANONICAL: Record<string, string> = {
  'call-id': 'Call-ID', cseq: 'CSeq', 'www-authenticate': 'WWW-Authenticate', via: 'Via',
  'max-forwards': 'Max-Forwards', 'record-route': 'Record-Route', 'content-length': 'Content-Length',
  'content-type': 'Content-Type', 'user-agent': 'User-Agent', 'min-expires': 'Min-Expires',
  'proxy-authenticate': 'Proxy-Authenticate', 'proxy-authorization': 'Proxy-Authorization',
  'proxy-require': 'Proxy-Require',
};

/** Lower-case full name for any spelling or compact form of a header name. */
export function headerKey(name: string): string {
  const lower = name.toLowerCase();
  if (lower.length === 1) return COMPACT[lower] ?? lower;
  return lower;
}

export function canonicalName(key: string): string {
  const known = CANONICAL[key];
  if (known) return known;
  return key.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

/** Headers whose value is a comma-separated list (RFC 3261 §7.3.1) and may be split. */
const LIST_HEADERS = new Set([
  'via', 'route', 'record-route', 'contact', 'allow', 'supported', 'require', 'proxy-require',
  'unsupported', 'accept', 'accept-encoding', 'accept-language', 'allow-events', 'path',
  'service-route', 'content-encoding', 'in-reply-to', 'alert-info', 'call-info', 'error-info',
  'warning',
]);

export function isListHeader(key: string): boolean {
  return LIST_HEADERS.has(key);
}

/**
 * Splits a list header value at top-level commas: commas inside quoted strings
 * or <...> are part of the element (a display name or URI may hold them).
 */
export function splitList(value: string): string[] {
  // Most values hold one element and no quotes: skip the character scan.
  if (value.indexOf(',') < 0 && value.indexOf('"') < 0) {
    const one = value.trim();
    return one ? [one] : [];
  }
  const out: string[] = [];
  let start = 0;
  let inQuote = false;
  let inAngle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (inQuote) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inQuote = false;
    } else if (c === 34) inQuote = true;
    else if (c === 60 /* < */) inAngle = true;
    else if (c === 62 /* > */) inAngle = false;
    else if (c === 44 /* , */ && !inAngle) {
      const part = value.slice(start, i).trim();
      if (part) out.push(part);
      start = i + 1;
    }
  }
  if (inQuote) throw new SipParseError(400, 'Unterminated quoted string');
  const last = value.slice(start).trim();
  if (last) out.push(last);
  return out;
}

export type Params = Map<string, string | null>;

function isWs(c: string | undefined): boolean {
  return c === ' ' || c === '\t';
}

/**
 * Parses `;a=b;c;d="q"` starting at `from` (at the first `;`, or whitespace
 * before it). Names are lower-cased (RFC 3261 compares parameter names
 * case-insensitively); quoted values are unquoted. LWS around `;` and `=` is
 * allowed (RFC 3261 SEMI and EQUAL); an empty parameter (`;;`, RFC 4475
 * badinv01), whitespace inside a value or anything but `;` between
 * parameters is a 400. One trailing `;` is tolerated: phones send it.
 */
export function parseParams(text: string, from = 0): Params {
  const params: Params = new Map();
  let i = from;
  const n = text.length;
  while (i < n) {
    while (i < n && isWs(text[i])) i++;
    if (i >= n) break;
    if (text[i] !== ';') throw new SipParseError(400, `Expected ";" before parameter in "${excerpt(text.slice(from))}"`);
    i++;
    while (i < n && isWs(text[i])) i++;
    if (i >= n) break;
    let j = i;
    while (j < n && text[j] !== '=' && text[j] !== ';' && !isWs(text[j])) j++;
    const name = text.slice(i, j).toLowerCase();
    if (!name) throw new SipParseError(400, `Empty parameter in "${excerpt(text.slice(from))}"`);
    while (j < n && isWs(text[j])) j++;
    if (j < n && text[j] === '=') {
      j++;
      while (j < n && isWs(text[j])) j++;
      if (text[j] === '"') {
        const { value, end } = readQuoted(text, j);
        params.set(name, value);
        i = end;
      } else {
        let k = j;
        while (k < n && text[k] !== ';' && !isWs(text[k])) k++;
        params.set(name, text.slice(j, k));
        i = k;
      }
    } else {
      params.set(name, null);
      i = j;
    }
  }
  return params;
}

/**
 * True when `v` would not be read back as the same single value if written
 * bare: blanks and ';' end it, '"' starts a quoted string, ',' and '?' end a
 * list element or a URI's parameters. Such a value must have arrived quoted.
 */
function needsQuotes(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    // Controls and SP, " , ; < > ? \ and DEL.
    if (c <= 0x20 || c === 0x22 || c === 0x2c || c === 0x3b || c === 0x3c || c === 0x3e || c === 0x3f || c === 0x5c || c === 0x7f) return true;
  }
  return false;
}

export function formatParams(params: Params): string {
  let s = '';
  for (const [k, v] of params) s += v === null ? `;${k}` : `;${k}=${needsQuotes(v) ? quote(v) : v}`;
  return s;
}

/** Reads a quoted string starting at the opening quote; handles backslash escapes. */
export function readQuoted(text: string, start: number): { value: string; end: number } {
  let out = '';
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') {
      if (i + 1 >= text.length) break;
      out += text[++i];
    } else if (c === '"') return { value: out, end: i + 1 };
    else out += c;
  }
  throw new SipParseError(400, 'Unterminated quoted string');
}

export function quote(s: string): string {
  return '"' + s.replace(/(["\\])/g, '\\$1') + '"';
}

/** From, To, Contact, Route, Record-Route: `"Name" <uri>;params` or `uri;params`. */
export interface NameAddr {
  displayName?: string;
  uri: string;
  params: Params;
  /** True when the URI was written inside <...>. */
  angle: boolean;
}

/** RFC 3261 token characters: alphanumerics and - . ! % * _ + ` ' ~ */
const TOKEN_TABLE = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~") TOKEN_TABLE[c.charCodeAt(0)] = 1;

/** True for a non-empty RFC 3261 token (method names, header names, params). */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  // A table lookup per char: this runs for every header name of every message.
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 127 || TOKEN_TABLE[c] === 0) return false;
  }
  return true;
}

/**
 * Parses one element of From, To, Contact, Route...: a name-addr
 * (`"Name" <uri>;params`, `Name <uri>`) or an addr-spec (`uri;params`, where
 * the parameters belong to the header, not to the URI). Rejects with 400 what
 * RFC 4475 calls malformed: an unquoted display name that is not tokens
 * (baddn), whitespace inside <...> (badaspec), unbalanced quotes or angle
 * brackets (quotbal), and an addr-spec holding `?`, which must be in <...>
 * (RFC 3261 §20, regbadct).
 */
export function parseNameAddr(value: string): NameAddr {
  const v = value.trim();
  if (v === '*') return { uri: '*', params: new Map(), angle: false };
  let displayName: string | undefined;
  let i = 0;
  if (v[0] === '"') {
    const q = readQuoted(v, 0);
    displayName = q.value;
    i = q.end;
    while (i < v.length && isWs(v[i])) i++;
    if (v[i] !== '<') throw new SipParseError(400, `Expected "<" after display name in "${excerpt(v)}"`);
  }
  const lt = v.indexOf('<', i);
  if (lt >= 0) {
    const gt = v.indexOf('>', lt);
    if (gt < 0) throw new SipParseError(400, `Missing ">" in "${excerpt(v)}"`);
    if (displayName === undefined) {
      const dn = v.slice(0, lt).trim();
      if (dn) {
        for (const word of dn.split(/[ \t]+/)) {
          if (!isToken(word)) throw new SipParseError(400, `Unquoted display name is not a token list in "${excerpt(v)}"`);
        }
        displayName = dn;
      }
    }
    const uri = v.slice(lt + 1, gt);
    if (!uri) throw new SipParseError(400, 'Empty URI in name-addr');
    if (/[\s<>"]/.test(uri)) throw new SipParseError(400, `Malformed URI in <...> "${excerpt(uri)}"`);
    return { displayName, uri, params: parseParams(v, gt + 1), angle: true };
  }
  if (displayName !== undefined) throw new SipParseError(400, 'Display name without <URI>');
  // addr-spec: parameters after the URI belong to the header, not the URI.
  const semi = v.indexOf(';');
  const uri = semi < 0 ? v : v.slice(0, semi).trimEnd();
  if (!uri || /[\s<>"?,]/.test(uri) || uri.indexOf(':') <= 0) {
    throw new SipParseError(400, `Malformed address "${excerpt(v)}"`);
  }
  return { uri, params: semi < 0 ? new Map() : parseParams(v, semi), angle: false };
}

export function formatNameAddr(na: NameAddr): string {
  const dn = na.displayName !== undefined ? quote(na.displayName) + ' ' : '';
  return `${dn}<${na.uri}>${formatParams(na.params)}`;
}

export interface Via {
  protocol: string;
  transport: string;
  host: string;
  port?: number;
  params: Params;
  branch?: string;
}

export function parseVia(value: string): Via {
  const m = /^\s*([A-Za-z0-9.!%*_+`'~-]+)\s*\/\s*([0-9.]+)\s*\/\s*([A-Za-z0-9-]+)\s+(\[[0-9A-Fa-f:.]+\]|[^\s:;]+)\s*(?::\s*(\d+))?\s*/.exec(value);
  if (!m) throw new SipParseError(400, `Malformed Via "${excerpt(value)}"`);
  const params = parseParams(value, m[0].length);
  const port = m[5] !== undefined ? Number(m[5]) : undefined;
  if (port !== undefined && (port < 1 || port > 65535)) throw new SipParseError(400, 'Via port out of range');
  return {
    protocol: `${m[1]}/${m[2]}`,
    transport: m[3].toUpperCase(),
    host: m[4],
    port,
    params,
    branch: params.get('branch') ?? undefined,
  };
}

export function formatVia(via: Via): string {
  const port = via.port !== undefined ? `:${via.port}` : '';
  return `${via.protocol}/${via.transport} ${via.host}${port}${formatParams(via.params)}`;
}

export interface CSeq {
  seq: number;
  method: string;
}

export function parseCSeq(value: string): CSeq {
  const m = /^\s*(\d{1,10})\s+([A-Za-z0-9.!%*_+`'~-]+)\s*$/.exec(value);
  if (!m) throw new SipParseError(400, `Malformed CSeq "${excerpt(value, 40)}"`);
  const seq = Number(m[1]);
  if (seq > 0x7fffffff) throw new SipParseError(400, 'CSeq number too large');
  return { seq, method: m[2] };
}
