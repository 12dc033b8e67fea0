/**
 * SIP requests and responses. Parsing is lazy: the start line and header
 * lines are cut once; a header's value is only parsed (Via, CSeq, From/To)
 * when something asks for it, and headers nobody touches are written back
 * exactly as they arrived.
 */
import { ownCopy } from '../util/strings.js';
import { excerpt, SipParseError } from './errors.js';
import {
  canonicalName, headerKey, isListHeader, isToken, parseCSeq, parseNameAddr, parseVia, splitList,
  type CSeq, type NameAddr, type Via,
} from './headers.js';

export interface Header {
  /** Lower-case full name (compact forms expanded): what lookups use. */
  key: string;
  /** Name as received or as we chose to write it. */
  name: string;
  value: string;
}

export const MAX_HEADER_BYTES = 64 * 1024;
const SIP_VERSION = 'SIP/2.0';
const EMPTY = Buffer.alloc(0);

export class SipMessage {
  body: Buffer;
  /** Request fields; empty on responses. */
  method = '';
  uri = '';
  /** Response fields; 0 on requests. */
  status = 0;
  reason = '';
  private cache: { via?: Via; cseq?: CSeq; from?: NameAddr; to?: NameAddr } = {};
  /** Undefined only on a frozen message nobody has asked about its headers yet. */
  private hdrs: Header[] | undefined;
  /**
   * Set on frozen messages: their text as one flat latin1 string (one byte a
   * character, in the V8 heap where the collector can compact it), either
   * the whole wire form or only the start line, To, Call-ID and CSeq.
   */
  private frozenText?: string;
  /** Whether frozenText is the whole message, so toBuffer() can resend it. */
  private frozenIsWire = false;

  private constructor(headers: Header[] | undefined, body: Buffer) {
    this.hdrs = headers;
    this.body = body;
  }

  get headers(): Header[] {
    return this.hdrs ?? this.thaw();
  }

  set headers(list: Header[]) {
    this.hdrs = list;
  }

  static request(method: string, uri: string, headers: [string, string][] = [], body: Buffer | string = ''): SipMessage {
    const m = new SipMessage(headers.map(([n, v]) => mkHeader(n, v)), toBuf(body));
    m.method = method;
    m.uri = uri;
    return m;
  }

  static response(status: number, reason: string, headers: [string, string][] = [], body: Buffer | string = ''): SipMessage {
    const m = new SipMessage(headers.map(([n, v]) => mkHeader(n, v)), toBuf(body));
    m.status = status;
    m.reason = reason;
    return m;
  }

  /** @internal used by the parser */
  static fromParts(start: string[], headers: Header[], body: Buffer): SipMessage {
    const m = new SipMessage(headers, body);
    if (start[0] === 'request') {
      m.method = start[1];
      m.uri = start[2];
    } else {
      m.status = Number(start[1]);
      m.reason = start[2];
    }
    return m;
  }

  get isRequest(): boolean {
    return this.status === 0;
  }

  /** The body's media type from Content-Type, lower case without parameters ('' when absent): `application/sdp`. */
  mediaType(): string {
    const v = this.get('content-type');
    return v === undefined ? '' : v.split(';', 1)[0].trim().toLowerCase();
  }

  /** First value of a header (first element for list headers). */
  get(name: string): string | undefined {
    const key = headerKey(name);
    for (const h of this.headers) {
      if (h.key === key) return isListHeader(key) ? splitList(h.value)[0] : h.value;
    }
    return undefined;
  }

  has(name: string): boolean {
    const key = headerKey(name);
    return this.headers.some((h) => h.key === key);
  }

  /** Every value, with list headers split at top-level commas, in order. */
  getAll(name: string): string[] {
    const key = headerKey(name);
    const out: string[] = [];
    const list = isListHeader(key);
    for (const h of this.headers) {
      if (h.key !== key) continue;
      if (list) out.push(...splitList(h.value));
      else out.push(h.value);
    }
    return out;
  }

