/**
 * The notifier's side of one subscription (RFC 6665 §4.2): a SUBSCRIBE
 * offered to the agent's owner, who accepts it (200, a dialog, and at once
 * a NOTIFY with the state it gives) or rejects it. An accepted subscription
 * is refreshed by in-dialog SUBSCRIBEs (each answered with a NOTIFY of the
 * current state), ends on Expires: 0, on expiry, or when its owner ends it,
 * always with a final NOTIFY saying terminated. NOTIFYs go one at a time.
 */
import { Dialog, newTag } from '../sip/dialog/index.js';
import type { SipMessage } from '../sip/message.js';
import type { ServerTransaction } from '../sip/transaction/index.js';
import type { TimerHandle } from '../util/clock.js';
import { Emitter } from '../util/emitter.js';
import { detach } from '../util/log.js';
import { Authenticator } from './auth-retry.js';
import { ALLOW, type DialogUser, type SubscriptionHost, type UaContext } from './context.js';
import { SubscriptionStateError } from './errors.js';
import { formatEvent, parseEvent, parseExpires, sameEvent, type EventHeader } from './event-header.js';
import { inDialogRequest } from './in-dialog.js';
import { DEFAULT_SUBSCRIBE_EXPIRES } from './subscription.js';

/** A SUBSCRIBE nobody decided on within this long gets 480 (its sender's Timer F would fire at 32 s). */
export const SUBSCRIBE_DECIDE_MS = 8000;

export type IncomingSubscriptionState = 'offered' | 'active' | 'terminated';

export type IncomingSubscriptionEvents = {
  /** The subscriber refreshed: the expiry now granted, in seconds. */
  refreshed: [expires: number];
  /**
   * Over: `unsubscribed` (Expires: 0), `timeout` (not refreshed in time),
   * the reason given to terminate(), `rejected`, or the failure of a NOTIFY
   * (`481 Call/Transaction Does Not Exist`, `408 Request Timeout` ...).
   */
  terminated: [reason: string];
};

