/**
 * The subscriber's side of one subscription (RFC 6665 §4.1): SUBSCRIBE
 * with digest retries; the dialog made by the 2xx or by the first NOTIFY,
 * whichever comes first (§4.1.2.4); every NOTIFY answered 200 and reported;
 * refreshes at ~90% of the granted expiry; unsubscribe with Expires: 0.
 * A failure response, a NOTIFY saying terminated, no NOTIFY within Timer N
 * (64*T1), or an expiry nobody refreshed ends it, once, with a reason.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { Dialog, newTag } from '../sip/dialog/index.js';
import { SipMessage } from '../sip/message.js';
import type { ServerTransaction } from '../sip/transaction/index.js';
import type { Peer } from '../sip/transport/types.js';
import type { TimerHandle } from '../util/clock.js';
import { Emitter } from '../util/emitter.js';
import { detach } from '../util/log.js';
import { Authenticator, sendWithAuth, type AuthSend } from './auth-retry.js';
import { ALLOW, type DialogUser, type SubscriptionHost, type UaContext } from './context.js';
import { transportFailureReason } from './errors.js';
import { formatEvent, parseEvent, parseExpires, parseSubscriptionState, sameEvent, type EventHeader } from './event-header.js';
import { inDialogRequest } from './in-dialog.js';

/** What a SUBSCRIBE asks for when the caller names no expiry (s). */
export const DEFAULT_SUBSCRIBE_EXPIRES = 3600;

export interface SubscribeOptions {
  /** Seconds to ask for (default 3600); a 423's Min-Expires raises it. */
  expires?: number;
  /** The Accept header: the body types we read, e.g. `application/simple-message-summary`. */
  accept?: string;
  /** Extra headers for every SUBSCRIBE of this subscription. */
  headers?: [string, string][];
}

/** `subscribing` until the first NOTIFY says active or pending. */
export type SubscriptionState = 'subscribing' | 'pending' | 'active' | 'terminated';

export interface SubscriptionEnd {
  /** The failure response that ended it (408 on timeout, 503 on a transport failure). */
  status?: number;
  /** Seconds the notifier asked us to wait before subscribing again. */
  retryAfter?: number;
}

export type SubscriptionEvents = {
  /** The notifier accepted the SUBSCRIBE (or a refresh): the expiry it granted, in seconds. */
  accepted: [expires: number];
  /** A NOTIFY: its body, its Content-Type (empty when none) and the state it reports (active, pending, terminated). */
  notify: [body: string, contentType: string, state: string];
  /**
   * The subscription is over. `reason` is the NOTIFY's (timeout, rejected,
   * noresource, deactivated ...), a failure response (`489 Bad Event`),
   * `timeout` when it expired unrefreshed, `unsubscribed`, or `closed`.
   */
  terminated: [reason: string, end: SubscriptionEnd];
};

export class Subscription extends Emitter<SubscriptionEvents> implements DialogUser {
  readonly callId = randomBytes(12).toString('hex');
  readonly event: EventHeader;
  private readonly fromTag = newTag();
  private cseq = randomInt(1, 2 ** 30);
  private readonly auth: Authenticator;
  private dialogValue: Dialog | undefined;
  private stateValue: SubscriptionState = 'subscribing';
  /** Seconds we ask for. */
  private wanted: number;
  /** Our Contact, fixed once the destination is known. */
  private contact = '';
  private initial: AuthSend | undefined;
  private initialFinal = false;
  private notified = false;
  private expiresAt = 0;
  private refreshTimer: TimerHandle | undefined;
  private expiryTimer: TimerHandle | undefined;
  private timerN: TimerHandle | undefined;
  /** After unsubscribing, the dialog stays to answer the notifier's last NOTIFY. */
  private lingerTimer: TimerHandle | undefined;
  private stopping: Promise<void> | undefined;
  /** Resolves once the first SUBSCRIBE's fate is known (a dialog, a failure, or the end). */
  private readonly settled: Promise<void>;
  private settle!: () => void;

  constructor(
    private readonly ctx: UaContext,
    private readonly host: SubscriptionHost,
    /** The resource subscribed to (Request-URI and To). */
    readonly target: string,
    event: string,
    private readonly opts: SubscribeOptions = {},
  ) {
    super(ctx.log.child({ subscription: event }));
    const parsed = parseEvent(event);
    if (!parsed) throw new RangeError(`"${event}" is not an event package name`);
    const expires = opts.expires ?? DEFAULT_SUBSCRIBE_EXPIRES;
    if (!Number.isInteger(expires) || expires <= 0) throw new RangeError('expires must be a positive whole number of seconds');
    this.event = parsed;
    this.wanted = expires;
    this.auth = new Authenticator(ctx.credentials);
    this.settled = new Promise((resolve) => {
      this.settle = resolve;
    });
  }

