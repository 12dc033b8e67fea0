/** Non-INVITE server transaction, RFC 3261 §17.2.2 (figure 8). */
import type { SipMessage } from '../message.js';
import type { Peer } from '../transport/types.js';
import { TransactionBase } from './base.js';
import type { ServerNonInviteState, ServerTransaction, TxContext } from './types.js';

export class ServerNonInviteTransaction extends TransactionBase<ServerNonInviteState> implements ServerTransaction {
  state: ServerNonInviteState = 'trying';
  lastResponse: SipMessage | undefined;

  constructor(
    readonly id: string,
    readonly key: string,
    readonly legacy: boolean,
    public request: SipMessage,
    readonly source: Peer,
    ctx: TxContext,
  ) {
    super(source, ctx);
  }

  respond(res: SipMessage): boolean {
    if (res.status < 100 || (this.state !== 'trying' && this.state !== 'proceeding')) return false;
    if (res.status < 200) {
      this.lastResponse = res;
      this.state = 'proceeding';
      return this.transmit(res);
    }
    this.state = 'completed';
    if (this.reliable) {
      this.lastResponse = res;
      if (!this.transmit(res)) return false;
      this.terminate();
      return true;
    }
    // Kept for Timer J to answer retransmitted requests: frozen before its only serialization.
    const frozen = res.freeze();
    this.lastResponse = frozen;
    if (!this.transmit(frozen)) return false;
    this.terminateAfter(64 * this.ctx.timers.T1);
    this.request = this.request.freeze(false);
    return true;
  }

  /** Trying absorbs silently; later states resend the last response (§17.2.2). */
  receiveRetransmission(): void {
    if ((this.state === 'proceeding' || this.state === 'completed') && this.lastResponse) this.transmit(this.lastResponse);
  }

  protected notifyTransportError(): void {
    this.ctx.server.transportError?.(this);
  }

  protected notifyTerminated(): void {
    this.ctx.server.terminated?.(this);
  }
}
