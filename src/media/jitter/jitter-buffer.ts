/**
 * Adaptive jitter buffer for one RTP stream of fixed-duration frames.
 *
 * Packets go in with `put` as they arrive; the player calls `get` once per
 * frame interval and receives the next frame, a "missing" slot to conceal, or
 * "waiting" (nothing to play: before the stream starts and in silence between
 * talk spurts). Time is always the caller's: arrival and play times are
 * arguments, so streams can be replayed in virtual time.
 *
 * Schedule. A frame with media time m (its RTP timestamp in ms) is due at
 * m + base + applied delay, where base is the fastest transit recently seen
 * (see DelayEstimator). `get` compares that with `now`; the difference is the
 * schedule error. The player's clock and the sender's never agree exactly, so
 * the error creeps; when it leaves [−½, +1) frame the buffer drops a frame
 * (behind schedule; a lost one if there is one to skip) or conceals one extra
 * without advancing (ahead), at a bounded rate. Both count as `driftAdjust`.
 *
 * Underrun. When nothing at all is buffered the next frame is concealed without
 * advancing, so a packet that is merely late still plays (the delay grows by a
 * frame and is shed later). After 100 ms of underrun the talk spurt is taken to
 * have ended and `get` returns 'waiting' until packets come again.
 *
 * Delay changes. The estimator's target rises at once and falls slowly. A new
 * talk spurt (marker bit, or a timestamp jump meaning the sender was silent)
 * takes the target as it is: the silence absorbs the change. Inside a spurt the
 * applied delay follows a rising target straight away (the extra frames are
 * concealed) and a falling one only a frame at a time, once per second, so a
 * continuous stream without silences still sheds delay it no longer needs.
 *
 * Memory. Slots live in preallocated typed arrays indexed by extended sequence
 * number; a stored payload is the caller's own Uint8Array (kept, not copied),
 * so the per-packet path allocates nothing. Do not reuse a payload buffer
 * after handing it to `put`.
 */
import { clamp, DelayEstimator } from './delay-estimator.js';
import { extendSeq, extendTimestamp } from './unwrap.js';

export interface JitterBufferOptions {
  /** RTP clock rate, Hz (8000 for G.711). */
  clockRate: number;
  /** Samples per packet at the clock rate (160 = 20 ms at 8 kHz). */
  frameSamples: number;
  minDelayMs?: number;
  maxDelayMs?: number;
  initialDelayMs?: number;
}

/**
 * What to play next. The object is reused by the next `get` call (no
 * allocation per frame): read it, do not keep it.
 */
export type JitterResult =
  | { kind: 'frame'; payload: Uint8Array; seq: number }
  /**
   * The decoder must conceal one frame. `lost` is true when packet `seq` will
   * never be played (it did not arrive in time); false when the buffer is
   * stretching time (underrun or a rising delay) and `seq` may still follow.
   */
  | { kind: 'missing'; seq: number; lost: boolean }
  | { kind: 'waiting' };

export interface JitterStats {
  /** Packets handed to `put`, including the ones then dropped. */
  received: number;
  duplicates: number;
  /** Packets that arrived after their slot was played or concealed. */
  late: number;
  /** Sequence numbers that were never played (gaps, late packets, overflow excluded). */
  lost: number;
  /** 'missing' results returned: frames the decoder had to conceal. */
  concealed: number;
  /** Packets dropped because the buffer was full (oldest first). */
  overflow: number;
  /** How long after its earliest possible arrival the last frame was played, ms. */
  currentDelayMs: number;
  /** What the estimator currently asks for, ms. */
  targetDelayMs: number;
  /** Frames dropped or inserted to follow clock drift or step the delay inside a talk spurt. */
  driftAdjust: number;
}