  set(name: string, value: string): this {
    const key = headerKey(name);
    const idx = this.headers.findIndex((h) => h.key === key);
    const header = mkHeader(name, value);
    if (idx < 0) this.headers.push(header);
    else {
      this.headers[idx] = header;
      this.headers = this.headers.filter((h, i) => i <= idx || h.key !== key);
    }
    this.invalidate(key);
    return this;
  }

  add(name: string, value: string): this {
    this.headers.push(mkHeader(name, value));
    this.invalidate(headerKey(name));
    return this;
  }

  /** Inserts above every other header of that name (Via, Record-Route, Route). */
  prepend(name: string, value: string): this {
    const key = headerKey(name);
    const idx = this.headers.findIndex((h) => h.key === key);
    this.headers.splice(idx < 0 ? 0 : idx, 0, mkHeader(name, value));
    this.invalidate(key);
    return this;
  }

  remove(name: string): this {
    const key = headerKey(name);
    this.headers = this.headers.filter((h) => h.key !== key);
    this.invalidate(key);
    return this;
  }

  /** Removes the topmost element of a list header, even when several share one line. */
  removeFirst(name: string): string | undefined {
    const key = headerKey(name);
    const idx = this.headers.findIndex((h) => h.key === key);
    if (idx < 0) return undefined;
    const parts = splitList(this.headers[idx].value);
    const first = parts.shift();
    if (parts.length === 0) this.headers.splice(idx, 1);
    else this.headers[idx] = { ...this.headers[idx], value: parts.join(', ') };
    this.invalidate(key);
    return first;
  }

  private invalidate(key: string): void {
    if (key === 'via') this.cache.via = undefined;
    else if (key === 'cseq') this.cache.cseq = undefined;
    else if (key === 'from') this.cache.from = undefined;
    else if (key === 'to') this.cache.to = undefined;
  }

  get callId(): string {
    return this.get('call-id') ?? '';
  }

  /** The top Via, parsed once. Throws SipParseError when missing or malformed. */
  get via(): Via {
    if (!this.cache.via) {
      const v = this.get('via');
      if (v === undefined) throw new SipParseError(400, 'Missing Via header');
      this.cache.via = parseVia(v);
    }
    return this.cache.via;
  }

  get cseq(): CSeq {
    if (!this.cache.cseq) {
      const v = this.get('cseq');
      if (v === undefined) throw new SipParseError(400, 'Missing CSeq header');
      this.cache.cseq = parseCSeq(v);
    }
    return this.cache.cseq;
  }

  get from(): NameAddr {
    if (!this.cache.from) {
      const v = this.get('from');
      if (v === undefined) throw new SipParseError(400, 'Missing From header');
      this.cache.from = parseNameAddr(v);
    }
    return this.cache.from;
  }

  get to(): NameAddr {
    if (!this.cache.to) {
      const v = this.get('to');
      if (v === undefined) throw new SipParseError(400, 'Missing To header');
      this.cache.to = parseNameAddr(v);
    }
    return this.cache.to;
  }

  get fromTag(): string | undefined {
    return this.from.params.get('tag') ?? undefined;
  }

  get toTag(): string | undefined {
    return this.to.params.get('tag') ?? undefined;
  }

  startLine(): string {
    return this.isRequest ? `${this.method} ${this.uri} ${SIP_VERSION}` : `${SIP_VERSION} ${this.status} ${this.reason}`;
  }

  /** Serializes with Content-Length recomputed from the body. */
  toBuffer(): Buffer {
    if (this.frozenText !== undefined) {
      if (!this.frozenIsWire) throw new Error('a frozen stand-in without its wire form cannot be sent');
      return Buffer.from(this.frozenText, 'latin1');
    }
    let head = this.startLine() + '\r\n';
    for (const h of this.headers) {
      if (h.key === 'content-length') continue;
      head += `${h.name}: ${h.value}\r\n`;
    }
    head += `Content-Length: ${this.body.length}\r\n\r\n`;
    // One exact-size, unpooled buffer: it can be kept (call traces) without pinning an 8 KiB pool slab.
    const headLen = Buffer.byteLength(head, 'utf8');
    const out = Buffer.allocUnsafeSlow(headLen + this.body.length);
    out.write(head, 0, 'utf8');
    if (this.body.length) this.body.copy(out, headLen);
    return out;
  }

