/**
 * RFC 3261 §17 timer values and a tiny holder for one running timer.
 * Every timer goes through the injected Clock so tests walk them in virtual time.
 */
import type { Clock, TimerHandle } from '../../util/clock.js';

export interface TimerValues {
  /** RTT estimate: first retransmission interval (A, E, G). */
  T1: number;
  /** Cap on the non-INVITE request and INVITE response retransmission interval. */
  T2: number;
  /** How long a message may linger in the network (I, K). */
  T4: number;
}

export const DEFAULT_TIMERS: Readonly<TimerValues> = { T1: 500, T2: 4000, T4: 5000 };

/**
 * Timer D is "at least 32 s" on unreliable transports (§17.1.1.2), a fixed
 * floor rather than a multiple of T1, so a smaller T1 does not shorten it.
 */
export const TIMER_D_UNRELIABLE = 32_000;

/** Delay after which an INVITE server transaction sends 100 Trying by itself (§17.2.1). */
export const DEFAULT_TRYING_DELAY = 200;

export function resolveTimers(partial: Partial<TimerValues> | undefined): TimerValues {
  const t = { ...DEFAULT_TIMERS, ...partial };
  for (const name of ['T1', 'T2', 'T4'] as const) {
    if (!Number.isFinite(t[name]) || t[name] <= 0) throw new RangeError(`Timer ${name} must be a positive number of ms`);
  }
  if (t.T2 < t.T1) throw new RangeError('Timer T2 must not be smaller than T1');
  return t;
}

/** One named timer of a transaction: starting it again replaces the previous run. */
export class TimerSlot {
  private handle: TimerHandle | undefined;

  constructor(private readonly clock: Clock) {}

  start(ms: number, fn: () => void): void {
    this.handle?.cancel();
    this.handle = this.clock.setTimer(ms, () => {
      this.handle = undefined;
      fn();
    });
  }

  stop(): void {
    this.handle?.cancel();
    this.handle = undefined;
  }

  get running(): boolean {
    return this.handle !== undefined;
  }
}
