/**
 * Turns received RFC 4733 telephone-event packets into key presses.
 *
 * One key arrives as many packets with the same RTP timestamp: a start
 * (marker), updates with growing duration, and usually three copies of the
 * end packet. The receiver reports each key exactly once — when its first
 * end packet arrives, or at its first packet with `emitOn: 'start'` — and
 * survives what the network does: a lost first packet (any packet of a new
 * timestamp starts the key), duplicates and redundant ends (the key is
 * already done), late packets of an older key (ignored), and a lost end (the
 * key is closed when a later key's timestamp shows up, or by `tick(nowMs)`
 * once no packet has arrived for `timeoutMs`).
 */
import { eventToDigit, type DtmfDigit, type DtmfListener } from './digits.js';
import type { TelephoneEvent } from './telephone-event.js';

export interface DtmfReceiverOptions {
  /** RTP clock of the telephone-event payload type, to turn durations into ms. */
  clockRate?: number;
  /** 'end' (default) reports the true duration; 'start' reacts sooner with the duration known so far. */
  emitOn?: 'start' | 'end';
  /** A key whose end never came is closed after this long without packets. */
  timeoutMs?: number;
  onDigit: DtmfListener;
}

/** Signed distance a→b on a wrapping counter of `bits` bits (RFC 3550 style serial arithmetic). */
function serialDiff(a: number, b: number, bits: 16 | 32): number {
  if (bits === 16) return (((b - a) & 0xffff) << 16) >> 16;
  return (b - a) | 0;
}

export class DtmfReceiver {
  private readonly clockRate: number;
  private readonly emitOnStart: boolean;
  private readonly timeoutMs: number;
  private readonly onDigit: DtmfListener;

  /** The key being received or last received; `active` false when none yet. */
  private active = false;
  private ts = 0;
  private event = -1;
  private digit: DtmfDigit = '0';
  private duration = 0;
  private emitted = false;
  private ended = false;
  private lastSeenMs = 0;
  private highestSeq = 0;
  private nowMs = 0;

  /** Packets ignored as duplicates, redundant ends or late arrivals; for metrics. */
  ignored = 0;

  constructor(opts: DtmfReceiverOptions) {
    this.clockRate = opts.clockRate ?? 8000;
    this.emitOnStart = opts.emitOn === 'start';
    this.timeoutMs = opts.timeoutMs ?? 250;
    this.onDigit = opts.onDigit;
  }

  /**
   * Feeds one decoded packet. `nowMs` is the arrival time on the caller's
   * clock; without it the last `tick()` time is used.
   */
  push(ev: TelephoneEvent, timestamp: number, sequence: number, nowMs?: number): void {
    if (nowMs !== undefined) this.nowMs = nowMs;
    const digit = eventToDigit(ev.event);
    if (digit === undefined) {
      // Flash, fax tones and the like are not keys.
      this.ignored++;
      return;
    }
    timestamp >>>= 0;
    sequence &= 0xffff;

    if (this.active) {
      const seqAhead = serialDiff(this.highestSeq, sequence, 16) > 0;
      if (seqAhead) this.highestSeq = sequence;
      if (timestamp === this.ts && ev.event === this.event) {
        this.update(ev);
        return;
      }
      // A packet of an older key arriving late. A timestamp that jumps back
      // while the sequence moves on is a restarted stream, so that is a new key.
      if (serialDiff(this.ts, timestamp, 32) < 0 && !seqAhead) {
        this.ignored++;
        return;
      }
      // A new key: whatever was in progress lost its end packets.
      this.finish();
    } else {
      this.highestSeq = sequence;
    }

    this.active = true;
    this.ts = timestamp;
    this.event = ev.event;
    this.digit = digit;
    this.duration = ev.duration;
    this.emitted = false;
    this.ended = false;
    this.lastSeenMs = this.nowMs;
    if (ev.end) {
      // Every packet before the end was lost.
      this.ended = true;
      this.emit();
    } else if (this.emitOnStart) {
      this.emit();
    }
  }

  /** Closes a key whose end packets were all lost once `timeoutMs` passed without packets. */
  tick(nowMs: number): void {
    this.nowMs = nowMs;
    if (this.active && !this.ended && nowMs - this.lastSeenMs >= this.timeoutMs) this.finish();
  }

  /** True while a key is held (started, not yet ended or timed out). */
  get pressed(): boolean {
    return this.active && !this.ended;
  }

  private update(ev: TelephoneEvent): void {
    if (this.ended) {
      // The second and third end packet, or a duplicate.
      this.ignored++;
      return;
    }
    this.lastSeenMs = this.nowMs;
    if (ev.duration > this.duration) this.duration = ev.duration;
    if (ev.end) {
      this.ended = true;
      this.duration = ev.duration;
      this.emit();
    }
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.emit();
  }

  private emit(): void {
    if (this.emitted) return;
    this.emitted = true;
    this.onDigit({ digit: this.digit, source: 'rfc4733', durationMs: Math.round((this.duration * 1000) / this.clockRate) });
  }
}