  toString(): string {
    return this.toBuffer().toString('utf8');
  }

  /**
   * A stand-in for a message a finished transaction must still hold.
   * Transactions wait up to 32 s after their final response, and a busy proxy
   * holds hundreds of thousands of them: the stand-in is one small object and
   * one flat string, and its headers are parsed again only if someone asks.
   * With `wire` it keeps the whole message so toBuffer() can resend it (a
   * final response, an ACK); without, only the start line, To (for the tag),
   * Call-ID and CSeq, and toBuffer() throws. Its body reads as empty. A frozen
   * message must not be changed.
   */
  freeze(wire = true): SipMessage {
    if (this.frozenText !== undefined && (this.frozenIsWire || !wire)) return this;
    let text: string;
    if (wire) {
      text = this.toBuffer().toString('latin1');
    } else {
      let head = this.startLine() + '\r\n';
      for (const h of this.headers) {
        if (h.key === 'to' || h.key === 'call-id' || h.key === 'cseq') head += `${h.name}: ${h.value}\r\n`;
      }
      // Through bytes and back: a fresh flat string that references nothing it was cut from.
      text = Buffer.from(head, 'utf8').toString('latin1');
    }
    const m = new SipMessage(undefined, EMPTY);
    m.method = this.method;
    m.status = this.status;
    m.frozenText = text;
    m.frozenIsWire = wire;
    // The start line is read often (method, status); Request-URI and reason only on demand.
    if (this.uri) m.uri = ownCopy(this.uri);
    if (this.reason) m.reason = ownCopy(this.reason);
    return m;
  }

  private thaw(): Header[] {
    const text = this.frozenText ?? '';
    // Kept once parsed: a frozen message that is asked once is usually asked again.
    this.hdrs = parseMessage(Buffer.from(text, 'latin1')).headers;
    return this.hdrs;
  }

  clone(): SipMessage {
    // Header entries are never changed in place (set/remove/prepend replace them), so a copy of the list is enough.
    const m = new SipMessage(this.headers.slice(), this.body);
    m.method = this.method;
    m.uri = this.uri;
    m.status = this.status;
    m.reason = this.reason;
    return m;
  }
}

function toBuf(b: Buffer | string): Buffer {
  return typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
}

function mkHeader(name: string, value: string): Header {
  const key = headerKey(name);
  return { key, name: name.length === 1 || name === key ? canonicalName(key) : name, value };
}

/** Index of the blank line that ends the header section, and its length (CRLFCRLF or LFLF). */
export function findHeaderEnd(buf: Buffer, from = 0): { index: number; sepLen: number } | undefined {
  // Jump from line end to line end with the native indexOf rather than byte by byte.
  let i = buf.indexOf(10, from);
  while (i >= 0 && i < buf.length - 1) {
    const next = buf[i + 1];
    if (next === 10) {
      const cr = i > from && buf[i - 1] === 13;
      return { index: cr ? i - 1 : i, sepLen: cr ? 3 : 2 };
    }
    if (next === 13 && buf[i + 2] === 10) {
      const cr = i > from && buf[i - 1] === 13;
      return { index: cr ? i - 1 : i, sepLen: cr ? 4 : 3 };
    }
    i = buf.indexOf(10, i + 1);
  }
  return undefined;
}

export interface ParseOptions {
  /**
   * Over a stream the caller has already framed the message by Content-Length.
   * Over UDP a body shorter than Content-Length is an error (RFC 3261 §18.3)
   * and a longer one is truncated.
   */
  datagram?: boolean;
}