/** Least time between two drops (ms): bounds the audible time compression to ~4 %. */
const DROP_INTERVAL_MS = 500;
/** Least time between two inserted frames (ms): a rising target is reached within a few frames. */
const INSERT_INTERVAL_MS = 40;
/** Inside a talk spurt the applied delay falls by one frame at most this often (ms). */
const SHRINK_INTERVAL_MS = 1000;
/** Consecutive underrun this long (ms) means the talk spurt ended: stop concealing, wait. */
const IDLE_AFTER_MS = 100;
/** The applied delay is lowered only when the target is this much (ms) below it: no hunting around the floor. */
const SHRINK_HYSTERESIS_MS = 2;
/**
 * Schedule error (in frames) that triggers a drop or an insert. The band is
 * lopsided on purpose: playing early eats into the safety margin and makes
 * packets late, playing a little late only costs delay.
 */
const DROP_AT = 1;
const INSERT_AT = -0.5;

const WAITING: JitterResult = Object.freeze({ kind: 'waiting' });
const NO_PAYLOAD = new Uint8Array(0);

export class JitterBuffer {
  private readonly frameMs: number;
  private readonly msPerUnit: number;
  private readonly frameSamples: number;
  private readonly estimator: DelayEstimator;
  private readonly cap: number;
  private readonly mask: number;

  // Slots, indexed by extended sequence & mask. slotSeq = NaN when empty.
  private readonly slotSeq: Float64Array;
  private readonly slotTs: Float64Array;
  private readonly slotMarker: Uint8Array;
  /** 1 = holds a payload waiting to be played; 0 = empty or already played. */
  private readonly slotFull: Uint8Array;
  private readonly slotPayload: (Uint8Array | null)[];
  private buffered = 0;

  private started = false;
  private refSeq = 0;
  private refTs = 0;

  private playing = false;
  /** Next extended sequence number to play. */
  private nextSeq = 0;
  /** Extended RTP timestamp the next frame should have. */
  private playTs = 0;
  private appliedDelayMs: number;
  private lastDropAt = -Infinity;
  private lastInsertAt = -Infinity;
  private lastShrinkAt = -Infinity;
  private underrunMs = 0;
  private lastDelayMs = 0;

  private hasPlayed = false;
  // Results are reused from call to call (no allocation per frame): read one before the next `get`.
  private readonly frameOut: { kind: 'frame'; payload: Uint8Array; seq: number } = { kind: 'frame', payload: NO_PAYLOAD, seq: 0 };
  private readonly missingOut: { kind: 'missing'; seq: number; lost: boolean } = { kind: 'missing', seq: 0, lost: false };

  private s = { received: 0, duplicates: 0, late: 0, lost: 0, concealed: 0, overflow: 0, driftAdjust: 0 };

  constructor(opts: JitterBufferOptions) {
    const { clockRate, frameSamples } = opts;
    if (!(clockRate > 0) || !(frameSamples > 0)) throw new RangeError('clockRate and frameSamples must be positive');
    const minDelayMs = opts.minDelayMs ?? 20;
    const maxDelayMs = Math.max(minDelayMs, opts.maxDelayMs ?? 300);
    const initialDelayMs = clamp(opts.initialDelayMs ?? 60, minDelayMs, maxDelayMs);
    this.frameSamples = frameSamples;
    this.msPerUnit = 1000 / clockRate;
    this.frameMs = frameSamples * this.msPerUnit;
    this.estimator = new DelayEstimator({ minDelayMs, maxDelayMs, initialDelayMs, marginMs: this.frameMs / 2 });
    this.appliedDelayMs = initialDelayMs;
    // Room for twice the largest delay, so reordering at the maximum delay still fits.
    let cap = 8;
    while (cap < (2 * maxDelayMs) / this.frameMs + 2) cap *= 2;
    this.cap = cap;
    this.mask = cap - 1;
    this.slotSeq = new Float64Array(cap).fill(NaN);
    this.slotTs = new Float64Array(cap);
    this.slotMarker = new Uint8Array(cap);
    this.slotFull = new Uint8Array(cap);
    this.slotPayload = new Array<Uint8Array | null>(cap).fill(null);
  }

