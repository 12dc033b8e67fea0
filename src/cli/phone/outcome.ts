/**
 * How a call ended, in words a user understands, and as the process exit
 * code scripts test (documented in the README's phone section).
 */

/** Exit codes of `switchboard phone call`; stable, scripts depend on them. */
export const EXIT = {
  /** The call was answered and ended normally. */
  ok: 0,
  /** Bad flags, a file that cannot be read, a port in use: nothing was sent. */
  error: 1,
  /** Usage error (commander's own code). */
  usage: 2,
  noAnswer: 3,
  busy: 4,
  declined: 5,
  notFound: 6,
  /** Any other failure response, or a network/transport failure. */
  failed: 7,
  registrationFailed: 8,
} as const;

const WORDS: Record<number, string> = {
  400: 'the far end says our request is malformed',
  401: 'authentication failed (check --user and --password)',
  403: 'forbidden (wrong password, or not allowed to call this number)',
  404: 'no such user or number',
  407: 'the proxy wants authentication (check --user and --password)',
  408: 'no answer (request timed out)',
  410: 'that number is gone',
  480: 'not available right now (not registered, or do not disturb)',
  484: 'the number is incomplete',
  486: 'busy',
  487: 'the call was cancelled',
  488: 'no common codec or unacceptable media',
  500: 'the server failed',
  503: 'the service is unavailable',
  600: 'busy everywhere',
  603: 'declined',
  604: 'does not exist anywhere',
  606: 'not acceptable',
};

export function statusWords(status: number, reason?: string): string {
  const words = WORDS[status] ?? (reason ? reason.toLowerCase() : 'failed');
  return `${status}${reason ? ' ' + reason : ''} — ${words}`;
}

export function exitCodeFor(status: number): number {
  if (status >= 200 && status < 300) return EXIT.ok;
  if (status === 486 || status === 600) return EXIT.busy;
  if (status === 603) return EXIT.declined;
  if (status === 404 || status === 604 || status === 410) return EXIT.notFound;
  if (status === 408 || status === 480 || status === 487) return EXIT.noAnswer;
  return EXIT.failed;
}
