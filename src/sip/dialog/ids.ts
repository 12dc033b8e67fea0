/**
 * Random tags and branches (RFC 3261 §19.3: globally unique, at least 32
 * random bits). The one generator for user agents and the proxy alike: drawn
 * from a pooled block of CSPRNG bytes, so the proxy's hot path pays no system
 * call per tag and a tag says nothing about the process or its call count.
 */
import { randomPool } from '../../util/random.js';

/** A From/To tag: 64 random bits in hex. */
export function newTag(): string {
  return randomPool.hex(8);
}

/** A Via branch with the RFC 3261 magic cookie, e.g. for the ACK of a 2xx (§13.2.2.4: its own transaction). */
export function newBranch(): string {
  return 'z9hG4bK' + randomPool.hex(10);
}
