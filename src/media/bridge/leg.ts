/**
 * One side of a media bridge as a B2BUA sees it: a UDP socket facing one
 * peer, the payload types that peer negotiated, symmetric-RTP latching, and
 * the stream we send to it.
 *
 * The bridge rewrites what it forwards so each peer sees one continuous
 * stream from one source — our SSRC, our sequence numbers and timestamps,
 * its own payload types — whatever happens on the other side (a re-INVITE,
 * a transfer, a restarted stream). Gaps are kept: a packet lost before the
 * bridge is still a gap after it, so the receiver conceals and counts it.
 */
import { randomInt } from 'node:crypto';
import type { RemoteInfo, Socket } from 'node:dgram';
import { bindUdp } from '../endpoint/bind.js';
import type { PortRange, RemoteAddress } from '../endpoint/types.js';
import { closeUdp } from '../../util/udp.js';
import { DropCounter } from '../drops.js';

/** Why a datagram that reached a bridge leg was not forwarded. A closed set so metrics can key on it. */
export type BridgeDropReason =
  | 'malformed-rtp'
  /** After latching, from an address other than the peer's. */
  | 'unexpected-source'
  /** Not the leg's audio or telephone-event payload type, or an event the other leg cannot carry. */
  | 'unexpected-payload-type'
  /** The other leg has no address to send to yet (no SDP remote, nothing latched). */
  | 'no-destination'
  /** The payload did not decode (transcoding only). */
  | 'bad-payload';

export const BRIDGE_DROP_REASONS: readonly BridgeDropReason[] = [
  'malformed-rtp',
  'unexpected-source',
  'unexpected-payload-type',
  'no-destination',
  'bad-payload',
];

export interface BridgeLegConfig {
  /** Local address to bind (default 127.0.0.1). */
  address?: string;
  /** A port, 0 for any (default), or a range to pick a free even port from. */
  port?: number | PortRange;
  /** Where the peer said (in its SDP) it receives; its first packet may move this (latching). */
  remote?: RemoteAddress;
  /** The audio payload type negotiated with this peer. */
  payloadType: number;
  /** The RFC 4733 telephone-event payload type negotiated with this peer, if any. */
  telephoneEventPt?: number;
  /** Our SSRC towards this peer; random by default. */
  ssrc?: number;
  /**
   * Connect the socket to the peer once latched (default false). Sends then
   * skip Node's per-datagram address lookup and the kernel discards other
   * sources, which are then no longer counted as 'unexpected-source'.
   * Needs an explicit `port` or range (see open).
   */
  connectOnLatch?: boolean;
  /** The leg's owner (its bridge, or whoever opened it alone). */
  handlers?: BridgeLegHandlers;
}

export interface BridgeLegHandlers {
  /** Once per latch, when the peer's packets come from elsewhere than signalled (NAT). */
  latched?(remote: RemoteAddress): void;
}

/** Receives the time one packet took to handle, in nanoseconds (a histogram, typically). */
export interface PacketTimer {
  record(ns: number): void;
}

export interface BridgeLegStats {
  local: RemoteAddress;
  /** Where we send now; undefined until signalled or latched. */
  remote: RemoteAddress | undefined;
  latched: boolean;
  /** Every datagram that reached the socket, good or bad. */
  datagrams: number;
  /** RTP packets accepted from this peer, and their payload octets. */
  received: { packets: number; bytes: number };
  /** RTP packets sent to this peer, and their payload octets. */
  sent: { packets: number; bytes: number };
  /** RTCP compounds from this peer: ended here, since each leg's RTP is our own stream. */
  rtcp: number;
  dropped: { total: number; reasons: Record<BridgeDropReason, number> };
  /** Send failures and socket errors (ICMP unreachable, say), counted and ignored. */
  socketErrors: number;
}

/**
 * The stream we send on one leg, made from whatever arrives on the other:
 * maps each input (SSRC, sequence, timestamp) to ours. Within one input
 * source, differences carry over (scaled by `outRate / inRate` for
 * timestamps), so gaps and reordering survive. A new input source continues
 * our stream where it stopped: next sequence number, timestamp advanced by
 * wall time, marker set.
 */
