/**
 * Map keys for matching messages to transactions (RFC 3261 §17.1.3, §17.2.3).
 * Keys are built by string concatenation from fields the message has already
 * parsed (top Via, CSeq), so matching costs one Map lookup and no regex.
 */
import { ownCopy } from '../../util/strings.js';
import type { SipMessage } from '../message.js';
import type { Via } from '../headers.js';

/** RFC 3261 branches start with this; anything else is an RFC 2543 peer. */
export const MAGIC_COOKIE = 'z9hG4bK';

export function hasMagicCookie(branch: string | undefined): branch is string {
  return branch !== undefined && branch.startsWith(MAGIC_COOKIE);
}

/** §17.1.3: a response belongs to the client transaction with its top-Via branch and CSeq method. */
export function clientKey(branch: string, method: string): string {
  return branch + ' ' + method;
}

/**
 * §17.2.3: branch + sent-by + method, with ACK counted as INVITE so it lands
 * on the INVITE transaction it acknowledges. Hosts compare case-insensitively.
 */
export function serverKey(branch: string, via: Via, method: string): string {
  return branch + ' ' + via.host.toLowerCase() + ':' + (via.port ?? '') + ' ' + method;
}

/** The method a request is matched under: an ACK belongs to its INVITE. */
export function matchMethod(method: string): string {
  return method === 'ACK' ? 'INVITE' : method;
}

/**
 * §17.2.3 last part, for branches without the magic cookie: Request-URI,
 * To tag, From tag, Call-ID, CSeq and top Via. The To tag is a parameter
 * because an ACK carries the tag of our response, not of the INVITE.
 */
export function legacyKey(msg: SipMessage, method: string, toTag: string): string {
  return msg.uri + '\n' + toTag + '\n' + (msg.fromTag ?? '') + '\n' + msg.callId + '\n'
    + msg.cseq.seq + ' ' + method + '\n' + (msg.get('via') ?? '');
}

/**
 * The matching key as a string of its own, and the branch (its first
 * `idLength` characters) cut from that. A branch parsed from a received Via
 * is a slice of the whole message's text: kept as it is for a transaction's
 * 32 s it would keep that text alive too (measured: about 1 KB a
 * transaction).
 */
export function ownKey(key: string, idLength: number): { key: string; id: string } {
  const own = ownCopy(key);
  return { key: own, id: idLength < own.length ? own.slice(0, idLength) : own };
}
