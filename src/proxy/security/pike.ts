/**
 * Flood detection in the manner of Kamailio's pike module: each source
 * address has a token bucket that refills at `requestsPerSecond` up to
 * `burst`; every message takes a token, and a source that finds its bucket
 * empty is flooding.
 */
import type { PikePolicy } from '../../config/schema.js';

const MAX_SOURCES = 100_000;

interface Bucket {
  tokens: number;
  /** Monotonic ms of the last refill. */
  at: number;
}

export class Pike {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;
  /** A bucket idle this long is full again, the same as no bucket: it may be forgotten. */
  private readonly refillMs: number;

  constructor(private readonly policy: PikePolicy) {
    this.perMs = policy.requestsPerSecond / 1000;
    this.refillMs = Math.ceil(policy.burst / this.perMs);
  }

  /** Takes a token for one message from `address`; false when the source is over its rate. */
  take(address: string, now: number): boolean {
    let b = this.buckets.get(address);
    if (!b) {
      if (this.buckets.size >= MAX_SOURCES) this.sweep(now);
      b = { tokens: this.policy.burst, at: now };
      this.buckets.set(address, b);
    } else if (now > b.at) {
      b.tokens = Math.min(this.policy.burst, b.tokens + (now - b.at) * this.perMs);
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  forget(address: string): void {
    this.buckets.delete(address);
  }

  private sweep(now: number): void {
    for (const [address, b] of this.buckets) if (now - b.at >= this.refillMs) this.buckets.delete(address);
    if (this.buckets.size < MAX_SOURCES) return;
    let drop = this.buckets.size >> 1;
    for (const address of this.buckets.keys()) {
      if (drop-- <= 0) break;
      this.buckets.delete(address);
    }
  }
}
