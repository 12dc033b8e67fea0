/**
 * INVITE server transaction, RFC 3261 §17.2.1 (figure 7) with the RFC 6026
 * Accepted state: after a 2xx the transaction stays for Timer L so that a
 * retransmitted INVITE is absorbed instead of looking like a new call, and
 * further 2xx (retransmissions, other forks) still go out through it.
 */
import type { SipMessage } from '../message.js';
import type { Peer } from '../transport/types.js';
import { TransactionBase } from './base.js';
import { buildTrying } from './messages.js';
import type { ServerInviteState, ServerTransaction, TxContext } from './types.js';

export class ServerInviteTransaction extends TransactionBase<ServerInviteState> implements ServerTransaction {
  state: ServerInviteState = 'proceeding';
  lastResponse: SipMessage | undefined;
  /** Auto 100 Trying while proceeding; Timer G while completed. */
  private readonly retransmit = this.timer();
  /** Timer H (completed): the ACK is overdue. Timers I and L wait in the layer's queue. */
  private readonly timerH = this.timer();
  private intervalG: number;

  constructor(
    readonly id: string,
    readonly key: string,
    readonly legacy: boolean,
    public request: SipMessage,
    readonly source: Peer,
    ctx: TxContext,
  ) {
    super(source, ctx);
    this.intervalG = ctx.timers.T1;
    if (ctx.autoTrying) {
      this.retransmit.start(ctx.tryingDelay, () => {
        if (this.state === 'proceeding' && !this.lastResponse) this.respond(buildTrying(this.request));
      });
    }
  }

  /** The To tag an ACK for our final response carries (§17.2.3, RFC 2543 matching). */
  get responseToTag(): string {
    return this.lastResponse?.toTag ?? this.request.toTag ?? '';
  }

  respond(res: SipMessage): boolean {
    const status = res.status;
    if (status < 100) return false;
    if (this.state === 'proceeding') {
      this.retransmit.stop(); // the TU spoke: no automatic 100 any more
      this.lastResponse = res;
      if (status < 200) return this.transmit(res);
      const T1 = this.ctx.timers.T1;
      if (status < 300) {
        this.state = 'accepted';
        this.terminateAfter(64 * T1);
        return this.transmitFinal(res);
      }
      this.state = 'completed';
      if (!this.reliable) this.retransmit.start(this.intervalG, () => this.onTimerG());
      this.timerH.start(64 * T1, () => this.onTimerH());
      return this.transmitFinal(res);
    }
    if (this.state === 'accepted' && status >= 200 && status < 300) {
      this.lastResponse = res;
      return this.transmitFinal(res);
    }
    return false;
  }

  /**
   * Sends a final response and keeps only frozen stand-ins for the wait
   * states: in completed the whole response, which a retransmitted INVITE or
   * Timer G sends again (frozen before its only serialization); in accepted
   * just its To tag, since the UAS itself retransmits a 2xx (RFC 6026).
   */
  private transmitFinal(res: SipMessage): boolean {
    const completed = this.state === 'completed';
    const out = completed ? res.freeze() : res;
    const ok = this.transmit(out);
    if (this.state !== 'terminated') {
      this.lastResponse = completed ? out : res.freeze(false);
      this.request = this.request.freeze(false);
    }
    return ok;
  }

  /** A retransmitted INVITE: resend the last provisional (proceeding) or final (completed). */
  receiveRetransmission(): void {
    if ((this.state === 'proceeding' || this.state === 'completed') && this.lastResponse) this.transmit(this.lastResponse);
  }

  /**
   * 'absorbed' when the ACK ends this transaction's business (ACK for our
   * 3xx-6xx, or a stray one before any final), 'pass' when it acknowledges a
   * 2xx and belongs to the TU (RFC 6026 §8.7).
   */
  receiveAck(): 'absorbed' | 'pass' {
    if (this.state === 'accepted') return 'pass';
    if (this.state !== 'completed') return 'absorbed';
    this.retransmit.stop();
    this.timerH.stop();
    if (this.reliable) {
      this.terminate();
      return 'absorbed';
    }
    this.state = 'confirmed';
    this.terminateAfter(this.ctx.timers.T4);
    return 'absorbed';
  }

  /** §17.2.1: Timer G doubles up to T2. */
  private onTimerG(): void {
    if (this.state !== 'completed' || !this.lastResponse || !this.transmit(this.lastResponse)) return;
    this.intervalG = Math.min(2 * this.intervalG, this.ctx.timers.T2);
    this.retransmit.start(this.intervalG, () => this.onTimerG());
  }

  private onTimerH(): void {
    if (this.state !== 'completed') return;
    this.finish();
    this.ctx.server.ackTimeout?.(this);
    this.ctx.server.terminated?.(this);
  }

  override transportError(cause?: Error): void {
    if (this.state === 'terminated') return;
    // RFC 6026 §8.8: a failed 2xx does not end the Accepted state; the TU may retry.
    if (this.state === 'accepted') {
      this.ctx.server.transportError?.(this);
      return;
    }
    super.transportError(cause);
  }

  protected notifyTransportError(): void {
    this.ctx.server.transportError?.(this);
  }

  protected notifyTerminated(): void {
    this.ctx.server.terminated?.(this);
  }
}