  get state(): SubscriptionState {
    return this.stateValue;
  }

  get dialog(): Dialog | undefined {
    return this.dialogValue;
  }

  /** Seconds left before the subscription lapses unless refreshed (0 before it was accepted, and after). */
  get expires(): number {
    if (this.stateValue === 'terminated' || !this.expiryTimer) return 0;
    return Math.max(0, Math.ceil((this.expiresAt - this.ctx.clock.now()) / 1000));
  }

  /**
   * Ends the subscription (SUBSCRIBE with Expires: 0) and resolves when the
   * notifier answered; `terminated` fires with `unsubscribed`. A subscription
   * still waiting for its first answer is ended as soon as it has a dialog.
   */
  unsubscribe(): Promise<void> {
    this.stopping ??= this.doUnsubscribe();
    return this.stopping;
  }

  /** @internal Resolves the destination and sends the first SUBSCRIBE. */
  start(): void {
    const go = async (): Promise<void> => {
      const dest = await this.ctx.outOfDialogDest(this.target);
      if (this.stateValue === 'terminated') return;
      this.contact = this.ctx.contactFor(dest);
      this.host.expectNotify(this.callId, this.fromTag, this);
      // §4.1.2.4 Timer N: a subscription that never hears a NOTIFY has failed.
      this.timerN = this.ctx.clock.setTimer(64 * this.ctx.timers.T1, () => this.noNotify());
      this.sendInitial(dest, 2);
    };
    go().catch((err: unknown) => this.finish(`503 ${(err as Error).message}`, { status: 503 }));
  }

  /** @internal Everything on the subscriber's side is torn down (the agent is closing). */
  dispose(): void {
    this.finish('closed', {});
    this.unlinger();
  }

  /** @internal A request in our dialog: a NOTIFY, or something that has no business here. */
  handleRequest(req: SipMessage, tx: ServerTransaction): void {
    const dialog = this.dialogValue;
    if (!dialog) {
      // The first NOTIFY, before the 2xx: it makes the dialog (§4.1.2.4).
      if (req.method !== 'NOTIFY') return void this.reply(tx, req, 481, 'Subscription Does Not Exist');
      return this.onNotify(req, tx, true);
    }
    const verdict = dialog.receiveRequest(req);
    if (!verdict.ok) return void this.reply(tx, req, verdict.status, verdict.reason);
    if (req.method !== 'NOTIFY') return void this.reply(tx, req, 405, 'Method Not Allowed', [['Allow', ALLOW]]);
    this.onNotify(req, tx, false);
  }

  private sendInitial(dest: Peer, tooBriefRetries: number): void {
    const accept = this.opts.accept;
    const build = (): SipMessage =>
      SipMessage.request('SUBSCRIBE', this.target, [
        ['Max-Forwards', '70'],
        ['From', `${this.ctx.localAddress};tag=${this.fromTag}`],
        ['To', `<${this.target}>`],
        ['Call-ID', this.callId],
        ['CSeq', `${this.cseq++} SUBSCRIBE`],
        ['Contact', this.contact],
        ...this.commonHeaders(this.wanted, accept),
      ]);
    this.initialFinal = false;
    this.initial = sendWithAuth(this.ctx.send, this.auth, build, dest, {
      onResponse: (res, req) => {
        if (res.status < 200) return;
        this.initialFinal = true;
        this.onInitialResponse(res, req, dest, tooBriefRetries);
      },
      onTimeout: () => {
        this.initialFinal = true;
        this.initialFailed(408, 'Request Timeout');
      },
      onTransportError: (cause) => {
        this.initialFinal = true;
        this.initialFailed(503, transportFailureReason(cause));
      },
    });
  }

  private commonHeaders(expires: number, accept: string | undefined): [string, string][] {
    return [
      ['Event', formatEvent(this.event)],
      ['Expires', String(expires)],
      ...(accept ? ([['Accept', accept]] as [string, string][]) : []),
      ['Allow', ALLOW],
      ['User-Agent', this.ctx.userAgent],
      ...(this.opts.headers ?? []),
    ];
  }

