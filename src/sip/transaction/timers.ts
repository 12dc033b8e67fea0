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

/** What a WaitQueue ends: a transaction in its last state. */
export interface Waiting {
  /** True once the transaction ended by other means (then it is skipped). */
  readonly ended: boolean;
  terminate(): void;
}

/**
 * Transactions waiting out one fixed interval before they end (Timers D, I,
 * J, K, L: nothing else can happen to them but absorbing retransmissions).
 * A busy proxy holds a hundred thousand of them; one clock timer for the
 * whole queue instead of one per transaction saves the timer objects and
 * closures, and since the interval is fixed the queue is in deadline order.
 */
export class WaitQueue {
  private readonly items: (Waiting | undefined)[] = [];
  private readonly deadlines: number[] = [];
  private head = 0;
  /** Entries not yet ended: when none is left the clock timer is cancelled. */
  private live = 0;
  private timer: TimerHandle | undefined;
  /** Inside expire(): terminate() may call back into add() and ended(). */
  private expiring = false;

  constructor(
    private readonly clock: Clock,
    readonly intervalMs: number,
  ) {}

  add(w: Waiting): void {
    this.items.push(w);
    this.deadlines.push(this.clock.now() + this.intervalMs);
    this.live++;
    if (!this.timer && !this.expiring) this.arm();
  }

  /** One of the queued transactions ended early; it stays in the queue, skipped, until its turn or the queue empties. */
  ended(): void {
    this.live--;
    if (this.live === 0 && !this.expiring) this.clear();
  }

  get size(): number {
    return this.live;
  }

  private arm(): void {
    const delay = Math.max(0, this.deadlines[this.head] - this.clock.now());
    this.timer = this.clock.setTimer(delay, () => this.expire());
  }

  private expire(): void {
    this.timer = undefined;
    const now = this.clock.now();
    this.expiring = true;
    try {
      while (this.head < this.items.length && this.deadlines[this.head] <= now) {
        const w = this.items[this.head];
        this.items[this.head] = undefined;
        this.head++;
        // terminate() reports back through ended(), which counts it.
        if (w && !w.ended) w.terminate();
      }
    } finally {
      // Even when a TU callback threw: the rest of the queue must still end on time.
      this.expiring = false;
      this.rearm();
    }
  }

  private rearm(): void {
    if (this.live === 0) {
      this.clear();
      return;
    }
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.deadlines.splice(0, this.head);
      this.head = 0;
    }
    if (!this.timer) this.arm();
  }

  private clear(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.items.length = 0;
    this.deadlines.length = 0;
    this.head = 0;
  }
}
