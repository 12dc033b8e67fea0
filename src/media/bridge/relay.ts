/**
 * RtpRelay: joins two call legs that negotiated the same codec, packet by
 * packet, without decoding — what a B2BUA does when it anchors media.
 *
 * It is not built on MediaEndpoint: the endpoint's public surface is PCM
 * (`onFrame`, `sendFrame`), so joining two of them would decode and
 * re-encode every packet and add a jitter buffer's delay. The relay instead
 * owns one UDP socket per leg and rewrites each packet's header in the
 * datagram it arrived in (no copy, no allocation): SSRC, sequence number and
 * timestamp become the outgoing leg's continuous stream (see OutboundStream),
 * the payload type becomes the one negotiated on that leg. The payload is
 * forwarded untouched.
 *
 * RTCP is ended at the relay and counted: reports about the other leg's
 * stream would name SSRCs the peer never saw. (The relay sends no reports of
 * its own yet.) SRTP is not supported here.
 */
import { stampRtp, type RtpView } from '../rtp/packet.js';
import type { Clock } from '../../util/clock.js';
import { OutboundStream, type BridgeLeg, type BridgeLegConfig, type BridgeLegStats, type PacketTimer } from './leg.js';
import { openLegs, TwoLegBridge, type BridgeDirection } from './two-leg.js';

export type { LegName } from './two-leg.js';

export interface RtpRelayOptions {
  a: BridgeLegConfig;
  b: BridgeLegConfig;
  /** RTP clock rate of the shared codec (default 8000): scales the timestamp jump when a source changes. */
  clockRate?: number;
  clock?: Clock;
  /** When given, every datagram's handling time is reported to it (process.hrtime around the handler). */
  timer?: PacketTimer;
}

export interface RtpRelayStats {
  a: BridgeLegStats;
  b: BridgeLegStats;
}

interface RelayDirection extends BridgeDirection {
  /** Our stream towards `to`'s peer. */
  readonly out: OutboundStream;
}

export class RtpRelay extends TwoLegBridge<RelayDirection> {
  private constructor(a: BridgeLeg, b: BridgeLeg, opts: RtpRelayOptions) {
    super(a, b, opts.clock, opts.timer);
    const rate = opts.clockRate ?? 8000;
    if (!Number.isInteger(rate) || rate <= 0) throw new RangeError(`clockRate must be a positive integer, got ${rate}`);
    this.listen(
      { from: a, to: b, out: new OutboundStream(opts.b.ssrc, rate, rate) },
      { from: b, to: a, out: new OutboundStream(opts.a.ssrc, rate, rate) },
    );
  }

  static open(opts: RtpRelayOptions): Promise<RtpRelay> {
    return openLegs(opts.a, opts.b, (a, b) => new RtpRelay(a, b, opts));
  }

  stats(): RtpRelayStats {
    return { a: this.a.stats(), b: this.b.stats() };
  }

  protected override forward(dir: RelayDirection, v: RtpView, isAudio: boolean, buf: Buffer): void {
    const { to, out } = dir;
    out.map(v.ssrc, v.sequence, v.timestamp, v.marker, this.now);
    // The datagram's buffer is ours alone (one per receive), so it is rewritten in place and sent as is.
    stampRtp(buf, out.marker, isAudio ? to.payloadType : (to.telephoneEventPt as number), out.seq, out.timestamp, out.ssrc);
    to.send(buf, buf.length, v.payloadLength);
  }
}
