/**
 * What a SIP message must keep through serialize-and-parse: the start line,
 * every header in order by name and value (Content-Length aside, since
 * toBuffer rewrites it from the body), and the body bytes.
 */
import { SipParseError } from '../../../src/sip/errors.js';
import { formatVia, parseVia } from '../../../src/sip/headers.js';
import { MAX_HEADER_BYTES, parseMessage, validateMessage, type SipMessage } from '../../../src/sip/message.js';
import { assertSame, RoundTripError } from './target.js';

/** Statuses a parser may attach to a refusal (RFC 3261 §21.4-21.5). */
const STATUSES = new Set([400, 413, 414, 416, 420, 505, 513]);

export function isDeclaredSipError(err: unknown): boolean {
  return err instanceof SipParseError && STATUSES.has(err.status);
}

export function sipShape(m: SipMessage): unknown {
  return {
    method: m.method,
    uri: m.uri,
    status: m.status,
    reason: m.reason,
    headers: m.headers.filter((h) => h.key !== 'content-length').map((h) => [h.name, h.value]),
    body: m.body,
  };
}

/**
 * toBuffer, parse again (as a datagram), validate again, compare. Writing
 * normalises line ends to CRLF and puts ": " after each name, so a header
 * section just under the 64 KiB limit can come out over it: a 513 for that
 * is the size limit doing its job, not a round-trip failure.
 */
export function sipRoundTrip(m: SipMessage): void {
  const wire = m.toBuffer();
  let again: SipMessage;
  try {
    again = parseMessage(wire, { datagram: true });
    validateMessage(again);
  } catch (err) {
    if (err instanceof SipParseError && err.status === 513 && wire.indexOf('\r\n\r\n') > MAX_HEADER_BYTES) return;
    if (err instanceof SipParseError) throw new RoundTripError(`serialized message no longer parses: ${err.status} ${err.message}`);
    throw err;
  }
  assertSame('SIP message', sipShape(m), sipShape(again));
}

/**
 * What the stack and proxy do with an accepted message: read the routing
 * headers, stamp the top Via with received/rport and write it back (which
 * must parse to the same Via), freeze and clone it.
 */
export function exerciseAccepted(m: SipMessage): void {
  const via = m.via;
  void m.cseq;
  void m.fromTag;
  void m.toTag;
  void m.callId;
  const stamped = { ...via, params: new Map(via.params) };
  stamped.params.set('received', '127.0.0.1');
  stamped.params.set('rport', '5060');
  const written = formatVia(stamped);
  let back;
  try {
    back = parseVia(written);
  } catch (err) {
    if (err instanceof SipParseError) throw new RoundTripError(`Via stamped with received/rport no longer parses: ${err.message} in ${JSON.stringify(written.slice(0, 200))}`);
    throw err;
  }
  assertSame('stamped Via', stamped, back);
  for (const name of ['route', 'record-route', 'contact', 'via', 'allow', 'supported', 'require']) {
    try {
      m.getAll(name);
    } catch (err) {
      if (!isDeclaredSipError(err)) throw err;
    }
  }
  m.clone().toBuffer();
  m.freeze().toBuffer();
}
