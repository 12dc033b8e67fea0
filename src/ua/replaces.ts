/**
 * The Replaces header (RFC 3891) and the Refer-To that carries it for an
 * attended transfer (RFC 3515, RFC 5589 §7). Tags are named from the point
 * of view of the UA that receives the INVITE with Replaces: to-tag is its
 * local tag, from-tag its remote tag.
 */
import { parseNameAddr } from '../sip/headers.js';
import { formatUri, parseUri } from '../sip/uri.js';

export interface ReplacesId {
  callId: string;
  toTag: string;
  fromTag: string;
  /** RFC 3891 §6.1: replace only a dialog that is still early. */
  earlyOnly: boolean;
}

export function formatReplaces(callId: string, toTag: string, fromTag: string): string {
  return `${callId};to-tag=${toTag};from-tag=${fromTag}`;
}

/** Undefined when the value lacks a Call-ID or either tag. */
export function parseReplaces(value: string): ReplacesId | undefined {
  const parts = value.split(';').map((p) => p.trim());
  const callId = parts.shift();
  if (!callId) return undefined;
  let toTag: string | undefined;
  let fromTag: string | undefined;
  let earlyOnly = false;
  for (const p of parts) {
    const eq = p.indexOf('=');
    const name = (eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase();
    const val = eq < 0 ? '' : p.slice(eq + 1).trim();
    if (name === 'to-tag') toTag = val;
    else if (name === 'from-tag') fromTag = val;
    else if (name === 'early-only') earlyOnly = true;
  }
  if (!toTag || !fromTag) return undefined;
  return { callId, toTag, fromTag, earlyOnly };
}

/**
 * `<target?Replaces=...>`: the Replaces value becomes a URI header, so its
 * `;`, `=` and `@` are %-escaped (RFC 3261 §19.1.1 hnv-unreserved).
 */
export function referToWithReplaces(target: string, replaces: string): string {
  const uri = parseUri(target);
  uri.headers.set('Replaces', replaces);
  return `<${formatUri(uri)}>`;
}

export interface ReferTarget {
  /** The URI to call, without its header part. */
  uri: string;
  /** Headers the URI asks the new INVITE to carry (Replaces ...), unescaped. */
  headers: [string, string][];
}

/** Throws SipParseError when the Refer-To value is malformed. */
export function parseReferTo(value: string): ReferTarget {
  const uri = parseUri(parseNameAddr(value).uri);
  const headers: [string, string][] = [];
  for (const [name, v] of uri.headers) {
    // RFC 3261 §19.1.5: only headers that make sense in a new request; never let a URI forge Via or Call-ID.
    if (/^(replaces|subject|priority|accept-contact|reject-contact|referred-by)$/i.test(name)) headers.push([name, v]);
  }
  uri.headers.clear();
  return { uri: formatUri(uri), headers };
}
