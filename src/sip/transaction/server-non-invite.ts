/** Non-INVITE server transaction, RFC 3261 §17.2.2 (figure 8). */
import type { SipMessage } from '../message.js';
import { isReliable, type Peer } from '../transport/types.js';
import { TimerSlot } from './timers.js';
import type { ServerNonInviteState, ServerTransaction, TxContext } from './types.js';

export class ServerNonInviteTransaction implements ServerTransaction {
  state: ServerNonInviteState = 'trying';
  lastResponse: SipMessage | undefined;
  onAckTimeout?: () => void;
  onTransportError?: () => void;
  onTerminated?: () => void;
  private readonly reliable: boolean;
  private readonly timerJ: TimerSlot;

  constructor(
    readonly id: string,
    readonly key: string,
    readonly legacy: boolean,
    public request: SipMessage,
    readonly source: Peer,
    private readonly ctx: TxContext,
  ) {
    this.reliable = isReliable(source.proto);
    this.timerJ = new TimerSlot(ctx.clock);
  }

  respond(res: SipMessage): boolean {
    if (res.status < 100 || (this.state !== 'trying' && this.state !== 'proceeding')) return false;
    this.lastResponse = res;
    if (res.status < 200) {
      this.state = 'proceeding';
      return this.transmit(res);
    }
    this.state = 'completed';
    if (!this.transmit(res)) return false;
    if (this.reliable) this.terminate();
    else {
      this.timerJ.start(64 * this.ctx.timers.T1, () => this.terminate());
      this.lastResponse = res.freeze();
      this.request = this.request.freeze();
    }
    return true;
  }

  /** Trying absorbs silently; later states resend the last response (§17.2.2). */
  receiveRetransmission(): void {
    if ((this.state === 'proceeding' || this.state === 'completed') && this.lastResponse) this.transmit(this.lastResponse);
  }

  terminate(): void {
    if (this.state === 'terminated') return;
    this.finish();
    this.onTerminated?.();
  }

  transportError(): void {
    if (this.state === 'terminated') return;
    this.finish();
    this.onTransportError?.();
    this.onTerminated?.();
  }

  private transmit(msg: SipMessage): boolean {
    try {
      this.ctx.send(msg, this.source);
      return true;
    } catch {
      this.transportError();
      return false;
    }
  }

  private finish(): void {
    this.state = 'terminated';
    this.timerJ.stop();
    this.ctx.release(this);
  }
}