/**
 * Lookup key for a header name as received, or undefined when the name is not
 * a token. The same few dozen spellings arrive in every message, so checked
 * names are remembered (bounded, so random names cannot grow it).
 */
const KEY_OF_NAME = new Map<string, string>();
const KEY_CACHE_MAX = 512;

function keyOf(name: string): string | undefined {
  const known = KEY_OF_NAME.get(name);
  if (known !== undefined) return known;
  if (!isToken(name)) return undefined;
  const key = headerKey(name);
  if (KEY_OF_NAME.size < KEY_CACHE_MAX) KEY_OF_NAME.set(name, key);
  return key;
}

function isWsCode(c: number): boolean {
  return c === 32 || c === 9;
}

/**
 * Parses one whole message. Throws SipParseError with the status a server should answer.
 * Only the start line is parsed and the header lines cut into name and value
 * here; values are parsed when asked for (SipMessage.via, .cseq, ...).
 */
export function parseMessage(buf: Buffer, opts: ParseOptions = {}): SipMessage {
  const datagram = opts.datagram ?? true;
  let offset = 0;
  // RFC 3261 §7.5: ignore CRLFs before the start line.
  while (offset < buf.length && (buf[offset] === 13 || buf[offset] === 10)) offset++;
  if (offset >= buf.length) throw new SipParseError(400, 'Empty message');
  const end = findHeaderEnd(buf, offset);
  let headEnd: number;
  let bodyStart: number;
  if (end) {
    headEnd = end.index;
    bodyStart = end.index + end.sepLen;
  } else {
    // A datagram may end right after the last header line without the blank line.
    headEnd = buf.length;
    while (headEnd > offset && (buf[headEnd - 1] === 10 || buf[headEnd - 1] === 13)) headEnd--;
    bodyStart = buf.length;
  }
  if (headEnd - offset > MAX_HEADER_BYTES) throw new SipParseError(513, 'Message header section too large');
  const text = buf.toString('utf8', offset, headEnd);
  const n = text.length;
  let nl = text.indexOf('\n');
  let lineEnd = nl < 0 ? n : nl;
  if (lineEnd > 0 && text.charCodeAt(lineEnd - 1) === 13) lineEnd--;
  const start = parseStartLine(text.slice(0, lineEnd));
  const headers: Header[] = [];
  let contentLength: string | undefined;
  let pos = nl < 0 ? n : nl + 1;
  while (pos < n) {
    nl = text.indexOf('\n', pos);
    const next = nl < 0 ? n : nl + 1;
    lineEnd = nl < 0 ? n : nl;
    if (lineEnd > pos && text.charCodeAt(lineEnd - 1) === 13) lineEnd--;
    if (lineEnd === pos) {
      pos = next;
      continue;
    }
    const c = text.charCodeAt(pos);
    if (isWsCode(c)) {
      // Folded continuation (RFC 3261 §7.3.1): joins the previous header with one space.
      const prev = headers[headers.length - 1];
      if (!prev) throw new SipParseError(400, 'Continuation line before any header');
      const more = text.slice(pos, lineEnd).trim();
      if (more) prev.value = prev.value ? `${prev.value} ${more}` : more;
      if (prev.key === 'content-length') contentLength = prev.value;
      pos = next;
      continue;
    }
    const colon = text.indexOf(':', pos);
    if (colon < 0 || colon >= lineEnd) {
      throw new SipParseError(400, `Malformed header line "${excerpt(text.slice(pos, lineEnd), 40)}"`);
    }
    let nameEnd = colon;
    while (nameEnd > pos && isWsCode(text.charCodeAt(nameEnd - 1))) nameEnd--;
    const name = text.slice(pos, nameEnd);
    const key = keyOf(name);
    if (key === undefined) throw new SipParseError(400, `Malformed header name "${excerpt(name, 40)}"`);
    let vs = colon + 1;
    while (vs < lineEnd && isWsCode(text.charCodeAt(vs))) vs++;
    let ve = lineEnd;
    while (ve > vs && isWsCode(text.charCodeAt(ve - 1))) ve--;
    const header: Header = { key, name, value: text.slice(vs, ve) };
    headers.push(header);
    if (key === 'content-length') {
      // Two different lengths leave the framing ambiguous (request smuggling).
      if (contentLength !== undefined && contentLength !== header.value) {
        throw new SipParseError(400, 'Conflicting Content-Length headers');
      }
      contentLength = header.value;
    }
    pos = next;
  }
  let body = buf.subarray(bodyStart);
  if (contentLength !== undefined) {
    if (!/^\d{1,9}$/.test(contentLength)) throw new SipParseError(400, `Bad Content-Length "${excerpt(contentLength, 20)}"`);
    const cl = Number(contentLength);
    if (cl > body.length) {
      throw new SipParseError(400, `Content-Length ${cl} exceeds the ${body.length} body bytes received`);
    }
    body = body.subarray(0, cl);
  } else if (!datagram) {
    body = EMPTY;
  }
  // Copy the body so a message kept by a transaction does not pin a large
  // stream read buffer it was cut from.
  return SipMessage.fromParts(start, headers, body.length === 0 ? EMPTY : Buffer.from(body));
}

