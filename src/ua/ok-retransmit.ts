/**
 * RFC 3261 §13.3.1.4: the UAS core, not the transaction, resends a 2xx to
 * an INVITE until the ACK comes: T1, doubling up to T2, for 64*T1 in all.
 */
import type { TimerValues } from '../sip/transaction/index.js';
import type { Clock, TimerHandle } from '../util/clock.js';

export class OkRetransmitter {
  private timer: TimerHandle | undefined;
  private deadline: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly timers: TimerValues,
    private readonly resend: () => void,
    private readonly giveUp: () => void,
  ) {}

  start(): void {
    this.schedule(this.timers.T1);
    this.deadline = this.clock.setTimer(64 * this.timers.T1, () => {
      this.stop();
      this.giveUp();
    });
  }

  private schedule(interval: number): void {
    this.timer = this.clock.setTimer(interval, () => {
      this.resend();
      this.schedule(Math.min(2 * interval, this.timers.T2));
    });
  }

  stop(): void {
    this.timer?.cancel();
    this.deadline?.cancel();
    this.timer = undefined;
    this.deadline = undefined;
  }
}