  /** Stores one arrived packet. `marker` is the RTP marker bit (start of a talk spurt). */
  put(seq: number, rtpTimestamp: number, payload: Uint8Array, arrivalMs: number, marker = false): void {
    this.s.received++;
    let ext: number;
    let extTs: number;
    if (!this.started) {
      this.started = true;
      ext = seq & 0xffff;
      extTs = rtpTimestamp >>> 0;
      this.nextSeq = ext;
    } else {
      ext = extendSeq(seq, this.refSeq);
      extTs = extendTimestamp(rtpTimestamp, this.refTs);
    }
    const idx = ext & this.mask;
    if (this.slotSeq[idx] === ext) {
      this.s.duplicates++;
      return;
    }
    if (ext > this.refSeq || this.s.received === 1) {
      this.refSeq = ext;
      this.refTs = extTs;
    }
    this.estimator.update(arrivalMs - extTs * this.msPerUnit, this.frameMs);

    if (ext < this.nextSeq) {
      if (this.hasPlayed || this.refSeq - ext >= this.cap) {
        this.s.late++;
        return;
      }
      // Reordered before play-out began: the stream starts earlier than we thought.
      this.nextSeq = ext;
    }
    // Too far ahead for the slots: give up the oldest frames to make room.
    while (ext - this.nextSeq >= this.cap) {
      const old = this.nextSeq & this.mask;
      if (this.slotFull[old] === 1 && this.slotSeq[old] === this.nextSeq) {
        this.clearSlot(old);
        this.s.overflow++;
      } else {
        this.s.lost++;
      }
      this.nextSeq++;
      this.playTs += this.frameSamples;
    }
    if (this.slotFull[idx] === 1) {
      // Slot still holds an older frame the wrap has made stale (already skipped).
      this.clearSlot(idx);
    }
    this.slotSeq[idx] = ext;
    this.slotTs[idx] = extTs;
    this.slotMarker[idx] = marker ? 1 : 0;
    this.slotFull[idx] = 1;
    this.slotPayload[idx] = payload;
    this.buffered++;
  }

  /** Called once per frame interval by the player. */
  get(nowMs: number): JitterResult {
    if (!this.playing) return this.startSpurt(nowMs);

    const est = this.estimator.targetMs;
    if (est > this.appliedDelayMs) {
      this.appliedDelayMs = est;
    } else if (est < this.appliedDelayMs - SHRINK_HYSTERESIS_MS && nowMs - this.lastShrinkAt >= SHRINK_INTERVAL_MS) {
      this.appliedDelayMs = Math.max(est, this.appliedDelayMs - this.frameMs);
      this.lastShrinkAt = nowMs;
    }

    for (;;) {
      const idx = this.nextSeq & this.mask;
      const present = this.slotFull[idx] === 1 && this.slotSeq[idx] === this.nextSeq;
      const error = nowMs - this.dueAt(this.playTs);

      if (!present) {
        if (this.buffered === 0) return this.underrun();
        this.underrunMs = 0;
        this.s.lost++;
        this.nextSeq++;
        this.playTs += this.frameSamples;
        // Behind schedule: a lost frame is the cheapest one to skip.
        if (error >= DROP_AT * this.frameMs && nowMs - this.lastDropAt >= DROP_INTERVAL_MS) {
          this.lastDropAt = nowMs;
          this.s.driftAdjust++;
          continue;
        }
        return this.missing(this.nextSeq - 1, true);
      }
      this.underrunMs = 0;

      const ts = this.slotTs[idx];
      if (this.slotMarker[idx] === 1 || ts > this.playTs + this.frameSamples / 2) {
        // A new talk spurt: restart the schedule at the current target.
        this.playing = false;
        return this.startSpurt(nowMs);
      }
      if (error >= DROP_AT * this.frameMs && nowMs - this.lastDropAt >= DROP_INTERVAL_MS && this.hasFollower()) {
        this.lastDropAt = nowMs;
        this.s.driftAdjust++;
        this.consume(idx);
        continue;
      }
      if (error <= INSERT_AT * this.frameMs && nowMs - this.lastInsertAt >= INSERT_INTERVAL_MS) {
        this.lastInsertAt = nowMs;
        this.s.driftAdjust++;
        return this.missing(this.nextSeq, false);
      }
      return this.play(idx, nowMs);
    }
  }