const REQUEST_URI_RE = /^[A-Za-z][A-Za-z0-9+.-]*:[\x21-\x7e]+$/;
const STATUS_LINE_RE = /^SIP\/2\.0 ([1-6]\d\d)(?: (.*))?$/i;

function parseStartLine(line: string): string[] {
  if (line.length >= 4 && line.slice(0, 4).toUpperCase() === 'SIP/') {
    const sp = line.indexOf(' ');
    const version = sp < 0 ? line : line.slice(0, sp);
    if (!/^SIP\/\d+\.\d+$/i.test(version)) throw new SipParseError(400, `Malformed status line "${excerpt(line)}"`);
    if (version.toUpperCase() !== SIP_VERSION) throw new SipParseError(505, `Unsupported SIP version ${excerpt(version, 20)}`);
    // Exactly three digits then SP or the end: "SIP/2.0 4294967301 ..." is not a 429 (RFC 4475 bigcode).
    const m = STATUS_LINE_RE.exec(line);
    if (!m) throw new SipParseError(400, `Malformed status line "${excerpt(line)}"`);
    return ['response', m[1], m[2] ?? ''];
  }
  // Exactly one SP between the three elements and none after (RFC 3261 §7.1,
  // RFC 4475 lwsstart/trws/lwsruri): we reject rather than guess.
  const sp1 = line.indexOf(' ');
  const sp2 = sp1 < 0 ? -1 : line.indexOf(' ', sp1 + 1);
  if (sp1 <= 0 || sp2 < 0) throw new SipParseError(400, `Malformed request line "${excerpt(line)}"`);
  const method = line.slice(0, sp1);
  const uri = line.slice(sp1 + 1, sp2);
  const version = line.slice(sp2 + 1);
  if (!isToken(method)) throw new SipParseError(400, `Malformed method "${excerpt(method, 20)}"`);
  if (version !== SIP_VERSION) {
    if (!/^SIP\/\d+\.\d+$/i.test(version)) throw new SipParseError(400, `Malformed request line "${excerpt(line)}"`);
    if (version.toUpperCase() !== SIP_VERSION) throw new SipParseError(505, `Unsupported SIP version ${excerpt(version, 20)}`);
  }
  if (!REQUEST_URI_RE.test(uri)) throw new SipParseError(400, `Malformed Request-URI "${excerpt(uri)}"`);
  if (hasUriHeaders(uri)) throw new SipParseError(400, `Request-URI must not carry headers "${excerpt(uri)}"`);
  return ['request', method, uri];
}

/**
 * `?headers` are not allowed in a SIP Request-URI (RFC 3261 §19.1.5, RFC 4475
 * escruri). The user part may hold `?`, so only look after the `@`.
 */