export class OutboundStream {
  readonly ssrc: number;
  /** Header fields of the packet just mapped. */
  seq = 0;
  timestamp = 0;
  marker = false;

  private source = -1;
  private inSeqRef = 0;
  private inTsRef = 0;
  private outSeqRef: number;
  private outTsRef: number;
  /** When the current source began, and our timestamp then. */
  private anchorMs = 0;
  private anchorTs = 0;
  private started = false;

  constructor(
    ssrc: number | undefined,
    private readonly outRate: number,
    private readonly inRate: number,
  ) {
    this.ssrc = (ssrc ?? randomInt(0, 0x1_0000_0000)) >>> 0;
    // Random starting points (RFC 3550 §5.1) so the stream is not predictable.
    this.outSeqRef = randomInt(0, 0x10000);
    this.outTsRef = randomInt(0, 0x1_0000_0000);
  }

  /** Maps one input packet into `seq`, `timestamp`, `marker`. `nowMs` is only read when the source changes. */
  map(srcSsrc: number, inSeq: number, inTs: number, inMarker: boolean, nowMs: () => number): void {
    if (srcSsrc !== this.source) {
      this.newSource(srcSsrc, inSeq, inTs, nowMs());
      return;
    }
    // Signed 16- and 32-bit differences: wrap-around and late packets come out right.
    const dSeq = ((inSeq - this.inSeqRef) << 16) >> 16;
    const dTs = (inTs - this.inTsRef) | 0;
    this.seq = (this.outSeqRef + dSeq) & 0xffff;
    this.timestamp = (this.outTsRef + (this.outRate === this.inRate ? dTs : Math.round((dTs * this.outRate) / this.inRate))) >>> 0;
    this.marker = inMarker;
    if (dSeq > 0) {
      // Re-anchor on every packet that moves forward, so scaled timestamps never drift or overflow.
      this.inSeqRef = inSeq;
      this.inTsRef = inTs;
      this.outSeqRef = this.seq;
      this.outTsRef = this.timestamp;
    }
  }

  /**
   * A new source continues our stream: the next sequence number, and the
   * timestamp our clock would show had it run on wall time since the
   * previous source began (so the receiver's timeline stays real), but
   * never behind what we already sent.
   */
  private newSource(srcSsrc: number, inSeq: number, inTs: number, now: number): void {
    if (this.started) {
      const byWall = (this.anchorTs + Math.round(((now - this.anchorMs) * this.outRate) / 1000)) >>> 0;
      const ahead = ((byWall - this.timestamp) | 0) > 0;
      this.outSeqRef = (this.seq + 1) & 0xffff;
      this.outTsRef = ahead ? byWall : (this.timestamp + 1) >>> 0;
    }
    this.started = true;
    this.source = srcSsrc;
    this.anchorMs = now;
    this.anchorTs = this.outTsRef;
    this.inSeqRef = inSeq;
    this.inTsRef = inTs;
    this.seq = this.outSeqRef;
    this.timestamp = this.outTsRef;
    this.marker = true;
  }
}

/** A bound leg: socket, peer address and latching, counters. The bridges own the packet logic. */
export class BridgeLeg {
  readonly payloadType: number;
  readonly telephoneEventPt: number | undefined;
  remote: RemoteAddress | undefined;
  latched = false;
  /** The socket is connected to `remote` (connectOnLatch). */
  connected = false;
  private readonly handlers: BridgeLegHandlers;

  datagrams = 0;
  rxPackets = 0;
  rxBytes = 0;
  txPackets = 0;
  txBytes = 0;
  rtcp = 0;
  socketErrors = 0;
  private readonly drops = new DropCounter(BRIDGE_DROP_REASONS);

  private readonly connectOnLatch: boolean;

