/**
 * A glance at a SIP message for the trace: the start line and the three
 * headers a ladder needs (Call-ID, CSeq, Content-Type). The recorder runs on
 * every packet, so this walks header lines with Buffer.indexOf and only turns
 * the few lines it wants into strings; it never throws, and anything that does
 * not look like SIP yields undefined.
 */

/** How far into a message we look for the headers; Call-ID sits near the top in practice. */
export const PEEK_LIMIT = 16 * 1024;
/** Longer Call-IDs are treated as garbage rather than kept as map keys. */
export const MAX_CALL_ID = 512;

export interface SipPeek {
  callId: string;
  /** Request method; '' on responses. */
  method: string;
  /** Request-URI; '' on responses. */
  uri: string;
  /** Response status; 0 on requests. */
  status: number;
  reason: string;
  /** CSeq number and method, when the CSeq header is present and well formed. */
  cseq?: { seq: number; method: string };
  /** The body is an SDP offer or answer (shown as "SDP" on the ladder, as sngrep does). */
  sdp: boolean;
}

const STATUS_RE = /^SIP\/2\.0 ([1-6]\d\d)(?: (.*))?$/;
const REQUEST_RE = /^([A-Za-z0-9.!%*_+`'~-]+) (\S+) SIP\/2\.0$/i;
const CSEQ_RE = /^(\d{1,10})\s+([A-Za-z0-9.!%*_+`'~-]+)$/;
const CALL_ID_RE = /^[\x21-\x7e]+$/;

export function peekSip(data: Buffer, limit = PEEK_LIMIT): SipPeek | undefined {
  const end = Math.min(data.length, limit);
  let pos = 0;
  // RFC 3261 §7.5: CRLFs before the start line are ignored (and keep-alives are just CRLFs).
  while (pos < end && (data[pos] === 13 || data[pos] === 10)) pos++;
  const first = lineAt(data, pos, end);
  if (!first) return undefined;
  const startLine = data.toString('latin1', pos, first.textEnd);
  const peek: SipPeek = { callId: '', method: '', uri: '', status: 0, reason: '', sdp: false };
  const st = STATUS_RE.exec(startLine);
  if (st) {
    peek.status = Number(st[1]);
    // The reason phrase may be UTF-8 (RFC 3261 §25.1); it starts after "SIP/2.0 NNN ".
    peek.reason = st[2] === undefined ? '' : data.toString('utf8', pos + 12, first.textEnd);
  } else {
    const rq = REQUEST_RE.exec(startLine);
    if (!rq) return undefined;
    peek.method = rq[1];
    peek.uri = rq[2];
  }
  pos = first.next;
  // Each turn consumes at least one byte, so the walk ends within `end` turns.
  while (pos < end) {
    const line = lineAt(data, pos, end);
    if (!line || line.textEnd === pos) break; // the blank line: end of the header section
    const c = data[pos] | 0x20;
    if (c === 0x63 /* c */ || c === 0x69 /* i */) readHeader(data, pos, line.textEnd, peek);
    pos = line.next;
  }
  return peek.callId ? peek : undefined;
}

/** The line starting at `pos`: where its text ends (before CR LF) and where the next one starts. */
function lineAt(data: Buffer, pos: number, end: number): { textEnd: number; next: number } | undefined {
  let lf = data.indexOf(10, pos);
  if (lf < 0 || lf >= end) {
    // A datagram may end right after the last line; a cut-off line past `end` is unusable.
    if (end !== data.length || pos >= end) return undefined;
    lf = end;
  }
  const textEnd = lf > pos && data[lf - 1] === 13 ? lf - 1 : lf;
  return { textEnd, next: lf + 1 };
}

function readHeader(data: Buffer, pos: number, textEnd: number, peek: SipPeek): void {
  // Header names we care about are at most 12 bytes ("Content-Type"); look no further for the colon.
  const colon = data.indexOf(58, pos);
  if (colon < 0 || colon > textEnd || colon - pos > 16) return;
  const name = data.toString('latin1', pos, colon).trimEnd().toLowerCase();
  if (name === 'call-id' || name === 'i') {
    if (peek.callId) return;
    const value = data.toString('latin1', colon + 1, textEnd).trim();
    if (value.length <= MAX_CALL_ID && CALL_ID_RE.test(value)) peek.callId = value;
  } else if (name === 'cseq') {
    const m = CSEQ_RE.exec(data.toString('latin1', colon + 1, textEnd).trim());
    if (m) peek.cseq = { seq: Number(m[1]), method: m[2] };
  } else if (name === 'content-type' || name === 'c') {
    peek.sdp = /^\s*application\/sdp\b/i.test(data.toString('latin1', colon + 1, textEnd));
  }
}

