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
import type { RemoteInfo } from 'node:dgram';
import type { RemoteAddress } from '../endpoint/types.js';
import { isRtcp, readRtp, RtpView } from '../rtp/packet.js';
import { realClock, type Clock } from '../../util/clock.js';
import { BridgeLeg, OutboundStream, type BridgeLegConfig, type BridgeLegStats, type PacketTimer } from './leg.js';

export type LegName = 'a' | 'b';

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

export class RtpRelay {
  readonly a: BridgeLeg;
  readonly b: BridgeLeg;
  /** Our stream towards each leg's peer. */
  private readonly toA: OutboundStream;
  private readonly toB: OutboundStream;
  private readonly view = new RtpView();
  private readonly now: () => number;
  private closed = false;

  private constructor(
    a: BridgeLeg,
    b: BridgeLeg,
    opts: RtpRelayOptions,
    private readonly timer: PacketTimer | undefined,
  ) {
    const rate = opts.clockRate ?? 8000;
    if (!Number.isInteger(rate) || rate <= 0) throw new RangeError(`clockRate must be a positive integer, got ${rate}`);
    const clock = opts.clock ?? realClock;
    this.now = () => clock.now();
    this.a = a;
    this.b = b;
    this.toA = new OutboundStream(opts.a.ssrc, rate, rate);
    this.toB = new OutboundStream(opts.b.ssrc, rate, rate);
    a.socket.on('message', (buf: Buffer, rinfo: RemoteInfo) => this.handle(a, b, this.toB, buf, rinfo));
    b.socket.on('message', (buf: Buffer, rinfo: RemoteInfo) => this.handle(b, a, this.toA, buf, rinfo));
  }

  static async open(opts: RtpRelayOptions): Promise<RtpRelay> {
    const a = await BridgeLeg.open(opts.a);
    let b: BridgeLeg | undefined;
    try {
      b = await BridgeLeg.open(opts.b);
      return new RtpRelay(a, b, opts, opts.timer);
    } catch (err) {
      await a.close();
      await b?.close();
      throw err;
    }
  }

  /** A leg's peer moved (re-INVITE with a new c=/m= address): latching starts over there. */
  setRemote(leg: LegName, remote: RemoteAddress): void {
    (leg === 'a' ? this.a : this.b).setRemote(remote);
  }

  stats(): RtpRelayStats {
    return { a: this.a.stats(), b: this.b.stats() };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.a.close(), this.b.close()]);
  }

  private handle(from: BridgeLeg, to: BridgeLeg, out: OutboundStream, buf: Buffer, rinfo: RemoteInfo): void {
    const timer = this.timer;
    if (!timer) {
      this.forward(from, to, out, buf, rinfo);
      return;
    }
    const t0 = process.hrtime.bigint();
    this.forward(from, to, out, buf, rinfo);
    timer.record(Number(process.hrtime.bigint() - t0));
  }

  private forward(from: BridgeLeg, to: BridgeLeg, out: OutboundStream, buf: Buffer, rinfo: RemoteInfo): void {
    from.datagrams++;
    if (this.closed) return;
    if (isRtcp(buf)) {
      from.rtcp++;
      return;
    }
    const v = this.view;
    if (readRtp(buf, v) !== undefined) return from.drop('malformed-rtp');
    let pt: number;
    if (v.payloadType === from.payloadType) {
      pt = to.payloadType;
    } else if (v.payloadType === from.telephoneEventPt && to.telephoneEventPt !== undefined) {
      pt = to.telephoneEventPt;
    } else {
      return from.drop('unexpected-payload-type');
    }
    if (!from.acceptSource(rinfo)) return from.drop('unexpected-source');
    from.rxPackets++;
    from.rxBytes += v.payloadLength;
    if (!to.remote) return from.drop('no-destination');
    out.map(v.ssrc, v.sequence, v.timestamp, v.marker, this.now);
    // The datagram's buffer is ours alone (one per receive), so it is rewritten in place and sent as is.
    buf[1] = (out.marker ? 0x80 : 0) | pt;
    buf.writeUInt16BE(out.seq, 2);
    buf.writeUInt32BE(out.timestamp, 4);
    buf.writeUInt32BE(out.ssrc, 8);
    to.send(buf, buf.length, v.payloadLength);
  }
}
