/** Non-INVITE client transaction, RFC 3261 §17.1.2 (figure 6). */
import type { SipMessage } from '../message.js';
import type { Peer } from '../transport/types.js';
import { TransactionBase } from './base.js';
import { afterFinal, type ClientHandlers, type ClientNonInviteState, type ClientTransaction, type TxContext } from './types.js';

export class ClientNonInviteTransaction extends TransactionBase<ClientNonInviteState> implements ClientTransaction {
  state: ClientNonInviteState = 'trying';
  private readonly timerE = this.timer();
  private readonly timerF = this.timer();
  private intervalE: number;

  constructor(
    readonly id: string,
    readonly key: string,
    public request: SipMessage,
    readonly dest: Peer,
    private handlers: ClientHandlers,
    ctx: TxContext,
  ) {
    super(dest, ctx);
    this.intervalE = ctx.timers.T1;
  }

  start(): void {
    if (!this.sendFirst(this.request)) return;
    if (!this.reliable) this.timerE.start(this.intervalE, () => this.onTimerE());
    this.timerF.start(64 * this.ctx.timers.T1, () => this.onTimerF());
  }

  /** Trying: the interval doubles up to T2. Proceeding: every T2 (§17.1.2.2). */
  private onTimerE(): void {
    if ((this.state !== 'trying' && this.state !== 'proceeding') || !this.transmit(this.request)) return;
    const T2 = this.ctx.timers.T2;
    this.intervalE = this.state === 'proceeding' ? T2 : Math.min(2 * this.intervalE, T2);
    this.timerE.start(this.intervalE, () => this.onTimerE());
  }

  private onTimerF(): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    this.finish();
    this.handlers.onTimeout();
    this.handlers.onTerminated?.();
  }

  receive(res: SipMessage): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return; // Completed absorbs retransmissions.
    if (res.status < 200) {
      this.state = 'proceeding';
      this.handlers.onResponse(res);
      return;
    }
    if (this.reliable) {
      this.finish();
      this.handlers.onResponse(res);
      this.handlers.onTerminated?.();
      return;
    }
    this.state = 'completed';
    this.timerE.stop();
    this.timerF.stop();
    this.terminateAfter(this.ctx.timers.T4);
    this.request = this.request.freeze(false);
    const handlers = this.handlers;
    this.handlers = afterFinal(handlers);
    handlers.onResponse(res);
  }

  protected notifyTransportError(cause?: Error): void {
    if (this.handlers.onTransportError) this.handlers.onTransportError(cause);
    else this.handlers.onTimeout();
  }

  protected notifyTerminated(): void {
    this.handlers.onTerminated?.();
  }
}
