/**
 * `switchboard sip check`: is one raw message, as pasted from a capture,
 * something our stack would accept? Answers with the parsed message as JSON,
 * or with the status a server would reply and why.
 */
import { SipParseError } from './errors.js';
import { parseMessage, validateMessage, type SipMessage } from './message.js';
import { parseUri } from './uri.js';

export interface CheckedHeader {
  name: string;
  value: string;
}

export type CheckJson =
  | {
      valid: true;
      kind: 'request';
      method: string;
      uri: string;
      headers: CheckedHeader[];
      bodyLength: number;
    }
  | {
      valid: true;
      kind: 'response';
      status: number;
      reason: string;
      headers: CheckedHeader[];
      bodyLength: number;
    }
  | { valid: false; status: number; reason: string };

export interface CheckResult {
  exitCode: 0 | 1;
  json: CheckJson;
}

export function checkMessage(input: Buffer | string): CheckResult {
  const raw = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  if (raw.length === 0 || isBlank(raw)) return invalid(400, 'Empty input: no SIP message');
  const { data, bareLf } = normaliseHead(raw);
  let msg: SipMessage;
  try {
    msg = parseChecked(data);
  } catch (err) {
    // A capture pasted with bare LF usually lost the CRs of the body too, so
    // Content-Length counts bytes that are no longer there: retry with CRLF restored.
    if (!bareLf || !(err instanceof SipParseError) || !/exceeds/.test(err.message)) return fromError(err);
    try {
      msg = parseChecked(normaliseBody(data));
    } catch {
      return fromError(err);
    }
  }
  const headers = msg.headers.map((h) => ({ name: h.name, value: h.value }));
  if (msg.isRequest) {
    return {
      exitCode: 0,
      json: { valid: true, kind: 'request', method: msg.method, uri: msg.uri, headers, bodyLength: msg.body.length },
    };
  }
  return {
    exitCode: 0,
    json: { valid: true, kind: 'response', status: msg.status, reason: msg.reason, headers, bodyLength: msg.body.length },
  };
}

function parseChecked(data: Buffer): SipMessage {
  const msg = parseMessage(data, { datagram: true });
  validateMessage(msg);
  // A UAS answers an unknown scheme with 416 (RFC 3261 §8.2.2.1); parseUri
  // throws exactly that for anything but sip, sips and tel.
  if (msg.isRequest) parseUri(msg.uri);
  return msg;
}

function fromError(err: unknown): CheckResult {
  if (err instanceof SipParseError) return invalid(err.status, err.message);
  // Anything else is a parser bug; still say "invalid" rather than crash the CLI.
  return invalid(400, `Unparseable message: ${(err as Error).message ?? String(err)}`);
}

function invalid(status: number, reason: string): CheckResult {
  return { exitCode: 1, json: { valid: false, status, reason } };
}

function isBlank(buf: Buffer): boolean {
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (c !== 32 && c !== 9 && c !== 13 && c !== 10) return false;
  }
  return true;
}

/**
 * Rewrites bare LF line ends of the header part (up to and including the
 * blank line) as CRLF, leaving the body bytes alone.
 */
function normaliseHead(buf: Buffer): { data: Buffer; bareLf: boolean } {
  let start = 0;
  // Leading blank lines are skipped by the parser anyway; drop them so the
  // header scan below starts on the start line.
  while (start < buf.length && (buf[start] === 13 || buf[start] === 10)) start++;
  let headEnd = buf.length;
  let bareLf = false;
  for (let i = start; i < buf.length; i++) {
    if (buf[i] !== 10) continue;
    if (i === start || buf[i - 1] !== 13) bareLf = true;
    // A line end followed by an empty line (LF or CRLF) ends the header part.
    if (buf[i + 1] === 10) {
      headEnd = i + 2;
      break;
    }
    if (buf[i + 1] === 13 && buf[i + 2] === 10) {
      headEnd = i + 3;
      break;
    }
  }
  if (!bareLf && start === 0 && !lastLineLf(buf, headEnd)) return { data: buf, bareLf };
  const head = toCrlf(buf.subarray(start, headEnd));
  return { data: Buffer.concat([head, buf.subarray(headEnd)]), bareLf: bareLf || lastLineLf(buf, headEnd) };
}

function lastLineLf(buf: Buffer, headEnd: number): boolean {
  // The blank line after the headers may itself be a bare LF.
  return headEnd >= 1 && headEnd <= buf.length && buf[headEnd - 1] === 10 && buf[headEnd - 2] !== 13;
}

function normaliseBody(data: Buffer): Buffer {
  const sep = data.indexOf('\r\n\r\n');
  if (sep < 0) return data;
  return Buffer.concat([data.subarray(0, sep + 4), toCrlf(data.subarray(sep + 4))]);
}

function toCrlf(part: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < part.length; i++) {
    if (part[i] === 10 && (i === 0 || part[i - 1] !== 13)) out.push(13);
    out.push(part[i]);
  }
  return Buffer.from(out);
}