  private constructor(
    readonly socket: Socket,
    cfg: BridgeLegConfig,
  ) {
    this.connectOnLatch = cfg.connectOnLatch ?? false;
    this.handlers = cfg.handlers ?? {};
    checkPt('payloadType', cfg.payloadType);
    if (cfg.telephoneEventPt !== undefined) checkPt('telephoneEventPt', cfg.telephoneEventPt);
    this.payloadType = cfg.payloadType;
    this.telephoneEventPt = cfg.telephoneEventPt;
    this.remote = cfg.remote && { address: cfg.remote.address, port: cfg.remote.port };
    socket.on('error', this.onError);
  }

  static async open(cfg: BridgeLegConfig): Promise<BridgeLeg> {
    if (cfg.connectOnLatch && !cfg.port) {
      // Linux gives an ephemeral (port 0) bind's port back on disconnect; an explicit one is kept.
      throw new RangeError('connectOnLatch needs an explicit port or port range: an ephemeral port would be lost on a re-INVITE');
    }
    const socket = await bindUdp(cfg.address ?? '127.0.0.1', cfg.port ?? 0, Math.random);
    try {
      return new BridgeLeg(socket, cfg);
    } catch (err) {
      socket.close();
      throw err;
    }
  }

  get localAddress(): string {
    return this.socket.address().address;
  }

  get localPort(): number {
    return this.socket.address().port;
  }

  /** A new signalled address (re-INVITE): latching starts over. */
  setRemote(remote: RemoteAddress): void {
    this.remote = { address: remote.address, port: remote.port };
    this.latched = false;
    if (this.connected) {
      this.connected = false;
      this.disconnectQuietly();
    }
  }

  drop(reason: BridgeDropReason): void {
    this.drops.add(reason);
  }

  /**
   * Symmetric RTP (RFC 4961): the first good packet fixes where the peer is,
   * even if that is not where it said; after that only that address is heard.
   */
  acceptSource(rinfo: RemoteInfo): boolean {
    const r = this.remote;
    if (this.latched) return r !== undefined && rinfo.port === r.port && rinfo.address === r.address;
    this.latched = true;
    if (!r || rinfo.port !== r.port || rinfo.address !== r.address) {
      this.remote = { address: rinfo.address, port: rinfo.port };
      this.handlers.latched?.(this.remote);
    }
    if (this.connectOnLatch) this.connectTo(this.remote as RemoteAddress);
    return true;
  }

  private disconnectQuietly(): void {
    try {
      this.socket.disconnect();
    } catch {
      // closed meanwhile, or never connected
    }
  }

  private connectTo(r: RemoteAddress): void {
    try {
      this.socket.connect(r.port, r.address, () => {
        // A re-INVITE may have moved the peer while connecting.
        if (this.latched && this.remote === r) this.connected = true;
        else this.disconnectQuietly();
      });
    } catch {
      this.socketErrors++; // already connected or closed: stay unconnected
    }
  }

  /** Sends `len` octets of `buf` to the peer; the buffer must stay untouched until the send completes. */
  send(buf: Buffer, len: number, payloadBytes: number): void {
    const r = this.remote as RemoteAddress;
    this.txPackets++;
    this.txBytes += payloadBytes;
    if (this.connected) this.socket.send(buf, 0, len, this.onSent);
    else this.socket.send(buf, 0, len, r.port, r.address, this.onSent);
  }

  stats(): BridgeLegStats {
    return {
      local: { address: this.localAddress, port: this.localPort },
      remote: this.remote && { ...this.remote },
      latched: this.latched,
      datagrams: this.datagrams,
      received: { packets: this.rxPackets, bytes: this.rxBytes },
      sent: { packets: this.txPackets, bytes: this.txBytes },
      rtcp: this.rtcp,
      dropped: this.drops.snapshot(),
      socketErrors: this.socketErrors,
    };
  }

  close(): Promise<void> {
    return closeUdp(this.socket);
  }

  private readonly onSent = (err: Error | null): void => {
    if (err) this.socketErrors++;
  };

  private readonly onError = (): void => {
    this.socketErrors++;
  };
}

function checkPt(name: string, pt: number): void {
  if (!Number.isInteger(pt) || pt < 0 || pt > 127) throw new RangeError(`${name} must be an RTP payload type 0..127, got ${pt}`);
}
