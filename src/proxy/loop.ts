/**
 * Branch values that double as loop detectors (RFC 3261 §16.6 step 8 and
 * §16.3 step 4): the branch we put in our Via carries a hash of the request
 * as we received it, so if the same request comes back to us unchanged it
 * is a loop (482), while a spiral (new Request-URI) hashes differently.
 */
import { createHash } from 'node:crypto';
import type { SipMessage } from '../sip/message.js';

export const LOOP_PREFIX = 'z9hG4bKsb';

export function loopHash(req: SipMessage): string {
  const h = createHash('sha1');
  h.update(req.uri);
  h.update('\0');
  h.update(req.callId);
  h.update('\0');
  h.update(req.fromTag ?? '');
  h.update('\0');
  h.update(req.toTag ?? '');
  h.update('\0');
  h.update(String(req.cseq.seq));
  return h.digest('base64url').slice(0, 12);
}

/** A branch for a forwarded request: loop hash, then a counter that keeps forks apart. */
export function proxyBranch(hash: string, counter: number): string {
  return `${LOOP_PREFIX}${hash}.${counter.toString(36)}`;
}

/**
 * True when a Via we inserted earlier carries the loop hash of this request
 * as received now: the request is back unchanged.
 */
export function isLoop(req: SipMessage, hash: string, isOurs: (host: string, port: number | undefined) => boolean): boolean {
  const vias = req.getAll('via');
  for (let i = 1; i < vias.length; i++) {
    const v = vias[i];
    const at = v.indexOf(LOOP_PREFIX);
    if (at < 0) continue;
    const branchHash = v.slice(at + LOOP_PREFIX.length, at + LOOP_PREFIX.length + hash.length);
    if (branchHash !== hash) continue;
    const m = /^\s*SIP\s*\/\s*2\.0\s*\/\s*[A-Za-z]+\s+(\[[^\]]+\]|[^\s:;]+)(?::(\d+))?/i.exec(v);
    if (m && isOurs(m[1], m[2] ? Number(m[2]) : undefined)) return true;
  }
  return false;
}
