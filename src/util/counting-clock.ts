/**
 * A Clock that counts its live timers (set, and neither fired nor
 * cancelled). The PBX runs on one so `switchboard status` can show that a
 * call which ended left nothing scheduled behind it: a timer still pending
 * after every call is over is a leak.
 */
import type { Clock, TimerHandle } from './clock.js';

export class CountingClock implements Clock {
  private liveTimers = 0;

  constructor(private readonly inner: Clock) {}

  /** Timers set and not yet fired or cancelled. */
  get live(): number {
    return this.liveTimers;
  }

  now(): number {
    return this.inner.now();
  }

  wallNow(): number {
    return this.inner.wallNow();
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    let pending = true;
    const settle = (): void => {
      if (!pending) return;
      pending = false;
      this.liveTimers--;
    };
    this.liveTimers++;
    const handle = this.inner.setTimer(ms, () => {
      settle();
      fn();
    });
    return {
      cancel: () => {
        settle();
        handle.cancel();
      },
    };
  }
}
