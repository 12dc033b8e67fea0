/**
 * fail2ban's jail for digest logins: remembers when each source last failed,
 * and says when one has failed `maxFailures` times within `findTime`.
 */
import type { BanPolicy } from '../../config/schema.js';

/** Spoofed UDP sources are unbounded; this table is not. */
const MAX_SOURCES = 100_000;

export class FailedLogins {
  /** Address → times (monotonic ms) of its failures inside the window, oldest first. */
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly policy: BanPolicy) {}

  /** Records one failure at `now`; true when the source has now failed too often (and is forgotten here). */
  fail(address: string, now: number): boolean {
    const windowStart = now - this.policy.findTime * 1000;
    let times = this.failures.get(address);
    if (!times) {
      if (this.failures.size >= MAX_SOURCES) this.sweep(windowStart);
      times = [];
      this.failures.set(address, times);
    }
    while (times.length > 0 && times[0] <= windowStart) times.shift();
    times.push(now);
    if (times.length < this.policy.maxFailures) return false;
    this.failures.delete(address);
    return true;
  }

  /** Failures inside the window (for the ban's description). */
  count(address: string): number {
    return this.failures.get(address)?.length ?? 0;
  }

  private sweep(windowStart: number): void {
    for (const [address, times] of this.failures) if (times[times.length - 1] <= windowStart) this.failures.delete(address);
    if (this.failures.size < MAX_SOURCES) return;
    // Still full of live sources: an attack from very many addresses. Forget the oldest half.
    let drop = this.failures.size >> 1;
    for (const address of this.failures.keys()) {
      if (drop-- <= 0) break;
      this.failures.delete(address);
    }
  }
}
