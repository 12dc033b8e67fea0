/**
 * Message waiting on the softphone: once registered, the phone subscribes
 * to message-summary (RFC 3842) for its own address and prints
 * `voicemail: N new, M old` for every NOTIFY that carries a summary,
 * subscribed or unsolicited. A server that does not serve the package
 * (489, 404, 405 ...) costs one log line; a subscription that ends for a
 * passing reason (timeout, deactivated, a server gone for a while) is made
 * again later, backing off up to half an hour.
 */
import type { Logger } from '../../util/log.js';
import { parseMessageSummary } from '../../ua/message-summary.js';
import type { Subscription, SubscriptionEnd, UserAgent } from '../../ua/index.js';

const EVENT = 'message-summary';
const BODY_TYPE = 'application/simple-message-summary';
/** First wait before subscribing again after a failure, doubled each time up to MAX_RETRY_MS. */
const FIRST_RETRY_MS = 60_000;
const MAX_RETRY_MS = 30 * 60_000;
/** After `deactivated` or `timeout` (RFC 6665 §4.1.3: subscribe again at once), a short pause all the same. */
const SOON_MS = 5000;

/** The line a summary prints, or undefined for a body that is no message summary. */
export function voicemailLine(body: string): string | undefined {
  const s = parseMessageSummary(body);
  return s ? `voicemail: ${s.newMessages} new, ${s.oldMessages} old` : undefined;
}

/** How long to wait before subscribing again after an end, or undefined to stop for good. */
export function retryDelay(reason: string, end: SubscriptionEnd, failures: number): number | undefined {
  if (reason === 'unsubscribed' || reason === 'closed' || reason === 'noresource' || reason === 'rejected') return undefined;
  const status = end.status;
  // The server does not serve this package (or this user): asking again changes nothing.
  if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 480) return undefined;
  if (end.retryAfter !== undefined) return Math.min(end.retryAfter * 1000, MAX_RETRY_MS);
  if (reason === 'deactivated' || reason === 'timeout') return SOON_MS;
  return Math.min(FIRST_RETRY_MS * 2 ** Math.min(failures, 10), MAX_RETRY_MS);
}

export class VoicemailWatch {
  private sub: Subscription | undefined;
  private retry: NodeJS.Timeout | undefined;
  private failures = 0;
  private closed = false;
  private readonly offNotify: () => void;

  constructor(
    private readonly ua: UserAgent,
    private readonly print: (line: string) => void,
    private readonly log: Logger,
  ) {
    // Unsolicited NOTIFYs (Asterisk and many PBXs send message-summary unasked).
    this.offNotify = ua.on('notify', (event, body) => {
      if (event === EVENT) this.show(body);
    });
  }

  start(): void {
    if (this.closed) return;
    this.retry = undefined;
    let sub: Subscription;
    try {
      sub = this.ua.subscribe(this.ua.aor, EVENT, { accept: BODY_TYPE });
    } catch (err) {
      this.log.info({ err }, 'message-waiting subscription not started');
      return;
    }
    this.sub = sub;
    sub.on('notify', (body) => {
      this.failures = 0;
      this.show(body);
    });
    sub.on('terminated', (reason, end) => {
      if (this.sub === sub) this.sub = undefined;
      if (this.closed) return;
      const wait = retryDelay(reason, end, this.failures);
      this.log.info({ reason, retryInMs: wait }, `message-waiting subscription ended: ${reason}`);
      if (wait === undefined) return;
      if (end.status !== undefined) this.failures++;
      this.retry = setTimeout(() => this.start(), wait);
      this.retry.unref();
    });
  }

  /** Stops retrying; the agent's close() unsubscribes what is active. */
  close(): void {
    this.closed = true;
    this.offNotify();
    if (this.retry) clearTimeout(this.retry);
  }

  private show(body: string): void {
    const line = voicemailLine(body);
    if (line) this.print(line);
  }
}
