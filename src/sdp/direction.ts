/**
 * Direction arithmetic (RFC 3264 §6.1, §8.4) and re-offers that change it:
 * hold, resume, and the session-version bump every changed re-offer needs.
 */
import { connectionOf, directionOf, hostOf, isDirection } from './attributes.js';
import { SdpError } from './errors.js';
import type { Attribute, Direction, MediaDescription, SessionDescription } from './model.js';

/**
 * RFC 3264 §6.1: we may send only what the offerer will receive and receive
 * only what it will send; our own wish (hold) narrows that further.
 */
export function answerDirection(offered: Direction, local: Direction): Direction {
  return toDirection(receives(offered) && sends(local), sends(offered) && receives(local));
}

/**
 * The direction a description means. c=0.0.0.0 is the RFC 2543 way of
 * putting a call on hold, still sent by old phones (RFC 3264 §8.4): the
 * sender does not want media.
 */
export function effectiveDirection(sd: SessionDescription, m: MediaDescription): Direction {
  const dir = directionOf(m, sd);
  const c = connectionOf(m, sd);
  // With ICE, c=0.0.0.0 only says "see the candidates" (RFC 8839 §4.2.1.4), never hold.
  if (c && isUnspecified(hostOf(c)) && !usesIce(sd, m)) return toDirection(sends(dir), false);
  return dir;
}

function usesIce(sd: SessionDescription, m: MediaDescription): boolean {
  const ice = (a: { name: string }): boolean => a.name === 'ice-ufrag' || a.name === 'candidate';
  return m.proto.toUpperCase().startsWith('UDP/TLS/') || m.attributes.some(ice) || sd.attributes.some(ice);
}

/**
 * The same description with every active stream set to `direction` and the
 * session version incremented (RFC 3264 §8), as for putting a call on hold
 * (sendonly) or resuming it (sendrecv).
 */
export function withDirection(sd: SessionDescription, direction: Direction): SessionDescription {
  const out = nextVersion(sd);
  // A session-level direction would apply to streams without their own; we
  // set one on every stream, so drop it to leave no contradiction.
  out.attributes = out.attributes.filter((a) => !isDirectionAttribute(a));
  for (const m of out.media) {
    if (m.port === 0) continue;
    const at = m.attributes.findIndex(isDirectionAttribute);
    const rest = m.attributes.filter((a) => !isDirectionAttribute(a));
    if (at < 0) rest.push({ name: direction });
    else rest.splice(at, 0, { name: direction });
    m.attributes = rest;
  }
  return out;
}

/** A copy with o= sess-version + 1, for any re-offer that changes something. */
export function nextVersion(sd: SessionDescription): SessionDescription {
  const out = structuredClone(sd);
  if (!/^[0-9]+$/.test(sd.origin.sessVersion)) throw new SdpError(`o= session version ${sd.origin.sessVersion} is not a number`);
  out.origin.sessVersion = (BigInt(sd.origin.sessVersion) + 1n).toString();
  return out;
}

function isDirectionAttribute(a: Attribute): boolean {
  return a.value === undefined && isDirection(a.name);
}

function isUnspecified(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

export const sends = (d: Direction): boolean => d === 'sendrecv' || d === 'sendonly';
export const receives = (d: Direction): boolean => d === 'sendrecv' || d === 'recvonly';

export function toDirection(send: boolean, receive: boolean): Direction {
  if (send && receive) return 'sendrecv';
  if (send) return 'sendonly';
  return receive ? 'recvonly' : 'inactive';
}
