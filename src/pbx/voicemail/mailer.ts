/**
 * Voicemail to e-mail: a new message goes to the mailbox owner's address over
 * SMTP (the config's `smtp`), with the WAV attached. A server that is down or
 * answers 4xx is tried again after 5 s, 30 s and 120 s (on the injected clock);
 * a 5xx answer is final. The message is marked emailed in the store once the
 * server has accepted it.
 */
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { SmtpConfig } from '../../config/pbx-schema.js';
import { realClock, type Clock, type TimerHandle } from '../../util/clock.js';
import { silentLogger, type Logger } from '../../util/log.js';

export interface VoicemailMail {
  to: string;
  mailbox: string;
  /** The mailbox owner's name, for the greeting line. */
  ownerName?: string;
  /** '' when unknown. */
  callerNumber: string;
  callerName?: string;
  /** Wall-clock ms. */
  received: number;
  durationSeconds: number;
  wavPath: string;
  /** The store's message id: marked emailed once the server accepted the mail. */
  messageId?: number;
}

/** What the mailer sends through: nodemailer's transport, or a test's stand-in. */
export interface MailTransport {
  sendMail(message: nodemailer.SendMailOptions): Promise<unknown>;
  close(): void;
}

export interface VoicemailMailerOptions {
  clock?: Clock;
  log?: Logger;
  /** Marks a message emailed (the VoicemailStore). */
  store?: { markEmailed(id: number): void };
  /** Waits before each retry; the default tries 4 times in all: at once, then after 5 s, 30 s and 120 s. */
  retryDelaysMs?: readonly number[];
  /** IANA zone the received time is written in (UTC by default). */
  timeZone?: string;
  /** What to dial to listen (`*98`): added to the text when given. */
  accessNumber?: string;
  /** Overrides the SMTP transport made from the config (tests). */
  transport?: MailTransport;
}

export const RETRY_DELAYS_MS: readonly number[] = [5_000, 30_000, 120_000];

/** `Alice Archer <1001>`, `1001`, `Alice Archer`, or `an unknown caller`. */
export function callerText(number: string, name?: string): string {
  const n = clean(number);
  const nm = clean(name ?? '');
  if (nm && n) return `${nm} <${n}>`;
  return nm || n || 'an unknown caller';
}

export function voicemailSubject(mail: Pick<VoicemailMail, 'callerNumber' | 'callerName' | 'mailbox'>): string {
  return `New voicemail from ${callerText(mail.callerNumber, mail.callerName)} in mailbox ${clean(mail.mailbox)}`;
}

/** The attachment's name: the store's `msg0007.wav`, or one made from the message id. */
export function attachmentName(mail: Pick<VoicemailMail, 'wavPath' | 'messageId'>): string {
  const base = path.basename(mail.wavPath);
  if (/^msg\d+\.wav$/.test(base)) return base;
  return mail.messageId !== undefined ? `msg${String(mail.messageId).padStart(4, '0')}.wav` : 'message.wav';
}

export function voicemailText(mail: VoicemailMail, opts: { timeZone?: string; accessNumber?: string } = {}): string {
  const when = new Intl.DateTimeFormat('en-GB', { timeZone: opts.timeZone ?? 'UTC', dateStyle: 'full', timeStyle: 'long' }).format(new Date(mail.received));
  const secs = Math.max(0, Math.round(mail.durationSeconds));
  const length = `${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, '0')}`;
  const owner = clean(mail.ownerName ?? '');
  return [
    owner ? `Hello ${owner},` : 'Hello,',
    '',
    `${callerText(mail.callerNumber, mail.callerName)} left a message in mailbox ${clean(mail.mailbox)}.`,
    '',
    `  From:      ${callerText(mail.callerNumber, mail.callerName)}`,
    `  Mailbox:   ${clean(mail.mailbox)}`,
    `  Received:  ${when}`,
    `  Length:    ${length} (${secs} second${secs === 1 ? '' : 's'})`,
    '',
    `The recording is attached (${attachmentName(mail)}).`,
    ...(opts.accessNumber ? [`Dial ${opts.accessNumber} from your phone to listen, save or delete it.`] : []),
    '',
    '-- ',
    'Switchboard voicemail',
    '',
  ].join('\n');
}

