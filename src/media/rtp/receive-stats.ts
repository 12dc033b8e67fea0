/**
 * Receiver statistics for one RTP source, following RFC 3550 Appendix A:
 * A.1 sequence tracking (probation, wrap-around, dropouts and restarts),
 * A.3 loss (cumulative, and the fraction lost between two reports) and
 * A.8 interarrival jitter. Plus the LSR/DLSR bookkeeping for the report
 * blocks we send and the round-trip time from report blocks we receive.
 *
 * Time is always an argument: arrival and report times come from the
 * caller's injected Clock, so tests replay traces in virtual time. Per-packet
 * work (`onPacket`) touches only numbers — no allocation.
 */
import type { ReportBlock } from './rtcp.js';
import { msToNtpShort, ntpMiddle32, ntpShortToMs } from './ntp.js';

/** Packets in sequence needed before a new source is believed (A.1). */
export const MIN_SEQUENTIAL = 2;
/** A forward jump smaller than this is loss, not a restart (A.1). */
export const MAX_DROPOUT = 3000;
/** A backward jump smaller than this is reordering or a duplicate (A.1). */
export const MAX_MISORDER = 100;
const RTP_SEQ_MOD = 1 << 16;

export class ReceiveStats {
  /** Highest sequence number seen (16 bits). */
  private maxSeq = 0;
  /** Sequence number wrap count, pre-shifted: a multiple of 65536. */
  private cycles = 0;
  private baseSeq = 0;
  /** The sequence number that, arriving next, confirms a restart (A.1); 65537 = none. */
  private badSeq = RTP_SEQ_MOD + 1;
  private probationLeft = MIN_SEQUENTIAL;
  private receivedCount = 0;
  private expectedPrior = 0;
  private receivedPrior = 0;

  /** Jitter state (A.8). The previous packet's arrival (timestamp units) and RTP timestamp. */
  private haveTransit = false;
  private lastArrival = 0;
  private lastTimestamp = 0;
  private jitterUnits = 0;

  /** Last SR received from this source: its NTP middle 32 bits and our (monotonic) arrival time. */
  private lastSr = 0;
  private lastSrArrivalMs = 0;

  /**
   * @param ssrc the source these statistics describe
   * @param clockRate its RTP clock in Hz (8000 for PCMU, 48000 for Opus ...)
   * @param firstSequence sequence number of the first packet seen (A.1: the
   *   source starts on probation with max_seq one below it)
   */
  constructor(
    readonly ssrc: number,
    readonly clockRate: number,
    firstSequence: number,
  ) {
    this.initSeq(firstSequence);
    this.maxSeq = (firstSequence - 1) & 0xffff;
    this.probationLeft = MIN_SEQUENTIAL;
  }

  private initSeq(seq: number): void {
    this.baseSeq = seq;
    this.maxSeq = seq;
    this.badSeq = RTP_SEQ_MOD + 1;
    this.cycles = 0;
    this.receivedCount = 0;
    this.receivedPrior = 0;
    this.expectedPrior = 0;
  }

  /**
   * A.1 update_seq. Returns false while the source is still on probation or
   * when the packet is a jump the source has not confirmed yet; the caller
   * should not play such packets. Duplicates and reordered packets return
   * true and count as received, as in the RFC (which can make loss negative).
   */
  private updateSeq(seq: number): boolean {
    const udelta = (seq - this.maxSeq) & 0xffff;
    if (this.probationLeft > 0) {
      // The RFC's `seq == max_seq + 1` overflows at 65535 in C's int promotion; mask it.
      if (seq === ((this.maxSeq + 1) & 0xffff)) {
        this.probationLeft--;
        this.maxSeq = seq;
        if (this.probationLeft === 0) {
          this.initSeq(seq);
          this.receivedCount++;
          return true;
        }
      } else {
        this.probationLeft = MIN_SEQUENTIAL - 1;
        this.maxSeq = seq;
      }
      return false;
    }
    if (udelta < MAX_DROPOUT) {
      // In order, with a permissible gap.
      if (seq < this.maxSeq) this.cycles += RTP_SEQ_MOD;
      this.maxSeq = seq;
    } else if (udelta <= RTP_SEQ_MOD - MAX_MISORDER) {
      // A very large jump: believe it only if the next packet follows it.
      if (seq === this.badSeq) {
        // Two sequential packets: the source restarted without telling us.
        this.initSeq(seq);
        // Its timestamps restarted too, so the old transit time means nothing.
        this.haveTransit = false;
      } else {
        this.badSeq = (seq + 1) & (RTP_SEQ_MOD - 1);
        return false;
      }
    }
    // else: duplicate or reordered packet.
    this.receivedCount++;
    return true;
  }

