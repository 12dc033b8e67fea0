/**
 * What RtpRelay and TranscodeBridge share: two bound legs, the checks every
 * datagram passes before either forwards it (RTCP ended here, RTP well
 * formed, a payload type both legs carry, the latched source, somewhere to
 * send it), optional per-packet timing, and closing.
 */
import type { RemoteInfo } from 'node:dgram';
import type { RemoteAddress } from '../endpoint/types.js';
import { isRtcp, readRtp, RtpView } from '../rtp/packet.js';
import { realClock, type Clock } from '../../util/clock.js';
import { BridgeLeg, type BridgeLegConfig, type PacketTimer } from './leg.js';

export type LegName = 'a' | 'b';

/** One direction of a bridge: what arrives on `from` goes out on `to`. */
export interface BridgeDirection {
  readonly from: BridgeLeg;
  readonly to: BridgeLeg;
}

/** Opens leg `a`, then `b`, then builds the bridge on them; if any step throws, the legs opened so far are closed. */
export async function openLegs<T>(a: BridgeLegConfig, b: BridgeLegConfig, build: (a: BridgeLeg, b: BridgeLeg) => T): Promise<T> {
  const legA = await BridgeLeg.open(a);
  let legB: BridgeLeg | undefined;
  try {
    legB = await BridgeLeg.open(b);
    return build(legA, legB);
  } catch (err) {
    await legA.close();
    await legB?.close();
    throw err;
  }
}

export abstract class TwoLegBridge<D extends BridgeDirection> {
  /** Wall time in ms, read only when an input source changes. */
  protected readonly now: () => number;
  private readonly view = new RtpView();
  private closed = false;

  protected constructor(
    readonly a: BridgeLeg,
    readonly b: BridgeLeg,
    clock: Clock | undefined,
    private readonly timer: PacketTimer | undefined,
  ) {
    const c = clock ?? realClock;
    this.now = () => c.now();
  }

  /**
   * Handles one RTP packet that passed every check: audio, or (`isAudio`
   * false) a telephone event `dir.to` can carry. `v` is parsed from `buf`,
   * which belongs to this datagram alone and may be rewritten and sent.
   */
  protected abstract forward(dir: D, v: RtpView, isAudio: boolean, buf: Buffer): void;

  /** Called once after both legs closed. */
  protected released(): void {}

  /** Starts receiving: datagrams on leg a go through `aToB`, those on b through `bToA`. */
  protected listen(aToB: D, bToA: D): void {
    this.a.socket.on('message', (buf: Buffer, rinfo: RemoteInfo) => this.handle(aToB, buf, rinfo));
    this.b.socket.on('message', (buf: Buffer, rinfo: RemoteInfo) => this.handle(bToA, buf, rinfo));
  }

  /** A leg's peer moved (re-INVITE with a new c=/m= address): latching starts over there. */
  setRemote(leg: LegName, remote: RemoteAddress): void {
    (leg === 'a' ? this.a : this.b).setRemote(remote);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.a.close(), this.b.close()]);
    this.released();
  }

  private handle(dir: D, buf: Buffer, rinfo: RemoteInfo): void {
    const timer = this.timer;
    if (!timer) {
      this.accept(dir, buf, rinfo);
      return;
    }
    const t0 = process.hrtime.bigint();
    this.accept(dir, buf, rinfo);
    timer.record(Number(process.hrtime.bigint() - t0));
  }

  private accept(dir: D, buf: Buffer, rinfo: RemoteInfo): void {
    const from = dir.from;
    const to = dir.to;
    from.datagrams++;
    if (this.closed) return;
    if (isRtcp(buf)) {
      from.rtcp++;
      return;
    }
    const v = this.view;
    if (readRtp(buf, v) !== undefined) return from.drop('malformed-rtp');
    const isAudio = v.payloadType === from.payloadType;
    if (!isAudio && (v.payloadType !== from.telephoneEventPt || to.telephoneEventPt === undefined)) {
      return from.drop('unexpected-payload-type');
    }
    if (!from.acceptSource(rinfo)) return from.drop('unexpected-source');
    from.rxPackets++;
    from.rxBytes += v.payloadLength;
    if (!to.remote) return from.drop('no-destination');
    this.forward(dir, v, isAudio, buf);
  }
}