function hasUriHeaders(uri: string): boolean {
  const c = uri.charCodeAt(3);
  const sipLike = (c === 58 || c === 115 || c === 83) && /^sips?:/i.test(uri);
  if (!sipLike) return false;
  const at = uri.indexOf('@');
  return uri.indexOf('?', at < 0 ? 0 : at) >= 0;
}

/** Headers that may appear once only (RFC 3261 §7.3, RFC 4475 multi01). */
const SINGLE = ['call-id', 'cseq', 'from', 'to', 'max-forwards'];

/**
 * The checks RFC 3261 §8.2 and §16.3 ask of any request or response before it
 * is routed: mandatory headers present, once, and well formed, CSeq method
 * matching, Max-Forwards in range, a real branch, well-formed REGISTER Contacts.
 * Throws SipParseError carrying the status to answer, so callers can reply directly.
 */
export function validateMessage(msg: SipMessage): void {
  let via = 0;
  let callId = 0;
  let cseqN = 0;
  let from = 0;
  let to = 0;
  let mf = 0;
  let contact = 0;
  for (const h of msg.headers) {
    switch (h.key) {
      case 'via': via++; break;
      case 'call-id': callId++; break;
      case 'cseq': cseqN++; break;
      case 'from': from++; break;
      case 'to': to++; break;
      case 'max-forwards': mf++; break;
      case 'contact': contact++; break;
    }
    // List headers are split when read (getAll), possibly deep inside the proxy; one
    // that cannot be split must be refused here with a 400, not throw there.
    if (isListHeader(h.key) && h.value.indexOf('"') >= 0) checkList(h);
  }
  const counts = [callId, cseqN, from, to, mf];
  if (!via) throw new SipParseError(400, 'Missing Via header');
  for (let i = 0; i < 4; i++) {
    if (counts[i] === 0) throw new SipParseError(400, `Missing ${canonicalName(SINGLE[i])} header`);
  }
  for (let i = 0; i < SINGLE.length; i++) {
    if (counts[i] > 1) throw new SipParseError(400, `More than one ${canonicalName(SINGLE[i])} header`);
  }
  const topVia = msg.via;
  void msg.from;
  void msg.to;
  if (!msg.callId) throw new SipParseError(400, 'Empty Call-ID header');
  const cseq = msg.cseq;
  if (!msg.isRequest) return;
  // RFC 4475 badbranch: the RFC 3261 cookie with no identifier after it cannot
  // tell transactions apart; answering 400 is allowed and safer than guessing.
  if (topVia.branch !== undefined && (topVia.branch === '' || topVia.branch === 'z9hG4bK')) {
    throw new SipParseError(400, 'Via branch has no transaction identifier');
  }
  if (cseq.method !== msg.method) {
    throw new SipParseError(400, `CSeq method ${excerpt(cseq.method, 20)} does not match ${excerpt(msg.method, 20)}`);
  }
  const mfv = mf ? msg.get('max-forwards') : undefined;
  // 1*DIGIT, so "0068" is 68 (RFC 4475 wsinv); above 255 is out of range (scalar02).
  if (mfv !== undefined && (!/^\d{1,10}$/.test(mfv) || Number(mfv) > 255)) {
    throw new SipParseError(400, `Bad Max-Forwards "${excerpt(mfv, 10)}"`);
  }
  // The registrar stores Contacts as they are: refuse a malformed one up front
  // (RFC 4475 regbadct). Other requests' Contacts are read lazily by whoever
  // needs them (a proxy never does).
  if (contact && msg.method === 'REGISTER') for (const c of msg.getAll('contact')) parseNameAddr(c);
}

function checkList(h: Header): void {
  try {
    splitList(h.value);
  } catch (err) {
    if (err instanceof SipParseError) throw new SipParseError(400, `${err.message} in ${h.name} header`);
    throw err;
  }
}