  private onInitialResponse(res: SipMessage, req: SipMessage, dest: Peer, tooBriefRetries: number): void {
    if (this.stateValue === 'terminated') return;
    const status = res.status;
    if (status >= 300) {
      const min = Number(res.get('min-expires'));
      if (status === 423 && tooBriefRetries > 0 && Number.isInteger(min) && min > this.wanted) {
        this.wanted = min;
        this.sendInitial(dest, tooBriefRetries - 1);
        return;
      }
      if (status === 401 || status === 407) this.ctx.counters.authFailures++;
      // A NOTIFY already made a dialog (a fork that accepted): that one stands.
      if (this.dialogValue) return;
      this.finish(`${status} ${res.reason}`, { status, retryAfter: retryAfterOf(res) });
      return;
    }
    if (!this.dialogValue) {
      try {
        this.dialogValue = Dialog.fromUac(req, res, { localContact: this.contact });
      } catch {
        this.finish('502 Bad Gateway - unusable 2xx', { status: 502 });
        return;
      }
      this.host.bind(this.dialogValue.key, this);
      this.host.expectNotify(this.callId, this.fromTag, undefined);
    } else {
      this.dialogValue.receiveResponse(res);
    }
    this.settle();
    this.granted(res);
  }

  private initialFailed(status: number, reason: string): void {
    if (this.stateValue === 'terminated' || this.dialogValue) return;
    this.finish(`${status} ${reason}`, { status });
  }

  /** A 2xx to one of our SUBSCRIBEs: the expiry it grants (§4.1.2.1: the 2xx's Expires, else what we asked). */
  private granted(res: SipMessage): void {
    const e = parseExpires(res.get('expires'));
    const granted = e === undefined || Number.isNaN(e) ? this.wanted : e;
    this.arm(granted);
    this.emit('accepted', granted);
  }

  /** The subscription lasts `seconds` from now: refresh at 90%, lapse at 100%. */
  private arm(seconds: number): void {
    this.refreshTimer?.cancel();
    this.expiryTimer?.cancel();
    this.expiresAt = this.ctx.clock.now() + seconds * 1000;
    this.refreshTimer = seconds > 0 && !this.stopping ? this.ctx.clock.setTimer(seconds * 900, () => this.refresh(2)) : undefined;
    this.expiryTimer = this.ctx.clock.setTimer(seconds * 1000, () => this.finish('timeout', {}));
  }

  private onNotify(req: SipMessage, tx: ServerTransaction, creates: boolean): void {
    const ev = parseEvent(req.get('event'));
    if (!ev || !sameEvent(ev, this.event)) return void this.reply(tx, req, 489, 'Bad Event', [['Allow-Events', this.event.type]]);
    const ss = parseSubscriptionState(req.get('subscription-state'));
    if (!ss) return void this.reply(tx, req, 400, 'Bad Request - missing or malformed Subscription-State');
    if (creates) {
      if (this.stateValue === 'terminated') return void this.reply(tx, req, 481, 'Subscription Does Not Exist');
      try {
        // We are the UAS of this NOTIFY; our next CSeq continues after the SUBSCRIBEs we sent.
        this.dialogValue = Dialog.fromUas(req, this.fromTag, this.contact, { initialCseq: this.cseq });
      } catch {
        return void this.reply(tx, req, 400, 'Bad Request - NOTIFY cannot make a dialog');
      }
      this.host.bind(this.dialogValue.key, this);
      this.host.expectNotify(this.callId, this.fromTag, undefined);
      this.settle();
    }
    const dialog = this.dialogValue;
    if (!dialog) return void this.reply(tx, req, 481, 'Subscription Does Not Exist');
    const ok = this.reply(tx, req, 200, 'OK', [['Contact', dialog.localContact]]);
    if (creates) dialog.responseSent(ok);
    if (this.stateValue === 'terminated') {
      // The notifier's last word after we unsubscribed: answered, and the dialog can go.
      if (ss.state === 'terminated') this.unlinger();
      return;
    }
    this.notified = true;
    this.timerN?.cancel();
    this.timerN = undefined;
    if (ss.state === 'active' || ss.state === 'pending') {
      this.stateValue = ss.state;
      if (ss.expires !== undefined) this.shorten(ss.expires);
    }
    this.emit('notify', req.body.toString('utf8'), req.get('content-type') ?? '', ss.state);
    if (ss.state === 'terminated') {
      this.finish(this.stopping ? 'unsubscribed' : (ss.reason ?? 'terminated'), { retryAfter: ss.retryAfter });
      this.unlinger();
    }
  }

  /** §4.1.2.2: a notifier may cut the expiry short; it never lengthens what it granted. */
  private shorten(seconds: number): void {
    const now = this.ctx.clock.now();
    const at = now + seconds * 1000;
    if (this.expiryTimer && at >= this.expiresAt - 1000) return;
    this.expiryTimer?.cancel();
    this.expiresAt = at;
    this.expiryTimer = this.ctx.clock.setTimer(seconds * 1000, () => this.finish('timeout', {}));
    if (!this.stopping) {
      this.refreshTimer?.cancel();
      this.refreshTimer = this.ctx.clock.setTimer(seconds * 900, () => this.refresh(2));
    }
  }

