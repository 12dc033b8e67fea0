/**
 * Cuts a TCP/TLS byte stream into whole SIP messages (RFC 3261 §18.3: over a
 * stream, Content-Length is mandatory and is the only way to find where a
 * body ends). Also recognises the RFC 5626 §3.5.1 keep-alive "ping" (a double
 * CRLF between messages) so the connection can answer the single-CRLF "pong".
 *
 * Bytes are only looked at with Buffer.indexOf and byte comparisons; bodies are
 * never turned into strings. When a chunk holds whole messages they are handed
 * out as views of that chunk (no copy); only a message that spans chunks is
 * assembled in an internal buffer and copied out once.
 */
import { MAX_HEADER_BYTES } from '../message.js';

/** Largest body accepted on a stream; a bigger Content-Length is a framing error (513). */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface FramerSink {
  /** One whole message: start line, headers, blank line and exactly Content-Length body bytes. */
  message(data: Buffer): void;
  /** A keep-alive ping (CRLFCRLF) arrived while no message was in progress. */
  ping(): void;
  /**
   * The stream cannot be framed any further. `head` is a copy of the start of
   * the offending message (whole lines only) so the caller can try to answer
   * with `status`. The framer ignores everything after this; close the connection.
   */
  error(status: number, reason: string, head: Buffer): void;
}

const CR = 13;
const LF = 10;
const SP = 32;
const HT = 9;
const COLON = 58;
/** "content-length" in lower case, for a case-insensitive byte compare. */
const CONTENT_LENGTH = Buffer.from('content-length', 'latin1');

export class StreamFramer {
  /** Bytes of an unfinished message (or unfinished CRLFs) carried over between chunks. */
  private store: Buffer = Buffer.alloc(0);
  private stored = 0;
  /** Where to resume looking for the blank line, relative to the pending message start. */
  private scanFrom = 0;
  /** Total length of the pending message once its header section was read; -1 before. */
  private frameLen = -1;
  private dead = false;

  constructor(private readonly sink: FramerSink) {}

  /** True once a framing error was reported: the connection should be closed. */
  get failed(): boolean {
    return this.dead;
  }

  /** Bytes held waiting for the rest of a message. */
  get pending(): number {
    return this.stored;
  }

  push(chunk: Buffer): void {
    if (this.dead || chunk.length === 0) return;
    let data: Buffer;
    let owned: boolean;
    if (this.stored === 0) {
      // Common case: nothing carried over, frame straight from the chunk.
      data = chunk;
      owned = false;
    } else {
      this.reserve(this.stored + chunk.length);
      chunk.copy(this.store, this.stored);
      this.stored += chunk.length;
      data = this.store.subarray(0, this.stored);
      owned = true;
    }
    const used = this.consume(data, owned);
    if (this.dead) {
      this.stored = 0;
      this.store = Buffer.alloc(0);
      return;
    }
    const rest = data.length - used;
    if (rest === 0) {
      this.stored = 0;
      // Do not keep a large buffer alive after one big message went through.
      if (this.store.length > 64 * 1024) this.store = Buffer.alloc(0);
    } else if (owned) {
      if (used > 0) this.store.copyWithin(0, used, data.length);
      this.stored = rest;
    } else {
      this.reserve(rest);
      chunk.copy(this.store, 0, used);
      this.stored = rest;
    }
  }

  private reserve(size: number): void {
    if (this.store.length >= size) return;
    const grown = Buffer.allocUnsafe(Math.max(size, this.store.length * 2, 4096));
    this.store.copy(grown, 0, 0, this.stored);
    this.store = grown;
  }

  /** Emits every whole message in `data`; returns how many bytes were used. */
  private consume(data: Buffer, owned: boolean): number {
    let pos = 0;
    // Every pass either advances `pos` or breaks, so this ends within data.length passes.
    while (pos < data.length && !this.dead) {
      if (this.frameLen < 0) {
        const b = data[pos];
        if (b === CR || b === LF) {
          // Between messages: a ping, or stray CRLFs that RFC 3261 §7.5 says to skip.
          const avail = data.length - pos;
          if (avail >= 4 && b === CR && data[pos + 1] === LF && data[pos + 2] === CR && data[pos + 3] === LF) {
            pos += 4;
            this.sink.ping();
            continue;
          }
          if (avail < 4 && isCrlfCrlfPrefix(data, pos)) break; // could still become a ping
          pos += 1;
          continue;
        }
        const end = findBlankLine(data, pos + this.scanFrom);
        if (!end) {
          const have = data.length - pos;
          if (have > MAX_HEADER_BYTES) {
            this.fail(513, `Message header section exceeds ${MAX_HEADER_BYTES} bytes`, data, pos, pos + MAX_HEADER_BYTES);
            break;
          }
          // Re-check the last 3 bytes next time: the blank line may straddle chunks.
          this.scanFrom = Math.max(0, have - 3);
          break;
        }
        const bodyStart = end.index + end.sepLen;
        if (end.index - pos > MAX_HEADER_BYTES) {
          this.fail(513, `Message header section exceeds ${MAX_HEADER_BYTES} bytes`, data, pos, pos + MAX_HEADER_BYTES);
          break;
        }
        const cl = readContentLength(data, pos, end.index);
        if (typeof cl === 'string') {
          this.fail(400, cl, data, pos, bodyStart);
          break;
        }
        if (cl > MAX_BODY_BYTES) {
          this.fail(513, `Content-Length ${cl} exceeds the ${MAX_BODY_BYTES}-byte limit`, data, pos, bodyStart);
          break;
        }
        this.frameLen = bodyStart - pos + cl;
        this.scanFrom = 0;
      }
      if (data.length - pos < this.frameLen) break;
      const msg = data.subarray(pos, pos + this.frameLen);
      pos += this.frameLen;
      this.frameLen = -1;
      // A view into our own reusable buffer would be overwritten by the next chunk.
      this.sink.message(owned ? Buffer.from(msg) : msg);
    }
    return pos;
  }

