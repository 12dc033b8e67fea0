/**
 * What the four RFC 3261 §17 machines share: sending through the transport
 * with a failure turned into a transport error, and the way every machine
 * ends (stop its timers, leave the layer, tell the TU).
 */
import type { SipMessage } from '../message.js';
import { isReliable, type Peer } from '../transport/types.js';
import { TimerSlot, type WaitQueue } from './timers.js';
import type { TxContext } from './types.js';

export abstract class TransactionBase<State extends string> {
  abstract state: State | 'terminated';
  protected readonly reliable: boolean;
  private readonly timers: TimerSlot[] = [];
  /** The queue this transaction waits out its last interval in, if it does. */
  private waitingIn: WaitQueue | undefined;

  constructor(
    /** Where this transaction sends: the request's destination, or the source of a request we serve. */
    protected readonly peer: Peer,
    protected readonly ctx: TxContext,
  ) {
    this.reliable = isReliable(peer.proto);
  }

  /** A timer that stops when the transaction ends. */
  protected timer(): TimerSlot {
    const slot = new TimerSlot(this.ctx.clock);
    this.timers.push(slot);
    return slot;
  }

  get ended(): boolean {
    return this.state === 'terminated';
  }

  /** Ends the transaction `ms` from now unless something ends it first (Timers D, I, J, K, L). */
  protected terminateAfter(ms: number): void {
    this.waitingIn = this.ctx.waitQueue(ms);
    this.waitingIn.add(this);
  }

  protected abstract notifyTransportError(cause?: Error): void;
  protected abstract notifyTerminated(): void;

  terminate(): void {
    if (this.state === 'terminated') return;
    this.finish();
    this.notifyTerminated();
  }

  transportError(cause?: Error): void {
    if (this.state === 'terminated') return;
    this.finish();
    this.notifyTransportError(cause);
    this.notifyTerminated();
  }

  /** Sends; a throwing transport ends the transaction as a transport error (§8.1.3.1, §17.1.4). */
  protected transmit(msg: SipMessage): boolean {
    try {
      this.ctx.send(msg, this.peer);
      return true;
    } catch (err) {
      this.transportError(err instanceof Error ? err : undefined);
      return false;
    }
  }

  /**
   * The first send of a client request. A failure is reported on the next
   * tick, so the caller already holds the transaction when it hears of it.
   */
  protected sendFirst(msg: SipMessage): boolean {
    try {
      this.ctx.send(msg, this.peer);
      return true;
    } catch (err) {
      this.ctx.clock.setTimer(0, () => this.transportError(err instanceof Error ? err : undefined));
      return false;
    }
  }

  protected finish(): void {
    this.state = 'terminated';
    for (const t of this.timers) t.stop();
    const queue = this.waitingIn;
    if (queue) {
      this.waitingIn = undefined;
      queue.ended();
    }
    this.ctx.release(this);
  }
}
