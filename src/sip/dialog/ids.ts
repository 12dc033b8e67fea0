/** Random tags and branches for dialogs (RFC 3261 §19.3: at least 32 bits of randomness). */
import { randomBytes } from 'node:crypto';

/** A From/To tag: 64 random bits in hex. */
export function newTag(): string {
  return randomBytes(8).toString('hex');
}

/** A Via branch with the RFC 3261 magic cookie, e.g. for the ACK of a 2xx (§13.2.2.4: its own transaction). */
export function newBranch(): string {
  return 'z9hG4bK' + randomBytes(10).toString('hex');
}
