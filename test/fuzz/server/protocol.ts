/** Messages between the fuzz driver and the server harness process. */

export type HarnessRequest = { type: 'allow'; address: string; port: number } | { type: 'stats' } | { type: 'stop' };

export interface HarnessStats {
  /** Lines the server logged at error level or above. */
  errorsLogged: number;
  lastErrors: string[];
  /** Exceptions and rejections that escaped every handler. */
  uncaught: number;
  received: number;
  malformed: number;
  rejected: number;
  dropped: number;
  malformedByStatus: Record<number, number>;
  /** Requests the proxy handled, forwarded, and registrations it accepted (authenticated). */
  requests: number;
  forwarded: number;
  registrations: number;
  blockedSends: number;
  blockedConnects: number;
  blockedLookups: number;
  rssBytes: number;
}

export type HarnessReply = { type: 'ready'; port: number } | { type: 'allowed' } | { type: 'stats'; stats: HarnessStats };
