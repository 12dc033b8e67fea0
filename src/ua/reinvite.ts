/**
 * A call's re-INVITEs, one offer/answer at a time (RFC 3261 §14.1): our
 * hold and resume, the glare wait after a 491 (§14.1: 2.1-4 s for the
 * Call-ID's owner, 0-2 s for the other side), and the 2xx we sent to the
 * peer's INVITE that still waits for its ACK. Whoever wants to start an
 * exchange waits its turn in whenIdle().
 */
import type { Dialog } from '../sip/dialog/index.js';
import type { SipMessage } from '../sip/message.js';
import type { TimerValues } from '../sip/transaction/index.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { CallEnd } from './call.js';
import { ALLOW, SUPPORTED } from './context.js';
import { CallEndedError, SipStatusError } from './errors.js';
import type { MediaHandler } from './media-handler.js';
import { OkRetransmitter } from './ok-retransmit.js';

/** What the machine needs from its call (its one owner), given at construction. */
export interface ReinviteHost {
  readonly clock: Clock;
  readonly timers: TimerValues;
  readonly userAgent: string;
  /** Re-INVITEs run only in an answered call. */
  isAnswered(): boolean;
  isEnded(): boolean;
  /** The call's dialog; throws CallStateError when the call is not answered. */
  requireAnswered(): Dialog;
  media(): MediaHandler | undefined;
  /** An in-dialog request with authenticated retries; resolves with its final response. */
  request(build: () => SipMessage): Promise<SipMessage>;
  sendAck(cseq: number): void;
  /** Headers our re-INVITEs carry beyond Allow and Supported (the session timer's). */
  extraHeaders(): [string, string][];
  /** Our re-INVITE was answered (`res`) and its answer applied: we now hold (or not). */
  reinvited(hold: boolean, res: SipMessage): void;
  /** The exchange failed so that the call cannot go on: BYE in the background. */
  bye(info: CallEnd): void;
  /** The dialog is gone (481): end the call without a BYE. */
  end(info: CallEnd): void;
}

/** Our 2xx to an INVITE, resent until its ACK comes. */
export interface PendingAck {
  cseq: number;
  /** Our 2xx carried the offer: the answer comes in the ACK. */
  expectAnswer: boolean;
  onAck: () => void;
}

export class ReinviteMachine {
  /** Our re-INVITE is out and unanswered. */
  private busy = false;
  private pending: (PendingAck & { retransmit: OkRetransmitter }) | undefined;
  private idleWaiters: (() => void)[] = [];
  private glareTimer: TimerHandle | undefined;
  /** The attempt the glare timer will make: stop() makes it at once, so its caller hears the call ended. */
  private glareRetry: (() => void) | undefined;

  constructor(private readonly host: ReinviteHost) {}

  /** Our own re-INVITE is waiting for its answer (a peer's INVITE now gets 491). */
  get sending(): boolean {
    return this.busy;
  }

  /** The 2xx we sent to an INVITE still waits for its ACK. */
  get pendingAck(): PendingAck | undefined {
    return this.pending;
  }

  /** Sends a re-INVITE offering `hold` (sendonly) or not, when the previous exchange is done. */
  async reinvite(hold: boolean): Promise<void> {
    this.host.requireAnswered();
    await this.whenIdle();
    const dialog = this.host.requireAnswered();
    const media = this.host.media();
    if (!media) throw new Error('the call has no media');
    return new Promise<void>((resolve, reject) => {
      const attempt = (): void => {
        this.glareTimer = undefined;
        this.glareRetry = undefined;
        if (!this.host.isAnswered()) {
          this.wakeIdle();
          return reject(new CallEndedError());
        }
        if (this.pending) {
          // The peer's re-INVITE got in first during our glare wait: ours follows its ACK.
          this.idleWaiters.unshift(attempt);
          return;
        }
        this.busy = true;
        let offer: string;
        try {
          offer = media.createOffer({ hold });
        } catch (err) {
          this.busy = false;
          this.wakeIdle();
          return reject(err);
        }
        const build = (): SipMessage =>
          dialog.createRequest('INVITE', {
            body: offer,
            contentType: 'application/sdp',
            extraHeaders: [['Allow', ALLOW], ['Supported', SUPPORTED], ...this.host.extraHeaders(), ['User-Agent', this.host.userAgent]],
          });
        this.host.request(build).then((res) => {
          this.busy = false;
          // Runs after this handler has settled the outcome (or armed the glare timer).
          queueMicrotask(() => this.wakeIdle());
          if (!this.host.isAnswered()) return reject(new CallEndedError());
          const status = res.status;
          if (status < 300) {
            this.host.sendAck(res.cseq.seq);
            try {
              media.setAnswer(res.body.toString('utf8'));
            } catch (err) {
              this.host.bye({ status: 488, reason: (err as Error).message, by: 'error' });
              return reject(err);
            }
            this.host.reinvited(hold, res);
            return resolve();
          }
          if (status === 491) {
            const owner = dialog.role === 'uac';
            const wait = owner ? 2100 + Math.random() * 1900 : Math.random() * 2000;
            this.glareTimer = this.host.clock.setTimer(wait, attempt);
            this.glareRetry = attempt;
            return;
          }
          if (status === 481 || status === 408) {
            if (status === 481) this.host.end({ status, reason: res.reason, by: 'error' });
            else this.host.bye({ status, reason: res.reason, by: 'error' });
          }
          reject(new SipStatusError(status, res.reason));
        }).catch(reject);
      };
      attempt();
    });
  }

  /** Resends our 2xx (`resend`) until its ACK; BYE if none comes in 64*T1. */
  awaitAck(ack: PendingAck, resend: () => void): void {
    const retransmit = new OkRetransmitter(this.host.clock, this.host.timers, resend, () => {
      this.pending = undefined;
      queueMicrotask(() => this.wakeIdle());
      this.host.bye({ status: 408, reason: 'No ACK for our 200 OK', by: 'error' });
    });
    this.pending = { ...ack, retransmit };
    retransmit.start();
  }

  /** The ACK for the pending 2xx came: stop resending it; the next exchange may start. */
  acked(): void {
    this.pending?.retransmit.stop();
    this.pending = undefined;
    queueMicrotask(() => this.wakeIdle());
  }

  /** The call ended: no more resending or glare wait; every waiter wakes (and finds the call ended). */
  stop(): void {
    this.pending?.retransmit.stop();
    this.pending = undefined;
    this.glareTimer?.cancel();
    this.glareTimer = undefined;
    // A hold() or resume() waiting out a glare would otherwise never settle.
    const retry = this.glareRetry;
    this.glareRetry = undefined;
    retry?.();
    queueMicrotask(() => this.wakeIdle());
  }

  /** True while an offer/answer exchange is open (ours, theirs awaiting ACK, or a glare wait). */
  private get negotiating(): boolean {
    return this.busy || this.pending !== undefined || this.glareTimer !== undefined;
  }

  /** Resolves when no offer/answer exchange is open, one waiter per turn. */
  private async whenIdle(): Promise<void> {
    for (let turn = 0; this.negotiating && turn < 100; turn++) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
  }

  private wakeIdle(): void {
    const ended = this.host.isEnded();
    if (this.negotiating && !ended) return;
    this.idleWaiters.shift()?.();
    if (ended) for (const w of this.idleWaiters.splice(0)) w();
  }
}
