/**
 * Option tags (RFC 3261 §19.2) and methods a peer lists: what it supports,
 * requires and allows decides whether we PRACK, refresh with UPDATE, or
 * refuse a request with 420.
 */
import type { SipMessage } from '../sip/message.js';

/** Extensions this user agent implements: reliable provisionals, Replaces, session timers. */
export const OUR_OPTION_TAGS: ReadonlySet<string> = new Set(['100rel', 'replaces', 'timer']);

/** The option tags of one header (supported, require ...), lower-cased. */
export function optionTags(msg: SipMessage, header: 'supported' | 'require'): Set<string> {
  return new Set(msg.getAll(header).map((t) => t.trim().toLowerCase()).filter((t) => t.length > 0));
}

/** The methods of Allow, upper-cased; undefined when the message has no Allow (the peer said nothing). */
export function allowedMethods(msg: SipMessage): Set<string> | undefined {
  if (!msg.has('allow')) return undefined;
  return new Set(msg.getAll('allow').map((m) => m.trim().toUpperCase()));
}

/** Tags of Require we do not implement (the 420 Bad Extension's Unsupported list). */
export function unsupportedRequired(msg: SipMessage): string[] {
  return [...optionTags(msg, 'require')].filter((t) => !OUR_OPTION_TAGS.has(t));
}