export class IncomingSubscription extends Emitter<IncomingSubscriptionEvents> implements DialogUser {
  /** The package subscribed to (lower-cased) and its id parameter. */
  readonly event: string;
  readonly eventId: string | undefined;
  /** The subscriber's URI and display name (From), the resource (To) and the Request-URI. */
  readonly from: string;
  readonly fromDisplayName: string | undefined;
  readonly to: string;
  readonly uri: string;
  /** The expiry the SUBSCRIBE asked for (3600 when it named none); 0 is a one-time fetch. */
  readonly requestedExpires: number;
  /** Body types the subscriber reads (its Accept), lower-cased. */
  readonly accepts: string[];
  private readonly eventHeader: EventHeader;
  private readonly localTag = newTag();
  private readonly auth: Authenticator;
  private dialogValue: Dialog | undefined;
  private stateValue: IncomingSubscriptionState = 'offered';
  private maxExpires = 0;
  private expiresAt = 0;
  private expiryTimer: TimerHandle | undefined;
  private decideTimer: TimerHandle | undefined;
  private resource: { body: string; contentType: string } | undefined;
  /** NOTIFYs go one at a time, in order (§4.2.2). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly ctx: UaContext,
    private readonly host: SubscriptionHost,
    /** The SUBSCRIBE. */
    readonly request: SipMessage,
    private readonly tx: ServerTransaction,
    event: EventHeader,
    requestedExpires: number | undefined,
  ) {
    super(ctx.log.child({ callId: request.callId, subscription: event.type }));
    this.eventHeader = event;
    this.event = event.type;
    this.eventId = event.id;
    const from = request.from;
    this.from = from.uri;
    this.fromDisplayName = from.displayName;
    this.to = request.to.uri;
    this.uri = request.uri;
    this.requestedExpires = requestedExpires ?? DEFAULT_SUBSCRIBE_EXPIRES;
    this.accepts = request.getAll('accept').map((a) => a.split(';', 1)[0].trim().toLowerCase());
    this.auth = new Authenticator(ctx.credentials);
    this.decideTimer = ctx.clock.setTimer(SUBSCRIBE_DECIDE_MS, () => {
      this.decideTimer = undefined;
      if (this.stateValue !== 'offered') return;
      this.log.warn('a SUBSCRIBE was neither accepted nor rejected in time; answered 480');
      this.reject(480, 'Temporarily Unavailable');
    });
  }

  get state(): IncomingSubscriptionState {
    return this.stateValue;
  }

  get dialog(): Dialog | undefined {
    return this.dialogValue;
  }

  /** Seconds left before the subscription lapses unless the subscriber refreshes it. */
  get expires(): number {
    if (this.stateValue !== 'active') return 0;
    return Math.max(0, Math.ceil((this.expiresAt - this.ctx.clock.now()) / 1000));
  }

  /**
   * Accepts: 200 with the expiry granted (what was asked, at most
   * `maxExpires`), then at once a NOTIFY with `body` (the resource's state
   * now; a NOTIFY without a body when none is given). A SUBSCRIBE with
   * Expires: 0 is a fetch: one NOTIFY saying terminated, and it is over.
   */
  accept(maxExpires = this.requestedExpires, body?: string, contentType?: string): void {
    if (this.stateValue !== 'offered') return;
    if (!Number.isInteger(maxExpires) || maxExpires < 0) throw new RangeError('maxExpires must be a whole number of seconds');
    if (body !== undefined && !contentType) throw new RangeError('a NOTIFY body needs its content type');
    this.decideTimer?.cancel();
    const granted = Math.min(this.requestedExpires, maxExpires);
    this.maxExpires = maxExpires;
    const contact = this.ctx.contactFor(this.tx.source);
    const dialog = Dialog.fromUas(this.request, this.localTag, contact);
    this.dialogValue = dialog;
    // §12.1.1: the 2xx that makes the dialog carries the SUBSCRIBE's Record-Route, so the subscriber learns the same route set.
    const recordRoute = this.request.getAll('record-route').map((v): [string, string] => ['Record-Route', v]);
    const res = this.ctx.stack.makeResponse(this.request, 200, 'OK', [...recordRoute, ['Expires', String(granted)], ['Contact', contact]], this.localTag);
    this.tx.respond(res);
    dialog.responseSent(res);
    if (body !== undefined && contentType) this.resource = { body, contentType };
    if (granted === 0) {
      detach(this.finish('timeout', 'timeout'), this.log, 'NOTIFY of a fetch');
      return;
    }
    this.stateValue = 'active';
    this.host.bind(dialog.key, this);
    this.arm(granted);
    detach(this.sendNotify(() => this.activeState()), this.log, 'first NOTIFY');
  }

  /** Refuses the SUBSCRIBE with a 3xx-6xx (403 by default); `headers` for a 423's Min-Expires and the like. */
  reject(status = 403, reason?: string, headers: [string, string][] = []): void {
    if (this.stateValue !== 'offered') return;
    if (status < 300 || status > 699) throw new RangeError(`reject needs a 3xx-6xx status, not ${status}`);
    this.decideTimer?.cancel();
    this.stateValue = 'terminated';
    const text = reason ?? (status === 489 ? 'Bad Event' : status === 403 ? 'Forbidden' : 'Rejected');
    this.tx.respond(this.ctx.stack.makeResponse(this.request, status, text, headers, this.localTag));
    this.host.ended(this);
    this.emit('terminated', 'rejected');
  }

  /**
   * Sends the resource's new state; resolves with the subscriber's status.
   * A NOTIFY answered 481, 408 or not at all ends the subscription (§4.2.2).
   */
  notify(body: string, contentType: string): Promise<number> {
    if (this.stateValue !== 'active') return Promise.reject(new SubscriptionStateError(this.stateValue));
    this.resource = { body, contentType };
    return this.sendNotify(() => this.activeState());
  }

  /** Ends the subscription with a final NOTIFY (terminated; `reason`: noresource, deactivated, rejected ...). */
  async terminate(reason = 'noresource', body?: string, contentType?: string): Promise<void> {
    if (this.stateValue === 'offered') return this.reject(403);
    if (this.stateValue !== 'active') return;
    if (body !== undefined && contentType) this.resource = { body, contentType };
    await this.finish(reason, reason);
  }

  /** @internal The agent is closing. */
  dispose(): void {
    this.decideTimer?.cancel();
    this.expiryTimer?.cancel();
    if (this.stateValue === 'offered') this.reject(503, 'Service Unavailable');
    if (this.stateValue === 'active') {
      this.stateValue = 'terminated';
      if (this.dialogValue) this.host.unbind(this.dialogValue.key, this);
      this.host.ended(this);
      this.emit('terminated', 'closed');
    }
  }

  /** @internal A request in our dialog: SUBSCRIBE refreshes or ends the subscription. */
  handleRequest(req: SipMessage, tx: ServerTransaction): void {
    const dialog = this.dialogValue;
    if (!dialog) return this.reply(tx, req, 481, 'Subscription Does Not Exist');
    const verdict = dialog.receiveRequest(req);
    if (!verdict.ok) return this.reply(tx, req, verdict.status, verdict.reason);
    if (req.method !== 'SUBSCRIBE') return this.reply(tx, req, 405, 'Method Not Allowed', [['Allow', ALLOW]]);
    const ev = parseEvent(req.get('event'));
    if (!ev || !sameEvent(ev, this.eventHeader)) return this.reply(tx, req, 489, 'Bad Event', [['Allow-Events', this.event]]);
    const asked = parseExpires(req.get('expires'));
    if (asked !== undefined && Number.isNaN(asked)) return this.reply(tx, req, 400, 'Bad Request - malformed Expires');
    if (this.stateValue !== 'active') return this.reply(tx, req, 481, 'Subscription Does Not Exist');
    const granted = Math.min(asked ?? DEFAULT_SUBSCRIBE_EXPIRES, this.maxExpires);
    this.reply(tx, req, 200, 'OK', [['Expires', String(granted)], ['Contact', dialog.localContact]]);
    if (granted === 0) {
      detach(this.finish('unsubscribed', 'timeout'), this.log, 'final NOTIFY');
      return;
    }
    this.arm(granted);
    // §4.2.1.2: every accepted refresh is followed by a NOTIFY of the current state.
    detach(this.sendNotify(() => this.activeState()), this.log, 'NOTIFY after a refresh');
    this.emit('refreshed', granted);
  }

  private arm(seconds: number): void {
    this.expiryTimer?.cancel();
    this.expiresAt = this.ctx.clock.now() + seconds * 1000;
    this.expiryTimer = this.ctx.clock.setTimer(seconds * 1000, () => {
      this.expiryTimer = undefined;
      detach(this.finish('timeout', 'timeout'), this.log, 'final NOTIFY');
    });
  }

  private activeState(): string {
    return `active;expires=${this.expires}`;
  }

  /** Over for `reason` (reported), with a final NOTIFY saying terminated;reason=`notifyReason`. */
  private async finish(reason: string, notifyReason: string): Promise<void> {
    this.stateValue = 'terminated';
    this.expiryTimer?.cancel();
    this.expiryTimer = undefined;
    if (this.dialogValue) this.host.unbind(this.dialogValue.key, this);
    this.host.ended(this);
    this.emit('terminated', reason);
    await this.sendNotify(() => `terminated;reason=${notifyReason}`);
  }

  private sendNotify(subscriptionState: () => string): Promise<number> {
    const run = async (): Promise<number> => {
      const dialog = this.dialogValue;
      if (!dialog || dialog.state === 'terminated') return 481;
      const state = this.resource;
      const res = await inDialogRequest(this.ctx, this.auth, dialog, () =>
        dialog.createRequest('NOTIFY', {
          body: state?.body,
          contentType: state?.contentType,
          extraHeaders: [
            ['Event', formatEvent(this.eventHeader)],
            ['Subscription-State', subscriptionState()],
            ['User-Agent', this.ctx.userAgent],
          ],
        }),
      );
      const status = res.status;
      if (this.stateValue === 'active' && (status === 481 || status === 408 || status === 489 || status === 503)) {
        this.stateValue = 'terminated';
        this.expiryTimer?.cancel();
        this.expiryTimer = undefined;
        this.host.unbind(dialog.key, this);
        this.host.ended(this);
        this.emit('terminated', `${status} ${res.reason}`);
      }
      return status;
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private reply(tx: ServerTransaction, req: SipMessage, status: number, reason: string, extra: [string, string][] = []): void {
    tx.respond(this.ctx.stack.makeResponse(req, status, reason, extra));
  }
}