  private fail(status: number, reason: string, data: Buffer, start: number, limit: number): void {
    this.dead = true;
    const stop = Math.min(limit, data.length);
    // Hand out whole lines only so a lenient parser can still read Via, Call-ID, CSeq.
    const lastLf = data.lastIndexOf(LF, stop - 1);
    const cut = lastLf >= start ? lastLf + 1 : stop;
    this.sink.error(status, reason, Buffer.from(data.subarray(start, cut)));
  }
}

function isCrlfCrlfPrefix(data: Buffer, pos: number): boolean {
  for (let i = 0; pos + i < data.length; i++) {
    if (data[pos + i] !== (i % 2 === 0 ? CR : LF)) return false;
  }
  return true;
}

/** The blank line ending the header section: CRLFCRLF, or the bare-LF forms a lenient peer may send. */
function findBlankLine(buf: Buffer, from: number): { index: number; sepLen: number } | undefined {
  let i = buf.indexOf(LF, from);
  while (i !== -1) {
    const next = buf[i + 1];
    const cr = i > 0 && buf[i - 1] === CR;
    if (next === LF) return { index: cr ? i - 1 : i, sepLen: cr ? 3 : 2 };
    if (next === CR && buf[i + 2] === LF) return { index: cr ? i - 1 : i, sepLen: cr ? 4 : 3 };
    i = buf.indexOf(LF, i + 1);
  }
  return undefined;
}

/**
 * Content-Length of the header section in buf[start, end), or an error text.
 * No header at all means an empty body (a stream peer that leaves it out is
 * non-compliant, but guessing anything else would desynchronise the stream).
 */
function readContentLength(buf: Buffer, start: number, end: number): number | string {
  let found = -1;
  // The start line is skipped: begin at the first header line.
  let line = buf.indexOf(LF, start) + 1;
  while (line > 0 && line < end) {
    let lineEnd = buf.indexOf(LF, line);
    if (lineEnd < 0 || lineEnd > end) lineEnd = end;
    const value = contentLengthValueStart(buf, line, lineEnd);
    if (value >= 0) {
      const n = parseDigits(buf, value, lineEnd);
      if (n < 0) {
        return `Bad Content-Length "${buf.toString('latin1', value, Math.min(lineEnd, value + 20)).trim()}"`;
      }
      if (found >= 0 && found !== n) return 'Conflicting Content-Length headers';
      found = n;
    }
    line = lineEnd + 1;
  }
  return found < 0 ? 0 : found;
}

/** If buf[line, lineEnd) is a Content-Length (or compact "l") header, where its value starts; else -1. */
function contentLengthValueStart(buf: Buffer, line: number, lineEnd: number): number {
  const first = buf[line] | 0x20;
  let i: number;
  if (first === 0x6c /* l */) {
    i = line + 1;
  } else if (first === 0x63 /* c */ && lineEnd - line > CONTENT_LENGTH.length) {
    for (let k = 1; k < CONTENT_LENGTH.length; k++) {
      const want = CONTENT_LENGTH[k];
      const got = buf[line + k];
      // Only letters are folded to lower case; the '-' must match exactly.
      if ((want === 0x2d ? got : got | 0x20) !== want) return -1;
    }
    i = line + CONTENT_LENGTH.length;
  } else {
    return -1;
  }
  while (i < lineEnd && (buf[i] === SP || buf[i] === HT)) i++;
  if (buf[i] !== COLON || i >= lineEnd) return -1;
  return i + 1;
}

/** Decimal value of buf[from, to) ignoring surrounding blanks and a trailing CR; -1 when not a number. */
function parseDigits(buf: Buffer, from: number, to: number): number {
  let i = from;
  while (i < to && (buf[i] === SP || buf[i] === HT)) i++;
  let n = 0;
  let digits = 0;
  while (i < to && buf[i] >= 0x30 && buf[i] <= 0x39) {
    // Saturate instead of overflowing; anything this big is rejected as too large anyway.
    if (n <= MAX_BODY_BYTES * 10) n = n * 10 + (buf[i] - 0x30);
    digits++;
    i++;
  }
  while (i < to && (buf[i] === SP || buf[i] === HT || buf[i] === CR)) i++;
  if (digits === 0 || i !== to) return -1;
  return n;
}
