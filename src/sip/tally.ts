/**
 * SIP messages counted by method (requests) and status code (responses), for
 * metrics. Methods outside the known set count as `other`, so a peer that
 * invents methods cannot grow the table (or a Prometheus label set).
 */
import type { SipMessage } from './message.js';

const KNOWN_METHODS = new Set([
  'INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'INFO', 'UPDATE', 'PRACK', 'REFER',
  'MESSAGE', 'SUBSCRIBE', 'NOTIFY', 'PUBLISH',
]);

/** The method as a bounded label: itself when known, else `other`. */
export function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : 'other';
}

export class MessageTally {
  readonly requests: Record<string, number> = {};
  /** By status code; the parser admits 100-699 only, so at most 600 keys. */
  readonly responses: Record<number, number> = {};

  count(msg: SipMessage): void {
    if (msg.status === 0) {
      const m = methodLabel(msg.method);
      this.requests[m] = (this.requests[m] ?? 0) + 1;
    } else {
      this.responses[msg.status] = (this.responses[msg.status] ?? 0) + 1;
    }
  }
}
