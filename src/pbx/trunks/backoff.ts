/**
 * How long a trunk waits before it tries to register again after a failure:
 * doubling from a first delay up to a ceiling, each wait jittered so many
 * PBXs behind one carrier outage do not come back in step.
 */

export interface BackoffOptions {
  firstMs: number;
  maxMs: number;
  /** Each wait is spread over ±jitter of itself (0.2 = ±20%). */
  jitter: number;
  /** A number in [0, 1): Math.random unless a test makes it repeatable. */
  random?: () => number;
}

export const TRUNK_BACKOFF: BackoffOptions = { firstMs: 5_000, maxMs: 300_000, jitter: 0.2 };

export class Backoff {
  private failures = 0;
  private readonly random: () => number;

  constructor(private readonly opts: BackoffOptions = TRUNK_BACKOFF) {
    this.random = opts.random ?? Math.random;
  }

  /** The wait after one more failure. */
  next(): number {
    const base = Math.min(this.opts.maxMs, this.opts.firstMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    const spread = base * this.opts.jitter * (2 * this.random() - 1);
    return Math.max(0, Math.round(base + spread));
  }

  /** Back to the first delay (after a success). */
  reset(): void {
    this.failures = 0;
  }

  /** Failures in a row so far. */
  get count(): number {
    return this.failures;
  }
}