  private refresh(tooBriefRetries: number): void {
    this.refreshTimer = undefined;
    if (this.stateValue === 'terminated' || this.stopping || !this.dialogValue) return;
    const work = async (): Promise<void> => {
      const res = await this.inDialog(this.wanted);
      if (this.stateValue === 'terminated' || this.stopping) return;
      const status = res.status;
      if (status < 300) return this.granted(res);
      const min = Number(res.get('min-expires'));
      if (status === 423 && tooBriefRetries > 0 && Number.isInteger(min) && min > this.wanted) {
        this.wanted = min;
        return this.refresh(tooBriefRetries - 1);
      }
      if (status === 481) return this.finish(`${status} ${res.reason}`, { status });
      // §4.1.2.2: any other failure leaves the subscription as it was until it lapses; try again halfway there.
      const left = this.expiresAt - this.ctx.clock.now();
      this.log.info({ status, reason: res.reason }, 'subscription refresh failed');
      if (left > 20_000) this.refreshTimer = this.ctx.clock.setTimer(left / 2, () => this.refresh(tooBriefRetries));
    };
    detach(work(), this.log, 'subscription refresh');
  }

  private inDialog(expires: number): Promise<SipMessage> {
    const dialog = this.dialogValue;
    if (!dialog || dialog.state === 'terminated') return Promise.resolve(SipMessage.response(481, 'Subscription Does Not Exist'));
    return inDialogRequest(this.ctx, this.auth, dialog, () =>
      dialog.createRequest('SUBSCRIBE', { extraHeaders: this.commonHeaders(expires, this.opts.accept) }),
    );
  }

  private async doUnsubscribe(): Promise<void> {
    if (this.stateValue === 'terminated') return;
    this.refreshTimer?.cancel();
    this.refreshTimer = undefined;
    // Still waiting for the first answer: its own timers bound the wait.
    if (!this.dialogValue) await this.settled;
    // The wait may have ended it.
    if ((this.stateValue as SubscriptionState) === 'terminated' || !this.dialogValue) return;
    await this.inDialog(0);
    this.finish('unsubscribed', {});
  }

  private noNotify(): void {
    this.timerN = undefined;
    if (this.notified || this.stateValue === 'terminated') return;
    // Tell a notifier that granted us a subscription it never reported on that we are gone.
    if (this.dialogValue) detach(this.inDialog(0), this.log, 'unsubscribing after no NOTIFY');
    this.finish('408 No NOTIFY', { status: 408 });
  }

  /** The one way it ends: timers stop, the agent forgets it (the dialog may linger for a last NOTIFY), `terminated` fires once. */
  private finish(reason: string, end: SubscriptionEnd): void {
    if (this.stateValue === 'terminated') return;
    this.stateValue = 'terminated';
    for (const t of [this.refreshTimer, this.expiryTimer, this.timerN]) t?.cancel();
    this.refreshTimer = this.expiryTimer = this.timerN = undefined;
    if (this.initial && !this.initialFinal) this.initial.abandon();
    this.host.expectNotify(this.callId, this.fromTag, undefined);
    const dialog = this.dialogValue;
    if (dialog && reason === 'unsubscribed' && dialog.state !== 'terminated') {
      // §4.1.2.3: the notifier answers our Expires: 0 with a final NOTIFY; it deserves a 200, not a 481.
      this.lingerTimer = this.ctx.clock.setTimer(64 * this.ctx.timers.T1, () => this.unlinger());
    } else if (dialog) {
      this.host.unbind(dialog.key, this);
      dialog.terminate();
    }
    this.host.ended(this);
    this.settle();
    this.emit('terminated', reason, end);
  }

  private unlinger(): void {
    this.lingerTimer?.cancel();
    this.lingerTimer = undefined;
    const dialog = this.dialogValue;
    if (!dialog || this.stateValue !== 'terminated') return;
    this.host.unbind(dialog.key, this);
    dialog.terminate();
  }

  private reply(tx: ServerTransaction, req: SipMessage, status: number, reason: string, extra: [string, string][] = []): SipMessage {
    const res = this.ctx.stack.makeResponse(req, status, reason, extra);
    tx.respond(res);
    return res;
  }
}

/** Retry-After's seconds (RFC 3261 §20.33), ignoring its comment and parameters. */
function retryAfterOf(res: SipMessage): number | undefined {
  const m = /^\s*(\d{1,9})/.exec(res.get('retry-after') ?? '');
  return m ? Number(m[1]) : undefined;
}