  /**
   * Accounts for one arriving data packet. `arrivalMs` is the local receive
   * time in milliseconds (a monotonic Clock.now() is right; only differences
   * matter). Returns false if the packet should be dropped (see updateSeq).
   */
  onPacket(sequence: number, rtpTimestamp: number, arrivalMs: number): boolean {
    if (!this.updateSeq(sequence & 0xffff)) return false;
    // A.8 with arrival converted to timestamp units. D is computed from the
    // two differences, with the RTP timestamp difference taken as a signed
    // 32-bit number so a timestamp wrap does not look like a 2^32 jump.
    const arrival = (arrivalMs * this.clockRate) / 1000;
    const ts = rtpTimestamp >>> 0;
    if (this.haveTransit) {
      const d = arrival - this.lastArrival - ((ts - this.lastTimestamp) | 0);
      this.jitterUnits += (Math.abs(d) - this.jitterUnits) / 16;
    }
    this.haveTransit = true;
    this.lastArrival = arrival;
    this.lastTimestamp = ts;
    return true;
  }

  /** True until MIN_SEQUENTIAL packets in sequence have been seen. */
  get onProbation(): boolean {
    return this.probationLeft > 0;
  }

  /** Packets counted as received (duplicates included, probation packets not). */
  get received(): number {
    return this.receivedCount;
  }

  /** Extended highest sequence number: wrap count in the high 16 bits. */
  get extendedHighestSeq(): number {
    return this.cycles + this.maxSeq;
  }

  /** Packets expected since the base sequence number (A.3). */
  get expected(): number {
    return this.cycles + this.maxSeq - this.baseSeq + 1;
  }

  /** Cumulative packets lost, clamped to the 24-bit signed field of a report block (A.3). */
  get cumulativeLost(): number {
    const lost = this.expected - this.receivedCount;
    return Math.max(-0x800000, Math.min(0x7fffff, lost));
  }

  /** Interarrival jitter in RTP timestamp units, unrounded. */
  get jitter(): number {
    return this.jitterUnits;
  }

  /** Interarrival jitter in milliseconds. */
  get jitterMs(): number {
    return (this.jitterUnits * 1000) / this.clockRate;
  }

  /**
   * Fraction lost since the previous call, 8-bit fixed point (A.3), and
   * starts the next interval. Only call it when a report is actually sent.
   */
  takeFractionLost(): number {
    const expected = this.expected;
    const expectedInterval = expected - this.expectedPrior;
    this.expectedPrior = expected;
    const receivedInterval = this.receivedCount - this.receivedPrior;
    this.receivedPrior = this.receivedCount;
    const lostInterval = expectedInterval - receivedInterval;
    if (expectedInterval === 0 || lostInterval <= 0) return 0;
    return Math.floor((lostInterval * 256) / expectedInterval);
  }

  /**
   * Remembers an SR from this source so our next report block can echo it:
   * its NTP timestamp and when we received it (same time base as `nowMs` of
   * `reportBlock`).
   */
  onSenderReport(ntpSeconds: number, ntpFraction: number, arrivalMs: number): void {
    this.lastSr = ntpMiddle32(ntpSeconds, ntpFraction);
    this.lastSrArrivalMs = arrivalMs;
  }

  /**
   * The report block describing this source for an SR/RR sent at `nowMs`.
   * Starts a new fraction-lost interval.
   */
  reportBlock(nowMs: number): ReportBlock {
    return {
      ssrc: this.ssrc,
      fractionLost: this.takeFractionLost(),
      cumulativeLost: this.cumulativeLost,
      highestSeq: this.extendedHighestSeq >>> 0,
      jitter: Math.floor(this.jitterUnits) >>> 0,
      lsr: this.lastSr,
      dlsr: this.lastSr === 0 ? 0 : msToNtpShort(nowMs - this.lastSrArrivalMs),
    };
  }
}

/**
 * Round-trip time from a report block a peer sent about our stream
 * (RFC 3550 §6.4.1): RTT = A − LSR − DLSR in NTP short units, where A is
 * the middle 32 bits of the NTP time the block arrived, on the same clock we
 * stamp our SRs with (see `wallMsToNtpMiddle32`). Returns undefined when
 * the peer has not received an SR yet (LSR 0); a negative result from clock
 * adjustments is reported as 0.
 */
export function roundTripMs(arrivalNtpMiddle32: number, lsr: number, dlsr: number): number | undefined {
  if (lsr === 0) return undefined;
  const units = ((arrivalNtpMiddle32 >>> 0) - (lsr >>> 0) - (dlsr >>> 0)) | 0;
  return units <= 0 ? 0 : ntpShortToMs(units);
}
