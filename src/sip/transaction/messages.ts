/**
 * Messages built from another one by the rules of RFC 3261: the ACK for a
 * non-2xx final and the automatic 100 Trying (which a transaction builds
 * itself), and the CANCEL of a pending INVITE.
 */
import { SipMessage } from '../message.js';

/**
 * §17.1.1.3: the ACK for a 3xx-6xx shares Request-URI, Call-ID, From, top Via
 * and CSeq number with the INVITE, takes To (with the tag) from the response,
 * and carries the INVITE's Route set so it follows the same path.
 */
export function buildAck(invite: SipMessage, response: SipMessage): SipMessage {
  const headers: [string, string][] = [
    ['Via', invite.get('via') ?? ''],
    ['Max-Forwards', invite.get('max-forwards') ?? '70'],
  ];
  for (const h of invite.headers) if (h.key === 'route') headers.push([h.name, h.value]);
  headers.push(
    ['From', invite.get('from') ?? ''],
    ['To', response.get('to') ?? ''],
    ['Call-ID', invite.callId],
    ['CSeq', `${invite.cseq.seq} ACK`],
  );
  return SipMessage.request('ACK', invite.uri, headers);
}

/**
 * §9.1: a CANCEL copies the INVITE's Request-URI, top Via, Route set, From,
 * To and Call-ID, with the CSeq number and method CANCEL; `extra` headers
 * (User-Agent, Reason ...) follow.
 */
export function buildCancel(invite: SipMessage, extra: readonly [string, string][] = []): SipMessage {
  const headers: [string, string][] = [['Via', invite.get('via') ?? '']];
  for (const r of invite.getAll('route')) headers.push(['Route', r]);
  headers.push(
    ['Max-Forwards', '70'],
    ['From', invite.get('from') ?? ''],
    ['To', invite.get('to') ?? ''],
    ['Call-ID', invite.callId],
    ['CSeq', `${invite.cseq.seq} CANCEL`],
    ...extra,
  );
  return SipMessage.request('CANCEL', invite.uri, headers);
}

/** Headers a 100 Trying copies from the request (§8.2.6: no To tag is added; Timestamp is echoed). */
const TRYING_COPIES = new Set(['via', 'from', 'to', 'call-id', 'cseq', 'timestamp']);

export function buildTrying(request: SipMessage): SipMessage {
  const headers: [string, string][] = [];
  for (const h of request.headers) if (TRYING_COPIES.has(h.key)) headers.push([h.name, h.value]);
  return SipMessage.response(100, 'Trying', headers);
}
