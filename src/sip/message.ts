/**
 * SIP requests and responses. Parsing is lazy: the start line and header
 * lines are cut once; a header's value is only parsed (Via, CSeq, From/To)
 * when something asks for it, and headers nobody touches are written back
 * exactly as they arrived.
 */
import { SipParseError } from './errors.js';
import {
  canonicalName, headerKey, isListHeader, parseCSeq, parseNameAddr, parseVia, splitList,
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
const TOKEN_RE = /^[A-Za-z0-9.!%*_+`'~-]+$/;

export class SipMessage {
  headers: Header[];
  body: Buffer;
  /** Request fields; empty on responses. */
  method = '';
  uri = '';
  /** Response fields; 0 on requests. */
  status = 0;
  reason = '';
  private cache: { via?: Via; cseq?: CSeq; from?: NameAddr; to?: NameAddr } = {};

  private constructor(headers: Header[], body: Buffer) {
    this.headers = headers;
    this.body = body;
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

  get kind(): 'request' | 'response' {
    return this.status === 0 ? 'request' : 'response';
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
    let head = this.startLine() + '\r\n';
    for (const h of this.headers) {
      if (h.key === 'content-length') continue;
      head += `${h.name}: ${h.value}\r\n`;
    }
    head += `Content-Length: ${this.body.length}\r\n\r\n`;
    if (this.body.length === 0) return Buffer.from(head, 'utf8');
    return Buffer.concat([Buffer.from(head, 'utf8'), this.body]);
  }

  toString(): string {
    return this.toBuffer().toString('utf8');
  }

  clone(): SipMessage {
    const m = new SipMessage(this.headers.map((h) => ({ ...h })), this.body);
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
  for (let i = from; i < buf.length - 1; i++) {
    if (buf[i] !== 10) continue;
    if (buf[i + 1] === 10) return { index: i - (i > 0 && buf[i - 1] === 13 ? 1 : 0), sepLen: i > 0 && buf[i - 1] === 13 ? 3 : 2 };
    if (buf[i + 1] === 13 && buf[i + 2] === 10) {
      const cr = i > 0 && buf[i - 1] === 13;
      return { index: cr ? i - 1 : i, sepLen: cr ? 4 : 3 };
    }
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

/** Parses one whole message. Throws SipParseError with the status a server should answer. */
export function parseMessage(buf: Buffer, opts: ParseOptions = {}): SipMessage {
  const datagram = opts.datagram ?? true;
  let offset = 0;
  // RFC 3261 §7.5: ignore CRLFs before the start line.
  while (offset < buf.length && (buf[offset] === 13 || buf[offset] === 10)) offset++;
  const end = findHeaderEnd(buf, offset);
  let headText: string;
  let bodyStart: number;
  if (end) {
    if (end.index - offset > MAX_HEADER_BYTES) throw new SipParseError(513, 'Message header section too large');
    headText = buf.toString('utf8', offset, end.index);
    bodyStart = end.index + end.sepLen;
  } else {
    // A datagram may end right after the last header line without the blank line.
    if (buf.length - offset > MAX_HEADER_BYTES) throw new SipParseError(513, 'Message header section too large');
    headText = buf.toString('utf8', offset).replace(/\r?\n$/, '');
    bodyStart = buf.length;
  }
  const lines = headText.split(/\r?\n/);
  const startLine = lines[0];
  if (!startLine) throw new SipParseError(400, 'Empty start line');
  const start = parseStartLine(startLine);
  const headers: Header[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line.length === 0) continue;
    const c = line.charCodeAt(0);
    if (c === 32 || c === 9) {
      // Folded continuation (RFC 3261 §7.3.1): joins the previous header with one space.
      const prev = headers[headers.length - 1];
      if (!prev) throw new SipParseError(400, 'Continuation line before any header');
      prev.value = `${prev.value} ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new SipParseError(400, `Malformed header line "${line.slice(0, 40)}"`);
    const name = line.slice(0, colon).trimEnd();
    if (!TOKEN_RE.test(name)) throw new SipParseError(400, `Malformed header name "${name.slice(0, 40)}"`);
    headers.push({ key: headerKey(name), name, value: line.slice(colon + 1).trim() });
  }
  let body = buf.subarray(bodyStart);
  const clHeader = headers.find((h) => h.key === 'content-length');
  if (clHeader) {
    if (!/^\d{1,9}$/.test(clHeader.value)) throw new SipParseError(400, `Bad Content-Length "${clHeader.value.slice(0, 20)}"`);
    const cl = Number(clHeader.value);
    if (cl > body.length) {
      throw new SipParseError(400, `Content-Length ${cl} exceeds the ${body.length} body bytes received`);
    }
    body = body.subarray(0, cl);
  } else if (!datagram) {
    body = Buffer.alloc(0);
  }
  return SipMessage.fromParts(start, headers, Buffer.from(body));
}

function parseStartLine(line: string): string[] {
  if (line.startsWith('SIP/')) {
    const m = /^SIP\/(\d+\.\d+) (\d{3}) ?(.*)$/.exec(line);
    if (!m) throw new SipParseError(400, `Malformed status line "${line.slice(0, 60)}"`);
    if (m[1] !== '2.0') throw new SipParseError(505, `Unsupported SIP version SIP/${m[1]}`);
    const status = Number(m[2]);
    if (status < 100 || status > 699) throw new SipParseError(400, `Status code ${status} out of range`);
    return ['response', m[2], m[3]];
  }
  const parts = line.split(' ');
  if (parts.length !== 3) throw new SipParseError(400, `Malformed request line "${line.slice(0, 60)}"`);
  const [method, uri, version] = parts;
  if (!TOKEN_RE.test(method)) throw new SipParseError(400, `Malformed method "${method.slice(0, 20)}"`);
  if (!/^SIP\/\d+\.\d+$/i.test(version)) throw new SipParseError(400, `Malformed SIP version "${version.slice(0, 20)}"`);
  if (version.toUpperCase() !== SIP_VERSION) throw new SipParseError(505, `Unsupported SIP version ${version.slice(0, 20)}`);
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(uri)) throw new SipParseError(400, `Malformed Request-URI "${uri.slice(0, 60)}"`);
  return ['request', method, uri];
}

/**
 * The checks RFC 3261 §8.2 and §16.3 ask of any request or response before it
 * is routed: mandatory headers present and well formed, CSeq method matching.
 * Throws SipParseError carrying the status to answer, so callers can reply directly.
 */
export function validateMessage(msg: SipMessage): void {
  for (const name of ['via', 'call-id', 'cseq', 'from', 'to']) {
    if (!msg.has(name)) throw new SipParseError(400, `Missing ${canonicalName(name)} header`);
  }
  void msg.via;
  void msg.from;
  void msg.to;
  if (!msg.callId) throw new SipParseError(400, 'Empty Call-ID header');
  const cseq = msg.cseq;
  if (msg.isRequest) {
    if (cseq.method !== msg.method) throw new SipParseError(400, `CSeq method ${cseq.method} does not match ${msg.method}`);
    const mf = msg.get('max-forwards');
    if (mf !== undefined && !/^\d{1,3}$/.test(mf)) throw new SipParseError(400, `Bad Max-Forwards "${mf.slice(0, 10)}"`);
  }
}
