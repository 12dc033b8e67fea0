/**
 * Lets the first event of a kind from one source be logged, then stays quiet
 * about that key for a window: a flood of garbage or a retransmitted bad
 * request costs one log line per source per window, not one per packet.
 */
import type { Clock } from './clock.js';

export interface Admission {
  /** Log this one. */
  log: boolean;
  /** How many were kept quiet for this key since it was last logged. */
  suppressed: number;
}

interface Entry {
  until: number;
  suppressed: number;
}

export class LogThrottle {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly clock: Clock,
    private readonly windowMs = 60_000,
    /** Spoofed UDP sources are unbounded; the table is not. */
    private readonly maxKeys = 10_000,
  ) {}

  admit(key: string): Admission {
    const now = this.clock.now();
    const e = this.entries.get(key);
    if (e && e.until > now) {
      e.suppressed++;
      return { log: false, suppressed: e.suppressed };
    }
    const suppressed = e?.suppressed ?? 0;
    if (!e && this.entries.size >= this.maxKeys) this.sweep(now);
    this.entries.set(key, { until: now + this.windowMs, suppressed: 0 });
    return { log: true, suppressed };
  }

  private sweep(now: number): void {
    for (const [k, e] of this.entries) if (e.until <= now) this.entries.delete(k);
    // Still full of live keys: forget the oldest half rather than grow.
    if (this.entries.size >= this.maxKeys) {
      let drop = this.entries.size >> 1;
      for (const k of this.entries.keys()) {
        if (drop-- <= 0) break;
        this.entries.delete(k);
      }
    }
  }
}