  /**
   * The payload the next `get` would play, if it is already buffered (it
   * stays buffered). Right after a 'missing' result with `lost` true this is
   * the packet following the lost one, which is what a codec with in-band
   * FEC (Opus) rebuilds the lost frame from.
   */
  peekNext(): Uint8Array | undefined {
    const idx = this.nextSeq & this.mask;
    return this.slotFull[idx] === 1 && this.slotSeq[idx] === this.nextSeq ? (this.slotPayload[idx] as Uint8Array) : undefined;
  }

  stats(): JitterStats {
    return {
      ...this.s,
      currentDelayMs: this.lastDelayMs,
      targetDelayMs: this.estimator.targetMs,
    };
  }

  /** Not playing: wait for the first buffered frame's due time, then play it. */
  private startSpurt(nowMs: number): JitterResult {
    if (this.buffered === 0) return WAITING;
    // Frames between the last played one and the first buffered one never came.
    let idx = this.nextSeq & this.mask;
    while (!(this.slotFull[idx] === 1 && this.slotSeq[idx] === this.nextSeq)) {
      this.s.lost++;
      this.nextSeq++;
      idx = this.nextSeq & this.mask;
    }
    this.appliedDelayMs = this.estimator.targetMs;
    const ts = this.slotTs[idx];
    if (nowMs < this.dueAt(ts) - this.frameMs / 2) return WAITING;
    this.playing = true;
    this.underrunMs = 0;
    this.playTs = ts;
    return this.play(idx, nowMs);
  }

  private underrun(): JitterResult {
    this.underrunMs += this.frameMs;
    if (this.underrunMs > IDLE_AFTER_MS) {
      // The sender went quiet (or the stream ended): the next packet starts a new spurt.
      this.playing = false;
      return WAITING;
    }
    return this.missing(this.nextSeq, false);
  }

  private missing(ext: number, lost: boolean): JitterResult {
    this.s.concealed++;
    this.missingOut.seq = ext & 0xffff;
    this.missingOut.lost = lost;
    return this.missingOut;
  }

  private play(idx: number, nowMs: number): JitterResult {
    const payload = this.slotPayload[idx] as Uint8Array;
    const seq = this.nextSeq & 0xffff;
    this.lastDelayMs = nowMs - (this.slotTs[idx] * this.msPerUnit + this.estimator.baseMs);
    this.consume(idx);
    this.hasPlayed = true;
    this.frameOut.payload = payload;
    this.frameOut.seq = seq;
    return this.frameOut;
  }

  /** Marks the frame at nextSeq played (its slot remembers the number, to spot late duplicates). */
  private consume(idx: number): void {
    this.slotFull[idx] = 0;
    this.slotPayload[idx] = null;
    this.buffered--;
    this.playTs = this.slotTs[idx] + this.frameSamples;
    this.nextSeq++;
  }

  private clearSlot(idx: number): void {
    this.slotFull[idx] = 0;
    this.slotPayload[idx] = null;
    this.buffered--;
  }

  private hasFollower(): boolean {
    const next = (this.nextSeq + 1) & this.mask;
    return this.slotFull[next] === 1 && this.slotSeq[next] === this.nextSeq + 1;
  }

  /** When the frame with extended timestamp `ts` should be played. */
  private dueAt(ts: number): number {
    return ts * this.msPerUnit + this.estimator.baseMs + this.appliedDelayMs;
  }
}
