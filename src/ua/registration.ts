/**
 * The registration client (RFC 3261 §10.2): REGISTER with digest auth,
 * 423 handled with Min-Expires, the binding refreshed at ~90% of what the
 * registrar granted, on the injected clock; and unregister (expires=0).
 */
import { randomBytes, randomInt } from 'node:crypto';
import { newTag } from '../sip/dialog/index.js';
import { parseNameAddr } from '../sip/headers.js';
import { SipMessage } from '../sip/message.js';
import { parseUri } from '../sip/uri.js';
import type { TimerHandle } from '../util/clock.js';
import { Authenticator, sendWithAuth } from './auth-retry.js';
import { ALLOW, type UaContext } from './context.js';
import { SipStatusError, transportFailureReason } from './errors.js';

/** After a failed refresh, try again this long later (while the user still wants to be registered). */
export const REGISTER_RETRY_MS = 30_000;

export interface RegistrationHooks {
  registered(expires: number): void;
  failed(status: number, reason: string): void;
  unregistered(): void;
}

export class Registration {
  private readonly callId = randomBytes(12).toString('hex');
  private readonly fromTag = newTag();
  private cseq = randomInt(1, 2 ** 30);
  private readonly auth: Authenticator;
  private refresh: TimerHandle | undefined;
  /** Seconds the user asked for (raised by a 423's Min-Expires); 0 when not wanted. */
  private wanted = 0;
  private active = false;
  /** Requests go one at a time, in order (a refresh never overtakes an unregister). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly ctx: UaContext,
    /** Request-URI of REGISTER: the domain (§10.2). */
    private readonly registrarUri: string,
    private readonly hooks: RegistrationHooks,
  ) {
    this.auth = new Authenticator(ctx.credentials);
  }

  get registered(): boolean {
    return this.active;
  }

  /** Resolves with the granted expiry in seconds; rejects with SipStatusError. */
  register(expires: number): Promise<number> {
    if (!Number.isInteger(expires) || expires <= 0) return Promise.reject(new RangeError('expires must be a positive whole number of seconds'));
    this.wanted = expires;
    this.stopRefresh();
    return this.enqueue(() => this.attempt(false));
  }

  unregister(): Promise<void> {
    this.wanted = 0;
    this.stopRefresh();
    return this.enqueue(async () => {
      await this.send(0, 0);
      this.active = false;
      this.hooks.unregistered();
    });
  }

  close(): void {
    this.wanted = 0;
    this.stopRefresh();
  }

  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    const run = this.queue.then(job, job);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** A refresh that fails is tried again later; a first REGISTER that fails (say, a wrong password) is not. */
  private async attempt(refreshing: boolean): Promise<number> {
    try {
      const granted = await this.send(this.wanted, 2);
      this.active = granted > 0;
      this.schedule(granted > 0 ? granted * 900 : REGISTER_RETRY_MS);
      this.hooks.registered(granted);
      return granted;
    } catch (err) {
      const e = err instanceof SipStatusError ? err : new SipStatusError(503, (err as Error).message);
      this.active = false;
      if (refreshing) this.schedule(REGISTER_RETRY_MS);
      else this.wanted = 0;
      this.hooks.failed(e.status, e.reason);
      throw e;
    }
  }

  private schedule(ms: number): void {
    this.stopRefresh();
    if (this.wanted === 0) return;
    this.refresh = this.ctx.clock.setTimer(ms, () => {
      this.refresh = undefined;
      if (this.wanted > 0) this.enqueue(() => this.attempt(true)).catch(() => undefined);
    });
  }

  private stopRefresh(): void {
    this.refresh?.cancel();
    this.refresh = undefined;
  }

  /** One REGISTER (with its auth retries, and a retry with Min-Expires after a 423). */
  private send(expires: number, tooBriefRetries: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const go = (dest: Parameters<UaContext['contactFor']>[0]): void => {
        const contact = this.ctx.contactFor(dest);
        const build = (): SipMessage =>
          SipMessage.request('REGISTER', this.registrarUri, [
            ['Max-Forwards', '70'],
            ['From', `${this.ctx.localAddress};tag=${this.fromTag}`],
            ['To', `<${this.ctx.aor}>`],
            ['Call-ID', this.callId],
            ['CSeq', `${this.cseq++} REGISTER`],
            ['Contact', `${contact};expires=${expires}`],
            ['Expires', String(expires)],
            ['Allow', ALLOW],
            ['User-Agent', this.ctx.userAgent],
          ]);
        sendWithAuth(this.ctx.send, this.auth, build, dest, {
          onResponse: (res) => {
            const status = res.status;
            if (status < 200) return;
            if (status < 300) return resolve(expires === 0 ? 0 : granted(res, contact, expires));
            const min = Number(res.get('min-expires'));
            if (status === 423 && tooBriefRetries > 0 && Number.isInteger(min) && min > expires) {
              this.wanted = min;
              this.send(min, tooBriefRetries - 1).then(resolve, reject);
              return;
            }
            if (status === 401 || status === 407) this.ctx.counters.authFailures++;
            reject(new SipStatusError(status, res.reason));
          },
          onTimeout: () => reject(new SipStatusError(408, 'Request Timeout')),
          onTransportError: (cause) => reject(new SipStatusError(503, transportFailureReason(cause), cause)),
        });
      };
      this.ctx.outOfDialogDest(this.registrarUri).then(go, (err: Error) => reject(new SipStatusError(503, err.message)));
    });
  }
}

/** The expiry the registrar gave our contact: its expires parameter, else the Expires header, else what we asked. */
function granted(res: SipMessage, ourContact: string, asked: number): number {
  const ours = sameAs(parseNameAddr(ourContact).uri);
  for (const value of res.getAll('contact')) {
    try {
      const na = parseNameAddr(value);
      const e = na.params.get('expires');
      if (e && /^\d+$/.test(e) && ours(na.uri)) return Number(e);
    } catch {
      /* another phone's odd Contact is not our problem */
    }
  }
  const header = res.get('expires');
  if (header !== undefined && /^\d+$/.test(header.trim())) return Number(header.trim());
  return asked;
}

function sameAs(uri: string): (other: string) => boolean {
  const a = parseUri(uri);
  return (other) => {
    try {
      const b = parseUri(other);
      return a.user === b.user && a.host.toLowerCase() === b.host.toLowerCase() && (a.port ?? 5060) === (b.port ?? 5060);
    } catch {
      return false;
    }
  };
}
