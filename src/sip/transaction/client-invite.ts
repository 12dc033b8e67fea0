/**
 * INVITE client transaction, RFC 3261 §17.1.1 (figure 5).
 * The ACK for a 2xx is the TU's job; the ACK for 3xx-6xx is built here.
 */
import type { SipMessage } from '../message.js';
import type { Peer } from '../transport/types.js';
import { TransactionBase } from './base.js';
import { buildAck } from './messages.js';
import { TIMER_D_UNRELIABLE } from './timers.js';
import { afterFinal, type ClientHandlers, type ClientInviteState, type ClientTransaction, type TxContext } from './types.js';

export class ClientInviteTransaction extends TransactionBase<ClientInviteState> implements ClientTransaction {
  state: ClientInviteState = 'calling';
  private readonly timerA = this.timer();
  private readonly timerB = this.timer();
  private intervalA: number;
  private ack: SipMessage | undefined;

  constructor(
    readonly id: string,
    readonly key: string,
    public request: SipMessage,
    readonly dest: Peer,
    private handlers: ClientHandlers,
    ctx: TxContext,
  ) {
    super(dest, ctx);
    this.intervalA = ctx.timers.T1;
  }

  /** Sends the INVITE. A send failure is reported on the next tick so the caller holds the transaction first. */
  start(): void {
    if (!this.sendFirst(this.request)) return;
    if (!this.reliable) this.timerA.start(this.intervalA, () => this.onTimerA());
    this.timerB.start(64 * this.ctx.timers.T1, () => this.onTimerB());
  }

  /** §17.1.1.2: the interval doubles after every retransmission, with no T2 cap for INVITE. */
  private onTimerA(): void {
    if (this.state !== 'calling' || !this.transmit(this.request)) return;
    this.intervalA *= 2;
    this.timerA.start(this.intervalA, () => this.onTimerA());
  }

  private onTimerB(): void {
    if (this.state !== 'calling') return;
    this.finish();
    this.handlers.onTimeout();
    this.handlers.onTerminated?.();
  }

  receive(res: SipMessage): void {
    const status = res.status;
    if (this.state === 'calling' || this.state === 'proceeding') {
      if (status < 200) {
        // Proceeding has no timers: from now on the TU (or a proxy's Timer C) decides.
        this.timerA.stop();
        this.timerB.stop();
        this.state = 'proceeding';
        this.handlers.onResponse(res);
      } else if (status < 300) {
        this.finish();
        this.handlers.onResponse(res);
        this.handlers.onTerminated?.();
      } else {
        this.timerA.stop();
        this.timerB.stop();
        this.state = 'completed';
        const ack = buildAck(this.request, res);
        // Over UDP the ACK is kept for Timer D to answer retransmitted finals: frozen before its only serialization.
        this.ack = this.reliable ? ack : ack.freeze();
        // If the ACK cannot be sent the final response still reaches the TU;
        // there is just nothing left for the transaction to do.
        let sent = true;
        try {
          this.ctx.send(this.ack, this.dest);
        } catch {
          sent = false;
        }
        if (this.reliable || !sent) {
          this.finish();
          this.handlers.onResponse(res);
          this.handlers.onTerminated?.();
          return;
        }
        this.terminateAfter(TIMER_D_UNRELIABLE);
        this.request = this.request.freeze(false);
        const handlers = this.handlers;
        this.handlers = afterFinal(handlers);
        handlers.onResponse(res);
      }
    } else if (this.state === 'completed' && status >= 300 && this.ack) {
      // A retransmitted final means our ACK was lost: send it again, tell nobody.
      this.transmit(this.ack);
    }
  }

  protected notifyTransportError(cause?: Error): void {
    if (this.handlers.onTransportError) this.handlers.onTransportError(cause);
    else this.handlers.onTimeout();
  }

  protected notifyTerminated(): void {
    this.handlers.onTerminated?.();
  }
}
