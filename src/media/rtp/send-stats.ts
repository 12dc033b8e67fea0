/**
 * What a sender needs for the sender-info part of an SR (RFC 3550 §6.4.1):
 * packet and payload-octet counts, and an RTP timestamp that corresponds to
 * the SR's NTP timestamp so receivers can sync audio with other streams.
 *
 * Times are arguments from the caller's injected Clock; `onSent` is per
 * packet and allocates nothing.
 */
import { ntpFraction, ntpSeconds } from './ntp.js';
import type { SenderInfo } from './rtcp.js';

export class SendStats {
  private packets = 0;
  private octets = 0;
  private lastTimestamp = 0;
  private lastSentMs = 0;
  private sentSinceReport = false;
  private everSent = false;

  /** @param clockRate the media clock in Hz, to carry the RTP timestamp forward to the SR's instant. */
  constructor(readonly clockRate: number) {}

  /**
   * Counts one sent RTP packet. `payloadLength` excludes header and padding,
   * as the SR octet count does; `sentMs` is the monotonic send time.
   */
  onSent(payloadLength: number, rtpTimestamp: number, sentMs: number): void {
    // Both counters are 32-bit on the wire and wrap there (a long call at high bitrate can pass 4 GB).
    this.packets = (this.packets + 1) >>> 0;
    this.octets = (this.octets + payloadLength) % 4_294_967_296;
    this.lastTimestamp = rtpTimestamp >>> 0;
    this.lastSentMs = sentMs;
    this.sentSinceReport = true;
    this.everSent = true;
  }

  get packetCount(): number {
    return this.packets;
  }

  get octetCount(): number {
    return this.octets;
  }

  /** Whether anything was sent: before that, an RR (not an SR) is the right report. */
  get hasSent(): boolean {
    return this.everSent;
  }

  /**
   * Whether a packet went out since the last `senderInfo` call; RFC 3550
   * §6.4 has a participant that stopped sending fall back to RRs.
   */
  get sentSinceLastReport(): boolean {
    return this.sentSinceReport;
  }

  /**
   * Sender info for an SR sent now. `wallMs` (Clock.wallNow) becomes the NTP
   * timestamp; `nowMs` (Clock.now, same base as `onSent`) carries the last
   * packet's RTP timestamp forward by the time elapsed since it was sent, so
   * both timestamps name the same instant (§6.4.1).
   */
  senderInfo(wallMs: number, nowMs: number): SenderInfo {
    this.sentSinceReport = false;
    const elapsedUnits = Math.round(((nowMs - this.lastSentMs) * this.clockRate) / 1000);
    return {
      ntpSeconds: ntpSeconds(wallMs),
      ntpFraction: ntpFraction(wallMs),
      rtpTimestamp: (this.lastTimestamp + elapsedUnits) >>> 0,
      packetCount: this.packets,
      octetCount: this.octets,
    };
  }
}
