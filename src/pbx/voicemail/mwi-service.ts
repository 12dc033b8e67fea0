/**
 * Message waiting (RFC 3842): phones that SUBSCRIBE to a mailbox's
 * message-summary get its counts at once and whenever they change; a mailbox
 * nobody subscribed to is told by unsolicited NOTIFY to its registered phones
 * (through the proxy), as Asterisk does for phones configured with a mailbox.
 */
import { parseNameAddr } from '../../sip/headers.js';
import { parseUri } from '../../sip/uri.js';
import type { IncomingSubscription } from '../../ua/notifier.js';
import type { UserAgent } from '../../ua/user-agent.js';
import type { VoicemailStore } from '../../store/voicemail.js';
import { detach, type Logger } from '../../util/log.js';
import { MESSAGE_SUMMARY_CONTENT_TYPE, MESSAGE_SUMMARY_EVENT, messageSummaryBody, voicemailAccount } from './mwi.js';

/** Longest subscription granted, seconds (phones refresh well before). */
const MAX_EXPIRES = 3600;

export class MwiService {
  private readonly subs = new Map<string, Set<IncomingSubscription>>();
  private readonly offStore: () => void;

  constructor(
    private readonly ua: UserAgent,
    private readonly store: VoicemailStore,
    private readonly domain: string,
    /** Whether a user has a mailbox. */
    private readonly hasMailbox: (user: string) => boolean,
    private readonly log: Logger,
  ) {
    ua.on('subscribe', (sub) => this.subscribe(sub));
    this.offStore = store.on('changed', (mailbox) => this.changed(mailbox));
  }

  /** The body for `mailbox` now. */
  body(mailbox: string): string {
    const c = this.store.counts(mailbox);
    return messageSummaryBody({ newMessages: c.new, oldMessages: c.old, account: voicemailAccount(this.domain) });
  }

  get subscriptions(): number {
    let n = 0;
    for (const s of this.subs.values()) n += s.size;
    return n;
  }

  close(): void {
    this.offStore();
    for (const set of this.subs.values()) for (const s of set) s.dispose();
    this.subs.clear();
  }

  private subscribe(sub: IncomingSubscription): void {
    if (sub.event !== MESSAGE_SUMMARY_EVENT) return sub.reject(489, 'Bad Event');
    let mailbox: string | undefined;
    let asserted: string | undefined;
    try {
      mailbox = parseUri(sub.uri).user ?? parseUri(sub.to).user;
      const pai = sub.request.get('p-asserted-identity');
      asserted = pai ? parseUri(parseNameAddr(pai).uri).user : undefined;
    } catch {
      mailbox = undefined;
    }
    // Only the mailbox's own user may watch it (the proxy asserted who subscribed).
    if (!mailbox || !this.hasMailbox(mailbox)) return sub.reject(404, 'Not Found');
    if (asserted !== mailbox) return sub.reject(403, 'Forbidden - not your mailbox');
    sub.accept(Math.min(MAX_EXPIRES, sub.requestedExpires), this.body(mailbox), MESSAGE_SUMMARY_CONTENT_TYPE);
    let set = this.subs.get(mailbox);
    if (!set) this.subs.set(mailbox, (set = new Set()));
    set.add(sub);
    const box = mailbox;
    sub.once('terminated', () => {
      const s = this.subs.get(box);
      s?.delete(sub);
      if (s && s.size === 0) this.subs.delete(box);
    });
  }

  private changed(mailbox: string): void {
    const body = this.body(mailbox);
    const set = this.subs.get(mailbox);
    if (set && set.size > 0) {
      for (const s of set) detach(s.notify(body, MESSAGE_SUMMARY_CONTENT_TYPE), this.log, 'an MWI NOTIFY');
      return;
    }
    const uri = `sip:${mailbox}@${this.domain.includes(':') ? `[${this.domain}]` : this.domain}`;
    detach(
      this.ua.sendNotify(uri, MESSAGE_SUMMARY_EVENT, body, MESSAGE_SUMMARY_CONTENT_TYPE).then((status) => {
        if (status >= 300 && status !== 480) this.log.debug({ mailbox, status }, 'unsolicited MWI NOTIFY refused');
      }),
      this.log,
      'an unsolicited MWI NOTIFY',
    );
  }
}