export class VoicemailMailer {
  private readonly transport: MailTransport;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly delays: readonly number[];
  private readonly waits = new Set<{ timer: TimerHandle; resolve: (go: boolean) => void }>();
  private closed = false;
  private inFlight = 0;

  constructor(private readonly smtp: SmtpConfig, private readonly opts: VoicemailMailerOptions = {}) {
    this.clock = opts.clock ?? realClock;
    this.log = opts.log ?? silentLogger;
    this.delays = opts.retryDelaysMs ?? RETRY_DELAYS_MS;
    this.transport =
      opts.transport ??
      nodemailer.createTransport({
        host: smtp.host,
        port: smtp.port,
        secure: smtp.secure,
        auth: smtp.user !== undefined ? { user: smtp.user, pass: smtp.password ?? '' } : undefined,
        // The library's defaults wait up to 10 minutes on a silent server; a retry does better.
        connectionTimeout: 10_000,
        greetingTimeout: 10_000,
        socketTimeout: 60_000,
      });
  }

  /** Mails being sent or waiting for a retry. */
  get pending(): number {
    return this.inFlight;
  }

  /**
   * Sends one voicemail mail: true once the SMTP server accepted it, false
   * when it gave up (logged) or the mailer was closed. Never rejects.
   */
  async send(mail: VoicemailMail): Promise<boolean> {
    const message: nodemailer.SendMailOptions = {
      from: this.smtp.from,
      to: mail.to,
      subject: voicemailSubject(mail),
      text: voicemailText(mail, this.opts),
      headers: { 'X-Voicemail-Mailbox': clean(mail.mailbox) },
      attachments: [{ filename: attachmentName(mail), path: mail.wavPath, contentType: 'audio/wav' }],
    };
    const ctx = { mailbox: mail.mailbox, to: mail.to, messageId: mail.messageId };
    this.inFlight++;
    try {
      for (let attempt = 0; !this.closed; attempt++) {
        try {
          await this.transport.sendMail(message);
          if (mail.messageId !== undefined) this.markEmailed(mail.messageId, ctx);
          this.log.info({ ...ctx, attempt: attempt + 1 }, 'voicemail mailed');
          return true;
        } catch (err) {
          const why = failure(err);
          if (why.final || attempt >= this.delays.length) {
            this.log.error({ ...ctx, err, attempts: attempt + 1 }, `voicemail mail to ${mail.to} not sent: ${why.text}`);
            return false;
          }
          if (this.closed) break;
          const wait = this.delays[attempt];
          this.log.warn({ ...ctx, err, attempt: attempt + 1 }, `voicemail mail to ${mail.to} failed (${why.text}); trying again in ${wait / 1000} s`);
          if (!(await this.sleep(wait))) break;
        }
      }
      this.log.warn(ctx, 'voicemail mail abandoned: the mailer was closed');
      return false;
    } finally {
      this.inFlight--;
    }
  }

  /** Cancels the retries waiting (their send() resolves false) and closes the transport. */
  close(): void {
    this.closed = true;
    for (const w of this.waits) {
      w.timer.cancel();
      w.resolve(false);
    }
    this.waits.clear();
    this.transport.close();
  }

  private markEmailed(id: number, ctx: object): void {
    try {
      this.opts.store?.markEmailed(id);
    } catch (err) {
      // The mail went out; a flag that could not be saved costs at most a second mail after a restart.
      this.log.warn({ ...ctx, err }, 'voicemail mailed, but the emailed flag could not be saved');
    }
  }

  private sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const w = {
        timer: this.clock.setTimer(ms, () => {
          this.waits.delete(w);
          resolve(true);
        }),
        resolve,
      };
      this.waits.add(w);
    });
  }
}

/** A 5xx answer, a missing file or a refused login will not get better by waiting. */
function failure(err: unknown): { final: boolean; text: string } {
  const e = err as { responseCode?: number; code?: string; message?: string };
  const text = e.message ?? String(err);
  if (typeof e.responseCode === 'number' && e.responseCode >= 500 && e.responseCode < 600) return { final: true, text };
  if (e.code === 'ENOENT' || e.code === 'EAUTH') return { final: true, text };
  return { final: false, text };
}

/** Caller names come from callers: no line breaks or control characters into mail headers. */
function clean(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
}
