/**
 * Target play-out delay from measured network delay variation.
 *
 * Every packet gives a transit time: arrival minus the media time its RTP
 * timestamp stands for. Only differences matter (the two clocks have unrelated
 * origins), so the fastest transit in a recent window is taken as the base and
 * each packet's "relative delay" is how much later than that it came. The
 * target is a high percentile of the relative delays plus a safety margin: a
 * buffer that holds that much absorbs all but the rarest spikes.
 *
 * The target rises at once when a packet arrives later than the target allows
 * (spikes must be absorbed quickly or speech breaks up) and falls back with a
 * time constant of several seconds once the network calms down, so a single
 * quiet second does not undo what a bursty link taught us.
 *
 * A percentile of a window is used rather than RFC 3550 jitter × k because the
 * RFC estimator averages |D| and therefore underestimates the long tail that
 * decides lateness.
 */

/** Recent transits kept: about 2.5 s of 20 ms packets. */
export const WINDOW = 128;
/** Percentile of the relative delays the target covers. */
export const QUANTILE = 0.99;
/** The window percentile is recomputed every this many packets (sorting is the costly part). */
const RECOMPUTE_EVERY = 4;
/** Time constant (ms of media) for the target falling towards a lower estimate. */
export const SHRINK_TIME_CONSTANT_MS = 8000;

export interface DelayEstimatorOptions {
  minDelayMs: number;
  maxDelayMs: number;
  initialDelayMs: number;
  /** Safety margin added to the measured percentile, ms. */
  marginMs: number;
}

export class DelayEstimator {
  private readonly ring = new Float64Array(WINDOW);
  private readonly scratch = new Float64Array(WINDOW);
  private count = 0;
  private next = 0;
  private sinceRecompute = 0;
  private minTransit = Infinity;
  /** The estimate of the window alone (percentile + margin, clamped). */
  private windowTarget: number;
  private target: number;

  constructor(private readonly opts: DelayEstimatorOptions) {
    this.target = clamp(opts.initialDelayMs, opts.minDelayMs, opts.maxDelayMs);
    this.windowTarget = this.target;
  }

  /** Fastest transit in the window (ms); the reference the play-out schedule is built on. */
  get baseMs(): number {
    return this.minTransit;
  }

  get targetMs(): number {
    return this.target;
  }

  /**
   * Records one packet's transit (arrival ms − media ms) and how much media it
   * carried (ms), which paces the slow fall of the target.
   */
  update(transitMs: number, packetMs: number): void {
    const evicted = this.count === WINDOW ? this.ring[this.next] : Infinity;
    this.ring[this.next] = transitMs;
    this.next = (this.next + 1) % WINDOW;
    if (this.count < WINDOW) this.count++;

    if (transitMs <= this.minTransit) {
      this.minTransit = transitMs;
    } else if (evicted === this.minTransit) {
      this.minTransit = minOf(this.ring, this.count);
    }

    const { minDelayMs, maxDelayMs, marginMs } = this.opts;
    // A spike: this packet alone demands more than the current target.
    const needed = transitMs - this.minTransit + marginMs;
    if (needed > this.target) this.target = Math.min(maxDelayMs, needed);

    if (++this.sinceRecompute >= RECOMPUTE_EVERY) {
      this.sinceRecompute = 0;
      this.windowTarget = clamp(this.percentile() - this.minTransit + marginMs, minDelayMs, maxDelayMs);
      if (this.windowTarget > this.target) this.target = this.windowTarget;
    }
    if (this.windowTarget < this.target) {
      this.target += (this.windowTarget - this.target) * Math.min(1, packetMs / SHRINK_TIME_CONSTANT_MS);
    }
  }

  private percentile(): number {
    const n = this.count;
    const s = this.scratch;
    for (let i = 0; i < WINDOW; i++) s[i] = i < n ? this.ring[i] : Infinity;
    s.sort();
    return s[Math.floor(QUANTILE * (n - 1))];
  }
}

function minOf(a: Float64Array, n: number): number {
  let m = Infinity;
  for (let i = 0; i < n; i++) if (a[i] < m) m = a[i];
  return m;
}

export function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
